"""CPU an idle TUI burns: the console on the Jobs view with every attempt shown (2,866 rows, refreshed every
`refresh_seconds`), beside a bare Textual app measured the same way over the same window. Each runs in a
fresh interpreter on a pseudo-terminal (the real Linux driver); CPU time is the process's utime + stime
from /proc/<pid>/stat (every thread), taken once the console shows its rows and again `--seconds` later.

    .venv/bin/python bench/idle.py [--seconds 20] [--attempts 2866]

Prints each one's share of a core and the ratio console/bare (goal: the console under 5 % of a core).
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import struct
import subprocess
import sys
import tempfile
import termios
import time
from fcntl import ioctl
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")

BARE = r"""
from textual.app import App
from textual.widgets import Footer, Header, Static

class Bare(App):
    def compose(self):
        yield Header(); yield Static("hello"); yield Footer()

Bare().run()
"""


class Tui:
    """A process on a pseudo-terminal of 120×40, its output read (and kept) as it comes."""

    def __init__(self, argv: list[str], env: dict[str, str]):
        self.master, slave = pty.openpty()
        ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO, close_fds=True, start_new_session=True
        )
        os.close(slave)
        self.seen = b""

    def pump(self, seconds: float) -> None:
        """Read what it writes for `seconds` (a terminal that is not read would block the app)."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if select.select([self.master], [], [], min(left, 0.2))[0]:
                try:
                    self.seen = (self.seen + os.read(self.master, 65536))[-200_000:]
                except OSError:
                    return

    def wait_for(self, needle: bytes, limit: float = 120) -> None:
        self.seen = b""
        end = time.monotonic() + limit
        while needle not in self.seen:
            if time.monotonic() > end or self.proc.poll() is not None:
                raise SystemExit(f"never saw {needle!r} (exit {self.proc.poll()}): {self.seen[-500:]!r}")
            self.pump(0.2)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime: fields 14 and 15 of stat(5)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.close(self.master)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0, help="the idle window (default 20)")
    ap.add_argument("--attempts", type=int, default=2866, help="job attempts in the estate (default 2866)")
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="bench-idle-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_CONSOLE_") and k not in ("COLUMNS", "LINES")}
    env.update(TERM="xterm-256color", MLOPS_CONSOLE_CONFIG=os.path.join(home, "none.toml"))
    # built once, untimed
    subprocess.run(
        [sys.executable, "-m", "console", "--home", home, "--scale", f"jobs={args.attempts}", "version"],
        check=True,
        cwd=REPO,
        capture_output=True,
        env=env,
    )

    bare = Tui([sys.executable, "-c", BARE], env)
    console = Tui([sys.executable, "-m", "console", "--home", home], env)
    try:
        bare.wait_for(b"hello")
        console.wait_for(b"Approvals")  # the dashboard
        console.type(":jobs\r")
        console.wait_for(b"Failed job attempts")
        console.type("f")  # every attempt
        console.wait_for(f"of {args.attempts}".encode())
        console.pump(2)  # the last of the first load drawn
        start = {t: t.cpu_seconds() for t in (bare, console)}
        t0 = time.monotonic()
        for t in (bare, console):
            t.seen = b""
        while time.monotonic() - t0 < args.seconds:
            bare.pump(0.05)
            console.pump(0.05)
        wall = time.monotonic() - t0
        used = {t: t.cpu_seconds() - start[t] for t in (bare, console)}
        for t in (bare, console):
            if t.proc.poll() is not None:
                raise SystemExit(f"a TUI exited during the window ({t.proc.returncode})")
    finally:
        bare.close()
        console.close()
    pb, pc = 100 * used[bare] / wall, 100 * used[console] / wall
    print(f"idle window: {wall:.1f} s, Jobs view with all {args.attempts} attempts, refresh every 5 s")
    print(f"bare Textual app:   {used[bare]:6.2f} s CPU = {pb:5.1f} % of a core")
    print(
        f"mlops-console:      {used[console]:6.2f} s CPU = {pc:5.1f} % of a core   "
        f"ratio {pc / pb if pb else float('inf'):.1f}x (goal: console < 5 % of a core)"
    )


if __name__ == "__main__":
    main()
