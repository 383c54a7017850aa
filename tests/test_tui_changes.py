"""Change management in the TUI: node actions (with marks and typed confirmation), rollout verbs, the
audit chain's status and rollback, and roles that hide what they do not allow."""

from __future__ import annotations

import pytest
from test_tui import goto, plain, wait_rows
from textual.widgets import Button, Input, Static

from console.app import ConsoleApp
from console.engine import Engine
from console.settings import load
from screens.dialogs import ConfirmScreen, FormScreen

PINNED = "2026-11-20T12:00:00Z"


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_CONSOLE_NOW", PINNED)
    monkeypatch.setenv("MLOPS_CONSOLE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("MLOPS_CONSOLE_SIM_POD_START", "0")

    def make(**cli) -> ConsoleApp:
        settings = load({"home": str(tmp_path / "home"), "user": "erin", **cli})
        return ConsoleApp(Engine(settings), settings)

    return make


async def until(pilot, predicate, tries: int = 400) -> None:
    # up to 20 s: a bound on waiting, not a timing assertion — under CI's two workers, re-scoring an
    # edit with the model once took longer than the 5 s this used to allow
    for _ in range(tries):
        await pilot.pause(0.05)
        if predicate():
            return
    raise AssertionError("condition never held")


async def test_cordon_and_uncordon_the_selected_node_are_audited(make_app):
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await goto(pilot, "nodes")
        table = await wait_rows(pilot)
        name = table.key_at(0)
        await pilot.press("c")  # asks first, naming the node; `y` says yes
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.focused is not None)
        assert name in " ".join(plain(s) for s in app.screen.query(Static))
        await pilot.press("y")
        await until(pilot, lambda: app.engine.node(name).unschedulable)
        trail = [e for e in app.engine.audit_events() if e.object_ref.get("name") == name]
        assert [e.stage for e in trail] == ["ResponseComplete", "RequestReceived"] and trail[0].verb == "cordon"
        assert trail[0].user == "erin"
        await pilot.press("u")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.focused is not None)
        await pilot.press("n")  # no: nothing changes
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert app.engine.node(name).unschedulable
        await pilot.press("u")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.focused is not None)
        await pilot.press("y")
        await until(pilot, lambda: not app.engine.node(name).unschedulable)


async def test_draining_marked_nodes_asks_to_type_the_count(make_app):
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await goto(pilot, "nodes")
        table = await wait_rows(pilot)
        names = [table.key_at(i) for i in range(2)]
        await pilot.press("space", "space")  # marks the first two rows
        assert app.screen.marked == set(names)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, FormScreen) and app.screen.focused is not None)
        ok = app.screen.query_one("#ok", Button)
        assert all(n in " ".join(plain(w) for w in app.screen.query(Static)) for n in names)  # named, not counted
        assert ok.disabled  # nothing typed yet
        app.screen.query_one("#typed", Input).value = "3"
        await pilot.pause()
        assert ok.disabled  # the wrong count
        await pilot.press("ctrl+o")  # refused, and says what it waits for
        await until(pilot, lambda: "type 2 to confirm" in plain(app.screen.query_one("#problem", Static)))
        app.screen.query_one("#typed", Input).value = "2"
        await pilot.pause()
        assert not ok.disabled
        await pilot.press("ctrl+o")
        await until(
            pilot,
            lambda: (
                all(app.engine.node(n).unschedulable for n in names)
                and not any(p for n in names for p in app.engine.pods(n) if not p.owner.startswith("DaemonSet/"))
            ),
        )


async def test_rollout_promote_and_abort_from_the_rollouts_view(make_app):
    app = make_app()
    engine = app.engine
    engine.rollout_start("fraud-scorer", "fraud-xgb", 9, [20, 100], None, {"window_minutes": 5, "failure_limit": 2})
    async with app.run_test(size=(140, 40)) as pilot:
        await goto(pilot, "rollouts")
        table = await wait_rows(pilot)
        table.move_cursor(row=table.get_row_index("fraud-scorer"))
        await until(pilot, lambda: "rollout paused" in plain(app.screen.query_one("#metrics")))
        await pilot.press("p")  # analysis passes, then 100%: version 9 serves
        await until(pilot, lambda: engine.deployment("fraud-scorer").active.model_version == 9)
        engine.rollout_start("fraud-scorer", "fraud-xgb", 8, [20, 100], None, {"window_minutes": 5, "failure_limit": 2})
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.focused is not None)
        await pilot.click("#yes")
        await until(pilot, lambda: engine.deployment("fraud-scorer").canary is None)
        assert engine.deployment("fraud-scorer").status == "Degraded"


