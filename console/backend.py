"""Which Cluster the console runs on, chosen from the settings. The only module above the protocol that
names a backend."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from console.settings import Settings
from core.cluster import Cluster


def fixtures_dir() -> Path:
    import fixtures  # a package of data files, installed as files (importlib.resources: ~5 ms more of the start)

    return Path(fixtures.__file__).parent


def open_cluster(settings: Settings, on_build: Callable[[dict], None] | None = None) -> Cluster:
    """The embedded demo estate (`--demo`, and the default while no other backend is configured)."""
    from core.backends.sim import SimCluster, parse_scale

    return SimCluster(
        settings.home,
        fixtures_dir(),
        seed=settings.seed,
        scale=parse_scale(settings.scale),
        on_build=on_build,
        pod_start_seconds=float(os.environ.get("MLOPS_CONSOLE_SIM_POD_START", "2")),
        job_seconds=float(os.environ.get("MLOPS_CONSOLE_SIM_JOB_SECONDS", "20")),
    )
