"""The table view every resource screen is: rows fetched in a worker thread, `/` filter, `enter` describe."""
from __future__ import annotations

from typing import Any, Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static, TextArea

from screens.widgets import ForwardWorkerErrors, safe_text

Row = tuple[str, list[Any]]  # (row key, cells)


class ViewScreen(ForwardWorkerErrors, Screen):
    """Subclasses set VIEW, TITLE, COLUMNS and implement fetch() (runs in a thread) and describe()."""

    VIEW = ""
    TITLE = ""
    COLUMNS: tuple[str, ...] = ()
    #: action -> the role it needs; the footer and palette hide what the operator's role cannot do
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
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Row] = []
        self.filter_text = ""
        self.loaded = False
        self.marked: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static(self.TITLE, id="status")
            yield DataTable(id="table", cursor_type="row", zebra_stripes=True)
            yield from self.compose_extra()
        yield Input(placeholder="filter (esc clears)", id="filter")
        yield Footer()

    def compose_extra(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*self.COLUMNS)
        self.refresh_data()

    def on_screen_resume(self) -> None:
        if self.loaded:
            self.refresh_data()

    # -- data ----------------------------------------------------------------------------------
    def fetch(self) -> list[Row]:
        raise NotImplementedError

    def describe(self, key: str) -> str:
        raise NotImplementedError

    def refresh_data(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="refresh", exit_on_error=False)
    def _load(self) -> None:
        rows = self.fetch()
        self.app.call_from_thread(self.show_rows, rows)

    def show_rows(self, rows: list[Row]) -> None:
        self.rows = rows
        self.loaded = True
        self._render_rows()

    def _render_rows(self) -> None:
        table = self.query_one(DataTable)
        keep = self.selected_key()
        table.clear()
        needle = self.filter_text.lower()
        shown = 0
        for key, cells in self.rows:
            if needle and needle not in " ".join(_plain(c) for c in cells).lower():
                continue
            row = [c if isinstance(c, Text) else safe_text(c) for c in cells]
            if self.MARKABLE:
                row[0] = Text.assemble(("● " if key in self.marked else "  ", "bold yellow"), row[0])
            table.add_row(*row, key=key)
            shown += 1
        if keep is not None:
            try:
                table.move_cursor(row=table.get_row_index(keep), animate=False)
            except Exception:  # the row went away or was filtered out: stay where the cursor is
                pass
        flt = f"  filter: {self.filter_text!r}" if self.filter_text else ""
        flt += f"  marked: {len(self.marked)}" if self.marked else ""
        self.query_one("#status", Static).update(
            Text(f"{self.TITLE} — {shown} of {len(self.rows)}{flt}", no_wrap=True, overflow="ellipsis"))

    def selected_key(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return None

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
            self.set_focus(self.query_one(DataTable))

    def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_class("visible") or self.filter_text:
            box.remove_class("visible")
            box.value = ""
            self.filter_text = ""
            self._render_rows()
            self.set_focus(self.query_one(DataTable))
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
        role = self.ROLE_ACTIONS.get(action)
        if role is not None and not self.app.engine.can(role):
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
        self.query_one(DataTable).action_cursor_down()

    def perform(self, label: str, change: Callable[[], Any], clear_marks: bool = True) -> None:
        """Run a change in a worker; say how it went; refresh. Errors reach the app's one handler."""
        self._perform(label, change, clear_marks)

    @work(thread=True, group="action", exit_on_error=False)
    def _perform(self, label: str, change: Callable[[], Any], clear_marks: bool) -> None:
        self.app.call_from_thread(self.app.notify, f"{label}…", timeout=2, markup=False)
        result = change()
        summary = result if isinstance(result, str) else "done"
        self.app.call_from_thread(self.app.notify, f"{label}: {summary}", markup=False)
        if clear_marks:
            self.marked.clear()
        self.app.call_from_thread(self.refresh_data)

    def action_cursor(self, direction: str) -> None:
        table = self.query_one(DataTable)
        table.action_cursor_down() if direction == "down" else table.action_cursor_up()

    def action_refresh_now(self) -> None:
        self.refresh_data()

    def action_describe(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.app.open_describe(f"{self.VIEW}: {key}", lambda: self.describe(key))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_describe()


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)

