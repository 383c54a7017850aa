"""The virtual table as an operator reads it: the columns that matter whole at any width, units and values
shortened where the part that tells them apart survives, sorting, the loading state, and a refresh that
reads nothing again while nothing changed."""

from __future__ import annotations

import threading

import pytest
from test_tui import goto, settle, wait_rows

from screens.base import natural_key
from screens.grid import Column, fit, shorten
from screens.views.common import age_key, gib, size_key, without_timestamp

# -- the parts ------------------------------------------------------------------------------------------


def test_fit_keeps_the_important_columns_whole_and_gives_the_rest_to_the_flexible_one():
    columns = [
        Column("NAME", 1, min=8),
        Column("NUMBER", 1),
        Column("DETAIL", 3),
        Column("MESSAGE", 2, min=10, flex=True),
    ]
    natural = [30, 6, 12, 200]
    wide = fit(columns, natural, 120)
    assert [i for i, _ in wide] == [0, 1, 2, 3]
    assert dict(wide)[0] == 30 and dict(wide)[1] == 6 and dict(wide)[2] == 12  # every one whole
    assert sum(w for _, w in wide) + 3 == 120  # the message takes the rest
    narrow = dict(fit(columns, natural, 34))
    assert 2 not in narrow  # the least important goes first
    assert narrow[1] == 6  # a number is shown whole or not at all
    assert narrow[3] >= 10 and narrow[0] >= 8
    assert sum(narrow.values()) + len(narrow) - 1 <= 34
    assert [i for i, _ in fit(columns, natural, 10)] == [0]  # the first column, at least


def test_long_values_lose_characters_where_they_are_alike():
    assert shorten("ingest-partner-feeds-eu-west-1-daily", 16, "middle").endswith("-1-daily")
    assert shorten("ingest-partner-feeds-eu-west-1-daily", 16, "middle").startswith("inge")
    assert shorten("ip-10-20-0-17.eu-west-1.compute.internal", 20) == "ip-10-20-0-17.eu-we…"
    assert shorten("short", 16) == "short"
    assert len(shorten("x" * 50, 12, "middle")) == 12


def test_sizes_read_as_kubectl_prints_them_and_sort_by_value():
    assert gib(1152) == "1.1Ti" and gib(128.38) == "128Gi" and gib(0.38) == "389Mi" and gib(8.4) == "8.4Gi"
    assert sorted(["1.1Ti/2Ti", "98Gi/1.1Ti", "512Mi/4Gi"], key=size_key) == ["512Mi/4Gi", "98Gi/1.1Ti", "1.1Ti/2Ti"]
    assert sorted(["3d", "45s", "5h", "12m"], key=age_key) == ["45s", "12m", "5h", "3d"]
    assert sorted(["node-10", "node-9", "node-100"], key=natural_key) == ["node-9", "node-10", "node-100"]


@pytest.mark.parametrize(
    "line, message",
    [
        ("26/12/02 10:11:12 ERROR Executor: Exception in task 3.0", "ERROR Executor: Exception in task 3.0"),
        ("2026-12-02T10:11:12.123Z java.lang.OutOfMemoryError: Java heap space", "java.lang.OutOfMemoryError: Java"),
        ("2026-12-02 10:11:12,345 WARN YarnAllocator: Container killed", "WARN YarnAllocator: Container killed"),
        ("E1202 10:11:12.123456   12345 kubelet.go:42] Failed to pull image", "Failed to pull image"),
        ("[2026-12-02 10:11:12,345] torch.distributed: NCCL error", "torch.distributed: NCCL error"),
        ("Traceback (most recent call last):", "Traceback (most recent call last):"),
    ],
)
def test_evidence_is_the_message_without_the_timestamp_every_line_shares(line, message):
    assert without_timestamp(line).startswith(message)


# -- in the app -----------------------------------------------------------------------------------------


