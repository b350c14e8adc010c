package main

import (
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

type clients struct {
	typed *kubernetes.Clientset
	dyn   dynamic.Interface
}

func connect(kubeconfig string) clients {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	check("kubeconfig", err)
	cfg.QPS, cfg.Burst = 200, 400
	typed, err := kubernetes.NewForConfig(cfg)
	check("typed client", err)
	dyn, err := dynamic.NewForConfig(cfg)
	check("dynamic client", err)
	return clients{typed, dyn}
}
