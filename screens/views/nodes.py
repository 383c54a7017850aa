"""The Nodes view: cordon, drain, labels, taints, pool config."""

from __future__ import annotations

from dataclasses import replace

from textual.binding import Binding

from core import clock
from screens.base import Page, ViewScreen
from screens.describe import describe
from screens.grid import Column
from screens.views.common import age_key, gib, size_key
from screens.views.common import count_of as _count
from screens.views.common import op_summary as _op_summary
from screens.widgets import status_label, status_style


class NodesScreen(ViewScreen):
    VIEW = "nodes"
    TITLE = "Nodes"
    # priority 1 shows at any width; at 80 columns NAME, STATUS, CPU, MEM, AGE and PODS fit; `enter` shows all
    COLUMNS = (
        Column("NAME", 1, min=20, max=44),
        Column("POOL", 3, max=16),
        Column("STATUS", 1, min=12, max=34, style=status_style),
        Column("PRESSURE", 3, min=8, max=24, style=lambda t: "" if t == "-" else "red"),
        Column("CPU", 2, align="right"),
        Column("MEM", 2, align="right", sort=size_key),
        Column("GPU", 5, align="right"),
        Column("PODS", 3, align="right"),
        Column("KUBELET", 6, max=14),
        Column("CONFIG", 4, min=12, max=32, style=lambda t: "yellow" if "≠" in t else ""),
        Column("AGE", 2, align="right", sort=age_key),
    )
    MARKABLE = True
    BINDINGS = [
        Binding("c", "cordon", "Cordon", id="cordon"),
        Binding("u", "uncordon", "Uncordon", id="uncordon"),
        Binding("r", "drain", "Drain", id="drain"),
        Binding("l", "labels", "Labels", id="labels"),
        Binding("t", "taints", "Taints", id="taints"),
        Binding("a", "apply_config", "Pool config", id="apply_config"),
        Binding("d", "toggle_drift", "Drift", id="toggle_drift"),
    ]
    ROLE_ACTIONS = {
        "cordon": "cordon",
        "uncordon": "uncordon",
        "drain": "drain",
        "labels": "label",
        "taints": "taint",
        "apply_config": "apply-config",
    }

    def __init__(self) -> None:
        super().__init__()
        self.drift_only = False
        self.pools: dict[str, str] = {}  # node -> its pool
        self.desired: dict[str, str] = {}  # pool -> its desired node config

    def fetch(self) -> Page:
        engine = self.app.engine
        desired = {p.name: p.desired_config for p in engine.pools()}
        pools = {}
        rows = []
        for n in engine.nodes():
            pools[n.name] = n.pool
            drift = n.config_version != desired.get(n.pool, n.config_version)
            if self.drift_only and not drift:
                continue
            rows.append(
                (
                    n.name,
                    [
                        n.name,
                        n.pool,
                        status_label(n.status),
                        ",".join(n.pressure) or "-",
                        f"{n.cpu_used:g}/{n.cpu}",
                        f"{gib(n.memory_used_gib)}/{gib(n.memory_gib)}",
                        f"{n.gpus_used}/{n.gpus}" if n.gpus_used is not None and n.gpus else str(n.gpus),
                        str(n.pods),
                        n.kubelet_version,
                        n.config_version + (f" ≠ {desired[n.pool]}" if drift else ""),
                        clock.age(n.created_at),
                    ],
                )
            )
        return Page(
            rows,
            "Nodes whose config differs from their pool's (drift)" if self.drift_only else "Nodes",
            {"pools": pools, "desired": desired},
        )

    def describe(self, key: str) -> str:
        return describe(self.app.engine.node_details(key))

    def action_cordon(self, on: bool = True) -> None:
        names = self.targets()
        if not names:
            return
        from screens.dialogs import ConfirmScreen

        verb = "cordon" if on else "uncordon"
        # the nodes by name: marks made under a filter since cleared are off screen, and a cordon of many
        # nodes takes capacity away
        shown = names[:8] + ([f"… and {len(names) - 8} more"] if len(names) > 8 else [])
        them = "it" if len(names) == 1 else "them"
        what = (
            f"no new pods will be scheduled on {them}"
            if on
            else f"{them} take{'s' if them == 'it' else ''} new pods again"
        )
        self.app.push_screen(
            ConfirmScreen(f"{verb.capitalize()} {_count(names)}?", "\n".join([*shown, what]), danger=on),
            lambda ok: (
                ok
                and self.perform(f"{verb} {_count(names)}", lambda: f"{len(self.app.engine.cordon(names, on))} changed")
            ),
        )

    def action_uncordon(self) -> None:
        self.action_cordon(on=False)

    def action_drain(self) -> None:
        names = self.targets()
        if not names:
            return
        from screens.dialogs import FormScreen

        def go(values: dict | None) -> None:
            if values is None:
                return
            engine = self.app.engine
            # a bad number is refused before anything changes, and said by the app's one error handler
            self.perform(
                f"drain {_count(names)}",
                lambda: ", ".join(
                    f"{len(r['evicted'])} pods evicted" for r in engine.drain(names, engine.drain_options(values))
                ),
            )

        self.app.push_screen(
            FormScreen(
                f"Drain {_count(names)}",
                [
                    ("grace_seconds", "grace period (s)", "30"),
                    ("timeout", "timeout (s)", "120"),
                    ("ignore_daemonsets", "ignore DaemonSet pods", True),
                    ("delete_emptydir_data", "delete emptyDir data", False),
                ],
                note="cordons, then evicts every pod through the Eviction API (disruption budgets honoured)"
                + ("" if len(names) == 1 else ": " + ", ".join(names[:8]) + (" …" if len(names) > 8 else "")),
                type_to_confirm=str(len(names)) if len(names) > 1 else None,
            ),
            go,
        )

    def _edit(self, what: str, example: str, apply) -> None:
        names = self.targets()
        if not names:
            return
        from screens.dialogs import FormScreen

        def go(values: dict | None) -> None:
            if values and str(values["changes"]).strip():
                words = str(values["changes"]).split()
                self.perform(f"{what} {_count(names)}", lambda: [apply(n, words) for n in names] and "done")

        self.app.push_screen(
            FormScreen(f"{what.capitalize()} on {_count(names)}", [("changes", f"kubectl syntax, e.g. {example}", "")]),
            go,
        )

    def action_labels(self) -> None:
        self._edit("labels", "team=ml env-", self.app.engine.label_words)

    def action_taints(self) -> None:
        self._edit("taints", "dedicated=ml:NoSchedule gpu-", self.app.engine.taint_words)

    def action_apply_config(self) -> None:
        key = self.selected_key()
        if key is None:
            return
        pool = self.pools.get(key, "")
        desired = self.desired.get(pool, "")  # as of the last refresh: the form's default, which the operator checks
        from screens.dialogs import FormScreen

        def go(values: dict | None) -> None:
            if values is None:
                return
            try:
                batch = int(str(values["max_unavailable"]))
            except ValueError:
                self.app.notify("max unavailable must be a whole number", severity="error")
                return
            self.perform(
                f"pool {pool} → {values['version']}",
                lambda: _op_summary(
                    self.app.engine.apply_config(pool, str(values["version"]).strip(), batch, bool(values["drain"]))
                ),
            )

        self.app.push_screen(
            FormScreen(
                f"Change the node config of pool {pool}",
                [
                    ("version", "node-config version (the pool's desired one converges drifted nodes)", desired),
                    ("max_unavailable", "nodes at a time (max unavailable)", "1"),
                    ("drain", "drain each node first", True),
                ],
                note="in batches; stops on the first failure; `:ops` shows it, to resume or roll back",
                type_to_confirm=pool,
            ),
            go,
        )

    def action_toggle_drift(self) -> None:
        self.drift_only = not self.drift_only
        self.view_changed()

    def show_drift(self) -> None:
        """Only the drifted nodes (what the dashboard's drift panel opens); `d` shows them all again."""
        self.drift_only = True
        self.view_changed()

    def grid_columns(self) -> tuple[Column, ...]:
        # showing drift, the config column is what the view is about
        if not self.drift_only:
            return self.COLUMNS
        return tuple(replace(c, priority=1) if c.title == "CONFIG" else c for c in self.COLUMNS)
