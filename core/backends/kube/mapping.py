"""Kubernetes objects (as the API's JSON) into the protocol's types. The labels and annotations the
console reads and writes are listed in docs/kubernetes.md."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from core.types import Node, Pod

#: the node label that names a node's pool, cloud by cloud (a label set in config comes first)
POOL_LABELS = (
    "eks.amazonaws.com/nodegroup",
    "cloud.google.com/gke-nodepool",
    "kubernetes.azure.com/agentpool",
    "karpenter.sh/nodepool",
    "node.kubernetes.io/pool",
)
#: the console's own: a node's node-config version, and the one its pool should run (drift: they differ)
CONFIG_LABEL = "mlops-console.io/node-config"
DESIRED_CONFIG = "mlops-console.io/desired-node-config"
GPU = "nvidia.com/gpu"
MIRROR = "kubernetes.io/config.mirror"

_SUFFIX: dict[str, int | Decimal] = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}


def quantity(text: Any) -> float:
    """A Kubernetes quantity ("500m", "64Gi", "1.5", "2e3") as a number; 0 for what is missing or unreadable."""
    if text is None or text == "":
        return 0.0
    s = str(text).strip()
    try:
        return float(Decimal(s))  # "1.5", "2e3"
    except InvalidOperation:
        pass
    for suffix in sorted(_SUFFIX, key=len, reverse=True):
        if s.endswith(suffix):
            try:
                return float(Decimal(s[: -len(suffix)]) * Decimal(_SUFFIX[suffix]))
            except InvalidOperation:
                return 0.0
    return 0.0


def pool_of(labels: dict[str, str], own_label: str = "") -> str:
    for key in (own_label, *POOL_LABELS):
        if key and labels.get(key):
            return labels[key]
    return "-"


def node(obj: dict[str, Any], usage: dict[str, Any] | None, pool_label: str = "") -> Node:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    labels = meta.get("labels") or {}
    alloc = status.get("allocatable") or status.get("capacity") or {}
    conditions = {c.get("type", ""): c.get("status", "") for c in status.get("conditions") or []}
    usage = usage or {}
    return Node(
        name=meta.get("name", ""),
        pool=pool_of(labels, pool_label),
        ready=conditions.get("Ready") == "True",
        unschedulable=bool(spec.get("unschedulable")),
        cpu=int(quantity(alloc.get("cpu"))),
        memory_gib=round(quantity(alloc.get("memory")) / 2**30),
        gpus=int(quantity(alloc.get(GPU))),
        pods=usage.get("pods", 0),
        cpu_used=round(usage.get("cpu", 0.0), 2),
        memory_used_gib=round(usage.get("mem", 0.0), 2),
        kubelet_version=(status.get("nodeInfo") or {}).get("kubeletVersion", ""),
        config_version=labels.get(CONFIG_LABEL, "-"),
        zone=labels.get("topology.kubernetes.io/zone", labels.get("failure-domain.beta.kubernetes.io/zone", "-")),
        created_at=meta.get("creationTimestamp", ""),
        labels=dict(labels),
        taints=[{k: str(v) for k, v in t.items() if k in ("key", "value", "effect")} for t in spec.get("taints") or []],
        conditions=conditions,
        gpus_used=int(usage.get("gpus", 0)),
    )


def requests(pod: dict[str, Any]) -> tuple[float, float]:
    """A pod's CPU (cores) and memory (GiB) requests, its containers summed."""
    cpu = mem = 0.0
    for c in (pod.get("spec") or {}).get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        cpu += quantity(req.get("cpu"))
        mem += quantity(req.get("memory")) / 2**30
    return cpu, mem


def gpu_requests(pod: dict[str, Any]) -> int:
    """GPUs a pod asks for: an extended resource's request, or its limit (which sets the request)."""
    total = 0
    for c in (pod.get("spec") or {}).get("containers") or []:
        res = c.get("resources") or {}
        total += int(quantity((res.get("requests") or {}).get(GPU) or (res.get("limits") or {}).get(GPU)))
    return total


def owner_of(meta: dict[str, Any]) -> str:
    """ "Kind/name" of the pod's controller; "Node/NAME" for a mirror (static) pod, which drain leaves."""
    if MIRROR in (meta.get("annotations") or {}):
        return "Node/mirror"
    refs = meta.get("ownerReferences") or []
    ref = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    return f"{ref.get('kind')}/{ref.get('name')}" if ref else "-"


def pod(obj: dict[str, Any]) -> Pod:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    cpu, mem = requests(obj)
    phase = status.get("phase", "Unknown")
    statuses = status.get("containerStatuses") or []
    waiting = [s["state"]["waiting"].get("reason", "") for s in statuses if (s.get("state") or {}).get("waiting")]
    if meta.get("deletionTimestamp"):
        phase = "Terminating"
    elif waiting:
        phase = waiting[0] or phase
    return Pod(
        name=meta.get("name", ""),
        namespace=meta.get("namespace", ""),
        node=spec.get("nodeName") or "",
        phase=phase,
        owner=owner_of(meta),
        cpu=round(cpu, 3),
        memory_gib=round(mem, 3),
        restarts=sum(int(s.get("restartCount") or 0) for s in statuses),
        emptydir=any("emptyDir" in v for v in spec.get("volumes") or []),
    )


def termination(pod_obj: dict[str, Any]) -> tuple[str | None, int | None]:
    """The (reason, exit code) a pod's first failed container ended with: OOMKilled/137, Error/1, …;
    an evicted pod's reason from its status."""
    status = pod_obj.get("status") or {}
    for s in status.get("containerStatuses") or []:
        for state in (s.get("state") or {}, s.get("lastState") or {}):
            t = state.get("terminated")
            if t and (t.get("exitCode") or 0) != 0:
                return t.get("reason"), t.get("exitCode")
    if status.get("reason"):  # e.g. Evicted, DeadlineExceeded
        return status["reason"], None
    return None, None
