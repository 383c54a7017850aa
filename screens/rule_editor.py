"""The new-rule dialog: from an unclassified signature, the console proposes a regex; the operator edits
it, sees how many past failures it would classify and whose place it takes, and saves it to the user
rule file (an audited change)."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from core.errors import ConsoleError
from core.taxonomy import ACTIONS, CATEGORIES
from screens.widgets import ForwardWorkerErrors, safe_text


class NewRuleScreen(ForwardWorkerErrors, ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel"), Binding("ctrl+o", "save", "Save", id="save")]

    def __init__(self, signature: str):
        super().__init__()
        self.signature = signature
        self.rule = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text.assemble(("New rule from signature\n", "bold"), safe_text(self.signature, "yellow")))
            yield Label("id")
            yield Input(id="rule-id")
            with Horizontal(id="choices"):
                yield Select([(c, c) for c in CATEGORIES], value="user_code_error", allow_blank=False, id="category")
                yield Select(
                    [(a, a) for a in ACTIONS], value=CATEGORIES["user_code_error"], allow_blank=False, id="action"
                )
            yield Label("pattern (a Python regex matched line by line)")
            yield Input(id="pattern")
            yield Static("computing what it would match…", id="preview")
            with Horizontal(id="buttons"):
                yield Button("Save (ctrl+o)", variant="primary", id="save")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self._draft({}, initial=True)

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.rule is not None:
            self._redraft()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "category" and self.rule is not None:
            self.query_one("#action", Select).value = CATEGORIES[str(event.value)]
        if self.rule is not None:
            self._redraft()

    def _redraft(self) -> None:
        self.query_one("#save", Button).disabled = True  # until the preview of what is typed is back
        self._draft(
            {
                "rule_id": self.query_one("#rule-id", Input).value or None,
                "category": str(self.query_one("#category", Select).value),
                "action": str(self.query_one("#action", Select).value),
                "pattern": self.query_one("#pattern", Input).value,
            }
        )

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False)
    def _draft(self, kw: dict, initial: bool = False) -> None:
        engine = self.app.engine
        try:
            rule = engine.draft_rule(self.signature, **kw)
            preview = engine.preview_rule(rule)
        except ConsoleError as e:
            self.app.call_from_thread(self._show_error, str(e))
            return
        self.app.call_from_thread(self._show, rule, preview, initial)

    def _show(self, rule, preview: dict, initial: bool) -> None:
        if initial:
            self.query_one("#rule-id", Input).value = rule.id
            self.query_one("#pattern", Input).value = rule.patterns[0]
        self.rule = rule
        shadows = ", ".join(f"{k} ({v})" for k, v in preview["shadows"].items()) or "no rule"
        kept = ", ".join(f"{k} ({v})" for k, v in preview["kept_by_earlier_user_rules"].items())
        text = Text.assemble(
            ("would classify ", ""),
            (f"{preview['matches']}", "bold"),
            f" of {preview['failures']} past failures\n",
            "takes the place of: ",
            (shadows, "yellow" if preview["shadows"] else "green"),
        )
        if kept:
            text.append(f"\nleft to earlier user rules: {kept}")
        self.query_one("#preview", Static).update(text)
        self.query_one("#save", Button).disabled = False

    def _show_error(self, message: str) -> None:
        self.query_one("#preview", Static).update(safe_text(message, "bold red"))
        self.query_one("#save", Button).disabled = True

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_save() if event.button.id == "save" else self.action_cancel()

    def action_save(self) -> None:
        if self.rule is not None and not self.query_one("#save", Button).disabled:
            self._save(self.rule)

    @work(thread=True, exclusive=True, group="save", exit_on_error=False)
    def _save(self, rule) -> None:
        try:
            self.app.engine.add_rule(rule)
        except ConsoleError as e:
            self.app.call_from_thread(self._show_error, str(e))
            return
        self.app.call_from_thread(
            self.app.notify, f"rule {rule.id} saved to {self.app.engine.rules_file()}", markup=False
        )
        self.app.call_from_thread(self.dismiss, rule.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
