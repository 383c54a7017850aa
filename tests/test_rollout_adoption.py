"""A canary in flight that no operation tracks — the demo estate's, one made by another tool or by an older
console — is adopted as a rollout operation: at the demo's first start, or when an operator acts on it."""

from __future__ import annotations

import pytest

from console.engine import Engine
from console.settings import load

PINNED = "2026-11-20T12:00:00Z"


@pytest.fixture
def engine(clean_env, tmp_path, monkeypatch) -> Engine:
    monkeypatch.setenv("MLOPS_CONSOLE_NOW", PINNED)
    return Engine(load({"home": str(tmp_path / "home"), "user": "erin"}))


def forget_operations(engine: Engine) -> None:
    """A home built before canaries were adopted: the canary serves, no operation knows it."""
    engine._w.store.conn.execute("DELETE FROM operations")


def test_the_demo_estate_starts_with_its_canary_as_a_paused_operation_in_one_audit_record(engine):
    [op] = engine.operations()
    assert op["kind"] == "rollout" and op["target"] == "deployment/ranker" and op["state"] == "paused"
    assert [s["weight"] for s in op["steps"]] == [20, 30, 60, 100] and op["steps"][0]["state"] == "weighted"
    assert op["params"]["canary_revision"] == engine.deployment("ranker").canary.number
    [created] = engine.audit_events()  # the estate's creation tells it
    assert created.verb == "create" and created.after["rollouts"] == [
        f"deployment/ranker (operation {op['id']}, paused)"
    ]


@pytest.mark.parametrize("verb", ["promote", "abort"])
def test_promote_or_abort_of_an_untracked_canary_adopts_it_first(engine, verb):
    forget_operations(engine)
    assert engine.summary().rollouts_in_flight == [
        "ranker r3 at 20% (ranking-dlrm v23): no operation tracks it yet (p or a in :rollouts adopts it)"
    ]
    if verb == "promote":
        op = engine.rollout_promote("ranker")
        assert op["state"] == "paused" and engine.deployment("ranker").canary.weight == 30
    else:
        op = engine.rollout_abort("ranker")
        assert op["state"] == "aborted" and engine.deployment("ranker").canary is None
    assert [o["id"] for o in engine.operations()] == [op["id"]]
    adopted = next(e for e in engine.audit_events() if e.verb == "adopt")
    assert adopted.user == "erin" and adopted.object_ref == {"resource": "rollout", "name": "ranker"}
    assert engine.audit_verify().ok


def test_resuming_a_rollout_paused_until_promoted_leaves_it_at_its_gate(engine):
    """A resume is not a promote: the gate waits for a person's promote, as for a rollout started here."""
    [op] = engine.operations()
    again = engine.op_resume(op["id"])
    assert again["state"] == "paused" and engine.deployment("ranker").canary.weight == 20
    assert "results" not in again
