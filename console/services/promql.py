"""The serving metrics as PromQL answers them, through prometheus-api-client: rates of the request and
error counters, histogram_quantile over the latency buckets, and the score and input histograms' bucket
increases over a window (Prometheus keeps them cumulative by `le`; a bin is the difference of two)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from console.settings import Settings, secret
from core import clock
from core.errors import MetricsUnavailable
from core.monitoring import traffic
from core.sanitize import redact_url
from core.types import MetricPoint

MIN_LABELLED = 100  # labelled predictions below which accuracy is not measured (noise)

# PromQL names of the serving metrics (what `estate serve-metrics` exports; KServe's request_predict_seconds)
REQUESTS = "mlops_model_requests_total"
ERRORS = "mlops_model_request_errors_total"
LATENCY = "mlops_model_request_predict_seconds"
SCORE = "mlops_model_prediction_score"
INPUT = "mlops_model_input_mean_z"
LABELLED = "mlops_model_labelled_predictions_total"
CORRECT = "mlops_model_correct_predictions_total"


class PromQL:
    def __init__(self, settings: Settings):
        from prometheus_api_client import PrometheusConnect
        from urllib3.util.retry import Retry

        headers = (
            {"Authorization": f"Bearer {secret(settings.prometheus_token)}"} if settings.prometheus_token else None
        )
        auth = tuple(secret(settings.prometheus_basic_auth).split(":", 1)) if settings.prometheus_basic_auth else None
        self.url = redact_url(settings.prometheus_url)  # what messages name
        self.timeout = settings.monitoring_timeout_seconds
        self.step = settings.prometheus_step_seconds
        # no retries: a console that waits out a backoff on every refresh freezes the operator with it
        self.prom = PrometheusConnect(
            url=settings.prometheus_url, headers=headers, auth=auth, retry=Retry(total=0), timeout=self.timeout
        )

    def _call(self, fn: Any, *args: Any, **kw: Any) -> Any:
        from prometheus_api_client.exceptions import PrometheusApiClientException
        from requests.exceptions import RequestException

        try:
            return fn(*args, **kw)
        except (RequestException, PrometheusApiClientException, ValueError) as e:
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise MetricsUnavailable(f"Prometheus at {self.url}: {first[:200]}") from None

    def instant(self, query: str) -> list[dict[str, Any]]:
        return list(self._call(self.prom.custom_query, query))

    def scalar(self, query: str) -> float | None:
        rows = self.instant(query)
        if not rows:
            return None
        v = float(rows[0]["value"][1])
        return None if math.isnan(v) else v

    def _range(self, query: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        return list(self._call(self.prom.custom_query_range, query, start, end, f"{int(self.step)}s"))

    @staticmethod
    def selector(deployment: str, revision: int) -> str:
        return f'deployment="{_quoted(deployment)}",revision="{int(revision)}"'

    @property
    def rate_window(self) -> str:
        """One step: the measurements do not overlap (a count is in one of them, the canary judge's counts
        stay independent). A step must hold two scrapes or more for a rate."""
        return f"{int(self.step)}s"

    def points(self, deployment: str, revision: int, minutes: int) -> list[MetricPoint]:
        """One point per step with requests in it; a step without any is no measurement (no latency, no
        error rate), as the estate leaves out a minute it did not serve."""
        sel, w = self.selector(deployment, revision), self.rate_window
        # one grid for every query: Prometheus evaluates a range at start + k·step, so these line up
        end = datetime.fromtimestamp(int(datetime.now(UTC).timestamp()), UTC)  # real time: Prometheus's
        start = end - timedelta(minutes=minutes)
        req = f"sum(rate({REQUESTS}{{{sel}}}[{w}]))"
        series = {
            "rate": req,
            "errors": f"sum(rate({ERRORS}{{{sel}}}[{w}])) / {req}",
            "accuracy": f"sum(rate({CORRECT}{{{sel}}}[{w}])) / sum(rate({LABELLED}{{{sel}}}[{w}]))",
            **{
                f"p{q}": f"histogram_quantile(0.{q}, sum by (le) (rate({LATENCY}_bucket{{{sel}}}[{w}])))"
                for q in (50, 95, 99)
            },
        }
        values: dict[str, dict[float, float]] = {}
        for key, q in series.items():
            rows = self._range(q, start, end)
            values[key] = {float(t): float(v) for t, v in rows[0]["values"]} if rows else {}
        hists = {
            h: self._bins_range(f"sum by (le) (increase({m}_bucket{{{sel}}}[{w}]))", start, end, h)
            for h, m in (("score", SCORE), ("input", INPUT))
        }
        out = []
        for t in sorted(values["rate"]):
            rate = values["rate"][t]
            p50, p95, p99 = (values[k].get(t, math.nan) for k in ("p50", "p95", "p99"))
            errors = values["errors"].get(t, math.nan)
            if not all(math.isfinite(v) for v in (rate, p50, p95, p99, errors)) or rate <= 0:
                continue
            score = hists["score"].get(t, [0.0] * 10)
            n = sum(score) or 1
            out.append(
                MetricPoint(
                    ts=clock.iso(datetime.fromtimestamp(t, UTC)),
                    request_rate=round(rate, 3),
                    p50_ms=round(p50 * 1000, 2),
                    p95_ms=round(p95 * 1000, 2),
                    p99_ms=round(p99 * 1000, 2),
                    error_rate=round(errors, 5),
                    score_mean=round(sum((i + 0.5) * 0.1 * c for i, c in enumerate(score)) / n, 4),
                    score_hist=[round(c) for c in score],
                    input_hist=[round(c) for c in hists["input"].get(t, [0.0] * 10)],
                    accuracy=_maybe(values["accuracy"].get(t)),
                )
            )
        return out

    def window(self, deployment: str, revision: int, minutes: float) -> dict[str, Any]:
        """The input and score histograms' counts over the last `minutes`, and the accuracy on the labelled
        requests there (None on fewer than MIN_LABELLED): what drift is measured on."""
        sel, w = self.selector(deployment, revision), f"{max(1, int(minutes * 60))}s"
        out: dict[str, Any] = {}
        for key, metric in (("score", SCORE), ("input", INPUT)):
            cum = {
                float(r["metric"].get("le", "nan")): _finite(float(r["value"][1]))
                for r in self.instant(f"sum by (le) (increase({metric}_bucket{{{sel}}}[{w}]))")
            }
            out[key] = bins(cum, key) if cum else []
        labelled = self.scalar(f"sum(increase({LABELLED}{{{sel}}}[{w}]))") or 0.0
        correct = self.scalar(f"sum(increase({CORRECT}{{{sel}}}[{w}]))") or 0.0
        out["accuracy"] = round(correct / labelled, 4) if labelled >= MIN_LABELLED else None
        out["labelled"] = labelled
        return out

    def _bins_range(self, query: str, start: datetime, end: datetime, histogram: str) -> dict[float, list[float]]:
        by_le: dict[float, dict[float, float]] = {}
        for row in self._range(query, start, end):
            le = float(row["metric"].get("le", "nan"))
            for t, v in row["values"]:
                by_le.setdefault(float(t), {})[le] = _finite(float(v))
        return {t: bins(cum, histogram) for t, cum in by_le.items()}


# the bucket bounds each histogram is exported with (console/exporter.py), +Inf last
BOUNDS = {
    "score": (*traffic.SCORE_EDGES, 1.0, math.inf),
    "input": (*traffic.INPUT_EDGES, math.inf),
}


def bins(cumulative: dict[float, float], histogram: str) -> list[float]:
    """The 10 per-bin counts of a score or input histogram from its cumulative buckets (le → count). A
    histogram with other buckets than the console's (another exporter's) is refused, naming them: bins
    that do not line up with the reference's would make any drift number meaningless."""
    edges = sorted(cumulative)
    if tuple(edges) != BOUNDS[histogram]:
        raise MetricsUnavailable(
            f"the {histogram} histogram's buckets are {', '.join(f'{e:g}' for e in edges)}; "
            f"drift needs {', '.join(f'{e:g}' for e in BOUNDS[histogram])}"
        )
    counts, below = [], 0.0
    for le in edges:
        counts.append(max(0.0, cumulative[le] - below))
        below = max(below, cumulative[le])
    return counts[:9] + [sum(counts[9:])]  # the score's bucket above 1.0 is empty: folded into the last


def _finite(v: float | None) -> float:
    return 0.0 if v is None or math.isnan(v) or math.isinf(v) else v


def _maybe(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) or math.isinf(v) else round(v, 4)


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
