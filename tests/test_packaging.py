"""A non-editable install works from any directory, with the fixtures' data files inside the package."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from conftest import REPO, isolated_env

# What a source checkout holds that an install must not need.
SKIP = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".import_linter_cache",
    "tests",
    "bench",
)


def test_non_editable_install_runs_from_anywhere(tmp_path):
    # Build from a copy, so that the build's scratch files never land in (or race on) the work tree.
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=SKIP)
    target = tmp_path / "site"
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--target",
            str(target),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert (target / "fixtures" / "estate.toml").is_file()
    assert list((target / "fixtures" / "logs").glob("*.txt"))

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = isolated_env(tmp_path / "env", PYTHONPATH=str(target))
    home = tmp_path / "home"

    def console(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "console", "--home", str(home), *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=elsewhere,
            timeout=120,
        )

    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import console, core, fixtures; print(console.__file__); print(core.__file__); print(fixtures.__file__)",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=elsewhere,
        timeout=60,
    )
    assert where.returncode == 0, where.stderr
    for path in where.stdout.split():
        assert path.startswith(str(target)), f"imported {path}, not the installed copy"

    v = console("version")
    assert v.returncode == 0, v.stderr
    assert "mlops-console: 0.1.0" in v.stdout.splitlines()
    nodes = console("nodes", "list", "--format", "json")
    assert nodes.returncode == 0, nodes.stderr
    assert len(json.loads(nodes.stdout)) == 40
    failed = console("jobs", "list", "--failed", "--format", "json")
    assert failed.returncode == 0, failed.stderr
    assert all(a["log_tail"] for a in json.loads(failed.stdout))
