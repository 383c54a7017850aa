"""The canary judge (core/monitoring/canary.py) on simulated rollout analysis steps: how often it promotes a
bad canary (false promote) and aborts a good one (false abort), beside the console's threshold analysis on
the same windows, and the time of one analysis step beside one `scipy.stats.mannwhitneyu` call (the anchor).

    .venv/bin/python bench/canary.py [--trials 500] [--seed S] [--window 10]

One analysis step: the stable (baseline) and the canary each serve traffic for W one-minute intervals.
Per trial: total traffic 5–50 requests/s, of which the canary takes 10–20%; each minute's requests
~ Poisson(rate·60). Errors ~ Binomial(requests, p), the baseline's p log-uniform in 0.1%–2% (rates spread
over orders of magnitude). Latency per request is lognormal, median 20–200 ms and shape sigma 0.3–0.8
(p99/p50 of 2–6.5×) per trial, the median jittered per minute (sd 5%); a minute's p50 and p99 are the
quantiles of that minute's own requests (drawn exactly as order statistics), so a small canary's p99 is
as noisy as a real one's. A good canary has the baseline's parameters (also with errors in bursts: each minute's error probability
log-normal around the mean, sd 1, on both sides); a bad one has one of them worse:
  error rate ×2, error rate ×1.3, p99 ×1.5 (the tail heavier, the median unchanged), p50 ×1.2 (every
  request 20% slower).

The threshold analysis is the console's default one (`rollout start` without limits, core/rollouts.py):
the canary fails when more than 2 of its W minutes have an error rate above max(1%, 3× the baseline's
median) or a p99 above 1.5× the baseline's median p99.
"""

from __future__ import annotations

import argparse
import math
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import ndtri
from scipy.stats import mannwhitneyu

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.monitoring.canary import DEFAULT_RULES, judge  # noqa: E402

Z99 = float(ndtri(0.99))
Series = dict[str, np.ndarray]

# kind → (label, how the canary's parameters differ from the baseline's)
KINDS: dict[str, tuple[str, Callable[[dict[str, float]], dict[str, float]]]] = {
    "good": ("good canary (false abort)", lambda p: p),
    "bursty": ("good canary, errors in bursts (false abort)", lambda p: p),
    "err2": ("error rate ×2 (false promote)", lambda p: {**p, "p_err": 2 * p["p_err"]}),
    "err13": ("error rate ×1.3, subtle (false promote)", lambda p: {**p, "p_err": 1.3 * p["p_err"]}),
    "p99": ("p99 ×1.5 (false promote)", lambda p: {**p, "sigma": p["sigma"] + math.log(1.5) / Z99}),
    "p50": ("p50 ×1.2 (false promote)", lambda p: {**p, "median_ms": 1.2 * p["median_ms"]}),
}


def draw_params(rng: np.random.Generator) -> tuple[dict[str, float], float, float]:
    """One trial's baseline parameters, its total traffic (requests/s) and the canary's share of it."""
    params = {
        "p_err": float(np.exp(rng.uniform(np.log(0.001), np.log(0.02)))),
        "median_ms": float(rng.uniform(20, 200)),
        "sigma": float(rng.uniform(0.3, 0.8)),
    }
    return params, float(rng.uniform(5, 50)), float(rng.uniform(0.10, 0.20))


def serve(rng: np.random.Generator, p: dict[str, float], rps: float, minutes: int) -> Series:
    """W one-minute intervals of one side's metrics, as Prometheus would report them."""
    n = rng.poisson(rps * 60, minutes)
    # bursts: each minute's error probability varies around the mean (log-normal, sd `burst`), on both
    # sides alike — what a flaky dependency does, and what the count test takes for a difference
    p_err = p["p_err"] * np.exp(rng.normal(-(p.get("burst", 0) ** 2) / 2, p.get("burst", 0), minutes))
    errors = rng.binomial(n, np.minimum(1.0, p_err))
    with np.errstate(invalid="ignore", divide="ignore"):
        error_rate = np.where(n > 0, errors / np.maximum(n, 1), np.nan)  # no requests: no rate
    median = p["median_ms"] * np.exp(rng.normal(0, 0.05, minutes))
    m = np.maximum(n, 1)

    def quantile(q: float) -> np.ndarray:
        # the k-th smallest of m uniforms is Beta(k, m + 1 − k): the minute's sample quantile, exactly
        k = np.ceil(q * m)
        u = rng.beta(k, m + 1 - k)
        return median * np.exp(p["sigma"] * ndtri(u)) / 1000

    p50, p99 = quantile(0.50), quantile(0.99)
    return {
        "errors": errors.astype(float),
        "requests": n.astype(float),
        "error_rate": error_rate,
        "p50_seconds": np.where(n > 0, p50, np.nan),
        "p99_seconds": np.where(n > 0, p99, np.nan),
    }


def threshold_passed(base: Series, canary: Series, failure_limit: int = 2) -> bool:
    """The console's default analysis (core/rollouts.py): limits from the baseline, bad minutes counted."""
    max_err = max(0.01, 3 * float(np.nanmedian(base["error_rate"])))
    max_p99 = 1.5 * float(np.nanmedian(base["p99_seconds"]))
    bad = (canary["error_rate"] > max_err) | (canary["p99_seconds"] > max_p99)
    return int(bad.sum()) <= failure_limit


