"""Model deployments and canary rollouts, and the durable operations (rollouts, pool config changes)
that can be paused, resumed and rolled back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from console.services.wiring import Wiring
from core.types import MetricPoint, ModelDeployment

Progress = Callable[[str], None]


def parse_rollout(steps: str, pause: str) -> tuple[list[int], float | None]:
    """`10,30,60,100` and `manual` / `5m`, as the CLI and the TUI's form take them."""
    from core.rollouts import parse_pause, parse_steps

    return parse_steps(steps), parse_pause(pause)


def _describe(op: dict) -> dict:
    from core.operations import describe_op

    return describe_op(op)


class RolloutService:
    def __init__(self, w: Wiring):
        self.w = w

    # -- reading -----------------------------------------------------------------------------------
    def deployments(self) -> list[ModelDeployment]:
        return self.w.cluster.list_deployments()

    def deployment(self, name: str) -> ModelDeployment:
        return self.w.cluster.get_deployment(name)

    def metrics(self, name: str, minutes: int = 60, revision: int | None = None) -> list[MetricPoint]:
        return self.w.metrics.deployment_metrics(name, minutes, revision)

    def details(self, name: str) -> dict[str, Any]:
        data = asdict(self.deployment(name))
        last = self.metrics(name, minutes=5)[-1]
        data["metrics_now"] = {k: v for k, v in asdict(last).items() if k != "score_hist"}
        return data

    def status(self, deployment: str) -> dict:
        d = self.deployment(deployment)
        op = self.w.rollouts.current(deployment)
        return {"deployment": asdict(d), "rollout": _describe(op) if op else None}

    def adopt_canaries(self, user: str, audited: bool = True) -> list[dict]:
        """Every canary in flight that no operation tracks, adopted as a paused rollout operation (the demo
        estate's first start: its ranker canary is promotable, abortable and in `ops list` from the start)."""
        adopted = (self.w.rollouts.adopt(d.name, user, audited) for d in self.deployments() if d.canary)
        return [_describe(op) for op in adopted if op is not None]

    # -- rolling out -------------------------------------------------------------------------------
    def start(
        self,
        deployment: str,
        model: str,
        version: int,
        steps: list[int],
        pause: float | None,
        analysis: dict[str, float],
        progress: Progress = lambda m: None,
        gate: Callable[[], str] | None = None,
    ) -> dict:
        user = self.w.require("rollout-start")
        op = self.w.rollouts.start(deployment, model, version, user, steps, pause, analysis, gate)
        return _describe(self.w.rollouts.run(op, user, progress))

    def promote(self, deployment: str, progress: Progress = lambda m: None) -> dict:
        return _describe(self.w.rollouts.promote(deployment, self.w.require("rollout-promote"), progress))

    def abort(self, deployment: str) -> dict:
        return _describe(self.w.rollouts.abort(deployment, self.w.require("rollout-abort")))

    def scale(self, deployment: str, replicas: int) -> dict[str, Any]:
        self.w.changes.scale(deployment, replicas, self.w.require("scale"))
        d = self.w.cluster.get_deployment(deployment)
        out: dict[str, Any] = {"deployment": deployment, "replicas": d.replicas, "ready": d.ready_replicas}
        hpa = d.autoscaler
        if hpa and not hpa["min"] <= replicas <= (hpa["max"] or replicas):
            # as with `kubectl scale`: the autoscaler owns the count and brings it back within its bounds
            out["warning"] = (
                f"the autoscaler {hpa['name']} keeps {deployment} between {hpa['min']} and {hpa['max']} "
                "replicas: it will scale it back; change its bounds to keep this"
            )
        return out

    def rollback(self, deployment: str, to_revision: int | None = None) -> dict:
        return self.w.rollouts.rollback(deployment, self.w.require("rollout-rollback"), to_revision)

    # -- operations --------------------------------------------------------------------------------
    def operations(self, unfinished: bool = False) -> list[dict]:
        return [_describe(o) for o in self.w.ops.list(unfinished)]

    def interrupted(self) -> list[dict]:
        """Operations a killed process left interrupted (every command warns of them), read straight from
        the store: building the operations machinery to ask cost each command ~40 ms."""
        return self.w.store.query(
            "SELECT * FROM operations WHERE state = 'interrupted' ORDER BY created_at DESC, rowid DESC"
        )

    def operation(self, op_id: str) -> dict:
        return _describe(self.w.ops.get(op_id))

    def pause(self, op_id: str) -> dict:
        self.w.require("op-pause")
        return _describe(self.w.ops.pause(op_id))

    def resume(self, op_id: str, progress: Progress = lambda m: None) -> dict:
        op = self.w.ops.get(op_id)
        if op["kind"] == "pool-config":
            return _describe(self.w.ops.run_pool_config(op, self.w.require("op-resume-pool-config"), progress))
        return _describe(self.w.rollouts.run(op, self.w.require("op-resume-rollout"), progress))

    def rollback_operation(self, op_id: str, progress: Progress = lambda m: None) -> dict:
        op = self.w.ops.get(op_id)
        user = self.w.require("op-rollback")
        if op["kind"] == "pool-config":
            return _describe(self.w.ops.rollback_pool_config(op, user, progress))
        return _describe(
            self.w.rollouts.abort(
                op["params"]["deployment"], user, reason="rolled back by operator", state="rolled_back"
            )
        )
