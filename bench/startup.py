"""Start-up as a user sees it: the TUI in a real terminal (tmux, 120×40), the screen polled until the text
appears, timed from the command's start — Python's start-up, the imports, the store's opening, the first
fetch all included. A bare Textual app (Header, Static, Footer) runs the same way in the same run.

    .venv/bin/python bench/startup.py [--rounds 9] [--home DIR] [--poll-ms 10]

Marks (each the first poll whose screen shows it):
  bare    the bare app's header
  frame   the console's header (its first frame)
  nodes   the Cluster panel's "N/M nodes ready" (the dashboard's data)
  filled  the Approvals panel's "suggestions awaiting approval" (the dashboard complete)

Prints medians and the ratios to the bare app's first frame. Goals (issue 17): frame ≤ 1.5×, filled ≤ 2×.
The store is warm (built, and looked at once, untimed), as an operator's is every day. Rounds are
interleaved (bare, console, bare, …) so that drift in the machine's load hits both alike. tmux runs on a
socket of its own (`-L`), which the bench removes when done.

Why not marks written by the app itself (what this bench did before): they were taken inside the
process — `call_after_refresh` on mount, the dashboard's `show` patched — and missed what a user waits
for: the bytes reaching a terminal that draws them, the console's own entry point (argument parsing,
settings, `run_tui`), and the panels' text being on the screen rather than handed to the compositor.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLS, ROWS = 120, 40

BARE = r"""
from textual.app import App
from textual.widgets import Footer, Header, Static

class Bare(App):
    TITLE = "bare-textual-app"
    def compose(self):
        yield Header(); yield Static("hello"); yield Footer()

Bare().run()
"""

Mark = Callable[[list[str]], bool]
BARE_MARKS: dict[str, Mark] = {"bare": lambda lines: bool(lines) and "bare-textual-app" in lines[0]}
NODES_READY = re.compile(r"\d+/\d+ nodes ready")
CONSOLE_MARKS: dict[str, Mark] = {
    "frame": lambda lines: bool(lines) and "mlops-console" in lines[0],
    "nodes": lambda lines: any(NODES_READY.search(line) for line in lines),
    "filled": lambda lines: any("suggestions awaiting approval" in line for line in lines),
}


class Tmux:
    """A tmux server of our own (its own socket, no user config), kept up between samples."""

    def __init__(self, env: dict[str, str]):
        self.sock = f"mlops-bench-{os.getpid()}"
        self.env = env
        self.n = 0
        self("-f", "/dev/null", "new-session", "-d", "-s", "keep", "-x", str(COLS), "-y", str(ROWS), "sleep 86400")
        self("set-option", "-g", "default-terminal", "tmux-256color")

    def __call__(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.sock, *args], check=True, capture_output=True, text=True, env=self.env
        ).stdout

    def sample(self, argv: list[str], marks: dict[str, Mark], poll: float, timeout: float = 60) -> dict[str, float]:
        self.n += 1
        name = f"s{self.n}"
        env_words = [f"{k}={v}" for k, v in self.env.items()]
        command = "exec env -i " + shlex.join([*env_words, *argv])
        t0 = time.perf_counter()
        self("new-session", "-d", "-s", name, "-x", str(COLS), "-y", str(ROWS), "-c", str(REPO), command)
        seen: dict[str, float] = {}
        try:
            while len(seen) < len(marks) and time.perf_counter() - t0 < timeout:
                lines = self("capture-pane", "-p", "-t", name).splitlines()
                now = time.perf_counter() - t0
                for mark, shows in marks.items():
                    if mark not in seen and shows(lines):
                        seen[mark] = now
                time.sleep(poll)
        finally:
            self("kill-session", "-t", name)
        missing = set(marks) - set(seen)
        if missing:
            raise SystemExit(f"{argv[:3]}…: {', '.join(sorted(missing))} never showed in {timeout:.0f} s")
        return seen

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--home", help="a home to start on (default: a new demo estate, built untimed)")
    ap.add_argument("--poll-ms", type=float, default=10, help="screen polling interval (default 10 ms)")
    args = ap.parse_args()
    if not shutil.which("tmux"):
        raise SystemExit("bench/startup.py needs tmux (apt-get install tmux)")

    tmp = tempfile.mkdtemp(prefix="bench-startup-")
    home = args.home or os.path.join(tmp, "home")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", tmp),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "TERM": "tmux-256color",
        "MLOPS_CONSOLE_CONFIG": os.path.join(tmp, "none.toml"),
    }
    # The estate built and looked at once, untimed: a warm store, its failures classified.
    subprocess.run(
        [sys.executable, "-m", "console", "--home", home, "jobs", "list", "--limit", "1"],
        check=True,
        cwd=REPO,
        capture_output=True,
        env={**os.environ, **env},
    )
    bare_argv = [sys.executable, "-c", BARE]
    console_argv = [sys.executable, "-m", "console", "--home", home]
    tmux = Tmux(env)
    poll = args.poll_ms / 1000
    try:
        tmux.sample(bare_argv, BARE_MARKS, poll)  # warm the page cache for both
        tmux.sample(console_argv, CONSOLE_MARKS, poll)
        runs: dict[str, list[float]] = {"bare": [], "frame": [], "nodes": [], "filled": []}
        for _ in range(args.rounds):
            for argv, marks in ((bare_argv, BARE_MARKS), (console_argv, CONSOLE_MARKS)):
                for mark, t in tmux.sample(argv, marks, poll).items():
                    runs[mark].append(t)
    finally:
        tmux.close()
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in runs.items()}
    bare = med["bare"]
    print(
        f"rounds: {args.rounds} (medians; tmux {COLS}x{ROWS}, screen polled every {args.poll_ms:g} ms, "
        "from the command's start)"
    )
    rows = [
        ("bare Textual app, header", "bare", ""),
        ("mlops-console, header (first frame)", "frame", "goal <= 1.5x"),
        ('mlops-console, "nodes ready"', "nodes", ""),
        ("mlops-console, approvals panel (filled)", "filled", "goal <= 2x"),
    ]
    for label, key, goal in rows:
        ratio = med[key] / bare
        spread = f"{min(runs[key]) * 1000:.0f}-{max(runs[key]) * 1000:.0f}"
        print(f"{label:42s} {med[key] * 1000:7.0f} ms  ({spread:>11s})  {ratio:5.2f}x {goal}")


if __name__ == "__main__":
    main()
