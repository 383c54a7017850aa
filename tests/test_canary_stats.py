"""The canary judge (core/monitoring/canary.py) as a rollout relies on it: a good canary passes, a worse one
fails and the summary names what is worse, a negligible shift that only many samples make significant does
not abort, too few samples are said to be too few rather than passed, and the direction of "worse" is the
metric's own. Samples are drawn with fixed seeds: every test is deterministic."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from core.errors import BadInput
from core.monitoring.canary import DEFAULT_RULES, MetricRule, judge, judge_metric

ERRORS = MetricRule("error_rate", "increase", 0.3, critical=True)
P99 = MetricRule("p99_seconds", "increase", 0.3)


def window(rng: np.random.Generator, n: int = 10, error_rate: float = 0.01, p50: float = 0.05, p99: float = 0.4):
    """n one-minute samples of the default metrics around the given levels (5% jitter per minute): 2000
    requests a minute, their errors, and the rate as a sample metric."""
    errors = rng.binomial(2000, error_rate, n)
    return {
        "requests": [2000.0] * n,
        "errors": [float(e) for e in errors],
        "error_rate": list(errors / 2000),
        "p50_seconds": list(p50 * rng.lognormal(0, 0.05, n)),
        "p99_seconds": list(p99 * rng.lognormal(0, 0.05, n)),
    }


def verdicts(result: dict) -> dict[str, str]:
    return {m["name"]: m["verdict"] for m in result["metrics"]}


def test_a_canary_like_the_baseline_passes():
    rng = np.random.default_rng(7)
    base = window(rng)
    same = {name: list(rng.permutation(values)) for name, values in base.items()}  # the same minutes, reordered
    result = judge(base, same, DEFAULT_RULES)
    assert result["passed"], result["summary"]
    assert result["score"] == 1.0
    assert set(verdicts(result).values()) == {"pass"}
    assert all(m["cliffs_delta"] == 0 and m["p_value"] > 0.4 for m in result["metrics"])
    assert result["summary"].startswith("canary passed: 3/3 metrics passed")
    json.dumps(result, allow_nan=False)  # plain data, as the rollout's operation stores it


def test_identical_distributions_rarely_fail():
    """Fresh draws of the same distribution: a metric fails at about its alpha (one-sided), not more, and
    the whole judgement (three metrics, any failure fails it) about three times that."""
    rng = np.random.default_rng(11)
    metric_fails = sum(
        judge_metric(list(rng.lognormal(0, 0.3, 10)), list(rng.lognormal(0, 0.3, 10)), P99)["verdict"] == "fail"
        for _ in range(400)
    )
    assert metric_fails / 400 <= 0.08
    passed = sum(judge(window(rng), window(rng), DEFAULT_RULES)["passed"] for _ in range(200))
    assert passed / 200 >= 0.8


def test_a_clearly_higher_error_rate_fails_and_critical_fails_the_whole():
    rng = np.random.default_rng(3)
    base, bad = window(rng), window(rng, error_rate=0.03)
    # a lenient pass score that the other two metrics alone would meet: only the critical flag fails it
    result = judge(base, bad, DEFAULT_RULES, pass_score=0.5)
    errors = result["metrics"][0]
    assert errors["verdict"] == "fail"
    assert errors["p_value"] < 0.05 and errors["cliffs_delta"] > 0.3
    assert errors["canary_median"] > 2 * errors["baseline_median"]
    assert result["score"] == pytest.approx(2 / 3)
    assert not result["passed"]
    # the same failure on a metric that is not critical is outvoted at that pass score
    lenient = [MetricRule("errors", "increase", 0.25, trials="requests"), *DEFAULT_RULES[1:]]
    assert judge(base, bad, lenient, pass_score=0.5)["passed"]


def test_a_tiny_significant_shift_on_many_samples_passes_by_the_effect_bound():
    rng = np.random.default_rng(5)
    base = list(rng.lognormal(0, 0.3, 4000))
    canary = list(rng.lognormal(0.03, 0.3, 4000))  # medians 3% apart: real, but negligible
    m = judge_metric(base, canary, P99)
    assert m["p_value"] < 0.05  # the test alone would abort the rollout
    assert 0 < m["cliffs_delta"] < 0.3
    assert m["verdict"] == "pass"
    assert "significant" in m["why"] and "small" in m["why"]
    # without the bound it fails: the bound is what lets it through
    assert judge_metric(base, canary, MetricRule("p99_seconds", "increase", 0.0))["verdict"] == "fail"


def test_a_big_shift_on_three_samples_is_inconclusive_not_passed():
    rng = np.random.default_rng(9)
    base, canary = window(rng), window(rng, n=3, error_rate=0.2)
    result = judge(base, canary, [ERRORS])
    m = result["metrics"][0]
    assert m["verdict"] == "inconclusive"
    assert (m["n_baseline"], m["n_canary"]) == (10, 3)
    assert m["cliffs_delta"] == 1.0  # still measured and shown
    assert not result["passed"]
    assert result["score"] == 0.0
    assert "nothing to judge on" in result["summary"]
    assert "error_rate" in result["summary"] and "large" in result["summary"]
    # beside metrics that pass, it is named as not judged (never counted as a pass)
    canary = {**window(rng), "errors": canary["errors"], "requests": canary["requests"]}
    both = judge(base, canary, DEFAULT_RULES)
    assert verdicts(both)["errors"] == "inconclusive"
    assert "errors (10/3 samples)" in both["summary"]
    assert both["score"] == 1.0  # of the two conclusive metrics


def test_direction_is_the_metrics_own():
    rng = np.random.default_rng(13)
    base = list(rng.lognormal(np.log(0.4), 0.05, 10))
    faster = list(rng.lognormal(np.log(0.2), 0.05, 10))
    assert judge_metric(base, faster, P99)["verdict"] == "pass"  # lower latency is no regression
    assert judge_metric(base, faster, MetricRule("p99_seconds", "decrease", 0.3))["verdict"] == "fail"
    assert judge_metric(base, faster, MetricRule("p99_seconds", "either", 0.3))["verdict"] == "fail"
    accuracy = MetricRule("accuracy", "decrease", 0.3)
    assert judge_metric([0.9] * 5 + [0.91] * 5, [0.8] * 5 + [0.81] * 5, accuracy)["verdict"] == "fail"
    assert judge_metric([0.8] * 5 + [0.81] * 5, [0.9] * 5 + [0.91] * 5, accuracy)["verdict"] == "pass"


def test_constant_samples():
    m = judge_metric([0.0] * 10, [0.0] * 10, ERRORS)  # no errors at all on either side
    assert (m["verdict"], m["p_value"], m["cliffs_delta"], m["median_change"]) == ("pass", 1.0, 0.0, 0.0)
    # constant but different: every canary minute is worse
    m = judge_metric([0.0] * 10, [0.05] * 10, ERRORS)
    assert m["verdict"] == "fail" and m["cliffs_delta"] == 1.0
    assert m["median_change"] is None  # no relative change from a median of 0
    # ties across the two sides count half
    m = judge_metric([1.0, 2.0, 2.0, 3.0, 3.0], [2.0, 2.0, 3.0, 3.0, 3.0], P99)
    pairs = [np.sign(c - b) for c in [2.0, 2.0, 3.0, 3.0, 3.0] for b in [1.0, 2.0, 2.0, 3.0, 3.0]]
    assert m["cliffs_delta"] == pytest.approx(float(np.mean(pairs)))


def test_cliffs_delta_is_the_canary_over_the_baseline():
    rng = np.random.default_rng(17)
    base, canary = list(rng.normal(0, 1, 12)), list(rng.normal(0.5, 1, 9))
    m = judge_metric(base, canary, P99)
    expected = np.mean([np.sign(c - b) for c in canary for b in base])
    assert m["cliffs_delta"] == pytest.approx(float(expected))
    assert m["cliffs_delta"] > 0
    assert m["median_change"] == pytest.approx((np.median(canary) - np.median(base)) / abs(np.median(base)))


def test_the_summary_names_the_failing_metric():
    rng = np.random.default_rng(21)
    result = judge(window(rng), window(rng, p99=0.8), DEFAULT_RULES)
    assert verdicts(result) == {"errors": "pass", "p99_seconds": "fail", "p50_seconds": "pass"}
    assert not result["passed"]
    summary = result["summary"]
    assert summary.startswith("canary failed: p99_seconds higher in the canary")
    assert "errors" not in summary and "p50_seconds" not in summary
    assert "score 0.67 < 0.75" in summary
    assert "p99_seconds" in result["metrics"][1]["why"]


def test_nan_missing_and_empty_samples():
    nan = math.nan
    m = judge_metric([nan, 0.01, 0.01, 0.02, 0.01, 0.01], [0.01, nan, nan, 0.01, 0.02, 0.01, 0.01], ERRORS)
    assert (m["n_baseline"], m["n_canary"]) == (5, 5)
    assert m["verdict"] == "pass"
    m = judge_metric([0.01] * 10, [], ERRORS)
    assert m["verdict"] == "inconclusive" and m["p_value"] is None and "no canary samples" in m["why"]
    m = judge_metric([nan] * 10, [0.01] * 10, ERRORS)
    assert m["verdict"] == "inconclusive" and m["n_baseline"] == 0
    result = judge({}, {"error_rate": [0.01] * 10}, DEFAULT_RULES)  # a metric no side reports
    assert set(verdicts(result).values()) == {"inconclusive"}
    assert not result["passed"] and "nothing to judge on" in result["summary"]
    json.dumps(result, allow_nan=False)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "x", "direction": "up", "max_effect": 0.3},
        {"name": "x", "direction": "increase", "max_effect": 1.5},
        {"name": "x", "direction": "increase", "max_effect": 0.3, "alpha": 0.0},
    ],
)
def test_a_wrong_rule_is_refused_with_its_name(kwargs):
    with pytest.raises(BadInput, match="metric x"):
        MetricRule(**kwargs)


def test_a_metric_named_twice_is_refused():
    with pytest.raises(BadInput, match="error_rate"):
        judge({}, {}, [ERRORS, ERRORS])


def test_errors_are_judged_on_their_pooled_counts():
    errors = MetricRule("errors", "increase", 0.25, alpha=0.05 / 3, trials="requests")

    def side(k_per_minute, n_per_minute=300, minutes=10):
        return {"errors": [float(k_per_minute)] * minutes, "requests": [float(n_per_minute)] * minutes}

    # a quiet canary: most minutes see no error, yet 20 errors against 5 in as many requests is clear
    base = {"errors": [1.0, 0, 0, 1, 0, 0, 1, 0, 1, 1], "requests": [300.0] * 10}
    bad = {"errors": [2.0, 3, 1, 2, 2, 3, 2, 1, 2, 2], "requests": [300.0] * 10}
    m = judge({**base}, {**bad}, [errors])["metrics"][0]
    assert m["verdict"] == "fail" and m["p_value"] < 0.01 and m["cliffs_delta"] == pytest.approx(3.0)
    assert "20/3000" in m["why"] and "5/3000" in m["why"]
    # none on either side: nothing worse
    assert judge(side(0), side(0), [errors])["metrics"][0]["verdict"] == "pass"
    # some where the baseline had none, on enough requests: worse without a finite ratio
    assert judge(side(0), side(2), [errors])["metrics"][0]["verdict"] == "fail"
    # 10% more errors on a million requests a side is significant, and within the bound: it passes
    big = judge(side(1000, 100_000), side(1100, 100_000), [errors])["metrics"][0]
    assert big["p_value"] < 0.05 / 3 and big["verdict"] == "pass" and "within +25%" in big["why"]
    # the same counts with the canary the better one: not an increase
    assert judge(side(3), side(1), [errors])["metrics"][0]["verdict"] == "pass"


def test_the_u_test_and_the_binomial_tail_give_scipys_answers():
    """Pure Python so that a rollout step does not import scipy.stats; held to scipy here."""
    from scipy.stats import binomtest, mannwhitneyu

    from core.monitoring.canary import binomial_sf, mann_whitney_u

    rng = np.random.default_rng(17)
    for trial in range(300):
        n1, n2 = int(rng.integers(2, 25)), int(rng.integers(2, 25))
        if trial % 3 == 0:  # ties
            x, y = list(rng.integers(0, 4, n1).astype(float)), list(rng.integers(0, 4, n2).astype(float))
        else:
            x, y = list(rng.normal(0.3, 1, n1)), list(rng.normal(0, 1, n2))
        for alternative in ("greater", "less", "two-sided"):
            want = mannwhitneyu(x, y, alternative=alternative)
            u, p = mann_whitney_u(x, y, alternative)
            assert u == pytest.approx(float(want.statistic))
            assert p == pytest.approx(float(want.pvalue), abs=1e-12), (n1, n2, alternative)
    for _ in range(200):
        n = int(rng.integers(1, 500))
        k, share = int(rng.integers(0, n + 1)), float(rng.uniform(0.01, 0.99))
        assert binomial_sf(k, n, share) == pytest.approx(
            binomtest(k, n, share, alternative="greater").pvalue, abs=1e-12
        )
