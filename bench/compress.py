"""Compression of the digits CNN (issue 20's goal: >= 4x smaller, >= 2x faster at batch 64, <= 1 point of
accuracy lost; stretch >= 10x / >= 3x), measured as `models compress` measures it: size of the serialized
weights, CPU latency as medians of repeated runs on one thread, accuracy on the fixed held-out split.
Several training seeds, each pruning ratio, with and without int8: the spread is part of the result.

    .venv/bin/python bench/compress.py [--seeds 1,2,3] [--ratios 0.5,0.6,0.75]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.lifecycle import compress, data, nets, train  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--ratios", default="0.5,0.6,0.75")
    a = ap.parse_args()
    spec, d = nets.spec("digits-cnn"), data.bundled("digits")
    rows: dict[tuple[float, bool], list[tuple[float, float, float, float]]] = {}
    for seed in map(int, a.seeds.split(",")):
        t = time.perf_counter()
        model, metrics = train.fit(spec, d, train.params_for(spec, {}), seed, device="cpu")
        print(f"seed {seed}: trained in {time.perf_counter() - t:.1f} s, accuracy {metrics['accuracy']}", flush=True)
        for ratio in map(float, a.ratios.split(",")):
            for int8 in (False, True):
                r = compress.compress(model, d, seed, ratio=ratio, int8=int8).report
                size = r["size_bytes"]["before"] / r["size_bytes"]["after"]
                bs64 = r["latency_ms"]["bs64"]["before"] / r["latency_ms"]["bs64"]["after"]
                bs1 = r["latency_ms"]["bs1"]["before"] / r["latency_ms"]["bs1"]["after"]
                drop = (r["accuracy"]["before"] - r["accuracy"]["after"]) * 100
                rows.setdefault((ratio, int8), []).append((size, bs64, bs1, drop))
                print(
                    f"  prune {ratio} int8 {int8}: {size:.1f}x smaller, bs64 {bs64:.2f}x, bs1 {bs1:.2f}x, drop {drop:+.2f} pts",
                    flush=True,
                )
    print(
        "\n| prune | int8 | x smaller | x faster bs64 (median, min) | x faster bs1 | accuracy drop, pts (mean, worst) |"
    )
    print("|---|---|---|---|---|---|")
    for (ratio, int8), v in rows.items():
        size, bs64, bs1, drop = zip(*v, strict=True)
        print(
            f"| {ratio} | {'yes' if int8 else 'no'} | {statistics.median(size):.1f} | {statistics.median(bs64):.2f}, "
            f"{min(bs64):.2f} | {statistics.median(bs1):.2f} | {statistics.mean(drop):+.2f}, {max(drop):+.2f} |"
        )


if __name__ == "__main__":
    main()
