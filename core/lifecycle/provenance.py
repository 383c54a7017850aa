"""Where a version came from: the code's commit and the environment it was trained in."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def code_version() -> str | None:
    """The git commit of the checkout the console runs from ("…-dirty" with uncommitted changes); None
    for an installed package."""
    if not (REPO / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def lock() -> list[str]:
    """name==version of every installed distribution, sorted: the environment's lock."""
    seen = {}
    for d in metadata.distributions():
        name = d.metadata["Name"]
        if name:
            seen[name.lower()] = f"{name}=={d.version}"
    return [seen[k] for k in sorted(seen)]


def environment() -> dict[str, Any]:
    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(terse=True),
        "torch": version("torch"),
        "scikit-learn": version("scikit-learn"),
        "numpy": version("numpy"),
        "lock": lock(),
    }
