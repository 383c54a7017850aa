"""A canary judge in the manner of Kayenta: each metric's canary samples against the baseline's, by the
Mann-Whitney U test and an effect-size bound together.

The test alone aborts on differences too small to matter once there are many samples (every shift is
significant at large n), and it says nothing useful on a handful of samples. So a metric fails only when
the difference is both significant (one-sided p < alpha, in the direction that is bad for that metric)
and large: Cliff's delta past `max_effect`. Cliff's delta is 2A − 1, where A = U / (n_canary·n_baseline)
is the probability that a canary sample exceeds a baseline one (ties count half): 0 means no difference,
+1 means every canary sample is above every baseline sample. A metric with fewer than `min_samples` on
either side is inconclusive, and its line still shows the medians and the delta so that a large
difference on few samples is seen.

A metric of counts (errors among requests: a rule with `trials`) is judged on the pooled counts
instead, by the conditional exact test of two Poisson rates (given k errors in all, the canary's share
of them is binomial with its share of the requests under no difference), and fails only when that is
significant and the canary's error rate exceeds the baseline's by more than `max_effect` (relative).
Per-minute error rates of a canary at 10% of a quiet service are mostly zeros, on which a rank test has
little to go on; the counts carry the information. Errors come in bursts (a flaky dependency), which a
test of independent requests takes for a difference: where the minutes' counts vary more than
independent requests would make them (the Pearson dispersion φ of both sides' minutes, each about its
own rate), the test is the quasi-Poisson one instead — the log rate ratio over its standard error
inflated by √φ (bench/canary.py measures both).

    judge(baseline={"errors": [...], "requests": [...], "p99_seconds": [...]}, canary={...}, rules=DEFAULT_RULES)

scipy and numpy are imported inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import BadInput

DIRECTIONS = ("increase", "decrease", "either")


@dataclass(frozen=True)
class MetricRule:
    """How one metric is judged.

    direction: "increase" when higher is worse (error rate, latency), "decrease" when lower is worse
    (accuracy, throughput), "either" when any change is. max_effect: the largest Cliff's delta in the bad
    direction that is still tolerated (0 to 1). critical: its failure fails the whole judgement."""

    name: str
    direction: str
    max_effect: float
    alpha: float = 0.05
    critical: bool = False
    trials: str | None = None  # counts: the metric counting the trials its events are among ("requests")

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise BadInput(
                f"metric {self.name}: direction must be one of {', '.join(DIRECTIONS)}, got {self.direction!r}"
            )
        if self.trials is not None and self.direction != "increase":
            raise BadInput(f"metric {self.name}: a count metric is judged for an increase only")
        if self.trials is None and not 0 <= self.max_effect < 1:
            raise BadInput(
                f"metric {self.name}: max_effect is a Cliff's delta, from 0 to below 1, got {self.max_effect}"
            )
        if not 0 < self.alpha < 1:
            raise BadInput(f"metric {self.name}: alpha must lie between 0 and 1, got {self.alpha}")


# Errors gate the rollout on their own (critical), judged on counts: a canary failing 25% more of its
# requests than the baseline is the least difference that counts. Latency: a Cliff's delta of 0.3 (the
# canary higher in 65% of pairs of minutes) is the top of a "small" effect (Romano et al. 2006: below
# 0.147 negligible, 0.33 small, 0.474 medium); on 10 minutes a side a one-sided p below alpha already
# takes a larger delta, so the bound bites from about 20 samples a side. Alpha is 0.05 shared among the
# three (Bonferroni): any failing metric aborts, so each takes a third of the false aborts allowed.
DEFAULT_RULES: tuple[MetricRule, ...] = (
    MetricRule("errors", "increase", 0.25, alpha=0.05 / 3, critical=True, trials="requests"),
    MetricRule("p99_seconds", "increase", 0.3, alpha=0.05 / 3),
    MetricRule("p50_seconds", "increase", 0.3, alpha=0.05 / 3),
)


def judge(
    baseline: Mapping[str, Sequence[float]],
    canary: Mapping[str, Sequence[float]],
    rules: Sequence[MetricRule],
    pass_score: float = 0.75,
    min_samples: int = 5,
) -> dict[str, Any]:
    """Judge the canary metric by metric (only the metrics that `rules` name; a metric missing from either
    side has no samples). The result is plain data (JSON-serialisable):

    passed: no critical metric failed, the score is at least `pass_score`, and at least one metric was
    conclusive. score: the share of conclusive metrics that passed (0 when none was)."""
    if not 0 <= pass_score <= 1:
        raise BadInput(f"pass_score must lie between 0 and 1, got {pass_score}")
    if min_samples < 1:
        raise BadInput(f"min_samples must be at least 1, got {min_samples}")
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise BadInput(
            f"metric rules name a metric twice: {', '.join(sorted({n for n in names if names.count(n) > 1}))}"
        )

    metrics = [
        judge_counts(baseline, canary, r, min_samples)
        if r.trials
        else judge_metric(baseline.get(r.name, ()), canary.get(r.name, ()), r, min_samples=min_samples)
        for r in rules
    ]
    conclusive = [m for m in metrics if m["verdict"] != "inconclusive"]
    failed = [m for m in metrics if m["verdict"] == "fail"]
    critical_failed = [m for m, r in zip(metrics, rules, strict=True) if r.critical and m["verdict"] == "fail"]
    score = (len(conclusive) - len(failed)) / len(conclusive) if conclusive else 0.0
    passed = bool(conclusive) and not critical_failed and score >= pass_score
    return {
        "passed": passed,
        "score": score,
        "metrics": metrics,
        "summary": _summary(metrics, rules, score, pass_score, passed, min_samples),
    }


def judge_metric(
    baseline: Sequence[float], canary: Sequence[float], rule: MetricRule, min_samples: int = 5
) -> dict[str, Any]:
    """One metric's verdict, "pass", "fail" or "inconclusive", with its numbers and a readable `why`."""
    import numpy as np

    b = np.asarray(baseline, dtype=float)
    c = np.asarray(canary, dtype=float)
    b, c = b[~np.isnan(b)], c[~np.isnan(c)]  # a minute with no requests has no rate: it is no sample
    out: dict[str, Any] = {
        "name": rule.name,
        "verdict": "inconclusive",
        "p_value": None,
        "cliffs_delta": None,
        "baseline_median": float(np.median(b)) if b.size else None,
        "canary_median": float(np.median(c)) if c.size else None,
        "median_change": None,
        "n_baseline": int(b.size),
        "n_canary": int(c.size),
        "why": "",
    }
    if not b.size or not c.size:
        empty = " and ".join(side for side, x in (("baseline", b), ("canary", c)) if not x.size)
        out["why"] = f"{rule.name}: no {empty} samples, not judged"
        return out
    out["median_change"] = _relative(out["baseline_median"], out["canary_median"])
    medians = _medians_text(out)

    constant = bool(np.all(b == b[0]) and np.all(c == b[0]))
    if constant:
        # the U test's variance is 0 here, a case left to no library's version: equal samples, no difference
        p, delta = 1.0, 0.0
    else:
        from scipy.stats import mannwhitneyu

        alternative = {"increase": "greater", "decrease": "less", "either": "two-sided"}[rule.direction]
        res = mannwhitneyu(c, b, alternative=alternative)
        # U is the canary's statistic: the pairs where the canary is higher, ties counting half
        delta = 2 * float(res.statistic) / (b.size * c.size) - 1
        p = float(res.pvalue)
    out["p_value"], out["cliffs_delta"] = p, delta

    bad_effect = _bad_effect(delta, rule.direction)
    if b.size < min_samples or c.size < min_samples:
        few = ", ".join(f"{x.size} {side}" for side, x in (("baseline", b), ("canary", c)) if x.size < min_samples)
        big = " — a large difference in the bad direction" if bad_effect > rule.max_effect else ""
        out["why"] = (
            f"{rule.name}: only {few} samples (need {min_samples} each), not judged; "
            f"{medians}, Cliff's delta {delta:+.2f}{big}"
        )
        return out

    worse = {"increase": "higher", "decrease": "lower", "either": "different"}[rule.direction]
    significant, large = p < rule.alpha, bad_effect > rule.max_effect
    if significant and large:
        out["verdict"] = "fail"
        out["why"] = (
            f"{rule.name} {worse} in the canary: {medians}, Cliff's delta {delta:+.2f} past {rule.max_effect:.2f}, "
            f"p={p:.2g} < {rule.alpha:g}"
        )
    else:
        out["verdict"] = "pass"
        if significant:
            reason = f"significant (p={p:.2g}) but small: Cliff's delta {delta:+.2f} within {rule.max_effect:.2f}"
        elif constant:
            reason = f"all {b.size + c.size} samples equal"
        else:
            reason = f"not significantly {worse} (p={p:.2g} ≥ {rule.alpha:g}), Cliff's delta {delta:+.2f}"
        out["why"] = f"{rule.name}: {reason}; {medians}"
    return out


