"""A real Prometheus and Alertmanager (Debian's packages) on free ports of 127.0.0.1, configured by the
console's own generator (`monitoring config`), for the tests. Under CI=true a missing binary fails the
test (.ci/run installs them); elsewhere it skips, naming the package."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from console import monitoring_config

PROMETHEUS = "prometheus"
ALERTMANAGER = "prometheus-alertmanager"
# bounds on waiting for a server's answer, not timing assertions: the first scrape comes ~5 s after ready
WAIT_SECONDS = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def need(binary: str) -> str:
    path = shutil.which(binary) or (f"/usr/bin/{binary}" if os.path.exists(f"/usr/bin/{binary}") else None)
    if path:
        return path
    why = f"{binary} is not installed (apt-get install prometheus prometheus-alertmanager; .ci/run does)"
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


def wait_for(what: str, probe: Callable[[], Any], seconds: float = WAIT_SECONDS) -> Any:
    """Poll `probe` until it returns something truthy; fail naming `what` past the bound."""
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except httpx.HTTPError as e:
            last = e
        else:
            if last:
                return last
        time.sleep(0.25)
    pytest.fail(f"waited {seconds:.0f} s for {what}; last saw {last!r}")


class Stack:
    def __init__(self, root: Path, estate: list[str], console: list[str], basic_auth: tuple[str, str] | None = None):
        """`basic_auth`: (user, password) Prometheus requires (its web config, a bcrypt hash)."""
        self.root = root
        self.basic_auth = basic_auth
        self.prom_port, self.am_port = free_port(), free_port()
        monitoring_config.write(
            root / "config", estate, console, f"127.0.0.1:{self.am_port}", interval="1s", hold="0s", window="10s"
        )
        self.procs: list[subprocess.Popen[bytes]] = []
        self.prometheus_url = f"http://127.0.0.1:{self.prom_port}"
        self.alertmanager_url = f"http://127.0.0.1:{self.am_port}"

    def start(self) -> Stack:
        prom, am = need(PROMETHEUS), need(ALERTMANAGER)
        cfg = self.root / "config"
        for args, log in (
            (
                [
                    am,
                    f"--config.file={cfg / 'alertmanager.yml'}",
                    f"--storage.path={self.root / 'am-data'}",
                    f"--web.listen-address=127.0.0.1:{self.am_port}",
                    "--cluster.listen-address=",
                ],
                "alertmanager.log",
            ),
            (
                [
                    prom,
                    f"--config.file={cfg / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.root / 'prom-data'}",
                    f"--web.listen-address=127.0.0.1:{self.prom_port}",
                    *([f"--web.config.file={self._web_config()}"] if self.basic_auth else []),
                ],
                "prometheus.log",
            ),
        ):
            with (self.root / log).open("wb") as out:
                self.procs.append(
                    subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
                )
        for url in (self.alertmanager_url, self.prometheus_url):
            wait_for(
                f"{url}/-/ready",
                lambda u=url: httpx.get(f"{u}/-/ready", timeout=2, auth=self.basic_auth).status_code == 200,
            )
        return self

    def _web_config(self) -> Path:
        import warnings

        assert self.basic_auth is not None
        user, password = self.basic_auth
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # glibc's bcrypt ($2b$), what Prometheus's web config takes; no extra package

            hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 4))
        path = self.root / "web.yml"
        path.write_text(f'basic_auth_users:\n  {user}: "{hashed}"\n', encoding="utf-8")
        return path

    def query(self, promql: str) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.prometheus_url}/api/v1/query", params={"query": promql}, timeout=5)
        r.raise_for_status()
        return list(r.json()["data"]["result"])

    def alerts(self) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.alertmanager_url}/api/v2/alerts", params={"active": "true"}, timeout=5)
        r.raise_for_status()
        return list(r.json())

    def log(self) -> str:
        return "\n".join(
            (self.root / n).read_text(errors="replace")[-3000:] for n in ("prometheus.log", "alertmanager.log")
        )

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
