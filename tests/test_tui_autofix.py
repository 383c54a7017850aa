"""The Autofix screen under Pilot: approve, edit and reject suggestions; each retry is an audited change
submitted to the backend; a viewer is not offered the actions."""

from __future__ import annotations

import pytest
from conftest import copy_home, doomed_past
from test_tui import goto, plain, settle, wait_rows
from test_tui_changes import until
from textual.widgets import Input, Static

from console.app import ConsoleApp
from console.engine import Engine
from console.settings import load
from screens.dialogs import ConfirmScreen, FormScreen

PINNED = "2026-11-20T12:00:00Z"


@pytest.fixture
def make_app(trained_home, tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_CONSOLE_NOW", PINNED)
    monkeypatch.setenv("MLOPS_CONSOLE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("MLOPS_CONSOLE_SIM_JOB_SECONDS", "0")
    home = copy_home(trained_home, tmp_path / "home")

    def make(reconcile: bool = True, **cli) -> ConsoleApp:
        """The app on the estate, its queue filled first by an explicit reconcile (the app's own, at its
        start, then finds nothing new)."""
        if reconcile:
            Engine(load({"home": str(home), "user": "erin"})).autofix_reconcile()
        settings = load({"home": str(home), "user": "erin", **cli})
        return ConsoleApp(Engine(settings), settings)

    make.home = home
    return make


async def select_memory_suggestion(pilot, app) -> int:
    """Put the cursor on the first suggestion the model made; return its id."""
    table = await wait_rows(pilot)
    ids = [table.key_at(i) for i in range(table.row_count)]
    target = next(k for k in ids if app.screen.items[k].model)
    table.move_cursor(row=ids.index(target))
    await pilot.pause()
    return int(target)


def dialog_text(app) -> str:
    return " ".join(plain(w) for w in app.screen.query(Static))


def retries(app, sid: int):
    return [e for e in app.engine.audit_events() if e.verb == "retry" and e.annotations.get("suggestion") == sid]


async def test_approve_submits_an_audited_retry(make_app):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await goto(pilot, "autofix")
        sid = await select_memory_suggestion(pilot, app)
        s = app.engine.suggestion(sid)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.focused is not None)
        # as every confirmation: it starts on Cancel, and says that `y` confirms
        assert app.screen.focused.id == "no" and "y confirms" in dialog_text(app)
        await pilot.press("y")
        await until(pilot, lambda: app.engine.suggestion(sid).status == "approved")
        done = app.engine.suggestion(sid)
        retry = app.engine.attempt(done.retry_run_id)
        assert retry.attempt == s.attempt + 1 and retry.conf == s.retry_conf
        trail = retries(app, sid)
        assert [e.stage for e in trail] == ["ResponseComplete", "RequestReceived"] and trail[0].user == "erin"
        assert trail[0].annotations["conf_changed"] == s.conf


async def test_a_no_retry_advice_is_shown_and_approving_it_says_why_without_submitting(make_app, tmp_path):
    import json

    from core.types import to_dict

    app = make_app(reconcile=False)
    peek = Engine(load({"home": str(copy_home(make_app.home, tmp_path / "peek"))}))
    peek.autofix_reconcile()
    first = next(s for s in peek.autofix_queue() if s.category == "memory_exceeded" and s.model)
    past = tmp_path / "past.jsonl"
    past.write_text(json.dumps(doomed_past(to_dict(app.engine.attempt(first.run_id)))) + "\n")
    app.engine.import_history(str(past))
    app.engine.autofix_reconcile()  # the suggestion made knowing the doomed past
    async with app.run_test(size=(160, 40)) as pilot:
        await goto(pilot, "autofix")
        sid = await select_memory_suggestion(pilot, app)
        assert app.engine.suggestion(sid).action == "no_retry"
        await pilot.press("a")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)  # nothing to confirm: it says why at once
        await until(pilot, lambda: any("advises no retry" in str(n.message) for n in app._notifications))
        assert app.engine.suggestion(sid).status == "pending" and not retries(app, sid)


async def test_approving_a_failure_that_needs_a_config_nobody_suggested_says_why_at_once(make_app):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await goto(pilot, "autofix")
        table = await wait_rows(pilot)
        ids = [table.key_at(i) for i in range(table.row_count)]
        target = next(
            k for k in ids if app.screen.items[k].action == "retry_with_conf" and not app.screen.items[k].conf
        )
        table.move_cursor(row=ids.index(target))
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)  # nothing to confirm: it says why at once
        await until(pilot, lambda: any("needs a config change" in str(n.message) for n in app._notifications))
        said = next(str(n.message) for n in app._notifications if "needs a config change" in str(n.message))
        assert "press e" in said.lower() and "autofix edit" not in said  # the key here, not the CLI's command
        assert app.engine.suggestion(int(target)).status == "pending" and not retries(app, int(target))
        # edited, it is approvable, and the dialog no longer asks for an edit
        kind = app.engine.attempt(app.screen.items[target].run_id).kind
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, FormScreen) and app.screen.focused is not None)
        key = "spark.executor.memory=16g" if kind == "spark" else "resources.memory=64g"
        app.screen.query_one("#f-changes", Input).value = key
        await pilot.press("ctrl+o")
        await until(pilot, lambda: app.engine.suggestion(int(target)).edited_by == "erin")
        await until(pilot, lambda: getattr(app.screen.items.get(target), "edited_by", None) == "erin")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.focused is not None)
        text = dialog_text(app)
        assert "before approving" not in text and "edited by erin" in text, text
        await pilot.press("y")
        await until(pilot, lambda: app.engine.suggestion(int(target)).status == "approved")


