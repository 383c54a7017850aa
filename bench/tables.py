"""The console's tables at scale, beside Textual's DataTable holding the same rows, in the same run.

On an estate of `--nodes` nodes and `--jobs` job attempts (built once, kept in --home), headless
(App.run_test, 120×40):
  - paint: from the moment a view's rows are read (its worker's fetch done) to the screen painted with them;
    DataTable: add_rows() of the same cells, then painted.
  - filter keystroke: a character typed into `/`, to the screen painted with the rows that match;
    DataTable: clear() and add_rows() of the matching rows (it has no filter of its own), then painted.
  - key during a refresh: `down` pressed while the view reads every row again in its worker, to the cursor
    moved on screen.
  - refresh while nothing changed: what an idle view's periodic refresh costs.

    .venv/bin/python bench/tables.py [--nodes 10000] [--jobs 100000] [--home DIR]

Goals (issue 17): paint ≤ 100 ms after the data is read; a filter keystroke ≤ 50 ms; a key ≤ 100 ms during
a refresh.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("MLOPS_CONSOLE_CONFIG", "/nonexistent/config.toml")


def build(home: Path, nodes: int, jobs: int) -> None:
    if (home / "sim.db").exists():
        return
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "console", "--home", str(home), "--demo", "--scale", f"nodes={nodes},jobs={jobs}",
         "version"],
        check=True, cwd=REPO, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    print(f"estate built in {time.perf_counter() - t:.1f} s ({nodes:,} nodes, {jobs:,} attempts)")


async def settle(pilot) -> None:
    for worker in list(pilot.app.workers):
        try:
            await worker.wait()
        except Exception:
            pass
    await pilot.pause()


async def painted(pilot) -> None:
    """Until the screen has been painted with what was asked of it."""
    await pilot.pause()
    await pilot.pause()


async def harness(pilot, key: str) -> tuple[float, float]:
    """What the measuring itself costs, in ms: painted() with nothing to paint, and a key that does nothing
    pressed and painted (Pilot waits for the app to go idle). Subtracted from every measure."""
    idle, press = [], []
    for _ in range(7):
        t = time.perf_counter()
        await painted(pilot)
        idle.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        await pilot.press(key)
        await painted(pilot)
        press.append((time.perf_counter() - t) * 1000)
    return statistics.median(idle), statistics.median(press)


async def console_view(home: Path, view: str, needle: str, all_attempts: bool) -> dict:
    from textual import events

    from console import settings
    from console.app import ConsoleApp
    from console.engine import Engine

    s = settings.load({"home": str(home), "read_only": True})
    app = ConsoleApp(Engine(s), s)
    out: dict = {}
    async with app.run_test(size=(120, 40)) as pilot:
        await app.switch_mode(view)
        screen = app.screen
        fetched: list[float] = []
        fetch = screen.fetch

        def timed_fetch():
            page = fetch()
            fetched.append(time.perf_counter())
            return page

        screen.fetch = timed_fetch
        if all_attempts:
            await settle(pilot)
            await pilot.press("f")
        while not screen.loaded or (all_attempts and screen.failed_only):
            await asyncio.sleep(0.01)
        await settle(pilot)
        idle, press = harness_ms = await harness(pilot, "f13")
        out["harness"] = harness_ms
        out["rows"] = screen.table.row_count
        out["read_s"] = None
        # paint: force a re-read whose adopt is timed from the end of the fetch to the painted screen
        fetched.clear()
        adopted: list[float] = []
        adopt = screen._adopt
        screen._adopt = lambda *a: adopted.append(time.perf_counter()) or adopt(*a)
        t0 = time.perf_counter()
        screen.refresh_data(force=True)
        await settle(pilot)
        await painted(pilot)
        t_painted = time.perf_counter()
        # read: the worker's fetch and its preparing of the rows (safe text, widths), off the UI thread;
        # paint: from the rows handed to the UI thread to the screen painted with them
        out["read_s"] = adopted[-1] - t0
        out["paint_ms"] = (t_painted - adopted[-1]) * 1000 - idle
        # a filter typed a key at a time
        await pilot.press("slash")
        times = []
        for ch in needle:
            t = time.perf_counter()
            await pilot.press(ch)
            await painted(pilot)
            times.append((time.perf_counter() - t) * 1000 - press)
        out["filter_ms"] = statistics.median(times)
        out["filtered_rows"] = screen.table.row_count
        # the same keystrokes' own work, without Textual's event loop: filter, show, paint the lines on screen
        own = []
        for n in range(1, len(needle) + 1):
            screen.filter_text = needle[:n]
            t = time.perf_counter()
            screen._render_rows()
            grid = screen.table
            for y in range(grid.size.height):
                grid.render_line(y)
            own.append((time.perf_counter() - t) * 1000)
        out["filter_own_ms"] = statistics.median(own)
        await pilot.press("escape", "escape")
        await settle(pilot)
        # a key while the view reads every row again
        screen.refresh_data(force=True)
        await asyncio.sleep(0.05)
        row = screen.table.cursor_row
        t = time.perf_counter()
        app.post_message(events.Key("down", None))  # as the terminal driver hands it over (no Pilot waits)
        while screen.table.cursor_row == row:
            await asyncio.sleep(0.001)
        out["key_ms"] = (time.perf_counter() - t) * 1000
        out["refreshing"] = any(w.group == "refresh" and not w.is_finished for w in app.workers)
        await settle(pilot)
        # an idle refresh: nothing changed
        t = time.perf_counter()
        for _ in range(5):
            screen.refresh_data()
            await settle(pilot)
        out["idle_refresh_ms"] = (time.perf_counter() - t) * 1000 / 5
        out["cells"] = [r.cells for r in screen.rows]
        out["columns"] = [c.title for c in screen.COLUMNS]
    return out


async def datatable(columns: list[str], rows: list[list], needle: str) -> dict:
    from rich.text import Text
    from textual.app import App
    from textual.widgets import DataTable

    plain = [[c.plain if isinstance(c, Text) else str(c) for c in r] for r in rows]

    class Bare(App):
        def compose(self):
            yield DataTable(cursor_type="row", zebra_stripes=True)

    out: dict = {}
    app = Bare()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(DataTable)
        table.add_columns(*columns)
        idle, _ = await harness(pilot, "f13")
        t = time.perf_counter()
        table.add_rows(plain)
        await painted(pilot)
        out["paint_ms"] = (time.perf_counter() - t) * 1000 - idle
        times = []
        typed = ""
        for ch in needle:
            typed += ch
            t = time.perf_counter()
            table.clear()
            table.add_rows([r for r in plain if typed in " ".join(r).lower()])
            await painted(pilot)
            times.append((time.perf_counter() - t) * 1000 - idle)
        out["filter_ms"] = statistics.median(times)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--home", type=Path, default=Path(tempfile.gettempdir()) / "mlops-bench-tables")
    args = ap.parse_args()
    home = args.home / f"n{args.nodes}-j{args.jobs}"
    build(home, args.nodes, args.jobs)
    cases = [("nodes", "nodes", "gpu", False), ("jobs (every attempt)", "jobs", "memory", True)]
    print(f"{'view':22} {'rows':>8} {'read':>7} {'paint':>9} {'DataTable':>10} {'ratio':>6}  "
          f"{'filter key':>10} {'DataTable':>10} {'ratio':>6}  {'key in refresh':>14} {'idle refresh':>12}")  # fmt: skip
    for label, view, needle, all_attempts in cases:
        ours = asyncio.run(console_view(home, view, needle, all_attempts))
        theirs = asyncio.run(datatable(ours["columns"], ours["cells"], needle))
        print(
            f"{label:22} {ours['rows']:>8,} {ours['read_s']:>6.2f}s {ours['paint_ms']:>7.1f}ms "
            f"{theirs['paint_ms']:>8.1f}ms {ours['paint_ms'] / theirs['paint_ms']:>5.3f}×  "
            f"{ours['filter_ms']:>8.1f}ms {theirs['filter_ms']:>8.1f}ms {ours['filter_ms'] / theirs['filter_ms']:>5.3f}×  "
            f"{ours['key_ms']:>12.1f}ms{'' if ours['refreshing'] else '?'} {ours['idle_refresh_ms']:>10.1f}ms"
        )
        print(
            f"{'':22} (a filter key's own work, no event loop: {ours['filter_own_ms']:.1f} ms; measuring harness, "
            f"subtracted: paint {ours['harness'][0]:.1f} ms, key {ours['harness'][1]:.1f} ms)"
        )


if __name__ == "__main__":
    main()
