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

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel")]

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
    """`?`: every key of the app and of the view below, each once, as bound now; then the views."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss_help", "Close", id="close_help")]
    COMPONENT_CLASSES = {"help--key", "help--title"}
    KEY_WIDTH = 16  # at most: a longer key list wraps in its column, never cut

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]):
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with Vertical():
            with VerticalScroll():
                for _ in self.sections:
                    yield Static(classes="help-section")

    def on_mount(self) -> None:
        self.render_sections()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.render_sections())

    def render_sections(self) -> None:
        """Built with the theme's styles (help--key, help--title in the .tcss): a theme change restyles it."""
        key_style = self.get_component_rich_style("help--key")
        title_style = self.get_component_rich_style("help--title")
        width = min(self.KEY_WIDTH, max((len(k) for _, rows in self.sections for k, _ in rows), default=1))
        for (title, rows), static in zip(self.sections, self.query(".help-section").results(Static), strict=True):
            table = Table(
                title=Text(title, title_style), title_justify="left", show_header=False, box=None, expand=True
            )
            table.add_column("key", style=key_style, width=width, overflow="fold")
            table.add_column("what", ratio=1, overflow="fold")
            for key, what in rows:
                table.add_row(Text(key), Text(what))
            static.update(table)

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
