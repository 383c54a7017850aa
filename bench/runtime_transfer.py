"""Where a runtime model trained on one Spark world goes wrong on another: for each executor-heap failure
of the judged period, the model's runtime for the failed run's shape with 1.5–8× its heap and overhead
(the rows the search takes the SLA's reference from: recommend.enough_memory_rows) beside what the
world, knowing the job's truth, runs them in. A ratio near 1 at 1.5–2× and far above it at 4–8× says the
model knows what a little more memory does and not where spilling stops: the SLA it plans for is too
lenient, and a retry that still spills looks like a fix.

    .venv/bin/python bench/runtime_transfer.py --pair random:609:random:610 [--limit 12]

A pair as bench/evaluate_pairs.py takes it; the same world twice trains on that world's own past.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FACTORS = (1.5, 2, 3, 4, 8)  # enough_memory_rows' factors past the failed run's own


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pair", default="random:609:random:610")
    ap.add_argument("--limit", type=int, default=12, help="failures to print (all are summarised)")
    args = ap.parse_args()
    import numpy as np

    from autofix import model as models
    from autofix.components import with_components
    from autofix.features import JobMemory, learn, matrix, memory_kind, with_failure
    from autofix.recommend import enough_memory_rows, to_conf
    from console.lab.evaluate import estate_ranges, held_out_cut, lab_recommender
    from core.backends.sim import spark_world as w

    te, ts, ee, es = args.pair.split(":")
    with tempfile.TemporaryDirectory() as home:
        recommender, _ = lab_recommender(Path(home))
        train, _ = w.history(int(ts), n_jobs=200, days=40, ranges=estate_ranges(te, int(ts)))
        if (te, ts) == (ee, es):
            train = [r for r in train if r["submitted_at"] < held_out_cut(train)]
        recommender.train(train, "bench")
        records, truths = w.history(int(es), n_jobs=200, days=40, ranges=estate_ranges(ee, int(es)))
        records = with_components(records, recommender.component_of)
        cut = held_out_cut(records)
        predictor, _ = recommender.load()
        predictor = predictor.repriced(models.estate_prices([r for r in records if r["submitted_at"] < cut]))
    memory: dict[str, JobMemory] = defaultdict(JobMemory)
    ratios: dict[float, list[float]] = defaultdict(list)
    print(f"{args.pair}: model's runtime ÷ the world's, the failed shape with k× its heap and overhead")
    print(f"{'job':>14} {'input GiB':>9} | " + " ".join(f"{f'×{k:g}':>6}" for k in FACTORS))
    shown = 0
    for r in sorted(records, key=lambda r: (r["submitted_at"], r["run_id"])):
        if r["submitted_at"] >= cut and r["attempt"] == 1 and r["status"] == "failed" and memory_kind(r) == "heap":
            rows = enough_memory_rows(r["conf"])[1:]  # the failed run's own row died: nothing to compare
            _, _, model = predictor.predict_all(
                matrix(rows, r["input_bytes"], with_failure(memory[r["job_id"]], r)), clip=True
            )
            world = []
            for row in rows:
                conf = to_conf(r["conf"], row)  # (the row's overhead holds PySpark's memory too: numbers)
                world.append(w.run(truths[r["job_id"]], conf, r["input_bytes"]).runtime_seconds)
            ratio = np.asarray(model) / np.asarray(world)
            for k, q in zip(FACTORS, ratio, strict=True):
                ratios[k].append(float(q))
            if shown < args.limit:
                shown += 1
                cells = " ".join(f"{q:6.2f}" for q in ratio)
                print(f"{r['job_id']:>14} {r['input_bytes'] / 2**30:9.0f} | {cells}")
        learn(memory, r)
    if ratios:
        n = len(ratios[FACTORS[0]])
        print(f"{f'median of {n}':>24} | " + " ".join(f"{statistics.median(ratios[k]):6.2f}" for k in FACTORS))


if __name__ == "__main__":
    main()
