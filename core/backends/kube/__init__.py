"""A real Kubernetes cluster through the official client (core/backends/kube/cluster.py)."""

from core.backends.kube.cluster import KubeCluster
from core.backends.kube.connection import Connection, Target, connect, contexts, in_cluster, kubeconfig_files

__all__ = ["Connection", "KubeCluster", "Target", "connect", "contexts", "in_cluster", "kubeconfig_files"]
