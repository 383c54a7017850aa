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


def open_cluster(settings: Settings, on_build: Callable[[dict], None] | None = None, watch: bool = False) -> Cluster:
    """A Kubernetes cluster when one is configured (--kubeconfig, $KUBECONFIG, ~/.kube/config, or the
    service account inside a cluster), else the embedded demo estate; --demo always the demo."""
    if not settings.demo:
        from core.backends.kube import connection

        if settings.kubeconfig or connection.kubeconfig_files() or connection.in_cluster():
            from core.backends.kube.cluster import KubeCluster
            from core.backends.kube.connection import Target, connect

            target = Target(settings.kubeconfig, settings.context, settings.namespace, settings.all_namespaces)
            return KubeCluster(connect(target), node_pool_label=settings.node_pool_label, watch=watch)
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


def contexts(settings: Settings) -> tuple[list[dict[str, str]], str]:
    """The kubeconfig's contexts and the one the settings use; ([], "") on the demo estate."""
    from core.backends.kube import connection

    if settings.demo:
        return [], ""
    files = connection.kubeconfig_files(settings.kubeconfig)
    if not files:
        return [], ""
    rows, current = connection.contexts(files)
    return rows, settings.context or current
