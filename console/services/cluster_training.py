"""A model's training as a Kubernetes Job (core.backends.kube.training): submitted with the settings'
image, resources and artifact claim, followed through its state and its pod's log (the epochs reported as
progress), cancelled by deleting it, and on success its artifact taken from the shared storage — checked
against the digest the pod wrote and read as tensors only — for ModelService to register."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import clock
from core.errors import BadInput, ClusterError, ConsoleError, NotFound

POLL_SECONDS = 2.0


@dataclass
class ClusterTraining:
    """A finished training on the cluster: where its artifact lies here, and what its pod reported."""

    job: str  # namespace/name
    artifact: Path
    result: dict[str, Any]


def job_name(model: str) -> str:
    """train-MODEL-YYYYMMDD-HHMMSS-xxxx: unique, a DNS-1123 label (≤ 63), sortable by when."""
    stamp = clock.now().strftime("%Y%m%d-%H%M%S")
    return f"train-{model[:30]}-{stamp}-{uuid.uuid4().hex[:4]}".lower()


def pod_data_path(settings: Any, data_path: str | None) -> str | None:
    """`data_path` as a path inside the artifact storage this machine shares with the pod (it must lie there)."""
    if not data_path:
        return None
    local, shared = Path(data_path).resolve(), Path(settings.training_artifact_dir).resolve()
    if not local.is_relative_to(shared):
        raise BadInput(
            f"--data {data_path}: a training on the cluster reads its data from the artifact storage; "
            f"copy it under training_artifact_dir ({shared}) or train here with --here"
        )
    return local.relative_to(shared).as_posix()


def check_settings(settings: Any) -> None:
    missing = [
        k for k in ("training_image", "training_artifact_claim", "training_artifact_dir") if not getattr(settings, k)
    ]
    if missing:
        raise BadInput(
            "training on the Kubernetes cluster needs " + ", ".join(missing) + " set "
            "(docs/kubernetes.md#training-on-the-cluster), or train on this machine with --here"
        )
    if not Path(settings.training_artifact_dir).is_dir():
        raise BadInput(f"training_artifact_dir {settings.training_artifact_dir}: not a directory here")


def spec_for(
    settings: Any, cluster: Any, model: str, params: dict[str, Any], seed: int, data: str | None, user: str
) -> Any:
    """The training Job the settings make of one training (core.lifecycle.job.TrainingSpec)."""
    from core.lifecycle.job import TrainingSpec

    return TrainingSpec(
        name=job_name(model),
        namespace=settings.training_namespace or getattr(cluster, "namespace", None) or "default",
        image=settings.training_image,
        model=model,
        seed=seed,
        params=params,
        claim=settings.training_artifact_claim,
        user=user,
        data=data,
        cpu=settings.training_cpu,
        memory=settings.training_memory,
        gpus=settings.training_gpus,
        deadline_seconds=settings.training_deadline_seconds,
    )


def run(
    jobs: Any,
    spec: Any,
    settings: Any,
    progress: Callable[[int, int, float, float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    note: Callable[[str], None] | None = None,
    poll_seconds: float | None = None,
) -> ClusterTraining:
    """Submit the Job (spec: core.lifecycle.job.TrainingSpec) and follow it to its end. A cancel
    (or Ctrl-C) deletes it. `note(text)` hears that it was created and why it is not running yet
    (ImagePullBackOff, Unschedulable, …)."""
    from core.lifecycle import job as training_job
    from core.lifecycle.train import Cancelled

    where = f"{spec.namespace}/{spec.name}"
    said, last, unreachable = "", None, ""
    # past its deadline the Job controller fails it; a console that never hears so stops following anyway
    give_up = time.monotonic() + spec.deadline_seconds + 300
    ended = False
    try:
        jobs.create(spec)
        if note:
            note(f"training Job {where} created (kubectl logs -f -n {spec.namespace} job/{spec.name})")
        while True:
            if time.monotonic() > give_up:
                raise ClusterError(
                    f"training Job {where} has not ended {spec.deadline_seconds + 300} s after it was created, "
                    "past its activeDeadlineSeconds: is the cluster's Job controller running? (deleted)"
                )
            if cancelled and cancelled():
                raise Cancelled(f"training Job {where} cancelled and deleted; nothing was registered")
            try:
                state = jobs.state(spec.namespace, spec.name)
            except NotFound:
                ended = True  # someone else deleted it: nothing of ours to clean up
                raise ClusterError(
                    f"training Job {where} was deleted by someone else; nothing was registered"
                ) from None
            except ClusterError as e:  # the API is away for a while: the Job runs on, keep following it
                if note and str(e) != unreachable:
                    note(f"training Job {where}: {e}; still following")
                unreachable = str(e)
                time.sleep(poll_seconds or POLL_SECONDS)
                continue
            if state.pod and state.phase in ("running", "succeeded", "failed"):
                try:  # the progress bar only: a log that cannot be read now never holds up the Job's end
                    p = training_job.last_progress(jobs.log(spec.namespace, state.pod, 20))
                except ConsoleError:
                    p = None
                if p and p != last and progress:
                    progress(*p)
                last = p or last
            reason = state.why.split(":")[0]
            if state.phase == "pending" and reason != said and note:
                note(f"training Job {where} waiting: {state.why}")
            said = reason
            if state.phase == "succeeded":
                ended = True
                break
            if state.phase == "failed":
                ended = not state.stuck
                tail = _tail(jobs, spec.namespace, state.pod)
                raise ClusterError(
                    f"training Job {where} failed — {state.why}" + (f"; its log ends: {tail}" if tail else "")
                )
            time.sleep(poll_seconds or POLL_SECONDS)
    except BaseException:
        # a cancel, Ctrl-C, SIGTERM (the TUI's worker), or anything unforeseen: no training runs on unwatched
        if not ended:
            with contextlib.suppress(ConsoleError):
                jobs.delete(spec.namespace, spec.name)
        raise
    return collect(where, Path(settings.training_artifact_dir) / "jobs" / spec.name)


def _tail(jobs: Any, namespace: str, pod: str | None) -> str:
    """The last lines of a failed pod's log, or "" (a pod that never started has none to give)."""
    if not pod:
        return ""
    try:
        return jobs.log(namespace, pod, 5).strip()[-500:]
    except ConsoleError:
        return ""


def collect(where: str, out: Path) -> ClusterTraining:
    """The finished Job's result and artifact, the artifact's digest and tensor-only layout checked."""
    from core import artifacts
    from core.lifecycle.job import ARTIFACT, RESULT

    try:
        result = json.loads((out / RESULT).read_text())
        sha256 = str(result["sha256"])
        if not isinstance(result.get("metrics"), dict) or not isinstance(result.get("environment", {}), dict):
            raise ValueError("metrics and environment must be objects")
        float(result["metrics"]["accuracy"])
    except FileNotFoundError:
        raise ConsoleError(
            f"training Job {where} succeeded but left no {out / RESULT}: is training_artifact_dir the storage "
            "training_artifact_claim mounts?"
        ) from None
    except (ValueError, KeyError, TypeError, OSError) as e:
        raise ConsoleError(f"training Job {where}: {out / RESULT} is not a result this version wrote ({e})") from None
    artifacts.load(out / ARTIFACT, sha256, f"the training Job {where} left a different file; train again")
    return ClusterTraining(where, out / ARTIFACT, result)
