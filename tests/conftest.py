"""Shared fixtures: a demo estate built once per session, and a runner for the real CLI in a subprocess.

Every CLI run gets an environment of its own: no MLOPS_CONSOLE_* variable of the developer leaks in,
MLOPS_CONSOLE_CONFIG names a file that does not exist, HOME and the XDG dirs point into a temporary
directory, and the clock is pinned (MLOPS_CONSOLE_NOW) so that the estate and its ages are reproducible.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PINNED_NOW = "2026-11-20T12:00:00Z"
DB_NAME = "console.db"  # the console's own data
SIM_DB = "sim.db"  # the simulator's estate (its own store, core/backends/sim)

# In-process tests (the TUI under Pilot, the engine) run on the demo estate, never on a cluster of the
# developer's: a kubeconfig that is not there, no service account.
os.environ["KUBECONFIG"] = str(REPO / ".no-such-kubeconfig")
os.environ.pop("KUBERNETES_SERVICE_HOST", None)
# The compiled rule databases (autofix/classify.py), shared by every test of the session (keyed by the
# rules' hash and checked when read): each CLI run would otherwise compile them again, a second each.
TEST_CACHE = Path(tempfile.gettempdir()) / f"mlops-console-test-cache-{os.getuid()}"
os.environ["MLOPS_CONSOLE_CACHE"] = str(TEST_CACHE)


def connect(home: Path) -> sqlite3.Connection:
    """The console's store with the simulator's attached: a table name unknown to the first (nodes,
    attempts…) is looked up in the second, as a test that inspects both needs."""
    conn = sqlite3.connect(home / DB_NAME)
    if (home / SIM_DB).exists():
        conn.execute("ATTACH DATABASE ? AS sim", (str(home / SIM_DB),))
    return conn


def isolated_env(root: Path, **extra: str) -> dict[str, str]:
    """os.environ without MLOPS_CONSOLE_*, with HOME, XDG dirs and the config path inside `root`, and this
    checkout first on the import path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_CONSOLE_")}
    env.pop("SSH_CLIENT", None)
    # no cluster of the developer's: a run is on the demo estate unless a test points it at the emulator
    env.pop("KUBERNETES_SERVICE_HOST", None)
    env["KUBECONFIG"] = str(root / "no-such-kubeconfig")
    # this checkout's code: the venv's editable install points at the main checkout, and `python -m console`
    # run from a temporary directory would otherwise import that one (a worktree's tests testing main)
    env["PYTHONPATH"] = str(REPO)
    root.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "HOME": str(root / "user-home"),
            "XDG_CONFIG_HOME": str(root / "xdg-config"),
            "XDG_DATA_HOME": str(root / "xdg-data"),
            "XDG_CACHE_HOME": str(root / "xdg-cache"),
            "XDG_STATE_HOME": str(root / "xdg-state"),
            "MLOPS_CONSOLE_CONFIG": str(root / "no-such-config.toml"),
            "MLOPS_CONSOLE_CACHE": str(TEST_CACHE),
            "MLOPS_CONSOLE_NOW": PINNED_NOW,
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.update(extra)
    return env


@dataclass
class Result:
    rc: int
    out: str
    err: str

    def json(self):
        assert self.rc == 0, self.err
        return json.loads(self.out)


class Cli:
    """Runs `python -m console ARGS` in a fresh interpreter, as a user would."""

    def __init__(self, root: Path):
        self.root = root
        self.env = isolated_env(root)

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
    ) -> Result:
        full_env = dict(self.env)
        full_env.update(env or {})
        p = subprocess.run(
            [sys.executable, "-m", "console", *args],
            capture_output=True,
            text=True,
            env=full_env,
            cwd=cwd or self.root,
            timeout=timeout,
        )
        return Result(p.returncode, p.stdout, p.stderr)

    def ok(self, *args: str, **kw) -> Result:
        r = self(*args, **kw)
        assert r.rc == 0, f"{args} exited {r.rc}: {r.err}"
        assert "Traceback" not in r.err, r.err
        return r


def copy_home(src: Path, dst: Path) -> Path:
    """A consistent copy of a home: its stores (sqlite backup API: WAL contents included) and its model
    artifacts."""
    import shutil

    dst.mkdir(parents=True, exist_ok=True)
    if (src / "artifacts").is_dir():
        shutil.copytree(src / "artifacts", dst / "artifacts")
    for name in (DB_NAME, SIM_DB):
        if not (src / name).exists():
            continue
        s = sqlite3.connect(src / name)
        d = sqlite3.connect(dst / name)
        try:
            s.backup(d)
        finally:
            d.close()
            s.close()
    return dst


@pytest.fixture(scope="session")
def session_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("session")


