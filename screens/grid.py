"""A virtual table: paints only the rows on screen, so 100,000 rows cost what 40 do.

Columns declare how much they matter (`priority`) and how narrow they may go (`min`): at any width the grid
shows the most important columns whole, in their declared order, and shortens long values where the part
that tells them apart survives (the end of a job name, `shorten="middle"`). What a narrow terminal hides,
the describe pane shows. Rows are keyed: a new set of rows keeps the cursor on its row, on its line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

GAP = 1  # blank cells between two columns
MARK = "● "  # the gutter of a marked row
ELLIPSIS = "…"


@dataclass(frozen=True)
class Column:
    title: str
    priority: int = 1  # 1 is shown first; the highest numbers go first when the terminal is narrow
    min: int = 0  # the narrowest it may be shortened to (0: shown whole or not at all)
    max: int = 32  # the widest its values make it, unless it is the flexible one
    shorten: str = "end"  # where a long value loses characters: "end" or "middle"
    align: str = "left"  # or "right", for numbers
    flex: bool = False  # takes the width the other columns leave
    style: Callable[[str], str] | None = None  # the cell's style from its text (status colours)
    sort: Callable[[str], Any] | None = None  # the sort key from its text (default: numbers as numbers)


Cell = Any  # str, or rich Text for a cell the view styles itself


def cell_plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def shorten(text: str, width: int, where: str = "end") -> str:
    """`text` in at most `width` cells, an ellipsis where characters went."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    if where == "middle" and width >= 5:
        head = (width - 1) // 3  # more of the end: it is what tells long names apart
        return text[:head] + ELLIPSIS + text[len(text) - (width - 1 - head) :]
    return text[: width - 1] + ELLIPSIS


def natural_widths(columns: Sequence[Column], rows: Sequence[Sequence[Cell]]) -> list[int]:
    """The width each column's values want (capped at its `max`; the title's at least)."""
    widths = [len(c.title) + 1 for c in columns]  # room for the sort mark
    for cells in rows:
        for i, cell in enumerate(cells):
            n = len(cell.plain) if isinstance(cell, Text) else len(str(cell))
            if n > widths[i]:
                widths[i] = n
    return [w if c.flex else min(w, max(c.max, len(c.title) + 1)) for w, c in zip(widths, columns, strict=True)]


def fit(columns: Sequence[Column], natural: Sequence[int], width: int) -> list[tuple[int, int]]:
    """(column index, width) of the columns shown at `width` cells, in declared order.

    Columns are taken by priority while they fit: whole, or at their `min` for those that may be shortened
    (a column without `min` is shown whole or not at all: a number cut short is a wrong number). The room
    left widens the shortened ones, by priority, up to what their values want; what is still left goes to
    the flexible column."""
    order = sorted(range(len(columns)), key=lambda i: (columns[i].priority, i))
    base = {i: min(natural[i], columns[i].min) if columns[i].min else natural[i] for i in order}
    shown: list[int] = []
    used = 0
    for i in order:
        need = base[i] + (GAP if shown else 0)
        if used + need <= width:
            shown.append(i)
            used += need
    widths = {i: base[i] for i in shown}
    left = width - used
    for i in shown:  # in priority order
        grow = min(left, natural[i] - widths[i])
        if grow > 0:
            widths[i] += grow
            left -= grow
    flexible = [i for i in shown if columns[i].flex]
    if flexible and left > 0:
        widths[flexible[0]] += left
    return [(i, widths[i]) for i in sorted(shown)]


@lru_cache(maxsize=512)
def _style(name: str) -> Style:
    return Style.parse(name) if name else Style()


