"""The stores: real SQLite files, migrations, WAL, reopening, and readers on other threads. The console's
own (console.db) and the simulator's estate (sim.db, its own schema) are apart."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from conftest import DB_NAME, SIM_DB, copy_home

from console import settings as settings_mod
from console.engine import Engine
from core.backends.sim import schema as sim_schema
from core.errors import StoreError
from core.store import MIGRATIONS, SCHEMA_VERSION, Store

SIM_TABLES = ("nodes", "pods", "deployments", "revisions", "attempts", "jobs")


def sim_store(home) -> Store:
    return Store(home, sim_schema.DB_NAME, sim_schema.MIGRATIONS, sim_schema.JSON_COLUMNS)


def counts(store: Store) -> dict[str, int]:
    """Row counts of the simulator's tables (a sim store) or of the console's (registry, audit)."""
    tables = SIM_TABLES if store.path.name == SIM_DB else ("model_versions", "audit", "history")
    return {t: store.scalar(f"SELECT count(*) FROM {t}") for t in tables}


def engine_on(home, **cli) -> Engine:
    return Engine(settings_mod.load({"home": str(home), **cli}))


def test_new_store_is_migrated_to_the_current_schema(tmp_path):
    store = Store(tmp_path / "fresh")
    try:
        assert SCHEMA_VERSION == len(MIGRATIONS) >= 1
        assert store.schema_version == SCHEMA_VERSION
    finally:
        store.close()
    conn = sqlite3.connect(tmp_path / "fresh" / DB_NAME)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"meta", "model_versions", "audit", "history", "suggestions", "operations"} <= tables
        assert not tables & set(SIM_TABLES)  # the cluster's objects are not the console's data
    finally:
        conn.close()


def test_opening_a_current_store_again_changes_nothing(tmp_path):
    Store(tmp_path / "h").close()
    store = Store(tmp_path / "h")  # must not re-run migration 1 (its CREATE TABLEs would fail)
    try:
        assert store.schema_version == SCHEMA_VERSION
    finally:
        store.close()


def test_store_from_the_future_is_refused(tmp_path):
    Store(tmp_path / "h").close()
    conn = sqlite3.connect(tmp_path / "h" / DB_NAME)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError) as e:
        Store(tmp_path / "h")
    assert str(SCHEMA_VERSION + 1) in str(e.value)
    assert str(tmp_path / "h" / DB_NAME) in str(e.value)
    assert e.value.exit_code == 2


def test_demo_store_is_in_wal_mode(home_copy):
    store = Store(home_copy)
    try:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.schema_version == SCHEMA_VERSION
    finally:
        store.close()


def test_reopening_does_not_rebuild_the_estate(tmp_path, clean_env, monkeypatch):
    home = tmp_path / "h"
    first = engine_on(home)
    sim = sim_store(home)
    before = counts(sim)
    anchor = sim.get_meta("sim.anchor")
    sim.close()
    assert first.audit_count() == 1 and before["nodes"] == 40 and before["attempts"] > 0

    # a day later, with another seed asked for: the stored estate is what comes back
    monkeypatch.setenv("MLOPS_CONSOLE_NOW", "2026-11-21T12:00:00Z")
    again = engine_on(home, seed=7)
    sim = sim_store(home)
    try:
        assert counts(sim) == before
        assert sim.get_meta("sim.anchor") == anchor
        assert again.backend_name.endswith("(seed 42)")
        assert again.audit_count() == 1
    finally:
        sim.close()


def test_a_second_store_on_another_thread_reads_the_same_data(home_copy):
    main = sim_store(home_copy)
    expected = counts(main)
    expected_first = main.one("SELECT * FROM attempts ORDER BY run_id LIMIT 1")
    seen: dict = {}

    def reader():
        try:
            other = sim_store(home_copy)
            seen["counts"] = counts(other)
            seen["first"] = other.one("SELECT * FROM attempts ORDER BY run_id LIMIT 1")
            other.close()
        except BaseException as e:  # reported below, in the test's own thread
            seen["error"] = e

    t = threading.Thread(target=reader)
    t.start()
    t.join(timeout=30)
    main.close()
    assert not t.is_alive()
    assert "error" not in seen, seen.get("error")
    assert seen["counts"] == expected
    assert seen["first"] == expected_first


def test_readers_are_not_blocked_by_a_writer_and_see_only_committed_data(home_copy):
    writer = sim_store(home_copy)
    reader = sim_store(home_copy)
    result: dict = {}
    try:
        with writer.transaction():
            writer.set_meta("test.key", "uncommitted")
            writer.conn.execute("DELETE FROM pods")

            def read():
                try:
                    s = sim_store(home_copy)
                    result["meta"] = s.get_meta("test.key")
                    result["pods"] = s.scalar("SELECT count(*) FROM pods")
                    s.close()
                except BaseException as e:
                    result["error"] = e

            t = threading.Thread(target=read)
            t.start()
            t.join(timeout=10)  # WAL: a reader does not wait for the writer's transaction
            assert not t.is_alive(), "a reader was blocked by an open write transaction"
        assert "error" not in result, result.get("error")
        assert result["meta"] is None
        assert result["pods"] > 0
        # after the commit, a connection opened later sees the change
        assert reader.get_meta("test.key") == "uncommitted"
        assert reader.scalar("SELECT count(*) FROM pods") == 0
    finally:
        writer.close()
        reader.close()


def test_a_failed_transaction_leaves_no_trace(home_copy):
    store = sim_store(home_copy)
    try:
        before = counts(store)
        with pytest.raises(RuntimeError):
            with store.transaction():
                store.set_meta("half.done", "yes")
                store.conn.execute("DELETE FROM attempts")
                raise RuntimeError("boom")
        assert store.get_meta("half.done") is None
        assert counts(store) == before
        assert not store.conn.in_transaction
    finally:
        store.close()


def test_json_columns_round_trip(tmp_path):
    store = sim_store(tmp_path / "h")
    try:
        conf = {"spark.executor.memory": "4g", "spark.executor.cores": "4"}
        with store.transaction():
            store.insert_all(
                "attempts",
                [
                    {
                        "run_id": "r1",
                        "job_id": "j",
                        "attempt": 1,
                        "submitted_at": "2026-11-01T03:00:00Z",
                        "status": "failed",
                        "conf": conf,
                        "extra": {"queue": "prod"},
                    }
                ],
            )
        row = store.one("SELECT * FROM attempts WHERE run_id = ?", ("r1",))
        assert row["conf"] == conf
        assert row["extra"] == {"queue": "prod"}
        store.update("attempts", "r1", {"conf": {"spark.executor.memory": "6g"}})
        assert store.one("SELECT conf FROM attempts")["conf"] == {"spark.executor.memory": "6g"}
    finally:
        store.close()


def test_copy_of_a_home_is_a_working_store(demo_home, tmp_path):
    # guards the fixtures the other tests rely on: a copy is a complete, independent store
    dst = copy_home(demo_home, tmp_path / "copy")
    a, b = Store(demo_home), Store(dst)
    sa, sb = sim_store(demo_home), sim_store(dst)
    try:
        assert counts(a) == counts(b) and counts(sa) == counts(sb) and counts(sb)["attempts"] > 0
        b.set_meta("only.in.copy", "1")
        assert a.get_meta("only.in.copy") is None
    finally:
        for st in (a, b, sa, sb):
            st.close()


def test_an_old_home_keeps_its_imported_history_and_loses_the_cluster_tables(tmp_path):
    """Migration 5: a home from before it held the cluster's objects in the console's store, imported
    history among them. The history stays, as training data; the estate moves to the simulator's store."""
    home = tmp_path / "old"
    store = Store(home, migrations=MIGRATIONS[:4])
    with store.transaction():
        store.insert_all("jobs", [{"job_id": "j", "kind": "spark", "owner": "o", "schedule": "-"}])
        store.insert_all(
            "attempts",
            [
                {
                    "run_id": "live-1",
                    "job_id": "j",
                    "attempt": 1,
                    "submitted_at": "2026-11-01T03:00:00Z",
                    "status": "failed",
                    "source": "sim",
                },
                {
                    "run_id": "imp-1",
                    "job_id": "j",
                    "attempt": 1,
                    "submitted_at": "2026-10-01T03:00:00Z",
                    "status": "succeeded",
                    "conf": {"spark.executor.memory": "4g"},
                    "extra": {"team": "x"},
                    "source": "import:h.jsonl",
                },
            ],
        )
    store.close()
    store = Store(home)
    try:
        assert store.schema_version == SCHEMA_VERSION
        rows = store.query("SELECT run_id, conf, extra, source FROM history")
        assert rows == [
            {
                "run_id": "imp-1",
                "conf": {"spark.executor.memory": "4g"},
                "extra": {"team": "x"},
                "source": "import:h.jsonl",
            }
        ]
        tables = {r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert not tables & set(SIM_TABLES)
    finally:
        store.close()
