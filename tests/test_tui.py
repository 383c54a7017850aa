"""The TUI under Pilot, as an operator drives it: every view, filter, drill in, come back, quit."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from rich.console import Console
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from console.app import VIEWS
from screens.detail import DescribeScreen
from screens.grid import Grid
from screens.logscreen import LogScreen
from screens.overlays import HelpScreen

PINNED = "2026-11-20T12:00:00Z"


async def settle(pilot) -> None:
    """Wait until every worker started so far has finished (what it sent back to the UI thread is handled
    before it finishes), then until the app is idle."""
    for worker in list(pilot.app.workers):
        try:
            await worker.wait()
        except Exception:  # failed or cancelled: the app's one handler has said so
            pass
    await pilot.pause()


async def wait_rows(pilot, minimum: int = 1) -> Grid:
    """Wait until the active view's worker has filled its table."""
    for _ in range(100):
        await settle(pilot)
        tables = pilot.app.screen.query(Grid)
        if tables and tables.first().row_count >= minimum:
            return tables.first()
        await pilot.pause(0.05)
    raise AssertionError(f"{type(pilot.app.screen).__name__}: table never filled")


def type_fast(app, keys: str, first: tuple[str, str] | None = None) -> None:
    """Keys as the terminal delivers a burst (a fast typist, a paste, tmux send-keys): queued at once, no
    pause between them."""
    from textual import events

    for key, ch in ([first] if first else []) + [(c, c) for c in keys]:
        app.post_message(events.Key(key, ch))


async def goto(pilot, view: str) -> None:
    await pilot.press("colon")
    await pilot.pause()
    for ch in view:
        await pilot.press(ch)
    await pilot.press("enter")
    await pilot.pause()


def plain(widget: Static) -> str:
    """What a Static shows, as plain text (Rich renderables rendered off-screen)."""
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(widget.content)
    return console.export_text()


def screen_text(app) -> str:
    return "\n".join(plain(w) for w in app.screen.query(Static))


