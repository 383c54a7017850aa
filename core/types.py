"""Domain types shared by the engine, the CLI and the screens.

Plain dataclasses: they cross the worker/UI boundary and serialise to JSON with `to_dict`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


def probability_text(p: float) -> str:
    """A probability to two places for a person, never rounded to certainty: 0.999 reads ">0.99" and 0.002
    "<0.01". A model's P(success) is never 1 or 0, and "1.00" beside a retry reads as a promise."""
    if p >= 0.995:
        return ">0.99"
    if p < 0.005:
        return "<0.01"
    return f"{p:.2f}"


def probability_rounded(p: float) -> float:
    """A probability kept to four places, never rounded to 1 or 0 (a model's 0.99996 stays 0.9999)."""
    return min(max(round(p, 4), 0.0001), 0.9999)


def to_dict(obj: Any) -> dict[str, Any]:
    """JSON-ready dict of a domain object (extras of an Attempt are flattened in, as in the history file)."""
    if isinstance(obj, Attempt):
        return obj.to_record()
    return asdict(obj)


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str  # NoSchedule | PreferNoSchedule | NoExecute

    def __str__(self) -> str:
        return f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"


@dataclass
class Pool:
    """A node group: its nodes share an instance type and the node config the console wants them on."""

    name: str
    instance_type: str
    desired_kubelet: str
    desired_config: str  # the config version the pool's nodes should run (drift: a node that does not)
    cpu: int
    memory_gib: int
    gpus: int


@dataclass
class Node:
    name: str
    pool: str
    ready: bool
    unschedulable: bool
    cpu: int  # cores allocatable
    memory_gib: int
    gpus: int
    pods: int  # pods currently scheduled
    cpu_used: float  # cores requested by scheduled pods
    memory_used_gib: float
    kubelet_version: str
    config_version: str
    zone: str
    created_at: str
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)
    conditions: dict[str, str] = field(default_factory=dict)  # type -> "True"/"False"
    gpus_used: int | None = None  # GPUs the node's pods request; None: the backend does not say

    @property
    def status(self) -> str:
        s = "Ready" if self.ready else "NotReady"
        return s + ",SchedulingDisabled" if self.unschedulable else s

    @property
    def pressure(self) -> list[str]:
        return [t for t, v in self.conditions.items() if t != "Ready" and v == "True"]


@dataclass
class Pod:
    name: str
    namespace: str
    node: str
    phase: str
    owner: str  # e.g. "Deployment/fraud-scorer" or "DaemonSet/node-exporter"
    cpu: float
    memory_gib: float
    restarts: int
    emptydir: bool = False
    ready_at: str | None = None  # when a (re)scheduled pod becomes ready; until then it is not available


@dataclass
class Revision:
    number: int
    model: str
    model_version: int
    image: str
    created_at: str
    weight: int  # percent of traffic
    status: str  # active | canary | retired


@dataclass
class ModelDeployment:
    name: str
    namespace: str
    model: str
    replicas: int
    ready_replicas: int
    status: str  # Healthy | Progressing | Degraded | Paused
    current_revision: int
    revisions: list[Revision] = field(default_factory=list)
    # a HorizontalPodAutoscaler's bounds and what it has done: min, max, current, desired, targets
    autoscaler: dict[str, Any] | None = None

    @property
    def active(self) -> Revision | None:
        return next((r for r in self.revisions if r.number == self.current_revision), None)

    @property
    def canary(self) -> Revision | None:
        return next((r for r in self.revisions if r.status == "canary"), None)


@dataclass
class MetricPoint:
    ts: str
    request_rate: float  # req/s
    p50_ms: float
    p95_ms: float
    p99_ms: float
    error_rate: float  # fraction of requests that failed
    score_mean: float
    score_hist: list[int]  # 10 buckets over [0, 1)
    # 10 buckets of each request's mean standardised input (core.monitoring.traffic.INPUT_EDGES)
    input_hist: list[int] = field(default_factory=list)
    accuracy: float | None = None  # on the requests whose labels came back; None where none are measured


@dataclass
class Job:
    job_id: str
    kind: str  # spark | pytorch | python
    owner: str
    schedule: str  # cron-like description
    last_status: str
    last_run_id: str
    last_submitted_at: str
    attempts: int
    failures: int


HISTORY_FIELDS = (
    "job_id",
    "run_id",
    "attempt",
    "submitted_at",
    "kind",
    "input_bytes",
    "conf",
    "status",
    "log_tail",
    "runtime_seconds",
    "cost",
)


