"""Canary rollouts of a model version on a deployment, as Argo Rollouts does them: set a weight, pause
(for a duration, or until promoted), analyse the canary's metrics, go on — or abort. A rollback is a new
revision of an old one, as `kubectl rollout undo` does. Each weight change is an audited change of the
deployment; the rollout itself is a durable operation (core/operations.py)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core import clock
from core.errors import BadInput, Conflict, MetricsUnavailable, NotFound
from core.operations import Operations, Progress
from core.types import MetricPoint, Revision

if TYPE_CHECKING:
    from core.registry import Registry

DEFAULT_STEPS = (10, 30, 60, 100)


def parse_steps(text: str) -> list[int]:
    try:
        steps = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise BadInput(f"--steps: expected weights like 10,30,60,100, got {text!r}") from None
    if not steps or steps[-1] != 100 or any(not 0 < w <= 100 for w in steps) or steps != sorted(set(steps)):
        raise BadInput(f"--steps: weights must rise from above 0 to 100, got {text!r}")
    return steps


def parse_pause(text: str) -> float | None:
    """`manual` (until promoted) → None; `30s`, `5m`, `0` → seconds."""
    if text in ("manual", "promote", "until-promoted"):
        return None
    return clock.parse_duration(text, "--pause (manual, or a duration)")


class Rollouts:
    def __init__(
        self,
        ops: Operations,
        registry: Registry,
        metrics: Callable[[str, int, int | None], list[MetricPoint]] | None = None,
    ):
        """`metrics(deployment, minutes, revision)`: where the analysis reads the serving metrics (the
        console's choice of Prometheus or the estate); by default the cluster's own."""
        self.ops = ops
        self.changes = ops.changes
        self.cluster = ops.cluster
        self.registry = registry
        self.metrics = metrics or self.cluster.deployment_metrics

    # -- starting ---------------------------------------------------------------------------------
    def start(
        self,
        deployment: str,
        model: str,
        version: int,
        user: str,
        steps: list[int],
        pause: float | None,
        analysis: dict[str, float],
        gate: Callable[[], str] | None = None,
    ) -> dict[str, Any]:
        """`gate`: judges the version once the deployment's own checks pass (raising to refuse it); what
        it says is kept in the operation."""
        dep = self.cluster.get_deployment(deployment)
        if dep.model != model:
            raise BadInput(f"deployment {deployment} serves model {dep.model!r}, not {model!r}")
        self.registry.get(model, version)  # NotFound names it
        if dep.active and dep.active.model_version == version:
            raise BadInput(f"{deployment} already serves {model} version {version}")
        if dep.canary:
            raise Conflict(
                f"{deployment} already has a canary (r{dep.canary.number} at {dep.canary.weight}%): "
                f"promote or abort it first"
            )
        verdict = gate() if gate else None
        limits = self._limits(deployment, analysis)
        plan = [{"weight": w, "state": "pending"} for w in steps]
        # The canary's revision number is recorded before the revision is made, so that a kill in between
        # leaves an operation that knows what to make (run() makes it when it is missing).
        op = self.ops.create(
            "rollout",
            f"deployment/{deployment}",
            {
                "deployment": deployment,
                "model": model,
                "version": version,
                "pause": pause,
                "analysis": limits,
                "stable_revision": dep.current_revision,
                "canary_revision": max(r.number for r in dep.revisions) + 1,
                **({"gate": verdict} if verdict else {}),
            },
            plan,
            user,
        )
        self._add_canary(op, user)
        return op

    def _limits(self, deployment: str, analysis: dict[str, float]) -> dict[str, Any]:
        """The analysis's success conditions: those given, or derived from the stable revision's metrics."""
        try:
            stable = self.metrics(deployment, int(analysis["window_minutes"]), None)
        except MetricsUnavailable:  # as if there were none: a Prometheus down does not stop a rollout's start
            stable = []
        # a cluster whose serving metrics the console cannot read: the limits given, else the loosest
        # defaults (each step then waits for a person: see run())
        errors = [p.error_rate for p in stable] or [0.01]
        p99 = [p.p99_ms for p in stable] or [1000.0]
        return {
            "max_error_rate": analysis.get("max_error_rate") or max(0.01, 3 * statistics.median(errors)),
            "max_p99_ms": analysis.get("max_p99_ms") or round(1.5 * statistics.median(p99), 1),
            "window_minutes": int(analysis["window_minutes"]),
            "failure_limit": int(analysis["failure_limit"]),
        }

    def adopt(self, deployment: str, user: str, audited: bool = True) -> dict[str, Any] | None:
        """A canary in flight that no operation of this console tracks (the demo estate's, one made by
        another tool or an older console) becomes a rollout operation, paused at its weight until promoted:
        promote, abort and the operations view then work on it as on one started here. Its next steps are
        the default ones above its weight; its analysis limits are derived from the stable revision. One
        audited change of this store (the cluster is not touched); `audited=False` for a caller whose own
        record tells it (the demo estate's creation). None when there is nothing to adopt."""
        dep = self.cluster.get_deployment(deployment)
        canary, target = dep.canary, f"deployment/{deployment}"
        if canary is None or self.ops.unfinished_on(target):
            return None
        limits = self._limits(deployment, {"window_minutes": 10, "failure_limit": 2})
        plan = [{"weight": canary.weight, "state": "weighted"}] + [
            {"weight": w, "state": "pending"} for w in DEFAULT_STEPS if w > canary.weight
        ]
        params = {
            "deployment": deployment,
            "model": canary.model,
            "version": canary.model_version,
            "pause": None,  # until promoted: nobody here chose a schedule for it
            "analysis": limits,
            "stable_revision": dep.current_revision,
            "canary_revision": canary.number,
            "adopted": True,
        }

        def create() -> dict[str, Any]:
            op = self.ops.create("rollout", target, params, plan, user)
            self.ops.save(op, state="paused")
            return op

        if not audited:
            return create()
        return self.changes.audit.change(
            verb="adopt",
            user=user,
            object_ref={"resource": "rollout", "name": deployment},
            before=None,
            apply=create,
            local=True,
            after=lambda: {"kind": "rollout", "state": "paused", "steps": [s["weight"] for s in plan], **params},
            annotations={
                "reason": f"canary r{canary.number} ({canary.model}:{canary.model_version}) at {canary.weight}% "
                "in flight, tracked by no operation"
            },
        )

    def _add_canary(self, op: dict[str, Any], user: str) -> None:
        p = op["params"]
        deployment, number = p["deployment"], p["canary_revision"]
        mv = self.registry.get(p["model"], p["version"])

        def add_revision() -> None:
            self.cluster.add_revision(deployment, number, p["model"], p["version"], _image(p["model"], p["version"]))

        self.changes.apply(
            verb="rollout-start",
            user=user,
            resource="deployment",
            name=deployment,
            change=add_revision,
            annotations={
                "operation": op["id"],
                "model": f"{p['model']}:{p['version']}",
                "sha256": mv.sha256,
                **({"gate": p["gate"]} if p.get("gate") else {}),
            },
        )

    def _canary(self, op: dict[str, Any]) -> Revision | None:
        dep = self.cluster.get_deployment(op["params"]["deployment"])
        return next((r for r in dep.revisions if r.number == op["params"]["canary_revision"]), None)

    # -- running ----------------------------------------------------------------------------------
    def run(
        self, op: dict[str, Any], user: str, progress: Progress = lambda m: None, promoted: bool = False
    ) -> dict[str, Any]:
        """Walk the steps from where the rollout is. Stops at a manual pause (state `paused`), on a failed
        analysis (aborted, `failed`), or when the canary has all the traffic (`done`)."""
        self.ops.claim(op)
        p = op["params"]
        dep_name, canary = p["deployment"], p["canary_revision"]
        rev = self._canary(op)
        if rev is None:  # killed before the canary revision was made
            self._add_canary(op, user)
        elif rev.status == "active":  # killed after the promotion, before it was recorded: it is done
            self.ops.save(op, state="done", position=len(op["steps"]))
            progress(f"r{canary} already serves all traffic")
            return op
        for i, step in enumerate(op["steps"]):
            if step["state"] == "done":
                continue
            self.ops.save(op, position=i)
            if step["state"] == "pending":
                self._set_weight(op, dep_name, canary, step["weight"], user)
                step["state"] = "weighted"
                self.ops.save(op, steps=op["steps"])
                progress(f"canary r{canary} at {step['weight']}%")
            if step["weight"] == 100:
                self._promote(op, dep_name, canary, user)
                step["state"] = "done"
                self.ops.save(op, steps=op["steps"], state="done", position=len(op["steps"]))
                progress(f"r{canary} is now serving all traffic")
                return op
            if p["pause"] is None and not promoted:
                self.ops.save(op, state="paused")
                progress(f"paused at {step['weight']}% until promoted")
                return op
            if p["pause"]:
                time.sleep(p["pause"])
            result = self.analyse(dep_name, canary, p["analysis"])
            if result.get("inconclusive") and not promoted:
                op["results"] = (op.get("results") or []) + [{"step": i, "weight": step["weight"], **result}]
                self.ops.save(op, results=op["results"], state="paused")
                progress(f"analysis at {step['weight']}%: {result['summary']}")
                return op
            if result["measurements"] == 0 and promoted:
                # nothing to judge the canary by (no serving metrics): the operator's promotion is the judgement
                result = {**result, "passed": True, "summary": f"no metrics to analyse; promoted by {user}"}
            promoted = False  # a promotion moves one step
            op["results"] = (op.get("results") or []) + [{"step": i, "weight": step["weight"], **result}]
            self.ops.save(op, results=op["results"])
            progress(
                f"analysis at {step['weight']}%: {'passed' if result['passed'] else 'FAILED'} "
                f"({result['failures']} bad of {result['measurements']} measurements)"
            )
            if not result["passed"]:
                self._abort(
                    op, dep_name, canary, user, reason=f"analysis failed at {step['weight']}%: {result['summary']}"
                )
                return op
            step["state"] = "done"
            self.ops.save(op, steps=op["steps"])
        return op

    def analyse(self, deployment: str, revision: int, limits: dict[str, Any]) -> dict[str, Any]:
        """The canary's last `window_minutes` of metrics against the success conditions; fails past the
        failure limit of bad measurements."""
        try:
            pts = self.metrics(deployment, int(limits["window_minutes"]), revision)
        except MetricsUnavailable as e:  # Argo Rollouts' "inconclusive": the rollout waits, it is not aborted
            return {
                "passed": False,
                "inconclusive": True,
                "measurements": 0,
                "failures": 0,
                "at": clock.iso(clock.now()),
                "summary": f"{e}: not judged; the rollout waits (promote or resume when the metrics answer)",
            }
        bad = [p for p in pts if p.error_rate > limits["max_error_rate"] or p.p99_ms > limits["max_p99_ms"]]
        if not pts:
            return {
                "passed": False,
                "measurements": 0,
                "failures": 0,
                "at": clock.iso(clock.now()),
                "summary": f"no metrics for r{revision} in the last {limits['window_minutes']} min: nothing to judge",
            }
        err = statistics.mean(p.error_rate for p in pts)
        p99 = statistics.median(p.p99_ms for p in pts)
        stats = self._compare(deployment, revision, pts, int(limits["window_minutes"]))
        thresholds_passed = len(bad) <= limits["failure_limit"]
        # the thresholds catch a canary that is bad outright; the comparison with the baseline, one that
        # is worse than what it replaces without crossing a line (inconclusive: too few minutes to tell)
        stats_failed = stats is not None and not stats["passed"] and "not judged" not in stats["summary"]
        return {
            "passed": thresholds_passed and not stats_failed,
            "statistics": stats,
            "measurements": len(pts),
            "failures": len(bad),
            "error_rate": round(err, 5),
            "p99_ms": round(p99, 1),
            "at": clock.iso(clock.now()),
            "summary": f"error rate {err:.2%} (max {limits['max_error_rate']:.2%}), p99 {p99:.0f} ms "
            f"(max {limits['max_p99_ms']:.0f}), {len(bad)} bad of {len(pts)} (limit "
            f"{limits['failure_limit']})" + (f"; {stats['summary']}" if stats else ""),
        }

    def _compare(
        self, deployment: str, revision: int, canary: list[MetricPoint], minutes: int
    ) -> dict[str, Any] | None:
        """Kayenta's question, per metric: is the canary worse than the baseline serving beside it, by a
        Mann-Whitney U test and an effect size bound (core.monitoring.canary)? None without a baseline."""
        from core.monitoring import canary as judge

        dep = self.cluster.get_deployment(deployment)
        if dep.current_revision in (None, revision):
            return None
        base = self.metrics(deployment, minutes, dep.current_revision)
        if not base:
            return None

        def samples(points: list[MetricPoint]) -> dict[str, list[float]]:
            # counts per point: a point is a minute of the estate's, or a Prometheus step
            seconds = _interval_seconds(points)
            # not rounded per point: a lone error split over two points would round away twice
            requests = [p.request_rate * seconds for p in points]
            return {
                "requests": requests,
                "errors": [n * p.error_rate for n, p in zip(requests, points, strict=True)],
                "p99_seconds": [p.p99_ms / 1000 for p in points],
                "p50_seconds": [p.p50_ms / 1000 for p in points],
            }

        return judge.judge(samples(base), samples(canary), judge.DEFAULT_RULES)

    # -- the operator's verbs --------------------------------------------------------------------------
    def current(self, deployment: str) -> dict[str, Any] | None:
        ops = [o for o in self.ops.list() if o["target"] == f"deployment/{deployment}" and o["kind"] == "rollout"]
        return ops[0] if ops else None

    def promote(self, deployment: str, user: str, progress: Progress = lambda m: None) -> dict[str, Any]:
        op = self._unfinished(deployment, user)
        return self.run(op, user, progress, promoted=True)

    def abort(
        self, deployment: str, user: str, reason: str = "aborted by operator", state: str = "aborted"
    ) -> dict[str, Any]:
        op = self._unfinished(deployment, user)
        self.ops.claim(op)
        rev = self._canary(op)
        if rev is not None and rev.status == "active":
            self.ops.save(op, state="done", position=len(op["steps"]))
            raise Conflict(
                f"r{rev.number} of {deployment} was already promoted and serves all traffic: "
                f"use `rollouts rollback {deployment}` to go back"
            )
        if rev is None:  # killed before the canary existed: nothing serves it, nothing to send back
            self.ops.save(op, state=state, error=reason)
            return op
        self._abort(op, deployment, op["params"]["canary_revision"], user, reason=reason, state=state)
        return op

    def rollback(self, deployment: str, user: str, to_revision: int | None = None) -> dict[str, Any]:
        """A new revision serving what revision N served (default: the one before the current)."""
        dep = self.cluster.get_deployment(deployment)
        if dep.canary:
            raise Conflict(f"{deployment} has a canary in flight (r{dep.canary.number}): abort it first")
        olds = [r for r in dep.revisions if r.number != dep.current_revision and r.status != "aborted"]
        target: Revision | None
        if to_revision is None:
            if not olds:
                raise BadInput(f"{deployment} has no earlier revision to roll back to")
            target = max(olds, key=lambda r: r.number)
        else:
            target = next((r for r in dep.revisions if r.number == to_revision), None)
            if target is None:
                raise NotFound(
                    f"{deployment} has no revision {to_revision} "
                    f"(revisions: {', '.join(str(r.number) for r in dep.revisions)})"
                )
            if target.number == dep.current_revision:
                raise BadInput(f"revision {to_revision} is the current one")
        number = max(r.number for r in dep.revisions) + 1

        def undo() -> None:
            # a new revision of the old template, then all traffic to it (a kill in between leaves a canary
            # at weight 0 that serves nothing)
            self.cluster.add_revision(deployment, number, target.model, target.model_version, target.image)
            self.cluster.promote_revision(deployment, number)

        self.changes.apply(
            verb="rollout-undo",
            user=user,
            resource="deployment",
            name=deployment,
            change=undo,
            annotations={"to_revision": target.number, "model": f"{target.model}:{target.model_version}"},
        )
        return {
            "deployment": deployment,
            "revision": number,
            "serves": f"{target.model}:{target.model_version}",
            "copied_from": target.number,
        }

    # -- internals ------------------------------------------------------------------------------------
    def _unfinished(self, deployment: str, user: str) -> dict[str, Any]:
        """The deployment's rollout in progress; a canary in flight that none tracks is adopted first."""
        op = self.current(deployment)
        if op is None or op["state"] not in ("running", "paused", "interrupted"):
            op = self.adopt(deployment, user)
            if op is None:
                raise Conflict(f"{deployment} has no rollout in progress")
        return op

    def _set_weight(self, op: dict[str, Any], dep_name: str, canary: int, weight: int, user: str) -> None:
        self.changes.apply(
            verb="set-weight",
            user=user,
            resource="deployment",
            name=dep_name,
            change=lambda: self.cluster.set_canary_weight(dep_name, canary, weight),
            annotations={"operation": op["id"], "weight": weight},
        )

    def _promote(self, op: dict[str, Any], dep_name: str, canary: int, user: str) -> None:
        self.changes.apply(
            verb="promote",
            user=user,
            resource="deployment",
            name=dep_name,
            change=lambda: self.cluster.promote_revision(dep_name, canary),
            annotations={"operation": op["id"]},
        )

    def _abort(
        self, op: dict[str, Any], dep_name: str, canary: int, user: str, reason: str, state: str = "failed"
    ) -> None:
        self.changes.apply(
            verb="abort",
            user=user,
            resource="deployment",
            name=dep_name,
            change=lambda: self.cluster.abort_revision(dep_name, canary),
            annotations={"operation": op["id"], "reason": reason},
        )
        self.ops.save(op, state=state, error=reason)


def _interval_seconds(points: list[MetricPoint]) -> float:
    if len(points) < 2:
        return 60.0
    gap = (clock.parse_ts(points[-1].ts) - clock.parse_ts(points[0].ts)).total_seconds() / (len(points) - 1)
    return gap if gap > 0 else 60.0


def _image(model: str, version: int) -> str:
    return f"registry.internal/serving/{model}:{version}"
