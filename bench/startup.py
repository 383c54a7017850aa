"""Time to first frame of the TUI on the demo estate, against a bare Textual app measured the same way
in the same run. Each sample is a fresh interpreter on a pseudo-terminal (the real Linux driver), timed
from spawn to the first painted frame; the console is also timed to its first frame *with data*.

    .venv/bin/python bench/startup.py [--rounds 9]

Prints the medians and the ratio console/bare (goal ≤ 1.5×).
"""

from __future__ import annotations

import argparse
import os
import pty
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BARE = r"""
import os, sys, time
from textual.app import App
from textual.widgets import Footer, Header, Static

def mark(name):
    with open(os.environ["MARKS"], "a") as f:
        f.write(f"{name} {time.time()}\n")

class Bare(App):
    def compose(self):
        yield Header(); yield Static("hello"); yield Footer()
    def on_mount(self):
        self.call_after_refresh(lambda: (mark("frame"), self.exit()))

Bare().run()
"""

CONSOLE = r"""
import os, sys, time
def mark(name):
    with open(os.environ["MARKS"], "a") as f:
        f.write(f"{name} {time.time()}\n")

import console.cli  # what `mlops-console` imports first
from console import settings as settings_mod
from console.app import ConsoleApp
from console.engine import Engine
from screens.dashboard import DashboardScreen

show = DashboardScreen.show
def show_and_mark(self, *a, **kw):
    show(self, *a, **kw)
    self.call_after_refresh(lambda: (mark("data"), self.app.exit()))
DashboardScreen.show = show_and_mark

class Timed(ConsoleApp):
    def on_mount(self):
        super().on_mount()
        self.call_after_refresh(lambda: mark("frame"))

s = settings_mod.load({"home": sys.argv[1]})
Timed(Engine(s), s).run()
"""


def sample(code: str, *args: str) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("r", suffix=".marks", delete=False) as marks:
        path = marks.name
    master, slave = pty.openpty()
    env = {**os.environ, "MARKS": path, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    t0 = time.time()
    p = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO, close_fds=True
    )
    os.close(slave)
    deadline = time.time() + 60
    while p.poll() is None and time.time() < deadline:
        try:  # drain the terminal so the app never blocks on a full pty buffer
            os.read(master, 65536)
        except OSError:
            break
    p.wait(timeout=10)
    os.close(master)
    out = {}
    for line in Path(path).read_text().splitlines():
        name, ts = line.split()
        out[name] = float(ts) - t0
    os.unlink(path)
    if "frame" not in out:
        raise SystemExit(f"no frame recorded (exit {p.returncode})")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="bench-home-")
    os.environ["MLOPS_CONSOLE_CONFIG"] = os.path.join(home, "none.toml")
    # Build the estate once, untimed: the bench measures a warm start, as an operator has every day.
    subprocess.run(
        [sys.executable, "-m", "console", "--home", home, "version"], check=True, cwd=REPO, capture_output=True
    )
    sample(BARE)  # warm the page cache for both
    sample(CONSOLE, home)
    bare, frame, data = [], [], []
    for _ in range(args.rounds):  # interleaved, so drift in machine load hits both alike
        bare.append(sample(BARE)["frame"])
        s = sample(CONSOLE, home)
        frame.append(s["frame"])
        data.append(s.get("data", float("nan")))
    mb, mf, md = statistics.median(bare), statistics.median(frame), statistics.median(data)
    print(f"rounds: {args.rounds} (medians; each a fresh interpreter on a pty)")
    print(f"bare Textual app, first frame:        {mb * 1000:7.0f} ms")
    print(f"mlops-console, first frame:           {mf * 1000:7.0f} ms   ratio {mf / mb:.2f}x (goal <= 1.5x)")
    print(f"mlops-console, dashboard with data:   {md * 1000:7.0f} ms   ratio {md / mb:.2f}x")
    print("torch/sklearn imported at first frame: checked by tests/test_tui.py")


if __name__ == "__main__":
    main()
