"""The Ops view: multi-step operations to resume, pause or roll back."""

from __future__ import annotations

from textual.binding import Binding

from screens.base import Row, ViewScreen
from screens.describe import describe
from screens.grid import Column
from screens.views.common import op_summary as _op_summary


class OpsScreen(ViewScreen):
    """Multi-step operations (pool config changes, rollouts): their exact state, resume, roll back, pause."""

    VIEW = "ops"
    TITLE = "Operations"
    COLUMNS = (
        Column("ID", 1, max=14),
        Column("KIND", 1),
        Column("TARGET", 1, min=12, max=40, shorten="middle"),
        Column("STATE", 1, min=6, style=lambda t: OpsScreen.STATES.get(t, "")),
        Column("PROGRESS", 2, max=40),
        Column("USER", 3, max=20),
        Column("UPDATED", 4),
        Column("ERROR", 3, min=10, flex=True, style=lambda _: "red"),
    )
    BINDINGS = [
        Binding("R", "resume", "Resume", key_display="R", id="resume"),
        Binding("b", "rollback", "Rollback", id="rollback"),
        Binding("p", "pause", "Pause", id="pause"),
    ]
    ROLE_ACTIONS = {"resume": "op-resume-rollout", "rollback": "op-rollback", "pause": "op-pause"}
    STATES = {
        "interrupted": "bold yellow",
        "failed": "bold red",
        "running": "cyan",
        "paused": "yellow",
        "done": "green",
        "rolled_back": "dim",
    }

    def fetch(self) -> list[Row]:
        ops = self.app.engine.operations()
        return [
            (
                o["id"],
                [
                    o["id"],
                    o["kind"],
                    o["target"],
                    o["state"],
                    ", ".join(f"{k} {v}" for k, v in o["progress"].items()),
                    o["user"],
                    o["updated_at"].replace("T", " ")[:19],
                    o["error"] or "",
                ],
            )
            for o in ops
        ]

    def describe(self, key: str) -> str:
        return describe(self.app.engine.operation(key))

    def action_resume(self) -> None:
        key = self.selected_key()
        if key:
            self.perform(f"resume {key}", lambda: _resumed(self.app.engine.op_resume(key)))

    def action_pause(self) -> None:
        key = self.selected_key()
        if key:
            self.perform(f"pause {key}", lambda: _op_summary(self.app.engine.op_pause(key)))

    def action_rollback(self) -> None:
        key = self.selected_key()
        if key:
            self.gather(
                lambda: self.app.engine.operation(key)["target"], lambda target: self._ask_rollback(key, target)
            )

    def _ask_rollback(self, key: str, target: str) -> None:
        from screens.dialogs import ConfirmScreen

        self.app.push_screen(
            ConfirmScreen(
                f"Roll back operation {key} on {target}?",
                "every step it made is undone, newest first (each audited)",
                type_to_confirm=target.split("/", 1)[-1],
            ),
            lambda ok: ok and self.perform(f"rollback {key}", lambda: _op_summary(self.app.engine.op_rollback(key))),
        )


def _resumed(op: dict) -> str:
    """A rollout resumed stops again at its manual gate, where it was: say so, and what moves it on (a resume
    does not promote — a gate that waits for a person is passed by a person's promote)."""
    if op["kind"] == "rollout" and op["state"] == "paused":
        weight = op["steps"][min(op["position"], len(op["steps"]) - 1)]["weight"]
        return f"operation {op['id']} paused at {weight}% until promoted: p in :rollouts promotes it a step"
    return _op_summary(op)
