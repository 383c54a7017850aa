"""The Models view under Pilot (issue 20): `t` trains in a worker process behind a progress bar (epoch, loss,
time left) that `escape` cancels with nothing registered; a finished training shows as a new version;
`a` moves an alias through the gate; a viewer is offered none of it."""

from __future__ import annotations

import pytest
from test_tui import goto, plain, wait_rows
from test_tui_changes import until as wait_until
from textual.widgets import Input, Static

from console.app import ConsoleApp
from console.engine import Engine
from console.settings import load
from screens.dialogs import FormScreen
from screens.job_dialog import JobScreen


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_CONSOLE_CONFIG", str(tmp_path / "none.toml"))

    def make(**cli) -> ConsoleApp:
        settings = load({"home": str(tmp_path / "home"), "user": "erin", **cli})
        return ConsoleApp(Engine(settings), settings)

    return make


async def until(pilot, predicate) -> None:
    # up to 150 s: a worker process imports torch before its first epoch and CI's machine is loaded (a
    # bound on waiting, not a timing assertion)
    await wait_until(pilot, predicate, tries=3000)


async def open_train_form(pilot, app, epochs: str, model: str = "cancer-mlp") -> None:
    await goto(pilot, "models")
    await wait_rows(pilot)
    await pilot.press("t")
    await until(pilot, lambda: isinstance(app.screen, FormScreen) and app.screen.focused is not None)
    app.screen.query_one("#f-model", Input).value = model
    app.screen.query_one("#f-epochs", Input).value = epochs
    await pilot.press("ctrl+o")


def keys_of(table) -> list[str]:
    return [table.key_at(i) for i in range(table.row_count)]


async def select(pilot, table, key: str) -> None:
    table.move_cursor(row=keys_of(table).index(key))
    await pilot.pause()


def describe_text(app) -> str:
    from screens.detail import DescribeScreen

    return plain(app.screen.query_one("#body", Static)) if isinstance(app.screen, DescribeScreen) else ""


def status(app) -> str:
    return plain(app.screen.query_one("#status", Static))


async def test_training_shows_its_progress_and_escape_cancels_it_registering_nothing(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        before = len(app.engine.models())
        await open_train_form(pilot, app, "100000")  # far more epochs than the test will wait for
        await until(pilot, lambda: isinstance(app.screen, JobScreen) and status(app).startswith("epoch "))
        assert "/100000 · loss " in status(app) and " left" in status(app)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, JobScreen))
        assert any("cancelled" in str(n.message) for n in app._notifications)
        assert len(app.engine.models()) == before


async def test_a_finished_training_is_a_new_version_and_a_moves_its_alias_through_the_gate(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        # digits-cnn v1 is what the demo's digit-reader serves (15 epochs, seed 0): the same training passes
        # the gate against it
        await open_train_form(pilot, app, "15", "digits-cnn")
        await until(pilot, lambda: any("digits-cnn version 2 registered" in str(n.message) for n in app._notifications))
        assert not isinstance(app.screen, JobScreen) and app.engine.model_show("digits-cnn", "2")["stage"] == "staging"
        table = await wait_rows(pilot)
        await until(pilot, lambda: "digits-cnn:2" in keys_of(table))
        await select(pilot, table, "digits-cnn:2")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, FormScreen) and app.screen.focused is not None)
        await pilot.press("ctrl+o")  # production, the default
        await until(pilot, lambda: app.engine.model_show("digits-cnn", "2")["aliases"] == ["production"])
        event = app.engine.audit_events(limit=1)[0]
        assert (event.verb, event.user, event.annotations["gate"]) == ("alias", "erin", "passed")
        assert app.engine.model_show("digits-cnn", "1")["stage"] == "archived"


async def test_a_viewer_is_not_offered_training_compression_or_aliases(make_app):
    app = make_app(read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await goto(pilot, "models")
        await wait_rows(pilot)
        for key in ("t", "c", "a"):
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, (FormScreen, JobScreen)), key
        footer = " ".join(plain(w) for w in app.screen.query(Static))
        assert "Train" not in footer


async def test_r_starts_a_canary_rollout_of_the_selected_version_on_a_deployment_serving_its_model(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await goto(pilot, "models")
        table = await wait_rows(pilot)
        keys = keys_of(table)
        served = {d.model: d for d in app.engine.deployments() if d.status != "Progressing"}
        # a version of a served model that no revision of its deployment serves yet
        key = next(
            k
            for k in keys
            if k.rpartition(":")[0] in served
            and int(k.rpartition(":")[2]) not in {r.model_version for r in served[k.rpartition(":")[0]].revisions}
        )
        model, version = key.rpartition(":")[0], int(key.rpartition(":")[2])
        await select(pilot, table, key)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, FormScreen) and app.screen.focused is not None)
        assert app.screen.query_one("#f-deployment", Input).value == served[model].name
        await pilot.press("ctrl+o")
        dep = served[model].name
        await until(pilot, lambda: any(r.model_version == version for r in app.engine.deployment(dep).revisions))
        starts = [e for e in app.engine.audit_events() if e.user == "erin" and e.object_ref.get("name") == dep]
        assert starts


async def test_d_shows_the_selected_version_beside_production_with_differences_marked(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await goto(pilot, "models")
        table = await wait_rows(pilot)
        await select(pilot, table, "fraud-xgb:9")  # a candidate; production is v8
        await pilot.press("d")
        await wait_until(pilot, lambda: "metric auc" in describe_text(app))
        text = describe_text(app)
        assert "v8" in text and "v9" in text and "lineage" in text
        auc = next(line for line in text.splitlines() if line.startswith("metric auc"))
        assert auc.endswith("*")  # the two versions' AUCs differ