def judge_counts(
    baseline: Mapping[str, Sequence[float]], canary: Mapping[str, Sequence[float]], rule: MetricRule, min_samples: int
) -> dict[str, Any]:
    """A count metric's verdict on the pooled counts of each side: the exact conditional test of the
    canary's event rate against the baseline's (one-sided), and the relative increase of the rate.
    "cliffs_delta" carries the relative increase here (the effect the bound is on)."""
    from scipy.stats import binomtest

    assert rule.trials is not None

    def minutes(side: Mapping[str, Sequence[float]]) -> list[tuple[float, float]]:
        return [
            (e, t)
            for e, t in zip(side.get(rule.name, ()), side.get(rule.trials or "", ()), strict=False)
            if math.isfinite(e) and math.isfinite(t) and t > 0
        ]

    mb, mc = minutes(baseline), minutes(canary)
    (kb, nb, ib), (kc, nc, ic) = ((int(sum(e for e, _ in m)), int(sum(t for _, t in m)), len(m)) for m in (mb, mc))
    rb, rc = (kb / nb if nb else None), (kc / nc if nc else None)
    out: dict[str, Any] = {
        "name": rule.name,
        "verdict": "inconclusive",
        "p_value": None,
        "cliffs_delta": None,
        "baseline_median": rb,  # the pooled rates, for a count metric
        "canary_median": rc,
        "median_change": None,
        "n_baseline": ib,
        "n_canary": ic,
        "why": "",
    }
    if rb is None or rc is None or ib < min_samples or ic < min_samples:
        out["why"] = (
            f"{rule.name}: {ib} baseline and {ic} canary intervals with {rule.trials} (need {min_samples}), not judged"
        )
        return out
    change = _relative(rb, rc) if rb else (0.0 if rc == 0 else None)
    out["median_change"] = out["cliffs_delta"] = change
    rates = f"{kc}/{nc} = {rc:.3%} vs {kb}/{nb} = {rb:.3%}"
    if kc + kb == 0:
        out["verdict"], out["p_value"] = "pass", 1.0
        out["why"] = f"{rule.name}: none on either side in {nc + nb} {rule.trials}"
        return out
    phi = _dispersion(mb, kb / nb, mc, kc / nc)
    if phi <= 1.0:
        p = float(binomtest(kc, kc + kb, nc / (nc + nb), alternative="greater").pvalue)
    else:  # quasi-Poisson: half an event added to each side keeps a side with none finite
        z = math.log(((kc + 0.5) / nc) / ((kb + 0.5) / nb)) / math.sqrt(phi * (1 / (kc + 0.5) + 1 / (kb + 0.5)))
        p = 0.5 * math.erfc(z / math.sqrt(2))
        rates += f", dispersion {phi:.1f}"
    out["p_value"] = p
    large = change is None or change > rule.max_effect  # None: the baseline had none, the canary some
    more = "+∞" if change is None else f"{change:+.0%}"
    if p < rule.alpha and large:
        out["verdict"] = "fail"
        out["why"] = (
            f"{rule.name} higher in the canary: {rates} ({more}, past +{rule.max_effect:.0%}), p={p:.2g} < {rule.alpha:.2g}"
        )
    else:
        out["verdict"] = "pass"
        reason = (
            f"significant (p={p:.2g}) but within +{rule.max_effect:.0%}"
            if p < rule.alpha
            else f"not significantly higher (p={p:.2g})"
        )
        out["why"] = f"{rule.name}: {reason}; {rates} ({more})"
    return out


