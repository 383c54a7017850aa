"""Nothing above the Cluster protocol depends on the simulator: the engine's whole action set runs on a
second, minimal implementation written here, in memory.

`MemoryCluster` knows nothing of core/backends/sim (building a SimCluster fails the test): a handful of nodes and pods, one deployment, three jobs.
The test drives every action of the roles table (console/services/roles.py) through the Engine, and
checks what each did on this cluster and in the audit trail.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import replace

import pytest

from core.cluster import Cluster
from core.errors import BadInput, ClusterError, Conflict, NotFound, TooManyRequests
from core.types import Attempt, Job, MetricPoint, ModelDeployment, ModelVersion, Node, Pod, Pool, Revision

NOW = "2026-11-20T12:00:00Z"
OOM_LOG = (
    "INFO SparkContext: Running Spark version 3.5.1\n"
    "ERROR Executor: Exception in task 3.0 in stage 2.0 (TID 41)\n"
    "java.lang.OutOfMemoryError: Java heap space\n"
)
LOST_LOG = "ERROR TaskSchedulerImpl: Lost executor 7 on 10.0.0.9: worker lost\n"
CODE_LOG = "Traceback (most recent call last):\nZeroDivisionError: division by zero\n"
SPARK_CONF = {
    "spark.executor.memory": "4g",
    "spark.executor.cores": "4",
    "spark.executor.instances": "10",
    "spark.sql.shuffle.partitions": "200",
    "spark.driver.memory": "2g",
}


class MemoryCluster:
    """The Cluster protocol over plain dicts. Evictions move a pod to another node of the pool."""

    name = "memory:test"

    def __init__(self) -> None:
        self.pools = {"cpu": Pool("cpu", "m5.xlarge", "v1.30.6", "cfg-1", 4, 16, 0)}
        self.nodes = {
            f"n{i}": Node(
                name=f"n{i}",
                pool="cpu",
                ready=True,
                unschedulable=False,
                cpu=4,
                memory_gib=16,
                gpus=0,
                pods=0,
                cpu_used=0.0,
                memory_used_gib=0.0,
                kubelet_version="v1.30.6",
                config_version="cfg-1",
                zone="z1",
                created_at="2026-11-01T00:00:00Z",
                labels={"pool": "cpu"},
                taints=[],
                conditions={"Ready": "True"},
            )
            for i in range(3)
        }
        self.pods = {
            ("ml", "scorer-a"): Pod("scorer-a", "ml", "n0", "Running", "Deployment/scorer", 1.0, 2.0, 0),
            ("ml", "scorer-b"): Pod("scorer-b", "ml", "n1", "Running", "Deployment/scorer", 1.0, 2.0, 0),
        }
        self.deps = {
            "scorer": ModelDeployment(
                "scorer", "ml", "fraud", 2, 2, "Healthy", 1, [Revision(1, "fraud", 1, "img:1", NOW, 100, "active")]
            )
        }
        self.attempts: dict[str, Attempt] = {}
        for run, job, log, reason in (
            ("r-oom", "etl-sales", OOM_LOG, "Error"),
            ("r-lost", "etl-clicks", LOST_LOG, "Error"),
            ("r-code", "etl-code", CODE_LOG, "Error"),
        ):
            self.attempts[run] = Attempt(
                job_id=job,
                run_id=run,
                attempt=1,
                submitted_at="2026-11-20T11:00:00Z",
                kind="spark",
                input_bytes=50 * 2**30,
                conf=dict(SPARK_CONF),
                status="failed",
                runtime_seconds=600.0,
                cost=2.0,
                log_tail=log,
                node="n2",
                exit_code=1,
                reason=reason,
            )
        self.submitted: list[tuple[str, dict]] = []

    # -- pools and nodes
    def generation(self) -> str:
        return repr(vars(self))  # the whole state: small here, and never wrong

    def list_pools(self) -> list[Pool]:
        return list(self.pools.values())

    def set_pool_desired_config(self, pool: str, version: str) -> None:
        self.pools[pool] = replace(self.pools[pool], desired_config=version)

    def list_nodes(self, pool: str | None = None) -> list[Node]:
        return [self._with_pods(n) for n in self.nodes.values() if pool in (None, n.pool)]

    def iter_nodes(self, pool: str | None = None, page_size: int = 1000) -> Iterator[Node]:
        yield from self.list_nodes(pool)

    def get_node(self, name: str) -> Node:
        if name not in self.nodes:
            raise NotFound(f"no node named {name!r}")
        return self._with_pods(self.nodes[name])

    def _with_pods(self, n: Node) -> Node:
        return replace(n, pods=sum(p.node == n.name for p in self.pods.values()))

    def patch_node(self, name: str, *, unschedulable=None, labels=None, taints=None, config_version=None) -> None:
        n = self.get_node(name)
        changes = {
            k: v
            for k, v in (
                ("unschedulable", unschedulable),
                ("labels", labels),
                ("taints", taints),
                ("config_version", config_version),
            )
            if v is not None
        }
        self.nodes[name] = replace(n, **copy.deepcopy(changes))

    def apply_node_config(self, name: str, version: str) -> None:
        self.patch_node(name, config_version=version)

    # -- pods
    def list_pods(self, node: str | None = None) -> list[Pod]:
        return [p for p in self.pods.values() if node in (None, p.node)]

    def evict(self, namespace: str, pod: str, grace_seconds: int = 30) -> None:
        p = self.pods.get((namespace, pod))
        if p is None:
            raise NotFound(f"no pod {namespace}/{pod}")
        target = next((n for n in self.nodes.values() if not n.unschedulable and n.name != p.node), None)
        if target is None:
            raise TooManyRequests("no node to move it to")
        self.pods[(namespace, pod)] = replace(p, node=target.name)

    # -- deployments
    def list_deployments(self) -> list[ModelDeployment]:
        return copy.deepcopy(list(self.deps.values()))

    def get_deployment(self, name: str) -> ModelDeployment:
        if name not in self.deps:
            raise NotFound(f"no deployment named {name!r}")
        return copy.deepcopy(self.deps[name])

    def deployment_metrics(self, name: str, minutes: int = 60, revision: int | None = None) -> list[MetricPoint]:
        return [
            MetricPoint(
                ts=NOW,
                request_rate=10.0,
                p50_ms=5.0,
                p95_ms=9.0,
                p99_ms=12.0,
                error_rate=0.001,
                score_mean=0.4,
                score_hist=[1] * 10,
            )
            for _ in range(max(1, minutes))
        ]

    def add_revision(self, deployment: str, number: int, model: str, model_version: int, image: str) -> None:
        d = self.deps[deployment]
        if any(r.number == number for r in d.revisions):
            raise Conflict(f"revision {number} exists")
        d.revisions.append(Revision(number, model, model_version, image, NOW, 0, "canary"))
        d.status = "Progressing"

    def set_canary_weight(self, deployment: str, number: int, weight: int) -> None:
        for r in self.deps[deployment].revisions:
            if r.number == number:
                r.weight = weight
            elif r.status == "active":
                r.weight = 100 - weight

    def scale_deployment(self, deployment: str, replicas: int) -> None:
        d = self.deps[deployment]
        d.replicas = d.ready_replicas = replicas

    def promote_revision(self, deployment: str, number: int) -> None:
        d = self.deps[deployment]
        for r in d.revisions:
            if r.number == number:
                r.status, r.weight = "active", 100
            elif r.status == "active":
                r.status, r.weight = "retired", 0
        d.current_revision, d.status = number, "Healthy"

    def abort_revision(self, deployment: str, number: int) -> None:
        d = self.deps[deployment]
        for r in d.revisions:
            if r.number == number:
                r.status, r.weight = "aborted", 0
            elif r.status == "active":
                r.weight = 100
        d.status = "Degraded"

    def known_model_versions(self) -> list[ModelVersion]:
        return [
            ModelVersion(
                "fraud",
                v,
                "production" if v == 1 else "staging",
                NOW,
                "xgboost",
                f"{v:064d}",
                metrics={"score_mean": 0.4},
            )
            for v in (1, 2)
        ]

    # -- jobs
    def list_jobs(self) -> list[Job]:
        jobs = sorted({a.job_id for a in self.attempts.values()})
        return [Job(j, "spark", "team", "daily", "failed", "-", "-", 1, 1) for j in jobs]

    def list_attempts(self, *, failed=None, job_id=None, since=None, limit=None) -> list[Attempt]:
        out = [
            a
            for a in self.attempts.values()
            if (failed is None or (a.status == "failed") == failed)
            and job_id in (None, a.job_id)
            and (since is None or a.submitted_at >= since)
        ]
        out.sort(key=lambda a: (a.submitted_at, a.run_id), reverse=True)
        return out[:limit] if limit else out

    def iter_attempts(self, *, failed=None, job_id=None, since=None, limit=None, page_size=1000) -> Iterator[Attempt]:
        yield from self.list_attempts(failed=failed, job_id=job_id, since=since, limit=limit)

    def iter_attempt_records(self, *, failed=None, job_id=None, since=None, limit=None, page_size=1000):
        for a in self.iter_attempts(failed=failed, job_id=job_id, since=since, limit=limit):
            yield a.to_record()

    def get_attempt(self, run_id: str) -> Attempt:
        if run_id not in self.attempts:
            raise NotFound(f"no job attempt with run_id {run_id!r}")
        return self.attempts[run_id]

    def attempt_log(self, run_id: str) -> str:
        return self.get_attempt(run_id).log_tail or ""

    def attempt_log_tail(self, run_id: str, lines: int, max_bytes: int) -> str:
        return "\n".join(self.attempt_log(run_id).splitlines()[-lines:])[-max_bytes:]

    def attempt_events(self, run_id: str) -> list[str]:
        return [f"Warning BackoffLimitExceeded job/{self.get_attempt(run_id).job_id}"]

    def faults(self):
        return {}

    def inject_faults(self, deployment, faults):
        raise BadInput("a memory cluster takes no injected faults")

    def training_jobs(self) -> None:
        return None  # trainings run in the test's process

    def submit_retry(self, run_id: str, conf: dict[str, str]) -> Attempt:
        a = self.get_attempt(run_id)
        if a.status != "failed":
            raise Conflict(f"attempt {run_id} did not fail")
        retry = replace(
            a,
            run_id=f"{run_id}-2",
            attempt=2,
            conf=dict(conf),
            status="succeeded",
            log_tail=None,
            submitted_at="2026-11-20T11:30:00Z",
        )
        self.attempts[retry.run_id] = retry
        self.submitted.append((run_id, dict(conf)))
        return retry

    # -- snapshots
    def snapshot(self, resource: str, name: str, namespace: str | None = None):
        if resource == "node":
            n = self.nodes.get(name)
            return (
                None
                if n is None
                else {
                    "unschedulable": n.unschedulable,
                    "labels": dict(n.labels),
                    "taints": copy.deepcopy(n.taints),
                    "config_version": n.config_version,
                }
            )
        if resource == "pod":
            p = self.pods.get((namespace, name))
            return None if p is None else {"node": p.node}
        if resource == "deployment":
            d = self.deps.get(name)
            return (
                None
                if d is None
                else json.loads(
                    json.dumps(
                        {
                            "status": d.status,
                            "current_revision": d.current_revision,
                            "replicas": d.replicas,
                            "revisions": [r.__dict__ for r in d.revisions],
                        }
                    )
                )
            )
        if resource == "pool":
            return {"desired_config": self.pools[name].desired_config}
        raise ClusterError(f"no snapshots of {resource}")

    def restore(self, resource: str, name: str, snap, namespace: str | None = None) -> None:
        if resource == "node":
            self.nodes[name] = replace(self.nodes[name], **copy.deepcopy(snap))
        elif resource == "pod":
            self.pods[(namespace, name)] = replace(self.pods[(namespace, name)], **snap)
        elif resource == "deployment":
            d = self.deps[name]
            d.status, d.current_revision, d.replicas = snap["status"], snap["current_revision"], snap["replicas"]
            d.ready_replicas = d.replicas
            d.revisions = [Revision(**r) for r in snap["revisions"]]
        elif resource == "pool":
            self.set_pool_desired_config(name, snap["desired_config"])


@pytest.fixture
def engine(tmp_path, clean_env, monkeypatch):
    from console.engine import Engine
    from console.settings import load

    monkeypatch.setenv("MLOPS_CONSOLE_NOW", NOW)
    cluster = MemoryCluster()
    assert isinstance(cluster, Cluster)

    def no_simulator(*args, **kw):
        raise AssertionError("the simulator was asked for")

    import console.backend
    from core.backends.sim import cluster as sim

    monkeypatch.setattr(console.backend, "open_cluster", no_simulator)
    monkeypatch.setattr(sim.SimCluster, "__init__", no_simulator)
    e = Engine(load({"home": str(tmp_path / "home")}), cluster=cluster)
    done: set[str] = set()
    require = e._w.require
    monkeypatch.setattr(e._w, "require", lambda action: (done.add(action), require(action))[1])
    e.cluster_under_test, e.actions_done = cluster, done
    return e


def test_the_engines_whole_action_set_runs_on_a_cluster_that_is_not_the_simulator(engine, tmp_path):
    c: MemoryCluster = engine.cluster_under_test
    assert engine.backend_name == "memory:test"
    assert {(m.model, m.version) for m in engine.models()} == {("fraud", 1), ("fraud", 2)}  # adopted

    # reading
    s = engine.summary()
    assert (s.nodes_total, s.deployments, s.failed_24h, s.backend) == (3, 1, 3, "memory:test")
    assert engine.node_details("n0")["pods"] == ["ml/scorer-a (Deployment/scorer, Running)"]
    records = {r["run_id"]: r for r in engine.attempt_records(failed=True)}
    assert list(engine.iter_attempt_records(failed=True)) == list(records.values())
    assert [n.name for n in engine.iter_nodes()] == [n.name for n in engine.nodes()]
    assert records["r-oom"]["category"] == "memory_exceeded" and records["r-code"]["action"] == "no_retry"
    assert engine.attempt_details("r-lost")["events"] == ["Warning BackoffLimitExceeded job/etl-clicks"]

    # nodes: cordon, uncordon, label, taint, drain, a pool's node config
    assert engine.cordon(["n0"]) == ["n0"] and c.nodes["n0"].unschedulable
    assert engine.cordon(["n0"], on=False) == ["n0"] and not c.nodes["n0"].unschedulable
    engine.label_words("n1", ["team=ml"])
    engine.taint_words("n1", ["gpu=yes:NoSchedule"])
    assert c.nodes["n1"].labels["team"] == "ml" and c.nodes["n1"].taints[0]["key"] == "gpu"
    drained = engine.drain(["n0"], engine.drain_options({}))
    assert drained[0]["evicted"] == ["ml/scorer-a"] and c.pods[("ml", "scorer-a")].node != "n0"
    op = engine.apply_config("cpu", "cfg-2", max_unavailable=1)
    assert op["state"] == "done" and {n.config_version for n in c.nodes.values()} == {"cfg-2"}
    assert c.pools["cpu"].desired_config == "cfg-2" and engine.drift() == []

    # rollouts and the operations behind them
    op = engine.rollout_start(
        "scorer",
        "fraud",
        2,
        [50, 100],
        None,
        {"window_minutes": 5, "failure_limit": 1, "max_error_rate": None, "max_p99_ms": None},
    )
    assert op["state"] == "paused" and c.deps["scorer"].revisions[-1].weight == 50
    done = engine.rollout_promote("scorer")
    assert done["state"] == "done" and c.deps["scorer"].current_revision == 2
    undo = engine.rollout_rollback("scorer")
    assert undo["serves"] == "fraud:1" and c.deps["scorer"].current_revision == 3
    replicas = c.deps["scorer"].replicas
    assert engine.scale("scorer", replicas + 2)["replicas"] == replicas + 2
    (scaled,) = [e for e in engine.audit_events() if e.verb == "scale" and e.stage == "ResponseComplete"]
    engine.audit_rollback(scaled.audit_id)
    assert c.deps["scorer"].replicas == replicas  # rolled back like any change
    op = engine.rollout_start(
        "scorer",
        "fraud",
        2,
        [50, 100],
        None,
        {"window_minutes": 5, "failure_limit": 1, "max_error_rate": None, "max_p99_ms": None},
    )
    assert engine.rollout_abort("scorer")["state"] == "aborted" and c.deps["scorer"].status == "Degraded"
    op = engine.rollout_start(
        "scorer",
        "fraud",
        2,
        [50, 100],
        None,
        {"window_minutes": 5, "failure_limit": 1, "max_error_rate": None, "max_p99_ms": None},
    )
    engine._w.ops.save(engine._w.ops.get(op["id"]), state="running")  # as while a step is under way
    assert engine.op_pause(op["id"])["state"] == "paused"
    assert engine.op_resume(op["id"])["state"] == "paused"  # the manual pause at 50 % again
    assert engine.op_rollback(op["id"])["state"] == "rolled_back"
    pool_op = engine.apply_config("cpu", "cfg-3", max_unavailable=1)
    engine._w.ops.save(engine._w.ops.get(pool_op["id"]), state="failed")
    assert engine.op_resume(pool_op["id"])["state"] == "done"

    # triage: a rule from the unclassified, saved to the user's file
    c.attempts["r-odd"] = replace(
        c.attempts["r-code"],
        run_id="r-odd",
        job_id="etl-odd",
        log_tail="FATAL frobnicator: flux capacitor overheated\n",
    )
    sig = next(g for g in engine.signatures() if "flux" in g["signature"])
    rule = engine.draft_rule(sig["signature"], rule_id="user-flux", category="user_code_error")
    assert engine.preview_rule(rule)["matches"] == 1
    engine.add_rule(rule)
    assert engine.attempt_records(job_id="etl-odd")[0]["rule_id"] == "user-flux"

    # the recommender and the approval queue
    history = tmp_path / "h.jsonl"
    history.write_text("".join(json.dumps(r) + "\n" for r in engine.world_history(5, 25, 12)))
    assert engine.import_history(str(history))["imported"] > 0
    assert engine.train_recommender(str(history))["version"] == 1
    report = engine.autofix_reconcile()
    assert report["queued"] >= 2 and report["waiting_for_model"] == 0
    queued = {s.run_id: s for s in engine.autofix_queue()}
    oom, lost = queued["r-oom"], queued["r-lost"]
    assert oom.model == "retry-recommender:1" and oom.action in ("retry_with_conf", "no_retry")
    edited = engine.edit_suggestion(oom.id, ["spark.executor.memory=12g"])
    assert edited.conf["spark.executor.memory"] == "12g"
    engine.approve(oom.id)
    assert c.submitted[-1] == ("r-oom", {**SPARK_CONF, **edited.conf})
    engine.reject(lost.id, "the node came back")
    assert engine.suggestion(lost.id).status == "rejected"

    # the model lifecycle: a training, its alias through the gate, a compressed child, an alias forced
    trained = engine.model_train("cancer-mlp", params={"epochs": "2"})
    assert engine.model_alias("cancer-mlp", "production", str(trained["version"]))["gate"]["passed"]
    child = engine.model_compress("cancer-mlp", "production", quantize="int8")
    assert engine.model_alias("cancer-mlp", "canary", str(child["version"]), force=True)["version"] == child["version"]

    # monitoring on a cluster that is not the simulator: no faults to inject, no recipe for its model, no
    # Alertmanager configured, hence no alert to silence
    with pytest.raises(BadInput, match="no injected faults"):
        engine.inject_faults("scorer", {"errors": 0.5})
    with pytest.raises(BadInput, match="no training recipe"):
        engine.model_retrain("scorer")
    with pytest.raises(NotFound, match="no firing alert"):
        engine.silence_alert("ModelErrorRateHigh")
    # a version trained elsewhere has no training reference: its drift is not measured against a made-up one
    assert engine.model_drift("scorer")[0]["level"] == "no reference"

    # audit: every change above is in the chain, which verifies, and a node change rolls back
    events = engine.audit_events()
    assert list(engine.iter_audit_events()) == events
    assert engine.audit_verify().ok and all(e.user == engine.actor for e in events if not e.user.startswith("policy:"))
    with pytest.raises(Conflict):  # n1's label change was made before its config changed: refused
        engine.audit_rollback(str(next(e for e in events if e.verb == "label" and e.stage == "ResponseComplete").seq))
    engine.label_words("n2", ["owner=sre"])
    label = engine.audit_events(limit=1)[0]
    engine.audit_rollback(str(label.seq))
    assert "owner" not in c.nodes["n2"].labels and engine.audit_verify().ok

    # every action of the roles table was asked for, and none was left out
    missing = set(engine.actions()) - engine.actions_done
    assert not missing, f"actions never run against the memory cluster: {sorted(missing)}"
