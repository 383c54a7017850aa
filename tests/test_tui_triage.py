"""Triage in the TUI: the Jobs screen's categories and evidence, a hostile log shown as text, and an
operator turning an unclassified signature into a rule."""

from __future__ import annotations

import pytest
from test_tui import goto, plain, settle, wait_rows

from console.app import ConsoleApp
from console.engine import Engine
from console.settings import load
from screens.grid import Grid
from screens.logscreen import LogScreen
from screens.logview import EVIDENCE_STYLE

PINNED = "2026-11-20T12:00:00Z"
HOSTILE = (
    "26/11/20 03:14:07 INFO Executor: [bold]not bold[/bold] \x1b[2J\x1b]0;pwned\x07 "
    "[link=https://evil.example]click[/link]\n"
    "26/11/20 03:14:09 ERROR Executor: java.lang.OutOfMemoryError: Java heap space [red]x[/red] \x1b[31m\n"
    "26/11/20 03:14:10 INFO ShutdownHookManager: Shutdown hook called\n"
)


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_CONSOLE_NOW", PINNED)
    monkeypatch.setenv("MLOPS_CONSOLE_CONFIG", str(tmp_path / "none.toml"))

    def make(**cli) -> ConsoleApp:
        settings = load({"home": str(tmp_path / "home"), "user": "dave", **cli})
        settings.rules_file = tmp_path / "rules.toml"
        return ConsoleApp(Engine(settings), settings)

    return make


async def test_jobs_screen_shows_category_action_rule_evidence(make_app):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await goto(pilot, "jobs")
        table = await wait_rows(pilot)
        headers = [c.title for c in table.columns]
        assert headers[3:7] == ["CATEGORY", "ACTION", "EVIDENCE", "RULE"]
        categories = {str(table.get_row_at(i)[3]) for i in range(table.row_count)}
        assert "memory_exceeded" in categories and len(categories) >= 10
        # filter by category
        await pilot.press("slash", *"memory_exceeded", "enter")
        await pilot.pause()
        assert 0 < table.row_count < len(categories) * 100
        assert all(str(table.get_row_at(i)[3]) == "memory_exceeded" for i in range(table.row_count))


async def test_hostile_log_is_shown_never_interpreted(make_app):
    app = make_app()
    engine = app.engine
    engine._w.cluster.store.insert_all(
        "attempts",
        [
            {  # a failure as the simulator's estate holds it
                "run_id": "r-hostile",
                "job_id": "evil-job",
                "attempt": 1,
                "submitted_at": "2026-11-20T11:59:00Z",
                "kind": "spark",
                "input_bytes": 1,
                "conf": {},
                "status": "failed",
                "log_tail": HOSTILE,
                "runtime_seconds": 1.0,
                "cost": 0.0,
                "node": "n1",
                "exit_code": 1,
                "reason": "Error",
                "extra": {},
            }
        ],
    )
    async with app.run_test(size=(240, 40)) as pilot:  # wide enough for the evidence line whole
        await goto(pilot, "jobs")
        table = await wait_rows(pilot)
        row = table.get_row_index("r-hostile")
        evidence = table.get_row_at(row)[5]
        assert evidence.endswith("Java heap space [red]x[/red] ␛[31m")  # markup and ESC shown as text
        table.move_cursor(row=row)
        await settle(pilot)
        line = table.render_line(row - round(table.scroll_y) + 1)  # as painted, below the header
        assert "[red]x[/red]" in line.text and "\x1b" not in line.text
        cell = next(seg for seg in line if "[red]x[/red]" in seg.text)
        assert not (cell.style and cell.style.color and cell.style.color.name == "red")
        await pilot.press("l")
        for _ in range(100):
            await pilot.pause(0.05)
            if isinstance(app.screen, LogScreen) and app.screen.view.evidence_line is not None:
                break
        view = app.screen.view
        strips = [view.render_line(y) for y in range(view.scrollable_content_region.height)]
        text = "\n".join(strip.text for strip in strips)
        assert "[bold]not bold[/bold] ␛[2J␛]0;pwned␇ [link=https://evil.example]click[/link]" in text
        assert "\x1b" not in text
        assert all(seg.style is None or seg.style.link is None for strip in strips for seg in strip)
        # the evidence line is the highlighted one
        lit = [s.text for s in strips if any(seg.style and seg.style.bgcolor == EVIDENCE_STYLE.bgcolor for seg in s)]
        assert len(lit) == 1 and "OutOfMemoryError" in lit[0]


async def test_creating_a_rule_from_a_signature(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        await goto(pilot, "jobs")
        await wait_rows(pilot)
        await pilot.press("s")
        table = await wait_rows(pilot)
        signature = table.key_at(0)
        count = int(str(table.get_row_at(0)[1]))
        await pilot.press("n")
        for _ in range(100):
            await pilot.pause(0.05)
            if "would classify" in plain(app.screen.query_one("#preview")):
                break
        preview = plain(app.screen.query_one("#preview"))
        assert f"would classify {count}" in preview or "would classify" in preview
        await pilot.press("ctrl+o")
        for _ in range(100):
            await pilot.pause(0.05)
            if (tmp_path / "rules.toml").exists() and not app.screen.query("#preview"):
                break
        text = (tmp_path / "rules.toml").read_text()
        assert "[[rule]]" in text and "user_code_error" in text
        rule_id = app.engine.rules()[0].id
        assert rule_id in text
        trail = [e for e in app.engine.audit_events() if e.object_ref.get("name") == rule_id]
        assert {e.stage for e in trail} == {"RequestReceived", "ResponseComplete"} and trail[0].user == "dave"
        # back on the signatures list, the signature is gone: its failures are classified now
        for _ in range(100):
            await pilot.pause(0.05)
            t = app.screen.query_one(Grid)
            if all(t.key_at(i) != signature for i in range(t.row_count)):
                break
        t = app.screen.query_one(Grid)
        assert all(t.key_at(i) != signature for i in range(t.row_count))


async def test_read_only_offers_no_new_rule(make_app, tmp_path):
    app = make_app(read_only=True)
    async with app.run_test(size=(140, 45)) as pilot:
        await goto(pilot, "jobs")
        await wait_rows(pilot)
        await pilot.press("s")
        await wait_rows(pilot)
        assert app.screen.check_action("new_rule", ()) is False
        await pilot.press("n")
        await pilot.pause(0.2)
        assert not app.screen.query("#preview")
        assert not (tmp_path / "rules.toml").exists()
