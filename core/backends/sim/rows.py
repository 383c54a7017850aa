"""The simulator's store rows as the protocol's objects (nodes, pods, attempts) and an attempt's
Kubernetes-style events."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from core import clock
from core.types import Attempt, Node, Pod


def sim_events(a: Attempt) -> list[str]:
    pod = f"{a.job_id}-{a.run_id}-driver"
    pid = int(hashlib.sha256(a.run_id.encode()).hexdigest()[:4], 16) + 1000
    events = [f"Normal Scheduled pod/{pod} Successfully assigned jobs/{pod} to {a.node}"]
    if a.reason == "ImagePullBackOff":
        events += [
            f"Normal Pulling pod/{pod} Pulling image for {a.job_id}",
            f"Warning Failed pod/{pod} Error: ErrImagePull",
            f"Warning BackOff pod/{pod} Back-off pulling image",
        ]
        return events
    events.append(f"Normal Started pod/{pod} Started container driver")
    if a.status != "failed":
        return events + [f"Normal Completed job/{a.job_id} Job completed"]
    if a.reason == "OOMKilled":
        events.append(f"Warning OOMKilling node/{a.node} Memory cgroup out of memory: Killed process {pid} (java)")
    elif a.reason == "Evicted":
        events.append(f"Warning Evicted pod/{pod} The node was low on resource: ephemeral-storage.")
    elif a.reason == "DeadlineExceeded":
        events.append(f"Warning DeadlineExceeded job/{a.job_id} Job was active longer than specified deadline")
    events.append(f"Warning BackoffLimitExceeded job/{a.job_id} Job has reached the specified backoff limit")
    return events


def _ready(ready_at: str | None, now: datetime) -> bool:
    return ready_at is None or clock.parse_ts(ready_at) <= now


def _pod(r: dict[str, Any]) -> Pod:
    r = {**r, "emptydir": bool(r["emptydir"])}
    if not _ready(r.get("ready_at"), clock.now()):
        r["phase"] = "ContainerCreating"
    return Pod(**r)


def _node(r: dict[str, Any], usage: dict[str, Any] | None) -> Node:
    usage = usage or {}
    return Node(
        name=r["name"],
        pool=r["pool"],
        ready=bool(r["ready"]),
        unschedulable=bool(r["unschedulable"]),
        cpu=r["cpu"],
        memory_gib=r["memory_gib"],
        gpus=r["gpus"],
        pods=usage.get("pods") or 0,
        cpu_used=round(usage.get("cpu") or 0.0, 2),
        memory_used_gib=round(usage.get("mem") or 0.0, 2),
        kubelet_version=r["kubelet_version"],
        config_version=r["config_version"],
        zone=r["zone"],
        created_at=r["created_at"],
        labels=r["labels"],
        taints=r["taints"],
        conditions=r["conditions"],
    )


#: the attempts table's columns in the order of Attempt's fields (not the simulator's own `source` and `truth`)
ATTEMPT_COLUMNS = (
    "job_id, run_id, attempt, submitted_at, kind, input_bytes, conf, status, runtime_seconds, cost,"
    " log_tail, node, exit_code, reason, extra"
)


def _attempts(rows: list[tuple[Any, ...]], now: datetime, decoded: dict[str, Any]) -> Iterator[Attempt]:
    """Attempts from ATTEMPT_COLUMNS rows: the listing's fast path. JSON texts seen before are parsed once
    (`decoded`: an estate has few distinct configs), each attempt getting its own copy."""

    def parse(text: str) -> Any:
        value = decoded.get(text)
        if value is None:
            if len(decoded) >= 4096:  # an estate of many distinct configs: memory stays bounded
                decoded.clear()
            value = decoded[text] = json.loads(text)
        return value.copy() if type(value) is dict else json.loads(text)

    for job_id, run_id, n, submitted, kind, size, conf, status, secs, cost, tail, node, code, reason, extra in rows:
        a = Attempt(
            job_id,
            run_id,
            n,
            submitted,
            kind,
            size,
            parse(conf) if type(conf) is str else conf,
            status,
            secs,
            cost,
            tail,
            node,
            code,
            reason,
            {} if extra == "{}" or extra is None else parse(extra) if type(extra) is str else extra,
        )
        finishes = a.extra.get("finishes_at") if a.extra else None
        if finishes and not _ready(finishes, now):  # a retry still running: its end is not known yet
            a.status, a.log_tail, a.exit_code, a.reason = "running", None, None, "Running"
            a.runtime_seconds = a.cost = 0.0
        yield a


def _attempt(r: dict[str, Any]) -> Attempt:
    r.pop("source", None)
    r.pop("truth", None)  # the simulator's own knowledge of the failure: never shown
    extra = r.pop("extra", None) or {}
    if "finishes_at" in extra and not _ready(extra["finishes_at"], clock.now()):  # a retry still running
        r.update(status="running", log_tail=None, exit_code=None, reason="Running", runtime_seconds=0.0, cost=0.0)
    return Attempt(**r, extra=extra)
