package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	appsac "k8s.io/client-go/applyconfigurations/apps/v1"
	coreac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/pager"
	"k8s.io/client-go/util/retry"
)

func discovery(c clients) {
	v, err := c.typed.Discovery().ServerVersion()
	check("discovery version", err)
	if v.Major == "" || v.GitVersion == "" {
		fail("discovery version", "empty version %+v", v)
	}
	groups, resources, err := c.typed.Discovery().ServerGroupsAndResources()
	check("discovery groups", err)
	seen := map[string]bool{}
	for _, g := range groups {
		seen[g.Name] = true
	}
	for _, want := range []string{"", "apps", "batch", "rbac.authorization.k8s.io"} {
		if !seen[want] {
			fail("discovery groups", "group %q missing", want)
		}
	}
	found := false
	for _, rl := range resources {
		if rl.GroupVersion != "apps/v1" {
			continue
		}
		for _, r := range rl.APIResources {
			if r.Name == "deployments/scale" {
				found = true
			}
		}
	}
	if !found {
		fail("discovery resources", "apps/v1 deployments/scale not listed")
	}
	ok("discovery")
}

func namespace(c clients) {
	_, err := c.typed.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	check("namespace", err)
	ok("namespace")
}

// informer: a shared informer with a short resync sees ADDED, MODIFIED (an update and a
// resync of an unchanged object) and DELETED for one ConfigMap.
func informer(c clients) {
	var mu sync.Mutex
	events := []string{}
	record := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	has := func(s string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range events {
			if e == s {
				return true
			}
		}
		return false
	}
	f := informers.NewSharedInformerFactoryWithOptions(c.typed, time.Second, informers.WithNamespace(ns))
	inf := f.Core().V1().ConfigMaps().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) { record("ADDED " + o.(*corev1.ConfigMap).Name) },
		UpdateFunc: func(a, b any) {
			x, y := a.(*corev1.ConfigMap), b.(*corev1.ConfigMap)
			if x.ResourceVersion == y.ResourceVersion {
				record("RESYNC " + y.Name)
			} else {
				record("MODIFIED " + y.Name + " " + y.Data["k"])
			}
		},
		DeleteFunc: func(o any) {
			if t, isTomb := o.(cache.DeletedFinalStateUnknown); isTomb {
				o = t.Obj
			}
			record("DELETED " + o.(*corev1.ConfigMap).Name)
		},
	})
	check("informer", err)
	stop := make(chan struct{})
	defer close(stop)
	f.Start(stop)
	if !cache.WaitForCacheSync(stop, inf.HasSynced) {
		fail("informer", "cache never synced")
	}
	wait := func(what string) {
		deadline := time.Now().Add(20 * time.Second)
		for !has(what) {
			if time.Now().After(deadline) {
				mu.Lock()
				defer mu.Unlock()
				fail("informer", "no %q; saw %v", what, events)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	cms := c.typed.CoreV1().ConfigMaps(ns)
	_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "inf"}, Data: map[string]string{"k": "1"}}, metav1.CreateOptions{})
	check("informer create", err)
	wait("ADDED inf")
	_, err = cms.Patch(ctx, "inf", types.MergePatchType, []byte(`{"data":{"k":"2"}}`), metav1.PatchOptions{})
	check("informer patch", err)
	wait("MODIFIED inf 2")
	wait("RESYNC inf")
	check("informer delete", cms.Delete(ctx, "inf", metav1.DeleteOptions{}))
	wait("DELETED inf")
	ok("informer")
}

// pagination: limit/continue with remainingItemCount (set, as upstream, when the list has
// no selector), then the client-go pager. In a namespace of its own: the count is exact.
func pagination(c clients) {
	pns := ns + "-pages"
	_, err := c.typed.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: pns}}, metav1.CreateOptions{})
	check("pagination namespace", err)
	cms := c.typed.CoreV1().ConfigMaps(pns)
	for i := 0; i < 7; i++ {
		_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("page-%d", i), Labels: map[string]string{"page": "yes"}}}, metav1.CreateOptions{})
		check("pagination create", err)
	}
	all, err := cms.List(ctx, metav1.ListOptions{})
	check("pagination list all", err)
	total := len(all.Items) // 7, and kube-root-ca.crt where the server adds it
	opts := metav1.ListOptions{Limit: 3}
	names := []string{}
	rv := ""
	for {
		l, err := cms.List(ctx, opts)
		check("pagination list", err)
		for _, i := range l.Items {
			names = append(names, i.Name)
		}
		if rv == "" {
			rv = l.ResourceVersion
		} else if l.ResourceVersion != rv {
			fail("pagination", "pages read at different revisions %s and %s", rv, l.ResourceVersion)
		}
		if l.Continue == "" {
			if l.RemainingItemCount != nil {
				fail("pagination", "last page has remainingItemCount %d", *l.RemainingItemCount)
			}
			break
		}
		if l.RemainingItemCount == nil || *l.RemainingItemCount != int64(total-len(names)) {
			fail("pagination", "remainingItemCount %v after %d of %d items", l.RemainingItemCount, len(names), total)
		}
		opts.Continue = l.Continue
	}
	if len(names) != total || !sort.StringsAreSorted(names) {
		fail("pagination", "pages gave %v, want %d items in order", names, total)
	}
	// With a selector the count is not known without reading everything: upstream leaves it out.
	l, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "page=yes", Limit: 3})
	check("pagination selector", err)
	if len(l.Items) != 3 || l.Continue == "" || l.RemainingItemCount != nil {
		fail("pagination selector", "%d items, continue %q, remainingItemCount %v", len(l.Items), l.Continue, l.RemainingItemCount)
	}
	n := 0
	p := pager.New(func(c context.Context, o metav1.ListOptions) (runtime.Object, error) {
		o.LabelSelector = "page=yes"
		return cms.List(c, o)
	})
	p.PageSize = 2
	check("pager", p.EachListItem(ctx, metav1.ListOptions{}, func(runtime.Object) error { n++; return nil }))
	if n != 7 {
		fail("pager", "pager saw %d items, want 7", n)
	}
	ok("pagination")
}

