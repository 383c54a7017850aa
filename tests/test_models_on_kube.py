"""Training on a Kubernetes backend: `models train` submits a batch/v1 Job through the official client to the
emulator over HTTP, follows it and registers what its pod made. The emulator runs no controllers, so the
test plays the Job controller and the kubelet: it runs the Job's own command here, with the claim's mount
mapped onto a shared directory, serves the output as the pod's log and writes the Job's end."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import kube_objects as k
import pytest
from conftest import REPO, Cli
from kubeemu import KubeEmulator
from test_kube import _asked_allowed_by_the_roles

from console.engine import Engine
from console.services import cluster_training
from console.settings import load
from core.backends.kube.training import MOUNT
from core.errors import BadInput, ClusterError
from core.lifecycle.package import validate_manifests
from core.lifecycle.train import Cancelled

JOBS = "batch/v1/jobs"
NS = "ml"


@pytest.fixture
def emu():
    with KubeEmulator() as e:
        e.add(k.namespace(NS), k.node("gpu-1", gpus=4))
        yield e


@pytest.fixture
def setup(emu, tmp_path, monkeypatch):
    monkeypatch.setattr(cluster_training, "POLL_SECONDS", 0.05)
    shared = tmp_path / "shared"
    shared.mkdir()
    settings = {
        "home": str(tmp_path / "home"),
        "user": "erin",
        "kubeconfig": str(emu.kubeconfig(tmp_path / "kubeconfig", namespace=NS)),
        "training_image": "registry.local/mlops-console:0.9",
        "training_artifact_claim": "model-artifacts",
        "training_artifact_dir": str(shared),
        "training_cpu": "3",
        "training_memory": "6Gi",
        "training_gpus": 1,
        "training_deadline_seconds": 1800,
    }
    return settings, shared


def _until(predicate, tries: int = 600):
    import time

    for _ in range(tries):  # up to ~30 s: a bound on waiting, not a timing test
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition never held")


class Training(threading.Thread):
    """`engine.model_train` on a thread of its own, as the TUI's worker runs it."""

    def __init__(self, settings: dict, cancel: threading.Event | None = None, **kw):
        super().__init__(daemon=True)
        self.engine = Engine(load(settings))
        self.kw, self.cancel, self.progress, self.notes = kw, cancel or threading.Event(), [], []
        self.result = self.error = None

    def run(self):
        try:
            self.result = self.engine.model_train(
                "cancer-mlp",
                progress=lambda *p: self.progress.append(p),
                cancelled=self.cancel.is_set,
                note=self.notes.append,
                **self.kw,
            )
        except Exception as e:
            self.error = e


def _the_job(emu) -> dict:
    jobs = _until(lambda: list(emu.objects(JOBS).values()))
    assert len(jobs) == 1
    return jobs[0]


def _start_pod(emu, job: dict, log: str, terminated=None) -> str:
    """The pod the Job controller would make (its job-name label), with `log` as what it printed."""
    pod = k.job_pod(job, node="gpu-1", terminated=terminated)
    name = job["metadata"]["name"]
    pod["metadata"]["labels"] = {**pod["metadata"]["labels"], "batch.kubernetes.io/job-name": name, "job-name": name}
    emu.add(pod)
    emu.set_log(NS, pod["metadata"]["name"], log)
    return pod["metadata"]["name"]


def _end(emu, job: dict, condition: str, reason: str, message: str) -> None:
    at = "2026-11-20T12:05:00Z"
    emu.patch(
        JOBS,
        NS,
        job["metadata"]["name"],
        {
            "status": {
                "conditions": [
                    {
                        "type": condition,
                        "status": "True",
                        "reason": reason,
                        "message": message,
                        "lastTransitionTime": at,
                        "lastProbeTime": at,
                    }
                ]
            }
        },
    )


