"""Prometheus exporters (prometheus_client), served on 127.0.0.1:

- the embedded estate's model servers: each serving revision's requests, errors, latency
  (`mlops_model_request_predict_seconds`, KServe's request_predict_seconds), prediction scores and inputs
  as histograms, and labelled predictions for accuracy — drawn, per scrape, from the traffic its model
  version would see since the last one (core.monitoring.traffic), so counters only rise, as a real
  server's do;
- the console itself: audit events, approval-queue suggestions by state, rollouts by state, job attempts
  of the last day by status, and each deployment's drift (PSI, KS) and accuracy as the console measures
  them, which the shipped alert rules watch.

Both read the store on every scrape: what another process (the TUI, a CLI command) changed shows at the
next one."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from console.services.wiring import Wiring
from core import clock
from core.monitoring import traffic
from core.monitoring.drift import LEVELS

LABELS = ["deployment", "namespace", "model", "version", "revision"]


class EstateCollector:
    """The model servers of the embedded estate, as if each revision's pods exported their own metrics."""

    def __init__(self, w: Wiring, seed: int = 0):
        import numpy as np

        self.w = w
        self.rng = np.random.default_rng(seed or None)
        self.totals: dict[tuple[str, ...], dict[str, Any]] = {}
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def advance(self) -> None:
        """Draw the traffic of the time since the last scrape into the running totals."""
        now = time.monotonic()
        dt, self.last = max(0.0, now - self.last), now
        w = self.w
        faults_by = w.cluster.faults()
        metrics = w.metrics
        for dep in w.cluster.list_deployments():
            serving = [r for r in dep.revisions if r.status in ("active", "canary") and r.weight > 0]
            faults = traffic.Faults.of(faults_by.get(dep.name))
            for rev in serving:
                key = (dep.name, dep.namespace, rev.model, str(rev.model_version), str(rev.number))
                t = self.totals.setdefault(key, _zero())
                pts = w.cluster.deployment_metrics(dep.name, 1, rev.number)
                if not pts or dt == 0:
                    continue
                p = pts[-1]
                live = traffic.live(metrics.reference(rev.model, rev.model_version), faults)
                self._draw(t, p, live, faults, dt * rev.weight / 100)

    def _draw(self, t: dict[str, Any], p: Any, live: traffic.Live, faults: traffic.Faults, seconds: float) -> None:
        rng = self.rng
        n = int(rng.poisson(p.request_rate * seconds))
        if n == 0:
            return
        errors = int(rng.binomial(n, min(1.0, max(p.error_rate, faults.errors))))
        p50, p99 = p.p50_ms * faults.latency / 1000, p.p99_ms * faults.latency / 1000
        latencies = rng.multinomial(n, _normalised(traffic.latency_shares(p50, p99)))
        ok = n - errors
        labelled = int(rng.binomial(ok, traffic.LABELLED_SHARE))
        t["requests"] += n
        t["errors"] += errors
        t["latency"] += latencies
        t["latency_sum"] += n * p50 * 1.1  # a log-normal's mean sits a little above its median
        t["score"] += rng.multinomial(ok, _normalised(live.score))
        t["score_sum"] += ok * sum((i + 0.5) * traffic.SCORE_WIDTH * s for i, s in enumerate(live.score))
        t["input"] += rng.multinomial(n, _normalised(live.input))
        centres = [traffic.INPUT_EDGES[0] - traffic.INPUT_WIDTH / 2] + [
            e + traffic.INPUT_WIDTH / 2 for e in traffic.INPUT_EDGES
        ]
        t["input_sum"] += n * sum(c * s for c, s in zip(centres, _normalised(live.input), strict=True))
        t["labelled"] += labelled
        t["correct"] += int(rng.binomial(labelled, live.accuracy))

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        with self.lock:
            self.advance()
            totals = {k: dict(v) for k, v in self.totals.items()}
        fams = {
            "requests": CounterMetricFamily("mlops_model_requests", "Prediction requests served.", labels=LABELS),
            "errors": CounterMetricFamily("mlops_model_request_errors", "Requests that failed.", labels=LABELS),
            "labelled": CounterMetricFamily(
                "mlops_model_labelled_predictions", "Predictions whose true label came back.", labels=LABELS
            ),
            "correct": CounterMetricFamily(
                "mlops_model_correct_predictions", "Labelled predictions that were right.", labels=LABELS
            ),
        }
        hists = {
            "latency": HistogramMetricFamily(
                "mlops_model_request_predict_seconds", "Time to answer a prediction request.", labels=LABELS
            ),
            "score": HistogramMetricFamily(
                "mlops_model_prediction_score", "The top class's probability of each prediction.", labels=LABELS
            ),
            "input": HistogramMetricFamily(
                "mlops_model_input_mean_z",
                "Each request's mean standardised feature, in the training data's standard deviations.",
                labels=LABELS,
            ),
        }
        bounds = {
            "latency": traffic.LATENCY_BUCKETS,
            "score": (*traffic.SCORE_EDGES, 1.0),
            "input": tuple(traffic.INPUT_EDGES),
        }
        for key, t in totals.items():
            labels = list(key)
            for name, fam in fams.items():
                fam.add_metric(labels, t[name])
            for name, fam in hists.items():
                fam.add_metric(labels, _buckets(bounds[name], t[name]), t.get(f"{name}_sum", 0.0))
        yield from fams.values()
        yield from hists.values()


