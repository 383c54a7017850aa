"""Drill-down screens: the YAML-like describe pane and the job log view. `esc` comes back."""
from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, RichLog, Static

from core.sanitize import strip_control
from screens.widgets import ForwardWorkerErrors


class DescribeScreen(ForwardWorkerErrors, Screen):
    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back", id="back")]

    def __init__(self, title: str, load: Callable[[], str]):
        super().__init__()
        self.title_text = title
        self.load = load

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(strip_control(self.title_text)), id="title")
        with VerticalScroll():
            yield Static("loading…", id="body")
        yield Footer()

    def on_mount(self) -> None:
        self._fetch()

    @work(thread=True, exit_on_error=False)
    def _fetch(self) -> None:
        text = self.load()
        # Text, not markup: whatever the cluster put in a field is shown as typed.
        self.app.call_from_thread(self.query_one("#body", Static).update, Text(strip_control(text)))


class LogScreen(ForwardWorkerErrors, Screen):
    """An attempt's whole log; the failure tail is highlighted. Text is written as data, never markup."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="back"),
        Binding("g", "top", "Top", id="top"),
        Binding("G", "bottom", "Bottom", key_display="G", id="bottom"),
    ]

    def __init__(self, run_id: str, load: Callable[[], tuple[str, str | None]]):
        super().__init__()
        self.run_id = run_id
        self.load = load

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(f"log of {strip_control(self.run_id)}"), id="title")
        yield RichLog(id="log", wrap=False, markup=False, highlight=False, max_lines=200_000)
        yield Footer()

    def on_mount(self) -> None:
        self._fetch()

    @work(thread=True, exit_on_error=False)
    def _fetch(self) -> None:
        text, tail = self.load()
        lines = strip_control(text).splitlines()
        tail_lines = set(strip_control(tail).splitlines()) if tail else set()
        rendered = [Text(line, style="bold red" if line in tail_lines else "") for line in lines]
        self.app.call_from_thread(self._show, rendered)

    def _show(self, lines: list[Text]) -> None:
        log = self.query_one(RichLog)
        for line in lines:
            log.write(line)
        log.scroll_end(animate=False)
        log.focus()

    def action_top(self) -> None:
        self.query_one(RichLog).scroll_home(animate=False)

    def action_bottom(self) -> None:
        self.query_one(RichLog).scroll_end(animate=False)
