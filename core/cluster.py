"""The one backend protocol: every read and every mutation the engine needs of a cluster.

SimCluster (core/backends/sim, the embedded demo estate) and KubeCluster (core/backends/kube) implement
it; nothing above it knows which it has. Reads return core.types dataclasses. Mutations are plain
changes to the cluster's objects: the audit, the confirmation and the roles are the engine's, not the
backend's. `snapshot` and `restore` give the audit path its before/after objects and rollback its way
back, for the resources `SNAPSHOT_RESOURCES` names.

Errors: NotFound for a missing object, Conflict for a state that forbids the change, TooManyRequests for
an eviction a disruption budget refuses (the caller backs off), ClusterError for anything else the
cluster refuses (core/errors.py).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Any, Protocol, runtime_checkable

from core.types import Attempt, Job, MetricPoint, ModelDeployment, ModelVersion, Node, Pod, Pool

#: rows a paged read (`iter_nodes`, `iter_attempts`) fetches at a time, unless told otherwise
PAGE_SIZE = 1000

#: the objects whose state `snapshot` returns and `restore` writes back (JSON-ready dicts)
SNAPSHOT_RESOURCES = ("node", "pod", "deployment", "pool")


@runtime_checkable
class Cluster(Protocol):
    #: short description for the header, e.g. "sim:demo (seed 42)" or "kube:prod-eu"
    name: str

    def generation(self) -> Hashable:
        """A token that changes whenever what the reads return may have changed (a write, or time passing a
        deadline the backend keeps); equal tokens promise equal reads. Views poll it to skip a refetch."""
        ...

    # -- node pools and nodes -------------------------------------------------------------------------
    def list_pools(self) -> list[Pool]: ...
    def set_pool_desired_config(self, pool: str, version: str) -> None: ...
    def list_nodes(self, pool: str | None = None) -> list[Node]: ...
    def iter_nodes(self, pool: str | None = None, page_size: int = PAGE_SIZE) -> Iterator[Node]:
        """What `list_nodes` returns, in its order, read a page at a time: a listing of any size holds
        one page in memory, and its first node comes before the last is read."""

    def get_node(self, name: str) -> Node: ...
    def patch_node(
        self,
        name: str,
        *,
        unschedulable: bool | None = None,
        labels: dict[str, str] | None = None,
        taints: list[dict[str, str]] | None = None,
        config_version: str | None = None,
    ) -> None:
        """Set the given fields (None: leave as is). Labels and taints are replaced whole."""

    def apply_node_config(self, name: str, version: str) -> None:
        """The node takes a node-config version (its kubelet restarts with it), or raises ClusterError."""

    # -- pods -----------------------------------------------------------------------------------------
    def list_pods(self, node: str | None = None) -> list[Pod]: ...
    def evict(self, namespace: str, pod: str, grace_seconds: int = 30) -> None:
        """The Eviction API: TooManyRequests when a disruption budget forbids it now."""

    # -- model deployments and their revisions ----------------------------------------------------------
    def list_deployments(self) -> list[ModelDeployment]: ...
    def get_deployment(self, name: str) -> ModelDeployment: ...
    def deployment_metrics(self, name: str, minutes: int = 60, revision: int | None = None) -> list[MetricPoint]: ...
    def add_revision(self, deployment: str, number: int, model: str, model_version: int, image: str) -> None:
        """A canary revision `number` serving the model version, at weight 0; the deployment Progressing."""

    def set_canary_weight(self, deployment: str, number: int, weight: int) -> None:
        """Revision `number` (the canary) takes `weight` percent of traffic; the active one the rest."""

    def promote_revision(self, deployment: str, number: int) -> None:
        """Revision `number` takes all traffic and becomes the current one; the one before retires."""

    def abort_revision(self, deployment: str, number: int) -> None:
        """The canary `number` gets no traffic and is marked aborted; the deployment Degraded."""

    def scale_deployment(self, deployment: str, replicas: int) -> None:
        """The deployment serves with `replicas` pods in all (a canary keeps its share of them)."""

    def faults(self) -> dict[str, dict[str, float]]:
        """Faults a simulator injects into deployments' traffic, by deployment ({} on a real cluster)."""

    def inject_faults(self, deployment: str, faults: dict[str, float] | None) -> None:
        """Inject (merge) or, with None, clear a deployment's traffic faults: a simulator's verb (BadInput
        on a real cluster)."""

    def known_model_versions(self) -> list[ModelVersion]:
        """Model versions the estate already serves or stages that the registry may not know yet."""

    # -- jobs, their attempts, logs and events ----------------------------------------------------------
    def list_jobs(self) -> list[Job]: ...
    def list_attempts(
        self,
        *,
        failed: bool | None = None,
        job_id: str | None = None,
        since: str | None = None,
        limit: int | None = None,
    ) -> list[Attempt]: ...
    def iter_attempts(
        self,
        *,
        failed: bool | None = None,
        job_id: str | None = None,
        since: str | None = None,
        limit: int | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[Attempt]:
        """What `list_attempts` returns, in its order, read a page at a time (see `iter_nodes`)."""

    def iter_attempt_records(
        self,
        *,
        failed: bool | None = None,
        job_id: str | None = None,
        since: str | None = None,
        limit: int | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[dict[str, Any]]:
        """`iter_attempts`' attempts as their history records (`Attempt.to_record`): the listings' path,
        which a backend may serve without making the objects."""

    def get_attempt(self, run_id: str) -> Attempt: ...
    def attempt_log(self, run_id: str) -> str: ...
    def attempt_log_tail(self, run_id: str, lines: int, max_bytes: int) -> str: ...
    def attempt_events(self, run_id: str) -> list[str]: ...
    def submit_retry(self, run_id: str, conf: dict[str, str]) -> Attempt:
        """Run the failed attempt again with `conf`, as the next attempt of the same run."""

    def training_jobs(self) -> Any:
        """Where a model's training runs on this cluster (core.backends.kube.training.TrainingJobs); None:
        the cluster runs no trainings, they run where the console does."""

    # -- what the audit records and a rollback writes back ------------------------------------------------
    def snapshot(self, resource: str, name: str, namespace: str | None = None) -> Any:
        """The state of a SNAPSHOT_RESOURCES object the console may change (None: it does not exist)."""

    def restore(self, resource: str, name: str, snap: Any, namespace: str | None = None) -> None:
        """Write a snapshot back (a rollback)."""
