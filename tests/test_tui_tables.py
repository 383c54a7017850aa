"""Tables across refreshes: rows are updated by key, so the operator's place — cursor, scroll, marks —
survives every refresh, and keys pressed while one runs are all applied."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Cli
from test_tui import goto, settle, wait_rows

from console.app import ConsoleApp
from console.engine import Engine
from console.settings import load

PINNED = "2026-11-20T12:00:00Z"
ATTEMPTS = 6000  # a long-lived estate's job attempts: more than any window of the newest would hold


@pytest.fixture(scope="module")
def big_home(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("big")
    home = root / "home"
    Cli(root / "cli").ok("--home", str(home), "--scale", f"jobs={ATTEMPTS}", "version")
    return home


@pytest.fixture
def make_app(monkeypatch, tmp_path):
    monkeypatch.setenv("MLOPS_CONSOLE_NOW", PINNED)
    monkeypatch.setenv("MLOPS_CONSOLE_CONFIG", str(tmp_path / "none.toml"))

    def make(home: Path) -> ConsoleApp:
        # read-only: these tests look; nothing the app's reconcile writes changes the rows under them
        settings = load({"home": str(home), "user": "erin", "read_only": True})
        return ConsoleApp(Engine(settings), settings)

    return make


async def test_keys_pressed_across_refreshes_of_every_attempt_all_land_and_the_scroll_stays(make_app, big_home):
    app = make_app(big_home)
    async with app.run_test(size=(120, 40)) as pilot:
        await goto(pilot, "jobs")
        await wait_rows(pilot)
        await pilot.press("f")  # every attempt, not only the failed ones
        table = await wait_rows(pilot, 2500)
        keys = [table.key_at(i) for i in range(table.row_count)]
        await pilot.press("pagedown", "pagedown")  # rows far down the table
        await settle(pilot)
        scrolled, start = table.scroll_y, table.cursor_row  # (the toggle kept the cursor on its attempt)
        assert scrolled > 0
        await pilot.press("ctrl+r")
        app.screen.refresh_data(force=True)
        await settle(pilot)
        assert (table.scroll_y, table.cursor_row) == (scrolled, start)  # a refresh moves neither
        moves = 30
        for n in range(moves):
            await pilot.press("down")
            if n % 3 == 0:
                await pilot.press("ctrl+r")  # a refresh, left running while the next keys are pressed
            elif n % 3 == 1:
                app.screen.refresh_data()  # as the app's refresh loop asks for one
        await settle(pilot)  # every refresh done and shown
        assert table.cursor_row == start + moves and app.screen.selected_key() == keys[start + moves]
        assert table.scroll_y <= table.cursor_row < table.scroll_y + table.size.height - 1  # on screen
        assert table.row_count == len(keys)
        assert [table.key_at(i) for i in range(table.row_count)] == keys


async def test_marks_the_cursor_and_the_filter_survive_a_refresh(make_app, demo_home, tmp_path):
    from conftest import copy_home

    app = make_app(copy_home(demo_home, tmp_path / "home"))
    async with app.run_test(size=(140, 40)) as pilot:
        await goto(pilot, "nodes")
        table = await wait_rows(pilot, 40)
        await pilot.press("space", "down", "space")  # marks the 1st and 3rd rows; the cursor is on the 4th
        marked = set(app.screen.marked)
        await pilot.press("slash", *"gpu", "enter")
        await settle(pilot)
        shown = [table.key_at(i) for i in range(table.row_count)]
        await pilot.press("down")
        selected = app.screen.selected_key()
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert app.screen.marked == marked and app.screen.selected_key() == selected
        assert [table.key_at(i) for i in range(table.row_count)] == shown
        await pilot.press("escape")  # the filter cleared: every row back, in order, the cursor on its row
        await settle(pilot)
        assert table.row_count == 40 and app.screen.selected_key() == selected


async def test_the_filter_reaches_the_oldest_attempt(make_app, big_home):
    app = make_app(big_home)
    async with app.run_test(size=(120, 40)) as pilot:
        await goto(pilot, "jobs")
        await wait_rows(pilot)
        await pilot.press("f")  # every attempt
        table = await wait_rows(pilot, ATTEMPTS)
        oldest = min(app.engine.attempts(), key=lambda a: (a.submitted_at, a.run_id))
        await pilot.press("slash", *oldest.run_id, "enter")
        await settle(pilot)
        assert oldest.run_id in table.row_keys
