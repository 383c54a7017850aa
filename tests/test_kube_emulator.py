"""The Kubernetes emulator harness (tests/kubeemu.py) and the object builders (tests/kube_objects.py): the
official client and kubectl against it, over real HTTP."""

from __future__ import annotations

import json
import threading

import kube_objects as ko
import pytest
from kubeemu import KubeEmulator
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


@pytest.fixture
def emu(tmp_path):
    with KubeEmulator() as e:
        e.kubeconfig(tmp_path / "kubeconfig", contexts={"emu-ml": "ml"})
        yield e
        assert e.errors() == []


@pytest.fixture
def api(emu, tmp_path):
    """The official client's default configuration, loaded from the harness's kubeconfig."""
    config.load_kube_config(config_file=str(tmp_path / "kubeconfig"))
    api_client = client.ApiClient()
    yield api_client
    api_client.close()
    client.Configuration.set_default(None)  # no other test inherits a dead server


def test_client_and_kubectl_see_the_same_preloaded_node(emu, api):
    emu.add(ko.node("gpu-1", gpus=8), ko.node("cpu-1", pool_label=("eks.amazonaws.com/nodegroup", "cpu")))

    nodes = client.CoreV1Api(api).list_node()
    out = emu.kubectl("get", "nodes", "-o", "json")

    assert out.returncode == 0, out.stderr
    seen = {n["metadata"]["name"]: n for n in json.loads(out.stdout)["items"]}
    assert sorted(seen) == sorted(n.metadata.name for n in nodes.items) == ["cpu-1", "gpu-1"]
    gpu = next(n for n in nodes.items if n.metadata.name == "gpu-1")
    assert gpu.metadata.uid == seen["gpu-1"]["metadata"]["uid"]
    assert gpu.status.capacity["nvidia.com/gpu"] == "8"
    assert gpu.metadata.labels["eks.amazonaws.com/nodegroup"] == "gpu-a100"


def test_pod_log_is_read_by_client_and_kubectl(emu, api):
    emu.add(ko.pod("trainer", "ml"))
    emu.set_log("ml", "trainer", "epoch 1\nepoch 2\nTraceback: CUDA out of memory\n")
    core = client.CoreV1Api(api)

    assert core.read_namespaced_pod_log("trainer", "ml") == "epoch 1\nepoch 2\nTraceback: CUDA out of memory\n"
    assert core.read_namespaced_pod_log("trainer", "ml", tail_lines=1) == "Traceback: CUDA out of memory\n"
    out = emu.kubectl("logs", "trainer", "-n", "ml")
    assert (out.returncode, out.stdout) == (0, "epoch 1\nepoch 2\nTraceback: CUDA out of memory\n"), out.stderr
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_pod_log("nobody", "ml")
    assert missing.value.status == 404


def test_eviction_deletes_the_pod_unless_a_budget_forbids_it(emu, api):
    emu.add(*(ko.pod(f"web-{i}", "prod", labels={"app": "web"}) for i in range(3)), ko.pod("batch-1", "prod"))
    emu.add(ko.pdb("web", "prod", {"app": "web"}, min_available=3))
    core = client.CoreV1Api(api)
    rv = core.list_namespaced_pod("prod").metadata.resource_version

    def evict(name):
        body = client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace="prod"))
        return core.create_namespaced_pod_eviction(name, "prod", body)

    with pytest.raises(ApiException) as refused:
        evict("web-0")
    status = json.loads(refused.value.body)
    assert (refused.value.status, status["kind"], status["reason"]) == (429, "Status", "TooManyRequests")
    assert "needs 3 healthy pods and has 3" in status["details"]["causes"][0]["message"]
    assert emu.get("v1/pods", "prod", "web-0") is not None

    evict("batch-1")  # no budget covers it
    assert emu.get("v1/pods", "prod", "batch-1") is None
    w = watch.Watch()
    first = next(iter(w.stream(core.list_namespaced_pod, "prod", resource_version=rv, _request_timeout=5)))
    w.stop()
    assert (first["type"], first["object"].metadata.name) == ("DELETED", "batch-1")  # the refusal changed nothing
    with pytest.raises(ApiException) as gone:
        evict("batch-1")
    assert gone.value.status == 404


