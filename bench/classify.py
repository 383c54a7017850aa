"""Classifier throughput on a ~1 GB realistic log corpus, beside `grep -E -c -f` with the same patterns
on the same file in the same run; peak RSS of the classifier. Also the same classifier without
Hyperscan (Python `re` per pattern) on a slice, to show why Hyperscan was chosen.

    .venv/bin/python bench/classify.py [--size-mb 1024] [--keep]

Goals (issue 3): ≥ 0.5× grep's throughput, peak RSS ≤ 256 MB.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autofix.rules import load_ruleset  # noqa: E402
from core.backends.sim.logs import _NOISE, load_templates  # noqa: E402

CHILD = r"""
import resource, sys, time
sys.path.insert(0, sys.argv[1])
import autofix.classify as m
from autofix.rules import load_ruleset
if sys.argv[3] == "python":
    m._compile_hyperscan = lambda patterns: (None, list(range(len(patterns))))
clf = m.Classifier(load_ruleset(None))
t = time.perf_counter()
c = clf.classify_path(sys.argv[2])
dt = time.perf_counter() - t
print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, c.category, c.rule_id, c.evidence_line)
"""


def make_corpus(path: Path, size: int, seed: int = 7) -> int:
    """Mostly noise (Spark/Python/PyTorch INFO lines), a failure tail every ~200k lines."""
    rng = random.Random(seed)
    templates = [t for ts in load_templates(REPO / "fixtures" / "logs").values() for t in ts]
    values = {
        "ts": "26/11/20 03:14:07",
        "iso": "2026-11-20T03:14:07Z",
        "host": "ip-10-1-2-3.ec2.internal",
        "executor": 7,
        "stage": "3.0",
        "task": 12,
        "tid": 4242,
        "app": "application_1_0001",
        "container": "container_e01_1_01_000001",
        "used_gb": "12.4",
        "limit_gb": "12",
        "path": "s3a://lake/t/dt=2026-11-20",
        "bucket": "lake",
        "job": "bench",
        "image": "reg/x:1",
        "gpu": 0,
        "port": 40000,
        "pod": "bench-driver",
    }
    pool = []
    for i in range(200_000):
        kind = rng.choice(list(_NOISE))
        pool.append(
            rng.choice(_NOISE[kind]).format(
                ts=f"26/11/20 03:{i // 60 % 60:02d}:{i % 60:02d}",
                iso="2026-11-20T03:14:07Z",
                job="bench",
                host=f"ip-10-1-{i % 250}-{i % 200}.ec2.internal",
                n=i % 97,
                m=rng.randint(0, 999),
                k=rng.randint(1000, 99999),
                e=rng.randint(1, 40),
                ms=rng.randint(3, 9000),
                total=1000,
                port=rng.randint(30000, 45000),
                auc="0.8123",
                loss="0.4321",
            )
        )
    block = ("\n".join(pool) + "\n").encode()
    written, failures = 0, 0
    with open(path, "wb") as f:
        while written < size:
            start = rng.randrange(len(block) // 2)
            piece = block[start : start + len(block) // 2]
            piece = piece[piece.find(b"\n") + 1 :]
            f.write(piece)
            tail = rng.choice(templates).body.format_map(values).encode() + b"\n"
            f.write(tail)
            written += len(piece) + len(tail)
            failures += 1
    return failures


def to_ere(p: str) -> str:
    """Python regex → POSIX ERE for grep (named groups dropped, classes spelled out)."""
    p = p.removeprefix("(?i)")
    p = re.sub(r"\(\?P<\w+>", "(", p).replace("(?:", "(")
    return (
        p.replace(r"\d", "[0-9]")
        .replace(r"\s", "[[:space:]]")
        .replace(r"\S", "[^[:space:]]")
        .replace(r"\w", "[[:alnum:]_]")
    )


def run_child(corpus: Path, engine: str) -> tuple[float, int, str]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(REPO), str(corpus), engine], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), int(out[1]), " ".join(out[2:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--slice-mb", type=int, default=32, help="size for the pure-Python engine run")
    ap.add_argument("--keep", action="store_true", help="keep the corpus in bench/out/")
    args = ap.parse_args()
    out_dir = REPO / "bench" / "out" if args.keep else Path(tempfile.mkdtemp(prefix="classify-bench-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus, small = out_dir / "corpus.log", out_dir / "slice.log"
    t = time.perf_counter()
    failures = make_corpus(corpus, args.size_mb << 20)
    size = corpus.stat().st_size
    with open(corpus, "rb") as src, open(small, "wb") as dst:
        dst.write(src.read(args.slice_mb << 20))
    print(
        f"corpus: {size / 2**20:.0f} MiB, {failures} failure tails among noise ({time.perf_counter() - t:.0f} s to write)"
    )

    rules = load_ruleset(None).rules
    patterns = [p for r in rules for p in r.patterns + r.all_of]
    pats = out_dir / "patterns.ere"
    pats.write_text("\n".join(to_ere(p) for p in patterns) + "\n")
    subprocess.run(["cat", str(corpus)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache

    grep_times, clf_times, rss = [], [], 0
    for _ in range(3):  # interleaved rounds; medians
        t = time.perf_counter()
        g = subprocess.run(
            ["grep", "-E", "-c", "-f", str(pats), str(corpus)],
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C"},
        )
        grep_times.append(time.perf_counter() - t)
        dt, peak, verdict = run_child(corpus, "hyperscan")
        clf_times.append(dt)
        rss = max(rss, peak)
    py_dt, py_rss, _ = run_child(small, "python")
    grep_t, clf_t = sorted(grep_times)[1], sorted(clf_times)[1]
    mb = size / 2**20
    print(f"rules: {len(rules)} ({len(patterns)} patterns)")
    print(
        f"grep -E -c -f (LC_ALL=C):      {mb / grep_t:8.0f} MiB/s  ({grep_t:.2f} s, {g.stdout.strip()} matching lines)"
    )
    print(
        f"classifier (Hyperscan):        {mb / clf_t:8.0f} MiB/s  ({clf_t:.2f} s)  "
        f"ratio {grep_t / clf_t:.2f}x grep (goal >= 0.5x)  peak RSS {rss / 2**20:.0f} MiB (goal <= 256)"
    )
    print(
        f"classifier without Hyperscan:  {args.slice_mb / py_dt:8.1f} MiB/s  (on {args.slice_mb} MiB; "
        f"peak RSS {py_rss / 2**20:.0f} MiB)"
    )
    print(f"verdict on the corpus: {verdict}")
    if not args.keep:
        shutil.rmtree(out_dir)


if __name__ == "__main__":
    main()
