"""The console on a Kubernetes cluster: the real CLI (a subprocess, the official client inside) against the
emulator over HTTP on 127.0.0.1, and `kubectl` as a second client reading what it wrote."""

from __future__ import annotations

import json

import kube_objects as k
import pytest
import yaml
from conftest import Cli
from kubeemu import KubeEmulator

OOM_LOG = "Epoch 3/10\nRuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 39.59 GiB total capacity)\n"
SPARK_OOM_LOG = (
    "24/11/20 11:02:01 INFO SparkContext: Running Spark version 3.5.3\n"
    "24/11/20 11:04:10 ERROR Executor: Exception in task 3.0 in stage 2.0 (TID 41)\n"
    "java.lang.OutOfMemoryError: Java heap space\n"
    "\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)\n"
)


@pytest.fixture
def emu():
    with KubeEmulator() as e:
        e.add(
            k.namespace("default"),
            k.namespace("jobs"),
            k.namespace("serving"),
            k.node("node-1", gpus=4),
            k.node("node-2", ready=False),
            k.node("node-3", pool_label=("cloud.google.com/gke-nodepool", "cpu-pool")),
        )
        yield e


@pytest.fixture
def kube(emu, tmp_path):
    """The CLI on the emulator: namespace `jobs` by default, a second context on `serving`."""
    config = emu.kubeconfig(
        tmp_path / "kubeconfig", context="emu", namespace="jobs", contexts={"emu-serving": "serving"}
    )
    cli = Cli(tmp_path / "cli")
    home = str(tmp_path / "home")

    def run(*args: str, ok: bool = True, env: dict[str, str] | None = None):
        r = cli("--home", home, "--kubeconfig", str(config), *args, env=env)
        if ok:
            assert r.rc == 0, f"{args} exited {r.rc}: {r.err}"
            assert "Traceback" not in r.err, r.err
        return r

    return run


