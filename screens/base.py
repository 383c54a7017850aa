"""The table view every resource screen is: rows fetched in a worker thread, `/` filter, `enter` describe."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Header, Input, Static, TextArea

from core.sanitize import visible_control
from screens.footer import KeyFooter
from screens.grid import Column, Grid, cell_plain, natural_widths
from screens.widgets import ForwardWorkerErrors, counted

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
    """A row as the grid shows it, prepared in the worker: its cells made safe, and the text the filter
    searches. `source` is the cells list fetch() gave: a view that hands back the same list for an unchanged
    row gets this back as it was, for nothing."""

    key: str
    source: list[Any]
    cells: list[Any]  # str, or Text the view styled (made safe by it)
    haystack: str


class _Prepared:
    """Rows in the order shown, and what the UI thread needs of them, built in the worker: at 100,000 rows
    even listing them again costs the keyboard tens of milliseconds."""

    def __init__(self, rows: list[_Shown]) -> None:
        self.rows = rows
        self.pairs = [(r.key, r.cells) for r in rows]  # what the grid shows
        self.hays = [r.haystack for r in rows]  # what the filter searches


def _safe(cell: Any) -> Any:
    if isinstance(cell, Text):
        return cell
    text = "-" if cell is None else str(cell)
    if not text.isprintable():  # control sequences shown, never sent; a value stays on its line
        text = visible_control(text).replace("\n", " ").replace("\t", " ")
    return text


_NUMBER = re.compile(r"(\d+(?:\.\d+)?)")


def natural_key(text: str) -> tuple:
    """`node-9` before `node-10`; `2/16` before `12/16`."""
    return tuple(
        (0, float(part), "") if i % 2 else (1, 0.0, part.lower()) for i, part in enumerate(_NUMBER.split(text))
    )


class ViewScreen(ForwardWorkerErrors, Screen):
    """Subclasses set VIEW, TITLE, COLUMNS and implement fetch() (runs in a thread) and describe()."""

    VIEW = ""
    TITLE = ""
    COLUMNS: tuple[Column, ...] = ()
    #: screen action -> the engine action it performs (Engine.actions()); the footer and palette hide what
    #: the operator may not do
    ROLE_ACTIONS: dict[str, str] = {}
    MARKABLE = False  # `space` marks rows for a batch action
    #: refetch on every refresh; False: only when the engine says its data changed (a 100,000-row view
    #: must not be read again every few seconds while nothing happens)
    LIVE = False
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
        # home/end and g/G: the first and last row, as in k9s
        Binding("g,home", "cursor('first')", "First", show=False, id="first", priority=True),
        Binding("G,end", "cursor('last')", "Last", show=False, id="last", priority=True),
        Binding("greater_than_sign", "sort(1)", "Sort →", key_display=">", show=False, id="sort_next"),
        Binding("less_than_sign", "sort(-1)", "Sort ←", key_display="<", show=False, id="sort_previous"),
        Binding("tilde", "sort_reverse", "Reverse sort", key_display="~", show=False, id="sort_reverse"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[_Shown] = []  # every row, in the order shown (sorted when a sort is on)
        self.natural: list[int] | None = None  # the columns' wanted widths, over every row
        self.filter_text = ""
        self.loaded = False
        self.fetching = False
        self._shown = 0  # rows the filter lets through
        # self.rows as (key, cells) for the grid, and the last filter's matches (indexes into self.rows)
        self._pairs: list[tuple[str, list[Any]]] = []
        self._hays: list[str] = []
        self._last: tuple[str, list[int] | None] = ("", None)
        self.marked: set[str] = set()
        self.sort_column: int | None = None
        self.sort_reverse = False
        self._mounted = False
        self._asked = 0  # the newest refresh asked for: an older one's rows, arriving late, are dropped
        self._generation: object = None  # the engine's data generation the rows were read at

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static(self.TITLE, id="status")
            yield Grid(self.grid_columns(), id="table", markable=self.MARKABLE)
            yield from self.compose_extra()
        yield Input(placeholder="filter (esc clears)", id="filter")
        yield KeyFooter()

    def compose_extra(self) -> ComposeResult:
        yield from ()

    def grid_columns(self) -> tuple[Column, ...]:
        """The columns as the view's mode ranks them (COLUMNS, unless a mode makes another one matter)."""
        return self.COLUMNS

    def on_mount(self) -> None:
        self._mounted = True
        self.set_focus(self.table)
        self.refresh_data(force=True)

    def on_screen_resume(self) -> None:
        if self.focused is None:
            self.set_focus(self.table)
        if self.loaded:
            self.refresh_data()

    @property
    def table(self) -> Grid:
        return self.query_one(Grid)

    # -- data ----------------------------------------------------------------------------------
    def fetch(self) -> Page | list[Row]:
        """Runs in a worker thread: read through the engine, return the rows; write no screen state."""
        raise NotImplementedError

    def describe(self, key: str) -> str:
        raise NotImplementedError

    def refresh_data(self, force: bool = False) -> None:
        """Read the rows again in a worker: at once when `force` (the operator asked, or the view's own
        state changed), else only if the engine's data changed since the rows were read."""
        if not self._mounted:  # the app's refresh loop can reach a view before it is built
            return
        self._asked += 1
        if force:
            self.fetching = True
            self._show_status()
        self._load(self._asked, force or self.LIVE)

    @work(thread=True, exclusive=True, group="refresh", exit_on_error=False)
    def _load(self, asked: int, force: bool) -> None:
        generation = self.app.engine.data_generation()
        if not force and self.loaded and generation == self._generation:
            return  # nothing changed: an idle view costs one small query per refresh
        page = self.fetch()
        if not isinstance(page, Page):
            page = Page(page)
        before = {r.key: r for r in self.rows}  # read here; only the UI thread replaces it
        shown, new = [], []
        for key, cells in page.rows:
            last = before.get(key)
            if last is not None and (last.source is cells or last.source == cells):
                shown.append(last)
                continue
            safe = [_safe(c) for c in cells]
            shown.append(_Shown(key, cells, safe, " ".join(map(cell_plain, safe)).lower()))
            new.append(safe)
        # widths measured on the new rows only: a column widens for a wider value and never narrows under the
        # operator's eyes
        natural = natural_widths(self.COLUMNS, new if self.natural is not None else [r.cells for r in shown])
        if self.natural is not None:
            natural = [max(a, b) for a, b in zip(natural, self.natural, strict=True)]
        shown = self._sorted(shown, self.sort_column, self.sort_reverse)
        self.app.call_from_thread(self._adopt, asked, page, _Prepared(shown), natural, generation)

    def _sorted(self, rows: list[_Shown], column: int | None, reverse: bool) -> list[_Shown]:
        if column is None:
            return rows
        parse = self.COLUMNS[column].sort or natural_key
        return sorted(rows, key=lambda r: parse(cell_plain(r.cells[column])), reverse=reverse)

    def _adopt(self, asked: int, page: Page, shown: _Prepared, natural: list[int], generation: object) -> None:
        if asked != self._asked:
            return
        for name, value in page.keep.items():
            setattr(self, name, value)
        if page.title is not None:
            self.TITLE = page.title
        self._take(shown)
        self.natural = natural
        self._generation = generation
        self.loaded = True
        self.fetching = False
        self._render_rows()
        self.rows_shown()
        self.app.data_shown()  # type: ignore[attr-defined]  # ConsoleApp's: the first view's data is up

    def rows_shown(self) -> None:
        """After new rows are shown: for views that show more than the table."""

    def _render_rows(self) -> None:
        grid = self.table
        needle = self.filter_text.lower()
        rows = self._matching(needle)
        grid.marked = self.marked
        grid.sort_column, grid.sort_reverse = self.sort_column, self.sort_reverse
        grid.placeholder = "loading…" if not self.loaded else "no rows match the filter" if needle else "no rows"
        grid.show(rows, self.natural)
        self._shown = len(rows)
        self._show_status()

    def _take(self, prepared: _Prepared) -> None:
        self.rows, self._pairs, self._hays = prepared.rows, prepared.pairs, prepared.hays
        self._last = ("", None)

    def _matching(self, needle: str) -> list[tuple[str, list[Any]]]:
        """The rows the filter lets through, in order. Typing narrows: a filter that extends the last one
        searches only what the last one matched (100,000 rows: the first key scans them all, the next few)."""
        if not needle:
            return self._pairs
        last_needle, last = self._last
        hays = self._hays
        if last is None or not needle.startswith(last_needle):
            index = [i for i, h in enumerate(hays) if needle in h]
        else:
            index = [i for i in last if needle in hays[i]]
        self._last = (needle, index)
        return [self._pairs[i] for i in index]

    def _show_status(self) -> None:
        parts = [f"{self.TITLE} — {self._shown} of {len(self.rows)}"]
        if self.sort_column is not None:
            parts.append(f"sorted by {self.COLUMNS[self.sort_column].title} {'▼' if self.sort_reverse else '▲'}")
        if self.filter_text:
            parts.append(f"filter: {self.filter_text!r}")
        if self.marked:
            parts.append(f"marked: {len(self.marked)}")
        if self.fetching:
            parts.append("loading…")
        if self._mounted and self.table.size.width:
            hidden = self.table.hidden_columns
            if hidden:  # named where they fit, else counted: `enter` shows every field either way
                named = "  ".join([*parts, f"hidden: {','.join(hidden)} (enter)"])
                counted_ = "  ".join([*parts, f"+{counted(len(hidden), 'column')} (enter)"])
                room = self.size.width - 2
                parts = [named if len(named) <= room else counted_]
        self.query_one("#status", Static).update(Text("  ".join(parts), no_wrap=True, overflow="ellipsis"))

    def selected_key(self) -> str | None:
        return self.table.selected_key

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
        self.table.action_move(1)

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
        self.refresh_data(force=True)

    def action_cursor(self, direction: str) -> None:
        table = self.table
        if direction == "first":
            table.move_cursor(0)
        elif direction == "last":
            table.move_cursor(table.row_count - 1)
        else:
            table.action_move(1 if direction == "down" else -1)

    def action_sort(self, step: int) -> None:
        """`>`/`<`: sort by the next/previous column, hidden ones too (the status line names it); past the
        last (or first), unsorted again."""
        shown = list(range(len(self.COLUMNS)))
        if self.sort_column in shown:
            at = shown.index(self.sort_column) + step
            column = shown[at] if 0 <= at < len(shown) else None
        else:
            column = shown[0 if step > 0 else -1] if shown else None
        self._resort(column, False)

    def action_sort_reverse(self) -> None:
        if self.sort_column is not None:
            self._resort(self.sort_column, not self.sort_reverse)

    def on_grid_header_clicked(self, event: Grid.HeaderClicked) -> None:
        self._resort(event.column, event.column == self.sort_column and not self.sort_reverse)

    def _resort(self, column: int | None, reverse: bool) -> None:
        self.sort_column, self.sort_reverse = column, reverse
        if column is None:
            self.refresh_data(force=True)  # the view's own order, as fetched
            return
        self.fetching = True
        self._show_status()
        self._sort_rows(self._asked, column, reverse)

    @work(thread=True, exclusive=True, group="sort", exit_on_error=False)
    def _sort_rows(self, asked: int, column: int, reverse: bool) -> None:
        rows = _Prepared(self._sorted(list(self.rows), column, reverse))
        self.app.call_from_thread(self._sorted_rows, asked, rows)

    def _sorted_rows(self, asked: int, rows: _Prepared) -> None:
        if asked != self._asked:  # new rows arrived meanwhile: they came sorted
            return
        self._take(rows)
        self.fetching = False
        self._render_rows()

    def view_changed(self) -> None:
        """The view's own mode changed (failed/all, drift, decided): read again now, and measure the columns
        again from nothing (widths kept from the other mode's rows would squeeze these)."""
        self.natural = None
        if self._mounted:
            self.table.set_columns(self.grid_columns())
        self.refresh_data(force=True)

    def action_refresh_now(self) -> None:
        self.refresh_data(force=True)

    def action_describe(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.app.open_describe(f"{self.VIEW}: {key}", lambda: self.describe(key))

    def on_grid_layout_changed(self, event: Grid.LayoutChanged) -> None:
        self._show_status()

    def on_grid_selected(self, event: Grid.Selected) -> None:
        self.action_describe()
