"""The log view an SRE lives in: LogView, a Line API widget over a line source (screens/logsource.py) that
renders only the lines on screen, so that a log of any size opens at once. LogScreen (screens/logscreen.py)
holds it with a search box, a status line and the keys.

Log text is untrusted: each line is decoded, its control characters made visible (core.sanitize) and
put in a Rich Text as plain text — never parsed as markup, and nothing in it reaches the terminal as a
sequence.
"""

from __future__ import annotations

import re
from time import monotonic

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import get_current_worker

from core.sanitize import visible_control
from screens.logsource import CHUNK, FIRST_CHUNK, LineSource
from screens.widgets import ForwardWorkerErrors

EVIDENCE_STYLE = Style.parse("bold white on dark_red")
MATCH_STYLE = Style.parse("black on yellow")
CURRENT_MATCH_STYLE = Style.parse("bold black on bright_cyan")
MORE_STYLE = Style.parse("dim italic")
CONTEXT = 5  # lines kept above a line jumped to: what led to it
FOLLOW_POLL_S = 1.0  # how often a followed source is asked its size
STATUS_EVERY_S = 0.1  # the index reports its progress at most this often
SEARCH_PROMPT = "search — all lower case matches any case; enter: next"  # whole at 60 columns


class LogView(ForwardWorkerErrors, ScrollView, can_focus=True):
    """Lines of a LineSource. `scroll_y` is the top line shown, wrapped or not; only the lines on screen
    are read and rendered. The source is indexed in a worker, the first chunk first; searches run in a
    worker too, and a jump waits for the index to reach its line.

    Lines are wrapped unless `w` cuts them (as less does, and for the same reason: the evidence line a
    log opens at is read whole at any width). Wrapped, a line takes as many screen rows as it needs: where
    to scroll to show a line, how far a page goes and how far down the view goes are counted in rows."""

    DEFAULT_CSS = """
    LogView { height: 1fr; }
    """
    BINDINGS = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
    ]

    class Changed(Message):
        """What the status line says has changed: position, index, search, modes."""

    class Indexed(Message):
        """The index grew (posted by its worker)."""

    class Found(Message):
        """A search or an evidence jump ended (posted by its worker)."""

        def __init__(self, what: str, line: int | None, wrapped: bool):
            super().__init__()
            self.what, self.line, self.wrapped = what, line, wrapped

    def __init__(self, *, id: str | None = None):
        super().__init__(id=id)
        self.source: LineSource | None = None
        self.wrap = True  # cut, a line wider than the screen is read by scrolling sideways
        self.following = False
        self.query = ""
        self.ignore_case = False
        self._query_rx: re.Pattern[str] | None = None
        self.match_line: int | None = None  # the current search match
        self.evidence: str | None = None
        self._evidence_bytes = b""
        self.evidence_line: int | None = None  # the evidence line last jumped to
        self.focus_line: int | None = None  # the line last jumped to (evidence, match): `w` keeps it in view
        self._pending: str | None = None  # "bottom": once the index is complete
        self._generation = 0
        self._version = 0  # what a line renders as changed (a search, the evidence, the source grew)
        self._strips: LRUCache[tuple[int, int], Strip] = LRUCache(1024)
        self._rows_key: tuple | None = None
        self._rows: list[tuple[int, Strip]] = []
        self._row_counts: LRUCache[tuple[int, int, int], int] = LRUCache(4096)  # (line, width, version): rows
        self._widest = 0
        self._index_worker = None
        self._poll = None

    # -- the source ----------------------------------------------------------------------------
    def on_mount(self) -> None:
        self._poll = self.set_interval(FOLLOW_POLL_S, self._poll_source, pause=True)

    def show_source(self, source: LineSource, evidence: str | None = None, at: str = "end") -> None:
        """Show `source`; `at`: "evidence" (the last evidence line, else the end), "end" or "top"."""
        self.source = source
        self._generation = source.generation
        self.evidence = evidence.strip() if evidence and evidence.strip() else None
        self._evidence_bytes = self.evidence.encode("utf-8", "surrogateescape") if self.evidence else b""
        self._changed()
        self._start_indexing()
        if at == "evidence" and self.evidence:
            self._find("evidence_open", self._evidence_bytes, source.size, True, False, False)
        elif at in ("end", "evidence"):
            self.action_scroll_end()

    @property
    def line_count(self) -> int:
        return self.source.line_count if self.source is not None else 0

    def _start_indexing(self) -> None:
        if self._index_worker is None or self._index_worker.is_finished:
            self._index_worker = self._index()

    @work(thread=True, group="logview-index", exit_on_error=False)
    def _index(self) -> None:
        worker = get_current_worker()
        source = self.source
        assert source is not None
        limit, posted = FIRST_CHUNK, 0.0
        while not worker.is_cancelled and source.index_more(limit):
            limit = CHUNK
            if monotonic() - posted >= STATUS_EVERY_S:
                posted = monotonic()
                self.post_message(self.Indexed())
        self.post_message(self.Indexed())

    def on_log_view_indexed(self, event: Indexed) -> None:
        event.stop()
        source = self.source
        if source is None:
            return
        if source.generation != self._generation:  # started over (rotated, truncated)
            self._generation = source.generation
            self.match_line = self.evidence_line = self.focus_line = None
            self._widest = 0
            self.scroll_to(0, 0, animate=False, force=True)
        self._changed()
        if source.complete:
            if self._pending == "bottom":
                self._pending = None
                self._scroll_bottom()
            elif self.following:
                self._scroll_bottom()
        elif self.following:  # at the end of what is indexed so far, until the rest is
            self._scroll_bottom()
        self._post_status()

    def _poll_source(self) -> None:
        """While following: a stat of the source; what was added is indexed in the worker."""
        source = self.source
        if source is None:
            return
        if source.grown() or not source.complete:
            self._start_indexing()

    # -- sizes and positions -------------------------------------------------------------------
    def _changed(self) -> None:
        """The lines may render differently: drop what was rendered, size the scroll area again."""
        self._version += 1
        self._strips.clear()
        self._row_counts.clear()
        self._rows_key = None
        self._update_virtual_size()
        self.refresh()

    def _update_virtual_size(self) -> None:
        count = self.line_count
        if self.wrap:  # rows, roughly: for the scrollbar (how far the view scrolls is max_scroll_y's)
            self.virtual_size = Size(0, self._last_top() + self._wrap_size()[1])
        else:
            longest = self.source.longest if self.source is not None else 0
            self.virtual_size = Size(max(self._widest, min(longest, 20_000)), count)

    @property
    def max_scroll_y(self) -> int:
        """Wrapped: the top line from which the last lines fill the screen, never further."""
        return self._last_top() if self.wrap else super().max_scroll_y

    def _wrap_size(self) -> tuple[int, int]:
        """The columns and rows wrapped lines have. Rows without a horizontal scrollbar: a wrapped view has
        none, though the one from before `w` stays until the next layout."""
        region = self.scrollable_content_region
        return region.width, region.height + self.scrollbar_size_horizontal

    @property
    def top_line(self) -> int:
        return int(self.scroll_offset.y)

    @property
    def bottom_line(self) -> int:
        """The last line shown (in part, when wrapped)."""
        height = self.scrollable_content_region.height
        if self.wrap:
            rows = self._wrapped_rows()
            return rows[-1][0] if rows else self.top_line
        return min(self.top_line + height, self.line_count) - 1

    def is_shown(self, line: int) -> bool:
        """On screen, in part at least."""
        return self.top_line <= line <= self.bottom_line

    def is_whole_on_screen(self, line: int) -> bool:
        """On screen, every row of it when wrapped (or from the top row down, when it is taller than the screen)."""
        if not self.wrap:
            return self.is_shown(line)
        top, (width, height) = self.top_line, self._wrap_size()
        if not top <= line < top + height:
            return False
        return line == top or sum(self._rows_of(i, width) for i in range(top, line + 1)) <= height

    def _rows_of(self, line: int, width: int) -> int:
        """The screen rows `line` takes when wrapped at `width`."""
        key = (line, width, self._version)
        rows = self._row_counts.get(key)
        if rows is None:
            rows = self._row_counts[key] = max(1, len(self._wrap_line(line, width)))
        return rows

    def _last_top(self) -> int:
        """The top line from which the last lines fill the screen: as far down as the view scrolls."""
        count = self.line_count
        if not self.wrap:
            return max(0, count - self.scrollable_content_region.height)
        (width, height), line, used = self._wrap_size(), count, 0
        while line > 0:
            rows = self._rows_of(line - 1, width)
            if used and used + rows > height:
                break
            used += rows
            line -= 1
        return line

    def _top_for(self, line: int) -> int:
        """The top line that shows `line` with up to CONTEXT lines above it (what led to it); wrapped, as
        many of those as take no more than half the rows `line` leaves, so that all of it is on screen."""
        if not self.wrap:
            return max(0, min(line - CONTEXT, self._last_top()))
        width, height = self._wrap_size()
        room = max(0, height - self._rows_of(line, width)) // 2
        top, used = line, 0
        while top > max(0, line - CONTEXT):
            rows = self._rows_of(top - 1, width)
            if used + rows > room:
                break
            used += rows
            top -= 1
        return min(top, self._last_top())

    def goto_line(self, line: int, column: int | None = None) -> None:
        """Bring `line` into view (all of it, when wrapped), with CONTEXT lines above it when it was off
        screen; `column` (a cell of the line) into view sideways when not wrapping."""
        self._update_virtual_size()  # a search's worker may report a line before the index's worker its growth
        if not self.is_whole_on_screen(line):
            self.scroll_to(y=self._top_for(line), animate=False, force=True)
        if column is not None and not self.wrap:
            width = self.scrollable_content_region.width
            if not self.scroll_offset.x <= column < self.scroll_offset.x + width - 10:
                self.scroll_to(x=max(0, column - 10), animate=False, force=True)
        self._post_status()

    def _scroll_bottom(self) -> None:
        self._update_virtual_size()
        self.scroll_to(y=self._last_top(), animate=False, force=True)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._post_status()

    def on_resize(self) -> None:
        self._changed()

    # -- rendering -------------------------------------------------------------------------------
    def _line_text(self, i: int) -> Text | None:
        got = self.source.line(i) if self.source is not None else None
        if got is None:
            return None
        raw, whole = got
        shown = visible_control(raw.decode("utf-8", "replace")).expandtabs(8)
        text = Text(shown, style=self.rich_style, no_wrap=True, end="")
        if self._evidence_bytes and self._evidence_bytes in raw:
            text.stylize(EVIDENCE_STYLE)
        if self._query_rx is not None:
            style = CURRENT_MATCH_STYLE if i == self.match_line else MATCH_STYLE
            for m in self._query_rx.finditer(shown):
                text.stylize(style, m.start(), m.end())
        if whole > len(raw):
            text.append(f" … {whole - len(raw):,} more bytes", MORE_STYLE)
        return text

    def _strip(self, i: int) -> Strip | None:
        key = (i, self._version)
        strip = self._strips.get(key)
        if strip is None:
            text = self._line_text(i)
            if text is None:
                return None
            strip = Strip(list(text.render(self.app.console)), text.cell_len)
            self._strips[key] = strip
            if strip.cell_length > self._widest and not self.wrap:
                self._widest = strip.cell_length
                self.call_after_refresh(self._update_virtual_size)
        return strip

    def _wrap_line(self, i: int, width: int) -> list[Strip]:
        text = self._line_text(i)
        if text is None:
            return []
        lines = text.wrap(self.app.console, max(1, width), overflow="fold", no_wrap=False) or [Text("")]
        return [Strip(list(line.render(self.app.console)), line.cell_len) for line in lines]

    def _wrapped_rows(self) -> list[tuple[int, Strip]]:
        """The rows on screen when wrapping: (line, row) from the top line down, until the screen is full."""
        width, height = self._wrap_size()
        key = (self.top_line, width, height, self._version)
        if key != self._rows_key:
            rows: list[tuple[int, Strip]] = []
            line, count = self.top_line, self.line_count
            while len(rows) < height and line < count:
                rows += [(line, strip) for strip in self._wrap_line(line, width)]
                line += 1
            self._rows_key, self._rows = key, rows[:height]
        return self._rows

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        style = self.rich_style
        if self.wrap:
            rows = self._wrapped_rows()
            if y >= len(rows):
                return Strip.blank(width, style)
            return rows[y][1].crop_extend(0, width, style)
        strip = self._strip(self.top_line + y)
        if strip is None:
            return Strip.blank(width, style)
        x = int(self.scroll_offset.x)
        return strip.crop_extend(x, x + width, style)

    def visible_text(self) -> list[str]:
        """The rows on screen as plain text (for tests and the bench)."""
        return [self.render_line(y).text for y in range(self.scrollable_content_region.height)]

    # -- modes -------------------------------------------------------------------------------------
    def toggle_wrap(self) -> None:
        """Wrap or cut long lines. The line last jumped to (the evidence line the view opened at, a match)
        stays in view if it was on screen: wrapping makes the lines above it taller. Else the top line
        stays the top line."""
        focus = self.focus_line if self.focus_line is not None and self.is_shown(self.focus_line) else None
        top = self.top_line
        self.wrap = not self.wrap
        self.scroll_to(x=0, animate=False, force=True)
        self._changed()
        self.scroll_to(y=top, animate=False, force=True)
        self._keep_in_view(focus)
        # again once laid out: the horizontal scrollbar comes (or goes) with the layout, a row less (more)
        self.call_after_refresh(self._keep_in_view, focus)

    def _keep_in_view(self, focus: int | None) -> None:
        self._update_virtual_size()
        if self.following:
            self._scroll_bottom()
        elif focus is not None:  # and a match's column, sideways
            self.goto_line(focus, self._match_column(focus) if focus == self.match_line else None)
        self._post_status()

    def toggle_follow(self) -> None:
        self.following = not self.following
        if self._poll is not None:
            (self._poll.resume if self.following else self._poll.pause)()
        if self.following:
            self._poll_source()
            self.action_scroll_end()
        self._post_status()

    def _stop_following(self) -> None:
        if self.following:
            self.toggle_follow()

    # -- moving ------------------------------------------------------------------------------------
    def action_scroll_home(self) -> None:
        self._stop_following()
        self._pending = None
        self.scroll_to(0, 0, animate=False, force=True)

    def action_scroll_end(self) -> None:
        """The last line; while the index is still growing, the end of what is indexed, then the end."""
        if self.source is not None and not self.source.complete:
            self._pending = "bottom"
        self._scroll_bottom()

    def action_scroll_up(self) -> None:
        self._stop_following()
        super().action_scroll_up()

    def action_page_up(self) -> None:
        self._stop_following()
        if not self.wrap:
            super().action_page_up()
            return
        # wrapped: the lines that fill the screen above the top line, in rows
        (width, height), top, used = self._wrap_size(), self.top_line, 0
        while top > 0:
            rows = self._rows_of(top - 1, width)
            if used and used + rows > height:
                break
            used += rows
            top -= 1
        self.scroll_to(y=top, animate=False, force=True)

    def action_page_down(self) -> None:
        if not self.wrap:
            super().action_page_down()
            return
        # wrapped: the line below the last one shown whole (or the one shown in part) at the top
        bottom = self.bottom_line
        top = bottom if not self.is_whole_on_screen(bottom) else bottom + 1
        self.scroll_to(y=max(top, self.top_line + 1), animate=False, force=True)

    # -- search and evidence -----------------------------------------------------------------------
    def search(self, query: str) -> None:
        """Highlight `query` (case-insensitive when typed in lower case) and go to its first match at or
        below the top line, wrapping around to the top."""
        self.query = query
        self.ignore_case = query == query.lower() != query.upper()  # letters, none of them capitals
        flags = re.IGNORECASE if self.ignore_case else 0
        self._query_rx = re.compile(re.escape(visible_control(query)), flags) if query else None
        self.match_line = None
        self._changed()
        self._post_status()
        if query and self.source is not None:
            self._stop_following()
            start = self.source.offset_of(self.top_line)
            self._find("match", self._needle(), start, False, self.ignore_case, True)

    def _needle(self) -> bytes:
        return self.query.encode("utf-8", "surrogateescape")

    def next_match(self, backward: bool = False) -> bool:
        """The next (previous) match after (before) the current one, or the top line. False: no search."""
        if not self.query or self.source is None:
            return False
        self._stop_following()
        at = self.match_line if self.match_line is not None and self.is_shown(self.match_line) else None
        if backward:
            start = self.source.offset_of(at if at is not None else self.top_line)
        else:
            start = self.source.offset_of(at + 1 if at is not None else self.top_line)
        self._find("match", self._needle(), start, backward, self.ignore_case, True)
        return True

    def next_evidence(self, backward: bool = False) -> bool:
        """The next (previous) line holding the evidence the triage classified on. False: there is none."""
        if not self._evidence_bytes or self.source is None:
            return False
        self._stop_following()
        at = self.evidence_line if self.evidence_line is not None and self.is_shown(self.evidence_line) else None
        if backward:
            start = self.source.offset_of(at if at is not None else self.top_line)
        else:
            start = self.source.offset_of(at + 1 if at is not None else self.top_line)
        self._find("evidence", self._evidence_bytes, start, backward, False, False)
        return True

    @work(thread=True, exclusive=True, group="logview-find", exit_on_error=False)
    def _find(self, what: str, needle: bytes, start: int, backward: bool, ignore_case: bool, around: bool) -> None:
        worker = get_current_worker()
        source = self.source
        assert source is not None

        def stop() -> bool:
            return worker.is_cancelled

        offset = source.find(needle, start, backward=backward, ignore_case=ignore_case, stop=stop)
        wrapped = False
        if offset is None and around and not stop():
            offset = source.find(
                needle, source.size if backward else 0, backward=backward, ignore_case=ignore_case, stop=stop
            )
            wrapped = offset is not None
        line = source.line_of(offset, stop) if offset is not None else None
        if not stop():
            self.post_message(self.Found(what, line, wrapped))

    def on_log_view_found(self, event: Found) -> None:
        event.stop()
        line = event.line
        if event.what == "evidence_open":
            if line is None:
                self.action_scroll_end()
            else:
                self.evidence_line = self.focus_line = line
                self.goto_line(line)
            return
        if line is None:
            what = f"no match for {self.query!r}" if event.what == "match" else "no evidence line"
            self.notify(what + ("" if event.what == "match" else " further on"), severity="warning", markup=False)
            return
        if event.wrapped:
            self.notify("search wrapped around", markup=False, timeout=2)
        if event.what == "match":
            self.match_line = self.focus_line = line
            self._changed()
            self.goto_line(line, self._match_column(line))
        else:
            self.evidence_line = self.focus_line = line
            self.goto_line(line)

    def _match_column(self, line: int) -> int | None:
        text = self._line_text(line)
        m = self._query_rx.search(text.plain) if text is not None and self._query_rx is not None else None
        return cell_len(text.plain[: m.start()]) if m is not None and text is not None else None

    # -- the status line -------------------------------------------------------------------------
    def _post_status(self) -> None:
        self.post_message(self.Changed())

    def status(self) -> str:
        source = self.source
        if source is None:
            return "loading…"
        count = source.line_count
        parts = [f"line {min(self.top_line + 1, count):,}–{self.bottom_line + 1:,} of {count:,}"]
        if not source.complete:
            parts.append(f"indexing {source.indexed_fraction:.0%}")
        if self.query:
            where = f"at line {self.match_line + 1:,}" if self.match_line is not None else "…"
            parts.append(f"/{visible_control(self.query)} {where}")
        if self.evidence_line is not None:
            parts.append(f"evidence at line {self.evidence_line + 1:,}")
        parts += [name for name, on in (("wrap", self.wrap), ("following", self.following)) if on]
        return " · ".join(parts)
