"""Time of one rollout analysis step (core.rollouts.Rollouts.analyse: the thresholds and the canary judge)
on the demo estate's canary in flight (ranker), read from the estate directly; anchor: reading the same
two revisions' metrics alone, the same way, in the same run.

    .venv/bin/python bench/analysis.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from console.engine import Engine
from console.settings import load


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="bench-analysis-")
    engine = Engine(load({"home": home, "demo": True}))
    w = engine._w
    dep = w.cluster.get_deployment("ranker")
    assert dep.canary is not None
    canary, stable = dep.canary.number, dep.current_revision
    limits = w.rollouts._limits("ranker", {"window_minutes": 10, "failure_limit": 2})

    def reads() -> None:
        w.metrics.deployment_metrics("ranker", 10, canary)
        w.metrics.deployment_metrics("ranker", 10, stable)

    def step() -> None:
        w.rollouts.analyse("ranker", canary, limits)

    step()  # imports (scipy) once, as a console that has analysed before
    anchor, analysis = timed(reads, args.repeats), timed(step, args.repeats)
    a, s = statistics.median(anchor), statistics.median(analysis)
    print(f"| one analysis step, window 10 min, {args.repeats} runs | median | ratio to the anchor |")
    print("|---|---|---|")
    print(f"| anchor: the two revisions' metrics read | {a * 1000:.1f} ms | 1.00× |")
    print(f"| Rollouts.analyse (thresholds + canary judge) | {s * 1000:.1f} ms | {s / a:.2f}× |")
    print(f"result: {w.rollouts.analyse('ranker', canary, limits)['summary']}")


if __name__ == "__main__":
    main()
