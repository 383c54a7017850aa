"""Modal overlays: the `:` command line and the `?` help."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class CommandLine(ModalScreen[str | None]):
    """k9s's `:` prompt. Returns the typed command, or None on esc."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, views: dict[str, tuple[str, ...]]):
        super().__init__()
        self.views = views

    def compose(self) -> ComposeResult:
        names = "  ".join(f":{v}" for v in self.views)
        yield Static(Text(f"views: {names}   :q quit"), id="hint")
        yield Input(placeholder=":", id="command", select_on_focus=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_key(self, event: events.Key) -> None:
        """Keys typed right after `:` (a fast typist, a paste, tmux send-keys) can arrive before the input
        has focus: they are the command all the same."""
        box = self.query_one(Input)
        if box.has_focus:
            return
        if event.character and event.is_printable:
            box.insert_text_at_cursor(event.character)
        elif event.key == "enter":
            self.dismiss(box.value.strip().lstrip(":"))
        else:
            return
        event.stop()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip().lstrip(":"))

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss_help", "Close")]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]):
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with Vertical():
            with VerticalScroll():
                for title, rows in self.sections:
                    table = Table(title=title, title_justify="left", show_header=False, box=None, expand=True)
                    table.add_column("key", style="bold cyan", no_wrap=True, width=14)
                    table.add_column("what")
                    for key, what in rows:
                        table.add_row(Text(key), Text(what))
                    yield Static(table)

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
