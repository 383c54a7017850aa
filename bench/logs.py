"""The log view on a big file: time to the first screen, to a search hit near the end and to the whole index,
beside `grep -E` (and `wc -l`) on the same file in the same run.

    .venv/bin/python bench/logs.py [--gib 1] [--rounds 3] [--keep DIR]

Writes a ~1 GiB Spark-like driver log in a temporary directory (one line near the end holds a needle found
nowhere else), warms the page cache with a first grep, then for each round, headless (App.run_test):
- first screen: from opening the file (the LogScreen pushed) to the first frame that paints its lines;
- search hit: from `/needle` submitted at the top to the view on the needle's line (a scan of ~all the
  file, and the index must reach that line);
- whole index: from opening to the index complete (what `G` waits for), against `wc -l`.
Prints the medians and the ratios to grep -E (and wc -l) measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NEEDLE = "OutOfMemoryError: needle-7f3a9c"
NOISE = [
    "{ts} INFO TaskSetManager: Starting task {m}.0 in stage {n}.0 (TID {k}) (ip-10-0-{e}-7.ec2.internal, "
    "executor {e}, partition {m}, PROCESS_LOCAL, 9125 bytes)",
    "{ts} INFO TaskSetManager: Finished task {m}.0 in stage {n}.0 (TID {k}) in {ms} ms on ip-10-0-{e}-7.ec2.internal "
    "(executor {e}) ({m}/1000)",
    "{ts} INFO BlockManagerInfo: Added broadcast_{n}_piece0 in memory on ip-10-0-{e}-7.ec2.internal:4{k} "
    "(size: 38.2 KiB, free: 2.1 GiB)",
    "{ts} INFO ShuffleBlockFetcherIterator: Getting {m} (1204.3 MiB) non-empty blocks including 12 (41.7 MiB) local",
    "{ts} WARN TaskSetManager: Lost task {m}.0 in stage {n}.0 (TID {k}): FetchFailed(BlockManagerId({e}))",
    "{ts} INFO CodeGenerator: Code generated in {ms} ms",
]


def make_log(path: Path, gib: float) -> int:
    """A log of about `gib` GiB: a 4 MiB block of noise written over and over, the needle at 99.5 %."""
    rng = random.Random(7)
    lines = []
    size = 0
    while size < 4 << 20:
        line = rng.choice(NOISE).format(
            ts=f"26/11/20 03:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
            m=rng.randint(0, 999),
            n=rng.randint(0, 60),
            k=rng.randint(1000, 99999),
            e=rng.randint(1, 40),
            ms=rng.randint(3, 9000),
        )
        lines.append(line)
        size += len(line) + 1
    block = ("\n".join(lines) + "\n").encode()
    total = int(gib * (1 << 30))
    needle_at = int(total * 0.995)
    written = 0
    with path.open("wb") as f:
        while written < total:
            if written <= needle_at < written + len(block):
                f.write(f"26/11/20 03:59:59 ERROR Executor: java.lang.{NEEDLE}\n".encode())
            f.write(block)
            written += len(block)
    return path.stat().st_size


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


async def measure_view(path: Path) -> tuple[float, float, float]:
    """(first screen, search hit, whole index) in seconds, in one headless app."""
    from textual.app import App

    from screens import STYLES
    from screens.logscreen import LogScreen
    from screens.logsource import FileSource
    from screens.logview import LogView

    painted: list[float] = []
    render_line = LogView.render_line

    def marking(self: LogView, y: int):  # the first time a row of the file is painted
        strip = render_line(self, y)
        if not painted and self.line_count and strip.text.strip():
            painted.append(time.perf_counter())
        return strip

    LogView.render_line = marking  # type: ignore[method-assign]

    class Bench(App):
        CSS_PATH = STYLES

    app = Bench()
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            t0 = time.perf_counter()
            app.push_screen(LogScreen(path.name, lambda: (FileSource(path), None), at="top"))
            while not painted:
                await pilot.pause(0.01)
            first = painted[0] - t0
            view = app.screen.query_one(LogView)
            t1 = time.perf_counter()
            view.search(NEEDLE)
            while view.match_line is None or not view.is_shown(view.match_line):
                await pilot.pause(0.01)
            hit = time.perf_counter() - t1
            assert NEEDLE in view.source.line(view.match_line)[0].decode()
            while not view.source.complete:
                await pilot.pause(0.01)
            index = time.perf_counter() - t0
    finally:
        LogView.render_line = render_line  # type: ignore[method-assign]
    return first, hit, index


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="write the log here and keep it (default: a temporary dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = (args.keep or Path(tmp)) / "driver.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        size = make_log(path, args.gib)
        print(f"log: {size / (1 << 30):.2f} GiB written in {time.perf_counter() - t:.1f} s ({path})")
        timed(["grep", "-E", NEEDLE, str(path)])  # the page cache, warm for both
        rows = {"first screen": [], "search hit": [], "whole index": [], "grep -E": [], "wc -l": []}
        for _ in range(args.rounds):
            rows["grep -E"].append(timed(["grep", "-E", NEEDLE, str(path)]))
            rows["wc -l"].append(timed(["wc", "-l", str(path)]))
            first, hit, index = asyncio.run(measure_view(path))
            rows["first screen"].append(first)
            rows["search hit"].append(hit)
            rows["whole index"].append(index)
        med = {k: statistics.median(v) for k, v in rows.items()}
        for k, v in med.items():
            print(f"{k:>13}: {v * 1000:8.1f} ms  (median of {args.rounds}: {', '.join(f'{x:.3f}' for x in rows[k])} s)")
        print(f"first screen / grep -E: {med['first screen'] / med['grep -E']:.3f}")
        print(f"search hit   / grep -E: {med['search hit'] / med['grep -E']:.2f}")
        print(f"whole index  / wc -l:   {med['whole index'] / med['wc -l']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
