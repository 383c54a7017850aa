"""The TUI on a real terminal (a pseudo-terminal): when the terminal goes away, the app goes too."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time

from conftest import isolated_env


def _read_until(fd: int, needle: bytes, limit_s: float) -> bytes:
    seen, end = b"", time.monotonic() + limit_s
    while needle not in seen and time.monotonic() < end:
        if select.select([fd], [], [], 0.5)[0]:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


def test_the_tui_exits_when_its_terminal_hangs_up(home_copy, tmp_path):
    # a session of its own: the process has no controlling terminal, so no SIGHUP reaches it when the
    # terminal closes — as under `make run`, where make leads the session (a dropped SSH connection)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = isolated_env(tmp_path / "cli", TERM="xterm-256color")
    for inherited in ("COLUMNS", "LINES"):  # set in pytest-xdist's workers: they would override the terminal's size
        env.pop(inherited, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "--home", str(home_copy)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    try:
        frame = _read_until(master, b"Approvals", 60)
        assert b"Approvals" in frame, frame[-2000:]  # the dashboard is up
        os.close(master)  # the terminal hangs up
        assert proc.wait(timeout=60) == 129  # gone, as a process ended by SIGHUP reports itself
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