def _dispersion(*sides: Any) -> float:
    """Pearson's φ of the minutes' counts about each side's own rate: 1 for independent events, more
    when they come in bursts. Pairs of (minutes, rate)."""
    chi2, df = 0.0, 0
    for mins, rate in zip(sides[::2], sides[1::2], strict=True):
        if rate <= 0 or len(mins) < 2:
            continue
        chi2 += sum((e - t * rate) ** 2 / (t * rate) for e, t in mins)
        df += len(mins) - 1
    return chi2 / df if df else 1.0


def _bad_effect(delta: float, direction: str) -> float:
    """Cliff's delta turned so that positive is worse for a metric of this direction."""
    return {"increase": delta, "decrease": -delta, "either": abs(delta)}[direction]


def _relative(base: float, new: float) -> float | None:
    """(new − base) / |base|; None when the baseline's median is 0 and the canary's is not."""
    if base == new:
        return 0.0
    if base == 0 or not math.isfinite(base) or not math.isfinite(new):
        return None
    return (new - base) / abs(base)


def _medians_text(m: dict[str, Any]) -> str:
    change = m["median_change"]
    pct = f" ({change:+.0%})" if change is not None else ""
    return f"median {m['canary_median']:.4g} vs {m['baseline_median']:.4g}{pct}"


