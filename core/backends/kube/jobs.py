"""Job attempts on Kubernetes: batch/v1 Jobs and the Spark Operator's SparkApplications as the protocol's
attempts, their configs as the recommender sees them, and the object a retry creates (docs/kubernetes.md)."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from core.backends.kube import mapping as m
from core.types import Attempt, run_of

#: the console's labels and annotations on the jobs it re-creates (docs/kubernetes.md)
JOB_LABEL = "mlops-console.io/job"
ATTEMPT = "mlops-console.io/attempt"
RETRY_OF = "mlops-console.io/retry-of"
KIND = "mlops-console.io/kind"
INPUT_BYTES = "mlops-console.io/input-bytes"
#: a batch Job's config as the recommender and the retry see it: the first container's env, and these
RESOURCE_KEYS = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory")


def pods_by_owner(
    pods: Iterable[dict[str, Any]],
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, Any]]]:
    """Pods in scope by the Job that made them ("ns/job-name"), and by "ns/name"."""
    by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_name: dict[str, dict[str, Any]] = {}
    for p in pods:
        meta = p.get("metadata") or {}
        labels = meta.get("labels") or {}
        ns = meta.get("namespace", "")
        by_name[f"{ns}/{meta.get('name')}"] = p
        job = labels.get("batch.kubernetes.io/job-name") or labels.get("job-name")
        if job:
            by_job[f"{ns}/{job}"].append(p)
    return by_job, by_name


def attempt(kind: str, o: dict[str, Any], pods: tuple[dict[str, Any], dict[str, Any]], run_id: str) -> Attempt:
    """A Job or SparkApplication as the attempt it is: its outcome, config, and the termination of the pod
    that tells its story (`pods`: pods_by_owner's)."""
    meta = o.get("metadata") or {}
    ns, name = meta.get("namespace", ""), meta.get("name", "")
    labels, notes = meta.get("labels") or {}, meta.get("annotations") or {}
    by_job, by_name = pods
    if kind == "spark":
        status = o.get("status") or {}
        state = ((status.get("applicationState") or {}).get("state") or "SUBMITTED").upper()
        outcome = {"COMPLETED": "succeeded", "FAILED": "failed", "SUBMISSION_FAILED": "failed"}.get(state, "running")
        pod_obj = by_name.get(f"{ns}/{(status.get('driverInfo') or {}).get('podName', '')}")
        started = status.get("lastSubmissionAttemptTime") or meta.get("creationTimestamp", "")
        ended = status.get("terminationTime")
        conf = spark_conf(o)
        job_kind = "spark"
    else:
        status = o.get("status") or {}
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        outcome = (
            "failed" if conds.get("Failed") == "True" else "succeeded" if conds.get("Complete") == "True" else "running"
        )
        pod_obj = telling_pod(by_job.get(f"{ns}/{name}", []))
        started = status.get("startTime") or meta.get("creationTimestamp", "")
        ended = status.get("completionTime") or next(
            (c.get("lastTransitionTime") for c in status.get("conditions") or [] if c.get("type") == "Failed"), None
        )
        conf = job_conf(o)
        job_kind = labels.get(KIND) or "python"
    reason, code = m.termination(pod_obj) if pod_obj else (None, None)
    if kind == "spark" and outcome == "failed" and not reason:
        reason = "Error"
    attempt = int(notes.get(ATTEMPT) or 1)
    return Attempt(
        job_id=labels.get(JOB_LABEL) or run_of(name, attempt),
        run_id=run_id,
        attempt=attempt,
        submitted_at=started,
        kind=job_kind,
        input_bytes=int(notes.get(INPUT_BYTES) or 0),
        conf=conf,
        status=outcome,
        runtime_seconds=_seconds(started, ended),
        cost=0.0,
        log_tail=None,
        node=((pod_obj or {}).get("spec") or {}).get("nodeName"),
        exit_code=code,
        reason=reason,
        extra={"namespace": ns, "object": "SparkApplication" if kind == "spark" else "Job"},
    )


def telling_pod(pods: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Of a Job's pods, the one whose end tells what happened: the newest that failed, else the newest."""
    pods = sorted(pods, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp", ""))
    failed = [p for p in pods if m.termination(p)[0]]
    return (failed or pods)[-1] if pods else None


def _seconds(start: str | None, end: str | None) -> float:
    from core import clock

    if not start or not end:
        return 0.0
    return max(0.0, (clock.parse_ts(end) - clock.parse_ts(start)).total_seconds())


def spark_conf(o: dict[str, Any]) -> dict[str, str]:
    """A SparkApplication's config as spark-submit would see it: sparkConf, and the driver's and
    executors' cores, memory and instances as their spark.* keys."""
    spec = o.get("spec") or {}
    conf = {str(k): str(v) for k, v in (spec.get("sparkConf") or {}).items()}
    driver, executor = spec.get("driver") or {}, spec.get("executor") or {}
    for key, value in (
        ("spark.driver.cores", driver.get("cores")),
        ("spark.driver.memory", driver.get("memory")),
        ("spark.executor.cores", executor.get("cores")),
        ("spark.executor.memory", executor.get("memory")),
        ("spark.executor.instances", executor.get("instances")),
    ):
        if value is not None:
            conf.setdefault(key, str(value))
    return conf


def job_conf(o: dict[str, Any]) -> dict[str, str]:
    """A batch Job's config: its first container's environment and its resources (requests.cpu, …)."""
    containers = ((((o.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")) or [{}]
    c = containers[0]
    conf = {e["name"]: str(e.get("value", "")) for e in c.get("env") or [] if "name" in e and "valueFrom" not in e}
    res = c.get("resources") or {}
    for key in RESOURCE_KEYS:
        kind, what = key.split(".")
        if (res.get(kind) or {}).get(what) is not None:
            conf[key] = str(res[kind][what])
    return conf


_SPARK_FIELDS = {
    "spark.driver.cores": ("driver", "cores", int),
    "spark.driver.memory": ("driver", "memory", str),
    "spark.executor.cores": ("executor", "cores", int),
    "spark.executor.memory": ("executor", "memory", str),
    "spark.executor.instances": ("executor", "instances", int),
}


def retry_body(
    kind: str, o: dict[str, Any], name: str, conf: dict[str, str], job_id: str, n: int, of: str
) -> dict[str, Any]:
    """The object to create for a retry: the original's spec with `conf` applied, without what the API
    server and the controllers own (status, uid, the Job's selector and controller labels)."""
    body = copy.deepcopy(o)
    body.pop("status", None)
    meta = body["metadata"]
    body["metadata"] = {
        "name": name,
        "namespace": meta.get("namespace"),
        "labels": {**(meta.get("labels") or {}), JOB_LABEL: job_id},
        "annotations": {**(meta.get("annotations") or {}), ATTEMPT: str(n), RETRY_OF: of},
    }
    for k in ("controller-uid", "batch.kubernetes.io/controller-uid", "job-name", "batch.kubernetes.io/job-name"):
        body["metadata"]["labels"].pop(k, None)
    spec = body.setdefault("spec", {})
    if kind == "spark":
        spark = dict(spec.get("sparkConf") or {})
        for key, value in conf.items():
            if key in _SPARK_FIELDS:
                part, field, cast = _SPARK_FIELDS[key]
                spec.setdefault(part, {})[field] = cast(value) if cast is str else int(float(value))
                spark.pop(key, None)
            else:
                spark[key] = str(value)
        spec["sparkConf"] = spark
        return body
    spec.pop("selector", None)  # the Job controller sets a new one
    template = spec.setdefault("template", {})
    tlabels = template.setdefault("metadata", {}).get("labels") or {}
    for k in ("controller-uid", "batch.kubernetes.io/controller-uid", "job-name", "batch.kubernetes.io/job-name"):
        tlabels.pop(k, None)
    template["metadata"]["labels"] = tlabels
    c = template.setdefault("spec", {}).setdefault("containers", [{}])[0]
    env = {e["name"]: e for e in c.get("env") or [] if "name" in e}
    for key, value in conf.items():
        if key in RESOURCE_KEYS:
            part, what = key.split(".")
            c.setdefault("resources", {}).setdefault(part, {})[what] = str(value)
        else:
            env[key] = {"name": key, "value": str(value)}
    c["env"] = list(env.values())
    return body
