"""Nodes and node pools: listing, cordon/uncordon, labels, taints, drain, and a pool's node config."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from console.services.wiring import Wiring
from core import clock
from core.errors import BadInput
from core.types import Node, Pod, Pool

if TYPE_CHECKING:
    from core.changes import DrainOptions

Progress = Callable[[str], None]


def drain_options(values: dict[str, Any]) -> DrainOptions:
    """Drain options from what a form or the command line gave (numbers as text allowed)."""
    from core.changes import DrainOptions

    try:
        return DrainOptions(
            grace_seconds=int(values.get("grace_seconds", 30)),
            timeout_seconds=float(values.get("timeout", 120)),
            ignore_daemonsets=bool(values.get("ignore_daemonsets")),
            delete_emptydir_data=bool(values.get("delete_emptydir_data")),
        )
    except ValueError:
        raise BadInput("drain: grace period and timeout must be numbers of seconds") from None


class NodeService:
    def __init__(self, w: Wiring):
        self.w = w

    # -- reading -----------------------------------------------------------------------------------
    def pools(self) -> list[Pool]:
        return self.w.cluster.list_pools()

    def nodes(self, pool: str | None = None) -> list[Node]:
        return self.w.cluster.list_nodes(pool)

    def iter_nodes(self, pool: str | None = None) -> Iterator[Node]:
        return self.w.cluster.iter_nodes(pool)

    def node(self, name: str) -> Node:
        return self.w.cluster.get_node(name)

    def pods(self, node: str | None = None) -> list[Pod]:
        return self.w.cluster.list_pods(node)

    def details(self, name: str) -> dict[str, Any]:
        n = self.node(name)
        data = asdict(n) | {"status": n.status, "age": clock.age(n.created_at)}
        data["pods"] = [f"{p.namespace}/{p.name} ({p.owner}, {p.phase})" for p in self.pods(name)]
        return data

    def drift(self) -> list[dict[str, Any]]:
        """Nodes whose observed config differs from their pool's desired config."""
        desired = {p.name: p.desired_config for p in self.pools()}
        return [
            {
                "node": n.name,
                "pool": n.pool,
                "observed": n.config_version,
                "desired": desired[n.pool],
                "unschedulable": n.unschedulable,
            }
            for n in self.nodes()
            if n.config_version != desired.get(n.pool, n.config_version)
        ]

    # -- changing ----------------------------------------------------------------------------------
    def cordon(self, nodes: list[str], on: bool = True) -> list[str]:
        """The nodes whose schedulability changed (the others were already so)."""
        user = self.w.require("cordon" if on else "uncordon")
        return [n for n in nodes if self.w.changes.cordon(n, user, on=on)]

    def label(self, node: str, words: list[str]) -> None:
        """kubectl's syntax: key=value sets, key- removes."""
        from core.changes import parse_labels

        set_, remove = parse_labels(words)
        self.w.changes.label(node, self.w.require("label"), set_, remove)

    def taint(self, node: str, words: list[str]) -> None:
        """kubectl's syntax: key=value:Effect adds, key- or key:Effect- removes."""
        from core.changes import parse_taints

        add, remove = parse_taints(words)
        self.w.changes.taint(node, self.w.require("taint"), add, remove)

    def drain(self, nodes: list[str], opts: DrainOptions, progress: Progress = lambda m: None) -> list[dict]:
        user = self.w.require("drain")
        return [self.w.changes.drain(n, user, opts, progress) for n in nodes]

    def apply_config(
        self, pool: str, version: str, max_unavailable: int, drain: bool = True, progress: Progress = lambda m: None
    ) -> dict:
        from core.operations import describe_op

        user = self.w.require("apply-config")
        op = self.w.ops.start_pool_config(pool, version, max_unavailable, user, drain)
        return describe_op(self.w.ops.run_pool_config(op, user, progress))
