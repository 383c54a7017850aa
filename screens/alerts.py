"""Firing alerts (Alertmanager) and model drift, in one list opened from the Dashboard's Alerts panel:
`s` silences the selected alert (audited), `R` retrains what the selected row's deployment serves (the
drift → retrain pipeline, in a worker process), `esc` closes."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from screens.widgets import ForwardWorkerErrors, safe_text

STYLE = {"critical": "bold red", "warning": "yellow", "alert": "yellow", "warn": "yellow"}


class AlertsScreen(ForwardWorkerErrors, ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss_screen", "Close", id="close"),
        Binding("s", "silence", "Silence", id="silence"),
        Binding("R", "retrain", "Retrain", id="retrain"),
        Binding("ctrl+r", "reload", "Refresh", show=False, id="refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog wide"):
            yield Static(Text("Alerts and model drift", "bold"))
            yield Static("loading…", id="status")
            yield DataTable(id="alerts", cursor_type="row", zebra_stripes=True)
            yield Static(
                Text.assemble(
                    ("s", "bold"), " silence  ", ("R", "bold"), " retrain on recent data  ", ("esc", "bold"), " close"
                ),
                id="keys",
            )

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        t.add_columns("alert", "severity", "deployment", "since", "summary")
        t.focus()
        self.action_reload()

    @work(thread=True, exclusive=True, group="alerts", exit_on_error=False)
    def action_reload(self) -> None:
        engine = self.app.engine  # type: ignore[attr-defined]
        rows: list[dict[str, Any]] = []
        problem = None
        try:
            rows += [{**a, "kind": "alert"} for a in engine.alerts()]
        except Exception as e:  # Alertmanager down: the drift below still shows
            problem = str(e)
        for d in engine.model_drift():
            if d.get("level") in ("warn", "alert"):
                rows.append(
                    {
                        "kind": "drift",
                        "alertname": "drift (console)",
                        "severity": d["level"],
                        "deployment": d["deployment"],
                        "since": "",
                        "summary": engine.drift_line(d).split(": ", 1)[-1],
                    }
                )
        self.app.call_from_thread(self.show, rows, problem, engine.alerts_configured())

    def show(self, rows: list[dict[str, Any]], problem: str | None, configured: bool) -> None:
        self.rows = rows
        t = self.query_one(DataTable)
        t.clear()
        for r in rows:
            t.add_row(
                safe_text(r["alertname"], STYLE.get(r["severity"], "")),
                safe_text(r["severity"]),
                safe_text(r["deployment"]),
                safe_text(r["since"]),
                safe_text(r["summary"]),
            )
        alerts = sum(r["kind"] == "alert" for r in rows)
        drifting = len(rows) - alerts
        status = f"{alerts} alert{'s' * (alerts != 1)} firing, {drifting} model{'s' * (drifting != 1)} drifting"
        if not configured:
            status += " · no alertmanager_url: drift as the console measures it"
        if problem:
            status += f" · {problem}"
        self.query_one("#status", Static).update(safe_text(status, "red" if problem else "dim"))

    def _selected(self) -> dict[str, Any] | None:
        t = self.query_one(DataTable)
        if not self.rows or t.cursor_row is None or t.cursor_row >= len(self.rows):
            return None
        return self.rows[t.cursor_row]

    def action_dismiss_screen(self) -> None:
        self.dismiss(None)

    def action_silence(self) -> None:
        row = self._selected()
        if row is None or row["kind"] != "alert":
            self.app.notify("select an Alertmanager alert to silence", severity="warning", markup=False)
            return
        from screens.dialogs import FormScreen

        def check(values: dict) -> str | None:
            try:
                hours = float(str(values["hours"]))
            except ValueError:
                return f"hours: a number, not {values['hours']!r}"
            return None if 0 < hours <= 336 else "hours: more than 0, at most 336"

        def go(values: dict | None) -> None:
            if values is not None:
                self._silence(row["fingerprint"], float(str(values["hours"])), str(values["comment"]))

        self.app.push_screen(
            FormScreen(
                f"Silence {row['alertname']} on {row['deployment'] or 'all'}",
                [("hours", "for how many hours", "2"), ("comment", "why (recorded)", "")],
                note="matched on its name and deployment; recorded in the audit with your name",
                check=check,
            ),
            go,
        )

    @work(thread=True, exclusive=True, group="silence", exit_on_error=False)
    def _silence(self, fingerprint: str, hours: float, comment: str) -> None:
        result = self.app.engine.silence_alert(fingerprint, hours, comment)  # type: ignore[attr-defined]
        self.app.call_from_thread(self.app.notify, f"silenced {result['alert']} until {result['until']}", markup=False)
        self.action_reload()

    def action_retrain(self) -> None:
        row = self._selected()
        if row is None or not row["deployment"]:
            self.app.notify("select a row of a deployment to retrain", severity="warning", markup=False)
            return
        self.retrain(row["deployment"])

    def retrain(self, deployment: str) -> None:
        """Ask, then run the pipeline for `deployment` with its progress shown."""
        from screens.dialogs import ConfirmScreen

        def go(ok: bool | None) -> None:
            if ok:
                self._retrain(deployment)

        self.app.push_screen(
            ConfirmScreen(
                f"Retrain for {deployment}?",
                "on recent data: validate → train → gate → register → canary at 10% (paused for you to promote)",
                danger=False,
            ),
            go,
        )

    def _retrain(self, deployment: str) -> None:
        from screens.job_dialog import JobScreen

        try:
            job = self.app.engine.start_model_job("model_retrain", deployment)  # type: ignore[attr-defined]
        except Exception as e:  # refused (read-only, a role): said, the list stays
            self.app.notify(str(e), severity="error", markup=False)
            return

        def finished(result: dict | None) -> None:
            if result is not None:
                self.app.notify(
                    f"{result['model']} v{result['version']}: " + "; ".join(result["steps"][-2:]), markup=False
                )
            self.action_reload()

        self.app.push_screen(JobScreen(f"Retraining for {deployment}", job), finished)