def wilson(k: int, n: int) -> tuple[float, float]:
    """95% interval of a rate of k in n."""
    z = 1.96
    centre = (k + z * z / 2) / (n + z * z)
    half = z * math.sqrt(k * (n - k) / n + z * z / 4) / (n + z * z)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate_cell(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k / n:.1%} ({lo:.1%}–{hi:.1%})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=500, help="analysis steps per kind of canary (default 500)")
    ap.add_argument("--seed", type=int, default=None, help="default: a fresh one, printed")
    ap.add_argument("--window", type=int, default=10, metavar="W", help="one-minute intervals per step (default 10)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    rng = np.random.default_rng(seed)
    W, trials = args.window, args.trials
    print(f"seed {seed}, {trials} trials per kind, window {W} one-minute intervals")
    rules = [
        f"{r.name} ({r.direction}, max delta {r.max_effect}, alpha {r.alpha:.3g}{', critical' if r.critical else ''})"
        for r in DEFAULT_RULES
    ]
    print(f"rules: {'; '.join(rules)}")

    def as_lists(s: Series) -> dict[str, list[float]]:
        return {k: v.tolist() for k, v in s.items()}

    # warm: scipy's import and first calls are not an analysis step
    warm = serve(rng, draw_params(rng)[0], 10, W)
    judge(as_lists(warm), as_lists(warm), DEFAULT_RULES)
    mannwhitneyu(warm["p99_seconds"], warm["p99_seconds"], alternative="greater")

    wrong: dict[str, dict[str, int]] = {k: {"judge": 0, "threshold": 0, "console": 0} for k in KINDS}
    caught_by: dict[str, dict[str, int]] = {k: {r.name: 0 for r in DEFAULT_RULES} for k in KINDS}
    t_judge: list[float] = []
    t_anchor: list[float] = []
    t_threshold: list[float] = []
    started = time.perf_counter()
    for _ in range(trials):
        for kind, (_, worsen) in KINDS.items():
            params, rps, weight = draw_params(rng)
            if kind == "bursty":
                params["burst"] = 1.0
            base = serve(rng, params, rps * (1 - weight), W)
            can = serve(rng, worsen(params), rps * weight, W)
            b, c = as_lists(base), as_lists(can)

            t0 = time.perf_counter()
            result: dict[str, Any] = judge(b, c, DEFAULT_RULES)
            t1 = time.perf_counter()
            # the anchor, timed the same way on samples of the same sizes
            mannwhitneyu(c["p99_seconds"], b["p99_seconds"], alternative="greater")
            t2 = time.perf_counter()
            thr = threshold_passed(base, can)
            t3 = time.perf_counter()
            t_judge.append(t1 - t0)
            t_anchor.append(t2 - t1)
            t_threshold.append(t3 - t2)

            good = kind in ("good", "bursty")
            wrong[kind]["judge"] += result["passed"] != good
            wrong[kind]["threshold"] += thr != good
            # what a rollout step decides (core.rollouts.Rollouts.analyse): the thresholds pass and the judge
            # does not fail (a judge with too few samples to tell leaves it to the thresholds)
            console = thr and (result["passed"] or "not judged" in result["summary"])
            wrong[kind]["console"] += console != good
            for m in result["metrics"]:
                caught_by[kind][m["name"]] += m["verdict"] == "fail"
    elapsed = time.perf_counter() - started

    print()
    print(
        f"| canary (W={W}) | trials | judge: wrong verdicts (95% CI) | threshold analysis: wrong verdicts (95% CI) | the console's step (both): wrong verdicts (95% CI) | judge: metric failing (error / p99 / p50) |"
    )
    print("|---|---|---|---|---|---|")
    for kind, (label, _) in KINDS.items():
        by = caught_by[kind]
        print(
            f"| {label} | {trials} | {rate_cell(wrong[kind]['judge'], trials)} | "
            f"{rate_cell(wrong[kind]['threshold'], trials)} | {rate_cell(wrong[kind]['console'], trials)} | "
            f"{by['errors'] / trials:.0%} / {by['p99_seconds'] / trials:.0%} / {by['p50_seconds'] / trials:.0%} |"
        )

    anchor = statistics.median(t_anchor)
    print()
    print(f"| one analysis step ({len(t_judge)} timed) | median | p95 | ratio to the anchor (medians) |")
    print("|---|---|---|---|")
    for name, ts in (
        (f"anchor: scipy.stats.mannwhitneyu, {W} vs {W} samples", t_anchor),
        (f"judge, {len(DEFAULT_RULES)} metrics", t_judge),
        ("threshold analysis", t_threshold),
    ):
        med, p95 = statistics.median(ts), statistics.quantiles(ts, n=20)[-1]
        print(f"| {name} | {med * 1e6:.0f} µs | {p95 * 1e6:.0f} µs | {med / anchor:.2f}× |")
    print(f"\n{elapsed:.1f} s in all (simulation included)")


if __name__ == "__main__":
    main()
