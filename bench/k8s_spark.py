"""The retry recommender on the Spark-on-Kubernetes estate written apart from the project
(../shared/worlds/k8s_spark.py): for each seed, the world writes its history and its later failures, the
recommender is trained on that history alone (as a console would be), recommends for every failure, and
the world's own judge scores the recommendations against its hidden truth, beside doubling all memory and
a VPA-style bump. Nothing here reads the truth.

    .venv/bin/python bench/k8s_spark.py [--seeds 1,2,3] [--world ../shared/worlds/k8s_spark.py]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from console.lab.evaluate import lab_recommender  # noqa: E402


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def one_world(world: Path, seed: int, work: Path, jobs: int | None) -> dict:
    out = work / f"world-{seed}"
    gen = [sys.executable, str(world), "gen", str(out), "--seed", str(seed)]
    subprocess.run(gen + (["--jobs", str(jobs)] if jobs else []), check=True, capture_output=True)
    history, failures = read(out / "history.jsonl"), read(out / "failures.jsonl")
    recommender, classify = lab_recommender(work / f"home-{seed}")
    t = time.perf_counter()
    recommender.train(history, "bench", seed=0)
    trained = time.perf_counter() - t
    t = time.perf_counter()
    decisions = recommender.recommend(failures, classify, history)
    recommended = time.perf_counter() - t
    recs = out / "recs.jsonl"
    recs.write_text("".join(json.dumps(d.to_dict()) + "\n" for d in decisions))
    judged = subprocess.run([sys.executable, str(world), "judge", str(out), str(recs)], check=True, capture_output=True)
    verdict = json.loads(judged.stdout)
    verdict["train_seconds"], verdict["recommend_seconds"] = round(trained, 1), round(recommended, 2)
    return verdict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--world", type=Path, default=REPO.parent / "shared" / "worlds" / "k8s_spark.py")
    ap.add_argument("--jobs", type=int, default=None, help="jobs in the estate (the world's default when unset)")
    args = ap.parse_args()
    if not args.world.exists():
        ap.error(f"no world at {args.world} (--world PATH)")
    with tempfile.TemporaryDirectory() as tmp:
        for seed in (int(s) for s in args.seeds.split(",")):
            print(json.dumps({"seed": seed, **one_world(args.world, seed, Path(tmp), args.jobs)}), flush=True)


if __name__ == "__main__":
    main()
