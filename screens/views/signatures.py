"""The unclassified failure signatures, and new rules from them."""

from __future__ import annotations

from textual.binding import Binding

from screens.base import Page, ViewScreen
from screens.describe import describe
from screens.grid import Column


class SignaturesScreen(ViewScreen):
    """Unclassified failures grouped by normalised signature; `n` turns one into a rule."""

    VIEW = "signatures"
    TITLE = "Unclassified signatures"
    COLUMNS = (
        Column("#", 1, align="right"),
        Column("COUNT", 1, align="right"),
        Column("LAST SEEN", 3),
        Column("JOBS", 4, max=40),
        Column("SIGNATURE", 1, min=20, flex=True),
    )
    BINDINGS = [Binding("n", "new_rule", "New rule", id="new_rule")]

    def __init__(self) -> None:
        super().__init__()
        self.groups: dict[str, dict] = {}

    def fetch(self) -> Page:
        groups = {g["signature"]: g for g in self.app.engine.signatures()}
        return Page(
            [
                (
                    sig,
                    [
                        str(n),
                        str(g["count"]),
                        g["last_seen"][:16].replace("T", " "),
                        ", ".join(g["jobs"][:3]) + (" …" if len(g["jobs"]) > 3 else ""),
                        sig,
                    ],
                )
                for n, (sig, g) in enumerate(groups.items(), start=1)
            ],
            f"Unclassified signatures ({sum(g['count'] for g in groups.values())} failures)",
            {"groups": groups},
        )

    def describe(self, key: str) -> str:
        g = self.groups[key]
        return describe(
            {k: g[k] for k in ("signature", "count", "jobs", "last_seen", "example", "regex")}
            | {"run_ids": g["run_ids"][:20]}
        )

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "new_rule" and self.app.engine.read_only:
            return False  # read-only: the action is not offered at all
        return True

    def action_new_rule(self) -> None:
        key = self.selected_key()
        if key is None or self.app.engine.read_only:
            return
        from screens.rule_editor import NewRuleScreen

        def saved(rule_id: str | None) -> None:
            if rule_id:
                self.refresh_data(force=True)

        self.app.push_screen(NewRuleScreen(key), saved)
