"""Drift of a live distribution from its training reference, from binned counts (what a Prometheus
histogram holds): the Population Stability Index and the two-sample Kolmogorov-Smirnov statistic.

PSI's levels are the credit-scoring convention the model-monitoring tools kept (Evidently, Arize,
SageMaker Model Monitor): below 0.1 stable, 0.1-0.2 a shift worth a look, 0.2 and above a shift to act on."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

PSI_WARN = 0.1
PSI_ALERT = 0.2
# an empty bin on one side would make PSI infinite; this share stands in for it (the usual smoothing)
EMPTY_SHARE = 1e-4
KS_ALPHA = 0.01
ACCURACY_DROP_ALERT = 0.1  # accuracy on labelled predictions this far below the training reference's
# PSI of a small sample is biased upwards (about bins/n from noise alone): below this many live values
# nothing is called drift
MIN_COUNT = 200


@dataclass(frozen=True)
class Drift:
    signal: str  # "input" or "score"
    psi: float
    ks: float  # the largest distance between the two binned CDFs
    ks_p: float  # its p-value at the live window's sample size (the reference taken as exact)
    live_count: int

    @property
    def level(self) -> str:
        """ok, warn or alert by PSI — only where the shift is also significant (the KS test at KS_ALPHA) on
        enough values; "few" below MIN_COUNT."""
        if self.live_count < MIN_COUNT:
            return "few"
        if self.ks_p >= KS_ALPHA:
            return "ok"
        return "alert" if self.psi >= PSI_ALERT else "warn" if self.psi >= PSI_WARN else "ok"


def shares(counts: Sequence[float]) -> list[float]:
    total = float(sum(counts))
    if total <= 0:
        return []
    return [max(c / total, EMPTY_SHARE) for c in counts]


def psi(reference: Sequence[float], live: Sequence[float]) -> float:
    """Σ (live − ref) · ln(live / ref) over the bins' shares; 0 for identical distributions."""
    r, a = shares(reference), shares(live)
    if not r or not a or len(r) != len(a):
        raise ValueError(f"psi needs two non-empty histograms of one binning ({len(reference)} and {len(live)} bins)")
    return sum((x - e) * math.log(x / e) for e, x in zip(r, a, strict=True))


def ks(reference: Sequence[float], live: Sequence[float]) -> float:
    """The KS statistic on binned data: a lower bound of the unbinned one (binning can only hide distance)."""
    tr, tl = float(sum(reference)), float(sum(live))
    if tr <= 0 or tl <= 0 or len(reference) != len(live):
        raise ValueError("ks needs two non-empty histograms of one binning")
    cr = cl = d = 0.0
    for e, x in zip(reference, live, strict=True):
        cr += e / tr
        cl += x / tl
        d = max(d, abs(cr - cl))
    return d


def ks_p_value(d: float, n: int) -> float:
    """P(D ≥ d) at sample size n (for two samples, n·m ÷ (n + m)): the Kolmogorov distribution's tail."""
    x = d * math.sqrt(n)
    if n <= 0 or x < 0.2:  # the series below converges slowly there; the tail is 1 to 8 digits
        return 1.0
    # Kolmogorov's tail, 2 Σ (−1)^(k−1) exp(−2k²x²): pure Python, so the dashboard's drift check does
    # not load scipy
    tail = 2.0 * sum((-1.0) ** (k - 1) * math.exp(-2.0 * k * k * x * x) for k in range(1, 101))
    return max(0.0, min(1.0, tail))


LEVELS = ("few", "ok", "warn", "alert")


def worst(levels: list[str]) -> str:
    return max(levels, key=LEVELS.index, default="few")


def measure(signal: str, reference: Sequence[float], live: Sequence[float], reference_rows: int | None = None) -> Drift:
    """`reference_rows`: how many rows the reference was taken on (its own sampling noise counts: the
    two-sample KS); None for a reference known exactly."""
    d = ks(reference, live)
    n = int(sum(live))
    effective = n if not reference_rows else int(n * reference_rows / (n + reference_rows))
    return Drift(signal, round(psi(reference, live), 4), round(d, 4), ks_p_value(d, effective), n)
