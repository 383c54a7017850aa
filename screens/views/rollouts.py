"""The Rollouts view: model deployments, canaries and their live metrics."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from core.errors import MetricsUnavailable
from screens.base import Page, ViewScreen
from screens.describe import describe
from screens.grid import Column, Grid
from screens.views.common import op_summary as _op_summary
from screens.widgets import sparkline, status_label, status_style


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


# what each state of a rollout means for the operator, and the key that moves it on
ROLLOUT_STATES = {
    "paused": "paused until promoted: p analyses the canary and goes on a step, a aborts",
    "running": "running",
    "interrupted": "interrupted (its process died): :ops resumes or rolls it back",
    "failed": "failed",
    "done": "done",
    "aborted": "aborted",
    "rolled_back": "rolled back",
}


def rollout_line(state: str, results: list[dict]) -> Text:
    """The rollout under the metrics: its state said in words, then its last analyses if it has any (a
    rollout paused at its first step has none: it read 'rollout paused:' and nothing)."""
    line = Text.assemble(("rollout ", "bold"), (ROLLOUT_STATES.get(state, state), "bold"))
    if results:
        line.append("; analyses: ")
        for r in results[-3:]:
            line.append(
                f"{r['weight']}% {'pass' if r['passed'] else 'FAIL'} ({r['summary']})  ",
                "green" if r["passed"] else "bold red",
            )
    return line


class RolloutsScreen(ViewScreen):
    VIEW = "rollouts"
    TITLE = "Rollouts"
    BINDINGS = [
        Binding("n", "start", "New rollout", id="start"),
        Binding("p", "promote", "Promote", id="promote"),
        Binding("a", "abort", "Abort", id="abort"),
        Binding("b", "rollback", "Rollback", id="rollback"),
        Binding("S", "scale", "Scale", id="scale"),
    ]
    ROLE_ACTIONS = {
        "scale": "scale",
        "start": "rollout-start",
        "promote": "rollout-promote",
        "abort": "rollout-abort",
        "rollback": "rollout-rollback",
    }
    COLUMNS = (
        Column("DEPLOYMENT", 1, min=16, max=40, shorten="middle"),
        Column("NAMESPACE", 6, max=20),
        Column("MODEL", 2, min=10, max=24),
        Column("REV", 5, align="right"),
        Column("VERSION", 3, align="right"),
        Column("CANARY", 1, max=16, style=lambda t: "dim" if t == "-" else "yellow"),
        Column("READY", 2, align="right"),
        Column("STATUS", 1, max=14, style=status_style),
        Column("REQ/S", 3, align="right"),
        Column("P99 ms", 3, align="right"),
        Column("ERR %", 2, align="right", style=lambda t: "red" if _float(t) > 1 else ""),
        Column("HPA", 7, max=16, style=lambda t: "dim" if t == "-" else ""),
    )
    LIVE = True  # the metrics move every minute

    def __init__(self) -> None:
        super().__init__()
        self.series: dict[str, list] = {}  # deployment -> its last hour of metrics
        self.analyses: dict[str, dict] = {}  # deployment -> its latest rollout's analysis

    def compose_extra(self) -> ComposeResult:
        yield Static("", id="metrics")

    def fetch(self) -> Page:
        engine = self.app.engine
        series = {}
        analyses = {}
        for op in engine.operations():
            dep_name = op["target"].removeprefix("deployment/")
            if op["kind"] == "rollout" and dep_name not in analyses:
                analyses[dep_name] = {"state": op["state"], "results": op.get("results") or []}
        rows = []
        for d in engine.deployments():
            try:
                pts = engine.metrics(d.name, minutes=60)
            except MetricsUnavailable:  # said on the Dashboard; here the row shows dashes
                pts = []
            series[d.name] = pts
            # no serving metrics (a backend that has none to give): dashes
            now = (
                [f"{pts[-1].request_rate:.0f}", f"{pts[-1].p99_ms:.1f}", f"{pts[-1].error_rate * 100:.2f}"]
                if pts
                else ["-"] * 3
            )
            active, canary = d.active, d.canary
            rows.append(
                (
                    d.name,
                    [
                        d.name,
                        d.namespace,
                        d.model,
                        str(d.current_revision),
                        str(active.model_version) if active else "-",
                        f"r{canary.number} v{canary.model_version} {canary.weight}%" if canary else "-",
                        f"{d.ready_replicas}/{d.replicas}",
                        status_label(d.status),
                        *now,
                        _hpa(d.autoscaler),
                    ],
                )
            )
        return Page(rows, keep={"series": series, "analyses": analyses})

    def rows_shown(self) -> None:
        self._show_metrics()

    def on_grid_highlighted(self, event: Grid.Highlighted) -> None:
        self._show_metrics()

    def _show_metrics(self) -> None:
        key = self.selected_key()
        pts = self.series.get(key or "")
        if not pts:
            self.query_one("#metrics", Static).update(Text(f"no serving metrics for {key}" if key else "", "dim"))
            return
        lines = Text()
        span = max(10, min(len(pts), self.size.width - 44))  # as many minutes as fit on one line
        pts = pts[-span:]
        for label, values, fmt in (
            ("req/s ", [p.request_rate for p in pts], "{:.0f}"),
            ("p99 ms", [p.p99_ms for p in pts], "{:.1f}"),
            ("err % ", [p.error_rate * 100 for p in pts], "{:.2f}"),
        ):
            lines.append(f"{label} ", "bold")
            lines.append(sparkline(values), "cyan")
            lines.append(
                f"  now {fmt.format(values[-1])}  min {fmt.format(min(values))}  max {fmt.format(max(values))}\n"
            )
        lines.append(f"last {len(pts)} min of {key}", "dim")
        analysis = self.analyses.get(key or "")
        if analysis:
            lines.append("\n")
            lines.append_text(rollout_line(analysis["state"], analysis["results"]))
        self.query_one("#metrics", Static).update(lines)

    def describe(self, key: str) -> str:
        return describe(self.app.engine.deployment_details(key))

    def action_promote(self) -> None:
        key = self.selected_key()
        if key:
            self.perform(f"promote {key}", lambda: _op_summary(self.app.engine.rollout_promote(key)))

    def action_abort(self) -> None:
        key = self.selected_key()
        if not key:
            return
        from screens.dialogs import ConfirmScreen

        self.app.push_screen(
            ConfirmScreen(
                f"Abort the rollout of {key}?",
                "all traffic goes back to the stable revision; the deployment is marked degraded",
            ),
            lambda ok: ok and self.perform(f"abort {key}", lambda: _op_summary(self.app.engine.rollout_abort(key))),
        )

    def action_rollback(self) -> None:
        key = self.selected_key()
        if not key:
            return
        from screens.dialogs import FormScreen

        def go(values: dict | None) -> None:
            if values is None:
                return
            text = str(values["revision"]).strip()
            rev = int(text) if text.isdigit() else None
            self.perform(
                f"rollback {key}",
                lambda: "revision {revision} serves {serves}".format(**self.app.engine.rollout_rollback(key, rev)),
            )

        self.app.push_screen(
            FormScreen(
                f"Roll {key} back",
                [("revision", "to revision (empty: the previous)", "")],
                note="a new revision serving what the old one served",
                type_to_confirm=key,
            ),
            go,
        )

    def action_scale(self) -> None:
        key = self.selected_key()
        if not key:
            return
        from screens.dialogs import FormScreen

        def check(values: dict) -> str | None:
            text = str(values["replicas"]).strip()
            return None if text.isdigit() else f"replicas: a whole number, not {text!r}"

        def go(values: dict | None) -> None:
            if values is None:
                return
            n = int(str(values["replicas"]).strip())
            self.perform(f"scale {key}", lambda: _scaled(self.app.engine.scale(key, n)))

        current = next((r for r in self.rows if r.key == key), None)
        now = str(current.source[6]).split("/")[-1] if current else ""  # READY: ready/replicas
        self.app.push_screen(
            FormScreen(
                f"Scale {key}",
                [("replicas", "replicas in all", now)],
                note="audited; a canary keeps its share",
                check=check,
            ),
            go,
        )

    def action_start(self) -> None:
        key = self.selected_key()
        if not key:
            return
        engine = self.app.engine

        def read():
            dep = engine.deployment(key)
            return dep, [m.version for m in engine.models(dep.model)]

        self.gather(read, lambda found: self._start_form(key, *found))

    def _start_form(self, key: str, dep, versions: list[int]) -> None:
        engine = self.app.engine
        served = {r.model_version for r in dep.revisions}
        candidates = [v for v in versions if v not in served]
        from screens.dialogs import FormScreen

        def go(values: dict | None) -> None:
            if values is None:
                return
            text = str(values["version"]).strip()
            if not text.isdigit():
                self.app.notify(f"model version must be a whole number, got {text!r}", severity="error", markup=False)
                return
            version = int(text)

            def start() -> str:
                steps, pause = engine.parse_rollout(str(values["steps"]), str(values["pause"]))
                return _op_summary(
                    engine.rollout_start(
                        key, dep.model, version, steps, pause, {"window_minutes": 10, "failure_limit": 2}
                    )
                )

            self.perform(f"rollout {dep.model}:{version} on {key}", start)

        self.app.push_screen(
            FormScreen(
                f"Roll a version of {dep.model} out on {key}",
                [
                    (
                        "version",
                        f"model version (not yet served: {', '.join(map(str, candidates)) or 'none'})",
                        str(candidates[0]) if candidates else "",
                    ),
                    ("steps", "canary weights", "10,30,60,100"),
                    ("pause", "after each step: manual or a duration", "manual"),
                ],
                note="after each step the canary's error rate and p99 are analysed; a failure aborts",
            ),
            go,
        )


def _hpa(a: dict | None) -> str:
    """An autoscaler as "min–max (current)"; "-" without one."""
    return f"{a['min']}–{a['max']} ({a['current']})" if a else "-"


def _scaled(result: dict[str, Any]) -> str:
    replicas = result["replicas"]
    said = f"{replicas} replica{'' if replicas == 1 else 's'}"
    return f"{said}; {result['warning']}" if result.get("warning") else said