def test_a_watch_sees_a_patch_made_after_its_resource_version(emu, api):
    emu.add(ko.node("n1"), ko.node("n2"))
    core = client.CoreV1Api(api)
    rv = core.list_node().metadata.resource_version
    core.patch_node("n1", {"metadata": {"labels": {"mlops-console.io/node-config": "v2"}}})

    w = watch.Watch()
    # the first event since `rv`: the patch, replayed (no timing involved)
    event = next(iter(w.stream(core.list_node, resource_version=rv, _request_timeout=5)))
    w.stop()

    assert event["type"] == "MODIFIED"
    assert event["object"].metadata.name == "n1"
    assert event["object"].metadata.labels["mlops-console.io/node-config"] == "v2"
    assert int(event["object"].metadata.resource_version) > int(rv)


def test_a_watch_sees_live_changes_and_ends_when_dropped(emu, api):
    emu.add(ko.node("n1"))
    core = client.CoreV1Api(api)
    rv = core.list_node().metadata.resource_version
    seen = []

    def follow():
        for e in watch.Watch().stream(core.list_node, resource_version=rv, timeout_seconds=30):
            seen.append((e["type"], e["object"].metadata.name))

    t = threading.Thread(target=follow, daemon=True)
    t.start()
    emu.wait_watching("v1/nodes")
    emu.put("v1/nodes", None, "n2", ko.node("n2"))
    emu.delete("v1/nodes", None, "n1")
    assert emu.drop_watches() == 1
    t.join(10)  # without the drop it would run 30 s

    assert not t.is_alive()
    assert seen == [("ADDED", "n2"), ("DELETED", "n1")]


def test_an_expired_watch_answers_410(emu, api):
    emu.add(ko.node("n1"))
    core = client.CoreV1Api(api)
    emu.expire_watches("v1/nodes")

    with pytest.raises(ApiException) as expired:
        list(watch.Watch().stream(core.list_node, resource_version="1", timeout_seconds=5))

    assert expired.value.status == 410
    assert "too old resource version" in expired.value.reason


def test_an_injected_conflict_is_answered_and_changes_nothing(emu, api):
    emu.add(ko.node("n1"))
    before = emu.get("v1/nodes", None, "n1")
    fault = emu.fail("patch", "v1/nodes", "n1", status=409)
    core = client.CoreV1Api(api)

    with pytest.raises(ApiException) as conflict:
        core.patch_node("n1", {"spec": {"unschedulable": True}})

    body = json.loads(conflict.value.body)
    assert (conflict.value.status, body["reason"], body["code"]) == (409, "Conflict", 409)
    assert emu.get("v1/nodes", None, "n1") == before
    assert fault.hits == 1
    assert [r.method for r in emu.requests(path="/api/v1/nodes/n1")] == ["PATCH"]
    core.patch_node("n1", {"spec": {"unschedulable": True}})  # the fault was for one request
    assert emu.get("v1/nodes", None, "n1")["spec"]["unschedulable"] is True


def test_a_refused_create_stores_nothing_and_a_second_create_conflicts(emu, api):
    batch = client.BatchV1Api(api)
    job = ko.job("retry-1", "ml", failed=None)
    emu.fail("create", "batch/v1/jobs", "retry-1", status=403)

    with pytest.raises(ApiException) as forbidden:
        batch.create_namespaced_job("ml", job)
    assert forbidden.value.status == 403
    assert "cannot create resource" in json.loads(forbidden.value.body)["message"]
    assert emu.get("batch/v1/jobs", "ml", "retry-1") is None

    created = batch.create_namespaced_job("ml", job)
    with pytest.raises(ApiException) as exists:
        batch.create_namespaced_job("ml", job)
    assert json.loads(exists.value.body)["reason"] == "AlreadyExists"
    assert created.metadata.uid == emu.get("batch/v1/jobs", "ml", "retry-1")["metadata"]["uid"]
    assert created.status is None  # a create does not write the status (a subresource)


def test_spark_applications_are_served_and_kserve_only_when_asked(emu, api):
    objects = client.CustomObjectsApi(api)
    app = ko.spark_application("etl", "spark", spark_conf={"spark.executor.memoryOverhead": "1g"}, state="FAILED")
    del app["metadata"]["uid"], app["metadata"]["resourceVersion"]  # a client's create carries neither

    objects.create_namespaced_custom_object("sparkoperator.k8s.io", "v1beta2", "spark", "sparkapplications", app)
    listed = objects.list_namespaced_custom_object("sparkoperator.k8s.io", "v1beta2", "spark", "sparkapplications")

    assert [a["metadata"]["name"] for a in listed["items"]] == ["etl"]
    assert listed["kind"] == "SparkApplicationList"
    assert listed["items"][0]["spec"]["sparkConf"] == {"spark.executor.memoryOverhead": "1g"}
    assert "status" not in listed["items"][0]  # a created object's status is its controller's to write
    with pytest.raises(ApiException) as absent:
        objects.list_cluster_custom_object("serving.kserve.io", "v1beta1", "inferenceservices")
    assert absent.value.status == 404
    with KubeEmulator(kserve=True) as with_kserve:
        out = with_kserve.kubectl("get", "--raw", "/apis/serving.kserve.io/v1beta1")
        assert json.loads(out.stdout)["resources"][0]["kind"] == "InferenceService"