class Grid(ScrollView, can_focus=True):
    """Keyed rows of cells under a fixed header line; `show()` takes the rows to show, in order."""

    COMPONENT_CLASSES = {"grid--header", "grid--cursor", "grid--even", "grid--mark"}
    DEFAULT_CSS = """
    Grid {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        & > .grid--header { text-style: bold; background: $panel; color: $foreground; }
        & > .grid--even { background: $surface-lighten-1 50%; }
        & > .grid--mark { color: $warning; text-style: bold; }
        & > .grid--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:focus > .grid--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """
    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=True, init=False)

    class Highlighted(Message):
        def __init__(self, grid: Grid, key: str | None) -> None:
            super().__init__()
            self.grid, self.key = grid, key

    class Selected(Message):
        def __init__(self, grid: Grid, key: str) -> None:
            super().__init__()
            self.grid, self.key = grid, key

    class LayoutChanged(Message):
        """The columns shown changed (a resize, wider values)."""

        def __init__(self, grid: Grid) -> None:
            super().__init__()
            self.grid = grid

    class HeaderClicked(Message):
        def __init__(self, grid: Grid, column: int) -> None:
            super().__init__()
            self.grid, self.column = grid, column

    def __init__(self, columns: Sequence[Column], *, markable: bool = False, **kw: Any) -> None:
        super().__init__(**kw)
        self.columns = tuple(columns)
        self.markable = markable
        self.marked: set[str] = set()
        self.sort_column: int | None = None
        self.sort_reverse = False
        self.placeholder = "loading…"  # the line shown where there are no rows
        self._rows: Sequence[tuple[str, Sequence[Cell]]] = []  # (key, cells), as shown: never copied
        self._natural = [len(c.title) + 1 for c in self.columns]
        self._layout: list[tuple[int, int]] = []
        self._layout_for: tuple | None = None

    def set_columns(self, columns: Sequence[Column]) -> None:
        """The same columns, other priorities (a view whose mode makes another column matter)."""
        self.columns = tuple(columns)
        self._layout_for = None
        self.refresh()

    # -- rows ----------------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._rows)

    def key_at(self, row: int) -> str | None:
        return self._rows[row][0] if 0 <= row < len(self._rows) else None

    @property
    def selected_key(self) -> str | None:
        return self.key_at(self.cursor_row)

    @property
    def row_keys(self) -> list[str]:
        return [k for k, _ in self._rows]

    def get_row_index(self, key: str) -> int:
        for i, (k, _) in enumerate(self._rows):
            if k == key:
                return i
        raise ValueError(key)

    def get_row_at(self, row: int) -> list[str]:
        """The row's cells as text."""
        return [cell_plain(c) for c in self._rows[row][1]]

    def show(self, rows: Sequence[tuple[str, Sequence[Cell]]], natural: Sequence[int] | None = None) -> None:
        """Show `rows` — (key, cells) — in this order. `natural`: the columns' wanted widths, measured on all
        the rows there are (a filter narrowing the rows leaves the columns where they were)."""
        was = self.selected_key
        on_screen = self.cursor_row - round(self.scroll_y)
        self._rows = rows
        if natural is not None:
            self._natural = list(natural)
        elif len(rows) < 2000:
            self._natural = natural_widths(self.columns, [c for _, c in rows])
        self._layout_for = None
        self._resize_virtual()
        row = self.cursor_row
        if was is not None and self.key_at(row) != was:
            try:
                row = self.get_row_index(was)
            except ValueError:
                row = min(row, max(0, len(rows) - 1))
            else:  # rows came or went above it: it moves with its row, on the same line
                self.scroll_to(y=max(0, row - on_screen), animate=False, immediate=True)
        self.cursor_row = min(max(0, row), max(0, len(rows) - 1))
        self.refresh()

    def _resize_virtual(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, len(self._rows) + 1)

    def on_resize(self) -> None:
        self._layout_for = None
        self._resize_virtual()

    # -- cursor --------------------------------------------------------------------------------------
    @property
    def _page_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def validate_cursor_row(self, row: int) -> int:
        return min(max(0, row), max(0, len(self._rows) - 1))

    def watch_cursor_row(self, old: int, row: int) -> None:
        top = round(self.scroll_y)
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + self._page_rows:
            self.scroll_to(y=row - self._page_rows + 1, animate=False, immediate=True)
        self.refresh()
        self.post_message(self.Highlighted(self, self.selected_key))

    def move_cursor(self, row: int) -> None:
        self.cursor_row = row

    def action_move(self, by: int) -> None:
        self.cursor_row += by

    def action_page(self, by: int) -> None:
        self.cursor_row += by * self._page_rows

    def action_select(self) -> None:
        key = self.selected_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    def on_click(self, event: Click) -> None:
        if event.y == 0:
            x = 0
            for index, width in self.layout():
                if x <= event.x - self._gutter < x + width + GAP:
                    self.post_message(self.HeaderClicked(self, index))
                    return
                x += width + GAP
            return
        row = round(self.scroll_y) + event.y - 1
        if 0 <= row < len(self._rows):
            if row == self.cursor_row and event.chain == 2:
                self.action_select()
            self.cursor_row = row

    # -- painting ------------------------------------------------------------------------------------
    @property
    def _gutter(self) -> int:
        return len(MARK) if self.markable else 0

    def layout(self) -> list[tuple[int, int]]:
        width = self.scrollable_content_region.width - self._gutter
        key = (width, tuple(self._natural))
        if self._layout_for != key:
            layout = fit(self.columns, self._natural, width)
            if [i for i, _ in layout] != [i for i, _ in self._layout]:
                self.post_message(self.LayoutChanged(self))
            self._layout, self._layout_for = layout, key
        return self._layout

    @property
    def hidden_columns(self) -> list[str]:
        shown = {i for i, _ in self.layout()}
        return [c.title for i, c in enumerate(self.columns) if i not in shown]

    @property
    def shown_columns(self) -> list[str]:
        return [self.columns[i].title for i, _ in self.layout()]

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            return self._header(width, base)
        row = round(self.scroll_y) + y - 1
        if row >= len(self._rows):
            if row == 0 and not self._rows:
                return Strip([Segment(shorten(self.placeholder, width).ljust(width), base + Style(dim=True))])
            return Strip.blank(width, base)
        return self._row(row, width, base)

    def _header(self, width: int, base: Style) -> Strip:
        style = base + self.get_component_rich_style("grid--header")
        segments = [Segment(" " * self._gutter, style)] if self._gutter else []
        for n, (i, w) in enumerate(self.layout()):
            title = self.columns[i].title
            if i == self.sort_column:
                title += "▼" if self.sort_reverse else "▲"
            text = shorten(title, w)
            text = text.rjust(w) if self.columns[i].align == "right" else text.ljust(w)
            segments.append(Segment(text + (" " * GAP if n < len(self._layout) - 1 else ""), style))
        return Strip(segments).extend_cell_length(width, style).crop(0, width)

    def _row(self, row: int, width: int, base: Style) -> Strip:
        key, cells = self._rows[row]
        if row == self.cursor_row:
            line = base + self.get_component_rich_style("grid--cursor")
        else:
            line = base + (self.get_component_rich_style("grid--even") if row % 2 else Style())
        segments = []
        if self._gutter:
            mark = key in self.marked
            segments.append(
                Segment(MARK if mark else " " * self._gutter, line + self.get_component_rich_style("grid--mark"))
            )
        layout = self.layout()
        for n, (i, w) in enumerate(layout):
            column = self.columns[i]
            cell = cells[i]
            if isinstance(cell, Text):
                plain, style = cell.plain, cell.style if isinstance(cell.style, str) else ""
                if not style and cell.spans:
                    style = str(cell.spans[0].style)
            else:
                plain, style = str(cell), ""
            if column.style is not None and not style:
                style = column.style(plain)
            text = shorten(plain, w, column.shorten)
            text = text.rjust(w) if column.align == "right" else text.ljust(w)
            if not text.isascii():  # wide characters (CJK, emoji) take two cells: fit by cells, not characters
                text = set_cell_size(text, w)
            segments.append(Segment(text, line + _style(style)))
            if n < len(layout) - 1:
                segments.append(Segment(" " * GAP, line))
        return Strip(segments).extend_cell_length(width, line).crop(0, width)
