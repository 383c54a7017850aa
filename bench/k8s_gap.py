"""Where the recommender's spend on the independent world (../shared/worlds/k8s_spark.py) exceeds the
monotone bound (bench/spend_bound.py: the world's cheapest fix among the configs issue 19's rule lets
through), failure by failure, and why the search did not pick the bound's fix. The recommender is
trained on each seed's history as bench/k8s_spark.py trains it; the world's truth is read only to judge.

The search's candidates run the failed run's slots (cores × executors; or as many executors as fill
the nodes they pay for), so the bound is taken twice: at any slot count, and at the failed run's
(`same_slots`). The first part of the excess is what other slot counts would save. For each fixable
memory failure whose retry cost more than the same-slots bound's fix, that config is put to the search
(Recommender.appraise) and the rest of the excess charged to the first of these that holds:
  untried            more load per task, or less room off the heap, than any run of the job survived
  outside the box    features outside what the model was trained on, widened to the failed run's
  past the limit     the model plans a runtime past the search's SLA limit
  scored lower       a candidate; the model's cost and P(success) put the retry it chose first
The model's runtime ÷ the world's, median over those failures, for the retry it chose and for the
bound's fix, says how far its runtimes lean.

    .venv/bin/python bench/k8s_gap.py --seeds 111,112
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from spend_bound import k8s_generated, monotone_fix  # noqa: E402

from console.lab.evaluate import lab_recommender  # noqa: E402

REASONS = ("untried", "outside the box", "past the limit", "scored lower")


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def reason(seen: dict) -> str:
    if seen["untried"]:
        return "untried"
    if seen["outside"]:
        return "outside the box"
    if seen["runtime"] is not None and seen["runtime"] > seen["limit"]:
        return "past the limit"
    return "scored lower"


def one_seed(world: Path, seed: int, work: Path) -> dict:
    W, out = k8s_generated(world, seed, work)
    history, failures = read(out / "history.jsonl"), read(out / "failures.jsonl")
    truth = json.loads((out / "truth.json").read_text())
    recommender, classify = lab_recommender(work / f"home-{seed}")
    recommender.train(history, "bench", seed=0)
    decisions = {d.run_id: d for d in recommender.recommend(failures, classify, history)}
    cheapest = ours_total = bound_total = same_total = 0.0
    excess: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    lean_ours, lean_bound = [], []
    for r in failures:
        t = truth[r["run_id"]]
        if t["category"] != "memory_exceeded" or (best := W.cheapest(t, r["conf"])) is None:
            continue
        job, inp, noise = t["job"], t["input"], t["noise"]
        sla = W.SLA * W.run(job, inp, r["conf"], noise, full=True)[2]
        d = decisions[r["run_id"]]
        retried = d.action in ("retry", "retry_with_conf")
        ours_conf = {**r["conf"], **d.conf}
        status, _, runtime, cost = W.run(job, inp, ours_conf, noise)
        ours = cost if retried and status == "succeeded" and runtime <= sla else W.HUMAN * best[0]
        bound, same = monotone_fix(W, t, r["conf"]), monotone_fix(W, t, r["conf"], same_slots=True)
        bound_cost = W.HUMAN * best[0] if bound is None else bound[0]
        same_cost = W.HUMAN * best[0] if same is None else same[0]
        cheapest, ours_total = cheapest + best[0], ours_total + ours
        bound_total, same_total = bound_total + bound_cost, same_total + same_cost
        if same is None or ours <= same_cost:
            continue
        seen_ours, seen_bound = recommender.appraise(r, [ours_conf, same[1]], history)
        why = reason(seen_bound)
        count[why] += 1
        excess[why] += ours - same_cost
        if retried and seen_ours["runtime"] is not None:
            lean_ours.append(seen_ours["runtime"] / W.run(job, inp, ours_conf, noise, full=True)[2])
            lean_bound.append(seen_bound["runtime"] / W.run(job, inp, same[1], noise, full=True)[2])
    return {
        "seed": seed,
        "spend": round(ours_total / cheapest, 2),
        "bound": round(bound_total / cheapest, 2),
        "bound_same_slots": round(same_total / cheapest, 2),
        # the excess over the bound, in the measure's unit (÷ the cheapest fixes' total), by reason
        **{why: [count[why], round(excess[why] / cheapest, 2)] for why in REASONS},
        "model_runtime_vs_world_ours": round(statistics.median(lean_ours), 2) if lean_ours else None,
        "model_runtime_vs_world_bound": round(statistics.median(lean_bound), 2) if lean_bound else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="111,112")
    ap.add_argument("--world", type=Path, default=REPO.parent / "shared" / "worlds" / "k8s_spark.py")
    args = ap.parse_args()
    if not args.world.exists():
        ap.error(f"no world at {args.world} (--world PATH)")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        ap.error(f"--seeds: whole numbers separated by commas, got {args.seeds!r}")
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            print(json.dumps(one_seed(args.world, seed, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
