"""Screens as the operator sees them (pytest-textual-snapshot). Clock and seed are pinned, so the SVGs
are stable; after an intended change of a screen, refresh with `pytest --snapshot-update`."""

from __future__ import annotations

import pytest
from test_tui import settle

from console.app import ConsoleApp
from console.engine import Engine
from console.settings import load

PINNED = "2026-11-20T12:00:00Z"


@pytest.fixture
def app_factory(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_CONSOLE_NOW", PINNED)
    monkeypatch.setenv("MLOPS_CONSOLE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("SSH_CLIENT", raising=False)
    # audit and operation ids are uuid4s, shown by the Audit and Ops views: drawn from a seeded generator
    # here, so that those screens are the same from one run to the next
    import random
    import uuid

    ids = random.Random(42)
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=ids.getrandbits(128), version=4))

    def make() -> ConsoleApp:
        settings = load({"home": str(tmp_path / "home"), "user": "snap"})
        engine = Engine(settings)
        # the queue filled before the app starts: the app's own reconcile then finds nothing to do, and
        # the screens show the same numbers however the workers interleave
        engine.autofix_reconcile()
        return ConsoleApp(engine, settings)

    return make


def test_dashboard(snap_compare, app_factory):
    async def run_before(pilot):
        for _ in range(100):
            await settle(pilot)
            if "loading" not in str(pilot.app.screen.query_one("#board").content):
                break
            await pilot.pause(0.05)

    assert snap_compare(app_factory(), terminal_size=(120, 34), run_before=run_before)


async def open_view(pilot, view: str) -> None:
    """`:view`, then wait until its table has rows and every worker has finished."""
    await pilot.press("colon", *view, "enter")
    for _ in range(200):
        await settle(pilot)
        if pilot.app.screen.query("Grid") and pilot.app.screen.query_one("Grid").row_count:
            break
        await pilot.pause(0.05)


def test_nodes_view_filtered(snap_compare, app_factory):
    async def run_before(pilot):
        await open_view(pilot, "nodes")
        await pilot.press("slash", *"highmem", "enter")
        await settle(pilot)

    assert snap_compare(app_factory(), terminal_size=(120, 30), run_before=run_before)


def test_autofix_queue_without_a_model(snap_compare, app_factory):
    """The queue before any model is trained: plain retries queued, memory failures waiting, T offered."""

    async def run_before(pilot):
        await open_view(pilot, "autofix")

    assert snap_compare(app_factory(), terminal_size=(130, 24), run_before=run_before)


VIEWS = ["dashboard", "nodes", "rollouts", "jobs", "signatures", "autofix", "models", "audit", "ops"]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("view", VIEWS)
def test_every_view(snap_compare, app_factory, view, size):
    """Every view at the two sizes operators use most: the columns that matter whole, nothing cut mid-word
    in the footer."""

    async def run_before(pilot):
        if view == "dashboard":
            for _ in range(100):
                await settle(pilot)
                if "loading" not in str(pilot.app.screen.query_one("#board").content):
                    break
                await pilot.pause(0.05)
            return
        await open_view(pilot, "jobs" if view == "signatures" else view)
        if view == "signatures":
            await pilot.press("s")
            for _ in range(200):
                await settle(pilot)
                if (
                    type(pilot.app.screen).__name__ == "SignaturesScreen"
                    and pilot.app.screen.query_one("Grid").row_count
                ):
                    break
                await pilot.pause(0.05)

    assert snap_compare(app_factory(), terminal_size=size, run_before=run_before)
