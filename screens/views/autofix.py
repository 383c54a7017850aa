"""The Autofix view: the approval queue of suggested retries."""

from __future__ import annotations

from textual.binding import Binding

from core.errors import ConsoleError
from core.types import probability_text
from screens.base import Page
from screens.describe import describe
from screens.grid import Column
from screens.views.jobs import CATEGORY_STYLES, AttemptsView
from screens.widgets import counted, status_label, status_style


class AutofixScreen(AttemptsView):
    """The approval queue: `a` approves (the retry goes to the backend, audited), `e` edits its config,
    `x` rejects with a reason; `enter` shows the failure, evidence, diff, alternatives and model."""

    VIEW = "autofix"
    TITLE = "Autofix queue"
    # the change last: it is the long one, and P(OK), cost and status must stay in view at 120 columns
    COLUMNS = (
        # what is proposed, and how sure: the failure, the action and its change before the run's id
        Column("ID", 1, align="right"),
        Column("JOB", 1, min=14, max=32, shorten="middle"),
        Column("RUN", 5, max=28, shorten="middle"),
        Column("CATEGORY", 1, min=10, max=24, style=lambda t: CATEGORY_STYLES.get(t, "")),
        Column("ACTION", 2, min=8, max=22),
        Column("P(OK)", 2, align="right"),
        Column("COST", 3, align="right"),
        Column("STATUS", 2, min=8, max=30, style=status_style),
        Column("MODEL", 6, style=lambda _: "dim"),
        Column("CHANGE", 2, min=12, flex=True),
    )
    BINDINGS = [
        Binding("a", "approve", "Approve", id="approve"),
        Binding("e", "edit", "Edit", id="edit"),
        Binding("x", "reject", "Reject", id="reject"),
        Binding("h", "toggle_history", "Decided", id="toggle_history"),
        Binding("T", "train", "Train on sim", id="train"),
    ]
    ROLE_ACTIONS = {"approve": "approve", "edit": "edit", "reject": "reject", "train": "recommender-train"}

    def __init__(self) -> None:
        super().__init__()
        self.everything = False
        self.items: dict[str, object] = {}

    def fetch(self) -> Page:
        # a read: the app's reconcile (console/app.py) is what fills the queue, on its own schedule
        engine = self.app.engine
        items = engine.autofix_queue(self.everything)
        new, waiting = engine.failures_to_queue()
        pending = sum(s.status == "pending" for s in items)
        notes = [f"{pending} pending"]
        if waiting:
            notes.append(f"{waiting} wait for a trained recommender (T trains one)")
        if new - waiting:
            notes.append(f"{counted(new - waiting, 'new failure')} queued at the next reconcile")
        if engine.read_only:
            notes.append("read-only")
        title = "Autofix queue" + (" (with decided)" if self.everything else "") + ": " + ", ".join(notes)
        return Page(
            [
                (
                    str(s.id),
                    [
                        str(s.id),
                        s.job_id,
                        s.run_id,
                        s.category,
                        s.action,
                        "-" if s.p_success is None else probability_text(s.p_success),
                        "-" if s.cost_increase is None else f"{s.cost_increase:+.0%}",
                        status_label(s.status if not s.outcome else f"{s.status}: {s.outcome}"),
                        "v" + s.model.rsplit(":", 1)[-1] if s.model else "-",
                        s.change.replace("\n", " ") or "-",
                    ],
                )
                for s in items
            ],
            title,
            {"items": {str(s.id): s for s in items}},
        )

    def describe(self, key: str) -> str:
        return describe(self.app.engine.suggestion(key).to_dict())

    def action_log(self) -> None:
        s = self.items.get(self.selected_key() or "")
        if s is not None:
            self.app.open_log(s.run_id)

    def action_train(self) -> None:
        self.perform(
            "train the recommender on the simulator's Spark world (about 20 s)",
            lambda: f"retry-recommender v{self.app.engine.train_on_world()['version']} registered",
        )

    def action_toggle_history(self) -> None:
        self.everything = not self.everything
        self.view_changed()

    def _pending(self):
        s = self.items.get(self.selected_key() or "")
        if s is None:
            return None
        if s.status != "pending":
            self.app.notify(f"suggestion {s.id} is already {s.status}", severity="warning", markup=False)
            return None
        return s

    def action_approve(self) -> None:
        s = self._pending()
        if s is None:
            return
        why = s.not_approvable
        if why:
            # the engine refuses these (doomed; a config change nobody suggested): no dialog to confirm what
            # will not run, and the remedy named by its key here (the engine's message names the CLI's command)
            own = " to retry with a config of your own" if s.action == "no_retry" else ""
            self.app.notify(
                f"suggestion {s.id}: {why}. Press e to edit its config{own}, or x to reject it",
                title="not approved",
                severity="warning",
                timeout=10,
                markup=False,
            )
            return
        from screens.dialogs import ConfirmScreen

        p = "" if s.p_success is None else f"P(success) {probability_text(s.p_success)}"
        cost = "" if s.cost_increase is None else f", cost {s.cost_increase:+.0%} vs. the failed config"
        body = (
            f"{s.job_id}: retry {s.run_id} ({s.category})\n"
            + (
                "\n".join(f"  {k}: {old or '(default)'} → {new or '(default)'}" for k, old, new in s.diff())
                or "  same config"
            )
            + (f"\n{p}{cost}" if p else "")
            + (f"\n{s.note}" if s.note else "")
        )

        def go(yes: bool | None) -> None:
            if yes:
                self.perform(f"approve {s.id}", lambda: f"retry {self.app.engine.approve(s.id).retry_run_id} submitted")

        self.app.push_screen(ConfirmScreen(f"Approve suggestion {s.id}?", body, danger=False), go)

    def action_edit(self) -> None:
        s = self._pending()
        if s is None:
            return
        from screens.dialogs import FormScreen

        current = " ".join(f"{k}={v}" for k, v in sorted(s.conf.items()) if v is not None)

        def go(values: dict | None) -> None:
            if values is None:
                return
            words = str(values["changes"]).split()
            self.perform(f"edit {s.id}", lambda: _edited(self.app.engine.edit_suggestion(s.id, words)))

        def problem(values: dict) -> str | None:
            try:
                self.app.engine.check_edit(s.id, str(values["changes"]).split())
            except ConsoleError as e:
                return str(e)
            return None

        self.app.push_screen(
            FormScreen(
                f"Edit the retry config of suggestion {s.id}",
                [("changes", "key=value … (key- drops a key)", current)],
                note=f"now: {s.change or 'same config'}; the edit is re-scored and stays pending",
                check=problem,
            ),
            go,
        )

    def action_reject(self) -> None:
        s = self._pending()
        if s is None:
            return
        from screens.dialogs import FormScreen

        def go(values: dict | None) -> None:
            if values is None:
                return
            reason = str(values["reason"])
            self.perform(f"reject {s.id}", lambda: self.app.engine.reject(s.id, reason).status)

        self.app.push_screen(
            FormScreen(
                f"Reject suggestion {s.id} ({s.run_id})",
                [("reason", "why (kept with the decision)", "")],
                check=lambda v: None if str(v["reason"]).strip() else "a rejection needs a reason",
            ),
            go,
        )


def _edited(s) -> str:
    p = "" if s.p_success is None else f"; P(success) {probability_text(s.p_success)}"
    return f"{s.change or 'same config'}{p}"