// serverSideApply: typed apply configurations, a no-op re-apply, a conflict, and force.
func serverSideApply(c clients) {
	cms := c.typed.CoreV1().ConfigMaps(ns)
	ac := coreac.ConfigMap("ssa", ns).WithData(map[string]string{"a": "1", "b": "2"})
	first, err := cms.Apply(ctx, ac, metav1.ApplyOptions{FieldManager: "clientgo", Force: true})
	check("ssa create", err)
	again, err := cms.Apply(ctx, ac, metav1.ApplyOptions{FieldManager: "clientgo", Force: true})
	check("ssa re-apply", err)
	if again.ResourceVersion != first.ResourceVersion {
		fail("ssa re-apply", "a no-op apply changed resourceVersion %s -> %s", first.ResourceVersion, again.ResourceVersion)
	}
	other := coreac.ConfigMap("ssa", ns).WithData(map[string]string{"a": "9"})
	_, err = cms.Apply(ctx, other, metav1.ApplyOptions{FieldManager: "other"})
	if !apierrors.IsConflict(err) {
		fail("ssa conflict", "want 409 Conflict, got %v", err)
	}
	forced, err := cms.Apply(ctx, other, metav1.ApplyOptions{FieldManager: "other", Force: true})
	check("ssa force", err)
	if forced.Data["a"] != "9" || forced.Data["b"] != "2" {
		fail("ssa force", "data %v", forced.Data)
	}
	managers := map[string]bool{}
	for _, m := range forced.ManagedFields {
		managers[m.Manager] = true
	}
	if !managers["clientgo"] || !managers["other"] {
		fail("ssa managedFields", "managers %v", managers)
	}
	// Dropping a field from one's apply configuration removes it when nobody else owns it.
	shrunk, err := cms.Apply(ctx, coreac.ConfigMap("ssa", ns).WithData(map[string]string{}), metav1.ApplyOptions{FieldManager: "clientgo", Force: true})
	check("ssa shrink", err)
	if _, has := shrunk.Data["b"]; has || shrunk.Data["a"] != "9" {
		fail("ssa shrink", "data %v, want only a=9", shrunk.Data)
	}
	// A Deployment applied twice keeps metadata.generation at 1.
	dep := appsac.Deployment("ssa-web", ns).WithSpec(appsac.DeploymentSpec().
		WithReplicas(1).
		WithSelector(metaSelector("ssa-web")).
		WithTemplate(coreac.PodTemplateSpec().WithLabels(map[string]string{"app": "ssa-web"}).
			WithSpec(coreac.PodSpec().WithContainers(coreac.Container().WithName("c").WithImage("busybox")))))
	d1, err := c.typed.AppsV1().Deployments(ns).Apply(ctx, dep, metav1.ApplyOptions{FieldManager: "clientgo"})
	check("ssa deployment", err)
	d2, err := c.typed.AppsV1().Deployments(ns).Apply(ctx, dep, metav1.ApplyOptions{FieldManager: "clientgo"})
	check("ssa deployment re-apply", err)
	if d1.Generation != 1 || d2.Generation != 1 {
		fail("ssa deployment generation", "generation %d then %d, want 1 and 1", d1.Generation, d2.Generation)
	}
	ok("server-side apply")
}

