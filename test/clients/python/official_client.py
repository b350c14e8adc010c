"""The official Kubernetes Python client against Skiff (issue 14, acceptance 4).

Usage: python official_client.py KUBECONFIG NAMESPACE
Prints "ok <step>" per step; on the first failure prints "FAIL <step>: <why>" and exits 1.
Covers what Python operators and scripts do every day: discovery (with the trailing-slash
paths the client asks for), watch (the client sends watch=True), the SharedInformer,
list pagination with remainingItemCount, server-side apply through the dynamic client,
metadata.generation on no-op re-applies, and patches on the scale and status subresources.
"""
import sys
import threading
import time
import traceback

from kubernetes import client, config, dynamic, watch
from kubernetes.client.rest import ApiException
from kubernetes.informer import SharedInformer

step = "setup"


def fail(why):
    print(f"FAIL {step}: {why}", flush=True)
    sys.exit(1)


def ok():
    print(f"ok {step}", flush=True)


def expect(cond, why):
    if not cond:
        fail(why)


def wait_for(pred, what, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    fail(f"timed out waiting for {what()}")


def main():
    global step
    kubeconfig, ns = sys.argv[1], sys.argv[2]
    api = config.new_client_from_config(config_file=kubeconfig)
    core = client.CoreV1Api(api)
    apps = client.AppsV1Api(api)

    step = "discovery"
    v = client.VersionApi(api).get_code()
    expect(v.major and v.git_version, f"version {v}")
    expect("v1" in client.CoreApi(api).get_api_versions().versions, "/api/ lists no v1")
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    expect({"apps", "batch", "networking.k8s.io"} <= groups, f"/apis/ groups {sorted(groups)}")
    dyn = dynamic.DynamicClient(api)
    dyn.resources.get(api_version="apps/v1", kind="Deployment")
    ok()

    step = "namespace"
    core.create_namespace({"metadata": {"name": ns}})
    ok()

    step = "watch"
    seen = []
    ready = threading.Event()

    def watcher():
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_config_map, namespace=ns, field_selector="metadata.name=w", timeout_seconds=30):
            seen.append(f"{ev['type']} {ev['object'].metadata.name} {(ev['object'].data or {}).get('k')}")
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=watcher, daemon=True)
    t.start()
    time.sleep(0.5)  # the watch is open (an initial empty list has nothing to send)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "w"}, "data": {"k": "1"}})
    core.patch_namespaced_config_map("w", ns, {"data": {"k": "2"}})
    core.delete_namespaced_config_map("w", ns)
    t.join(25)
    expect(seen == ["ADDED w 1", "MODIFIED w 2", "DELETED w 2"], f"events {seen}")
    ok()

    step = "informer"
    events = []
    inf = SharedInformer(core.list_namespaced_config_map, namespace=ns, label_selector="inf=yes")
    for t in ("ADDED", "MODIFIED", "DELETED"):
        inf.add_event_handler(t, lambda o, t=t: events.append(f"{t} {o.metadata.name}"))
    inf.start()
    try:
        time.sleep(0.5)
        core.create_namespaced_config_map(ns, {"metadata": {"name": "i", "labels": {"inf": "yes"}}, "data": {"k": "1"}})
        wait_for(lambda: "ADDED i" in events, lambda: f"ADDED i in {events}")
        core.patch_namespaced_config_map("i", ns, {"data": {"k": "2"}})
        wait_for(lambda: "MODIFIED i" in events, lambda: f"MODIFIED i in {events}")
        core.delete_namespaced_config_map("i", ns)
        wait_for(lambda: "DELETED i" in events, lambda: f"DELETED i in {events}")
        expect(inf.cache.list() == [], f"cache still holds {inf.cache.list_keys()}")
    finally:
        inf.stop()
    ok()

    step = "pagination"
    pns = ns + "-pages"
    core.create_namespace({"metadata": {"name": pns}})
    for i in range(7):
        core.create_namespaced_config_map(pns, {"metadata": {"name": f"page-{i}"}})
    total = len(core.list_namespaced_config_map(pns).items)  # 7, plus kube-root-ca.crt if the server adds it
    names, cont, rv = [], None, None
    while True:
        page = core.list_namespaced_config_map(pns, limit=3, _continue=cont)
        names += [c.metadata.name for c in page.items]
        rv = rv or page.metadata.resource_version
        expect(page.metadata.resource_version == rv, "pages read at different revisions")
        cont = page.metadata._continue
        if not cont:
            expect(page.metadata.remaining_item_count is None, "last page has remainingItemCount")
            break
        expect(page.metadata.remaining_item_count == total - len(names), f"remainingItemCount {page.metadata.remaining_item_count} after {len(names)} of {total}")
    expect(len(names) == total and sorted(names) == names, f"pages gave {names}")
    ok()

    step = "server-side apply"
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa", "namespace": ns}, "data": {"a": "1"}}
    first = cms.server_side_apply(body=body, namespace=ns, field_manager="python")
    again = cms.server_side_apply(body=body, namespace=ns, field_manager="python")
    expect(first.metadata.resourceVersion == again.metadata.resourceVersion, "a no-op apply changed resourceVersion")
    try:
        cms.server_side_apply(body={**body, "data": {"a": "2"}}, namespace=ns, field_manager="other")
        fail("a conflicting apply was accepted")
    except dynamic.exceptions.ConflictError:
        pass
    forced = cms.server_side_apply(body={**body, "data": {"a": "2"}}, namespace=ns, field_manager="other", force_conflicts=True)
    expect(forced.data.a == "2", f"forced apply gave {forced.data}")
    ok()

    step = "generation on re-apply"
    objs = [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": ns},
         "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                  "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np", "namespace": ns},
         "spec": {"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"ports": [{"port": 80}]}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
         "spec": {"selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}},
    ]
    for o in objs:
        res = dyn.resources.get(api_version=o["apiVersion"], kind=o["kind"])
        gens = [res.server_side_apply(body=o, namespace=ns, field_manager="python").metadata.generation for _ in range(2)]
        # A client-side style update that sends back what it read changes nothing either.
        # (Controllers write status meanwhile: retry on conflict, as clients do.)
        for attempt in range(5):
            cur = res.get(name=o["metadata"]["name"], namespace=ns)
            try:
                gens.append(res.replace(body=cur.to_dict(), namespace=ns).metadata.generation)
                break
            except dynamic.exceptions.ConflictError:
                expect(attempt < 4, f"{o['kind']}: replace conflicted 5 times")
        expect(gens == [1, 1, 1], f"{o['kind']} generation {gens}, want [1, 1, 1]")
    ok()

    step = "scale subresource"
    s = apps.read_namespaced_deployment_scale("web", ns)
    expect(s.spec.replicas == 1 and s.status.selector == "app=web", f"scale {s}")
    apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 3}})  # a strategic merge patch
    expect(apps.read_namespaced_deployment("web", ns).spec.replicas == 3, "strategic merge patch on /scale")
    apps.patch_namespaced_deployment_scale("web", ns, [{"op": "replace", "path": "/spec/replicas", "value": 2}])
    expect(apps.read_namespaced_deployment("web", ns).spec.replicas == 2, "JSON patch on /scale")
    for attempt in range(5):  # the deployment controller writes status meanwhile: retry on conflict
        s = apps.read_namespaced_deployment_scale("web", ns)
        s.spec.replicas = 4
        try:
            apps.replace_namespaced_deployment_scale("web", ns, s)
            break
        except ApiException as e:
            expect(e.status == 409 and attempt < 4, f"replace /scale: {e.status} {e.reason}")
    expect(apps.read_namespaced_deployment_scale("web", ns).spec.replicas == 4, "replace /scale")
    ok()

    step = "status subresource"
    cond = {"type": "PythonCheck", "status": "True", "reason": "Test", "message": "from python"}
    d = apps.patch_namespaced_deployment_status("web", ns, {"spec": {"replicas": 9}, "status": {"conditions": [cond]}})
    expect(d.spec.replicas == 4, f"a status patch changed spec.replicas to {d.spec.replicas}")
    expect(any(c.type == "PythonCheck" for c in d.status.conditions or []), f"conditions {d.status.conditions}")
    ok()

    step = "errors"
    try:
        core.read_namespaced_config_map("missing", ns)
        fail("reading a missing ConfigMap succeeded")
    except ApiException as e:
        expect(e.status == 404, f"status {e.status}")
    ok()

    step = "cleanup"
    core.delete_namespace(pns)
    ok()
    print("ALL OK", flush=True)


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except BaseException:
        print(f"FAIL {step}: {traceback.format_exc()}", flush=True)
        sys.exit(1)
