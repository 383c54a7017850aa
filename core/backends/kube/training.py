"""Training on the cluster: the batch/v1 Job that runs core.lifecycle.job, and what the console reads of it
while it runs (its state, its pod's waiting reason, its log). docs/kubernetes.md#training-on-the-cluster.

The Job's pod writes its artifact to a PersistentVolumeClaim mounted at MOUNT; the console reads the same
storage where it has it mounted (the `training_artifact_dir` setting) and registers the version."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from core.backends.kube import mapping as m
from core.backends.kube.api import Api, ns_path
from core.errors import BadInput, NotFound
from core.lifecycle.job import TrainingSpec

BATCH, CORE = "/apis/batch/v1", "/api/v1"
MOUNT = "/mlops/artifacts"
TRAINING_LABEL = "mlops-console.io/training"
REQUESTED_BY = "mlops-console.io/requested-by"
#: a Kubernetes quantity as the API server parses it (apimachinery's resource.Quantity)
QUANTITY = re.compile(r"[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?")
TRAINER_UID = 10001  # deploy/trainer.Dockerfile's USER
#: a container waiting for one of these never starts: the training has failed, not pending
NEVER_STARTS = ("CreateContainerConfigError", "CreateContainerError", "InvalidImageName", "ErrImageNeverPull")
MANAGED = {"app.kubernetes.io/managed-by": "mlops-console", "app.kubernetes.io/component": "training"}


def job_body(s: TrainingSpec) -> dict[str, Any]:
    """The Job: one pod, never retried by the controller (backoffLimit 0: a failed training is reported
    with its log, not run again unseen), ended by activeDeadlineSeconds, collected a day after it ends."""
    labels = {**MANAGED, TRAINING_LABEL: s.model, **s.extra_labels}
    args = ["--model", s.model, "--seed", str(s.seed), "--out", f"{MOUNT}/jobs/{s.name}"]
    for k, v in sorted(s.params.items()):
        args += ["--param", f"{k}={v}"]
    if s.data:
        args += ["--data", f"{MOUNT}/{s.data}"]
    args += ["--device", "cuda" if s.gpus else "cpu"]
    limits: dict[str, str] = {"memory": s.memory}
    if s.gpus:
        limits[m.GPU] = str(s.gpus)
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        # the "restricted" Pod Security profile; the group owns what it writes on the claim's volume
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": TRAINER_UID,
            "runAsGroup": TRAINER_UID,
            "fsGroup": TRAINER_UID,
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "train",
                "image": s.image,
                "command": ["python", "-m", "core.lifecycle.job"],
                "args": args,
                "env": [
                    {"name": "PYTHONUNBUFFERED", "value": "1"},
                    # cuBLAS is deterministic only with a fixed workspace, set before CUDA starts
                    {"name": "CUBLAS_WORKSPACE_CONFIG", "value": ":4096:8"},
                ],
                "resources": {"requests": {"cpu": s.cpu, "memory": s.memory}, "limits": limits},
                "volumeMounts": [{"name": "artifacts", "mountPath": MOUNT}],
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
        "volumes": [{"name": "artifacts", "persistentVolumeClaim": {"claimName": s.claim}}],
    }
    if s.gpus:  # GPU nodes are commonly tainted so that only pods asking for GPUs land there
        pod_spec["tolerations"] = [{"key": m.GPU, "operator": "Exists"}]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": s.name,
            "namespace": s.namespace,
            "labels": labels,
            "annotations": {REQUESTED_BY: s.user, "mlops-console.io/params": json.dumps(s.params, sort_keys=True)},
        },
        "spec": {
            "backoffLimit": 0,
            # a pod taken away (a drain, a preempted spot node) is not the training's failure: run it again
            "podFailurePolicy": {
                "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]
            },
            "activeDeadlineSeconds": s.deadline_seconds,
            "ttlSecondsAfterFinished": 86400,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


@dataclass
class JobState:
    """Where a training Job stands: phase is pending (no pod running yet), running, succeeded or failed;
    `why` is the Failed condition's reason and message, or a pending pod's waiting reason."""

    phase: str
    why: str = ""
    pod: str | None = None
    stuck: bool = False  # failed for good, yet the Job is still active: the console deletes it


class TrainingJobs:
    def __init__(self, api: Api):
        self.api = api

    def create(self, spec: TrainingSpec) -> None:
        """The Job, checked against the API's schema first: a setting the API would refuse is said before
        anything is sent."""
        from core.lifecycle.package import validate_manifests

        for key, value in (("training_cpu", spec.cpu), ("training_memory", spec.memory)):
            if not QUANTITY.fullmatch(value) or m.quantity(value) <= 0:
                raise BadInput(f"{key} {value!r}: not a Kubernetes quantity (e.g. 2, 500m, 4Gi)")
        body = job_body(spec)
        problems = validate_manifests([body])
        if problems:
            raise BadInput("training Job: " + "; ".join(problems) + " (check the training_* settings)")
        self.api.create(ns_path(BATCH, "jobs", spec.namespace), body)

    def delete(self, namespace: str, name: str) -> None:
        """The Job and its pods (a Job left alone orphans its pods)."""
        try:
            self.api.delete(ns_path(BATCH, "jobs", namespace, name), propagationPolicy="Background")
        except NotFound:
            pass

    def state(self, namespace: str, name: str) -> JobState:
        job = self.api.get(ns_path(BATCH, "jobs", namespace, name))
        status = job.get("status") or {}
        conds = {c.get("type"): c for c in status.get("conditions") or [] if c.get("status") == "True"}
        pod = self._newest_pod(namespace, name)
        pod_name = (pod or {}).get("metadata", {}).get("name")
        if "Complete" in conds:
            return JobState("succeeded", pod=pod_name)
        if "Failed" in conds:
            c = conds["Failed"]
            reason, code = m.termination(pod) if pod else (None, None)
            killed = f"; the container ended {reason} (exit {code})" if reason else ""
            return JobState("failed", f"{c.get('reason', 'Failed')}: {c.get('message', '')}{killed}", pod_name)
        if pod is None:
            return JobState("pending", "no pod yet", None)
        waiting = _waiting(pod)
        if waiting.startswith(NEVER_STARTS):
            return JobState("failed", f"its pod cannot start — {waiting}", pod_name, stuck=True)
        if waiting or (pod.get("status") or {}).get("phase") == "Pending":
            return JobState("pending", waiting or "Pending", pod_name)
        return JobState("running", pod=pod_name)

    def log(self, namespace: str, pod: str, tail_lines: int = 200) -> str:
        try:
            return self.api.text(ns_path(CORE, "pods", namespace, pod) + "/log", tailLines=tail_lines, limitBytes=65536)
        except NotFound:
            return ""

    def _newest_pod(self, namespace: str, job: str) -> dict[str, Any] | None:
        pods = list(
            self.api.items(ns_path(CORE, "pods", namespace), labelSelector=f"batch.kubernetes.io/job-name={job}")
        )
        pods = [
            p
            for p in pods
            if ((p.get("metadata") or {}).get("labels") or {}).get("batch.kubernetes.io/job-name") == job
        ]
        return max(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""), default=None)


def _waiting(pod: dict[str, Any]) -> str:
    """A pod's reason to wait (ImagePullBackOff, Unschedulable: …), "" when it has none."""
    status = pod.get("status") or {}
    for s in status.get("containerStatuses") or []:
        w = (s.get("state") or {}).get("waiting")
        if w:
            return f"{w.get('reason', 'Waiting')}: {w.get('message', '')}".rstrip(": ")
    for c in status.get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            return f"{c.get('reason', 'Unschedulable')}: {c.get('message', '')}".rstrip(": ")
    return ""