async def test_audit_view_shows_the_chain_status_and_rolls_back(make_app):
    app = make_app()
    engine = app.engine
    node = engine.nodes()[0].name
    engine.label_words(node, ["team=ml"])
    async with app.run_test(size=(140, 40)) as pilot:
        await goto(pilot, "audit")
        table = await wait_rows(pilot)
        assert "chain verified" in plain(app.screen.query_one("#status"))
        table.move_cursor(row=0)  # the newest: the label change's outcome
        await pilot.press("enter")
        await until(pilot, lambda: "diff:" in plain(app.screen.query_one("#body")))
        assert "+    team: ml" in plain(app.screen.query_one("#body"))
        await pilot.press("escape")
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.focused is not None)
        # it starts on Cancel and says which key confirms; `enter` cancels, and says so
        assert app.screen.focused.id == "no" and "y confirms" in " ".join(plain(s) for s in app.screen.query(Static))
        await pilot.press("enter")
        await until(pilot, lambda: any("nothing changed" in str(n.message) for n in app._notifications))
        assert not isinstance(app.screen, ConfirmScreen) and engine.node(node).labels.get("team") == "ml"
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.focused is not None)
        await pilot.press("y")
        await until(pilot, lambda: "team" not in engine.node(node).labels)
        assert engine.audit_events()[0].verb == "rollback"
        # tamper with the store: the view says so
        engine._w.store.conn.execute("UPDATE audit SET user = 'mallory' WHERE seq = 2")
        await pilot.press("v")  # said at once, and in the title
        await until(pilot, lambda: any("CHAIN BROKEN at seq 2" in str(n.message) for n in app._notifications))
        await until(pilot, lambda: "CHAIN BROKEN at seq 2" in plain(app.screen.query_one("#status")))


@pytest.mark.parametrize("mode", ["read_only", "viewer"])
async def test_read_only_and_viewer_are_offered_no_change(make_app, tmp_path, mode):
    if mode == "viewer":
        (tmp_path / "none.toml").write_text('[roles]\nerin = "viewer"\n')
        app = make_app()
    else:
        app = make_app(read_only=True)
    before = app.engine.audit_count()
    async with app.run_test(size=(140, 40)) as pilot:
        for view, keys in (("nodes", "curlta"), ("rollouts", "npab"), ("audit", "b"), ("ops", "Rbp")):
            await goto(pilot, view)
            if view != "ops":
                await wait_rows(pilot)
            for key in keys:
                action = next(b.action for b in app.screen.BINDINGS if b.key == key)
                assert app.screen.check_action(action, ()) is False, (view, key)
                await pilot.press(key)
                await pilot.pause(0.1)
                assert not isinstance(app.screen, (ConfirmScreen, FormScreen)), (view, key)
        await pilot.pause(0.3)
    assert app.engine.audit_count() == before
    assert "(viewer)" in app.sub_title


async def test_the_demo_canary_in_flight_is_an_operation_to_promote_resume_or_abort(make_app):
    """The demo starts with the ranker's canary at 20%: a paused rollout operation from the first start, so
    that it shows in :ops, says what it waits for in :rollouts, and p, R (in :ops) and a move it on."""
    app = make_app()
    engine = app.engine
    [op] = engine.operations()
    assert (op["target"], op["state"], op["params"]["adopted"]) == ("deployment/ranker", "paused", True)
    assert "ranker r3 at 20% (ranking-dlrm v23): paused until promoted" in engine.summary().rollouts_in_flight
    async with app.run_test(size=(140, 40)) as pilot:
        await goto(pilot, "ops")
        table = await wait_rows(pilot)
        assert table.row_count == 1 and "paused" in " ".join(str(c) for c in table.get_row_at(0))
        await goto(pilot, "rollouts")
        table = await wait_rows(pilot)
        table.move_cursor(row=table.get_row_index("ranker"))
        # says what is paused and how to go on (it read "rollout paused:" and nothing)
        await until(
            pilot, lambda: "rollout paused until promoted: p analyses" in plain(app.screen.query_one("#metrics"))
        )
        await pilot.press("p")  # the analysis at 20% passes: on to 30%
        await until(pilot, lambda: engine.deployment("ranker").canary.weight == 30)
        await until(pilot, lambda: "; analyses: 20% pass" in plain(app.screen.query_one("#metrics")))
        await goto(pilot, "ops")
        await wait_rows(pilot)
        await pilot.press("R")  # a resume stops at the gate again, and says what passes it
        said = "paused at 30% until promoted: p in :rollouts promotes it"
        await until(pilot, lambda: any(said in str(n.message) for n in app._notifications))
        assert engine.deployment("ranker").canary.weight == 30
        await goto(pilot, "rollouts")
        table = await wait_rows(pilot)
        table.move_cursor(row=table.get_row_index("ranker"))
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.focused is not None)
        await pilot.press("y")
        await until(pilot, lambda: engine.deployment("ranker").canary is None)
        assert engine.operations()[0]["state"] == "aborted"


async def test_scaling_a_deployment_from_the_rollouts_view(make_app):
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await goto(pilot, "rollouts")
        table = await wait_rows(pilot)
        table.move_cursor(table.get_row_index("fraud-scorer"))
        before = app.engine.deployment("fraud-scorer").replicas
        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, FormScreen) and app.screen.focused is not None)
        box = app.screen.query_one("#f-replicas", Input)
        assert box.value == str(before)  # the form starts from what runs now
        box.value = "many"
        await pilot.press("ctrl+o")
        await until(pilot, lambda: "whole number" in " ".join(plain(s) for s in app.screen.query(Static)))
        box.value = str(before + 3)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: app.engine.deployment("fraud-scorer").replicas == before + 3)
        (e,) = [e for e in app.engine.audit_events() if e.verb == "scale" and e.stage == "ResponseComplete"]
        assert e.object_ref["name"] == "fraud-scorer" and e.user