async def test_at_80_columns_the_nodes_view_shows_name_status_cpu_and_memory_whole(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await goto(pilot, "nodes")
        table = await wait_rows(pilot, 40)
        header = table.render_line(0).text
        for title in ("NAME", "STATUS", "CPU", "MEM"):
            assert title in header
        node = app.engine.nodes()[0]
        row = table.render_line(table.get_row_index(node.name) - round(table.scroll_y) + 1).text
        assert f"{gib(node.memory_used_gib)}/{gib(node.memory_gib)}" in row  # whole, in kubectl's units
        assert node.status in row
        status = str(app.screen.query_one("#status").content)
        hidden = table.hidden_columns
        assert hidden and all(h in status for h in hidden)  # what is hidden is said, and `enter` shows it


async def test_sort_by_column_shown_in_the_header_reversed_and_kept_across_a_refresh(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await goto(pilot, "nodes")
        table = await wait_rows(pilot, 40)
        await pilot.press("greater_than_sign")  # sort by the first column shown
        await settle(pilot)
        names = [table.get_row_at(i)[0] for i in range(table.row_count)]
        assert names == sorted(names, key=natural_key) and "NAME▲" in table.render_line(0).text
        await pilot.press("tilde")
        await settle(pilot)
        assert [table.get_row_at(i)[0] for i in range(table.row_count)] == names[::-1]
        assert "NAME▼" in table.render_line(0).text
        await pilot.press("greater_than_sign")  # the next column: POOL
        await settle(pilot)
        pools = [table.get_row_at(i)[1] for i in range(table.row_count)]
        assert pools == sorted(pools, key=natural_key)
        app.screen.refresh_data(force=True)
        await settle(pilot)
        assert [table.get_row_at(i)[1] for i in range(table.row_count)] == pools


async def test_a_slow_load_shows_that_it_is_loading(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await goto(pilot, "jobs")
        await wait_rows(pilot)
        screen = app.screen
        release = threading.Event()
        fetch = screen.fetch
        screen.fetch = lambda: release.wait(30) and fetch()  # a backend that takes its time
        await pilot.press("f")
        await pilot.pause()
        assert "loading…" in str(screen.query_one("#status").content)
        release.set()
        await settle(pilot)
        assert "loading…" not in str(screen.query_one("#status").content)


async def test_an_idle_refresh_reads_nothing_and_a_change_is_read(make_app, tmp_path):
    from console.engine import Engine
    from console.settings import load

    home = str(tmp_path / "home")
    app = make_app(home=home, read_only=True)  # read-only: the app itself writes nothing (no reconcile)
    async with app.run_test(size=(120, 40)) as pilot:
        await goto(pilot, "nodes")
        await wait_rows(pilot, 40)
        screen = app.screen
        fetches = []
        fetch = screen.fetch
        screen.fetch = lambda: fetches.append(1) or fetch()
        for _ in range(3):
            screen.refresh_data()  # as the app's refresh loop does, every few seconds
            await settle(pilot)
        assert fetches == []  # nothing changed: nothing read again
        name = screen.selected_key()
        other = Engine(load({"home": home, "user": "bob"}))  # another console on the same estate
        other.cordon([name], True)
        screen.refresh_data()
        await settle(pilot)
        assert fetches and "SchedulingDisabled" in screen.table.get_row_at(screen.table.cursor_row)[2]


async def test_a_new_attempt_is_read_with_the_newest_only_and_the_older_rows_kept(make_app, tmp_path):
    from console.engine import Engine
    from console.settings import load

    home = str(tmp_path / "home")
    app = make_app(home=home, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await goto(pilot, "jobs")
        await pilot.press("f")  # every attempt
        table = await wait_rows(pilot, len(app.engine.attempts()))
        before = table.row_keys
        asked = []
        records = app.engine.attempt_records
        app.engine.attempt_records = lambda **kw: asked.append(kw) or records(**kw)
        other = Engine(load({"home": home, "user": "bob"}))  # another console retries a failed run
        failed = other.attempts(failed=True)[0]
        retry = other._w.cluster.submit_retry(failed.run_id, dict(failed.conf))
        app.screen.refresh_data()
        await settle(pilot)
        assert asked and all(kw.get("since") for kw in asked)  # only the newest were read
        assert table.row_keys == [retry.run_id, *before]  # the retry on top, every other row as it was


async def test_a_recommender_s_reliability_is_drawn_beside_the_registry(make_app, tmp_path):
    from console.engine import Engine
    from console.settings import load

    home = str(tmp_path / "home")
    engine = Engine(load({"home": home, "user": "carol"}))
    bins = [
        {"bin": "0.1-0.2", "n": 40, "predicted": 0.15, "observed": 0.1},
        {"bin": "0.8-0.9", "n": 60, "predicted": 0.85, "observed": 0.55},
    ]
    engine._w.registry.register(
        "retry-recommender",
        user="carol",
        framework="torch",
        sha256="0" * 64,
        params={},
        metrics={
            "chosen": "mlp",
            "validation": {"mlp": {"val_logloss": 0.41, "reliability": bins}},
            "train_loss": [0.9 - 0.006 * i for i in range(101)],  # more epochs than the line has room for
        },
        data_digest="d",
        created_at="2026-11-20T11:00:00Z",
    )
    app = make_app(home=home, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await goto(pilot, "models")
        table = await wait_rows(pilot)
        table.move_cursor(table.get_row_index("retry-recommender:1"))
        await settle(pilot)
        plot = str(app.screen.query_one("#plot").content)
        assert "reliability" in plot and "0.85" in plot and "0.55" in plot and "n=60" in plot
        assert "training loss per epoch (final fit, 101)" in plot and "0.900 → 0.300" in plot
        curve = next(line for line in plot.splitlines() if line.startswith("training loss"))
        assert len(curve) <= 120 and "█" in curve and "▁" in curve  # squeezed to the width, falling
        table.move_cursor(table.get_row_index(next(k for k in table.row_keys if "recommender" not in k)))
        await settle(pilot)
        assert "reliability" not in str(app.screen.query_one("#plot").content)


async def test_a_row_of_wide_characters_keeps_every_column_in_its_place():
    from rich.cells import cell_len
    from textual.app import App

    from screens.grid import Grid

    class One(App):
        def compose(self):
            yield Grid([Column("NAME", 1, min=6, max=10), Column("N", 1, align="right")])

    app = One()
    async with app.run_test(size=(14, 5)) as pilot:
        grid = app.query_one(Grid)
        grid.show([("a", ["ジョブ名前テスト長い", "7"]), ("b", ["ascii-name-long", "8"])])
        await pilot.pause()
        lines = [grid.render_line(y).text for y in (1, 2)]
        assert all(cell_len(line) == 14 for line in lines)
        assert [line.rstrip()[-1] for line in lines] == ["7", "8"]  # N in the same column on both rows


async def test_drift_shows_at_once_with_the_config_column_in_view(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await goto(pilot, "nodes")
        table = await wait_rows(pilot, 40)
        assert "CONFIG" in table.hidden_columns  # at 80 columns, in the estate's own view
        await pilot.press("d")
        await settle(pilot)
        assert 0 < table.row_count < 40 and "drift" in str(app.screen.query_one("#status").content)
        assert "CONFIG" not in table.hidden_columns and all(
            "≠" in table.get_row_at(i)[9] for i in range(table.row_count)
        )
        await pilot.press("d")
        await settle(pilot)
        assert table.row_count == 40


async def test_a_mode_switched_back_gives_the_columns_their_widths_back(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await goto(pilot, "jobs")
        table = await wait_rows(pilot)
        before = table.layout()
        await pilot.press("f")  # every attempt: other values, other widths
        await wait_rows(pilot, len(app.engine.attempts()))
        await pilot.press("f")
        await settle(pilot)
        assert table.layout() == before


async def test_sorting_reaches_a_column_the_terminal_hides(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await goto(pilot, "nodes")
        table = await wait_rows(pilot, 40)
        assert "KUBELET" in table.hidden_columns
        for _ in range([c.title for c in table.columns].index("KUBELET") + 1):
            await pilot.press("greater_than_sign")
        await settle(pilot)
        assert "sorted by KUBELET" in str(app.screen.query_one("#status").content)
