"""The dashboard under Pilot: its panels use the screen (names whole, no empty rows below them), one panel is
selected (tab, arrows, a click) and `enter` opens its view."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from test_tui import settle
from test_tui_changes import until

from console.app import ConsoleApp
from console.engine import Engine
from console.settings import load
from screens.dashboard import Board

PINNED = "2026-11-20T12:00:00Z"
DEPLOYMENTS = ("churn-predictor", "fraud-scorer", "image-tagger", "ranker", "text-embedder")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("dash-home")


@pytest.fixture
def make_app(home, monkeypatch):
    monkeypatch.setenv("MLOPS_CONSOLE_NOW", PINNED)
    monkeypatch.setenv("MLOPS_CONSOLE_CONFIG", str(home / "none.toml"))

    def make() -> ConsoleApp:
        settings = load({"home": str(home / "h"), "user": "erin", "read_only": True})
        return ConsoleApp(Engine(settings), settings)

    return make


async def loaded(pilot) -> Board:
    board = pilot.app.screen.query_one(Board)
    await until(pilot, lambda: bool(board.layout_.placed))
    await settle(pilot)
    return board


def drawn(board: Board) -> list[str]:
    """The board's lines as the terminal shows them, at the board's own width."""
    console = Console(width=board.size.width, file=io.StringIO(), record=True, color_system=None)
    console.print(board.content)
    return console.export_text().splitlines()


def selected(board: Board) -> str:
    return board.panels[board.selected].key


@pytest.mark.parametrize("size", [(120, 40), (80, 24), (60, 20)])
async def test_panels_show_names_whole_and_use_the_height(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        board = await loaded(pilot)
        text = "\n".join(drawn(board))
        for name in DEPLOYMENTS:  # "churn-predi…" at 120 columns, with 17 empty rows below
            assert f" {name} " in text, (name, text)
        assert "agg-hourly-impressions" in text and "r0000789" in text
        grid = app.screen.query_one("#grid")
        if size == (120, 40):  # two columns that fill the screen: no row left empty below the panels
            assert board.size.height == grid.size.height and len(drawn(board)) == grid.size.height
            assert drawn(board)[-1].startswith(("╰", "┗"))  # the last line is a panel's bottom
        else:  # one column, scrolled: taller than the screen
            assert board.size.height > grid.size.height


async def test_tab_and_arrows_move_the_selection_and_enter_opens_the_panels_view(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        board = await loaded(pilot)
        assert selected(board) == "cluster" and "enter: :nodes" in "\n".join(drawn(board))
        await pilot.press("tab")
        assert selected(board) == "failing" and "enter: :jobs" in "\n".join(drawn(board))
        await pilot.press("enter")
        await until(pilot, lambda: app.current_mode == "jobs")
        await pilot.press("escape")
        await until(pilot, lambda: app.current_mode == "dashboard")
        assert selected(board) == "failing"  # kept
        await pilot.press("down")  # the serving panel, a row of its own
        assert selected(board) == "serving"
        await pilot.press("down")  # through it, the column it came from: the right one
        assert selected(board) == "rollouts"
        await pilot.press("right")  # nothing to its right: it stays
        assert selected(board) == "rollouts"
        await pilot.press("left")
        assert selected(board) == "approvals"
        await pilot.press("enter")
        await until(pilot, lambda: app.current_mode == "autofix")
        await pilot.press("escape")
        await until(pilot, lambda: app.current_mode == "dashboard")
        await pilot.press("shift+tab", "shift+tab")  # back round: serving, then failing
        assert selected(board) == "failing"
        await pilot.press("up")  # the top row: it stays
        assert selected(board) == "failing"
        await pilot.press("left")
        assert selected(board) == "cluster"


async def test_the_drift_panel_opens_the_drifted_nodes(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        board = await loaded(pilot)
        grid = app.screen.query_one("#grid")
        for _ in range(5):
            await pilot.press("down")
        assert selected(board) == "drift"
        await until(pilot, lambda: grid.scroll_y > 0)  # one column: scrolled to the selected panel
        here = next(pl.region for pl in board.layout_.placed if pl.panel.key == "drift")
        assert grid.scroll_y <= here.y and here.bottom <= grid.scroll_y + grid.size.height
        await pilot.press("enter")
        await until(pilot, lambda: app.current_mode == "nodes")
        drifted = {d["node"] for d in app.engine.drift()}
        assert drifted  # the demo has two
        await until(pilot, lambda: app.screen.drift_only and app.screen.table.row_count == len(drifted))
        assert "drift" in app.screen.TITLE


async def test_a_click_selects_a_panel_and_a_double_click_opens_it(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        board = await loaded(pilot)
        rollouts = next(pl.region for pl in board.layout_.placed if pl.panel.key == "rollouts")
        await pilot.click(Board, offset=(rollouts.x + 3, rollouts.y + 1))
        assert selected(board) == "rollouts" and app.current_mode == "dashboard"
        await pilot.click(Board, offset=(rollouts.x + 3, rollouts.y + 1), times=2)
        await until(pilot, lambda: app.current_mode == "rollouts")
