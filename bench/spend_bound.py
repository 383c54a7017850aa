"""How low a retry that keeps the failed run's shape can bring the spend measure of issue 19 (episode spend
÷ the cheapest fixes), with the world's hidden truth in hand: no recommender runs here.

For every fixable memory failure a world judges, two oracles that know the job's truth:
  - `unbounded`: the failed config as it is, with memory that never runs short (the run the SLA is
    measured from) — what any fix at the owner's shape costs at least;
  - `same_shape`: the least k (in steps of 0.05, up to 8) such that every memory setting × k succeeds
    within the SLA, at the failed run's cores, executors and partitions — the best VPA-style bump there is.
Both are divided by the world's cheapest fix over its whole search space (reshapes included). A ratio
above 1.25 for `unbounded` means the goal asks the retry to right-size the owner's job, not only to fix it.
A third, `monotone`: the world's own cheapest-fix search, kept to the configs
the recommender may propose at all — none that gives each running task less of what ran out
(recommend.starved, which issue 19 asks for). Above 1.25, no recommender that keeps that rule can
meet the spend goal there, however well it knows the world.

    .venv/bin/python bench/spend_bound.py --k8s-seeds 31,32,33 --worlds random:612,random:604,default:429
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from console.lab.evaluate import SEARCHED_KINDS, estate_ranges, held_out_cut  # noqa: E402
from core.backends.sim import spark_world as w  # noqa: E402
from core.spark import format_size, size_of  # noqa: E402

STEPS = [1 + 0.05 * i for i in range(1, 141)]  # 1.05 .. 8


def _row(world: str, costs: list[tuple[float, float, float | None, float | None]]) -> dict[str, Any]:
    """costs: (cheapest, unbounded, same_shape or None when no bump up to 8× fixes it, monotone or None when
    not searched) per failure."""
    cheapest = sum(c[0] for c in costs)
    # a failure no bump fixes is left to a person at twice the cheapest, as autofix evaluate counts it
    same = sum(c[2] if c[2] is not None else 2 * c[0] for c in costs)
    monotone = [c[3] for c in costs]
    return {
        "world": world,
        "fixable": len(costs),
        "unbounded_vs_cheapest": round(sum(c[1] for c in costs) / cheapest, 2),
        "same_shape_vs_cheapest": round(same / cheapest, 2),
        "no_same_shape_fix": sum(c[2] is None for c in costs),
        "monotone_vs_cheapest": round(sum(m for m in monotone if m is not None) / cheapest, 2)
        if costs and None not in monotone
        else None,
    }


def project_world(estate: str, seed: int, jobs: int = 200, days: int = 40) -> dict[str, Any]:
    """The failures `autofix evaluate --estate ESTATE --world-seed SEED` judges (the newest quarter)."""
    from autofix.components import builtin_components, with_components
    from autofix.features import memory_kind

    records, truths = w.history(seed, n_jobs=jobs, days=days, ranges=estate_ranges(estate, seed))
    records = with_components(records, builtin_components())
    cut = held_out_cut(records)
    costs = []
    for r in records:
        if not (r["submitted_at"] >= cut and r["attempt"] == 1 and r["status"] == "failed"):
            continue
        if memory_kind(r) not in SEARCHED_KINDS:
            continue
        truth, inp = truths[r["job_id"]], r["input_bytes"]
        unbounded = w.run(truth, r["conf"], inp, enough_memory=True)
        sla = 1.5 * unbounded.runtime_seconds
        best = w.cheapest_fix(truth, r["conf"], inp, sla)
        if best is None:
            continue
        s, drv = (
            w.settings(r["conf"], truth.physics.overhead_factor),
            size_of(r["conf"], "spark.driver.memory"),
        )
        result = size_of(r["conf"], "spark.driver.maxResultSize")
        same = None
        for k in STEPS:
            conf = {
                **r["conf"],
                "spark.executor.memory": format_size(int(s["heap"] * k)),
                "spark.executor.memoryOverhead": format_size(int(s["overhead"] * k)),
                "spark.driver.memory": format_size(int(drv * k)),
                "spark.driver.maxResultSize": format_size(int(result * k)),
            }
            o = w.run(truth, conf, inp)
            if o.status == "succeeded" and o.runtime_seconds <= sla:
                same = o.cost
                break
        # on a grid twice as fine as the judge's: the recommender's sizes are not powers of two
        kept = w.cheapest_fix(truth, r["conf"], inp, sla, grid=2, allowed=_keeps_rule(r["conf"], memory_kind(r)))
        costs.append((best[1].cost, unbounded.cost, same, kept[1].cost if kept else 2 * best[1].cost))
    return _row(f"{estate}:{seed}", costs)


def _keeps_rule(failed: dict[str, str], kind: str | None) -> Any:
    """A filter on configs: True for those recommend.starved lets through for a failure of `kind`."""
    import numpy as np

    from autofix.features import numbers
    from autofix.recommend import starved

    base = numbers(failed)
    return lambda c: not starved(np.array([numbers(c)]), base, kind)[0]


def k8s_generated(world_py: Path, seed: int, work: Path) -> tuple[Any, Path]:
    """The world's module, and the folder its `gen` wrote the estate of `seed` to."""
    spec = importlib.util.spec_from_file_location("k8s_spark_world", world_py)
    assert spec and spec.loader
    W = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(W)
    out = work / f"k8s-{seed}"
    subprocess.run(
        [sys.executable, str(world_py), "gen", str(out), "--seed", str(seed)], check=True, capture_output=True
    )
    return W, out


