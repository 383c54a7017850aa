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


#: what a retry still running shows in place of its (already drawn) end
_RUNNING = {
    "status": "running",
    "log_tail": None,
    "exit_code": None,
    "reason": "Running",
    "runtime_seconds": 0.0,
    "cost": 0.0,
}


def _fields(rows: list[tuple[Any, ...]], now: datetime, decoded: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Attempt's fields, in its order (`extra` included), from ATTEMPT_COLUMNS rows: the listings' path, from which both
    the objects and the history records are made. JSON texts seen before are
    parsed once (`decoded`: an estate has few distinct configs), each attempt getting its own copy."""

    def parse(text: str) -> Any:
        value = decoded.get(text)
        if value is None:
            if len(decoded) >= 4096:  # an estate of many distinct configs: memory stays bounded
                decoded.clear()
            value = decoded[text] = json.loads(text)
        return value.copy() if type(value) is dict else json.loads(text)

    for job_id, run_id, n, submitted, kind, size, conf, status, secs, cost, tail, node, code, reason, extra in rows:
        extra = {} if extra == "{}" or extra is None else parse(extra) if type(extra) is str else extra
        f = {
            "job_id": job_id,
            "run_id": run_id,
            "attempt": n,
            "submitted_at": submitted,
            "kind": kind,
            "input_bytes": size,
            "conf": parse(conf) if type(conf) is str else conf,
            "status": status,
            "runtime_seconds": secs,
            "cost": cost,
            "log_tail": tail,
            "node": node,
            "exit_code": code,
            "reason": reason,
            "extra": extra,
        }
        if extra:
            _show_running(f, now)
        yield f


def _show_running(f: dict[str, Any], now: datetime) -> None:
    """A retry still running: its end (drawn when it was submitted) is not known yet."""
    finishes = f["extra"].get("finishes_at")
    if finishes and not _ready(finishes, now):
        f.update(_RUNNING)


def _attempt(r: dict[str, Any]) -> Attempt:
    r.pop("source", None)
    r.pop("truth", None)  # the simulator's own knowledge of the failure: never shown
    r["extra"] = r.get("extra") or {}
    _show_running(r, clock.now())
    return Attempt(**r)
