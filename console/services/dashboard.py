"""What the dashboard shows in one glance: cluster health, failing jobs, approvals, rollouts, drift."""

from __future__ import annotations

from datetime import timedelta

from console.services.wiring import Wiring
from core import clock
from core.errors import NotFound
from core.monitoring.drift import ACCURACY_DROP_ALERT
from core.types import Attempt, ModelDeployment, ModelVersion, Node, Summary, run_of

IN_FLIGHT = {
    "paused": "paused until promoted",
    "running": "running",
    "interrupted": "interrupted (resume or roll back in :ops)",
    "failed": "analysis failed (roll back in :ops)",
}


class DashboardService:
    def __init__(self, w: Wiring):
        self.w = w

    def summary(self) -> Summary:
        cluster = self.w.cluster
        nodes = cluster.list_nodes()
        pools: dict[str, dict[str, int]] = {}
        for n in nodes:
            p = pools.setdefault(n.pool, {"nodes": 0, "ready": 0, "cordoned": 0, "gpus": 0})
            p["nodes"] += 1
            p["ready"] += n.ready
            p["cordoned"] += n.unschedulable
            p["gpus"] += n.gpus
            if n.gpus_used is not None:  # a backend that knows the pods' GPU requests
                p["gpus_used"] = p.get("gpus_used", 0) + n.gpus_used
        deps = cluster.list_deployments()
        recent = cluster.list_attempts(since=clock.iso(clock.now() - timedelta(hours=24)))
        failing = [
            {
                "job_id": a.job_id,
                "run_id": a.run_id,
                "submitted_at": a.submitted_at,
                "reason": a.reason or "",
                "exit_code": a.exit_code,
            }
            for a in newest_runs(recent).values()
            if a.status == "failed"
        ]
        alerts, problems = [], []
        from console.services.alerts import AlertService
        from core.errors import MetricsUnavailable

        try:
            alerts = AlertService(self.w).firing()
        except MetricsUnavailable as e:
            problems.append(str(e))
        drift = self.drift_alerts(nodes, deps)
        model_drift = self.model_drift(deps)
        if self.w.metrics.last_error:
            problems.append(self.w.metrics.last_error)
        return Summary(
            backend=cluster.name,
            nodes_total=len(nodes),
            nodes_ready=sum(n.ready for n in nodes),
            nodes_cordoned=sum(n.unschedulable for n in nodes),
            nodes_pressure=sum(bool(n.pressure) for n in nodes),
            pools=pools,
            gpus_total=sum(n.gpus for n in nodes),
            deployments=len(deps),
            deployments_degraded=sum(d.status == "Degraded" for d in deps),
            rollouts_in_flight=self._in_flight(deps),
            attempts_24h=len(recent),
            failed_24h=sum(a.status == "failed" for a in recent),
            failing_jobs=sorted(failing, key=lambda f: f["submitted_at"], reverse=True),
            pending_approvals=self._pending_approvals(),
            drift_alerts=drift,
            audit_events=self.w.audit.count(),
            alerts=alerts,
            monitoring_problem="; ".join(problems) or None,
            alerts_configured=bool(self.w.settings.alertmanager_url),
            model_drift=model_drift,
        )

    def _in_flight(self, deps: list[ModelDeployment]) -> list[str]:
        """Each canary in flight, with what its rollout is doing: 'ranker r3 at 20% (ranking-dlrm v23):
        paused until promoted'."""
        canaries = [d for d in deps if d.canary]
        if not canaries:
            return []
        # the store's table only: the operations machinery would build the audit path's handlers (the triage)
        from core.operations import ACTIVE

        states = dict(
            self.w.store.conn.execute(
                f"SELECT target, state FROM operations WHERE state IN ({', '.join('?' * len(ACTIVE))})", ACTIVE
            ).fetchall()
        )
        out = []
        for d in canaries:
            c = d.canary
            assert c is not None
            state = states.get(f"deployment/{d.name}")
            out.append(
                f"{d.name} r{c.number} at {c.weight}% ({c.model} v{c.model_version}): "
                + (
                    IN_FLIGHT.get(state, state)
                    if state
                    else "no operation tracks it yet (p or a in :rollouts adopts it)"
                )
            )
        return out

    def _pending_approvals(self) -> int:
        # the queue's table only: building the approvals machinery would load the triage and the recommender
        from autofix.queue import Queue

        return Queue(self.w.store).count("pending")

    def drift_alerts(self, nodes: list[Node] | None = None, deps: list[ModelDeployment] | None = None) -> list[str]:
        """Node pools running a mix of config versions."""
        cluster = self.w.cluster
        alerts = []
        nodes = nodes if nodes is not None else cluster.list_nodes()
        for pool in cluster.list_pools():
            members = [n for n in nodes if n.pool == pool.name]
            off = [n for n in members if n.config_version != pool.desired_config]
            if off:
                versions = sorted({n.config_version for n in off})
                alerts.append(
                    f"pool {pool.name}: {len(off)}/{len(members)} nodes on {', '.join(versions)}, "
                    f"desired {pool.desired_config}"
                )
        return alerts

    def model_drift(self, deps: list[ModelDeployment] | None = None) -> list[str]:
        """Models whose recent inputs, scores or accuracy left their training reference (warn or alert)."""
        return [
            drift_line(m)
            for m in self.w.metrics.drift_all(stop_on_unavailable=True, deps=deps)
            if m["level"] in ("warn", "alert")
        ]

    def _model_version(self, model: str, version: int) -> ModelVersion | None:
        try:
            return self.w.registry.get(model, version)
        except NotFound:
            return None


def drift_line(m: dict) -> str:
    """'model digits-cnn v1 on digit-reader: input PSI 5.22, KS 0.75 (alert)'; an accuracy drop said too."""
    parts = [
        f"{s['signal']} PSI {s['psi']:.2f}, KS {s['ks']:.2f}" for s in m["signals"] if s["level"] in ("warn", "alert")
    ]
    if m.get("accuracy_drop") is not None and m["accuracy_drop"] > ACCURACY_DROP_ALERT:
        parts.append(f"accuracy {m['accuracy']:.2f} against {m['reference_accuracy']:.2f} in training")
    return f"model {m['model']} v{m['version']} on {m['deployment']}: {'; '.join(parts)} ({m['level']})"


def newest_runs(attempts: list[Attempt]) -> dict[str, Attempt]:
    """Each job's newest run (by when its first attempt was submitted), as its latest attempt: a retry of
    an older run that succeeds says nothing of a newer run that failed."""
    runs: dict[tuple[str, str], list[Attempt]] = {}
    for a in attempts:
        runs.setdefault((a.job_id, run_of(a.run_id, a.attempt)), []).append(a)
    newest: dict[str, tuple[str, Attempt]] = {}
    for (job, _), tries in runs.items():
        started = min(t.submitted_at for t in tries)
        latest = max(tries, key=lambda t: t.attempt)
        if job not in newest or started > newest[job][0]:
            newest[job] = (started, latest)
    return {job: a for job, (_, a) in newest.items()}
