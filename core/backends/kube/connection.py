"""Connecting like kubectl: which kubeconfig (--kubeconfig, $KUBECONFIG's files, ~/.kube/config), which
context (--context, else the current one), which namespace (--namespace, else the context's, else
"default"), or the pod's own service account when the console runs inside the cluster."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import BadInput, ClusterError

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass
class Target:
    """What the console connects to, as the operator asked for it."""

    kubeconfig: str = ""  # "" : $KUBECONFIG, else ~/.kube/config
    context: str = ""  # "" : the kubeconfig's current context
    namespace: str = ""  # "" : the context's namespace, else "default"
    all_namespaces: bool = False


@dataclass
class Connection:
    api: Any  # kubernetes.client.ApiClient
    context: str
    cluster: str
    namespace: str
    all_namespaces: bool
    kubeconfig: str  # the file(s) read, ":"-separated; "in-cluster" for a service account

    @property
    def label(self) -> str:
        """For the header: context, cluster and namespace."""
        ns = "all namespaces" if self.all_namespaces else f"ns {self.namespace}"
        return f"kube:{self.context} ({self.cluster}, {ns})"


def kubeconfig_files(explicit: str = "") -> list[str]:
    """The kubeconfig files kubectl would read: --kubeconfig's (which must exist), else $KUBECONFIG's that
    exist (kubectl skips the missing ones), else ~/.kube/config if it exists. [] : none."""
    if explicit:
        path = os.path.expanduser(explicit)
        if not os.path.isfile(path):
            raise BadInput(f"option --kubeconfig: no such file: {explicit}")
        return [path]
    env = os.environ.get("KUBECONFIG")
    if env is not None:
        return [os.path.expanduser(p) for p in env.split(os.pathsep) if p and os.path.isfile(os.path.expanduser(p))]
    home = os.path.expanduser("~/.kube/config")
    return [home] if os.path.isfile(home) else []


def in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and (SERVICE_ACCOUNT / "token").is_file()


def contexts(files: list[str]) -> tuple[list[dict[str, Any]], str]:
    """The kubeconfig's contexts (name, cluster, user, namespace) and the current one's name."""
    from kubernetes import config

    try:
        found, current = config.list_kube_config_contexts(config_file=os.pathsep.join(files))  # type: ignore[no-untyped-call]  # the client is unannotated
    except config.ConfigException as e:
        raise BadInput(f"kubeconfig {os.pathsep.join(files)}: {e}") from None
    rows = [
        {
            "name": c["name"],
            "cluster": c.get("context", {}).get("cluster", ""),
            "user": c.get("context", {}).get("user", ""),
            "namespace": c.get("context", {}).get("namespace", "") or "default",
        }
        for c in found or []
    ]
    return rows, (current or {}).get("name", "")


def connect(target: Target) -> Connection:
    """An API client for the target. Raises BadInput for a kubeconfig or context that is not there."""
    from kubernetes import client, config

    files = kubeconfig_files(target.kubeconfig)
    if not files:
        if not in_cluster():
            raise BadInput("no kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not inside a cluster")
        conf = client.Configuration()
        config.load_incluster_config(client_configuration=conf)  # type: ignore[no-untyped-call]
        ns_file = SERVICE_ACCOUNT / "namespace"
        ns = target.namespace or (ns_file.read_text().strip() if ns_file.is_file() else "default")
        return Connection(client.ApiClient(conf), "in-cluster", "in-cluster", ns, target.all_namespaces, "in-cluster")
    rows, current = contexts(files)
    name = target.context or current
    chosen = next((r for r in rows if r["name"] == name), None)
    if chosen is None:
        known = ", ".join(r["name"] for r in rows) or "none"
        what = f"context {name!r}" if name else "a current context"
        raise BadInput(f"kubeconfig {os.pathsep.join(files)}: no {what} (contexts: {known})")
    conf = client.Configuration()
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=os.pathsep.join(files), context=name, client_configuration=conf
        )
    except (config.ConfigException, OSError, ValueError) as e:
        raise ClusterError(f"kubeconfig {os.pathsep.join(files)}, context {name}: {e}") from None
    conf.retries = 0  # our own retries, with backoff (core/backends/kube/api.py); urllib3's would hide them
    return Connection(
        client.ApiClient(conf),
        name,
        chosen["cluster"],
        target.namespace or chosen["namespace"],
        target.all_namespaces,
        os.pathsep.join(files),
    )
