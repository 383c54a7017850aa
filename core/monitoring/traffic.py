"""What a model server's traffic looks like, as distributions: the inputs and scores a model version
sees (its training reference, moved by whatever drift the world has), its accuracy on the requests
that get labels, its latency and its errors. The embedded estate's metrics are drawn from these; a
real estate's come from its own servers through Prometheus.

Bins are fixed so that any two histograms compare: the monitored input is each request's mean
standardised feature (z̄, in the training data's standard deviations) over 10 bins 0.2 wide around 0,
the score (the top class's probability) over 10 bins 0.1 wide on [0, 1]."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

INPUT_WIDTH = 0.2
INPUT_EDGES = [round(-0.8 + INPUT_WIDTH * i, 1) for i in range(9)]  # inner edges: 10 bins, the outer two open
SCORE_WIDTH = 0.1
SCORE_EDGES = [round(SCORE_WIDTH * (i + 1), 1) for i in range(9)]
# Prometheus's default latency buckets (seconds), as KServe's request_predict_seconds uses them
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
LABELLED_SHARE = 0.1  # requests whose true label comes back later (feedback), on which accuracy is measured
Z_P99 = 2.3263  # the standard normal's 99th percentile


@dataclass(frozen=True)
class Faults:
    """What the simulator's world does to a deployment: an error rate it cannot fall below, a latency
    factor, and drift — covariate (the inputs move, in training standard deviations), prior (the scores
    move: the classes' balance changed) and concept (the same inputs now mean something else: accuracy
    falls by this much)."""

    errors: float = 0.0
    latency: float = 1.0
    covariate: float = 0.0
    prior: float = 0.0
    concept: float = 0.0

    @classmethod
    def of(cls, d: dict[str, Any] | None) -> Faults:
        return cls(**{k: float(v) for k, v in (d or {}).items() if k in cls.__dataclass_fields__})

    def to_dict(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if v != Faults.__dataclass_fields__[k].default}

    @property
    def drift(self) -> dict[str, float]:
        return {"covariate": self.covariate, "prior": self.prior, "concept": self.concept}


@dataclass(frozen=True)
class Reference:
    """A model version's training reference: the shares of its validation inputs and scores per bin, its
    accuracy there, and the world's drift its data already had (a retrain on recent data learns it)."""

    input: list[float]
    score: list[float]
    accuracy: float
    learned_drift: dict[str, float] = field(default_factory=dict)
    rows: int | None = None  # the held-out rows it was taken on (None: a shape known exactly)

    @classmethod
    def of(cls, d: dict[str, Any]) -> Reference:
        return cls(
            [float(v) for v in d["input"]],
            [float(v) for v in d["score"]],
            float(d["accuracy"]),
            {k: float(v) for k, v in (d.get("learned_drift") or {}).items()},
            int(d["rows"]) if d.get("rows") else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": [round(v, 5) for v in self.input],
            "score": [round(v, 5) for v in self.score],
            "accuracy": round(self.accuracy, 4),
            "learned_drift": self.learned_drift,
            "rows": self.rows,
        }


def _normal_cdf(x: float, mean: float, sd: float) -> float:
    return 0.5 * (1 + math.erf((x - mean) / (sd * math.sqrt(2))))


def binned(edges: Sequence[float], cdf: Any) -> list[float]:
    """Shares of the bins that `edges` (inner edges) cut, from a CDF."""
    cuts = [0.0, *(cdf(e) for e in edges), 1.0]
    return [max(0.0, b - a) for a, b in zip(cuts, cuts[1:], strict=False)]


def parametric(score_mean: float, accuracy: float = 0.9) -> Reference:
    """The reference of a version the estate knows only by its mean score: inputs z̄ ~ N(0, 0.35) (a mean of
    many standardised features is narrow), scores a bump around the mean."""
    raw = [math.exp(-(((b + 0.5) * SCORE_WIDTH - score_mean) ** 2) / 0.02) for b in range(10)]
    total = sum(raw) or 1.0
    return Reference(binned(INPUT_EDGES, lambda x: _normal_cdf(x, 0.0, 0.35)), [r / total for r in raw], accuracy)


def histogram(values: Sequence[float], edges: Sequence[float]) -> list[float]:
    """Shares of `values` per bin (inner edges; a value on an edge goes to the lower bin, as Prometheus's le)."""
    import bisect

    counts = [0] * (len(edges) + 1)
    for v in values:
        counts[bisect.bisect_left(edges, v)] += 1
    n = len(values) or 1
    return [c / n for c in counts]


def shifted(shares: Sequence[float], width: float, delta: float) -> list[float]:
    """The histogram moved by `delta` (in the bins' units): each bin's mass, spread evenly over it, lands
    in the bins it now covers; what leaves the range piles into the outer bins (they are open)."""
    k = delta / width
    whole = math.floor(k)
    frac = k - whole
    out = [0.0] * len(shares)
    last = len(shares) - 1
    for i, m in enumerate(shares):
        for j, part in ((i + whole, m * (1 - frac)), (i + whole + 1, m * frac)):
            out[min(last, max(0, j))] += part
    return out


@dataclass(frozen=True)
class Live:
    """What a version serves right now: the distributions its requests are drawn from."""

    input: list[float]
    score: list[float]
    accuracy: float


def live(reference: Reference, faults: Faults) -> Live:
    """The reference as the world has moved since the version's data was taken. Moved inputs also cost
    accuracy (a model extrapolates worse off its data: 0.15 per standard deviation), as does a changed
    concept."""
    moved = {k: v - reference.learned_drift.get(k, 0.0) for k, v in faults.drift.items()}
    acc = reference.accuracy - 0.15 * abs(moved["covariate"]) - max(0.0, moved["concept"])
    return Live(
        shifted(reference.input, INPUT_WIDTH, moved["covariate"]),
        shifted(reference.score, SCORE_WIDTH, moved["prior"]),
        min(1.0, max(0.0, acc)),
    )


def latency_shares(p50_s: float, p99_s: float) -> list[float]:
    """Shares of requests per latency bucket (non-cumulative, the last one above the largest bound), for a
    log-normal latency with this median and 99th percentile."""
    sigma = max(1e-6, math.log(max(p99_s, p50_s * 1.0001) / p50_s) / Z_P99)
    mu = math.log(p50_s)
    return binned(LATENCY_BUCKETS, lambda x: _normal_cdf(math.log(x), mu, sigma))
