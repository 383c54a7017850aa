"""The Audit view: verify the chain, roll back a change."""

from __future__ import annotations

from textual.binding import Binding

from core.types import object_name
from screens.base import Page, ViewScreen
from screens.describe import describe_change
from screens.grid import Column
from screens.widgets import counted

AUDIT_ROWS = 100_000  # newest events listed
STAGE_STYLES = {"Failed": "red", "RequestReceived": "dim"}


class AuditScreen(ViewScreen):
    VIEW = "audit"
    TITLE = "Audit trail"
    COLUMNS = (
        Column("SEQ", 1, align="right"),
        Column("TIME", 1),
        Column("USER", 2, max=24),
        Column("VERB", 1, max=20),
        Column("OBJECT", 1, min=12, flex=True, shorten="middle"),
        Column("STAGE", 2, style=lambda t: STAGE_STYLES.get(t, "")),
        Column("AUDIT ID", 4),
    )

    def __init__(self) -> None:
        super().__init__()
        # the last verdict: each refresh checks only the records added since (a whole walk of 500,000 stalls
        # the keyboard); `v` walks it all again
        self.verdict = None

    BINDINGS = [Binding("b", "rollback", "Rollback", id="rollback"), Binding("v", "verify", "Verify", id="verify")]
    ROLE_ACTIONS = {"rollback": "audit-rollback"}

    def fetch(self) -> Page:
        engine = self.app.engine
        v = engine.audit_verify(since=self.verdict)
        total = engine.audit_count()
        return Page(
            [
                (
                    str(e.seq),
                    [
                        str(e.seq),
                        e.timestamp.replace("T", " ")[:19],
                        e.user,
                        e.verb,
                        object_name(e.object_ref),
                        e.stage,
                        e.audit_id[:8],
                    ],
                )
                for e in engine.audit_events(limit=AUDIT_ROWS)
            ],
            (
                "Audit trail — chain verified: " + counted(v.events, "event")
                if v.ok
                else f"Audit trail — CHAIN BROKEN at seq {v.first_bad}: {v.reason}"
            )
            + (f" (the newest {AUDIT_ROWS:,} shown: `audit list` has all)" if total > AUDIT_ROWS else ""),
            {"verdict": v},
        )

    def describe(self, key: str) -> str:
        return describe_change(self.app.engine.change_details(key))

    def action_verify(self) -> None:
        """Verify the chain now and say what it found (the title says it too, after the refresh)."""
        self.gather(self.app.engine.audit_verify, self._verified)

    def _verified(self, v) -> None:  # a core.audit.Verdict
        if v.ok:
            self.app.notify(f"audit chain verified: {counted(v.events, 'event')}", title="verify", markup=False)
        else:
            self.app.notify(
                f"CHAIN BROKEN at seq {v.first_bad}: {v.reason}",
                title="verify",
                severity="error",
                timeout=15,
                markup=False,
            )
        self.verdict = v
        self.refresh_data(force=True)

    def action_rollback(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.gather(lambda: self.app.engine.audit_show(key), lambda events: self._ask_rollback(key, events))

    def _ask_rollback(self, key: str, events: list) -> None:
        what = f"{events[0].verb} of {object_name(events[0].object_ref)}"
        from screens.dialogs import ConfirmScreen

        def go(ok: bool, force: bool = False) -> None:
            if ok:
                self.perform(f"rollback of {what}", lambda: self._rollback(key, force, what))

        self.app.push_screen(
            ConfirmScreen(
                f"Roll back the {what}?", "writes the object back as it was before this change (itself audited)"
            ),
            go,
        )

    def _rollback(self, key: str, force: bool, what: str) -> str:
        from core.errors import Conflict

        try:
            r = self.app.engine.audit_rollback(key, force=force)
        except Conflict as e:
            self.app.call_from_thread(self._offer_force, key, str(e), what)
            return "refused"
        return f"restored {r['resource']} {r['name']}"

    def _offer_force(self, key: str, reason: str, what: str) -> None:
        from screens.dialogs import ConfirmScreen

        self.app.push_screen(
            ConfirmScreen("Roll back anyway?", reason, type_to_confirm="force"),
            lambda ok: ok and self.perform(f"forced rollback of {what}", lambda: self._rollback(key, True, what)),
        )