def _kubelet(job: dict, shared) -> str:
    """The Job's container run here, its mount mapped onto the shared directory: what it printed."""
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    argv = [a.replace(MOUNT, str(shared)) for a in args]
    argv[argv.index("--device") + 1] = "cpu"
    ran = subprocess.run(
        [sys.executable, "-m", "core.lifecycle.job", *argv], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


def _submitted(emu, settings: dict, **kw) -> tuple[Training, dict]:
    """A training started on its thread, and the Job it created."""
    t = Training(settings, **kw)
    t.start()
    return t, _the_job(emu)


def test_a_training_runs_as_a_job_with_the_settings_spec_and_registers_what_its_pod_made(emu, setup):
    settings, shared = setup
    t, job = _submitted(emu, settings, params={"epochs": "3"}, seed=5)

    sent = emu.bodies("POST", f"/apis/batch/v1/namespaces/{NS}/jobs")[0]
    assert validate_manifests([sent]) == []
    name = sent["metadata"]["name"]
    assert name.startswith("train-cancer-mlp-")
    assert sent["metadata"]["labels"]["mlops-console.io/training"] == "cancer-mlp"
    assert sent["metadata"]["annotations"]["mlops-console.io/requested-by"] == "erin"
    spec = sent["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"]) == (0, 1800)
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["volumes"] == [{"name": "artifacts", "persistentVolumeClaim": {"claimName": "model-artifacts"}}]
    assert {"key": "nvidia.com/gpu", "operator": "Exists"} in pod["tolerations"]  # whatever the taint's effect
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["seccompProfile"] == {
        "type": "RuntimeDefault"
    }
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsUser"]  # it may write on the claim
    [rule] = spec["podFailurePolicy"]["rules"]  # a drained or preempted pod is not the training's failure
    assert rule["action"] == "Ignore" and rule["onPodConditions"][0]["type"] == "DisruptionTarget"
    c = pod["containers"][0]
    assert c["image"] == "registry.local/mlops-console:0.9"
    assert c["command"] == ["python", "-m", "core.lifecycle.job"]
    args = c["args"]
    assert args[args.index("--model") + 1] == "cancer-mlp" and args[args.index("--seed") + 1] == "5"
    assert "epochs=3" in args and args[args.index("--device") + 1] == "cuda"
    assert args[args.index("--out") + 1] == f"{MOUNT}/jobs/{name}"
    assert c["volumeMounts"] == [{"name": "artifacts", "mountPath": MOUNT}]
    assert c["resources"] == {
        "requests": {"cpu": "3", "memory": "6Gi"},
        "limits": {"memory": "6Gi", "nvidia.com/gpu": "1"},
    }
    seen = emu.kubectl("get", "jobs", "-n", NS, "-l", "mlops-console.io/training=cancer-mlp", "-o", "json")
    assert [j["metadata"]["name"] for j in json.loads(seen.stdout)["items"]] == [name], seen.stderr
    assert any(f"training Job {NS}/{name} created" in n for n in t.notes)

    _start_pod(emu, job, _kubelet(job, shared))
    _until(lambda: t.progress and t.progress[-1][:2] == (3, 3))
    _end(emu, job, "Complete", "CompletionsReached", "Reached expected number of succeeded pods")
    t.join(120)
    assert t.error is None, t.error

    engine = t.engine
    mv = engine.models("cancer-mlp")[0]
    made = json.loads((shared / "jobs" / name / "result.json").read_text())
    assert (mv.version, mv.sha256, mv.aliases) == (t.result["version"], made["sha256"], [])
    assert mv.metrics["accuracy"] == made["metrics"]["accuracy"]
    assert mv.params["seed"] == 5 and mv.params["epochs"] == 3
    events = [e for e in engine.audit_events() if e.verb == "register"]
    assert events and events[-1].user == "erin" and events[-1].annotations.get("job") == f"{NS}/{name}"
    # the version is the console's: evaluated from its own copy of the artifact, the same as the pod measured
    assert engine.model_evaluate("cancer-mlp", str(mv.version))["accuracy"] == made["metrics"]["accuracy"]
    # and the same seed trained here gives the same model
    here = engine.model_train("cancer-mlp", params={"epochs": "3"}, seed=5, here=True)
    assert (here["metrics"]["accuracy"], here["sha256"]) == (made["metrics"]["accuracy"], made["sha256"])
    assert list(emu.objects(JOBS)) == [(JOBS, NS, name)]  # --here made no Job
    engine.close()


