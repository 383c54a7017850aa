"""Small pieces the screens share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.worker import Worker, WorkerState

from core.sanitize import strip_control, visible_control

SPARK_BARS = "▁▂▃▄▅▆▇█"


def safe_text(value: object, style: str = "") -> Text:
    """Cluster data as a Rich Text: never parsed as markup; control characters shown, never sent."""
    text = visible_control("-" if value is None else str(value))
    return Text(text.replace("\n", " ").replace("\t", " "), style=style)


def counted(n: int, noun: str) -> str:
    """`1 audit event`, `2 audit events`: a count with its noun in the number it takes."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def safe_markup(text: str) -> str:
    """Text made safe to embed in Rich markup: control sequences stripped, markup escaped."""
    from rich.markup import escape

    return escape(strip_control(text))


def sparkline(values: list[float]) -> str:
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    return "".join(SPARK_BARS[min(7, int((v - lo) / span * 7.999))] for v in values)


STATUS_STYLES = {
    "Ready": "green",
    "Healthy": "green",
    "succeeded": "green",
    "production": "green",
    "NotReady": "bold red",
    "Degraded": "bold red",
    "failed": "red",
    "Failed": "red",
    "Progressing": "yellow",
    "staging": "yellow",
    "SchedulingDisabled": "yellow",
}


# a symbol before the status, so that it reads without colour too; the first that applies wins, and
# gives the colour (a cordoned Ready node reads ⊘, in SchedulingDisabled's colour)
STATUS_SYMBOLS = {
    "NotReady": "✗",
    "Degraded": "✗",
    "failed": "✗",
    "Failed": "✗",
    "SchedulingDisabled": "⊘",
    "Progressing": "◐",
    "staging": "◐",
    "Ready": "●",
    "Healthy": "●",
    "succeeded": "●",
    "production": "●",
}


def status_text(status: str) -> Text:
    parts = status.split(",")
    key = next((k for k in STATUS_SYMBOLS if k in parts), None)
    if key is None:
        return safe_text(status)
    return safe_text(f"{STATUS_SYMBOLS[key]} {status}", STATUS_STYLES[key])


class ForwardWorkerErrors:
    """Worker.StateChanged does not bubble: each screen hands failures to the app's one handler."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.app.report_worker_error(event.worker)


def cell_signature(cell: Any) -> tuple:
    """What a cell shows, style included (Text's own equality ignores its base style)."""
    if isinstance(cell, Text):
        return (cell.plain, cell.style, tuple(cell.spans))
    return (type(cell), cell)


class KeyedTable(DataTable):
    """A DataTable that takes its rows by key. `sync(rows)` changes only what differs from what is shown:
    changed cells are updated, new rows added, gone rows removed, and the rows reordered only when their
    order changed. The cursor stays on its row, the scroll where the operator left it; a refresh of
    thousands of unchanged rows costs a comparison, not a rebuild (measuring every cell again stalled the
    keyboard for seconds on the Jobs view)."""

    def __init__(self, *columns: str, **kw: Any) -> None:
        super().__init__(**kw)
        self._keys: list[str] = []  # the rows' keys, in the order shown
        self._sigs: dict[str, tuple] = {}  # key -> the signatures of its cells as shown
        self.add_columns(*columns)  # before any row can arrive: a view's rows never meet a table without columns

    def clear(self, columns: bool = False) -> KeyedTable:
        self._keys, self._sigs = [], {}
        super().clear(columns)
        return self

    def key_at(self, row: int) -> str | None:
        return self._keys[row] if 0 <= row < len(self._keys) else None

    def sync(self, rows: Sequence[tuple]) -> None:
        """Show `rows` — (key, cells), or (key, cells, their cell_signature()s) — in this order."""
        order: list[str] = []
        cells_of: dict[str, Sequence[Any]] = {}
        sigs: dict[str, tuple] = {}
        for key, cells, *signature in rows:
            if key not in sigs:
                order.append(key)
                cells_of[key] = cells
                sigs[key] = signature[0] if signature else tuple(map(cell_signature, cells))
        cursor_key = self.key_at(self.cursor_row)
        on_screen = self.cursor_row - round(self.scroll_y)  # rows are one line high

        gone = [k for k in self._keys if k not in sigs]
        if gone:
            self._remove(gone)
        columns = [c.key for c in self.ordered_columns]
        widths = self.columns
        for key in order:
            old = self._sigs.get(key)
            if old is None:
                self.add_row(*cells_of[key], key=key)
                self._keys.append(key)
            elif old != sigs[key]:
                for column, was, now, cell in zip(columns, old, sigs[key], cells_of[key], strict=True):
                    if was != now:
                        self.update_cell(key, column, cell)
                        self._widen(widths[column], cell)
        self._sigs = sigs
        if self._keys != order:
            self._relocate(order)

        if cursor_key is not None and cursor_key in sigs:
            index = self._keys.index(cursor_key)
            if index != self.cursor_row:  # rows came or went above it: it moves with its row, on the same line
                self.scroll_y = max(0, index - on_screen)
                self.cursor_coordinate = Coordinate(index, self.cursor_column)

    def _widen(self, column: Any, cell: Any) -> None:
        """A column grows to fit a wider value (it never shrinks under the operator's eyes): measured for
        this cell alone, where DataTable would measure the whole column again whenever a value narrows."""
        width = cell.cell_len if isinstance(cell, Text) else len(str(cell))
        if column.auto_width and width > column.content_width:
            column.content_width = width
            self._require_update_dimensions = True
            self.check_idle()

    def _remove(self, gone: list[str]) -> None:
        if len(gone) <= 4:  # DataTable's own removal rebuilds its index once per row
            for key in gone:
                self.remove_row(key)
            dropped = set(gone)
            self._keys = [k for k in self._keys if k not in dropped]
            return
        dropped = set(gone)
        for key in dropped:
            del self.rows[key]
            del self._data[key]
        self._new_rows = {k for k in self._new_rows if k.value not in dropped}
        self._updated_cells = {c for c in self._updated_cells if c.row_key.value not in dropped}
        self._relocate([k for k in self._keys if k not in dropped])
        self._require_update_dimensions = True
        self.refresh(layout=True)
        self.check_idle()

    def _relocate(self, order: list[str]) -> None:
        """Put the rows in `order` at once (what DataTable.sort does, by position instead of by value)."""
        self._row_locations = TwoWayDict({self.rows[key].key: i for i, key in enumerate(order)})
        self._keys = order
        self._update_count += 1
        self.cursor_coordinate = self.cursor_coordinate  # clamped to the rows left
        self.hover_coordinate = self.hover_coordinate
        self.refresh()