def k8s_world(world_py: Path, seed: int, work: Path) -> dict[str, Any]:
    """The failures ../shared/worlds/k8s_spark.py's judge scores, against its own `cheapest`."""
    W, out = k8s_generated(world_py, seed, work)
    truth = json.loads((out / "truth.json").read_text())
    failed = {json.loads(line)["run_id"]: json.loads(line) for line in open(out / "failures.jsonl")}
    costs = []
    for rid, t in truth.items():
        if t["category"] != "memory_exceeded":
            continue
        conf, job, inp, noise = failed[rid]["conf"], t["job"], t["input"], t["noise"]
        orc = W.cheapest(t, conf)
        if orc is None:
            continue
        unbounded = W.run(job, inp, conf, noise, full=True)
        sla, s, same = W.SLA * unbounded[2], W.shape(job, conf), None
        for k in STEPS:
            c = {
                **conf,
                "spark.executor.memory": W.fmt(min(W.MAX_HEAP, s["heap"] * k)),
                "spark.executor.memoryOverhead": W.fmt(min(W.MAX_OVER, s["over"] * k)),
                "spark.driver.memory": W.fmt(min(W.MAX_HEAP, s["driver"] * k)),
            }
            if not W.valid(job, c):
                break
            st, _, rt, cost = W.run(job, inp, c, noise)
            if st == "succeeded" and rt <= sla:
                same = cost
                break
        costs.append((orc[0], unbounded[3], same, _monotone(W, t, conf)))
    return _row(f"k8s_spark:{seed}", costs)


KIND_OF_MODE = {"heap": "heap", "pod": "overhead", "driver": "driver"}  # the world's failure → the search's kind


def _monotone(W: Any, t: dict[str, Any], conf: dict[str, str]) -> float:
    """The cost of monotone_fix; where there is none, a person's fix, as judged (twice the cheapest)."""
    best = monotone_fix(W, t, conf)
    return 2 * W.cheapest(t, conf)[0] if best is None else best[0]


def monotone_fix(
    W: Any, t: dict[str, Any], conf: dict[str, str], same_slots: bool = False
) -> tuple[float, dict[str, str]] | None:
    """The world's own cheapest fix (W.cheapest: its cost and config) among the configs recommend.starved
    lets through for the failure: the least a recommender that keeps issue 19's rule can spend on its
    first retry. `same_slots`: only among those that run the failed config's slots (cores × executors),
    as the search's candidates do."""
    kind = KIND_OF_MODE.get(W.run(t["job"], t["input"], conf, t["noise"])[1])
    keeps, valid = _keeps_rule(conf, kind), W.valid
    failed = W.shape(t["job"], conf)

    def slots_kept(c: dict[str, str]) -> bool:
        s = W.shape(t["job"], c)  # W.cheapest's executors at the same slots: round(slots ÷ cores)
        return s["execs"] == max(1, min(W.MAX_EXECS, round(failed["cores"] * failed["execs"] / s["cores"])))

    def allowed(job: dict[str, Any], c: dict[str, str]) -> bool:
        return bool(valid(job, c)) and keeps(c) and (not same_slots or slots_kept(c))

    W.valid = allowed  # W.cheapest asks W.valid of every config it tries
    try:
        best: tuple[float, dict[str, str]] | None = W.cheapest(t, conf)
    finally:
        W.valid = valid
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k8s-seeds", default="31,32,33")
    ap.add_argument("--worlds", default="random:612,random:604,random:610,default:429,other:431")
    ap.add_argument("--world", type=Path, default=REPO.parent / "shared" / "worlds" / "k8s_spark.py")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in filter(None, a.k8s_seeds.split(",")):
            rows.append(k8s_world(a.world, int(seed), Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
    for spec in filter(None, a.worlds.split(",")):
        estate, seed = spec.split(":")
        rows.append(project_world(estate, int(seed)))
        print(json.dumps(rows[-1]), flush=True)
    print(
        "\n| world | fixable | unbounded ÷ cheapest | same-shape oracle ÷ cheapest | no same-shape fix "
        "| monotone ÷ cheapest |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['world']} | {r['fixable']} | {r['unbounded_vs_cheapest']} | {r['same_shape_vs_cheapest']} "
            f"| {r['no_same_shape_fix']} | {r['monotone_vs_cheapest'] or '—'} |"
        )


if __name__ == "__main__":
    main()