def kubectl_json(emu, *args: str) -> dict:
    r = emu.kubectl(*args, "-o", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


# -- connecting ----------------------------------------------------------------------------------------
def test_the_kubeconfig_chooses_the_cluster_context_and_namespace(kube):
    assert "backend: kube:emu (emulator, ns jobs)" in kube("version").out
    assert "backend: kube:emu-serving (emulator, ns serving)" in kube("--context", "emu-serving", "version").out
    assert "ns batch" in kube("-n", "batch", "version").out
    assert "all namespaces" in kube("-A", "version").out
    assert "backend: sim:demo" in kube("--demo", "version").out  # --demo keeps the embedded estate


def test_a_missing_context_or_kubeconfig_is_one_line_and_exit_2(kube, tmp_path):
    r = kube("--context", "nope", "nodes", "list", ok=False)
    assert r.rc == 2 and "no context 'nope' (contexts: emu, emu-serving)" in r.err and len(r.err.splitlines()) == 1
    r = Cli(tmp_path / "c2")("--home", str(tmp_path / "h2"), "--kubeconfig", str(tmp_path / "absent"), "version")
    assert r.rc == 2 and "--kubeconfig: no such file" in r.err


def test_an_unreachable_server_is_one_line_naming_it_and_why(emu, tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = emu.kubeconfig(tmp_path / "kubeconfig", context="emu")
    config.write_text(config.read_text().replace(emu.url.split("//")[1], f"127.0.0.1:{port}"))
    r = Cli(tmp_path / "c")("--home", str(tmp_path / "h"), "--kubeconfig", str(config), "nodes", "list")
    assert r.rc == 1 and len(r.err.splitlines()) == 1, r.err
    assert f"cannot reach http://127.0.0.1:{port}: [Errno 111] Connection refused (gave up after 5" in r.err


def test_without_a_kubeconfig_the_demo_is_the_default(tmp_path):
    r = Cli(tmp_path / "c")("--home", str(tmp_path / "h"), "version")
    assert r.rc == 0 and "backend: sim:demo" in r.out


# -- nodes ---------------------------------------------------------------------------------------------
def test_nodes_are_listed_with_their_pool_and_a_notready_node_as_such(kube, emu):
    rows = {n["name"]: n for n in json.loads(kube("nodes", "list", "-o", "json").out)}
    assert set(rows) == {"node-1", "node-2", "node-3"}
    assert rows["node-1"]["pool"] == "gpu-a100" and rows["node-1"]["gpus"] == 4 and rows["node-1"]["ready"]
    assert rows["node-3"]["pool"] == "cpu-pool"  # GKE's label
    assert not rows["node-2"]["ready"]
    assert "NotReady" in kube("nodes", "list").out
    seen = kubectl_json(emu, "get", "nodes")
    assert {i["metadata"]["name"] for i in seen["items"]} == set(rows)


def test_cordon_label_and_taint_are_patches_kubectl_sees_and_the_audit_records(kube, emu):
    kube("nodes", "cordon", "node-1")
    kube("nodes", "label", "node-1", "team=ml")
    kube("nodes", "taint", "node-1", "gpu=true:NoSchedule")
    node = kubectl_json(emu, "get", "node", "node-1")
    assert node["spec"]["unschedulable"] is True
    assert node["metadata"]["labels"]["team"] == "ml"
    assert {"key": "gpu", "value": "true", "effect": "NoSchedule"} in [
        {x: t[x] for x in ("key", "value", "effect")} for t in node["spec"]["taints"]
    ]
    kube("nodes", "uncordon", "node-1")
    assert not kubectl_json(emu, "get", "node", "node-1")["spec"].get("unschedulable")
    audit = json.loads(kube("audit", "list", "-o", "json").out)
    verbs = [(e["verb"], e["object_ref"]["name"]) for e in audit if e["stage"] == "ResponseComplete"]
    assert {("cordon", "node-1"), ("label", "node-1"), ("taint", "node-1"), ("uncordon", "node-1")} <= set(verbs)
    # each change sent once: one PATCH of the node per change (cordon, label, taint, uncordon)
    assert len(emu.requests("PATCH", "/api/v1/nodes/node-1")) == 4


def test_drain_evicts_through_the_eviction_api_and_leaves_daemonset_mirror_and_finished_pods(kube, emu):
    _, failed_pod = _failed_job(emu)  # on node-1: what its triage reads stays
    emu.add(
        k.pod("web-1", "jobs", "node-1", owner_kind="ReplicaSet", owner_name="web-abc", labels={"app": "web"}),
        k.pod("web-2", "jobs", "node-1", owner_kind="ReplicaSet", owner_name="web-abc", labels={"app": "web"}),
        k.pod("fluent-x", "kube-system", "node-1", daemonset=True),
        k.pod("kube-proxy-node-1", "kube-system", "node-1", mirror=True),
        k.pod("other", "jobs", "node-3"),
    )
    r = kube("nodes", "drain", "node-1", ok=False)
    assert r.rc == 2 and "DaemonSet-managed pods (kube-system/fluent-x)" in r.err  # as kubectl drain refuses
    kube("nodes", "drain", "node-1", "--ignore-daemonsets")
    left = {
        (p["metadata"]["namespace"], p["metadata"]["name"]) for p in kubectl_json(emu, "get", "pods", "-A")["items"]
    }
    assert left == {
        ("kube-system", "fluent-x"),
        ("kube-system", "kube-proxy-node-1"),
        ("jobs", "other"),
        ("jobs", failed_pod["metadata"]["name"]),
    }
    evictions = [s.path for s in emu.requests("POST") if s.path.endswith("/eviction")]
    assert sorted(evictions) == [
        "/api/v1/namespaces/jobs/pods/web-1/eviction",
        "/api/v1/namespaces/jobs/pods/web-2/eviction",
    ]
    assert kubectl_json(emu, "get", "node", "node-1")["spec"]["unschedulable"] is True


def test_a_disruption_budget_holds_the_drain_until_its_timeout_and_nothing_is_deleted(kube, emu):
    emu.add(
        k.pod("api-1", "serving", "node-1", owner_kind="ReplicaSet", owner_name="api-x", labels={"app": "api"}),
        k.pdb("api", "serving", {"app": "api"}, min_available=1),
    )
    r = kube("nodes", "drain", "node-1", "--timeout", "1", ok=False)
    assert r.rc != 0 and "timed out" in r.err and "stays cordoned" in r.err
    assert emu.get("v1/pods", "serving", "api-1") is not None
    assert len([s for s in emu.requests("POST") if s.path.endswith("api-1/eviction")]) >= 2  # retried


# -- jobs: triage and retries ----------------------------------------------------------------------------
def _failed_job(emu):
    j = k.job("train-ranker-x1", "jobs", env={"BATCH_SIZE": "256"}, failed=True, memory="16Gi")
    p = k.job_pod(j, node="node-1", terminated=("OOMKilled", 137))
    emu.add(j, p)
    emu.set_log("jobs", p["metadata"]["name"], OOM_LOG)
    return j, p


def _failed_spark(emu):
    app = k.spark_application(
        "etl-daily-20261120",
        "jobs",
        spark_conf={"spark.sql.shuffle.partitions": "200"},
        executor_memory="4g",
        executor_instances=10,
        state="FAILED",
        error="driver container failed with ExitCode: 1, Reason: Error",
    )
    driver = k.spark_driver_pod(app, node="node-3", terminated=("Error", 1))
    emu.add(app, driver)
    emu.set_log("jobs", driver["metadata"]["name"], SPARK_OOM_LOG)
    return app, driver


def test_a_failed_job_and_a_failed_spark_application_are_triaged_from_pod_status_and_logs(kube, emu):
    _failed_job(emu)
    _failed_spark(emu)
    rows = {r["run_id"]: r for r in json.loads(kube("jobs", "list", "--failed", "-o", "json").out)}
    job = rows["train-ranker-x1"]
    assert job["reason"] == "OOMKilled" and job["exit_code"] == 137 and job["category"] == "memory_exceeded"
    assert job["conf"]["BATCH_SIZE"] == "256" and job["conf"]["requests.memory"] == "16Gi"
    spark = rows["etl-daily-20261120"]
    assert spark["kind"] == "spark" and spark["category"] == "memory_exceeded"
    assert "OutOfMemoryError" in spark["evidence"]
    assert spark["conf"]["spark.executor.memory"] == "4g" and spark["conf"]["spark.executor.instances"] == "10"
    assert "CUDA out of memory" in kube("jobs", "logs", "train-ranker-x1").out


def test_an_approved_retry_is_created_with_the_new_config_once_and_linked_to_the_original(kube, emu):
    _failed_job(emu)
    kube("autofix", "reconcile")
    queue = json.loads(kube("autofix", "queue", "-o", "json").out)
    (s,) = [q for q in queue if q["run_id"] == "train-ranker-x1"]
    kube("autofix", "edit", str(s["id"]), "limits.memory=24Gi", "BATCH_SIZE=128")
    kube("autofix", "approve", str(s["id"]))
    retry = kubectl_json(emu, "get", "job", "train-ranker-x1-2", "-n", "jobs")
    container = retry["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["memory"] == "24Gi"
    assert {"name": "BATCH_SIZE", "value": "128"} in container["env"]
    assert retry["metadata"]["annotations"]["mlops-console.io/retry-of"] == "train-ranker-x1"
    assert retry["metadata"]["labels"]["mlops-console.io/job"] == "train-ranker-x1"
    assert len([s for s in emu.requests("POST") if s.path == "/apis/batch/v1/namespaces/jobs/jobs"]) == 1
    audit = json.loads(kube("audit", "list", "-o", "json").out)
    done = [e for e in audit if e["verb"] == "retry" and e["stage"] == "ResponseComplete"]
    assert [e["object_ref"]["name"] for e in done] == ["train-ranker-x1"] and done[0]["user"]


# -- faults ----------------------------------------------------------------------------------------------
def test_forbidden_is_one_line_naming_verb_resource_and_namespace(kube, emu):
    emu.fail("patch", "v1/nodes", "node-1", status=403, times=None)
    r = kube("nodes", "cordon", "node-1", ok=False)
    assert r.rc == 3 and "forbidden: needs patch on nodes (cluster-wide)" in r.err and len(r.err.splitlines()) == 1
    emu.clear_faults()
    emu.fail("list", "batch/v1/jobs", status=403, times=None)
    r = kube("jobs", "list", ok=False)
    assert r.rc == 3 and "forbidden: needs list on jobs in namespace jobs" in r.err


def test_server_errors_are_retried_and_a_write_is_applied_once(kube, emu):
    emu.fail("list", "v1/nodes", status=500, times=2)
    assert len(json.loads(kube("nodes", "list", "-o", "json").out)) == 3
    emu.fail("patch", "v1/nodes", "node-2", status=503, times=1)
    kube("nodes", "cordon", "node-2")
    assert kubectl_json(emu, "get", "node", "node-2")["spec"]["unschedulable"] is True
    patches = emu.requests("PATCH", "/api/v1/nodes/node-2")
    assert len(patches) == 2  # the one answered 503 changed nothing; the one that passed, once


def test_a_server_that_keeps_failing_is_reported_not_a_traceback(kube, emu):
    emu.fail("list", "v1/nodes", status=500, times=None)
    r = kube("nodes", "list", ok=False)
    assert r.rc == 1 and "gave up after 5 attempts" in r.err and "Traceback" not in r.err


def test_a_conflict_on_a_retry_of_another_run_is_not_overwritten(kube, emu):
    _failed_job(emu)
    emu.add(k.job("train-ranker-x1-2", "jobs"))  # someone else's job of that name
    kube("autofix", "reconcile")
    (s,) = [q for q in json.loads(kube("autofix", "queue", "-o", "json").out) if q["run_id"] == "train-ranker-x1"]
    kube("autofix", "edit", str(s["id"]), "limits.memory=24Gi")
    r = kube("autofix", "approve", str(s["id"]), ok=False)
    assert r.rc != 0 and "is not a retry of train-ranker-x1" in r.err
    assert "mlops-console.io/retry-of" not in (
        emu.get("batch/v1/jobs", "jobs", "train-ranker-x1-2")["metadata"].get("annotations") or {}
    )


# -- rollouts --------------------------------------------------------------------------------------------
def test_a_rollout_starts_a_canary_promotes_and_rolls_back_with_kubectl_seeing_each_step(kube, emu, tmp_path):
    emu.add(
        k.deployment(
            "fraud-scorer",
            "jobs",
            labels={
                "app": "fraud-scorer",
                "mlops-console.io/model": "fraud-xgb",
                "mlops-console.io/model-version": "8",
            },
            replicas=4,
            image="registry.internal/serving/fraud-xgb:8",
        )
    )
    assert "fraud-xgb" in kube("models", "list").out  # what the cluster serves is adopted by the registry
    _register_next_version(tmp_path / "home", tmp_path / "kubeconfig", "fraud-xgb")
    kube("rollouts", "start", "fraud-scorer", "fraud-xgb", "9", "--steps", "25,100")
    canary = kubectl_json(emu, "get", "deployment", "fraud-scorer-canary", "-n", "jobs")
    stable = kubectl_json(emu, "get", "deployment", "fraud-scorer", "-n", "jobs")
    assert canary["spec"]["template"]["spec"]["containers"][0]["image"].endswith("fraud-xgb:9")
    assert (canary["spec"]["replicas"], stable["spec"]["replicas"]) == (1, 3)  # 25 % of 4
    kube("rollouts", "promote", "fraud-scorer")
    stable = kubectl_json(emu, "get", "deployment", "fraud-scorer", "-n", "jobs")
    assert stable["spec"]["template"]["spec"]["containers"][0]["image"].endswith("fraud-xgb:9")
    assert stable["spec"]["replicas"] == 4
    assert emu.kubectl("get", "deployment", "fraud-scorer-canary", "-n", "jobs").returncode != 0  # gone
    kube("rollouts", "rollback", "fraud-scorer")
    stable = kubectl_json(emu, "get", "deployment", "fraud-scorer", "-n", "jobs")
    assert stable["spec"]["template"]["spec"]["containers"][0]["image"].endswith("fraud-xgb:8")
    verbs = [e["verb"] for e in json.loads(kube("audit", "list", "-o", "json").out) if e["stage"] == "ResponseComplete"]
    assert {"rollout-start", "set-weight", "promote", "rollout-undo"} <= set(verbs)


def _register_next_version(home, kubeconfig, model: str) -> None:
    """A new version of `model` in the registry of the console at `home` (what a training registers)."""
    from console.engine import Engine
    from console.settings import load

    engine = Engine(load({"home": str(home), "kubeconfig": str(kubeconfig)}))
    engine._w.registry.register(
        model,
        user="me",
        framework="xgboost",
        sha256="1" * 64,
        params={},
        metrics={},
        data_digest="d",
        created_at="2026-11-20T11:30:00Z",
    )
    engine.close()


# -- RBAC ------------------------------------------------------------------------------------------------
RBAC = "deploy/rbac.yaml"


def _roles() -> dict[str, list[dict]]:
    from conftest import REPO

    return {d["metadata"]["name"]: d["rules"] for d in yaml.safe_load_all((REPO / RBAC).read_text())}


def _allowed(rules: list[dict], group: str, resource: str, verb: str) -> bool:
    return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in rules)


def test_the_shipped_roles_are_valid_kubernetes_objects():
    import kubernetes_validate
    from conftest import REPO

    for doc in yaml.safe_load_all((REPO / RBAC).read_text()):
        kubernetes_validate.validate(doc, "1.32", strict=True)  # raises on a wrong field


def _asked_allowed_by_the_roles(emu) -> set[tuple[str, str, str]]:
    """(group, resource, verb) of every request the emulator received, each checked against the shipped
    roles: the operator's allow them all, the viewer's the reads and nothing else."""
    from core.backends.kube.api import describe

    roles = _roles()
    asked = set()
    for seen in emu.requests():
        parts = seen.path.split("/")
        if (
            parts[1] not in ("api", "apis")
            or seen.path in ("/api", "/api/v1")
            or len(parts) <= 4
            and parts[1] == "apis"
        ):
            continue  # discovery (and /version): allowed to every authenticated user
        group = "" if parts[1] == "api" else parts[2]
        verb, resource, _ns = describe(seen.method, seen.path)
        asked.add((group, resource, verb))
    refused = [a for a in asked if not _allowed(roles["mlops-console-operator"], *a)]
    assert not refused, f"the operator role lacks {refused}"
    reads = {a for a in asked if a[2] in ("get", "list", "watch")}
    assert not [a for a in reads if not _allowed(roles["mlops-console-viewer"], *a)]
    assert not [a for a in asked - reads if _allowed(roles["mlops-console-viewer"], *a)]  # the viewer changes nothing
    return asked


def test_the_operator_role_allows_every_request_the_console_made_and_the_viewer_only_its_reads(kube, emu):
    _failed_job(emu)
    emu.add(k.pod("web-1", "jobs", "node-1", owner_kind="ReplicaSet", owner_name="web-abc"))
    kube("nodes", "drain", "node-1", "--ignore-daemonsets")
    kube("nodes", "label", "node-2", "team=ml")
    kube("jobs", "list")
    kube("jobs", "logs", "train-ranker-x1")
    kube("rollouts", "list")
    kube("autofix", "reconcile")
    (s,) = [q for q in json.loads(kube("autofix", "queue", "-o", "json").out) if q["run_id"] == "train-ranker-x1"]
    kube("autofix", "edit", str(s["id"]), "limits.memory=24Gi")
    kube("autofix", "approve", str(s["id"]))
    asked = _asked_allowed_by_the_roles(emu)
    assert ("", "pods/eviction", "create") in asked and ("batch", "jobs", "create") in asked


# -- the TUI ---------------------------------------------------------------------------------------------
async def test_the_tui_on_the_cluster_shows_nodes_cordons_and_switches_context(emu, tmp_path, monkeypatch):
    from test_tui import goto, plain, wait_rows
    from test_tui_changes import until
    from textual.widgets import Static

    from console.app import ConsoleApp
    from console.engine import Engine
    from console.settings import load
    from screens.dialogs import ConfirmScreen
    from screens.overlays import Picker

    config = emu.kubeconfig(
        tmp_path / "kubeconfig", context="emu", namespace="jobs", contexts={"emu-serving": "serving"}
    )
    monkeypatch.setenv("MLOPS_CONSOLE_CONFIG", str(tmp_path / "none.toml"))
    settings = load({"home": str(tmp_path / "home"), "user": "erin", "kubeconfig": str(config)})
    app = ConsoleApp(Engine(settings, watch=True), settings)  # as run_tui makes it: the watch cache on
    async with app.run_test(size=(140, 40)) as pilot:
        assert "kube:emu (emulator, ns jobs)" in app.sub_title
        await goto(pilot, "nodes")
        table = await wait_rows(pilot)
        assert sorted(table.row_keys) == ["node-1", "node-2", "node-3"]
        assert "NotReady" in " ".join(table.get_row_at(table.get_row_index("node-2")))
        table.move_cursor(table.get_row_index("node-1"))
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.focused is not None)
        assert "node-1" in " ".join(plain(s) for s in app.screen.query(Static))
        await pilot.press("y")
        await until(pilot, lambda: (emu.get("v1/nodes", None, "node-1") or {}).get("spec", {}).get("unschedulable"))
        assert kubectl_json(emu, "get", "node", "node-1")["spec"]["unschedulable"] is True
        assert {":ctx [NAME]", ":ns [NAME]"} <= {key for _, rows in app.help_sections() for key, _ in rows}
        await goto(pilot, "ctx")
        await until(pilot, lambda: isinstance(app.screen, Picker))
        await pilot.press("down", "enter")
        await until(pilot, lambda: "kube:emu-serving (emulator, ns serving)" in app.sub_title)
        await goto(pilot, "ns")
        await until(pilot, lambda: isinstance(app.screen, Picker))
        assert app.screen.current == "serving"  # the namespace in use is the one marked
        await pilot.press("escape")
        await goto(pilot, "ns jobs")
        await until(pilot, lambda: "kube:emu-serving (emulator, ns jobs)" in app.sub_title)
        await goto(pilot, "ns nosuch")  # a typo is named, and the console stays where it was
        await until(pilot, lambda: any("no namespace 'nosuch'" in str(n.message) for n in app._notifications))
        assert "ns jobs" in app.sub_title
        emu.fail("*", "nodes", status=503, times=None)  # the server stops answering for nodes
        emu.drop_watches()
        await until(pilot, lambda: app.sub_title.startswith("⚠ STALE since"))  # first: a narrow header keeps it
        await goto(pilot, "nodes")
        assert sorted((await wait_rows(pilot)).row_keys) == ["node-1", "node-2", "node-3"]  # what was last seen
        emu.clear_faults()
        # the cache's next try may be a whole backoff away (full jitter, capped at 30 s: kube/cache.py), and
        # the failures before it count up while CI is slow: the bound covers a capped wait twice over
        await until(pilot, lambda: "STALE" not in app.sub_title, tries=1200)
        assert app.is_running


# -- a console killed mid-change -------------------------------------------------------------------------
def _pool_state(emu) -> dict[str, tuple]:
    out = {}
    for (_, _, name), n in emu.objects("v1/nodes").items():
        if n["metadata"]["labels"].get("eks.amazonaws.com/nodegroup") == "gpu-a100":
            labels = n["metadata"]["labels"]
            out[name] = (bool(n["spec"].get("unschedulable")), labels.get("mlops-console.io/node-config"))
    return out


@pytest.mark.parametrize("then", ["resume", "rollback"])
def test_a_pool_change_killed_midway_resumes_or_rolls_back_exactly(kube, emu, then):
    """A node config to a pool: per node cordon, evict its pods, apply, uncordon. Killed after the 3rd
    change (node-1 cordoned, its pod evicted, its config applied), the next start shows the operation
    interrupted; `ops resume` finishes it, `ops rollback` puts every node back as it was."""
    emu.add(k.pod("web-1", "jobs", "node-1", owner_kind="ReplicaSet", owner_name="web-abc"))
    before = _pool_state(emu)
    assert before == {"node-1": (False, None), "node-2": (False, None)}
    apply = ("nodes", "apply-config", "gpu-a100", "cfg-2", "--max-unavailable", "1", "--yes")
    r = kube(*apply, ok=False, env={"MLOPS_CONSOLE_CRASH_AT": "after-change:3"})
    assert r.rc == 137
    assert _pool_state(emu)["node-1"] == (True, "cfg-2")  # killed with node-1 still cordoned
    listed = kube("ops", "list", "-o", "json")
    (op,) = [o for o in json.loads(listed.out) if o["kind"] == "pool-config"]
    assert op["state"] == "interrupted" and "was interrupted" in listed.err
    patches = len(emu.requests("PATCH"))
    kube("ops", then, op["id"])
    if then == "resume":
        assert _pool_state(emu) == {"node-1": (False, "cfg-2"), "node-2": (False, "cfg-2")}
    else:
        assert _pool_state(emu) == before
    assert len(emu.requests("PATCH")) > patches
    (op,) = [o for o in json.loads(kube("ops", "list", "-o", "json").out) if o["kind"] == "pool-config"]
    assert op["state"] == ("done" if then == "resume" else "rolled_back")
    assert kube("audit", "verify").rc == 0


# -- the watch cache (the TUI's) -------------------------------------------------------------------------
def _until(predicate, tries: int = 400) -> None:
    """Up to ~20 s for a condition the watch thread brings about: a bound on waiting, not a timing test."""
    import time

    for _ in range(tries):
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition never held")


@pytest.fixture
def watched(emu, tmp_path):
    from core.backends.kube.cluster import KubeCluster
    from core.backends.kube.connection import Target, connect

    config = emu.kubeconfig(tmp_path / "kubeconfig", context="emu", namespace="jobs")
    cluster = KubeCluster(connect(Target(str(config))), watch=True)
    _until(lambda: all(i.synced.is_set() or i.refused for i in cluster.informers.values()))
    yield cluster
    cluster.close()


def test_the_cache_serves_reads_without_listing_again_and_follows_changes(watched, emu):
    lists = len([s for s in emu.requests("GET", "/api/v1/nodes") if "watch" not in s.query])
    assert [n.name for n in watched.list_nodes()] == ["node-1", "node-2", "node-3"]
    gen = watched.generation()
    assert watched.generation() == gen  # nothing happened: the views need not read again
    emu.patch("v1/nodes", None, "node-2", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    _until(
        lambda: watched.get_node("node-2").ready and any(n.ready for n in watched.list_nodes() if n.name == "node-2")
    )
    assert watched.generation() != gen
    emu.add(k.pod("web-9", "jobs", "node-1", cpu="2"))
    _until(lambda: next(n for n in watched.list_nodes() if n.name == "node-1").cpu_used == 2.0)
    emu.delete("v1/pods", "jobs", "web-9")
    _until(lambda: next(n for n in watched.list_nodes() if n.name == "node-1").pods == 0)
    assert len([s for s in emu.requests("GET", "/api/v1/nodes") if "watch" not in s.query]) == lists  # no re-list


def test_a_failures_events_come_from_the_cache_and_follow_new_ones(watched, emu):
    j, p = _failed_job(emu)
    emu.add(k.event("jobs", "Pod", p["metadata"]["name"], reason="OOMKilling", message="Memory cgroup out of memory"))
    _until(lambda: any("OOMKilling" in e for e in watched.attempt_events("train-ranker-x1")))
    reads = len([s for s in emu.requests("GET", "/api/v1/namespaces/jobs/events") if "watch" not in s.query])
    emu.add(
        k.event("jobs", "Job", "train-ranker-x1", reason="BackoffLimitExceeded", message="Job has reached the limit")
    )
    _until(lambda: any("BackoffLimitExceeded" in e for e in watched.attempt_events("train-ranker-x1")))
    assert len([s for s in emu.requests("GET", "/api/v1/namespaces/jobs/events") if "watch" not in s.query]) == reads


def test_a_410_lists_again_and_a_lost_connection_is_marked_then_recovers(watched, emu):
    def node_lists() -> int:
        return len([s for s in emu.requests("GET", "/api/v1/nodes") if "watch" not in s.query])

    before = node_lists()
    emu.expire_watches("v1/nodes", times=1)
    emu.drop_watches("v1/nodes")
    _until(lambda: node_lists() > before)  # the watch came back 410 Gone: a fresh list
    emu.add(k.node("node-4"))
    _until(lambda: "node-4" in [n.name for n in watched.list_nodes()])
    emu.fail("watch", "v1/nodes", status=500, times=2)
    emu.drop_watches("v1/nodes")
    _until(lambda: watched.connection_problem() is not None)
    assert "nodes" in watched.connection_problem()[0]
    assert len(watched.list_nodes()) == 4  # what was last seen, meanwhile
    _until(lambda: watched.connection_problem() is None)  # backoff, then the watch is back
    emu.add(k.node("node-5"))
    _until(lambda: "node-5" in [n.name for n in watched.list_nodes()])


def test_rollouts_and_their_autoscalers_are_read_from_the_cache_while_the_server_is_unreachable(watched, emu):
    labels = {"app": "ranker", "mlops-console.io/model": "ranker", "mlops-console.io/model-version": "3"}
    emu.add(k.deployment("ranker", "jobs", labels=labels, replicas=3), _hpa("ranker", "jobs"))
    _until(lambda: [(d.autoscaler or {}).get("max") for d in watched.list_deployments()] == [10])
    for resource in ("deployments", "horizontalpodautoscalers"):
        emu.fail("*", resource, status=503, times=None)
    emu.drop_watches()
    _until(lambda: watched.connection_problem() is not None)
    asked = len(emu.requests())
    (d,) = watched.list_deployments()  # what was last seen, nothing asked of the server
    assert (d.name, d.autoscaler["max"]) == ("ranker", 10) and len(emu.requests()) == asked


def test_a_list_the_credentials_may_not_make_of_autoscalers_or_events_leaves_the_cache_current(emu, tmp_path):
    from core.backends.kube.cluster import KubeCluster
    from core.backends.kube.connection import Target, connect

    labels = {"app": "ranker", "mlops-console.io/model": "ranker", "mlops-console.io/model-version": "3"}
    emu.add(k.deployment("ranker", "jobs", labels=labels), _hpa("ranker", "jobs"))
    for resource in ("horizontalpodautoscalers", "events"):
        emu.fail("list", resource, status=403, times=None)
    config = emu.kubeconfig(tmp_path / "kubeconfig", context="emu", namespace="jobs")
    cluster = KubeCluster(connect(Target(str(config))), watch=True)
    try:
        _until(lambda: all(i.synced.is_set() or i.refused for i in cluster.informers.values()))
        assert sorted(i.name for i in cluster.informers.values() if i.refused) == ["autoscalers", "events"]
        assert cluster.connection_problem() is None  # no banner for what the role may not read
        assert [(d.name, d.autoscaler) for d in cluster.list_deployments()] == [("ranker", None)]
    finally:
        cluster.close()


def test_scaling_a_model_deployment_is_audited_and_rolled_back(kube, emu):
    emu.add(
        k.deployment(
            "ranker",
            "jobs",
            labels={"app": "ranker", "mlops-console.io/model": "ranker", "mlops-console.io/model-version": "3"},
            replicas=2,
        )
    )
    assert json.loads(kube("rollouts", "scale", "ranker", "5", "-o", "json").out)["replicas"] == 5
    assert kubectl_json(emu, "get", "deployment", "ranker", "-n", "jobs")["spec"]["replicas"] == 5
    (scaled,) = [
        e
        for e in json.loads(kube("audit", "list", "-o", "json").out)
        if e["verb"] == "scale" and e["stage"] == "ResponseComplete"
    ]
    assert scaled["annotations"]["replicas"] == 5
    kube("audit", "rollback", scaled["audit_id"])
    assert kubectl_json(emu, "get", "deployment", "ranker", "-n", "jobs")["spec"]["replicas"] == 2


def test_a_conflict_on_a_patch_is_reported_and_the_flow_controls_429_is_waited_out(kube, emu):
    emu.fail("patch", "v1/nodes", "node-1", status=409, times=None, message="the object has been modified")
    r = kube("nodes", "cordon", "node-1", ok=False)
    assert r.rc == 1 and "conflict" in r.err and "the object has been modified" in r.err
    assert not kubectl_json(emu, "get", "node", "node-1")["spec"].get("unschedulable")
    emu.clear_faults()
    emu.fail("list", "v1/nodes", status=429, times=2, retry_after=1)
    assert len(json.loads(kube("nodes", "list", "-o", "json").out)) == 3


def test_a_server_too_slow_for_the_timeout_is_retried_and_a_retry_it_created_late_is_not_made_twice(emu, tmp_path):
    from core.backends.kube.api import Api
    from core.backends.kube.cluster import KubeCluster
    from core.backends.kube.connection import Target, connect

    _failed_job(emu)
    conn = connect(Target(str(emu.kubeconfig(tmp_path / "kc", context="emu", namespace="jobs"))))
    cluster = KubeCluster(conn, api=Api(conn, timeout=0.5, sleep=lambda s: None))
    emu.stall("list", "v1/nodes", seconds=2, times=2)
    assert len(cluster.list_nodes()) == 3  # two reads timed out, the third answered
    # the create times out while the server still makes the Job: the client's retry and the late original
    # carry the same name (the idempotency key), so whichever lands second is refused — one Job, not two
    emu.stall("create", "batch/v1/jobs", seconds=2, times=1)
    retry = cluster.submit_retry("train-ranker-x1", {"limits.memory": "24Gi"})
    assert retry.run_id == "train-ranker-x1-2"
    jobs = [n for (_, _, n) in emu.objects("batch/v1/jobs")]
    assert sorted(jobs) == ["train-ranker-x1", "train-ranker-x1-2"]
    creates = [s for s in emu.requests("POST") if s.path.endswith("/jobs")]
    assert len(creates) == 2  # the one that timed out, and its retry


def test_a_retry_waits_at_least_what_the_servers_retry_after_asks(emu, tmp_path):
    from core.backends.kube.api import Api
    from core.backends.kube.connection import Target, connect

    slept: list[float] = []
    api = Api(connect(Target(str(emu.kubeconfig(tmp_path / "kc")))), sleep=slept.append)
    emu.fail("list", "v1/nodes", status=429, times=1, retry_after=3)
    assert len(list(api.items("/api/v1/nodes"))) == 3
    assert slept and slept[0] >= 3  # not just the jittered backoff (at most 0.4 s for a first retry)


def _hpa(deployment: str, namespace: str) -> dict:
    """A HorizontalPodAutoscaler of a Deployment: 2..10 replicas at 70 % CPU, now 3 and wanting 4."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": deployment, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment},
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
        },
        "status": {"currentReplicas": 3, "desiredReplicas": 4},
    }


def test_a_deployments_autoscaler_is_shown_and_one_missing_is_a_dash(kube, emu):
    labels = {"app": "ranker", "mlops-console.io/model": "ranker", "mlops-console.io/model-version": "3"}
    emu.add(
        k.deployment("ranker", "jobs", labels=labels, replicas=3),
        k.deployment("embedder", "jobs", labels={**labels, "app": "embedder", "mlops-console.io/model": "embedder"}),
        _hpa("ranker", "jobs"),
    )
    rows = {d["name"]: d for d in json.loads(kube("rollouts", "list", "-o", "json").out)}
    assert rows["ranker"]["autoscaler"] == {
        "name": "ranker",
        "min": 2,
        "max": 10,
        "current": 3,
        "desired": 4,
        "targets": ["cpu 70%"],
    }
    assert rows["embedder"]["autoscaler"] is None
    scaled = json.loads(kube("rollouts", "scale", "ranker", "12", "-o", "json").out)
    assert scaled["replicas"] == 12 and "between 2 and 10 replicas: it will scale it back" in scaled["warning"]
    assert "warning" not in json.loads(kube("rollouts", "scale", "embedder", "12", "-o", "json").out)


def test_pods_of_the_namespace_and_a_node_with_all_its_pods_are_listed(kube, emu):
    emu.add(
        k.pod("web-1", "jobs", "node-1", owner_kind="ReplicaSet", owner_name="web-abc"),
        k.pod("api-1", "serving", "node-1", owner_kind="ReplicaSet", owner_name="api-x"),
        k.pod("fluent-x", "kube-system", "node-3", daemonset=True),
    )
    assert [p["name"] for p in json.loads(kube("pods", "list", "-o", "json").out)] == ["web-1"]  # ns jobs
    assert {p["name"] for p in json.loads(kube("-A", "pods", "list", "-o", "json").out)} == {
        "web-1",
        "api-1",
        "fluent-x",
    }
    on_node = json.loads(kube("pods", "list", "--node", "node-1", "-o", "json").out)
    assert {(p["namespace"], p["name"], p["owner"]) for p in on_node} == {
        ("jobs", "web-1", "ReplicaSet/web-abc"),
        ("serving", "api-1", "ReplicaSet/api-x"),
    }
    shown = kube("nodes", "show", "node-2").out
    assert "ready: false" in shown and "NotReady" in shown


def test_gpu_requests_are_set_against_allocatable_gpus_per_node_and_pool(kube, emu, tmp_path):
    emu.add(
        k.pod("train-1", "jobs", "node-1", owner_kind="Job", owner_name="train", gpus=2),
        k.pod("train-2", "jobs", "node-1", owner_kind="Job", owner_name="train2", gpus=1),
        k.pod("done-1", "jobs", "node-1", owner_kind="Job", owner_name="old", gpus=1, phase="Succeeded"),
    )
    rows = {n["name"]: n for n in json.loads(kube("nodes", "list", "-o", "json").out)}
    assert (rows["node-1"]["gpus_used"], rows["node-1"]["gpus"]) == (3, 4)  # a finished pod holds none
    from console.engine import Engine
    from console.settings import load

    summary = Engine(load({"home": str(tmp_path / "home"), "kubeconfig": str(tmp_path / "kubeconfig")})).summary()
    assert summary.pools["gpu-a100"]["gpus_used"] == 3 and summary.pools["gpu-a100"]["gpus"] == 4
    assert "gpus_used" not in Engine(load({"home": str(tmp_path / "demo"), "demo": True})).summary().pools["gpu-a100"]


def test_a_node_change_reads_that_nodes_pods_only(kube, emu):
    """Cordoning a node reads it, and its pods by a field selector, before and after: never every pod of the
    cluster (at 100,000 pods, each read of them all takes seconds)."""
    emu.add(k.pod("web-1", "jobs", "node-1"), k.pod("other", "jobs", "node-3"))
    emu.clear_requests()
    kube("nodes", "cordon", "node-1")
    pod_lists = [s for s in emu.requests("GET", "/api/v1/pods")]
    assert pod_lists and all(s.query.get("fieldSelector") == "spec.nodeName=node-1" for s in pod_lists)


# -- KServe --------------------------------------------------------------------------------------------
def _isvc(emu, name: str) -> dict:
    return kubectl_json(emu, "get", "inferenceservice", name, "-n", "jobs")


def test_on_kserve_a_canary_is_the_inference_services_traffic_percent(tmp_path):
    with KubeEmulator(kserve=True) as emu:
        emu.add(
            k.namespace("jobs"),
            k.node("node-1"),
            k.inference_service(
                "ranker",
                "jobs",
                "gs://models/ranker/3",
                labels={"mlops-console.io/model": "ranker", "mlops-console.io/model-version": "3"},
                min_replicas=2,
            ),
        )
        config = emu.kubeconfig(tmp_path / "kubeconfig", context="emu", namespace="jobs")
        cli = Cli(tmp_path / "cli")

        def kube(*args: str) -> str:
            r = cli("--home", str(tmp_path / "home"), "--kubeconfig", str(config), *args)
            assert r.rc == 0 and "Traceback" not in r.err, r.err
            return r.out

        (row,) = json.loads(kube("rollouts", "list", "-o", "json"))
        assert (row["name"], row["model"], row["replicas"], row["status"]) == ("ranker", "ranker", 2, "Healthy")
        _register_next_version(tmp_path / "home", config, "ranker")
        kube("rollouts", "start", "ranker", "ranker", "4", "--steps", "25,100")
        predictor = _isvc(emu, "ranker")["spec"]["predictor"]
        assert predictor["canaryTrafficPercent"] == 25
        new_uri = predictor["model"]["storageUri"]
        assert new_uri != "gs://models/ranker/3" and new_uri.endswith("ranker:4")
        assert predictor["model"]["modelFormat"] == {"name": "sklearn"}  # the rest of the predictor is kept
        assert not [r for r in emu.requests() if "/apps/" in r.path and r.method != "GET"]  # no Deployment made

        kube("rollouts", "promote", "ranker")
        isvc = _isvc(emu, "ranker")
        assert "canaryTrafficPercent" not in isvc["spec"]["predictor"]  # the new revision takes all traffic
        assert isvc["spec"]["predictor"]["model"]["storageUri"] == new_uri
        assert isvc["metadata"]["labels"]["mlops-console.io/model-version"] == "4"

        kube("rollouts", "rollback", "ranker")
        assert _isvc(emu, "ranker")["spec"]["predictor"]["model"]["storageUri"] == "gs://models/ranker/3"

        kube("rollouts", "start", "ranker", "ranker", "4", "--steps", "10,100")
        assert _isvc(emu, "ranker")["spec"]["predictor"]["canaryTrafficPercent"] == 10
        kube("rollouts", "abort", "ranker")
        predictor = _isvc(emu, "ranker")["spec"]["predictor"]
        assert predictor["model"]["storageUri"] == "gs://models/ranker/3" and "canaryTrafficPercent" not in predictor

        kube("rollouts", "scale", "ranker", "5")
        assert _isvc(emu, "ranker")["spec"]["predictor"]["minReplicas"] == 5
        assert _isvc(emu, "ranker")["spec"]["predictor"]["maxReplicas"] == 5  # the ceiling follows the floor
        audit = json.loads(kube("audit", "list", "-o", "json"))
        (scaled,) = [e for e in audit if e["verb"] == "scale" and e["stage"] == "ResponseComplete"]
        kube("audit", "rollback", scaled["audit_id"])
        predictor = _isvc(emu, "ranker")["spec"]["predictor"]
        assert (predictor["minReplicas"], predictor["maxReplicas"]) == (2, 3)
        assert {"rollout-start", "promote", "rollout-undo", "abort"} <= {
            e["verb"] for e in audit if e["stage"] == "ResponseComplete"
        }
        assert ("serving.kserve.io", "inferenceservices", "patch") in _asked_allowed_by_the_roles(emu)


def test_the_tui_cache_watches_inference_services_where_kserve_is_served(tmp_path):
    from core.backends.kube.cluster import KubeCluster
    from core.backends.kube.connection import Target, connect

    with KubeEmulator(kserve=True) as emu:
        emu.add(k.namespace("jobs"), k.inference_service("ranker", "jobs"))
        config = emu.kubeconfig(tmp_path / "kubeconfig", context="emu", namespace="jobs")
        cluster = KubeCluster(connect(Target(str(config))), watch=True)
        try:
            _until(lambda: all(i.synced.is_set() or i.refused for i in cluster.informers.values()))
            assert any("inferenceservices" in path for path in cluster.informers)
            assert [(d.name, d.status) for d in cluster.list_deployments()] == [("ranker", "Healthy")]
            emu.patch(
                "serving.kserve.io/v1beta1/inferenceservices",
                "jobs",
                "ranker",
                {"status": {"conditions": [{"type": "Ready", "status": "False"}]}},
            )
            _until(lambda: [d.status for d in cluster.list_deployments()] == ["Degraded"])
        finally:
            cluster.close()
