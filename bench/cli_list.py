"""`jobs list --format jsonl` on a scaled estate (100,000 attempts), beside `sqlite3 -json` dumping the same
rows in the same order from the simulator's store, in the same run: the time to the first line, the time to
the last, and the peak RSS of each, as a reader on a pipe sees them (the process start included).

    .venv/bin/python bench/cli_list.py [--rounds 3] [--home DIR] [--jobs 100000] [--nodes 10000]

Without --home it builds the estate (`--scale nodes=N,jobs=M`, ~15 s) in a temporary home first,
untimed, and runs one untimed listing (which classifies the failures once, as the first look at a new
estate does): the bench measures a warm store, as an operator has every day. Rounds are interleaved
(console, anchor, console, …) so that drift in the machine's load hits both; medians are printed.
Without a `sqlite3` binary the anchor is Python's sqlite3 module writing the rows as JSON lines.

Goal (issue 17): first line at once, total time ≤ 2× the anchor's, memory bounded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUERY = "SELECT * FROM attempts ORDER BY submitted_at DESC, run_id DESC"  # the listing's rows and order

PY_ANCHOR = r"""
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
cur = conn.execute(sys.argv[2])
names = [d[0] for d in cur.description]
out = sys.stdout
while rows := cur.fetchmany(1000):
    out.write("".join(json.dumps(dict(zip(names, r))) + "\n" for r in rows))
"""


def measure(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """Spawn `cmd` with stdout on a pipe; time the first line and the end; the child's peak RSS (MiB)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
    assert p.stdout is not None and p.stderr is not None
    first = None
    lines = 0
    buf = b""
    while chunk := os.read(p.stdout.fileno(), 1 << 16):
        if first is None:
            buf += chunk
            if b"\n" in buf:
                first = time.perf_counter() - t0
        lines += chunk.count(b"\n")
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    total = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{cmd[:4]}… exited {p.returncode}: {err.decode(errors='replace')[-2000:]}")
    return {
        "first": first if first is not None else total,
        "total": total,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss": usage.ru_maxrss / 1024,  # Linux: KiB
        "lines": lines,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--home", help="a home already holding a scaled estate (default: build one)")
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=100_000)
    args = ap.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_CONSOLE_")}
    tmp = tempfile.mkdtemp(prefix="bench-cli-list-")
    env["MLOPS_CONSOLE_CONFIG"] = os.path.join(tmp, "none.toml")
    home = args.home or os.path.join(tmp, "home")
    console = [sys.executable, "-m", "console", "--home", home]
    try:
        if not args.home:
            t = time.perf_counter()
            scale = f"nodes={args.nodes},jobs={args.jobs}"
            subprocess.run([*console, "--scale", scale, "version"], check=True, env=env, cwd=REPO, capture_output=True)
            print(f"built the estate ({scale}) in {time.perf_counter() - t:.1f} s (untimed)")
        listing = [*console, "jobs", "list", "--format", "jsonl"]
        db = os.path.join(home, "sim.db")
        sqlite3_bin = shutil.which("sqlite3")
        if sqlite3_bin:
            anchor_name = "sqlite3 -json"
            anchor = [sqlite3_bin, "-json", db, QUERY]
        else:
            anchor_name = "python sqlite3 → json lines"
            anchor = [sys.executable, "-c", PY_ANCHOR, db, QUERY]
        measure(listing, env)  # warm: the page cache, and the failures' first classification
        measure(anchor, env)
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(measure(listing, env))
            theirs.append(measure(anchor, env))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def med(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    rows = ours[0]["lines"]
    print(f"rows: {rows:,} (jsonl lines); rounds: {args.rounds}, interleaved, medians; each a fresh process on a pipe")
    print(f"{'':34s} {'first line':>11s} {'total':>9s} {'CPU':>8s} {'peak RSS':>10s}")
    for name, runs in (("mlops-console jobs list -o jsonl", ours), (anchor_name, theirs)):
        print(
            f"{name:34s} {med(runs, 'first') * 1000:8.0f} ms {med(runs, 'total'):7.2f} s {med(runs, 'cpu'):6.2f} s {med(runs, 'rss'):6.0f} MiB"
        )
    print(
        f"ratio console/anchor: first line {med(ours, 'first') / med(theirs, 'first'):.2f}x, "
        f"total {med(ours, 'total') / med(theirs, 'total'):.2f}x (goal <= 2x), "
        f"CPU {med(ours, 'cpu') / med(theirs, 'cpu'):.2f}x, "
        f"peak RSS {med(ours, 'rss') / med(theirs, 'rss'):.1f}x"
    )
    print(
        "all rounds (console total / anchor total, s): "
        + ", ".join(f"{a['total']:.2f}/{b['total']:.2f}" for a, b in zip(ours, theirs, strict=True))
    )


if __name__ == "__main__":
    main()
