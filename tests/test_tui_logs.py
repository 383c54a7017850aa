"""The log view under Pilot, as an SRE reads a log: opened from the Jobs view at its evidence, `/` search with
`n`/`N`, `w` wrap, `f` follow of a growing file, `[`/`]` between evidence lines, a hostile log shown as text;
and the line sources under it. Waits are for conditions (a bound on waiting, never a timing assertion)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui import goto, wait_rows

from console.app import ConsoleApp
from console.engine import Engine
from console.settings import load
from screens import logsource
from screens.logscreen import LogScreen
from screens.logsource import FileSource, LineSource, TextSource
from screens.logview import CURRENT_MATCH_STYLE, EVIDENCE_STYLE, LogView

PINNED = "2026-11-20T12:00:00Z"


@pytest.fixture
def make_app(home_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_CONSOLE_NOW", PINNED)
    monkeypatch.setenv("MLOPS_CONSOLE_CONFIG", str(tmp_path / "none.toml"))

    def make() -> ConsoleApp:
        # read-only: these tests read logs; nothing the app's reconcile writes is in their way
        settings = load({"home": str(home_copy), "user": "sre", "read_only": True})
        return ConsoleApp(Engine(settings), settings)

    return make


async def until(pilot, predicate, tries: int = 400) -> None:
    """Up to 20 s for `predicate` to hold: a bound on waiting on a loaded machine, not a timing assertion."""
    for _ in range(tries):
        await pilot.pause(0.05)
        if predicate():
            return
    raise AssertionError("condition never held")


async def open_source(pilot, source: LineSource, evidence: str | None = None, at: str = "top") -> LogView:
    app = pilot.app
    app.push_screen(LogScreen(source.name, lambda: (source, evidence), at=at))
    await until(pilot, lambda: isinstance(app.screen, LogScreen) and app.screen.view.line_count > 0)
    view = app.screen.view
    await until(pilot, lambda: view.source.complete and view.visible_text()[0].strip())
    return view


def numbered(n: int, marks: dict[int, str] | None = None) -> str:
    """n lines `line 0001 …`; the lines in `marks` get its text appended."""
    marks = marks or {}
    return "".join(f"line {i:04d} payload{' ' + marks[i] if i in marks else ''}\n" for i in range(n))


def wide(n: int, marks: dict[int, str] | None = None) -> str:
    """n lines of about 160 characters (3 rows each at 60 columns, 2 at 120); those in `marks` get its text."""
    marks = marks or {}
    filler = " ".join(f"word{j:02d}" for j in range(22))
    return "".join(f"line {i:04d} {filler}{' ' + marks[i] if i in marks else ''}\n" for i in range(n))


async def set_wrap(pilot, view: LogView, on: bool) -> None:
    if view.wrap != on:
        await pilot.press("w")
        await until(pilot, lambda: view.wrap == on)


def shown(view: LogView) -> str:
    return "\n".join(view.visible_text())


def lit_rows(view: LogView, style) -> list[str]:
    """The rows on screen that carry `style` somewhere."""
    height = view.scrollable_content_region.height
    strips = [view.render_line(y) for y in range(height)]
    return [s.text for s in strips if any(seg.style and seg.style.bgcolor == style.bgcolor for seg in s)]


# -- opening ---------------------------------------------------------------------------------------
async def test_l_on_the_jobs_view_opens_the_attempts_log_at_its_evidence(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await goto(pilot, "jobs")
        table = await wait_rows(pilot)
        run_id = table.key_at(0)
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LogScreen) and app.screen.view.evidence_line is not None)
        view = app.screen.view
        assert view.line_count == len(app.engine.attempt_log(run_id).splitlines())
        assert view.is_shown(view.evidence_line)
        lit = lit_rows(view, EVIDENCE_STYLE)
        assert view.wrap and " ".join(" ".join(lit).split()).find(view.evidence) >= 0  # the line, whole
        # the whole tail is there to read, down to its last line
        tail = [ln for ln in app.engine.attempt(run_id).log_tail.splitlines() if ln.strip()]
        await pilot.press("G")
        await until(pilot, lambda: tail[-1].strip()[:60] in "\n".join(view.visible_text()))
        assert "evidence at line" in str(app.screen.query_one("#status").content)
        await pilot.press("escape")
        assert app.current_mode == "jobs" and not isinstance(app.screen, LogScreen)


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_the_evidence_line_is_read_whole_at_80_columns_and_less(make_app, size):
    """Wrapped by default: opened at the evidence, the whole line is on screen, not cut at the edge."""
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await goto(pilot, "jobs")
        await wait_rows(pilot)
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LogScreen) and app.screen.view.evidence_line is not None)
        view = app.screen.view
        line = view.source.line(view.evidence_line)[0].decode()
        assert len(line) > size[0]  # wider than the screen
        await until(pilot, lambda: view.is_whole_on_screen(view.evidence_line))
        assert " ".join(" ".join(lit_rows(view, EVIDENCE_STYLE)).split()) == " ".join(line.split())
        assert "wrap" in str(app.screen.query_one("#status").content)


# -- search ------------------------------------------------------------------------------------------
async def test_search_goes_to_the_first_match_and_n_and_N_move_between_matches(make_app):
    source = TextSource(numbered(2000, {150: "Needle", 900: "needle", 1700: "needle"}), "big.log")
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_source(pilot, source)
        await pilot.press("slash", *"needle", "enter")  # lower case: any case
        await until(pilot, lambda: view.match_line == 150)
        assert view.is_shown(150)
        hit = next(r for r in lit_rows(view, CURRENT_MATCH_STYLE) if "line 0150" in r)
        assert "Needle" in hit
        await pilot.press("n")
        await until(pilot, lambda: view.match_line == 900 and view.is_shown(900))
        await pilot.press("n")
        await until(pilot, lambda: view.match_line == 1700 and view.is_shown(1700))
        await pilot.press("N")
        await until(pilot, lambda: view.match_line == 900 and view.is_shown(900))
        # a capital makes it exact: only "Needle"
        await pilot.press("slash", *"Needle", "enter")
        await until(pilot, lambda: view.match_line == 150)
        await pilot.press("n")  # the only one: found again, around the end
        await until(pilot, lambda: view.match_line == 150 and view.is_shown(150))


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_the_search_prompt_says_plainly_what_case_does_and_what_enter_does(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await open_source(pilot, TextSource(numbered(50), "small.log"))
        await pilot.press("slash")
        await pilot.pause()
        box = app.screen.query_one("#search")
        assert box.placeholder == "search — all lower case matches any case; enter: next"
        painted = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        assert box.placeholder in painted  # whole


async def test_escape_closes_the_search_box_then_the_view(make_app):
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await open_source(pilot, TextSource(numbered(50), "small.log"))
        await pilot.press("slash", *"nG")  # typed into the box: neither a next match nor the bottom
        box = app.screen.query_one("#search")
        assert box.value == "nG" and app.screen.view.top_line == 0
        await pilot.press("escape")
        assert isinstance(app.screen, LogScreen) and not box.has_class("visible")
        await pilot.press("escape")
        assert not isinstance(app.screen, LogScreen)


# -- wrap -------------------------------------------------------------------------------------------
async def test_w_wraps_long_lines_and_unwraps_them(make_app):
    long_line = "start " + "".join(f"{i:04d}." for i in range(100)) + " end"  # 510 characters
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_source(pilot, TextSource(f"first\n{long_line}\nlast\n", "wide.log"))
        assert view.wrap  # by default
        wrapped = view.visible_text()
        i = next(i for i, r in enumerate(wrapped) if r.strip() == "last")
        assert i >= 5  # the long line took the rows between
        assert "".join(r.rstrip() for r in wrapped[1:i]).replace(" ", "") == long_line.replace(" ", "")
        await pilot.press("w")
        await until(pilot, lambda: not view.wrap)
        rows = view.visible_text()
        assert rows[1].startswith("start 0000.") and "end" not in rows[1] and rows[2].startswith("last")
        await pilot.press("w")
        await until(pilot, lambda: view.wrap)
        await pilot.pause()
        assert view.visible_text() == wrapped


async def test_wrapped_a_jump_shows_all_of_the_line_it_lands_on(make_app):
    """Wrapped lines take several rows each: a jump counts rows, so the line it lands on is on screen whole,
    not just below the lines kept above it."""
    evidence = "Warning Evicted pod/agg-hourly-driver"
    text = wide(305, {150: "needle END150", 300: evidence + " END300"})
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        view = await open_source(pilot, TextSource(text, "wide.log"), evidence=evidence)
        await set_wrap(pilot, view, True)
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: view.evidence_line == 300)
        assert "line 0300" in shown(view) and "END300" in shown(view)
        assert view.is_whole_on_screen(300)
        await pilot.press("g", "slash", *"needle", "enter")
        await until(pilot, lambda: view.match_line == 150)
        assert "line 0150" in shown(view) and "END150" in shown(view)
        assert view.is_whole_on_screen(150)


async def test_wrapped_the_view_never_scrolls_past_the_last_line(make_app):
    evidence = "Warning Evicted pod/agg-hourly-driver"
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_source(pilot, TextSource(wide(305, {300: evidence}), "wide.log"), evidence=evidence)
        await set_wrap(pilot, view, True)
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: view.evidence_line == 300)
        rows = view.visible_text()
        assert "line 0300" in shown(view) and "line 0304" in rows[-2] and rows[-1].strip()  # the screen full
        top = view.top_line
        for key in ("down", "j", "pagedown", "end", "G"):
            await pilot.press(key)
            await pilot.pause()
            assert view.top_line == top and view.visible_text() == rows, key


async def test_wrapped_pages_skip_no_line(make_app):
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        view = await open_source(pilot, TextSource(wide(100), "wide.log"))
        await set_wrap(pilot, view, True)
        await pilot.press("g")
        await until(pilot, lambda: view.top_line == 0)
        tops = [0]
        while view.bottom_line < 99:
            bottom = view.bottom_line
            await pilot.press("pagedown")
            await until(pilot, lambda bottom=bottom: view.top_line > tops[-1])
            assert view.top_line <= bottom + 1  # the line after the last shown whole, or the one cut
            tops.append(view.top_line)
        assert len(tops) > 2
        await pilot.press("pageup")
        await until(pilot, lambda: view.top_line < tops[-1])
        assert view.top_line == tops[-2]  # back where the page before began


async def test_w_keeps_the_line_jumped_to_in_view(make_app):
    """Wrapping makes the lines above taller: the line the view opened at (the evidence), or the match
    last gone to, stays on screen; a view scrolled away from it keeps its top line."""
    evidence = "Warning Evicted pod/agg-hourly-driver"
    text = wide(2000, {300: evidence + " END300", 1200: "needle END1200"})
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        view = await open_source(pilot, TextSource(text, "wide.log"), evidence=evidence, at="evidence")
        await until(pilot, lambda: view.evidence_line == 300 and view.is_whole_on_screen(300))
        for on in (False, True, False, True):
            await set_wrap(pilot, view, on)
            await pilot.pause()
            assert view.is_whole_on_screen(300) and "line 0300" in shown(view), on
            assert "END300" in shown(view) or not on  # cut when not wrapped
        await pilot.press("slash", *"needle", "enter")
        await until(pilot, lambda: view.match_line == 1200)
        for on in (False, True):
            await set_wrap(pilot, view, on)
            await pilot.pause()
            assert view.is_whole_on_screen(1200) and "END1200" in shown(view), on  # its column too, unwrapped
        await pilot.press("g")
        await until(pilot, lambda: view.top_line == 0)
        await set_wrap(pilot, view, False)
        await pilot.pause()
        assert view.top_line == 0


# -- follow -----------------------------------------------------------------------------------------
async def test_f_follows_lines_appended_to_a_file(make_app, tmp_path):
    path = tmp_path / "growing.log"
    path.write_text(numbered(100))
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_source(pilot, FileSource(path))
        await pilot.press("f")
        await until(pilot, lambda: view.following and view.bottom_line == 99)
        with path.open("a") as f:
            f.write("".join(f"appended {i}\n" for i in range(40)) + "unended last")
        await until(pilot, lambda: view.line_count == 141 and view.bottom_line == 140)
        assert "unended last" in view.visible_text()[view.bottom_line - view.top_line]
        assert "following" in str(app.screen.query_one("#status").content)
        await pilot.press("f")
        await until(pilot, lambda: not view.following)


# -- evidence ---------------------------------------------------------------------------------------
async def test_brackets_jump_between_the_evidence_lines(make_app):
    evidence = "ERROR Executor: java.lang.OutOfMemoryError: Java heap space"
    text = numbered(3000, {400: evidence, 1200: evidence + " (again)", 2600: evidence})
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_source(pilot, TextSource(text, "oom.log"), evidence=evidence)
        assert view.top_line == 0 and view.evidence_line is None
        for line in (400, 1200, 2600):
            await pilot.press("right_square_bracket")
            await until(pilot, lambda line=line: view.evidence_line == line and view.is_shown(line))
            assert any("line " + f"{line:04d}" in row for row in lit_rows(view, EVIDENCE_STYLE))
        await pilot.press("left_square_bracket")
        await until(pilot, lambda: view.evidence_line == 1200 and view.is_shown(1200))
        await pilot.press("left_square_bracket")
        await until(pilot, lambda: view.evidence_line == 400 and view.is_shown(400))


async def test_without_evidence_the_brackets_are_not_offered_and_the_log_opens_at_its_end(make_app):
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_source(pilot, TextSource(numbered(500), "plain.log"), at="evidence")
        await until(pilot, lambda: view.bottom_line == 499)
        shown = {b.binding.action for b in app.active_bindings.values() if b.binding.show and b.enabled}
        assert {"next_match", "wrap", "follow"} <= {a.split("(")[0] for a in shown}
        assert not {"next_evidence", "prev_evidence"} & {a.split("(")[0] for a in shown}


# -- untrusted text ---------------------------------------------------------------------------------
HOSTILE = (
    "plain line\n"
    "colour \x1b[31mRED\x1b[0m and a title \x1b]0;pwned\x07 and [bold]markup[/bold] [link=https://x.example]x[/link]\n"
    "clear \x1b[2J bell \x07 c1 \u009b31m\n"
)


async def test_control_sequences_in_a_log_are_shown_and_never_reach_the_terminal(make_app):
    app = make_app()
    async with app.run_test(size=(160, 30)) as pilot:
        view = await open_source(pilot, TextSource(HOSTILE, "hostile.log"))
        rows = view.visible_text()
        assert rows[1].startswith("colour ␛[31mRED␛[0m and a title ␛]0;pwned␇ and [bold]markup[/bold]")
        assert "[link=https://x.example]x[/link]" in rows[1]
        assert rows[2].startswith("clear ␛[2J bell ␇ c1 <9b>31m")
        strips = [view.render_line(y) for y in range(3)]
        assert all(seg.style is None or (seg.style.link is None and not seg.style.bold) for s in strips for seg in s)
        # what the terminal would be sent for the whole screen: the log's sequences as text, none as sequences
        out = app.screen._compositor.render_update(full=True).render_segments(app.console)
        assert "␛[31mRED" in out and "␛]0;pwned␇" in out
        for seq in ("\x1b[31mRED", "\x1b]0;", "\x1b[2J", "\x07", "\x9b"):
            assert seq not in out


# -- line sources -----------------------------------------------------------------------------------
def index_all(source: LineSource) -> LineSource:
    while source.index_more(7):  # tiny chunks: lines straddle them
        pass
    return source


def test_a_text_source_indexes_its_lines_crlf_and_an_unended_last_one():
    s = index_all(TextSource("one\r\ntwo\n\nfour", "t"))
    assert s.line_count == 4 and s.complete
    assert [s.line(i)[0] for i in range(4)] == [b"one", b"two", b"", b"four"]
    assert s.line(4) is None and s.longest == 4


def test_big_chunks_index_as_small_ones_do():
    text = "".join(f"{'x' * (i % 300)}\r\n" if i % 7 else "\n" for i in range(2000)) + "tail"
    small, big = index_all(TextSource(text, "a")), TextSource(text, "b")
    while big.index_more(logsource.CHUNK):  # past FIRST_CHUNK: the numpy path
        pass
    assert big.size > logsource.FIRST_CHUNK and big.line_count == small.line_count == 2001
    assert big._starts == small._starts and big.longest == small.longest == 300
    assert [big.line(i) for i in (0, 1, 7, 299, 2000)] == [small.line(i) for i in (0, 1, 7, 299, 2000)]


def test_a_file_source_lines_show_before_the_index_is_done(tmp_path):
    path = tmp_path / "f.log"
    path.write_bytes(b"".join(b"%05d\n" % i for i in range(10_000)))
    s = FileSource(path)
    s.index_more(logsource.FIRST_CHUNK // 16)
    assert 0 < s.line_count < 10_000 and not s.complete
    assert s.line(3) == (b"00003", 5)
    index_all(s)
    assert s.line_count == 10_000 and s.line_of(s.offset_of(9_999)) == 9_999


def test_find_forward_and_backward_across_windows(monkeypatch):
    monkeypatch.setattr(logsource, "SEARCH_WINDOW", 64)
    s = index_all(TextSource(numbered(300, {5: "Xy", 150: "xY", 299: "xy"}), "t"))
    hits = []
    at = 0
    while (off := s.find(b"xy", at, ignore_case=True)) is not None:
        hits.append(s.line_of(off))
        at = s.offset_of(hits[-1] + 1)
    assert hits == [5, 150, 299]
    assert s.line_of(s.find(b"xY", s.size, backward=True)) == 150 and s.find(b"xY", 0) == s.offset_of(150) + 18
    assert s.line_of(s.find(b"xy", s.offset_of(299), backward=True, ignore_case=True)) == 150
    assert s.find(b"xy", s.offset_of(5), backward=True, ignore_case=True) is None


def test_a_truncated_file_is_indexed_again_from_the_top(tmp_path):
    path = tmp_path / "rot.log"
    path.write_text(numbered(100))
    s = index_all(FileSource(path))
    assert s.line_count == 100
    path.write_text("fresh\n")  # truncated and rewritten in place (copytruncate)
    assert s.grown()
    index_all(s)
    assert s.line_count == 1 and s.line(0) == (b"fresh", 5)


def test_a_long_line_is_read_in_part(tmp_path):
    path = tmp_path / "wide.log"
    path.write_bytes(b"x" * (logsource.MAX_LINE_BYTES * 3) + b"\nshort\n")
    s = index_all(FileSource(Path(path)))
    data, whole = s.line(0)
    assert len(data) == logsource.MAX_LINE_BYTES and whole == logsource.MAX_LINE_BYTES * 3
    assert s.line(1) == (b"short", 5)