def _summary(
    metrics: list[dict[str, Any]],
    rules: Sequence[MetricRule],
    score: float,
    pass_score: float,
    passed: bool,
    min_samples: int,
) -> str:
    conclusive = [m for m in metrics if m["verdict"] != "inconclusive"]
    # an inconclusive metric is named, and flagged when its few samples already differ a lot the bad way
    inconclusive = [
        f"{m['name']} ({m['n_baseline']}/{m['n_canary']} samples"
        + (
            f", Cliff's delta {m['cliffs_delta']:+.2f}: large)"
            if m["cliffs_delta"] is not None
            and not r.trials
            and _bad_effect(m["cliffs_delta"], r.direction) > r.max_effect
            else ")"
        )
        for m, r in zip(metrics, rules, strict=True)
        if m["verdict"] == "inconclusive"
    ]
    not_judged = f"; too few samples to judge (baseline/canary): {', '.join(inconclusive)}" if inconclusive else ""
    if not conclusive:
        if not metrics:
            return "canary not judged: no metric rules, nothing to judge on"
        return f"canary not judged: no metric had {min_samples} samples on each side, nothing to judge on: {', '.join(inconclusive)}"
    critical = {r.name for r in rules if r.critical}
    failed = [m for m in metrics if m["verdict"] == "fail"]
    tally = f"{len(conclusive) - len(failed)}/{len(conclusive)} metrics passed, score {score:.2f}"
    if passed:
        return f"canary passed: {tally} (≥ {pass_score:.2f}){not_judged}"
    reasons = [f"{m['why']}{' (critical metric)' if m['name'] in critical else ''}" for m in failed]
    if not any(m["name"] in critical for m in failed):
        tally += f" < {pass_score:.2f}"
    return f"canary failed: {'; '.join(reasons)}; {tally}{not_judged}"
