"""The Jobs view: job attempts, their evidence and logs."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding

from screens.base import Page, ViewScreen
from screens.describe import describe
from screens.widgets import safe_text, status_text

JOB_ROWS_SHOWN = 5000  # newest attempts listed; the filter and the CLI reach the rest
EVIDENCE_SHOWN = 140  # characters of the evidence line in the table; `enter` and `l` show it whole


def _last_line(tail: str | None) -> str:
    if not tail:
        return ""
    # The last line that says something: skip JVM frames ("at …", "... 12 more") and blanks.
    lines = [ln.strip() for ln in tail.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith(("at ", "... "))]
    return lines[-1] if lines else ""


class AttemptsView(ViewScreen):
    """A table keyed by run id: `enter` describes the attempt, `l` opens its log."""

    BINDINGS = [Binding("l", "log", "Log", id="log")]

    def describe(self, key: str) -> str:
        return describe(self.app.engine.attempt_details(key))

    def action_log(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.app.open_log(key)


CATEGORY_STYLES = {
    "memory_exceeded": "magenta",
    "unclassified": "bold yellow",
    "user_code_error": "cyan",
    "permission_denied": "red",
    "gpu_failure": "bright_red",
    "node_lost": "blue",
}


class JobsScreen(AttemptsView):
    VIEW = "jobs"
    TITLE = "Job attempts"
    COLUMNS = ("WHEN", "JOB", "RUN", "CATEGORY", "ACTION", "EVIDENCE", "RULE", "ATT", "STATUS")
    BINDINGS = [
        Binding("f", "toggle_failed", "Failed/all", id="toggle_failed"),
        Binding("s", "signatures", "Signatures", id="signatures"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.failed_only = True
        self.built: dict[str, tuple[tuple, list]] = {}  # run id -> (what its row was built from, the row)

    def fetch(self) -> Page:
        engine = self.app.engine
        records = engine.attempt_records(failed=True if self.failed_only else None, limit=JOB_ROWS_SHOWN)
        if engine.rules_warning:
            self.app.call_from_thread(
                self.app.notify, engine.rules_warning, title="rules", severity="warning", markup=False
            )
        rows, built = [], {}
        for r in records:
            cat = r.get("category")
            source = (
                r["submitted_at"],
                r["job_id"],
                r["run_id"],
                cat,
                r.get("action"),
                r.get("evidence"),
                r.get("log_tail"),
                r.get("rule_id"),
                r["attempt"],
                r["status"],
            )
            last = self.built.get(r["run_id"])
            if last is not None and last[0] == source:
                cells = last[1]  # an attempt that has not changed keeps its row: a refresh of thousands is cheap
            else:
                evidence = (r.get("evidence") or _last_line(r.get("log_tail")))[:EVIDENCE_SHOWN]
                cells = [
                    r["submitted_at"][5:16].replace("T", " "),
                    safe_text(r["job_id"]),
                    safe_text(r["run_id"]),
                    safe_text(cat, CATEGORY_STYLES.get(cat or "", "")) if cat else Text("-", "dim"),
                    safe_text(r.get("action") or "-"),
                    safe_text(evidence),
                    safe_text(r.get("rule_id") or "-", "dim"),
                    r["attempt"],
                    status_text(r["status"]),
                ]
            built[r["run_id"]] = (source, cells)
            rows.append((r["run_id"], cells))
        # the cluster's own attempts: imported history is training data, listed by `autofix history`
        what = "Failed job attempts" if self.failed_only else "Job attempts"
        return Page(rows, f"{what} on {engine.backend_name}", {"built": built})

    def action_signatures(self) -> None:
        from screens.views.signatures import SignaturesScreen

        self.app.push_screen(SignaturesScreen())

    def action_toggle_failed(self) -> None:
        self.failed_only = not self.failed_only
        self.refresh_data()
