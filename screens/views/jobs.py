"""The Jobs view: job attempts, their evidence and logs."""

from __future__ import annotations

from textual.binding import Binding

from screens.base import Page, ViewScreen
from screens.describe import describe
from screens.grid import Column
from screens.views.common import without_timestamp
from screens.widgets import status_label, status_style


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
    COLUMNS = (
        Column("WHEN", 3),
        Column("JOB", 1, min=16, max=36, shorten="middle"),
        Column("RUN", 6, max=28, shorten="middle"),
        Column("CATEGORY", 1, max=24, style=lambda t: CATEGORY_STYLES.get(t, "dim" if t == "-" else "")),
        Column("ACTION", 4, max=22),
        # the evidence line's message, without the timestamp every line shares; `enter` and `l` show it whole
        Column("EVIDENCE", 1, min=24, flex=True),
        Column("RULE", 7, max=20, style=lambda _: "dim"),
        Column("ATT", 5, align="right"),
        Column("STATUS", 2, max=14, style=status_style),
    )
    BINDINGS = [
        Binding("f", "toggle_failed", "Failed/all", id="toggle_failed"),
        Binding("s", "signatures", "Signatures", id="signatures"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.failed_only = True
        # what the rows were read for, and each attempt's row: (submitted_at, status, what it was built from,
        # its cells), newest first. A refresh reads only the attempts from the oldest still running (or else
        # the newest) on, and keeps the older rows: a new failure costs a small query, not 100,000 rows.
        self.read_for: tuple | None = None
        self.built: list[tuple[str, str, str, tuple, list]] = []

    def fetch(self) -> Page:
        engine = self.app.engine
        read_for = (self.failed_only, engine.rules_stamp())  # new rules classify every failure again
        failed = True if self.failed_only else None
        kept: list[tuple[str, str, str, tuple, list]] = []
        if read_for == self.read_for and self.built:
            running = [b[1] for b in self.built if b[2] == "running"]
            since = min([*running, self.built[0][1]])
            kept = [b for b in self.built if b[1] < since]
            records = engine.attempt_records(failed=failed, since=since)
        else:
            records = engine.attempt_records(failed=failed)
        if engine.rules_warning:
            self.app.call_from_thread(
                self.app.notify, engine.rules_warning, title="rules", severity="warning", markup=False
            )
        before = {b[0]: b for b in self.built} if kept or self.built else {}
        fresh = []
        for r in records:
            cat = r.get("category")
            source = (
                r["job_id"],
                cat,
                r.get("action"),
                r.get("evidence"),
                r.get("log_tail"),
                r.get("rule_id"),
                r["attempt"],
                r["status"],
            )
            last = before.get(r["run_id"])
            if last is not None and last[3] == source:
                cells = last[4]  # an attempt that has not changed keeps its row (and the grid its rendering)
            else:
                evidence = without_timestamp((r.get("evidence") or _last_line(r.get("log_tail"))).strip())
                cells = [
                    r["submitted_at"][5:16].replace("T", " "),
                    r["job_id"],
                    r["run_id"],
                    cat or "-",
                    r.get("action") or "-",
                    evidence[:400] or "-",
                    r.get("rule_id") or "-",
                    str(r["attempt"]),
                    status_label(r["status"]),
                ]
            fresh.append((r["run_id"], r["submitted_at"], r["status"], source, cells))
        built = fresh + kept  # both newest first, and every fresh one newer than every kept one
        # the cluster's own attempts: imported history is training data, listed by `autofix history`
        what = "Failed job attempts" if self.failed_only else "Job attempts"
        return Page([(b[0], b[4]) for b in built], what, {"built": built, "read_for": read_for})

    def action_signatures(self) -> None:
        from screens.views.signatures import SignaturesScreen

        self.app.push_screen(SignaturesScreen())

    def action_toggle_failed(self) -> None:
        self.failed_only = not self.failed_only
        self.view_changed()
