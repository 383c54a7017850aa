"""Kubernetes objects as a real API server returns them (JSON as dicts), for tests and the emulator.

The official client (37) validates what it reads strictly, so every field a real server always fills is
here: uids, resourceVersions, timestamps, a node's nodeInfo, a container's imageID and containerID… The
values are deterministic (uids and hashes derive from the names), so an owner's uid in a pod's
ownerReferences is the uid the owner's builder gives it. Times default to CREATED, an hour before the
clock tests pin (2026-11-20T12:00:00Z).
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

CREATED = "2026-11-20T11:00:00Z"
POOL_LABEL = ("eks.amazonaws.com/nodegroup", "gpu-a100")
GPU = "nvidia.com/gpu"
SPARK_API = "sparkoperator.k8s.io/v1beta2"
OWNER_API_VERSIONS = {
    "ReplicaSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "StatefulSet": "apps/v1",
    "Deployment": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "Node": "v1",
    "ReplicationController": "v1",
    "SparkApplication": SPARK_API,
}
# what the DaemonSet controller adds to its pods
DAEMONSET_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]
# what admission adds to every other pod
DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
]


# -- deterministic values ------------------------------------------------------------------------------
def uid(kind: str, namespace: str | None, name: str) -> str:
    """The uid the builders give an object (so that owners and their dependents agree)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"k8s/{kind}/{namespace or ''}/{name}"))


def _hex(n: int, *parts: Any) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:n]