async def test_dashboard_shows_the_demo_estate(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if "nodes ready" in screen_text(app):
                break
        text = screen_text(app)
        assert "39/40 nodes ready" in text  # the fixture estate has one NotReady node
        assert "ranker r3 at 20%" in text  # the canary in flight
        assert "pool highmem: 2/14 nodes on ncfg-2026.10.3" in text  # the config drift
        assert "churn-gbm" in text  # the score drift alert


async def test_a_command_typed_fast_after_the_colon_reaches_the_command_line_not_the_view(make_app):
    """The terminal delivers `:autofix⏎` at once (a fast typist, a paste, tmux send-keys): every key after
    the `:` is the command's, none is lost to the view below, where a letter may be a binding."""
    from textual import events

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        for key, ch in [("colon", ":"), *((c, c) for c in "autofix"), ("enter", "\r")]:
            app.post_message(events.Key(key, ch))  # as the driver does: no pause between them
        for _ in range(100):
            await pilot.pause(0.05)
            if app.current_mode == "autofix":
                break
        assert app.current_mode == "autofix" and not isinstance(app.screen, ModalScreen)
        # in a text box, `:` is text: the filter keeps it, and no command line opens
        await wait_rows(pilot)
        await pilot.press("slash", "a", "colon", "b")
        assert app.focused.value == "a:b" and isinstance(app.focused, Input)


async def _the_filter_holds(pilot, word: str) -> Input:
    from test_tui_changes import until

    box = pilot.app.screen.query_one("#filter", Input)
    await until(pilot, lambda: box.value == word)
    await settle(pilot)
    return box


@pytest.mark.parametrize("while_loading", [False, True])
async def test_keys_typed_fast_after_the_slash_reach_the_filter_not_the_table(make_app, while_loading):
    """`/cordon` at terminal speed: every key after `/` is the filter's. None reaches the table, where `c`
    cordons the selected node and `r` drains it — also while the view's rows are being reloaded."""
    import threading

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await goto(pilot, "nodes")
        await wait_rows(pilot, 40)
        trail = len(app.engine.audit_events())
        cordoned = {n.name for n in app.engine.nodes() if n.unschedulable}
        gate = threading.Event()
        if while_loading:  # a refresh in flight: its rows land while the keys are being handled
            nodes = app.engine.nodes
            app.engine.nodes = lambda *a, **kw: gate.wait(60) and nodes(*a, **kw)
            await pilot.press("ctrl+r")
        type_fast(app, "cordon", first=("slash", "/"))
        gate.set()
        box = await _the_filter_holds(pilot, "cordon")
        assert app.focused is box and not isinstance(app.screen, ModalScreen)  # no drain dialog either
        assert len(app.engine.audit_events()) == trail  # nothing cordoned, nothing changed
        assert {n.name for n in app.engine.nodes() if n.unschedulable} == cordoned


async def test_a_q_typed_fast_after_the_slash_is_text_and_the_app_stays_up(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await goto(pilot, "jobs")
        await wait_rows(pilot)
        type_fast(app, "quota", first=("slash", "/"))
        await _the_filter_holds(pilot, "quota")
        assert app.is_running and app.return_code is None and app.current_mode == "jobs"


async def test_every_view_filter_describe_and_back(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        for view in VIEWS:
            if view == "dashboard":
                continue
            await goto(pilot, view)
            assert app.current_mode == view
            table = await wait_rows(pilot)
            total = table.row_count
            # `/` filters the current table; the status line says how many rows are left.
            first_key = table.key_at(0)
            needle = str(
                table.get_row_at(0)[0].plain if hasattr(table.get_row_at(0)[0], "plain") else table.get_row_at(0)[0]
            )
            await pilot.press("slash")
            for ch in needle.strip()[:12]:
                await pilot.press(ch)
            await pilot.pause()
            assert 1 <= table.row_count <= total
            assert table.key_at(0) == first_key
            await pilot.press("enter")  # closes the filter box, keeps the filter
            await pilot.press("enter")  # describe the selected row
            for _ in range(50):
                await pilot.pause(0.05)
                if isinstance(app.screen, DescribeScreen) and "loading" not in plain(app.screen.query_one("#body")):
                    break
            assert isinstance(app.screen, DescribeScreen), view
            body = plain(app.screen.query_one("#body", Static))
            assert ":" in body and "loading" not in body
            await pilot.press("escape")  # back from describe
            assert not isinstance(app.screen, DescribeScreen)
            await pilot.press("escape")  # clears the filter
            await pilot.pause()
            assert table.row_count == total
        # esc with nothing to close goes back through the views visited
        await pilot.press("escape")
        await pilot.pause()
        assert app.current_mode == "audit"


async def test_filter_matches_nothing_then_clears(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "nodes")
        table = await wait_rows(pilot, 40)
        await pilot.press("slash", *"zzz-no-such-node")
        await pilot.pause()
        assert table.row_count == 0
        assert "0 of 40" in plain(app.screen.query_one("#status", Static))
        await pilot.press("escape")
        await pilot.pause()
        assert table.row_count == 40
        assert not app.screen.query_one("#filter", Input).has_class("visible")


async def test_g_and_G_and_home_and_end_go_to_the_first_and_last_row(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "nodes")
        table = await wait_rows(pilot, 40)
        for key, row in (("G", 39), ("g", 0), ("end", 39), ("home", 0)):
            await pilot.press(key)
            await pilot.pause()
            assert table.cursor_row == row, key
        await pilot.press("slash", "a", "b", "home", "x")  # in the filter box, home is the box's
        await pilot.pause()
        assert app.screen.query_one("#filter", Input).value == "xab"


async def test_job_log_view_shows_the_failure_tail(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await goto(pilot, "jobs")
        table = await wait_rows(pilot)
        run_id = table.key_at(0)
        await pilot.press("l")
        for _ in range(100):
            await pilot.pause(0.05)
            if isinstance(app.screen, LogScreen) and app.screen.view.line_count:
                break
        assert isinstance(app.screen, LogScreen)
        view = app.screen.view
        tail = app.engine.attempt(run_id).log_tail
        last_line = [ln for ln in tail.splitlines() if ln.strip()][-1]
        last = view.source.line(view.line_count - 1)[0].decode()
        assert last_line.strip() in last
        await pilot.press("escape")
        assert app.current_mode == "jobs" and not isinstance(app.screen, LogScreen)


async def test_jobs_toggle_failed_and_all(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await goto(pilot, "jobs")
        table = await wait_rows(pilot)
        failed = table.row_count
        assert failed == len(app.engine.attempts(failed=True))
        await pilot.press("f")
        for _ in range(60):
            await pilot.pause(0.05)
            if table.row_count > failed:
                break
        assert table.row_count == len(app.engine.attempts())  # every attempt: no window of the newest


async def test_help_lists_every_key_and_unknown_command_keeps_app_up(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "nodes")
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for key in (":", "?", "/", "⏎", "esc", "q", "^p"):  # as the footer shows them
            assert key in text, key
        for view in VIEWS:
            assert f":{view}" in text
        await pilot.press("escape")
        await goto(pilot, "no-such-view")
        assert app.current_mode == "nodes"
        assert any("unknown command" in str(n.message) for n in app._notifications)


async def test_command_palette_lists_views(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for view in VIEWS:
            assert f"Go to {view.capitalize()}" in titles
        # and running one navigates
        next(c for c in app.get_system_commands(app.screen) if c.title == "Go to Audit").callback()
        await pilot.pause()
        assert app.current_mode == "audit"


async def test_small_terminal_stays_usable(make_app):
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        for _ in range(60):
            await pilot.pause(0.05)
            if "nodes ready" in screen_text(app):
                break
        assert app.screen.has_class("narrow")  # one column of panels
        await goto(pilot, "jobs")
        table = await wait_rows(pilot)
        assert table.size.width <= 60
        await pilot.press("q")
    assert app.return_code in (0, None)


async def test_read_only_is_shown(make_app):
    app = make_app(read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "READ-ONLY" in app.sub_title and "alice" in app.sub_title


async def test_worker_error_is_shown_and_app_stays_up(make_app, tui_home):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "jobs")
        await wait_rows(pilot)
        # A store that disappears under the view (disk trouble) must not take the TUI down.
        cluster = app.engine._w.cluster
        reads = ("list_attempts", "iter_attempts", "iter_attempt_records")
        original = {name: getattr(cluster, name) for name in reads}
        for name in reads:
            setattr(cluster, name, lambda **kw: (_ for _ in ()).throw(OSError("disk I/O error")))
        await pilot.press("ctrl+r")
        for _ in range(40):
            await pilot.pause(0.05)
            if app._notifications:
                break
        assert any("disk I/O error" in str(n.message) for n in app._notifications)
        for name, method in original.items():
            setattr(cluster, name, method)
        assert app.is_running


def test_first_frame_on_the_demo_imports_neither_torch_nor_sklearn_nor_the_kubernetes_client(tui_home):
    """Start the real app headless, let it paint its first frame, then look at sys.modules."""
    code = (
        "import sys\n"
        "from console.settings import load\n"
        "from console.engine import Engine\n"
        "from console.app import ConsoleApp\n"
        "s = load({'home': sys.argv[1]})\n"
        "app = ConsoleApp(Engine(s), s)\n"
        "app.call_after_refresh(lambda: app.set_timer(0.5, app.exit))\n"
        "app.run(headless=True)\n"
        "bad = [m for m in ('torch', 'sklearn', 'kubernetes') if m in sys.modules]\n"
        "print('heavy:', bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    env = {**os.environ, "MLOPS_CONSOLE_CONFIG": str(tui_home / "none.toml"), "MLOPS_CONSOLE_NOW": PINNED}
    p = subprocess.run([sys.executable, "-c", code, str(tui_home)], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "heavy: []" in p.stdout