@dataclass
class Attempt:
    """One job attempt, in the history-record format of DESIGN.md. Unknown fields live in `extra`."""

    job_id: str
    run_id: str
    attempt: int
    submitted_at: str
    kind: str
    input_bytes: int
    conf: dict[str, str]
    status: str  # succeeded | failed | running
    runtime_seconds: float
    cost: float
    log_tail: str | None = None
    node: str | None = None
    exit_code: int | None = None
    reason: str | None = None  # container termination reason, e.g. OOMKilled, Error
    extra: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        rec = dict(self.__dict__)
        if len(rec) != len(_RECORD_FIELDS) + 1:  # something else was set on the object: the fields only
            rec = {k: rec[k] for k in (*_RECORD_FIELDS, "extra")}
        return attempt_record(rec)


def attempt_record(fields: dict[str, Any]) -> dict[str, Any]:
    """An attempt's fields (Attempt's, in order, `extra` included; the dict is reused) as its history
    record: unknown fields flattened in after the known ones, those unknown to the attempt left out.
    (A listing turns 100,000 attempts into records: this is written for speed.)"""
    extra = fields.pop("extra")
    for k in _OMITTED_WHEN_NONE:
        if fields[k] is None:
            del fields[k]
    if fields["log_tail"] is None and fields["status"] != "failed":
        del fields["log_tail"]
    if extra:
        fields.update(extra)
    return fields


#: Attempt's fields in a history record, in order (`extra` is flattened in after them)
_RECORD_FIELDS = tuple(f.name for f in fields(Attempt) if f.name != "extra")
#: the fields a record leaves out when unknown (the history format's own fields are always there)
_OMITTED_WHEN_NONE = tuple(k for k in _RECORD_FIELDS if k not in HISTORY_FIELDS)


@dataclass
class ModelVersion:
    model: str
    version: int
    # production or canary while that alias points at it; otherwise what it was registered or adopted as:
    # staging (a candidate) or archived
    stage: str
    created_at: str
    framework: str
    sha256: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    parent: str | None = None  # lineage: "model:version" it was derived from (retrain, compression)
    data_digest: str | None = None
    artifact_uri: str | None = None  # where its weights lie (relative to the console's artifacts folder)
    code_version: str | None = None  # the git commit the training ran from, when it ran from a checkout
    environment: dict[str, Any] = field(default_factory=dict)  # python, torch, scikit-learn, a lock of the rest
    created_by: str | None = None
    aliases: list[str] = field(default_factory=list)  # production, canary, or a user's own


@dataclass
class AuditEvent:
    """Shaped like a Kubernetes audit event, hash-chained to its predecessor."""

    seq: int
    audit_id: str
    stage: str  # RequestReceived | ResponseComplete | Failed
    verb: str
    user: str
    object_ref: dict[str, str]
    before: Any
    after: Any
    annotations: dict[str, str]
    timestamp: str
    prev_hash: str
    hash: str


@dataclass
class Summary:
    """What the dashboard shows in one glance."""

    backend: str
    nodes_total: int
    nodes_ready: int
    nodes_cordoned: int
    nodes_pressure: int
    pools: dict[str, dict[str, int]]
    gpus_total: int
    deployments: int
    deployments_degraded: int
    rollouts_in_flight: list[str]
    attempts_24h: int
    failed_24h: int
    failing_jobs: list[dict[str, Any]]
    pending_approvals: int
    drift_alerts: list[str]
    audit_events: int
    alerts: list[dict[str, Any]] = field(default_factory=list)  # firing in Alertmanager (none configured: [])
    monitoring_problem: str | None = None  # why the serving metrics or the alerts could not be read
    alerts_configured: bool = False  # an Alertmanager to read alerts from (alertmanager_url)
    model_drift: list[str] = field(default_factory=list)  # models whose traffic left their training data


def object_name(ref: dict[str, Any]) -> str:
    """kubectl-style name of an audit event's object: resource/namespace/name."""
    parts = [ref.get("resource", "?"), ref.get("namespace"), ref.get("name", "?")]
    return "/".join(str(p) for p in parts if p)


def run_of(run_id: str, attempt: int) -> str:
    """The run an attempt belongs to: retries are named `<run>-<attempt>` (r0000123-2, w11-000042-3)."""
    suffix = f"-{attempt}"
    return run_id[: -len(suffix)] if attempt > 1 and run_id.endswith(suffix) else run_id
