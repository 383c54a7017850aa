"""Drill-down screens: the YAML-like describe pane and the job log view. `esc` comes back."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, RichLog, Static

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


class LogScreen(ForwardWorkerErrors, Screen):
    """An attempt's whole log, opened at the evidence line, which is highlighted. Text is written as data,
    never markup, with control characters made visible."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="back"),
        Binding("g", "top", "Top", id="top"),
        Binding("G", "bottom", "Bottom", key_display="G", id="bottom"),
        Binding("e", "evidence", "Evidence", id="evidence"),
    ]

    def __init__(self, run_id: str, load: Callable[[], tuple[str, str | None]]):
        """`load` returns the log text and the evidence line (None when there is none)."""
        super().__init__()
        self.run_id = run_id
        self.load = load
        self.evidence_at: int | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(f"log of {visible_control(self.run_id)}"), id="title")
        yield RichLog(id="log", wrap=False, markup=False, highlight=False, max_lines=200_000)
        yield KeyFooter()

    def on_mount(self) -> None:
        self._fetch()

    @work(thread=True, exit_on_error=False)
    def _fetch(self) -> None:
        text, evidence = self.load()
        lines = visible_control(text).splitlines()
        target = visible_control(evidence).strip() if evidence else None
        at = None
        if target:  # the last occurrence: the failure is at the end of a log
            at = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].strip() == target), None)
        rendered = [Text(line, style="bold white on dark_red" if i == at else "") for i, line in enumerate(lines)]
        self.app.call_from_thread(self._show, rendered, at)

    def _show(self, lines: list[Text], at: int | None) -> None:
        log = self.query_one(RichLog)
        for line in lines:
            log.write(line)
        self.evidence_at = at
        log.focus()
        self.call_after_refresh(self.action_evidence)

    def action_evidence(self) -> None:
        log = self.query_one(RichLog)
        if self.evidence_at is None:
            log.scroll_end(animate=False)
        else:  # a few lines of what led to it above
            log.scroll_to(y=max(0, self.evidence_at - 5), animate=False)

    def action_top(self) -> None:
        self.query_one(RichLog).scroll_home(animate=False)

    def action_bottom(self) -> None:
        self.query_one(RichLog).scroll_end(animate=False)