@pytest.fixture(scope="session")
def demo_home(session_root) -> Path:
    """The default demo estate (seed 42), built once by the real CLI. Treat it as read-only."""
    home = session_root / "demo-home"
    # (the first build on a machine trains the demo models: minutes when every worker does it at once)
    r = Cli(session_root / "builder")("--home", str(home), "version", timeout=600)
    assert r.rc == 0, r.err
    assert (home / DB_NAME).is_file()
    return home


@pytest.fixture
def cli(tmp_path) -> Cli:
    return Cli(tmp_path / "cli")


@pytest.fixture(scope="session")
def session_cli(session_root) -> Cli:
    return Cli(session_root / "cli")


@pytest.fixture
def home_copy(demo_home, tmp_path) -> Path:
    """A private copy of the demo estate, for tests that change it."""
    return copy_home(demo_home, tmp_path / "home")


@pytest.fixture(scope="session")
def demo_attempts(demo_home, session_cli) -> list[dict]:
    return session_cli.ok("--home", str(demo_home), "jobs", "list", "--format", "json").json()


@pytest.fixture(scope="session")
def demo_failed(demo_home, session_cli) -> list[dict]:
    return session_cli.ok("--home", str(demo_home), "jobs", "list", "--failed", "--format", "json").json()


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """For in-process tests: the same isolation as the CLI runs get."""
    for k in list(os.environ):
        if k.startswith("MLOPS_CONSOLE_"):
            monkeypatch.delenv(k)
    for k, v in isolated_env(tmp_path / "env").items():
        if k.startswith(("MLOPS_CONSOLE_", "XDG_")) or k == "HOME":
            monkeypatch.setenv(k, v)
    return tmp_path / "env"


@pytest.fixture(scope="session")
def trained_home(demo_home, session_root, tmp_path_factory, worker_id) -> Path:
    """The demo estate with a retry-recommender trained on a small history of the simulator's Spark
    world (the approval queue's memory suggestions need one). Treat it as read-only. Trained once per
    run, not once per xdist worker (half a minute each): the first worker builds it under a lock in
    the run's own temporary folder, the others copy it."""
    from filelock import FileLock

    run_root = tmp_path_factory.getbasetemp()
    shared = run_root.parent if worker_id != "master" else run_root  # (a worker's base is inside the run's)
    built = shared / "trained-home"
    with FileLock(str(shared / "trained-home.lock")):
        if not (built / DB_NAME).is_file():
            staging = copy_home(demo_home, shared / f"trained-home.{worker_id}")
            cli = Cli(session_root / "trainer")
            world = session_root / "world.jsonl"
            world.write_text(cli.ok("autofix", "world", "--jobs", "40", "--days", "20").out)
            cli.ok("--home", str(staging), "autofix", "train", "--history", str(world), timeout=180)
            staging.rename(built)  # whole or not at all: a failed training leaves nothing to copy
    return copy_home(built, session_root / "trained-home")


def doomed_past(failed: dict) -> dict:
    """A history record for a failed attempt's job: the same failure a day earlier, on half the input, with
    the most the search space allows of the memory that ran out — nothing the recommender can try is left
    open, so it answers no_retry."""
    from datetime import datetime, timedelta

    when = datetime.fromisoformat(failed["submitted_at"].replace("Z", "+00:00")) - timedelta(days=1)
    if "maxResultSize" in failed["log_tail"]:
        most = {"spark.driver.memory": "64g", "spark.driver.maxResultSize": "64g"}
        tail = (
            "Total size of serialized results of 900 tasks (70000.0 MiB) is bigger than "
            "spark.driver.maxResultSize (65536.0 MiB)"
        )
    else:
        most = {"spark.executor.memory": "64g", "spark.executor.cores": "1", "spark.sql.shuffle.partitions": "20000"}
        tail = "java.lang.OutOfMemoryError: Java heap space"
    return {
        "job_id": failed["job_id"],
        "run_id": "h-doomed-1",
        "attempt": 1,
        "kind": "spark",
        "submitted_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "input_bytes": failed["input_bytes"] // 2,
        "conf": {**failed["conf"], **most},
        "status": "failed",
        "log_tail": tail,
        "runtime_seconds": 600.0,
        "cost": 1.0,
    }


@pytest.fixture(scope="module")
def tui_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tui-home")


@pytest.fixture
def make_app(tui_home, monkeypatch):
    """The TUI on a demo home shared by a test module, the clock pinned; `cli` adds global options."""
    from console.app import ConsoleApp
    from console.engine import Engine
    from console.settings import load

    monkeypatch.setenv("MLOPS_CONSOLE_NOW", "2026-11-20T12:00:00Z")
    monkeypatch.setenv("MLOPS_CONSOLE_CONFIG", str(tui_home / "none.toml"))

    def make(**cli) -> ConsoleApp:
        settings = load({"home": str(tui_home), "user": "alice", **cli})
        return ConsoleApp(Engine(settings), settings)

    return make