def test_a_log_that_cannot_be_read_costs_the_progress_bar_not_the_training(emu, setup):
    settings, shared = setup
    t, job = _submitted(emu, settings, params={"epochs": "1"})
    emu.fail("get", "v1/pods", subresource="log", status=400, times=None, message="container is waiting to start")
    _start_pod(emu, job, _kubelet(job, shared))
    _end(emu, job, "Complete", "CompletionsReached", "Reached expected number of succeeded pods")
    t.join(120)
    assert t.error is None, t.error
    assert t.progress == [] and t.engine.models("cancer-mlp")[0].version == t.result["version"]
    t.engine.close()


def test_a_failed_training_job_says_why_with_its_log_and_registers_nothing(emu, setup):
    settings, _ = setup
    t, job = _submitted(emu, settings)
    _start_pod(emu, job, "epoch 1\nRuntimeError: CUDA out of memory\n", terminated=("OOMKilled", 137))
    _end(emu, job, "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    t.join(120)
    assert isinstance(t.error, ClusterError)
    text = str(t.error)
    assert "BackoffLimitExceeded" in text and "OOMKilled (exit 137)" in text and "CUDA out of memory" in text
    assert t.engine.models("cancer-mlp") == []
    t.engine.close()


def test_a_pod_that_can_never_start_fails_the_training_and_its_job_is_deleted(emu, setup):
    settings, _ = setup
    t, job = _submitted(emu, settings)
    pod = _start_pod(emu, job, "")
    waiting = {
        "reason": "CreateContainerConfigError",
        "message": "container has runAsNonRoot and image has non-numeric user",
    }
    emu.patch(
        "v1/pods",
        NS,
        pod,
        {
            "status": {
                "phase": "Pending",
                "containerStatuses": [
                    {
                        "name": "main",
                        "ready": False,
                        "restartCount": 0,
                        "image": "x",
                        "imageID": "",
                        "started": False,
                        "state": {"waiting": waiting},
                    }
                ],
            }
        },
    )
    t.join(120)
    assert isinstance(t.error, ClusterError) and "cannot start — CreateContainerConfigError" in str(t.error)
    assert emu.objects(JOBS) == {}  # not left to hold its quota until the deadline
    t.engine.close()


def test_cancelling_a_training_deletes_its_job_and_registers_nothing(emu, setup):
    settings, _ = setup
    t, job = _submitted(emu, settings)
    _start_pod(emu, job, "")
    t.cancel.set()
    t.join(120)
    assert isinstance(t.error, Cancelled)
    assert emu.objects(JOBS) == {}
    deletes = [q for q in emu.requests("DELETE") if q.path.endswith(job["metadata"]["name"])]
    assert [q.query for q in deletes] == [{"propagationPolicy": "Background"}]  # its pods go with it
    _asked_allowed_by_the_roles(emu)  # deploy/rbac.yaml's operator may submit, follow and cancel a training
    assert t.engine.models("cancer-mlp") == []
    t.engine.close()


def test_without_an_image_and_a_claim_it_says_which_settings_are_missing(emu, setup, tmp_path):
    settings, _ = setup
    r = Cli(tmp_path / "cli")(
        "--home", settings["home"], "--kubeconfig", settings["kubeconfig"], "models", "train", "cancer-mlp"
    )
    assert r.rc == 2 and "training_image, training_artifact_claim, training_artifact_dir" in r.err, r.err
    assert "--here" in r.err and "Traceback" not in r.err
    assert emu.objects(JOBS) == {}


def test_a_resource_or_data_the_pod_could_not_use_is_said_before_anything_is_sent(emu, setup, tmp_path):
    settings, _ = setup
    engine = Engine(load({**settings, "training_memory": "lots"}))
    with pytest.raises(BadInput, match="training_memory 'lots': not a Kubernetes quantity"):
        engine.model_train("cancer-mlp")
    with pytest.raises(BadInput, match="copy it under training_artifact_dir"):  # the pod could not read it
        engine.model_train("cancer-mlp", data_path=str(tmp_path / "elsewhere.csv"))
    assert emu.objects(JOBS) == {}
    engine.close()
