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
ATTEMPTS = 2866  # a long-lived demo estate's job attempts


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
        keys = [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]
        await pilot.press("right", "right", "right")  # the evidence column is off to the right
        await settle(pilot)
        scrolled, start = table.scroll_x, table.cursor_row  # (the toggle kept the cursor on its attempt)
        assert scrolled > 0
        moves = 30
        for n in range(moves):
            await pilot.press("down")
            if n % 3 == 0:
                await pilot.press("ctrl+r")  # a refresh, left running while the next keys are pressed
            elif n % 3 == 1:
                app.screen.refresh_data()  # as the app's refresh loop asks for one
        await settle(pilot)  # every refresh done and shown
        assert table.cursor_row == start + moves and app.screen.selected_key() == keys[start + moves]
        assert table.scroll_x == scrolled
        assert table.row_count == len(keys)
        assert [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)] == keys


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
        shown = [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]
        await pilot.press("down")
        selected = app.screen.selected_key()
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert app.screen.marked == marked and app.screen.selected_key() == selected
        assert [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)] == shown
        await pilot.press("escape")  # the filter cleared: every row back, in order, the cursor on its row
        await settle(pilot)
        assert table.row_count == 40 and app.screen.selected_key() == selected