def test_kubectl_cordon_sets_unschedulable(emu):
    emu.add(ko.node("n1"))

    out = emu.kubectl("cordon", "n1")

    assert out.returncode == 0, out.stderr
    node = emu.get("v1/nodes", None, "n1")
    assert node["spec"]["unschedulable"] is True
    assert [t["key"] for t in node["spec"]["taints"]] == ["node.kubernetes.io/unschedulable"]


def test_kubectl_drain_evicts_only_the_nodes_pods(emu):
    emu.add(ko.node("n1"), ko.node("n2"), ko.daemonset("fluent"))
    emu.add(ko.pod("a", "ml", node="n1", owner_kind="ReplicaSet", owner_name="web-1"), ko.pod("b", "ml", node="n2"))
    emu.add(ko.pod("fluent-x1", "kube-system", node="n1", daemonset=True, owner_name="fluent"))

    out = emu.kubectl("drain", "n1", "--ignore-daemonsets", "--timeout=20s")

    assert out.returncode == 0, out.stderr
    assert sorted(name for _, _, name in emu.objects("v1/pods")) == ["b", "fluent-x1"]
    assert [r.path for r in emu.requests("POST")] == ["/api/v1/namespaces/ml/pods/a/eviction"]


def test_lists_filter_by_selectors_and_come_in_pages(emu, api):
    emu.add(*(ko.pod(f"p{i}", "ml", node=f"n{i % 2}", labels={"tier": "gpu" if i < 3 else "cpu"}) for i in range(5)))
    core = client.CoreV1Api(api)

    on_n1 = core.list_namespaced_pod("ml", field_selector="spec.nodeName=n1")
    gpu = core.list_pod_for_all_namespaces(label_selector="tier in (gpu),tier!=cpu")
    first = core.list_namespaced_pod("ml", limit=2)
    second = core.list_namespaced_pod("ml", limit=2, _continue=first.metadata._continue)

    assert [p.metadata.name for p in on_n1.items] == ["p1", "p3"]
    assert [p.metadata.name for p in gpu.items] == ["p0", "p1", "p2"]
    assert [p.metadata.name for p in first.items + second.items] == ["p0", "p1", "p2", "p3"]


def test_contexts_switch_the_default_namespace(emu):
    emu.add(ko.pod("a", "default"), ko.pod("b", "ml"))

    default = emu.kubectl("get", "pods", "-o", "name")
    ml = emu.kubectl("--context", "emu-ml", "get", "pods", "-o", "name")

    assert (default.stdout, ml.stdout) == ("pod/a\n", "pod/b\n")


def test_builders_read_back_as_the_clients_models():
    api = client.ApiClient()
    j, app = (
        ko.job("train", "ml", failed=True, env={"LR": "0.1"}),
        ko.spark_application("etl", state="FAILED", error="boom"),
    )
    dep = ko.deployment("web", "prod", replicas=3, revision=2)
    cases = [
        (ko.node("n1", ready="Unknown", unschedulable=True), "V1Node"),
        (ko.pod("p", terminated=("OOMKilled", 137), restarts=2, emptydir=True), "V1Pod"),
        (ko.pod("p", phase="Pending", node=None), "V1Pod"),
        (ko.pod("etcd-n1", "kube-system", node="n1", mirror=True), "V1Pod"),
        (j, "V1Job"),
        (ko.job_pod(j), "V1Pod"),
        (ko.spark_driver_pod(app), "V1Pod"),
        (dep, "V1Deployment"),
        (ko.replicaset(dep), "V1ReplicaSet"),
        (ko.pdb("web", "prod", {"app": "web"}, 2), "V1PodDisruptionBudget"),
        (ko.event("ml", "Pod", "p"), "CoreV1Event"),
    ]
    for obj, model in cases:
        assert type(api.deserialize(json.dumps(obj), model, "application/json")).__name__ == model
    assert ko.job_pod(j)["metadata"]["ownerReferences"][0]["uid"] == j["metadata"]["uid"]
    assert [c["type"] for c in j["status"]["conditions"]] == ["FailureTarget", "Failed"]
    assert app["status"]["applicationState"] == {"state": "FAILED", "errorMessage": "boom"}
    assert ko.replicaset(dep)["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