// subresources: GetScale/UpdateScale, strategic merge and merge patches on /scale, and
// patches on /status that leave the spec alone (and status writes through the main
// resource ignored).
func subresources(c clients) {
	deps := c.typed.AppsV1().Deployments(ns)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "scaled"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "scaled"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "scaled"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
	_, err := deps.Create(ctx, d, metav1.CreateOptions{})
	check("scale create", err)
	s, err := deps.GetScale(ctx, "scaled", metav1.GetOptions{})
	check("get scale", err)
	if s.Spec.Replicas != 1 || s.Status.Selector != "app=scaled" {
		fail("get scale", "scale %+v", s)
	}
	// The deployment controller writes status meanwhile: retry on conflict, as controllers do.
	check("update scale", retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := deps.GetScale(ctx, "scaled", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.Replicas = 2
		s, err = deps.UpdateScale(ctx, "scaled", cur, metav1.UpdateOptions{})
		return err
	}))
	if s.Spec.Replicas != 2 {
		fail("update scale", "replicas %d", s.Spec.Replicas)
	}
	for i, pt := range []types.PatchType{types.StrategicMergePatchType, types.MergePatchType, types.JSONPatchType} {
		want := int32(3 + i)
		body := fmt.Sprintf(`{"spec":{"replicas":%d}}`, want)
		if pt == types.JSONPatchType {
			body = fmt.Sprintf(`[{"op":"replace","path":"/spec/replicas","value":%d}]`, want)
		}
		_, err := deps.Patch(ctx, "scaled", pt, []byte(body), metav1.PatchOptions{}, "scale")
		check("patch scale "+string(pt), err)
		got, err := deps.Get(ctx, "scaled", metav1.GetOptions{})
		check("patch scale get", err)
		if *got.Spec.Replicas != want {
			fail("patch scale "+string(pt), "replicas %d, want %d", *got.Spec.Replicas, want)
		}
	}
	before, err := deps.Get(ctx, "scaled", metav1.GetOptions{})
	check("status get", err)
	for _, pt := range []types.PatchType{types.StrategicMergePatchType, types.MergePatchType} {
		cond := "Skiff" + strings.ReplaceAll(string(pt), "/", "")
		body := fmt.Sprintf(`{"spec":{"replicas":9},"status":{"observedGeneration":%d,"conditions":[{"type":"%s","status":"True","reason":"Test","message":"m"}]}}`, before.Generation, cond[:20])
		got, err := deps.Patch(ctx, "scaled", pt, []byte(body), metav1.PatchOptions{}, "status")
		check("patch status "+string(pt), err)
		if *got.Spec.Replicas == 9 {
			fail("patch status", "a status patch changed spec.replicas")
		}
		found := false
		for _, c := range got.Status.Conditions {
			found = found || string(c.Type) == cond[:20]
		}
		if !found {
			fail("patch status "+string(pt), "condition %s missing from %+v", cond[:20], got.Status.Conditions)
		}
	}
	// A status change through the main resource is ignored (status is its own subresource).
	var upd *appsv1.Deployment
	check("update main", retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := deps.Get(ctx, "scaled", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status.ObservedGeneration = 999
		upd, err = deps.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	}))
	if upd.Status.ObservedGeneration == 999 {
		fail("status via main resource", "status.observedGeneration changed through the main resource")
	}
	ok("scale and status subresources")
}

func dynamicClient(c clients) {
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "dyn"},
		"data":     map[string]any{"x": "y"},
	}}
	_, err := c.dyn.Resource(gvr).Namespace(ns).Create(ctx, u, metav1.CreateOptions{})
	check("dynamic create", err)
	l, err := c.dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=dyn"})
	check("dynamic list", err)
	if len(l.Items) != 1 || l.Items[0].GetName() != "dyn" {
		fail("dynamic list", "items %v", l.Items)
	}
	ok("dynamic client")
}

// watchList: a streaming list (sendInitialEvents) ends its initial ADDED events with a
// bookmark annotated k8s.io/initial-events-end, as client-go's reflector expects.
func watchList(c clients) {
	w, err := c.typed.CoreV1().ConfigMaps(ns+"-pages").Watch(ctx, metav1.ListOptions{
		LabelSelector:        "page=yes",
		SendInitialEvents:    ptr(true),
		ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
		AllowWatchBookmarks:  true,
		TimeoutSeconds:       ptr(int64(20)),
	})
	check("watch list", err)
	defer w.Stop()
	added := 0
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, open := <-w.ResultChan():
			if !open {
				fail("watch list", "closed after %d ADDED without the initial-events-end bookmark", added)
			}
			switch ev.Type {
			case watch.Added:
				added++
			case watch.Bookmark:
				m, _ := ev.Object.(*corev1.ConfigMap)
				if m == nil || m.Annotations["k8s.io/initial-events-end"] != "true" {
					continue
				}
				if added != 7 {
					fail("watch list", "bookmark after %d ADDED, want 7", added)
				}
				ok("watch list with bookmarks")
				return
			default:
				fail("watch list", "unexpected %s event", ev.Type)
			}
		case <-timeout:
			fail("watch list", "no initial-events-end bookmark after %d ADDED", added)
		}
	}
}

func metaSelector(app string) *metaac {
	return newSelector(app)
}

func ptr[T any](v T) *T { return &v }
