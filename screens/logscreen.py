"""The log screen: the log view with its search box, status line and keys; opened by `l`."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Header, Input, Static

from core.sanitize import visible_control
from screens.footer import KeyFooter
from screens.logsource import LineSource
from screens.logview import SEARCH_PROMPT, LogView
from screens.widgets import ForwardWorkerErrors


class LogScreen(ForwardWorkerErrors, Screen):
    """An attempt's whole log (or any line source): opened at the evidence line, which is highlighted.
    `load` runs in a worker and returns the source and the evidence line (None when there is none)."""

    BINDINGS = [
        Binding("escape,q", "back", "Back", id="back"),
        # priority: taken when typed, so that the keys after it are the search's, not the view's commands
        Binding("slash", "search", "Search", key_display="/", id="log_search", priority=True),
        Binding("n", "next_match", "Next", id="log_next_match"),
        Binding("N", "prev_match", "Prev", key_display="N", id="log_prev_match"),
        Binding("left_square_bracket", "prev_evidence", "Evidence↑", key_display="[", id="log_prev_evidence"),
        Binding("right_square_bracket", "next_evidence", "Evidence↓", key_display="]", id="log_next_evidence"),
        Binding("w", "wrap", "Wrap", id="log_wrap"),
        Binding("f", "follow", "Follow", id="log_follow"),
        Binding("g", "top", "Top", id="log_top"),
        Binding("G", "bottom", "Bottom", key_display="G", id="log_bottom"),
    ]
    # `?` (screens/overlays.py): this view's name, and the keys the log itself takes
    HELP_NAME = "log"
    HELP_SECTION = (
        "Scrolling",
        [("↑ ↓ j k", "a line"), ("pgup pgdn", "a page"), ("← →", "sideways, when lines are cut (w)")],
    )

    def __init__(self, title: str, load: Callable[[], tuple[LineSource, str | None]], at: str = "evidence"):
        super().__init__()
        self.title_text = title
        self.load = load
        self.at = at
        self.has_evidence = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(visible_control(self.title_text)), id="title")
        yield LogView(id="log")
        yield Input(placeholder=SEARCH_PROMPT, id="search")
        yield Static("loading…", id="status")
        yield KeyFooter()

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        self.view.focus()
        self._load()

    @work(thread=True, exit_on_error=False)
    def _load(self) -> None:
        source, evidence = self.load()
        self.app.call_from_thread(self._show, source, evidence)

    def _show(self, source: LineSource, evidence: str | None) -> None:
        self.view.show_source(source, evidence, self.at)
        self.has_evidence = self.view.evidence is not None
        self.refresh_bindings()

    def on_log_view_changed(self, event: LogView.Changed) -> None:
        self.query_one("#status", Static).update(Text(self.view.status()))

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "search" and isinstance(self.focused, Input):
            return False  # a `/` typed into the box is text
        if action in ("prev_evidence", "next_evidence") and not self.has_evidence:
            return False
        return True

    def action_back(self) -> None:
        box = self.query_one("#search", Input)
        if box.has_class("visible"):
            box.remove_class("visible")
            box.value = ""
            self.view.focus()
            return
        self.app.pop_screen()

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.add_class("visible")
        box.value = ""
        self.set_focus(box)  # now, not after the keys already typed: they are the search's

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "search":
            return
        event.input.remove_class("visible")
        self.set_focus(self.view)
        if event.value:
            self.view.search(event.value)
        elif not self.view.next_match():  # enter on an empty box: the last search again, as less does
            self.notify("nothing to search for", markup=False, timeout=2)

    def action_next_match(self) -> None:
        if not self.view.next_match():
            self.notify("no search yet: / to search", markup=False, timeout=3)

    def action_prev_match(self) -> None:
        if not self.view.next_match(backward=True):
            self.notify("no search yet: / to search", markup=False, timeout=3)

    def action_next_evidence(self) -> None:
        self.view.next_evidence()

    def action_prev_evidence(self) -> None:
        self.view.next_evidence(backward=True)

    def action_wrap(self) -> None:
        self.view.toggle_wrap()

    def action_follow(self) -> None:
        self.view.toggle_follow()

    def action_top(self) -> None:
        self.view.action_scroll_home()

    def action_bottom(self) -> None:
        self.view.action_scroll_end()