def _zero() -> dict[str, Any]:
    import numpy as np

    return {
        "requests": 0,
        "errors": 0,
        "labelled": 0,
        "correct": 0,
        "latency": np.zeros(len(traffic.LATENCY_BUCKETS) + 1, dtype=np.int64),
        "latency_sum": 0.0,
        "score": np.zeros(10, dtype=np.int64),
        "score_sum": 0.0,
        "input": np.zeros(10, dtype=np.int64),
        "input_sum": 0.0,
    }


def _normalised(shares: list[float]) -> list[float]:
    total = sum(shares) or 1.0
    return [s / total for s in shares]


def _buckets(bounds: tuple[float, ...], counts: Any) -> list[tuple[str, float]]:
    """Cumulative (le, count) pairs ending in +Inf, from per-bin counts (one more bin than bounds; a
    histogram whose last bound is its range's top, the score's 1.0, has an empty bin above it)."""
    out, running = [], 0
    counts = list(counts) + [0] * (len(bounds) + 1 - len(counts))
    for le, c in zip(bounds, counts, strict=False):
        running += int(c)
        out.append((repr(float(le)), running))
    out.append(("+Inf", running + sum(int(c) for c in counts[len(bounds) :])))
    return out


class ConsoleCollector:
    """What the console does and sees, for Prometheus and the shipped alert rules."""

    def __init__(self, w: Wiring):
        self.w = w

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        w = self.w
        audit = CounterMetricFamily("mlops_console_audit_events", "Audit events recorded.")
        audit.add_metric([], w.audit.count())
        yield audit
        queue = GaugeMetricFamily("mlops_console_suggestions", "Autofix suggestions by state.", labels=["state"])
        for state, n in w.store.conn.execute("SELECT status, count(*) FROM suggestions GROUP BY status"):
            queue.add_metric([state], n)
        yield queue
        decided = CounterMetricFamily(
            "mlops_console_suggestion_decisions", "Suggestions decided, by who decided and how.", labels=["state"]
        )
        for state, n in w.store.conn.execute(
            "SELECT status, count(*) FROM suggestions WHERE decided_at IS NOT NULL GROUP BY status"
        ):
            decided.add_metric([state], n)
        yield decided
        rollouts = GaugeMetricFamily("mlops_console_rollouts", "Rollout operations by state.", labels=["state"])
        for state, n in w.store.conn.execute(
            "SELECT state, count(*) FROM operations WHERE kind = 'rollout' GROUP BY state"
        ):
            rollouts.add_metric([state], n)
        yield rollouts
        since = clock.iso(clock.now() - timedelta(hours=24))
        attempts = GaugeMetricFamily(
            "mlops_console_job_attempts_24h", "Job attempts of the last 24 hours, by status.", labels=["status"]
        )
        by_status: dict[str, int] = {}
        for a in w.cluster.list_attempts(since=since):
            by_status[a.status] = by_status.get(a.status, 0) + 1
        for status, n in sorted(by_status.items()):
            attempts.add_metric([status], n)
        yield attempts
        yield from self._drift()

    def _drift(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        labels = ["deployment", "model", "version", "signal"]
        psi = GaugeMetricFamily(
            "mlops_console_model_drift_psi", "PSI of live traffic against the training reference.", labels=labels
        )
        ks = GaugeMetricFamily(
            "mlops_console_model_drift_ks", "KS distance of live traffic from the training reference.", labels=labels
        )
        acc_labels = ["deployment", "model", "version"]
        acc = GaugeMetricFamily(
            "mlops_console_model_accuracy",
            "Accuracy on the labelled predictions of the drift window.",
            labels=acc_labels,
        )
        ref = GaugeMetricFamily(
            "mlops_console_model_reference_accuracy", "Accuracy on the training reference.", labels=acc_labels
        )
        level = GaugeMetricFamily(
            "mlops_console_model_drift_level",
            "Drift by PSI where significant: 0 too few values, 1 none, 2 warn (PSI 0.1), 3 alert (PSI 0.2).",
            labels=acc_labels,
        )
        up = GaugeMetricFamily("mlops_console_metrics_source_up", "1 while the serving metrics' source answers.")
        ok = 1
        # stops at the first unanswered query: a scrape must not wait out a timeout per deployment
        for d in self.w.metrics.drift_all(stop_on_unavailable=True):
            if d.get("error") or d["level"] not in LEVELS:  # unmeasured, or no reference to measure against
                ok = 0 if d.get("unavailable") else ok
                continue
            base = [d["deployment"], d["model"], str(d["version"])]
            for s in d["signals"]:
                psi.add_metric([*base, s["signal"]], s["psi"])
                ks.add_metric([*base, s["signal"]], s["ks"])
            level.add_metric(base, LEVELS.index(d["level"]))
            if d.get("accuracy") is not None:
                acc.add_metric(base, d["accuracy"])
            ref.add_metric(base, d["reference_accuracy"])
        up.add_metric([], ok)
        yield from (psi, ks, level, acc, ref, up)


def serve(w: Wiring, port: int | None, estate_port: int | None, bind: str = "127.0.0.1") -> list[int]:
    """Start the exporters' HTTP servers (daemon threads); the ports they listen on (0: a free one)."""
    from prometheus_client import CollectorRegistry, start_http_server

    ports = []
    for collector, p in ((ConsoleCollector(w), port), (EstateCollector(w), estate_port)):
        if collector is None or p is None:
            continue
        registry = CollectorRegistry(auto_describe=False)
        registry.register(collector)  # type: ignore[arg-type]
        server, _ = start_http_server(p, addr=bind, registry=registry)
        ports.append(server.server_port)
    return ports
