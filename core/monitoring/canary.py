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

Pure Python (the U test and the binomial tail are here, tested against scipy): a rollout step in a
fresh process does not pay scipy.stats' import.
"""

from __future__ import annotations

import math
import statistics
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
    b = [float(x) for x in baseline if not math.isnan(x)]  # a minute with no requests has no rate: no sample
    c = [float(x) for x in canary if not math.isnan(x)]
    out: dict[str, Any] = {
        "name": rule.name,
        "verdict": "inconclusive",
        "p_value": None,
        "cliffs_delta": None,
        "baseline_median": statistics.median(b) if b else None,
        "canary_median": statistics.median(c) if c else None,
        "median_change": None,
        "n_baseline": len(b),
        "n_canary": len(c),
        "why": "",
    }
    if not b or not c:
        empty = " and ".join(side for side, x in (("baseline", b), ("canary", c)) if not x)
        out["why"] = f"{rule.name}: no {empty} samples, not judged"
        return out
    out["median_change"] = _relative(out["baseline_median"], out["canary_median"])
    medians = _medians_text(out)

    constant = all(x == b[0] for x in b) and all(x == b[0] for x in c)
    if constant:
        # the U test's variance is 0 here, a case left to no library's version: equal samples, no difference
        p, delta = 1.0, 0.0
    else:
        u, p = mann_whitney_u(c, b, {"increase": "greater", "decrease": "less", "either": "two-sided"}[rule.direction])
        # U is the canary's statistic: the pairs where the canary is higher, ties counting half
        delta = 2 * u / (len(b) * len(c)) - 1
    out["p_value"], out["cliffs_delta"] = p, delta

    bad_effect = _bad_effect(delta, rule.direction)
    if len(b) < min_samples or len(c) < min_samples:
        few = ", ".join(f"{len(x)} {side}" for side, x in (("baseline", b), ("canary", c)) if len(x) < min_samples)
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
            reason = f"all {len(b) + len(c)} samples equal"
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
    assert rule.trials is not None

    def minutes(side: Mapping[str, Sequence[float]]) -> list[tuple[float, float]]:
        return [
            (e, t)
            for e, t in zip(side.get(rule.name, ()), side.get(rule.trials or "", ()), strict=False)
            if math.isfinite(e) and math.isfinite(t) and t > 0
        ]

    mb, mc = minutes(baseline), minutes(canary)
    (kb, nb, ib), (kc, nc, ic) = ((round(sum(e for e, _ in m)), round(sum(t for _, t in m)), len(m)) for m in (mb, mc))
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
        p = binomial_sf(kc, kc + kb, nc / (nc + nb))
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


def mann_whitney_u(x: Sequence[float], y: Sequence[float], alternative: str) -> tuple[float, float]:
    """(U of x, p-value) as scipy.stats.mannwhitneyu's default method computes them: exact with 8 or fewer
    samples on a side and no ties, else the normal approximation with the tie correction and the
    continuity correction. Here in pure Python: scipy.stats takes 1.4 s to import, which every
    `rollouts promote` would pay (tests hold it to scipy's answers)."""
    n1, n2 = len(x), len(y)
    pooled = sorted([(v, 0) for v in x] + [(v, 1) for v in y])
    ranks_x, ties, i = 0.0, [], 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        rank = (i + j) / 2 + 1  # the average rank of a run of equal values
        ranks_x += rank * sum(1 for k in range(i, j + 1) if pooled[k][1] == 0)
        ties.append(j - i + 1)
        i = j + 1
    u = ranks_x - n1 * (n1 + 1) / 2
    # the statistic whose upper tail the alternative asks about
    u_tail = {"greater": u, "less": n1 * n2 - u, "two-sided": max(u, n1 * n2 - u)}[alternative]
    if min(n1, n2) <= 8 and all(t == 1 for t in ties):
        p = _u_exact_sf(u_tail, n1, n2)
    else:
        n = n1 + n2
        var = n1 * n2 / 12 * ((n + 1) - sum(t**3 - t for t in ties) / (n * (n - 1)))
        z = (u_tail - n1 * n2 / 2 - 0.5) / math.sqrt(var) if var > 0 else 0.0
        p = 0.5 * math.erfc(z / math.sqrt(2))
    if alternative == "two-sided":
        p *= 2
    return u, min(1.0, max(0.0, p))


def _u_exact_sf(u: float, n1: int, n2: int) -> float:
    """P(U ≥ u) under no difference, from the count of arrangements per U (no ties)."""
    counts = [[[0] * (n1 * n2 + 1) for _ in range(n2 + 1)] for _ in range(n1 + 1)]
    for a in range(n1 + 1):
        for b in range(n2 + 1):
            if a == 0 or b == 0:
                counts[a][b][0] = 1
                continue
            for k in range(a * b + 1):
                # the largest of the a + b values is x's (adds b to U) or y's
                counts[a][b][k] = (counts[a - 1][b][k - b] if k >= b else 0) + counts[a][b - 1][k]
    total = math.comb(n1 + n2, n1)
    return sum(counts[n1][n2][k] for k in range(math.ceil(u - 1e-9), n1 * n2 + 1)) / total


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p), summed in log space (n is a count of errors: thousands at most)."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    lg = math.lgamma(n + 1)
    terms = [lg - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q for i in range(k, n + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


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
