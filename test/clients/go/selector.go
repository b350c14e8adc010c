package main

import metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

type metaac = metav1ac.LabelSelectorApplyConfiguration

func newSelector(app string) *metaac {
	return metav1ac.LabelSelector().WithMatchLabels(map[string]string{"app": app})
}
