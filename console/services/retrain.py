"""The drift → retrain loop, one pipeline: recent data → validate → train → gate → (compress → gate) →
register → canary rollout, each step said as it starts and audited (the training's registration, the
rollout's changes, and the pipeline's own record of what it did and why)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from console.services.models import ModelService
from console.services.rollouts import RolloutService
from console.services.wiring import Wiring
from core import clock
from core.errors import BadInput, Conflict, ConsoleError, NotFound
from core.monitoring import traffic

DEFAULT_STEPS = [10, 50, 100]
DEFAULT_PRUNE = 0.5
TOLERANCE = 0.01  # accuracy the challenger may lose to the champion on the recent data (the gate's own)


def retrain(
    w: Wiring,
    models: ModelService,
    rollouts: RolloutService,
    deployment: str,
    data_path: str | None = None,
    compress: bool = False,
    steps: list[int] | None = None,
    seed: int = 0,
    progress: Callable[[int, int, float, float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    note: Callable[[str], None] = lambda text: None,
) -> dict[str, Any]:
    """Retrain what `deployment` serves on recent data and start its canary (paused at the first step for
    the operator to promote). Stops, saying where and why, at a failed validation or gate."""
    from core.lifecycle import data, nets, recent

    user = w.require("model-retrain")
    dep = w.cluster.get_deployment(deployment)
    rev = next((r for r in dep.revisions if r.number == dep.current_revision), None)
    if rev is None:
        raise NotFound(f"deployment {deployment} serves no revision to retrain")
    if dep.canary is not None:  # before anything is trained: the canary step could not start
        raise Conflict(
            f"{deployment} already has a canary (r{dep.canary.number} at {dep.canary.weight}%): promote or abort "
            "it first; nothing was retrained"
        )
    if rev.model not in nets.CATALOG:
        raise BadInput(
            f"{rev.model} (on {deployment}) has no training recipe in this console (these do: "
            f"{', '.join(nets.CATALOG)}): retrain it where it was trained"
        )
    done: list[str] = []
    drift = traffic.Faults.of(w.cluster.faults().get(deployment)).drift
    if data_path is None:
        if not any(drift.values()) and not w.cluster.faults():
            raise BadInput(f"{w.cluster.name}: give the recent labelled data to retrain on (--data FILE.csv)")
        note(f"recent data: {rev.model}'s dataset as the world has drifted ({_said(drift)})")
        spec = nets.spec(rev.model)
        d = recent.drifted(data.bundled(spec.dataset), drift, seed)
        stamp = clock.now().strftime("%Y%m%dT%H%M%S")
        data_path = str(recent.write_csv(d, Path(w.settings.home) / "recent" / f"{deployment}-{stamp}.csv"))
    note("validate: the recent data against the production version's profile")
    report = models.validate(rev.model, data_path)
    if not report["passed"]:
        raise BadInput(f"{data_path}: data validation failed — " + "; ".join(report["problems"]))
    done.append(f"validated {report['rows']} rows")
    note(f"train: {rev.model} on {Path(data_path).name}")
    trained = models.train(
        rev.model,
        seed=seed,
        data_path=data_path,
        progress=progress,
        cancelled=cancelled,
        here=True,
        reference_drift=drift,
    )
    version = int(trained["version"])
    done.append(f"trained and registered {rev.model}:{version} (accuracy {trained['metrics'].get('accuracy')})")
    # from here on a version exists: whatever stops the pipeline is recorded, naming it
    try:
        note(f"gate: {rev.model}:{version}, and beside {rev.model}:{rev.model_version} on the recent data")
        verdict = models.gate(rev.model, str(version))
        challenge = _challenge(models, rev.model, rev.model_version, version, data_path)
        verdict = {**verdict, "passed": verdict.get("passed") and challenge["passed"], **{"recent_data": challenge}}
        if not verdict.get("passed"):
            why = (
                f"it does no better than production on the recent data ({challenge['detail']})"
                if challenge["passed"] is False and all(c["passed"] for c in verdict.get("checks") or [])
                else "the gate refused it"
            )
            return _record(w, user, deployment, rev, version, done + [why], None, verdict)
        done.append(f"gate passed; {verdict['recent_data']['detail']}")
        if compress:
            note(f"compress: {rev.model}:{version} (prune {DEFAULT_PRUNE}, int8)")
            child = models.compress(rev.model, str(version), prune=DEFAULT_PRUNE, quantize="int8")
            note(f"gate: {rev.model}:{child['version']}")
            child_verdict = models.gate(rev.model, str(child["version"]))
            if child_verdict.get("passed"):
                version, verdict = int(child["version"]), {**verdict, **child_verdict}
                done.append(f"compressed into {rev.model}:{version}, gate passed")
            else:
                done.append(f"compressed {rev.model}:{child['version']} failed the gate; rolling out {version}")
        note(f"canary: {rev.model}:{version} on {deployment} at {(steps or DEFAULT_STEPS)[0]}%")
        op = rollouts.start(
            deployment,
            rev.model,
            version,
            steps or DEFAULT_STEPS,
            None,  # paused at the first weight: the operator watches the canary and promotes
            {"window_minutes": 10, "failure_limit": 2},
            gate=lambda: models.rollout_verdict(rev.model, version),
        )
    except ConsoleError as e:
        _record(w, user, deployment, rev, version, done + [f"stopped: {e}"], None, {"passed": False})
        raise ConsoleError(
            f"{rev.model}:{version} was trained and registered, then the pipeline stopped: {e} "
            f"(`rollouts start {deployment} {rev.model} {version}` when it can go on)"
        ) from None
    done.append(f"canary at {op.get('weight', (steps or DEFAULT_STEPS)[0])}% (operation {op['id']}, {op['state']})")
    return _record(w, user, deployment, rev, version, done, op, verdict)


def _challenge(models: ModelService, model: str, champion: int, challenger: int, data_path: str) -> dict[str, Any]:
    """The champion and the challenger on the same held-out rows of the recent data: the gate compares
    the challenger with what production scored on its own data, which says nothing about the world now."""
    from core.lifecycle import data, train

    d = models.data_for(model, data_path)
    held_out = data.split(len(d.X))[1]
    try:
        old = train.accuracy(models.load(models.w.registry.get(model, champion)), d, held_out)
    except ConsoleError:  # no artifact of the production version here: the gate's word alone
        return {"passed": True, "detail": f"{model}:{champion} not measurable here"}
    new = train.accuracy(models.load(models.w.registry.get(model, challenger)), d, held_out)
    passed = new >= old - TOLERANCE
    detail = f"on the recent data v{challenger} {new:.4f} against v{champion} {old:.4f}"
    return {"passed": passed, "challenger": new, "champion": old, "detail": detail}


def _said(drift: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:+.2f}" for k, v in drift.items() if v) or "none injected"


def _record(
    w: Wiring, user: str, deployment: str, rev: Any, version: int, done: list[str], op: Any, verdict: dict[str, Any]
) -> dict[str, Any]:
    result = {
        "deployment": deployment,
        "model": rev.model,
        "replaces": rev.model_version,
        "version": version,
        "gate": {
            "passed": bool(verdict.get("passed")),
            "checks": verdict.get("checks"),
            "recent_data": verdict.get("recent_data"),
        },
        "operation": op["id"] if op else None,
        "rollout_state": op["state"] if op else None,
        "steps": done,
    }
    w.audit.change(
        verb="retrain",
        user=user,
        object_ref={"resource": "deployment", "name": deployment},
        before={"model": rev.model, "version": rev.model_version},
        apply=lambda: None,
        local=True,
        after=result,
        annotations={"reason": "retrain on recent data"},
    )
    return result
