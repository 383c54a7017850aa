"""The table view every resource screen is: rows fetched in a worker thread, `/` filter, `enter` describe."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static, TextArea

from screens.footer import KeyFooter
from screens.widgets import ForwardWorkerErrors, KeyedTable, cell_signature, safe_text

Row = tuple[str, list[Any]]  # (row key, cells)
T = TypeVar("T")


@dataclass
class Page:
    """What a view's fetch() gathers in its worker thread. The UI thread adopts it: the rows, the title, and
    `keep` — attributes the view holds beside its rows (the suggestions by id, the pools' configs), set
    there so that no worker thread writes a screen's state."""

    rows: list[Row]
    title: str | None = None
    keep: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Shown:
    """A row as the table shows it, prepared in the worker: its cells made safe Text, what they show (for
    the table's comparison), and the text the filter searches. `source` is the cells list fetch() gave:
    a view that hands back the same list for an unchanged row gets this back as it was, for nothing."""

    key: str
    source: list[Any]
    cells: list[Text]
    signature: tuple
    haystack: str


class ViewScreen(ForwardWorkerErrors, Screen):
    """Subclasses set VIEW, TITLE, COLUMNS and implement fetch() (runs in a thread) and describe()."""

    VIEW = ""
    TITLE = ""
    COLUMNS: tuple[str, ...] = ()
    #: screen action -> the engine action it performs (Engine.actions()); the footer and palette hide what
    #: the operator may not do
    ROLE_ACTIONS: dict[str, str] = {}
    MARKABLE = False  # `space` marks rows for a batch action
    BINDINGS = [
        # priority: taken when typed, before the keys after it are handed to the table, where a letter is a
        # command (`/cordon` typed fast would cordon the selected node); not inside a text box, where `/` is text
        Binding("slash", "filter", "Filter", key_display="/", id="filter", priority=True),
        Binding("enter", "describe", "Describe", id="describe"),
        Binding("escape", "back", "Back", id="back"),
        Binding("ctrl+r", "refresh_now", "Refresh", show=False, id="refresh"),
        Binding("space", "mark", "Mark", id="mark"),
        Binding("j", "cursor('down')", "Down", show=False, id="down"),
        Binding("k", "cursor('up')", "Up", show=False, id="up"),
        # the table's own home/end scroll sideways and leave the cursor: the first and last row, as k9s
        Binding("g,home", "cursor('first')", "First", show=False, id="first", priority=True),
        Binding("G,end", "cursor('last')", "Last", show=False, id="last", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[_Shown] = []
        self.filter_text = ""
        self.loaded = False
        self.marked: set[str] = set()
        self._mounted = False
        self._asked = 0  # the newest refresh asked for: an older one's rows, arriving late, are dropped

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static(self.TITLE, id="status")
            yield KeyedTable(*self.COLUMNS, id="table", cursor_type="row", zebra_stripes=True)
            yield from self.compose_extra()
        yield Input(placeholder="filter (esc clears)", id="filter")
        yield KeyFooter()

    def compose_extra(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self._mounted = True
        self.refresh_data()

    def on_screen_resume(self) -> None:
        if self.loaded:
            self.refresh_data()

    @property
    def table(self) -> KeyedTable:
        return self.query_one(KeyedTable)

    # -- data ----------------------------------------------------------------------------------
    def fetch(self) -> Page | list[Row]:
        """Runs in a worker thread: read through the engine, return the rows; write no screen state."""
        raise NotImplementedError

    def describe(self, key: str) -> str:
        raise NotImplementedError

    def refresh_data(self) -> None:
        if not self._mounted:  # the app's refresh loop can reach a view before it is built
            return
        self._asked += 1
        self._load(self._asked)

    @work(thread=True, exclusive=True, group="refresh", exit_on_error=False)
    def _load(self, asked: int) -> None:
        page = self.fetch()
        if not isinstance(page, Page):
            page = Page(page)
        before = {r.key: r for r in self.rows}  # read here; only the UI thread replaces it
        shown = []
        for key, cells in page.rows:
            last = before.get(key)
            if last is not None and last.source is cells:
                shown.append(last)
                continue
            texts = [c if isinstance(c, Text) else safe_text(c) for c in cells]
            shown.append(
                _Shown(key, cells, texts, tuple(map(cell_signature, texts)), " ".join(t.plain for t in texts).lower())
            )
        self.app.call_from_thread(self._adopt, asked, page, shown)

    def _adopt(self, asked: int, page: Page, shown: list[_Shown]) -> None:
        if asked != self._asked:
            return
        for name, value in page.keep.items():
            setattr(self, name, value)
        if page.title is not None:
            self.TITLE = page.title
        self.rows = shown
        self.loaded = True
        self._render_rows()
        self.rows_shown()
        self.app.data_shown()  # type: ignore[attr-defined]  # ConsoleApp's: the first view's data is up

    def rows_shown(self) -> None:
        """After new rows are shown: for views that show more than the table."""

    def _render_rows(self) -> None:
        table = self.table
        needle = self.filter_text.lower()
        rows = []
        for r in self.rows:
            if needle and needle not in r.haystack:
                continue
            if self.MARKABLE:
                mark = "● " if r.key in self.marked else "  "
                rows.append(
                    (
                        r.key,
                        [Text.assemble((mark, "bold yellow"), r.cells[0]), *r.cells[1:]],
                        ((mark, r.signature[0]), *r.signature[1:]),
                    )
                )
            else:
                rows.append((r.key, r.cells, r.signature))
        table.sync(rows)
        flt = f"  filter: {self.filter_text!r}" if self.filter_text else ""
        flt += f"  marked: {len(self.marked)}" if self.marked else ""
        self.query_one("#status", Static).update(
            Text(f"{self.TITLE} — {len(rows)} of {len(self.rows)}{flt}", no_wrap=True, overflow="ellipsis")
        )

    def selected_key(self) -> str | None:
        table = self.table
        return table.key_at(table.cursor_row) if table.row_count else None

    def gather(self, load: Callable[[], T], then: Callable[[T], None]) -> None:
        """Read what an action needs (`load`, engine calls) in a worker; hand it to `then` on the UI thread."""
        self._gather(load, then)

    @work(thread=True, group="gather", exit_on_error=False)
    def _gather(self, load: Callable[[], T], then: Callable[[T], None]) -> None:
        result = load()
        self.app.call_from_thread(then, result)

    # -- actions -------------------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("visible")
        box.value = self.filter_text
        # now, not after the keys already typed: they are the filter's (Widget.focus would wait for them)
        self.set_focus(box)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter_text = event.value
            self._render_rows()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            event.input.remove_class("visible")
            self.set_focus(self.table)

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_class("visible") or self.filter_text:
            box.remove_class("visible")
            box.value = ""
            self.filter_text = ""
            self._render_rows()
            self.set_focus(self.table)
            return
        stack = self.app.screen_stack
        if len(stack) > 1 and stack[-1] is self and stack[0] is not self:
            self.app.pop_screen()  # a pushed view (e.g. signatures) goes back to the one below
        else:
            self.app.action_back()

    # -- actions that change things ------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "filter" and isinstance(self.focused, (Input, TextArea)):
            return False  # a `/` typed into a text box is text
        if (
            action == "cursor"
            and parameters
            and parameters[0] in ("first", "last")
            and isinstance(self.focused, (Input, TextArea))
        ):
            return False  # in a text box, home and end (and g, G) are the box's
        needs = self.ROLE_ACTIONS.get(action)
        if needs is not None and not self.app.engine.can(needs):
            return False  # not offered at all: hidden from the footer, the palette and the keys
        if action == "mark" and not self.MARKABLE:
            return False
        return True

    def targets(self) -> list[str]:
        """The marked rows, or else the selected one."""
        if self.marked:
            return sorted(self.marked)
        key = self.selected_key()
        return [key] if key is not None else []

    def action_mark(self) -> None:
        key = self.selected_key()
        if key is None:
            return
        self.marked.symmetric_difference_update({key})
        self._render_rows()
        self.table.action_cursor_down()

    def perform(self, label: str, change: Callable[[], Any], clear_marks: bool = True) -> None:
        """Run a change in a worker; say how it went; refresh. Errors reach the app's one handler."""
        self._perform(label, change, clear_marks)

    @work(thread=True, group="action", exit_on_error=False)
    def _perform(self, label: str, change: Callable[[], Any], clear_marks: bool) -> None:
        self.app.call_from_thread(self.app.notify, f"{label}…", timeout=2, markup=False)
        result = change()
        summary = result if isinstance(result, str) else "done"
        self.app.call_from_thread(self._performed, f"{label}: {summary}", clear_marks)

    def _performed(self, message: str, clear_marks: bool) -> None:
        self.app.notify(message, markup=False)
        if clear_marks:
            self.marked.clear()
        self.refresh_data()

    def action_cursor(self, direction: str) -> None:
        table = self.table
        if direction == "first":
            table.move_cursor(row=0)
        elif direction == "last":
            table.move_cursor(row=max(0, table.row_count - 1))
        elif direction == "down":
            table.action_cursor_down()
        else:
            table.action_cursor_up()

    def action_refresh_now(self) -> None:
        self.refresh_data()

    def action_describe(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.app.open_describe(f"{self.VIEW}: {key}", lambda: self.describe(key))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_describe()
