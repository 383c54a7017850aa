"""KubeCluster: the Cluster protocol on a real Kubernetes cluster (the second implementation; see
core/cluster.py). Nodes, pools (from the clouds' node-group labels), pods, evictions, batch/v1 Jobs and
the Spark Operator's SparkApplications as job attempts, their logs and events, retries re-created with
the approved config. What it reads and writes on the cluster is in docs/kubernetes.md."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Iterator
from typing import Any

from core.backends.kube import jobs
from core.backends.kube import mapping as m
from core.backends.kube.api import Api, ns_path
from core.backends.kube.cache import Informer, trim_event, trim_node, trim_pod, trim_whole
from core.backends.kube.connection import Connection
from core.backends.kube.deployments import APPS, AUTOSCALING, Deployments
from core.backends.kube.inference import KSERVE, InferenceServices
from core.cluster import PAGE_SIZE
from core.errors import BadInput, ClusterError, Conflict, NotFound
from core.types import Attempt, Job, MetricPoint, ModelDeployment, ModelVersion, Node, Pod, Pool, run_of

SPARK = "/apis/sparkoperator.k8s.io/v1beta2"
BATCH = "/apis/batch/v1"
CORE = "/api/v1"


class KubeCluster:
    def __init__(self, conn: Connection, node_pool_label: str = "", api: Api | None = None, watch: bool = False):
        """`watch`: keep a watch-based cache of what the views read (the TUI); else every read lists."""
        self.conn = conn
        self.api = api or Api(conn)
        self.pool_label = node_pool_label
        self.name = conn.label
        self._served: dict[str, bool] = {}  # API group path -> whether the cluster serves it (asked once)
        self.informers: dict[str, Informer] = {}
        self.deployments = Deployments(self.api, self.namespace, self._list)
        self.inference = InferenceServices(self.api, self.namespace, self._list)
        if watch:
            self._watch()

    def _watch(self) -> None:
        kinds = [
            (f"{CORE}/nodes", trim_node, "nodes"),
            (f"{CORE}/pods", trim_pod, "pods"),  # all of them: a node's use counts every namespace's
            (ns_path(BATCH, "jobs", self.namespace), trim_whole, "jobs"),
            (ns_path(APPS, "deployments", self.namespace), trim_whole, "deployments"),
        ]
        optional = [  # the views do without them where the credentials may not list them
            (ns_path(CORE, "events", self.namespace), trim_event, "events"),  # what a failure's triage reads
            (ns_path(AUTOSCALING, "horizontalpodautoscalers", self.namespace), trim_whole, "autoscalers"),
        ]
        if self._serves(SPARK):
            kinds.append((ns_path(SPARK, "sparkapplications", self.namespace), trim_whole, "sparkapplications"))
        if self._serves(KSERVE):
            kinds.append((ns_path(KSERVE, "inferenceservices", self.namespace), trim_whole, "inferenceservices"))
        for path, trim, name in kinds:
            self.informers[path] = Informer(self.api, path, trim, name).start()
        for path, trim, name in optional:
            self.informers[path] = Informer(self.api, path, trim, name, optional=True).start()

    def close(self) -> None:
        for informer in self.informers.values():
            informer.stop()

    def _list(self, path: str) -> list[dict[str, Any]]:
        """The objects at `path`: the cache's once it has listed them, else read now."""
        informer = self.informers.get(path)
        if informer is not None and informer.refused is not None:
            raise informer.refused  # (asked once: the server's answer stands for the session)
        if informer is not None and informer.synced.is_set():
            return informer.values()
        return list(self.api.items(path))

    def _pods(self, namespace: str | None) -> Iterator[dict[str, Any]]:
        """The pods (of a namespace), trimmed to what is read: from the cache, else a page at a time."""
        informer = self.informers.get(f"{CORE}/pods")
        if informer is not None and informer.synced.is_set():
            pods = informer.values()
            yield from (pods if namespace is None else (p for p in pods if p["metadata"].get("namespace") == namespace))
            return
        for p in self.api.items(ns_path(CORE, "pods", namespace)):
            yield trim_pod(p)

    def generation(self) -> Hashable:
        if self.informers:  # what the cache holds changes only with an event (or a problem come or gone)
            return tuple(i.changes for i in self.informers.values())
        return time.monotonic_ns()  # every read lists: no two are promised equal

    def connection_problem(self) -> tuple[str, float] | None:
        """(why, since when) the cache is not current; None when it is (or there is no cache)."""
        for i in self.informers.values():
            if i.problem and i.since is not None:
                return i.problem, i.since
        return None

    @property
    def namespace(self) -> str | None:
        """The namespace reads are scoped to; None: all of them."""
        return None if self.conn.all_namespaces else self.conn.namespace

    # -- nodes and pools -------------------------------------------------------------------------------
    def _pods_on(self, node: str) -> Iterator[dict[str, Any]]:
        """A node's pods, of every namespace: the cache's, else the server's by field selector (and checked
        here too: a server that ignores the selector still gets the right answer)."""
        if self.informers:
            source: Iterable[dict[str, Any]] = self._pods(None)
        else:
            source = (trim_pod(p) for p in self.api.items(f"{CORE}/pods", fieldSelector=f"spec.nodeName={node}"))
        return (p for p in source if (p.get("spec") or {}).get("nodeName") == node)

    def _usage(self, pods: Iterable[dict[str, Any]]) -> dict[str, dict[str, float]]:
        """What the pods still running request, by node."""
        usage: dict[str, dict[str, float]] = defaultdict(lambda: {"pods": 0, "cpu": 0.0, "mem": 0.0, "gpus": 0})
        for p in pods:
            node = (p.get("spec") or {}).get("nodeName")
            if not node or (p.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            cpu, mem = m.requests(p)
            u = usage[node]
            u["pods"] += 1
            u["cpu"] += cpu
            u["mem"] += mem
            u["gpus"] += m.gpu_requests(p)
        return usage

    def list_nodes(self, pool: str | None = None) -> list[Node]:
        return list(self.iter_nodes(pool))

    def iter_nodes(self, pool: str | None = None, page_size: int = PAGE_SIZE) -> Iterator[Node]:
        usage = self._usage(self._pods(None))
        informer = self.informers.get(f"{CORE}/nodes")
        pages = (
            [informer.values()]
            if informer is not None and informer.synced.is_set()
            else self.api.pages(f"{CORE}/nodes", limit=page_size)
        )
        for page in pages:
            nodes = sorted(
                (m.node(o, usage.get(o["metadata"]["name"]), self.pool_label) for o in page), key=lambda n: n.name
            )
            yield from (n for n in nodes if pool is None or n.pool == pool)

    def get_node(self, name: str) -> Node:
        obj = self.api.get(f"{CORE}/nodes/{name}")  # fresh: a change is made against it
        return m.node(obj, self._usage(self._pods_on(name)).get(name), self.pool_label)

    def list_pools(self) -> list[Pool]:
        by_pool: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for o in self._list(f"{CORE}/nodes"):
            by_pool[m.pool_of((o.get("metadata") or {}).get("labels") or {}, self.pool_label)].append(o)
        pools = []
        for name, objs in sorted(by_pool.items()):
            first = m.node(objs[0], None, self.pool_label)
            desired = Counter(((o["metadata"].get("annotations") or {}).get(m.DESIRED_CONFIG, "-")) for o in objs)
            kubelets = sorted({(o.get("status") or {}).get("nodeInfo", {}).get("kubeletVersion", "") for o in objs})
            pools.append(
                Pool(
                    name=name,
                    instance_type=first.labels.get("node.kubernetes.io/instance-type", "-"),
                    desired_kubelet=kubelets[-1] if kubelets else "",
                    desired_config=desired.most_common(1)[0][0],
                    cpu=first.cpu,
                    memory_gib=first.memory_gib,
                    gpus=first.gpus,
                )
            )
        return pools

    def set_pool_desired_config(self, pool: str, version: str) -> None:
        """The pool's desired config lives on its nodes (an annotation the console owns): each is patched."""
        names = [n.name for n in self.iter_nodes(pool)]
        if not names:
            raise NotFound(f"no pool {pool!r} (no node carries it)")
        for name in names:
            value = None if version in ("", "-") else version  # "-": none was set (a rollback to that)
            self.api.patch(f"{CORE}/nodes/{name}", {"metadata": {"annotations": {m.DESIRED_CONFIG: value}}})

    def patch_node(
        self,
        name: str,
        *,
        unschedulable: bool | None = None,
        labels: dict[str, str] | None = None,
        taints: list[dict[str, str]] | None = None,
        config_version: str | None = None,
    ) -> None:
        body: dict[str, Any] = {}
        if unschedulable is not None:
            body.setdefault("spec", {})["unschedulable"] = unschedulable or None  # false: the field goes, as kubectl
        if labels is not None or config_version is not None:
            new = dict(labels) if labels is not None else None
            current = self.api.get(f"{CORE}/nodes/{name}")["metadata"].get("labels") or {}
            if new is None:
                new = dict(current)
            if config_version in ("", "-"):  # what a node without the label reads as: back to no label
                new.pop(m.CONFIG_LABEL, None)
            elif config_version is not None:
                new[m.CONFIG_LABEL] = config_version
            # a merge patch merges maps: the labels that go are set to null
            body.setdefault("metadata", {})["labels"] = {**{k: None for k in current if k not in new}, **new}
        if taints is not None:
            body.setdefault("spec", {})["taints"] = taints or None  # a merge patch replaces a list whole
        if body:
            self.api.patch(f"{CORE}/nodes/{name}", body)

    def apply_node_config(self, name: str, version: str) -> None:
        """Kubernetes has no node-config API: the console records the version on the node's label, for the
        node agent that applies configs (outside the console) to act on; see docs/kubernetes.md."""
        self.patch_node(name, config_version=version)

    def list_namespaces(self) -> list[str]:
        return sorted(o["metadata"]["name"] for o in self.api.items(f"{CORE}/namespaces"))

    # -- pods ------------------------------------------------------------------------------------------
    def list_pods(self, node: str | None = None) -> list[Pod]:
        """A node's pods, of every namespace (what a drain evicts); else the namespace's (all with -A)."""
        pods = [m.pod(o) for o in (self._pods_on(node) if node else self._pods(self.namespace))]
        return sorted(pods, key=lambda p: (p.namespace, p.name))

    def evict(self, namespace: str, pod: str, grace_seconds: int = 30) -> None:
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": pod, "namespace": namespace},
            "deleteOptions": {"gracePeriodSeconds": grace_seconds},
        }
        try:
            self.api.create(ns_path(CORE, "pods", namespace, pod) + "/eviction", body)
        except NotFound:
            pass  # gone already (this eviction's retry, or its controller's doing): what an eviction wants

    # -- model deployments: Deployments (deployments.py), and KServe's InferenceServices where served ------
    def _serving(self, name: str) -> Deployments | InferenceServices:
        """Who serves the model deployment `name`: KServe, where an InferenceService has that name."""
        if self._serves(KSERVE) and name in self.inference.names():
            return self.inference
        return self.deployments

    def list_deployments(self) -> list[ModelDeployment]:
        found = self.deployments.list() + (self.inference.list() if self._serves(KSERVE) else [])
        return sorted(found, key=lambda d: (d.name, d.namespace))

    def get_deployment(self, name: str) -> ModelDeployment:
        return self._serving(name).get(name)

    def deployment_metrics(self, name: str, minutes: int = 60, revision: int | None = None) -> list[MetricPoint]:
        return []  # serving metrics come from Prometheus, not the API server

    def faults(self) -> dict[str, dict[str, float]]:
        return {}  # a real cluster's traffic is what it is

    def inject_faults(self, deployment: str, faults: dict[str, float] | None) -> None:
        raise BadInput(f"{self.name}: a real cluster takes no injected faults (they are the embedded estate's)")

    def add_revision(self, deployment: str, number: int, model: str, model_version: int, image: str) -> None:
        self._serving(deployment).add_revision(deployment, number, model, model_version, image)

    def set_canary_weight(self, deployment: str, number: int, weight: int) -> None:
        self._serving(deployment).set_weight(deployment, number, weight)

    def promote_revision(self, deployment: str, number: int) -> None:
        self._serving(deployment).promote(deployment, number)

    def abort_revision(self, deployment: str, number: int) -> None:
        self._serving(deployment).abort(deployment, number)

    def scale_deployment(self, deployment: str, replicas: int) -> None:
        self._serving(deployment).scale(deployment, replicas)

    def known_model_versions(self) -> list[ModelVersion]:
        """What the model Deployments serve, for the registry to adopt."""
        out = {}
        for d in self.list_deployments():
            for r in d.revisions:
                if r.status in ("active", "canary") and r.model:
                    out[(r.model, r.model_version)] = ModelVersion(
                        r.model,
                        r.model_version,
                        "production" if r.status == "active" else "staging",
                        r.created_at,
                        "unknown",
                        "",
                        {"image": r.image},
                    )
        return list(out.values())

    # -- jobs and their attempts -------------------------------------------------------------------------
    def _serves(self, group: str) -> bool:
        """Whether the cluster serves an API group version (a CRD's): detected, never required."""
        if group not in self._served:
            try:
                self.api.get(group)
                self._served[group] = True
            except NotFound:
                self._served[group] = False
        return self._served[group]

    def _objects(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """("job" | "spark", object) of every batch Job and SparkApplication in scope."""
        for o in self._list(ns_path(BATCH, "jobs", self.namespace)):
            yield "job", o
        if self._serves(SPARK):
            for o in self._list(ns_path(SPARK, "sparkapplications", self.namespace)):
                yield "spark", o

    def _pods_by_owner(self) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, Any]]]:
        return jobs.pods_by_owner(self._pods(self.namespace))

    def _attempt(self, kind: str, o: dict[str, Any], pods: tuple[dict[str, Any], dict[str, Any]]) -> Attempt:
        meta = o.get("metadata") or {}
        return jobs.attempt(kind, o, pods, self._run_id(meta.get("namespace", ""), meta.get("name", "")))

    def _run_id(self, namespace: str, name: str) -> str:
        return name if namespace == self.conn.namespace else f"{namespace}/{name}"

    def _locate(self, run_id: str) -> tuple[str, str]:
        ns, _, name = run_id.rpartition("/")
        return ns or self.conn.namespace, name

    def list_jobs(self) -> list[Job]:
        by_job: dict[str, list[Attempt]] = defaultdict(list)
        for a in self.list_attempts():
            by_job[a.job_id].append(a)
        jobs = []
        for job_id, attempts in sorted(by_job.items()):
            last = attempts[0]
            jobs.append(
                Job(
                    job_id,
                    last.kind,
                    str(last.extra.get("namespace", "")),
                    "-",
                    last.status,
                    last.run_id,
                    last.submitted_at,
                    len(attempts),
                    sum(a.status == "failed" for a in attempts),
                )
            )
        return jobs

    def list_attempts(
        self,
        *,
        failed: bool | None = None,
        job_id: str | None = None,
        since: str | None = None,
        limit: int | None = None,
    ) -> list[Attempt]:
        pods = self._pods_by_owner()
        out = [self._attempt(kind, o, pods) for kind, o in self._objects()]
        out = [
            a
            for a in out
            if (failed is None or (a.status == "failed") == failed)
            and job_id in (None, a.job_id)
            and (since is None or a.submitted_at >= since)
        ]
        out.sort(key=lambda a: (a.submitted_at, a.run_id), reverse=True)
        return out[:limit] if limit else out

    def iter_attempts(
        self,
        *,
        failed: bool | None = None,
        job_id: str | None = None,
        since: str | None = None,
        limit: int | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[Attempt]:
        # newest first needs every object read first: the API lists in name order
        yield from self.list_attempts(failed=failed, job_id=job_id, since=since, limit=limit)

    def iter_attempt_records(
        self,
        *,
        failed: bool | None = None,
        job_id: str | None = None,
        since: str | None = None,
        limit: int | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[dict[str, Any]]:
        for a in self.iter_attempts(failed=failed, job_id=job_id, since=since, limit=limit):
            yield a.to_record()

    def _object(self, run_id: str) -> tuple[str, dict[str, Any]]:
        ns, name = self._locate(run_id)
        try:
            return "job", self.api.get(ns_path(BATCH, "jobs", ns, name))
        except NotFound:
            if self._serves(SPARK):
                try:
                    return "spark", self.api.get(ns_path(SPARK, "sparkapplications", ns, name))
                except NotFound:
                    pass
        raise NotFound(f"no job attempt with run_id {run_id!r} (no Job or SparkApplication {name} in {ns})")

    def get_attempt(self, run_id: str) -> Attempt:
        kind, o = self._object(run_id)
        return self._attempt(kind, o, self._pods_by_owner())

    def _pod_of(self, run_id: str) -> tuple[str, str] | None:
        kind, o = self._object(run_id)
        ns = o["metadata"].get("namespace", "")
        if kind == "spark":
            pod = ((o.get("status") or {}).get("driverInfo") or {}).get("podName")
            return (ns, pod) if pod else None
        by_job, _ = self._pods_by_owner()
        chosen = jobs.telling_pod(by_job.get(f"{ns}/{o['metadata']['name']}", []))
        return (ns, chosen["metadata"]["name"]) if chosen else None

    def attempt_log(self, run_id: str) -> str:
        return self._log(run_id)

    def attempt_log_tail(self, run_id: str, lines: int, max_bytes: int) -> str:
        text = self._log(run_id, tailLines=lines, limitBytes=max_bytes)
        return "\n".join(text.splitlines()[-lines:])[-max_bytes:]  # (a server may ignore the limits)

    def _log(self, run_id: str, **query: Any) -> str:
        """The log of the attempt's pod (its driver's, or the Job's failed one); "" once the pod is gone."""
        where = self._pod_of(run_id)
        if where is None:
            return ""
        try:
            return self.api.text(ns_path(CORE, "pods", *where) + "/log", **query)
        except NotFound:
            return ""  # the pod was garbage-collected, its log with it

    def attempt_events(self, run_id: str) -> list[str]:
        kind, o = self._object(run_id)
        ns, name = o["metadata"].get("namespace", ""), o["metadata"]["name"]
        where = self._pod_of(run_id)
        names = {name, where[1] if where else ""}
        out = []
        scope = self.informers.get(ns_path(CORE, "events", self.namespace))
        if scope is not None and scope.refused is None and scope.synced.is_set() and self.namespace in (None, ns):
            events: Iterable[dict[str, Any]] = scope.values()
        else:
            events = self.api.items(ns_path(CORE, "events", ns))
        for e in events:
            inv = e.get("involvedObject") or {}
            if (e.get("metadata") or {}).get("namespace", ns) == ns and inv.get("name") in names:
                out.append(
                    f"{e.get('type', '')} {e.get('reason', '')} {str(inv.get('kind', '')).lower()}/{inv.get('name')}"
                    f" {e.get('message', '')}".strip()
                )
        return out

    def training_jobs(self) -> Any:
        from core.backends.kube.training import TrainingJobs

        return TrainingJobs(self.api)

    def submit_retry(self, run_id: str, conf: dict[str, str]) -> Attempt:
        """The Job or SparkApplication made again under the name `<run>-<N+1>` with `conf`, labelled with
        its job and annotated with the attempt it retries. The name is the idempotency key: a retry sent
        twice (a timeout, a resumed operation) finds the first one and returns it."""
        shown = self.get_attempt(run_id)
        if shown.status != "failed":
            raise Conflict(f"attempt {run_id} did not fail ({shown.status}): nothing to retry")
        kind, o = self._object(run_id)
        ns, name = self._locate(run_id)
        base = run_of(name, shown.attempt)
        n = shown.attempt + 1
        new_name = f"{base}-{n}"
        body = jobs.retry_body(kind, o, new_name, conf, shown.job_id, n, run_id)
        path = ns_path(SPARK if kind == "spark" else BATCH, "sparkapplications" if kind == "spark" else "jobs", ns)
        try:
            self.api.create(path, body)
        except Conflict:
            existing = self.api.get(f"{path}/{new_name}")
            if (existing["metadata"].get("annotations") or {}).get(jobs.RETRY_OF) != run_id:
                raise Conflict(f"{new_name} exists in {ns} and is not a retry of {run_id}: not overwritten") from None
        return self.get_attempt(self._run_id(ns, new_name))

    # -- what the audit records and a rollback writes back ----------------------------------------------
    def snapshot(self, resource: str, name: str, namespace: str | None = None) -> Any:
        if resource == "node":
            try:
                n = self.get_node(name)
            except NotFound:
                return None
            return {
                "unschedulable": n.unschedulable,
                "labels": n.labels,
                "taints": n.taints,
                "config_version": n.config_version,
                "kubelet_version": n.kubelet_version,
            }
        if resource == "pool":
            pool = next((p for p in self.list_pools() if p.name == name), None)
            return (
                None
                if pool is None
                else {"desired_config": pool.desired_config, "desired_kubelet": pool.desired_kubelet}
            )
        if resource == "pod":
            try:
                p = m.pod(self.api.get(ns_path(CORE, "pods", namespace, name)))
            except NotFound:
                return None
            return {"node": p.node, "phase": p.phase, "owner": p.owner}
        if resource == "deployment":
            return self._serving(name).snapshot(name)
        raise ValueError(f"no snapshots of {resource!r}")

    def restore(self, resource: str, name: str, snap: Any, namespace: str | None = None) -> None:
        if resource == "node":
            self.patch_node(name, unschedulable=snap["unschedulable"], labels=snap["labels"], taints=snap["taints"])
        elif resource == "pool":
            self.set_pool_desired_config(name, snap["desired_config"])
        elif resource == "pod":
            if snap is None:
                raise ClusterError(f"pod {namespace}/{name} did not exist before; it cannot be restored to nothing")
            try:
                self.api.get(ns_path(CORE, "pods", namespace, name))
            except NotFound:
                raise ClusterError(
                    f"pod {namespace}/{name} was evicted; its controller {snap.get('owner') or ''} recreates it"
                ) from None
        elif resource == "deployment":
            self._serving(name).restore(name, snap)
        else:
            raise ValueError(f"cannot restore {resource!r}")