def _suffix(*parts: Any) -> str:
    """A 5-letter name suffix as the controllers make them (no vowels)."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:5])


def _ip(*parts: Any) -> str:
    d = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return f"10.{d[0] % 200 + 20}.{d[1]}.{d[2] % 250 + 2}"


@functools.lru_cache(maxsize=4096)  # a hundred thousand pods share a few timestamps
def _at(base: str, seconds: float) -> str:
    t = datetime.fromisoformat(base) + timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rv(*parts: Any) -> str:
    return str(int(_hex(6, *parts), 16) % 900000 + 1000)


def _meta(
    kind: str,
    name: str,
    namespace: str | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    created: str = CREATED,
    owner: tuple[str, str] | None = None,
    generation: int | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta.update(uid=uid(kind, namespace, name), resourceVersion=_rv(kind, namespace, name), creationTimestamp=created)
    if generation is not None:
        meta["generation"] = generation
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    if owner:
        meta["ownerReferences"] = [owner_ref(owner[0], owner[1], namespace)]
    return meta


def owner_ref(kind: str, name: str, namespace: str | None) -> dict[str, Any]:
    """A controller ownerReference to the object the builders would make for (kind, name)."""
    owner_ns = None if kind == "Node" else namespace
    return {
        "apiVersion": OWNER_API_VERSIONS.get(kind, "v1"),
        "kind": kind,
        "name": name,
        "uid": uid(kind, owner_ns, name),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _condition(
    kind: str, status: bool | str, at: str, reason: str = "", message: str = "", probe: bool = False
) -> dict[str, Any]:
    value = status if isinstance(status, str) else ("True" if status else "False")
    c: dict[str, Any] = {"type": kind, "status": value}
    if probe:
        c["lastProbeTime"] = at
    c["lastTransitionTime"] = at
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


# -- nodes ---------------------------------------------------------------------------------------------
def node(
    name: str,
    pool_label: tuple[str, str] | None = POOL_LABEL,
    ready: bool | str = True,
    unschedulable: bool = False,
    cpu: str = "16",
    memory: str = "64Gi",
    gpus: int = 0,
    labels: dict[str, str] | None = None,
    taints: list[dict[str, Any]] | None = None,
    kubelet: str = "v1.30.6",
    annotations: dict[str, str] | None = None,
    instance_type: str | None = None,
    created: str = CREATED,
) -> dict[str, Any]:
    """A v1 Node as the kubelet and node controller report it. `ready`: True, False or "Unknown" (the
    kubelet stopped reporting); not-ready and cordoned nodes carry the node controller's taints.
    Allocatable equals capacity (so that tests read the numbers they passed)."""
    itype = instance_type or ("p4d.24xlarge" if gpus else "m6i.4xlarge")
    all_labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/instance-type": itype,
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": itype,
        "topology.kubernetes.io/region": "us-east-1",
        "topology.kubernetes.io/zone": "us-east-1a",
    }
    if pool_label:
        all_labels[pool_label[0]] = pool_label[1]
    all_labels.update(labels or {})
    all_annotations = {
        "alpha.kubernetes.io/provided-node-ip": _ip("node", name),
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
        **(annotations or {}),
    }
    spec: dict[str, Any] = {"providerID": f"aws:///us-east-1a/i-0{_hex(16, 'instance', name)}"}
    if unschedulable:
        spec["unschedulable"] = True
    all_taints = _node_taints(ready, unschedulable, created) + list(taints or [])
    if all_taints:
        spec["taints"] = all_taints
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": _meta("Node", name, None, all_labels, all_annotations, created),
        "spec": spec,
        "status": _node_status(name, ready, cpu, memory, gpus, kubelet, created),
    }


def _node_taints(ready: bool | str, unschedulable: bool, at: str) -> list[dict[str, Any]]:
    taints = []
    if unschedulable:
        taints.append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": at})
    if ready is not True:
        key = "node.kubernetes.io/unreachable" if ready == "Unknown" else "node.kubernetes.io/not-ready"
        taints += [
            {"key": key, "effect": "NoSchedule", "timeAdded": at},
            {"key": key, "effect": "NoExecute", "timeAdded": at},
        ]
    return taints


def _node_status(
    name: str, ready: bool | str, cpu: str, memory: str, gpus: int, kubelet: str, at: str
) -> dict[str, Any]:
    capacity = {
        "cpu": cpu,
        "ephemeral-storage": "209702892Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": memory,
        "pods": "110",
    }
    if gpus:
        capacity[GPU] = str(gpus)
    heartbeat = _at(at, 3000)
    pressure = [
        _condition(kind, False, at, reason, message, probe=True)
        for kind, reason, message in (
            ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        )
    ]
    if ready is True:
        ready_condition = _condition("Ready", True, at, "KubeletReady", "kubelet is posting ready status", True)
    elif ready == "Unknown":
        ready_condition = _condition(
            "Ready", "Unknown", at, "NodeStatusUnknown", "Kubelet stopped posting node status.", True
        )
        for c in pressure:
            c.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.")
    else:
        message = "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady"
        ready_condition = _condition("Ready", False, at, "KubeletNotReady", message, True)
    for c in [*pressure, ready_condition]:
        c["lastHeartbeatTime"] = heartbeat
    ip = _ip("node", name)
    return {
        "addresses": [
            {"type": "InternalIP", "address": ip},
            {"type": "InternalDNS", "address": f"ip-{ip.replace('.', '-')}.ec2.internal"},
            {"type": "Hostname", "address": f"ip-{ip.replace('.', '-')}.ec2.internal"},
        ],
        "allocatable": dict(capacity),
        "capacity": capacity,
        "conditions": [*pressure, ready_condition],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "images": [],
        "nodeInfo": {
            "architecture": "amd64",
            "bootID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"boot/{name}")),
            "containerRuntimeVersion": "containerd://1.7.22",
            "kernelVersion": "6.1.112-124.190.amzn2023.x86_64",
            "kubeProxyVersion": kubelet,
            "kubeletVersion": kubelet,
            "machineID": _hex(32, "machine", name),
            "operatingSystem": "linux",
            "osImage": "Amazon Linux 2023.6.20241010",
            "systemUUID": f"ec2{_hex(5, 'uuid', name)}-{_hex(4, 'u2', name)}-{_hex(4, 'u3', name)}-{_hex(4, 'u4', name)}-{_hex(12, 'u5', name)}",
        },
    }


def namespace(name: str, labels: dict[str, str] | None = None, created: str = CREATED) -> dict[str, Any]:
    all_labels = {"kubernetes.io/metadata.name": name, **(labels or {})}
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": _meta("Namespace", name, None, all_labels, None, created),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


# -- pods ----------------------------------------------------------------------------------------------
def pod(
    name: str,
    namespace: str = "default",
    node: str | None = "node-1",
    owner_kind: str | None = None,
    owner_name: str | None = None,
    phase: str | None = None,
    labels: dict[str, str] | None = None,
    cpu: str = "500m",
    memory: str = "1Gi",
    emptydir: bool = False,
    mirror: bool = False,
    daemonset: bool = False,
    terminated: tuple[str, int] | None = None,
    restarts: int = 0,
    image: str = "python:3.11",
    container: str = "main",
    gpus: int = 0,
    annotations: dict[str, str] | None = None,
    created: str = CREATED,
) -> dict[str, Any]:
    """A v1 Pod as the kubelet reports it.

    `phase` None: Running, or with `terminated=(reason, exit_code)` Failed (code ≠ 0) / Succeeded.
    `phase="Running"` with `terminated`: a crash loop (waiting in CrashLoopBackOff, the termination as
    lastState). "Pending": not started (ContainerCreating; unscheduled if `node` is None).
    `daemonset`: owned by a DaemonSet (named from the pod's name unless `owner_name`); `mirror`: a static
    pod's mirror (owned by its Node); `emptydir`: a local-storage volume (what drain refuses by default)."""
    if daemonset:
        owner_kind, owner_name = "DaemonSet", owner_name or name.rsplit("-", 1)[0]
    if mirror:
        owner_kind, owner_name = "Node", node
    phase = phase or ("Running" if terminated is None else ("Succeeded" if terminated[1] == 0 else "Failed"))
    meta = _meta("Pod", name, namespace, labels, _pod_annotations(name, node, mirror, annotations), created)
    if owner_kind and owner_name:
        meta["ownerReferences"] = [owner_ref(owner_kind, owner_name, namespace)]
    if daemonset:
        meta.setdefault("labels", {}).update(
            {"controller-revision-hash": _hex(10, "rev", owner_name), "pod-template-generation": "1"}
        )
    spec = _pod_spec(name, node, owner_kind, cpu, memory, gpus, image, container, emptydir, daemonset or mirror)
    status = _pod_status(name, namespace, node, spec, phase, terminated, restarts, created)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def _pod_annotations(name: str, node: str | None, mirror: bool, extra: dict[str, str] | None) -> dict[str, str] | None:
    out = dict(extra or {})
    if mirror:
        h = _hex(32, "static", name, node)
        out.update(
            {
                "kubernetes.io/config.hash": h,
                "kubernetes.io/config.mirror": h,
                "kubernetes.io/config.seen": "2026-11-20T10:59:00.000000000Z",
                "kubernetes.io/config.source": "file",
            }
        )
    return out or None


def _container(name: str, image: str, cpu: str, memory: str, gpus: int = 0, **extra: Any) -> dict[str, Any]:
    requests: dict[str, str] = {"cpu": cpu, "memory": memory}
    limits: dict[str, str] = {"memory": memory}
    if gpus:
        requests[GPU] = limits[GPU] = str(gpus)
    return {
        "name": name,
        "image": image,
        **extra,
        "imagePullPolicy": "IfNotPresent",
        "resources": {"limits": limits, "requests": requests},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def _pod_spec(
    name: str,
    node: str | None,
    owner_kind: str | None,
    cpu: str,
    memory: str,
    gpus: int,
    image: str,
    container: str,
    emptydir: bool,
    system: bool,
) -> dict[str, Any]:
    token = f"kube-api-access-{_suffix('token', name)}"
    mounts = [{"name": token, "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]
    volumes: list[dict[str, Any]] = [_token_volume(token)]
    if emptydir:
        mounts.insert(0, {"name": "scratch", "mountPath": "/scratch"})
        volumes.insert(0, {"name": "scratch", "emptyDir": {}})
    spec: dict[str, Any] = {
        "containers": [_container(container, image, cpu, memory, gpus, volumeMounts=mounts)],
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "restartPolicy": "Never" if owner_kind in ("Job", "SparkApplication") else "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccount": "default",
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 30,
        "tolerations": DAEMONSET_TOLERATIONS if system else DEFAULT_TOLERATIONS,
        "volumes": volumes,
    }
    if node:
        spec["nodeName"] = node
    return spec


def _token_volume(name: str) -> dict[str, Any]:
    sources = [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {
            "downwardAPI": {
                "items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]
            }
        },
    ]
    return {"name": name, "projected": {"defaultMode": 420, "sources": sources}}


def _image_id(image: str) -> str:
    repo = image.split("@")[0]
    if ":" in repo.rsplit("/", 1)[-1]:
        repo = repo.rsplit(":", 1)[0]
    if "/" not in repo:
        repo = f"library/{repo}"
    if "." not in repo.split("/")[0]:
        repo = f"docker.io/{repo}"
    return f"{repo}@sha256:{_hex(64, 'image', image)}"


def _pod_status(
    name: str,
    namespace: str,
    node: str | None,
    spec: dict[str, Any],
    phase: str,
    terminated: tuple[str, int] | None,
    restarts: int,
    created: str,
) -> dict[str, Any]:
    started = _at(created, 5)
    if node is None:  # unscheduled
        message = "0/3 nodes are available: 3 Insufficient cpu."
        unscheduled = _condition("PodScheduled", False, created, "Unschedulable", message, probe=True)
        return {"phase": "Pending", "conditions": [unscheduled], "qosClass": "Burstable"}
    statuses = [
        container_status(
            c["name"], c["image"], phase, terminated, restarts, started, _hex(64, "cid", namespace, name, c["name"])
        )
        for c in spec["containers"]
    ]
    ready = all(s["ready"] for s in statuses)
    done = phase in ("Succeeded", "Failed")
    why = "PodCompleted" if phase == "Succeeded" else "PodFailed" if phase == "Failed" else "ContainersNotReady"
    unready = f"containers with unready status: [{' '.join(s['name'] for s in statuses if not s['ready'])}]"
    conditions = [
        _condition("PodReadyToStartContainers", phase == "Running", started),
        _condition("Initialized", True, created),
        _condition("Ready", ready, started, *(() if ready else (why, "" if done else unready))),
        _condition("ContainersReady", ready, started, *(() if ready else (why, "" if done else unready))),
        _condition("PodScheduled", True, created),
    ]
    for c in conditions:
        c["lastProbeTime"] = None
    ip, host = _ip("pod", namespace, name), _ip("node", node)
    status: dict[str, Any] = {"phase": phase, "conditions": conditions, "hostIP": host, "hostIPs": [{"ip": host}]}
    if phase != "Pending":
        status.update(podIP=ip, podIPs=[{"ip": ip}])
    status.update(qosClass="Burstable", startTime=created, containerStatuses=statuses)
    return status


def container_status(
    name: str,
    image: str,
    phase: str = "Running",
    terminated: tuple[str, int] | None = None,
    restarts: int = 0,
    started: str = CREATED,
    cid: str | None = None,
) -> dict[str, Any]:
    """A containerStatuses[] entry: running, waiting (Pending, or a crash loop: `terminated` with phase
    Running) or terminated (phase Succeeded/Failed)."""
    container_id = f"containerd://{cid or _hex(64, 'cid', name, image)}"
    finished = _at(started, 300)
    end = terminated or (("Error", 1) if restarts else None)
    last_end = (
        {"terminated": _terminated(end, container_id, started, finished)}
        if end and (restarts or phase == "Running")
        else {}
    )
    if phase == "Pending":
        state, ready, up = {"waiting": {"reason": "ContainerCreating"}}, False, False
    elif phase in ("Succeeded", "Failed"):
        state, ready, up = (
            {"terminated": _terminated(terminated or ("Completed", 0), container_id, started, finished)},
            False,
            False,
        )
        last_end = {"terminated": _terminated(("Error", 1), container_id, started, started)} if restarts else {}
    elif terminated:
        back_off = f"back-off 5m0s restarting failed container={name}"
        state, ready, up = {"waiting": {"reason": "CrashLoopBackOff", "message": back_off}}, False, False
    else:
        state, ready, up = {"running": {"startedAt": _at(started, 1)}}, True, True
    status: dict[str, Any] = {
        "containerID": container_id,
        "image": image
        if "." in image.split("/")[0]
        else f"docker.io/library/{image}"
        if "/" not in image
        else f"docker.io/{image}",
        "imageID": _image_id(image),
        "lastState": last_end,
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "started": up,
        "state": state,
    }
    if phase == "Pending":
        del status["containerID"]
        status["imageID"] = ""
    return status


def _terminated(end: tuple[str, int], container_id: str, started: str, finished: str) -> dict[str, Any]:
    reason, code = end
    return {
        "containerID": container_id,
        "exitCode": code,
        "finishedAt": finished,
        "reason": reason,
        "startedAt": started,
    }


# -- jobs ----------------------------------------------------------------------------------------------
def job(
    name: str,
    namespace: str = "default",
    image: str = "python:3.11",
    env: dict[str, str] | None = None,
    args: list[str] | None = None,
    failed: bool | None = False,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    command: list[str] | None = None,
    cpu: str = "1",
    memory: str = "2Gi",
    gpus: int = 0,
    created: str = CREATED,
) -> dict[str, Any]:
    """A batch/v1 Job with one pod's worth of history: `failed` True (BackoffLimitExceeded, as the Job
    controller writes it), False (Complete) or None (still running). Its pod: `job_pod(job)`."""
    job_uid = uid("Job", namespace, name)
    template_labels = {
        "batch.kubernetes.io/controller-uid": job_uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": job_uid,
        "job-name": name,
    }
    extra: dict[str, Any] = {}
    if command:
        extra["command"] = list(command)
    if args:
        extra["args"] = list(args)
    if env:
        extra["env"] = [{"name": k, "value": v} for k, v in env.items()]
    template_spec = {
        "containers": [_container("main", image, cpu, memory, gpus, **extra)],
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": "Never",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "terminationGracePeriodSeconds": 30,
    }
    spec = {
        "backoffLimit": 0,
        "completionMode": "NonIndexed",
        "completions": 1,
        "manualSelector": False,
        "parallelism": 1,
        "podReplacementPolicy": "TerminatingOrFailed",
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": job_uid}},
        "suspend": False,
        "template": {"metadata": {"labels": template_labels}, "spec": template_spec},
    }
    meta = _meta("Job", name, namespace, labels or template_labels, annotations, created, generation=1)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": spec,
        "status": _job_status(failed, created),
    }


def _job_status(failed: bool | None, created: str) -> dict[str, Any]:
    start, end = _at(created, 2), _at(created, 300)
    base: dict[str, Any] = {"startTime": start, "terminating": 0, "uncountedTerminatedPods": {}}
    if failed is None:
        return {**base, "active": 1, "ready": 1}
    if failed:
        message = "Job has reached the specified backoff limit"
        conditions = [
            _condition("FailureTarget", True, end, "BackoffLimitExceeded", message, probe=True),
            _condition("Failed", True, end, "BackoffLimitExceeded", message, probe=True),
        ]
        return {**base, "conditions": conditions, "failed": 1, "ready": 0}
    message = "Reached expected number of succeeded pods"
    conditions = [
        _condition("SuccessCriteriaMet", True, end, "CompletionsReached", message, probe=True),
        _condition("Complete", True, end, "CompletionsReached", message, probe=True),
    ]
    return {**base, "completionTime": end, "conditions": conditions, "ready": 0, "succeeded": 1}


def job_pod(
    job_obj: dict[str, Any], node: str | None = "node-1", terminated: tuple[str, int] | None = None
) -> dict[str, Any]:
    """The pod a Job made (its template, labels, owner); its end follows the Job's conditions unless
    `terminated=(reason, exit_code)` says otherwise (e.g. ("OOMKilled", 137))."""
    meta, spec = job_obj["metadata"], job_obj["spec"]
    name, namespace = meta["name"], meta["namespace"]
    conditions = {c["type"] for c in job_obj.get("status", {}).get("conditions") or []}
    if terminated is None and "Failed" in conditions:
        terminated = ("Error", 1)
    elif terminated is None and "Complete" in conditions:
        terminated = ("Completed", 0)
    main = spec["template"]["spec"]["containers"][0]
    requests = main["resources"]["requests"]
    p = pod(
        f"{name}-{_suffix('job', namespace, name)}",
        namespace,
        node,
        "Job",
        name,
        labels=spec["template"]["metadata"]["labels"],
        cpu=requests["cpu"],
        memory=requests["memory"],
        gpus=int(requests.get(GPU, 0)),
        image=main["image"],
        terminated=terminated,
        created=_at(meta["creationTimestamp"], 1),
    )
    container = p["spec"]["containers"][0]
    container.update({k: main[k] for k in ("command", "args", "env") if k in main})
    return p


# -- Spark ---------------------------------------------------------------------------------------------
def spark_application(
    name: str,
    namespace: str = "default",
    spark_conf: dict[str, str] | None = None,
    driver_cores: int = 1,
    driver_memory: str = "512m",
    executor_cores: int = 1,
    executor_memory: str = "512m",
    executor_instances: int = 2,
    state: str = "COMPLETED",
    error: str | None = None,
    image: str = "spark:3.5.3",
    main_file: str = "local:///opt/spark/examples/src/main/python/pi.py",
    app_type: str = "Python",
    arguments: list[str] | None = None,
    labels: dict[str, str] | None = None,
    attempts: int = 1,
    created: str = CREATED,
) -> dict[str, Any]:
    """A sparkoperator.k8s.io/v1beta2 SparkApplication as the Spark Operator leaves it: `state` one of
    its ApplicationStateType values (COMPLETED, FAILED, RUNNING, SUBMITTED, SUBMISSION_FAILED…),
    `error` the errorMessage of a failure. Its driver pod: `spark_driver_pod(app)`."""
    spec: dict[str, Any] = {
        "type": app_type,
        "mode": "cluster",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "mainApplicationFile": main_file,
        "sparkVersion": image.rsplit(":", 1)[-1] if ":" in image else "3.5.3",
        "restartPolicy": {"type": "Never"},
        "driver": {"cores": driver_cores, "memory": driver_memory, "serviceAccount": "spark-operator-spark"},
        "executor": {"cores": executor_cores, "instances": executor_instances, "memory": executor_memory},
    }
    if app_type in ("Scala", "Java"):
        spec["mainClass"] = "org.apache.spark.examples.SparkPi"
    if arguments:
        spec["arguments"] = list(arguments)
    if spark_conf:
        spec["sparkConf"] = dict(spark_conf)
    meta = _meta("SparkApplication", name, namespace, labels, None, created, generation=1)
    status = _spark_status(name, namespace, state, error, executor_instances, attempts, created)
    return {"apiVersion": SPARK_API, "kind": "SparkApplication", "metadata": meta, "spec": spec, "status": status}


def _spark_status(
    name: str, namespace: str, state: str, error: str | None, executors: int, attempts: int, created: str
) -> dict[str, Any]:
    app_id = f"spark-{_hex(32, 'app', namespace, name)}"
    applied: dict[str, Any] = {"state": state}
    if error:
        applied["errorMessage"] = error
    status: dict[str, Any] = {
        "applicationState": applied,
        "driverInfo": {
            "podName": f"{name}-driver",
            "webUIAddress": f"{_ip('svc', namespace, name)}:4040",
            "webUIPort": 4040,
            "webUIServiceName": f"{name}-ui-svc",
        },
        "executionAttempts": attempts,
        "lastSubmissionAttemptTime": _at(created, 1),
        "sparkApplicationId": app_id,
        "submissionAttempts": attempts,
        "submissionID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"submission/{namespace}/{name}/{attempts}")),
    }
    if state in ("COMPLETED", "FAILED", "SUBMISSION_FAILED"):
        status["terminationTime"] = _at(created, 600)
    if state != "SUBMISSION_FAILED":
        executor_state = {"COMPLETED": "COMPLETED", "FAILED": "FAILED"}.get(state, "RUNNING")
        status["executorState"] = {
            f"{name}-{_hex(16, 'exec', name)}-exec-{i + 1}": executor_state for i in range(executors)
        }
    return status


def spark_driver_pod(
    app: dict[str, Any], node: str | None = "node-1", terminated: tuple[str, int] | None = None
) -> dict[str, Any]:
    """The driver pod the Spark Operator made for an application (owned by it); its end follows the
    application's state unless `terminated=(reason, exit_code)` says otherwise."""
    meta, spec, status = app["metadata"], app["spec"], app["status"]
    name, namespace = meta["name"], meta["namespace"]
    state = status["applicationState"]["state"]
    if terminated is None and state == "FAILED":
        terminated = ("Error", 1)
    elif terminated is None and state == "COMPLETED":
        terminated = ("Completed", 0)
    labels = {
        "spark-app-name": name,
        "spark-app-selector": status.get("sparkApplicationId", ""),
        "spark-role": "driver",
        "spark-version": spec.get("sparkVersion", ""),
        "sparkoperator.k8s.io/app-name": name,
        "sparkoperator.k8s.io/launched-by-spark-operator": "true",
        "sparkoperator.k8s.io/submission-id": status.get("submissionID", ""),
    }
    driver = spec.get("driver") or {}
    mib = _spark_mib(driver.get("memory", "1g"))
    return pod(
        status["driverInfo"]["podName"],
        namespace,
        node,
        "SparkApplication",
        name,
        labels=labels,
        cpu=str(driver.get("cores", 1)),
        memory=f"{mib + max(384, mib // 10)}Mi",
        image=spec.get("image", "spark:3.5.3"),
        container="spark-kubernetes-driver",
        terminated=terminated,
        created=_at(meta["creationTimestamp"], 2),
    )


def _spark_mib(text: str) -> int:
    """Spark's memory notation ("512m", "4g") in MiB."""
    m = re.fullmatch(r"(\d+)([kmgt]?)b?", text.strip().lower())
    if not m:
        return 1024
    factor = {"k": 1 / 1024, "": 1 / 2**20, "m": 1, "g": 1024, "t": 2**20}[m[2]]
    return int(int(m[1]) * factor)


# -- workloads -----------------------------------------------------------------------------------------
def deployment(
    name: str,
    namespace: str = "default",
    labels: dict[str, str] | None = None,
    replicas: int = 1,
    image: str = "nginx:1.27",
    ready_replicas: int | None = None,
    revision: int = 1,
    annotations: dict[str, str] | None = None,
    cpu: str = "250m",
    memory: str = "512Mi",
    created: str = CREATED,
) -> dict[str, Any]:
    """An apps/v1 Deployment, rolled out (`ready_replicas` None: all ready) at `revision`."""
    ready = replicas if ready_replicas is None else ready_replicas
    selector = {"app": name}
    all_annotations = {"deployment.kubernetes.io/revision": str(revision), **(annotations or {})}
    meta = _meta("Deployment", name, namespace, labels or selector, all_annotations, created, generation=revision)
    template = {
        "metadata": {"labels": {**selector, **(labels or {})}},
        "spec": {
            "containers": [_container(name, image, cpu, memory)],
            "dnsPolicy": "ClusterFirst",
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "terminationGracePeriodSeconds": 30,
        },
    }
    spec = {
        "progressDeadlineSeconds": 600,
        "replicas": replicas,
        "revisionHistoryLimit": 10,
        "selector": {"matchLabels": selector},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        "template": template,
    }
    rs_name = f"{name}-{_template_hash(name, revision)}"
    available = ready == replicas
    at = _at(created, 60)
    conditions = [
        _condition(
            "Available",
            available,
            at,
            "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
            "Deployment has minimum availability." if available else "Deployment does not have minimum availability.",
        ),
        _condition(
            "Progressing", True, at, "NewReplicaSetAvailable", f'ReplicaSet "{rs_name}" has successfully progressed.'
        ),
    ]
    for c in conditions:
        c["lastUpdateTime"] = at
    status: dict[str, Any] = {"observedGeneration": revision, "replicas": replicas, "updatedReplicas": replicas}
    if ready:
        status.update(readyReplicas=ready, availableReplicas=ready)
    if replicas - ready:
        status["unavailableReplicas"] = replicas - ready
    status["conditions"] = conditions
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec, "status": status}


def _template_hash(name: str, revision: int) -> str:
    return _suffix("pod-template-hash", name, revision) + _hex(5, "pth", name, revision)[:5]


def replicaset(
    dep: dict[str, Any],
    revision: int | None = None,
    replicas: int | None = None,
    ready_replicas: int | None = None,
    image: str | None = None,
) -> dict[str, Any]:
    """The ReplicaSet of a Deployment's revision (the current one unless `revision`), owned by it."""
    dmeta, dspec = dep["metadata"], dep["spec"]
    name, namespace = dmeta["name"], dmeta["namespace"]
    current = int(dmeta["annotations"]["deployment.kubernetes.io/revision"])
    revision = revision or current
    pth = _template_hash(name, revision)
    count = (dspec["replicas"] if revision == current else 0) if replicas is None else replicas
    ready = count if ready_replicas is None else ready_replicas
    template = _with_hash(dspec["template"], pth, image)
    annotations = {
        "deployment.kubernetes.io/desired-replicas": str(dspec["replicas"]),
        "deployment.kubernetes.io/max-replicas": str(dspec["replicas"] + max(1, -(-dspec["replicas"] // 4))),
        "deployment.kubernetes.io/revision": str(revision),
    }
    rs_name = f"{name}-{pth}"
    labels = template["metadata"]["labels"]
    meta = _meta(
        "ReplicaSet", rs_name, namespace, labels, annotations, dmeta["creationTimestamp"], ("Deployment", name), 1
    )
    spec = {
        "replicas": count,
        "selector": {"matchLabels": {**dspec["selector"]["matchLabels"], "pod-template-hash": pth}},
        "template": template,
    }
    status: dict[str, Any] = {"fullyLabeledReplicas": count, "observedGeneration": 1, "replicas": count}
    if ready:
        status.update(readyReplicas=ready, availableReplicas=ready)
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta, "spec": spec, "status": status}


def _with_hash(template: dict[str, Any], pth: str, image: str | None) -> dict[str, Any]:
    spec = dict(template["spec"])
    if image:
        spec["containers"] = [{**spec["containers"][0], "image": image}, *spec["containers"][1:]]
    return {"metadata": {"labels": {**template["metadata"]["labels"], "pod-template-hash": pth}}, "spec": spec}


def daemonset(
    name: str,
    namespace: str = "kube-system",
    image: str = "fluent/fluent-bit:3.1",
    nodes: int = 1,
    created: str = CREATED,
) -> dict[str, Any]:
    """An apps/v1 DaemonSet running on `nodes` nodes (owner of `pod(..., daemonset=True)`)."""
    selector = {"app": name}
    template = {
        "metadata": {"labels": selector},
        "spec": {
            "containers": [_container(name, image, "100m", "128Mi")],
            "restartPolicy": "Always",
            "tolerations": DAEMONSET_TOLERATIONS,
        },
    }
    spec = {
        "revisionHistoryLimit": 10,
        "selector": {"matchLabels": selector},
        "template": template,
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
    }
    status = {
        "currentNumberScheduled": nodes,
        "desiredNumberScheduled": nodes,
        "numberAvailable": nodes,
        "numberMisscheduled": 0,
        "numberReady": nodes,
        "observedGeneration": 1,
        "updatedNumberScheduled": nodes,
    }
    meta = _meta(
        "DaemonSet", name, namespace, selector, {"deprecated.daemonset.template.generation": "1"}, created, generation=1
    )
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta, "spec": spec, "status": status}


def pdb(
    name: str,
    namespace: str,
    match_labels: dict[str, str],
    min_available: int | str | None = 1,
    max_unavailable: int | str | None = None,
    healthy: int | None = None,
    created: str = CREATED,
) -> dict[str, Any]:
    """A policy/v1 PodDisruptionBudget. Its status (what the disruption controller last counted) says
    `healthy` pods (default: just enough); the emulator counts the pods itself when evicting."""
    spec: dict[str, Any] = {"selector": {"matchLabels": dict(match_labels)}}
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    elif min_available is not None:
        spec["minAvailable"] = min_available
    wanted = min_available if isinstance(min_available, int) else 1
    current = wanted if healthy is None else healthy
    allowed = max(0, current - wanted)
    at = _at(created, 5)
    reason, message = ("SufficientPods", "") if allowed else ("InsufficientPods", "")
    status = {
        "conditions": [_condition("DisruptionAllowed", bool(allowed), at, reason, message)],
        "currentHealthy": current,
        "desiredHealthy": wanted,
        "disruptionsAllowed": allowed,
        "expectedPods": current,
        "observedGeneration": 1,
    }
    status["conditions"][0].update(
        observedGeneration=1, reason=reason, message=message
    )  # metav1.Condition: both required
    meta = _meta("PodDisruptionBudget", name, namespace, None, None, created, generation=1)
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta, "spec": spec, "status": status}


def event(
    namespace: str,
    kind: str,
    name: str,
    type: str = "Warning",
    reason: str = "BackOff",
    message: str = "Back-off restarting failed container main",
    count: int = 1,
    at: str = CREATED,
    component: str = "kubelet",
    host: str | None = None,
) -> dict[str, Any]:
    """A core v1 Event about an object (kind, name) the builders made, as the kubelet or a controller
    records it."""
    event_name = f"{name}.{_hex(16, 'event', namespace, kind, name, reason, at)}"
    involved = {
        "apiVersion": OWNER_API_VERSIONS.get(kind, "v1"),
        "kind": kind,
        "name": name,
        "namespace": namespace,
        "uid": uid(kind, namespace, name),
    }
    source: dict[str, str] = {"component": component}
    if host:
        source["host"] = host
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": _meta("Event", event_name, namespace, None, None, at),
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": at,
        "lastTimestamp": at,
        "count": count,
        "type": type,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": host or "",
    }


def inference_service(
    name: str,
    namespace: str = "default",
    storage_uri: str = "gs://models/ranker/1",
    labels: dict[str, str] | None = None,
    min_replicas: int = 1,
    max_replicas: int = 3,
    ready: bool = True,
    created: str = CREATED,
) -> dict[str, Any]:
    """A KServe serving.kserve.io/v1beta1 InferenceService with a model-format predictor, rolled out."""
    at = _at(created, 90)
    status = "True" if ready else "False"
    revision = f"{name}-predictor-00001"
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": _meta("InferenceService", name, namespace, labels, None, created, generation=1),
        "spec": {
            "predictor": {
                "minReplicas": min_replicas,
                "maxReplicas": max_replicas,
                "model": {"modelFormat": {"name": "sklearn"}, "storageUri": storage_uri},
            }
        },
        "status": {
            "url": f"http://{name}.{namespace}.example.com",
            "components": {
                "predictor": {
                    "latestCreatedRevision": revision,
                    "latestReadyRevision": revision,
                    "latestRolledoutRevision": revision,
                    "traffic": [{"latestRevision": True, "percent": 100, "revisionName": revision}],
                }
            },
            "conditions": [
                {"lastTransitionTime": at, "status": status, "type": t}
                for t in ("IngressReady", "PredictorReady", "Ready")
            ],
            "observedGeneration": 1,
        },
    }
