"""Dialogs the actions share: a confirmation (typing the target's name for destructive batch actions) and a
small form. Both are modal, keyboard-only, and return their answer through `dismiss`."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static
from textual.worker import Worker, WorkerState

from screens.widgets import ForwardWorkerErrors, safe_text


class ConfirmScreen(ModalScreen[bool]):
    """Yes/no; with `type_to_confirm`, the operator must type that text (k9s-style) before it says yes.

    Every confirmation starts on Cancel: `enter` right after the key that opened it never changes
    anything, `y` says yes (the dialog says so), and a cancel says that nothing changed — a dialog that
    closes without a word reads as done. `danger` only colours it."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel"),
        Binding("y", "yes", "Yes", id="yes"),
        Binding("n", "no", "No", id="no"),
    ]

    def __init__(self, title: str, body: str, type_to_confirm: str | None = None, danger: bool = True):
        super().__init__()
        self.title_text, self.body, self.expected, self.danger = title, body, type_to_confirm, danger

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Text(self.title_text, "bold red" if self.danger else "bold"))
            for line in self.body.splitlines():  # one line each: safe_text shows a newline as a symbol
                yield Static(safe_text(line))
            if self.expected:
                yield Label(Text.assemble("type ", (self.expected, "bold"), " to confirm, then enter"))
                yield Input(id="typed")
            else:
                yield Static(
                    Text.assemble(
                        ("y", "bold"),
                        " confirms · ",
                        ("n", "bold"),
                        ", ",
                        ("esc", "bold"),
                        " or ",
                        ("enter", "bold"),
                        " on Cancel: nothing changes",
                    ),
                    id="keys",
                )
            with Horizontal(classes="buttons"):
                yield Button(
                    "Confirm" if self.expected else "Confirm (y)",
                    variant="error" if self.danger else "primary",
                    id="yes",
                    disabled=bool(self.expected),
                )
                yield Button("Cancel (esc)" if self.expected else "Cancel (n, esc)", id="no")

    def on_mount(self) -> None:
        (self.query_one("#typed", Input) if self.expected else self.query_one("#no", Button)).focus()

    def action_yes(self) -> None:
        """`y` says yes, whichever button has the focus — except where the text must be typed."""
        if not self.expected:
            self.dismiss(True)

    def action_no(self) -> None:
        self._cancelled()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("yes", "no") and isinstance(self.focused, Input):
            return False  # in the box, `y` and `n` are letters of what is typed
        return True

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#yes", Button).disabled = event.value.strip() != self.expected

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.expected:
            self.dismiss(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self.dismiss(True)
        else:
            self._cancelled()

    def action_cancel(self) -> None:
        self._cancelled()

    def _cancelled(self) -> None:
        self.app.notify(f"{self.title_text.rstrip('?')}: cancelled, nothing changed", timeout=4, markup=False)
        self.dismiss(False)


class FormScreen(ForwardWorkerErrors, ModalScreen[dict | None]):
    """A few labelled inputs and checkboxes. Fields: (id, label, default); a bool default makes a checkbox."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel"), Binding("ctrl+o", "submit", "Submit", id="submit")]

    def __init__(
        self,
        title: str,
        fields: list[tuple[str, str, object]],
        note: str = "",
        type_to_confirm: str | None = None,
        check: Callable[[dict], str | None] | None = None,
    ):
        """`check(values)`: what is wrong with them (the dialog stays open and says so), or None. It runs
        in a worker thread: it may ask the engine."""
        super().__init__()
        self.title_text, self.fields, self.note, self.expected = title, fields, note, type_to_confirm
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Text(self.title_text, "bold"))
            if self.note:
                yield Static(safe_text(self.note, "dim"))
            for fid, label, default in self.fields:
                if isinstance(default, bool):
                    yield Checkbox(label, value=default, id=f"f-{fid}")
                else:
                    yield Label(label)
                    yield Input(str(default), id=f"f-{fid}")
            if self.expected:
                yield Label(Text.assemble("type ", (self.expected, "bold"), " to confirm"))
                yield Input(id="typed")
            yield Static("", id="problem")
            with Horizontal(classes="buttons"):
                yield Button("OK (ctrl+o)", variant="primary", id="ok", disabled=bool(self.expected))
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        first = self.query(Input).first() if self.query(Input) else None
        if first is not None:
            first.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "typed":
            self.query_one("#ok", Button).disabled = event.value.strip() != self.expected

    def _confirmed(self) -> bool:
        return not self.expected or self.query_one("#typed", Input).value.strip() == self.expected

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_submit() if event.button.id == "ok" else self.action_cancel()

    def action_submit(self) -> None:
        if not self._confirmed():  # ctrl+o or enter with the wrong text: say what it waits for
            self.query_one("#problem", Static).update(safe_text(f"type {self.expected} to confirm", "red"))
            return
        if self.query_one("#ok", Button).disabled:  # a check is running
            return
        values: dict[str, object] = {}
        for fid, _, _default in self.fields:
            widget = self.query_one(f"#f-{fid}")
            values[fid] = widget.value
        if self.check is None:
            self.dismiss(values)
            return
        self.query_one("#ok", Button).disabled = True  # one check at a time; OK again once it is back
        self._check(values)

    @work(thread=True, exclusive=True, group="check", exit_on_error=False)
    def _check(self, values: dict[str, object]) -> None:
        problem = self.check(values)
        self.app.call_from_thread(self._checked, values, problem)

    def _checked(self, values: dict[str, object], problem: str | None) -> None:
        if problem:
            self.query_one("#problem", Static).update(safe_text(problem, "red"))
            self.query_one("#ok", Button).disabled = not self._confirmed()
            return
        self.dismiss(values)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        super().on_worker_state_changed(event)  # the app's one handler says what went wrong
        if event.state == WorkerState.ERROR and event.worker.group == "check":
            self.query_one("#ok", Button).disabled = not self._confirmed()  # the operator may try again

    def action_cancel(self) -> None:
        self.dismiss(None)
