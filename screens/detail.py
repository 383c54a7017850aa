"""The drill-down describe pane (YAML-like). `esc` comes back. The log view is screens/logview.py."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from core.sanitize import visible_control
from screens.footer import KeyFooter
from screens.widgets import ForwardWorkerErrors


class DescribeScreen(ForwardWorkerErrors, Screen):
    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back", id="back")]

    def __init__(self, title: str, load: Callable[[], str]):
        super().__init__()
        self.title_text = title
        self.load = load

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(visible_control(self.title_text)), id="title")
        with VerticalScroll():
            yield Static("loading…", id="body")
        yield KeyFooter()

    def on_mount(self) -> None:
        self._fetch()

    @work(thread=True, exit_on_error=False)
    def _fetch(self) -> None:
        text = self.load()
        # Text, not markup: whatever the cluster put in a field is shown as typed.
        self.app.call_from_thread(self._show, Text(visible_control(text)))

    def _show(self, text: Text) -> None:
        self.query_one("#body", Static).update(text)