async def test_edit_then_approve_runs_the_edited_config(make_app):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await goto(pilot, "autofix")
        sid = await select_memory_suggestion(pilot, app)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, FormScreen) and app.screen.focused is not None)
        box = app.screen.query_one("#f-changes", Input)
        box.value = "spark.executor.memory=20gb-ish"  # a typo: the dialog stays open, says why, keeps it
        await pilot.press("ctrl+o")
        await settle(pilot)  # the check asks the engine, in a worker
        assert isinstance(app.screen, FormScreen) and box.value == "spark.executor.memory=20gb-ish"
        assert "is not a memory size" in str(app.screen.query_one("#problem", Static).render())
        assert app.engine.suggestion(sid).edited_by is None
        box.value = "spark.executor.memory=20g spark.sql.shuffle.partitions=999"
        await pilot.press("ctrl+o")
        await until(pilot, lambda: app.engine.suggestion(sid).edited_by == "erin")
        edited = app.engine.suggestion(sid)
        assert edited.status == "pending" and edited.conf["spark.executor.memory"] == "20g"
        assert [e.verb for e in app.engine.audit_events()[:2]] == ["edit", "edit"]
        await until(pilot, lambda: getattr(app.screen.items.get(str(sid)), "edited_by", None) == "erin")  # reloaded
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.focused is not None)
        await pilot.press("y")
        await until(pilot, lambda: app.engine.suggestion(sid).status == "approved")
        retry = app.engine.attempt(app.engine.suggestion(sid).retry_run_id)
        assert retry.conf["spark.executor.memory"] == "20g" and retry.conf["spark.sql.shuffle.partitions"] == "999"
        assert retries(app, sid)


async def test_reject_records_the_reason_and_submits_nothing(make_app):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await goto(pilot, "autofix")
        sid = await select_memory_suggestion(pilot, app)
        attempts = len(app.engine.attempts())
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, FormScreen) and app.screen.focused is not None)
        await pilot.press("ctrl+o")  # no reason: the dialog stays open and asks for one
        await settle(pilot)
        assert isinstance(app.screen, FormScreen) and app.engine.suggestion(sid).status == "pending"
        assert "needs a reason" in str(app.screen.query_one("#problem", Static).render())
        app.screen.query_one("#f-reason", Input).value = "owner is rewriting the job"
        await pilot.press("ctrl+o")
        await until(pilot, lambda: app.engine.suggestion(sid).status == "rejected")
        s = app.engine.suggestion(sid)
        assert s.reason == "owner is rewriting the job" and s.decided_by == "erin" and s.retry_run_id is None
        assert len(app.engine.attempts()) == attempts and not retries(app, sid)
        assert app.engine.audit_events()[0].verb == "reject"
        await until(pilot, lambda: str(sid) not in app.screen.items)  # gone from the pending list


async def test_a_viewer_is_not_offered_approve_edit_or_reject(make_app):
    app = make_app(read_only=True)
    async with app.run_test(size=(160, 40)) as pilot:
        await goto(pilot, "autofix")
        await pilot.pause(0.3)
        for action in ("approve", "edit", "reject"):
            assert app.screen.check_action(action, ()) is False
        await pilot.press("a")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmScreen)


async def test_the_app_reconciles_at_start_in_a_worker_one_at_a_time_and_the_view_only_reads(make_app):
    import threading

    app = make_app(reconcile=False)
    gate, calls, writes = threading.Event(), [], []
    reconcile = app.engine.autofix_reconcile

    def gated() -> dict:
        calls.append(threading.current_thread() is not threading.main_thread())
        gate.wait(60)
        return reconcile()

    app.engine.autofix_reconcile = gated
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: calls)  # at start, off the UI thread
        app.reconcile()  # the schedule comes round while it runs: skipped
        gate.set()
        await settle(pilot)
        assert calls == [True]
        await goto(pilot, "autofix")
        table = await wait_rows(pilot)
        assert table.row_count == len(app.engine.autofix_queue())  # what the reconcile queued
        refresh = app.engine._w.approvals.refresh
        app.engine._w.approvals.refresh = lambda *a: writes.append(a) or refresh(*a)
        for key in ("ctrl+r", "h", "h"):  # a refresh, the decided ones too, and back
            await pilot.press(key)
            await settle(pilot)
        assert not writes and table.row_count == len(app.engine.autofix_queue())


async def test_a_read_only_app_never_reconciles(make_app):
    app = make_app(read_only=True)
    calls = []
    app.engine.autofix_reconcile = lambda: calls.append(1) or {}
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        app.reconcile()
        await settle(pilot)
        assert not calls


async def test_the_queue_shows_a_near_certain_p_as_above_099_not_100(make_app):
    """The P(OK) cell a person reads never rounds a model's 0.9996 up to 1.00."""
    import sqlite3

    from conftest import DB_NAME

    app = make_app()
    with sqlite3.connect(make_app.home / DB_NAME) as db:
        sid = db.execute("SELECT min(id) FROM suggestions WHERE model IS NOT NULL").fetchone()[0]
        db.execute("UPDATE suggestions SET p_success = 0.9996 WHERE id = ?", (sid,))
    async with app.run_test(size=(160, 40)) as pilot:
        await goto(pilot, "autofix")
        table = await wait_rows(pilot)
        cells = [str(getattr(c, "plain", c)) for c in table.get_row_at(table.get_row_index(str(sid)))]
        assert ">0.99" in cells and "1.00" not in cells
