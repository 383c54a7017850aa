"""Serving metrics of the model deployments, from wherever they live: a Prometheus that scrapes the model
servers (the `prometheus_url` setting, queried with PromQL through prometheus-api-client), or, with none,
the embedded estate read directly. Drift of each deployment's live inputs and scores from its model
version's training reference (PSI, KS) is computed here, from the same histograms either way."""

from __future__ import annotations

import time
from typing import Any

from core.errors import MetricsUnavailable, NotFound
from core.monitoring import drift as drift_math
from core.monitoring import traffic
from core.sanitize import redact_url
from core.types import MetricPoint, ModelDeployment, Revision


class MetricsService:
    def __init__(self, w: Any):
        """`w`: the services' Wiring (untyped here: the wiring builds this service, the cycle stays out)."""
        self.w = w
        self.last_error: str | None = None  # the last failed query's reason, for the views' banner
        self.last_ok: float | None = None  # time.monotonic() of the last good answer
        self._client: Any = None

    @property
    def source(self) -> str:
        url = self.w.settings.prometheus_url
        return f"prometheus {redact_url(url)}" if url else "embedded estate"

    # -- reading ---------------------------------------------------------------------------------------
    def deployment_metrics(self, name: str, minutes: int = 60, revision: int | None = None) -> list[MetricPoint]:
        """One point per minute (per `prometheus_step_seconds` on Prometheus) for the last `minutes`, of one
        revision (default: the current one). MetricsUnavailable when Prometheus does not answer."""
        if not self.w.settings.prometheus_url:
            if not self.simulated:  # a real cluster's API server holds no serving metrics: no call for none
                return self.w.cluster.deployment_metrics(name, minutes, revision)
            return self.embedded(name, minutes, revision)
        number = revision or self.w.cluster.get_deployment(name).current_revision
        return self._guarded(lambda: self._prometheus().points(name, number, minutes))

    def embedded(self, name: str, minutes: int = 60, revision: int | None = None) -> list[MetricPoint]:
        """The estate's own series with the traffic its model version would see: inputs and scores from the
        version's training reference as the injected drift moved them, the injected errors and latency."""
        dep = self.w.cluster.get_deployment(name)
        number = revision or dep.current_revision
        base = self.w.cluster.deployment_metrics(name, minutes, number)
        rev = _revision(dep, number)
        if rev is None or not base:
            return base
        faults = traffic.Faults.of(self.w.cluster.faults().get(name))
        live = traffic.live(self.reference(rev.model, rev.model_version) or traffic.parametric(0.5), faults)
        # the estate's series is the deployment's; a revision serves its weight's share of it
        share = rev.weight / 100 if 0 < rev.weight < 100 else 1.0
        out = []
        for p in base:
            rate = p.request_rate * share
            n = rate * 60
            score_hist = [round(n * s) for s in live.score]
            out.append(
                MetricPoint(
                    ts=p.ts,
                    request_rate=round(rate, 2),
                    p50_ms=round(p.p50_ms * faults.latency, 2),
                    p95_ms=round(p.p95_ms * faults.latency, 2),
                    p99_ms=round(p.p99_ms * faults.latency, 2),
                    error_rate=max(p.error_rate, faults.errors),
                    score_mean=round(sum((i + 0.5) * traffic.SCORE_WIDTH * s for i, s in enumerate(live.score)), 4),
                    score_hist=score_hist,
                    input_hist=[round(n * s) for s in live.input],
                    accuracy=round(live.accuracy, 4),
                )
            )
        return out

    def reference(self, model: str, version: int) -> traffic.Reference | None:
        """The version's training reference as the registry records it (`models retrain` records one). On the
        embedded estate, a version known only by its mean score (its catalogue) has the shape the
        simulator serves it with; elsewhere, a version without one has none: its drift is not measured
        rather than measured against an invented reference."""
        try:
            mv = self.w.registry.get(model, version)
        except NotFound:
            mv = next(
                (m for m in self.w.cluster.known_model_versions() if (m.model, m.version) == (model, version)), None
            )
        metrics = mv.metrics if mv else {}
        if isinstance(metrics.get("reference"), dict):
            return traffic.Reference.of(metrics["reference"])
        if not self.simulated:
            return None
        return traffic.parametric(float(metrics.get("score_mean", 0.5)), float(metrics.get("accuracy", 0.9)))

    @property
    def simulated(self) -> bool:
        """The embedded estate: its traffic is drawn from the simulator's references."""
        return str(self.w.cluster.name).startswith("sim:")

    def drift(self, name: str, minutes: float | None = None, dep: ModelDeployment | None = None) -> dict[str, Any]:
        """The current revision's inputs and scores over the last `minutes` against its model version's
        reference: PSI and KS per signal, the level (ok, warn, alert), and accuracy where labels come back.
        `dep`: the deployment as the caller already read it."""
        dep = dep or self.w.cluster.get_deployment(name)
        rev = _revision(dep, dep.current_revision)
        if rev is None:
            raise NotFound(f"deployment {name} has no current revision")
        minutes = minutes or self.w.settings.drift_window_minutes
        base = {"deployment": name, "model": rev.model, "version": rev.model_version, "revision": rev.number}
        ref = self.reference(rev.model, rev.model_version)
        if ref is not None and not self.w.settings.prometheus_url and not self.simulated:
            return {
                **base,
                "window_minutes": minutes,
                "signals": [],
                "psi": None,
                "level": "unknown",
                "note": "no serving metrics to measure on: set prometheus_url",
                "accuracy": None,
                "reference_accuracy": None,
                "learned_drift": {},
            }
        if ref is None:
            return {
                **base,
                "window_minutes": minutes,
                "signals": [],
                "psi": None,
                "level": "no reference",
                "note": f"{rev.model}:{rev.model_version} has no training reference recorded (`models retrain` "
                "records one): its drift is not measured",
                "accuracy": None,
                "reference_accuracy": None,
                "learned_drift": {},
            }
        if self.w.settings.prometheus_url:
            live = self._guarded(lambda: self._prometheus().window(name, rev.number, minutes))
        else:
            pts = self.embedded(name, max(1, round(minutes)), rev.number)
            live = {
                "input": [sum(p.input_hist[i] for p in pts) for i in range(10)] if pts else [],
                "score": [sum(p.score_hist[i] for p in pts) for i in range(10)] if pts else [],
                "accuracy": pts[-1].accuracy if pts else None,
            }
        signals = []
        for signal in ("input", "score"):
            if live.get(signal) and sum(live[signal]) > 0:
                signals.append(drift_math.measure(signal, getattr(ref, signal), live[signal], ref.rows))
        worst = max((s.psi for s in signals), default=0.0)
        levels = [s.level for s in signals]
        accuracy = live.get("accuracy")
        drop = None if accuracy is None else round(ref.accuracy - accuracy, 4)
        if drop is not None:  # concept drift moves neither inputs nor scores: it shows in accuracy alone
            levels.append("alert" if drop > drift_math.ACCURACY_DROP_ALERT else "ok")
        return {
            **base,
            "window_minutes": minutes,
            "signals": [
                {"signal": s.signal, "psi": s.psi, "ks": s.ks, "ks_p": s.ks_p, "count": s.live_count, "level": s.level}
                for s in signals
            ],
            "psi": worst,
            "level": drift_math.worst(levels),
            "accuracy": accuracy,
            "accuracy_drop": drop,
            "reference_accuracy": ref.accuracy,
            "learned_drift": ref.learned_drift,
        }

    def drift_all(
        self, stop_on_unavailable: bool = False, deps: list[ModelDeployment] | None = None
    ) -> list[dict[str, Any]]:
        """`drift` of every deployment; one that cannot be measured says why (`error`). With
        `stop_on_unavailable`, the first unanswered query marks the rest unmeasured without asking again."""
        out: list[dict[str, Any]] = []
        unavailable: str | None = None
        for d in deps if deps is not None else self.w.cluster.list_deployments():
            if unavailable:
                out.append(_unmeasured(d.name, unavailable, True))
                continue
            try:
                out.append(self.drift(d.name, dep=d))
            except MetricsUnavailable as e:
                out.append(_unmeasured(d.name, str(e), True))
                unavailable = str(e) if stop_on_unavailable else None
            except NotFound as e:
                out.append(_unmeasured(d.name, str(e), False))
        return out

    # -- Prometheus ------------------------------------------------------------------------------------
    def _prometheus(self) -> Any:
        """One client (its connection pool) for the service's life: a Dashboard refresh asks dozens of queries."""
        if self._client is None:
            from console.services.promql import PromQL

            self._client = PromQL(self.w.settings)
        return self._client

    def _guarded(self, query: Any) -> Any:
        try:
            out = query()
        except MetricsUnavailable as e:
            self.last_error = str(e)
            raise
        self.last_error, self.last_ok = None, time.monotonic()
        return out

    def stale_seconds(self) -> float | None:
        """Seconds since the last good answer while Prometheus fails; None while it answers."""
        if self.last_error is None:
            return None
        return None if self.last_ok is None else time.monotonic() - self.last_ok


def _unmeasured(deployment: str, why: str, unavailable: bool) -> dict[str, Any]:
    return {
        "deployment": deployment,
        "level": "unknown",
        "error": why,
        "unavailable": unavailable,
        "signals": [],
        "psi": None,
    }


def _revision(dep: ModelDeployment, number: int | None) -> Revision | None:
    return next((r for r in dep.revisions if r.number == number), None)
