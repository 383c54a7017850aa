"""Change management as an operator drives it, through the real CLI on copies of the demo estate:
the hash-chained audit trail and its tamper evidence, rollback of every kind of change, roles and
read-only, crash safety of multi-step operations (killed at every kind of step), drains and disruption
budgets, and a batch change that stops on its first failure.

Every mutation runs on a private copy of the estate; the simulated pod start-up is 0 s so drains do not
wait (tests that need the disruption budgets to bite set it themselves)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from conftest import Cli, connect, copy_home

FAST = {"MLOPS_CONSOLE_SIM_POD_START": "0"}
NEW_CFG = "ncfg-2026.12.1"
NODE_FIELDS = ("unschedulable", "labels", "taints", "config_version", "kubelet_version")


def H(home) -> tuple[str, str]:
    return ("--home", str(home))


@pytest.fixture
def mc(cli) -> Cli:
    cli.env.update(FAST)
    return cli


# -- helpers: read the estate the way a user does (CLI), or the store directly for what no command shows --
def db(home: Path) -> sqlite3.Connection:
    return connect(home)


# the demo's canary in flight: adopted as a paused rollout operation when the estate is built
DEMO_CANARY = "deployment/ranker"
NOT_DEMO = f"target != '{DEMO_CANARY}'"


def ops_list(cli, home: Path, *args: str) -> list[dict]:
    """`ops list`, less the demo canary's operation (there from the start)."""
    return [o for o in cli.ok(*H(home), "ops", "list", *args, "--format", "json").json() if o["target"] != DEMO_CANARY]


def sql(home: Path, query: str, params: tuple = ()) -> list[tuple]:
    c = db(home)
    try:
        return c.execute(query, params).fetchall()
    finally:
        c.close()


def nodes(cli, home, pool: str | None = None) -> dict[str, dict]:
    args = ("--pool", pool) if pool else ()
    return {n["name"]: n for n in cli.ok(*H(home), "nodes", "list", *args, "--format", "json").json()}


def node_state(entry: dict) -> dict:
    return {k: entry[k] for k in NODE_FIELDS}


def deployment(cli, home, name: str) -> dict:
    return next(d for d in cli.ok(*H(home), "rollouts", "list", "--format", "json").json() if d["name"] == name)


def audit(cli, home) -> list[dict]:
    return cli.ok(*H(home), "audit", "list", "--format", "json").json()  # newest first


def events(home: Path, where: str = "1", params: tuple = ()) -> list[dict]:
    """Audit events straight from the store, newest first (JSON columns decoded)."""
    c = db(home)
    c.row_factory = sqlite3.Row
    try:
        rows = [dict(r) for r in c.execute(f"SELECT * FROM audit WHERE {where} ORDER BY seq DESC", params)]
    finally:
        c.close()
    for r in rows:
        for k in ("object_ref", "before", "after", "annotations"):
            r[k] = json.loads(r[k])
    return rows


def completed(home: Path, verb: str, name: str | None = None) -> dict:
    """The newest ResponseComplete event of `verb` (on object `name`)."""
    return next(
        e
        for e in events(home, "stage = 'ResponseComplete' AND verb = ?", (verb,))
        if name is None or e["object_ref"]["name"] == name
    )


def rollback(cli, home, event: dict, *extra: str) -> dict:
    """`audit rollback SEQ`, then check the rollback is itself audited and linked to the change it undoes."""
    out = cli.ok(*H(home), "audit", "rollback", str(event["seq"]), *extra, "--format", "json").json()
    assert out["rolled_back"] == event["audit_id"]
    intent, rb = events(home)[1::-1]
    assert (intent["stage"], rb["stage"]) == ("RequestReceived", "ResponseComplete")
    assert rb["verb"] == "rollback" and rb["audit_id"] == intent["audit_id"] != event["audit_id"]
    assert rb["annotations"]["rollback_of"] == event["audit_id"]
    assert rb["annotations"]["rolled_back_verb"] == event["verb"]
    assert {k: rb["object_ref"][k] for k in ("resource", "name")} == {
        k: event["object_ref"][k] for k in ("resource", "name")
    }
    assert rb["after"] == event["before"]
    return rb


def pool_nodes(home: Path, pool: str) -> dict[str, dict]:
    """The pool's nodes as the store has them (for checks right after a crash, before any next start)."""
    return {
        name: {
            "unschedulable": bool(u),
            "labels": json.loads(lb),
            "taints": json.loads(t),
            "config_version": cv,
            "kubelet_version": kv,
        }
        for name, u, lb, t, cv, kv in sql(
            home,
            "SELECT name, unschedulable, labels, taints, config_version, kubelet_version FROM nodes WHERE pool = ?",
            (pool,),
        )
    }


def dep_db(home: Path, name: str) -> dict:
    status, current = sql(home, "SELECT status, current_revision FROM deployments WHERE name = ?", (name,))[0]
    revs = {
        n: {"model_version": v, "weight": w, "status": st}
        for n, v, w, st in sql(
            home, "SELECT number, model_version, weight, status FROM revisions WHERE deployment = ?", (name,)
        )
    }
    return {"status": status, "current_revision": current, "revisions": revs}


def pending_intents(home: Path) -> list[tuple]:
    """Intents (RequestReceived) with no outcome (ResponseComplete or Failed) under the same auditID."""
    return sql(
        home,
        "SELECT seq, verb FROM audit a WHERE stage = 'RequestReceived' AND NOT EXISTS ("
        " SELECT 1 FROM audit b WHERE b.audit_id = a.audit_id"
        " AND b.stage IN ('ResponseComplete', 'Failed'))",
    )


def verify(cli, home, *extra: str):
    r = cli(*H(home), "audit", "verify", "--format", "json", *extra)
    assert "Traceback" not in r.err
    return r, json.loads(r.out)


def chain_ok(home: Path) -> bool:
    """`audit verify`, in this process (the CLI's verify has tests of its own below)."""
    from core.audit import AuditLog
    from core.store import Store

    store = Store(home)
    try:
        verdict = AuditLog(store).verify()
    finally:
        store.close()
    assert verdict.ok, verdict
    return True


def store_digest(home: Path) -> list[str]:
    """Every row of the store but the classification cache (derived from the rules, may be filled on a read)."""
    c = db(home)
    try:
        return [line for line in c.iterdump() if not line.startswith('INSERT INTO "classifications"')]
    finally:
        c.close()


@pytest.fixture(scope="session")
def estate_facts(demo_home) -> dict:
    """Names the demo estate's scenarios need, read from the store once."""
    pods = sql(demo_home, "SELECT node, owner FROM pods")
    fraud_nodes = sorted({n for n, o in pods if o == "Deployment/fraud-scorer"})
    [faulty] = [n for (n,) in sql(demo_home, "SELECT name FROM nodes WHERE faults LIKE '%config_apply%'")]
    [cordoned] = [n for (n,) in sql(demo_home, "SELECT name FROM nodes WHERE unschedulable = 1")]
    return {"fraud_nodes": fraud_nodes, "faulty": faulty, "cordoned": cordoned}


# == 1. the audit chain and its tamper evidence ==========================================================
@pytest.fixture(scope="module")
def audited_home(demo_home, tmp_path_factory) -> Path:
    """The demo estate after a few audited changes (4 changes: events 2..9)."""
    root = tmp_path_factory.mktemp("audited")
    home = copy_home(demo_home, root / "home")
    c = Cli(root / "cli")
    c.env.update(FAST)
    [(node,)] = sql(home, "SELECT min(name) FROM nodes WHERE pool = 'cpu-general'")
    c.ok(*H(home), "nodes", "cordon", node)
    c.ok(*H(home), "nodes", "label", node, "team=ml")
    c.ok(*H(home), "nodes", "taint", node, "dedicated=ml:NoSchedule")
    c.ok(*H(home), "nodes", "uncordon", node)
    assert len(events(home)) == 9
    return home


def tampered(audited_home: Path, tmp_path: Path, *statements: str | tuple) -> Path:
    home = copy_home(audited_home, tmp_path / "tampered")
    c = db(home)
    with c:
        for s in statements:
            c.execute(*((s,) if isinstance(s, str) else s))
    c.close()
    return home


def row(home: Path, seq: int) -> tuple:
    return sql(home, "SELECT * FROM audit WHERE seq = ?", (seq,))[0]


def test_verify_a_clean_chain(mc, audited_home):
    r = mc.ok(*H(audited_home), "audit", "verify")
    assert r.out.strip() == "audit chain ok: 9 events"
    r, v = verify(mc, audited_home)
    assert r.rc == 0 and v == {"ok": True, "events": 9, "first_bad_seq": None, "audit_id": None, "reason": ""}


def test_verify_names_an_edited_row(mc, audited_home, tmp_path):
    home = tampered(audited_home, tmp_path, "UPDATE audit SET user = 'mallory' WHERE seq = 5")
    r = mc(*H(home), "audit", "verify")
    assert r.rc == 1 and "audit chain broken at seq 5" in r.err and "edited" in r.err
    assert row(home, 5)[1] in r.err  # its auditID
    r, v = verify(mc, home)
    assert r.rc == 1 and v["ok"] is False and v["first_bad_seq"] == 5


def test_verify_an_edited_before_snapshot(mc, audited_home, tmp_path):
    home = tampered(audited_home, tmp_path, "UPDATE audit SET before = replace(before, 'false', 'true') WHERE seq = 3")
    r, v = verify(mc, home)
    assert r.rc == 1 and v["first_bad_seq"] == 3


def test_verify_names_the_row_after_a_deleted_one(mc, audited_home, tmp_path):
    home = tampered(audited_home, tmp_path, "DELETE FROM audit WHERE seq = 4")
    r = mc(*H(home), "audit", "verify")
    assert r.rc == 1 and "audit chain broken at seq 5" in r.err and "deleted" in r.err
    assert verify(mc, home)[1]["first_bad_seq"] == 5


def test_verify_catches_a_forged_row_inserted_with_renumbering(mc, audited_home, tmp_path):
    # shift seq 5.. up by one (through negative numbers: the key stays unique), then put a copy of row 4 at 5
    forged = row(audited_home, 4)
    home = tampered(
        audited_home,
        tmp_path,
        "UPDATE audit SET seq = -(seq + 1) WHERE seq >= 5",
        "UPDATE audit SET seq = -seq WHERE seq < 0",
        ("INSERT INTO audit VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", (5, *forged[1:])),
        "UPDATE meta SET value = (SELECT seq || ':' || hash FROM audit ORDER BY seq DESC LIMIT 1)"
        " WHERE key = 'audit.head'",
    )
    assert sql(home, "SELECT count(*) FROM audit")[0][0] == 10
    r = mc(*H(home), "audit", "verify")
    assert r.rc == 1 and "audit chain broken at seq 5" in r.err
    assert verify(mc, home)[1]["first_bad_seq"] == 5


def test_verify_catches_a_forged_row_with_a_recomputed_hash(mc, audited_home, tmp_path):
    """A forger who knows the hash function can make the inserted row fit, but not the one after it."""
    from core.audit import row_hash

    prev = row(audited_home, 4)
    values = (5, "f0f0f0f0-0000-4000-8000-000000000000", *prev[2:10], prev[11])  # prev_hash = row 4's hash
    home = tampered(
        audited_home,
        tmp_path,
        "UPDATE audit SET seq = -(seq + 1) WHERE seq >= 5",
        "UPDATE audit SET seq = -seq WHERE seq < 0",
        ("INSERT INTO audit VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", (*values, row_hash(values))),
    )
    r, v = verify(mc, home)
    assert r.rc == 1 and v["first_bad_seq"] == 6


def test_verify_names_the_first_of_two_swapped_rows(mc, audited_home, tmp_path):
    a, b = row(audited_home, 4), row(audited_home, 6)
    cols = (
        "audit_id=?, stage=?, verb=?, user=?, object_ref=?, before=?, after=?, annotations=?, timestamp=?, "
        "prev_hash=?, hash=?"
    )
    home = tampered(
        audited_home,
        tmp_path,
        (f"UPDATE audit SET {cols} WHERE seq = 4", (*b[1:],)),
        (f"UPDATE audit SET {cols} WHERE seq = 6", (*a[1:],)),
    )
    r = mc(*H(home), "audit", "verify")
    assert r.rc == 1 and "audit chain broken at seq 4" in r.err
    assert verify(mc, home)[1]["first_bad_seq"] == 4


def test_verify_catches_deleted_newest_rows_by_the_head_anchor(mc, audited_home, tmp_path):
    home = tampered(audited_home, tmp_path, "DELETE FROM audit WHERE seq >= 8")  # the whole last change
    r = mc(*H(home), "audit", "verify")
    assert r.rc == 1 and "seq 8" in r.err and "deleted" in r.err
    r, v = verify(mc, home)
    assert r.rc == 1 and v["first_bad_seq"] == 8 and v["events"] == 7


def test_verify_catches_a_deleted_newest_outcome(mc, audited_home, tmp_path):
    """Deleting only the newest outcome leaves its intent orphaned, as a crash would: the next start must not
    settle it over the deletion (a new outcome at seq 9 would move the head anchor and hide it)."""
    home = tampered(audited_home, tmp_path, "DELETE FROM audit WHERE seq = 9")
    assert mc(*H(home), "--read-only", "audit", "verify").rc == 1
    r = mc(*H(home), "audit", "verify")
    assert r.rc == 1 and "seq 9" in r.err, (r.out, r.err)
    assert mc(*H(home), "audit", "verify").rc == 1  # still, on the start after


# == 2. rollback restores the exact prior state ===========================================================
NODE_CHANGES = {
    "cordon": ("cordon",),
    "label-add": ("label", "team=ml", "tier=gold"),
    "label-remove": ("label", "topology.kubernetes.io/zone-"),
    "taint-add": ("taint", "dedicated=ml:NoSchedule"),
    "taint-remove": ("taint", "nvidia.com/gpu-"),
    "uncordon": ("uncordon",),
}


@pytest.fixture(scope="session")
def demo_nodes(demo_home, session_cli) -> dict[str, dict]:
    """`nodes list` of the demo estate: what every fresh copy shows before a change."""
    return nodes(session_cli, demo_home)


@pytest.fixture(scope="session")
def demo_fraud(demo_home, session_cli) -> dict:
    return deployment(session_cli, demo_home, "fraud-scorer")


@pytest.fixture(scope="session")
def node_names(demo_home) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, pool in sql(demo_home, "SELECT name, pool FROM nodes ORDER BY name"):
        out.setdefault(pool, []).append(name)
    return out


@pytest.mark.parametrize("case", NODE_CHANGES)
def test_rollback_of_a_node_change(mc, home_copy, estate_facts, node_names, demo_nodes, case):
    verb, *args = NODE_CHANGES[case]
    # the demo's cordoned node for uncordon; a GPU node for the GPU taint's removal; else a plain cpu node
    name = (
        estate_facts["cordoned"]
        if case == "uncordon"
        else node_names["gpu-a100"][0]
        if case == "taint-remove"
        else node_names["cpu-general"][0]
    )
    before = demo_nodes[name]
    mc.ok(*H(home_copy), "nodes", verb, name, *args)
    event = completed(home_copy, verb, name)
    assert event["before"] == node_state(before) and event["after"] != event["before"]
    rollback(mc, home_copy, event)
    assert nodes(mc, home_copy)[name] == before


def test_rollback_refuses_when_the_object_changed_since_unless_forced(mc, home_copy, node_names, demo_nodes):
    name = node_names["highmem"][0]
    before = demo_nodes[name]
    mc.ok(*H(home_copy), "nodes", "label", name, "first=1")
    first = completed(home_copy, "label", name)
    mc.ok(*H(home_copy), "nodes", "label", name, "second=2")
    count = len(events(home_copy))
    r = mc(*H(home_copy), "audit", "rollback", str(first["seq"]))
    assert r.rc == 1 and "has changed since" in r.err and "--force" in r.err
    assert len(events(home_copy)) == count  # nothing written, nothing changed
    assert pool_nodes(home_copy, "highmem")[name] == {
        **node_state(before),
        "labels": {**before["labels"], "first": "1", "second": "2"},
    }
    rb = rollback(mc, home_copy, first, "--force")
    assert rb["annotations"]["forced"] is True
    assert nodes(mc, home_copy)[name] == before


def test_rollback_of_a_drain_eviction_puts_the_pod_back(mc, home_copy, estate_facts, demo_nodes):
    name = estate_facts["fraud_nodes"][0]
    mine = sql(
        home_copy,
        "SELECT namespace, name, node, phase, ready_at FROM pods WHERE node = ? AND owner NOT LIKE 'DaemonSet/%'",
        (name,),
    )
    assert mine
    count = demo_nodes[name]["pods"]
    mc.ok(*H(home_copy), "nodes", "drain", name, "--ignore-daemonsets", "--delete-emptydir-data")
    event = completed(home_copy, "evict")
    ns, pod = event["object_ref"]["namespace"], event["object_ref"]["name"]
    orig = next(p for p in mine if p[:2] == (ns, pod))
    assert sql(home_copy, "SELECT node FROM pods WHERE namespace = ? AND name = ?", (ns, pod))[0][0] != name
    rollback(mc, home_copy, event)
    assert (
        sql(
            home_copy,
            "SELECT namespace, name, node, phase, ready_at FROM pods WHERE namespace = ? AND name = ?",
            (ns, pod),
        )[0]
        == orig
    )
    assert nodes(mc, home_copy)[name]["pods"] == count - len(mine) + 1


def test_rollback_of_a_node_config_apply(mc, home_copy, estate_facts, node_names, demo_nodes):
    """The pool change made three changes to each node (cordon, apply-config, uncordon); the apply cannot be
    undone alone (the uncordon came after), but undoing the three in reverse gives the node back exactly."""
    name = next(n for n in node_names["gpu-a100"] if n != estate_facts["cordoned"])
    before = demo_nodes[name]
    mc.ok(*H(home_copy), "nodes", "apply-config", "gpu-a100", NEW_CFG, "--max-unavailable", "8", "--no-drain", "--yes")
    apply_ev = completed(home_copy, "apply-config", name)
    assert apply_ev["before"]["config_version"] == before["config_version"]
    assert apply_ev["after"]["config_version"] == NEW_CFG
    r = mc(*H(home_copy), "audit", "rollback", str(apply_ev["seq"]))
    assert r.rc == 1 and "has changed since" in r.err
    rollback(mc, home_copy, completed(home_copy, "uncordon", name))
    rollback(mc, home_copy, apply_ev)
    assert pool_nodes(home_copy, "gpu-a100")[name] == {
        **node_state(before),
        "unschedulable": True,
        "taints": apply_ev["before"]["taints"],
    }
    rollback(mc, home_copy, completed(home_copy, "cordon", name))
    assert nodes(mc, home_copy)[name] == before


def start_paused(cli, home, version: int = 9, steps: str = "10,100") -> dict:
    op = cli.ok(
        *H(home), "rollouts", "start", "fraud-scorer", "fraud-xgb", str(version), "--steps", steps, "--format", "json"
    ).json()
    assert op["state"] == "paused"
    return op


def test_rollback_of_a_rollout_start_and_set_weight(mc, home_copy, demo_fraud):
    before = demo_fraud
    start_paused(mc, home_copy)
    canary = [r for r in dep_db(home_copy, "fraud-scorer")["revisions"].values() if r["status"] == "canary"]
    assert canary == [{"model_version": 9, "weight": 10, "status": "canary"}]
    rollback(mc, home_copy, completed(home_copy, "set-weight"))
    assert [
        r["weight"] for r in dep_db(home_copy, "fraud-scorer")["revisions"].values() if r["status"] == "canary"
    ] == [0]
    rollback(mc, home_copy, completed(home_copy, "rollout-start"))
    assert deployment(mc, home_copy, "fraud-scorer") == before


def test_rollback_of_a_promotion(mc, home_copy):
    start_paused(mc, home_copy)
    before = deployment(mc, home_copy, "fraud-scorer")
    op = mc.ok(*H(home_copy), "rollouts", "promote", "fraud-scorer", "--format", "json").json()
    assert op["state"] == "done"
    assert dep_db(home_copy, "fraud-scorer")["current_revision"] != before["current_revision"]
    rollback(mc, home_copy, completed(home_copy, "promote"))  # then the step to 100% before it
    rollback(mc, home_copy, completed(home_copy, "set-weight"))
    assert deployment(mc, home_copy, "fraud-scorer") == before


def test_rollback_of_an_abort(mc, home_copy):
    start_paused(mc, home_copy)
    before = deployment(mc, home_copy, "fraud-scorer")
    mc.ok(*H(home_copy), "rollouts", "abort", "fraud-scorer")
    assert dep_db(home_copy, "fraud-scorer")["status"] == "Degraded"
    rollback(mc, home_copy, completed(home_copy, "abort"))
    assert deployment(mc, home_copy, "fraud-scorer") == before


def test_rollback_of_a_rollouts_rollback(mc, home_copy, demo_fraud):
    before = demo_fraud
    out = mc.ok(*H(home_copy), "rollouts", "rollback", "fraud-scorer", "--format", "json").json()
    assert out["serves"] == "fraud-xgb:7"
    assert dep_db(home_copy, "fraud-scorer")["current_revision"] == out["revision"]
    rollback(mc, home_copy, completed(home_copy, "rollout-undo"))
    assert deployment(mc, home_copy, "fraud-scorer") == before


def test_rollback_of_a_rule_created_from_a_signature(mc, home_copy):
    before = mc.ok(*H(home_copy), "rules", "list", "--format", "json").json()
    out = mc.ok(*H(home_copy), "rules", "new", "--from-signature", "1", "--yes", "--format", "json").json()
    rule_id, rule_file = out["rule"]["id"], Path(out["file"])
    assert out["saved"] and rule_id in rule_file.read_text()
    rollback(mc, home_copy, completed(home_copy, "create", rule_id))
    assert rule_id not in rule_file.read_text()
    assert mc.ok(*H(home_copy), "rules", "list", "--format", "json").json() == before


# == 3. roles and read-only ==================================================================================
@pytest.fixture(scope="module")
def ro_home(demo_home, tmp_path_factory) -> tuple[Path, str]:
    """The demo estate with a paused rollout (an operation to pause, resume and roll back)."""
    root = tmp_path_factory.mktemp("ro")
    home = copy_home(demo_home, root / "home")
    c = Cli(root / "cli")
    c.env.update(FAST)
    return home, start_paused(c, home)["id"]


def test_read_only_cannot_mutate_anything(mc, ro_home, estate_facts):
    home, op_id = ro_home
    node = estate_facts["fraud_nodes"][0]
    seq = str(events(home)[0]["seq"])
    commands = [
        ("nodes", "cordon", node),
        ("nodes", "uncordon", estate_facts["cordoned"]),
        ("nodes", "drain", node, "--ignore-daemonsets", "--delete-emptydir-data"),
        ("nodes", "label", node, "a=b"),
        ("nodes", "taint", node, "a=b:NoSchedule"),
        ("nodes", "apply-config", "highmem", NEW_CFG, "--yes"),
        ("rollouts", "start", "churn-predictor", "churn-gbm", "5"),
        ("rollouts", "promote", "fraud-scorer"),
        ("rollouts", "abort", "fraud-scorer"),
        ("rollouts", "rollback", "churn-predictor"),
        ("ops", "pause", op_id),
        ("ops", "resume", op_id),
        ("ops", "rollback", op_id),
        ("audit", "rollback", seq, "--force"),
        ("rules", "new", "--from-signature", "1", "--yes"),
    ]
    state = store_digest(home)
    for args in commands:
        r = mc(*H(home), "--read-only", *args)
        assert r.rc == 3, (args, r.rc, r.err)
        assert "read-only" in r.err and "Traceback" not in r.err
    assert store_digest(home) == state  # not one row of the store changed
    assert not list(mc.root.rglob("rules.toml"))  # no user rule file was written


@pytest.fixture
def roles_cli(mc, tmp_path) -> Cli:
    cfg = tmp_path / "config.toml"
    cfg.write_text('default_role = "viewer"\n\n[roles]\nalice = "admin"\nbob = "operator"\ncarol = "viewer"\n')
    mc.env["MLOPS_CONSOLE_CONFIG"] = str(cfg)
    return mc


def as_user(user: str) -> dict:
    return {"USER": user, "LOGNAME": user}


def test_roles(roles_cli, home_copy, node_names):
    c, home = roles_cli, home_copy
    a, b = node_names["cpu-general"][:2]
    count = len(events(home))
    # carol is a viewer: can look, not cordon
    assert c(*H(home), "nodes", "list", env=as_user("carol")).rc == 0
    r = c(*H(home), "nodes", "cordon", a, env=as_user("carol"))
    assert r.rc == 3 and "operator role" in r.err and "carol" in r.err
    assert len(events(home)) == count
    # bob is an operator: can cordon (recorded as bob), not change a pool's config nor roll back a change
    c.ok(*H(home), "nodes", "cordon", a, env=as_user("bob"))
    ev = completed(home, "cordon", a)
    assert ev["user"] == "bob" and pool_nodes(home, "cpu-general")[a]["unschedulable"] is True
    r = c(*H(home), "nodes", "apply-config", "gpu-a100", NEW_CFG, "--yes", env=as_user("bob"))
    assert r.rc == 3 and "admin role" in r.err
    r = c(*H(home), "audit", "rollback", str(ev["seq"]), env=as_user("bob"))
    assert r.rc == 3 and "admin role" in r.err
    # bob cannot borrow alice's role
    r = c(*H(home), "--as", "alice", "audit", "rollback", str(ev["seq"]), env=as_user("bob"))
    assert r.rc == 3
    r = c(*H(home), "--as", "alice", "nodes", "cordon", b, env=as_user("bob"))
    assert r.rc == 3
    assert len(events(home)) == count + 2 and not sql(home, f"SELECT * FROM operations WHERE {NOT_DEMO}")
    # alice is an admin: both
    c.ok(*H(home), "audit", "rollback", str(ev["seq"]), env=as_user("alice"))
    assert pool_nodes(home, "cpu-general")[a]["unschedulable"] is False and events(home)[0]["user"] == "alice"
    op = c.ok(
        *H(home),
        "nodes",
        "apply-config",
        "gpu-a100",
        NEW_CFG,
        "--max-unavailable",
        "8",
        "--no-drain",
        "--yes",
        "--format",
        "json",
        env=as_user("alice"),
    ).json()
    assert op["state"] == "done" and op["user"] == "alice"
    # an unknown user gets the default role: viewer
    assert c(*H(home), "nodes", "cordon", b, env=as_user("dave")).rc == 3


# == 4. crash safety: kill at every kind of step =============================================================
POOL, POOL_SIZE, BATCH = "cpu-general", 18, 3
APPLY = ("nodes", "apply-config", POOL, NEW_CFG, "--max-unavailable", str(BATCH), "--yes", "--format", "json")
# Node steps run per batch of 3: cordon+drain each node (1-6), apply each (7-9), uncordon each (10-12). Every
# step of the first batch, the first and last of the second, then later ones (the 72nd is the last: 18 nodes x 4
# steps); intents and changes: the first, one mid-way, the last (72 of each). Each point costs ~1.5 s.
NODE_STEPS = list(range(1, 13)) + [13, 24, 47, 72]
CHANGE_POINTS = [("after-intent", n) for n in (1, 40)] + [("after-change", n) for n in (2, 40, 72)]
POOL_POINTS = [f"node-step:{n}" for n in NODE_STEPS] + [f"{p}:{n}" for p, n in CHANGE_POINTS]
# killed right after a node's cordon, before its step was recorded (the 1st and 5th changes: nodes 1 and 3): the
# node is cordoned while its step still says pending
CORDON_POINTS = ["after-change:1", "after-change:5"]


def step_states_after(done_steps: int, n: int = POOL_SIZE, batch: int = BATCH) -> list[str]:
    """The steps' states once `done_steps` node steps are made, in the runner's order: per batch, cordon and
    drain each node, then apply each, then uncordon each."""
    states = ["pending"] * n
    order = []
    for b in range(0, n, batch):
        idx = list(range(b, min(n, b + batch)))
        order += [(i, s) for i in idx for s in ("cordoned", "drained")]
        order += [(i, "applied") for i in idx] + [(i, "done") for i in idx]
    for i, s in order[:done_steps]:
        states[i] = s
    return states


@pytest.fixture(scope="session")
def pool_before(demo_home) -> dict[str, dict]:
    return pool_nodes(demo_home, POOL)


def test_a_clean_pool_change_and_its_audit_events(mc, home_copy, pool_before):
    assert len(pool_before) == POOL_SIZE and not any(n["unschedulable"] for n in pool_before.values())
    n0 = len(events(home_copy))
    op = mc.ok(*H(home_copy), *APPLY).json()
    assert op["state"] == "done" and op["progress"] == {"done": POOL_SIZE}
    new = audit(mc, home_copy)[:-n0]
    intents = [e for e in new if e["stage"] == "RequestReceived"]
    assert len(new) == 2 * len(intents) and not pending_intents(home_copy)
    assert len(intents) >= max(n for _, n in CHANGE_POINTS)  # the crash points below are all reached
    assert {e["verb"] for e in intents} == {"cordon", "evict", "apply-config", "uncordon", "set-desired-config"}
    assert all(e["annotations"].get("operation") == op["id"] for e in intents)
    assert pool_nodes(home_copy, POOL) == {n: {**b, "config_version": NEW_CFG} for n, b in pool_before.items()}
    assert not [d for d in mc.ok(*H(home_copy), "nodes", "drift", "--format", "json").json() if d["pool"] == POOL]


def crash(cli, home: Path, point: str, *args: str) -> None:
    r = cli(*H(home), *args, env={"MLOPS_CONSOLE_CRASH_AT": point})
    assert r.rc == 137, (point, r.rc, r.err[-2000:])


def check_after_crash(cli, home: Path, kind: str, batch: int = 1) -> dict:
    """The next start: the operation shows as interrupted, at the batch (or step) it was on; no intent is left
    without an outcome."""
    r = cli.ok(*H(home), "ops", "list", "--format", "json")
    [op] = [o for o in r.json() if o["target"] != DEMO_CANARY]
    assert op["kind"] == kind and op["state"] == "interrupted"
    m = re.search(rf"operation {op['id']} \({kind} \S+\) was interrupted at step (\d+) of (\d+)", r.err)
    assert m and int(m.group(2)) == len(op["steps"]), r.err
    first_open = next(i for i, s in enumerate(op["steps"]) if s["state"] != "done")
    assert int(m.group(1)) - 1 == first_open // batch * batch
    assert not pending_intents(home)
    return op


@pytest.mark.parametrize("point", POOL_POINTS + CORDON_POINTS)
def test_pool_change_killed_then_resumed_or_rolled_back(mc, home_copy, pool_before, tmp_path, point):
    crash(mc, home_copy, point, *APPLY)
    twin = copy_home(home_copy, tmp_path / "twin")  # the same crashed store, for the rollback
    old = {n["config_version"] for n in pool_before.values()}
    assert {n["config_version"] for n in pool_nodes(home_copy, POOL).values()} <= old | {NEW_CFG}
    op = check_after_crash(mc, home_copy, "pool-config", BATCH)
    if point.startswith("node-step:"):  # killed before its Nth node step: exactly N-1 were made and recorded
        assert [s["state"] for s in op["steps"]] == step_states_after(int(point.split(":")[1]) - 1)
    # resume: it finishes from where it stopped
    done = mc.ok(*H(home_copy), "ops", "resume", op["id"], "--format", "json").json()
    assert done["state"] == "done" and done["progress"] == {"done": POOL_SIZE}
    assert pool_nodes(home_copy, POOL) == {n: {**b, "config_version": NEW_CFG} for n, b in pool_before.items()}
    assert not pending_intents(home_copy)
    assert chain_ok(home_copy)  # the records of before, during and after the crash
    # or roll back: every node on its old config, schedulable as before
    back = mc.ok(*H(twin), "ops", "rollback", op["id"], "--format", "json").json()
    assert back["state"] == "rolled_back"
    assert pool_nodes(twin, POOL) == pool_before
    assert not pending_intents(twin)


ROLLOUT = ("rollouts", "start", "fraud-scorer", "fraud-xgb", "9", "--steps", "10,50,100", "--pause", "0")
# the changes of a clean run: 1 rollout-start, 2-4 set-weight 10/50/100, 5 promote
ROLLOUT_POINTS = [
    ("after-change:1", "promote"),
    ("after-intent:1", "resume"),
    ("after-change:2", "promote"),
    ("after-change:3", "resume"),
    ("after-intent:4", "promote"),
    ("after-change:4", "resume"),
    ("after-change:5", "promote"),
]
PROMOTED = "after-change:5"  # killed after the promotion itself, before the operation was marked done


@pytest.mark.parametrize("point,how", ROLLOUT_POINTS)
def test_rollout_killed_midway(mc, home_copy, tmp_path, point, how):
    stable = dep_db(home_copy, "fraud-scorer")
    crash(mc, home_copy, point, *ROLLOUT)
    twin = copy_home(home_copy, tmp_path / "twin")
    op = check_after_crash(mc, home_copy, "rollout")
    status = mc.ok(*H(home_copy), "rollouts", "status", "fraud-scorer", "--format", "json").json()
    assert status["rollout"]["id"] == op["id"] and status["rollout"]["state"] == "interrupted"
    # carry on: the canary ends serving all traffic
    args = ("rollouts", "promote", "fraud-scorer") if how == "promote" else ("ops", "resume", op["id"])
    assert mc.ok(*H(home_copy), *args, "--format", "json").json()["state"] == "done"
    dep = dep_db(home_copy, "fraud-scorer")
    assert dep["status"] == "Healthy" and dep["current_revision"] not in stable["revisions"]
    assert dep["revisions"][dep["current_revision"]] == {"model_version": 9, "weight": 100, "status": "active"}
    assert dep["revisions"][stable["current_revision"]]["status"] == "retired"
    assert mc.ok(*H(home_copy), "audit", "verify").out.startswith("audit chain ok")
    if point == PROMOTED:
        return  # test_abort_after_a_kill_right_after_the_promotion
    # or abort: all traffic back on the stable revision, the canary marked aborted
    r = mc(*H(twin), "rollouts", "abort", "fraud-scorer")
    dep = dep_db(twin, "fraud-scorer")
    assert dep["current_revision"] == stable["current_revision"]
    assert {n: v for n, v in dep["revisions"].items() if n in stable["revisions"]} == stable["revisions"]
    # (killed before the canary revision was added: there is none to mark)
    assert [v["status"] for n, v in dep["revisions"].items() if n not in stable["revisions"]] == (
        [] if point == "after-intent:1" else ["aborted"]
    )
    assert r.rc == 0, r.err
    assert sql(twin, f"SELECT state FROM operations WHERE {NOT_DEMO}") == [("aborted",)]
    assert not pending_intents(twin) and not ops_list(mc, twin, "--unfinished")


def test_abort_after_a_kill_right_after_the_promotion(mc, home_copy):
    """The promotion was made, its record was not: abort must not take traffic from the only revision left
    serving. It refuses, names `rollouts rollback`, and marks the rollout done."""
    stable = dep_db(home_copy, "fraud-scorer")
    crash(mc, home_copy, PROMOTED, *ROLLOUT)
    r = mc(*H(home_copy), "rollouts", "abort", "fraud-scorer")
    assert r.rc == 1 and "already promoted" in r.err and "rollouts rollback" in r.err
    dep = dep_db(home_copy, "fraud-scorer")
    assert sum(r["weight"] for r in dep["revisions"].values()) == 100, dep
    assert dep["revisions"][dep["current_revision"]] == {"model_version": 9, "weight": 100, "status": "active"}
    assert sql(home_copy, f"SELECT state FROM operations WHERE {NOT_DEMO}") == [("done",)]
    # and the way back the message names works
    mc.ok(*H(home_copy), "rollouts", "rollback", "fraud-scorer", "--to-revision", str(stable["current_revision"]))
    dep = dep_db(home_copy, "fraud-scorer")
    assert (
        dep["revisions"][dep["current_revision"]]["model_version"]
        == stable["revisions"][stable["current_revision"]]["model_version"]
    )


@pytest.mark.parametrize("how", ["rollouts-abort", "ops-rollback"])
def test_a_successful_abort_exits_0_and_finishes_the_operation(mc, home_copy, demo_fraud, how):
    op = start_paused(mc, home_copy)
    args = ("rollouts", "abort", "fraud-scorer") if how == "rollouts-abort" else ("ops", "rollback", op["id"])
    r = mc(*H(home_copy), *args, "--format", "json")
    assert r.rc == 0, r.err
    assert json.loads(r.out)["state"] in ("aborted", "rolled_back")
    dep = dep_db(home_copy, "fraud-scorer")
    assert dep["current_revision"] == demo_fraud["current_revision"] and dep["status"] == "Degraded"
    assert dep["revisions"][demo_fraud["current_revision"]]["weight"] == 100
    assert [v["status"] for v in dep["revisions"].values()][-1] == "aborted"
    assert not ops_list(mc, home_copy, "--unfinished")


# == 5. drains ===============================================================================================
def test_drain_refuses_daemonset_pods_without_the_flag_and_the_node_stays_cordoned(mc, home_copy, estate_facts):
    name = estate_facts["fraud_nodes"][0]
    count = nodes(mc, home_copy)[name]["pods"]
    r = mc(*H(home_copy), "nodes", "drain", name)
    assert r.rc == 2 and "--ignore-daemonsets" in r.err
    now = nodes(mc, home_copy)[name]
    assert now["unschedulable"] is True and now["pods"] == count


def test_drain_empties_the_node_but_for_daemonset_pods(mc, home_copy, estate_facts):
    name = estate_facts["fraud_nodes"][0]
    owners = [o for (o,) in sql(home_copy, "SELECT owner FROM pods WHERE node = ?", (name,))]
    moved = len([o for o in owners if not o.startswith("DaemonSet/")])
    assert moved
    r = mc.ok(*H(home_copy), "nodes", "drain", name, "--ignore-daemonsets", "--delete-emptydir-data")
    assert f"node/{name} drained ({moved} pods evicted" in r.out
    now = nodes(mc, home_copy)[name]
    assert now["unschedulable"] is True and now["pods"] == len(owners) - moved
    assert all(o.startswith("DaemonSet/") for (o,) in sql(home_copy, "SELECT owner FROM pods WHERE node = ?", (name,)))
    evictions = [e for e in audit(mc, home_copy) if e["verb"] == "evict" and e["stage"] == "ResponseComplete"]
    assert len(evictions) == moved and all(e["annotations"]["drain"] == name for e in evictions)


def test_drain_waits_for_disruption_budgets_and_retries(mc, home_copy, estate_facts):
    a, b = estate_facts["fraud_nodes"][:2]
    # real time (not the pinned clock) so that a rescheduled pod becomes ready after its 1 s start-up
    r = mc.ok(
        *H(home_copy),
        "nodes",
        "drain",
        a,
        b,
        "--ignore-daemonsets",
        "--yes",
        env={"MLOPS_CONSOLE_SIM_POD_START": "1", "MLOPS_CONSOLE_NOW": ""},
        timeout=30,
    )
    retries = [int(x) for x in re.findall(r"drained \(\d+ pods evicted, (\d+) retries\)", r.out)]
    assert len(retries) == 2 and sum(retries) > 0, r.out
    assert "blocked by disruption budgets; retrying" in r.err
    for n in (a, b):
        assert all(o.startswith("DaemonSet/") for (o,) in sql(home_copy, "SELECT owner FROM pods WHERE node = ?", (n,)))


def test_drain_times_out_and_the_node_stays_cordoned(mc, home_copy, estate_facts):
    a, b = estate_facts["fraud_nodes"][:2]
    r = mc(
        *H(home_copy),
        "nodes",
        "drain",
        a,
        b,
        "--ignore-daemonsets",
        "--yes",
        "--timeout",
        "0.2s",
        env={"MLOPS_CONSOLE_SIM_POD_START": "30"},
    )
    assert r.rc == 1 and "Traceback" not in r.err
    assert f"drain {b}: timed out after 0.2s" in r.err and "disruption budget" in r.err
    now = pool_nodes(home_copy, POOL)
    assert now[a]["unschedulable"] is True and now[b]["unschedulable"] is True
    assert "Deployment/fraud-scorer" in [o for (o,) in sql(home_copy, "SELECT owner FROM pods WHERE node = ?", (b,))]


# == 6. a batch change stops on its first failure ==============================================================
def test_pool_change_stops_on_the_first_failure_and_rolls_back(mc, home_copy, estate_facts):
    faulty = estate_facts["faulty"]
    before = pool_nodes(home_copy, "highmem")
    assert faulty in before and len(before) == 14
    r = mc(*H(home_copy), "nodes", "apply-config", "highmem", NEW_CFG, "--yes", "--format", "json")
    assert r.rc == 1 and faulty in r.err and "kubelet failed to start" in r.err
    op_id = json.loads(r.out)["id"]
    assert f"ops rollback {op_id}" in r.err
    shown = mc.ok(*H(home_copy), "ops", "show", op_id, "--format", "json").json()
    assert shown["state"] == "failed" and faulty in shown["error"]
    order = [s["node"] for s in shown["steps"]]
    k = order.index(faulty)
    assert k > 0
    assert [s["state"] for s in shown["steps"]] == ["done"] * k + ["drained"] + ["pending"] * (len(order) - k - 1)
    assert shown["progress"] == {"done": k, "drained": 1, "pending": len(order) - k - 1}
    now = pool_nodes(home_copy, "highmem")
    assert now[faulty]["unschedulable"] is True and now[faulty]["config_version"] == before[faulty]["config_version"]
    for n in order[:k]:
        assert now[n] == {**before[n], "config_version": NEW_CFG}
    for n in order[k + 1 :]:
        assert now[n] == before[n]
    failed = events(home_copy, "stage = 'Failed'")
    assert [(e["verb"], e["object_ref"]["name"]) for e in failed] == [("apply-config", faulty)]
    # roll back: everything as it was
    back = mc.ok(*H(home_copy), "ops", "rollback", op_id, "--format", "json").json()
    assert back["state"] == "rolled_back"
    assert pool_nodes(home_copy, "highmem") == before
    assert mc.ok(*H(home_copy), "audit", "verify").rc == 0


def test_an_unknown_audit_id_is_bad_input_not_the_first_change(mc, home_copy):
    for args in (("audit", "rollback", "999"), ("audit", "show", "999"), ("audit", "rollback", "nope")):
        r = mc(*H(home_copy), *args)
        assert r.rc == 2 and "no audit event" in r.err, (args, r.rc, r.err)


def test_a_check_that_carries_on_from_a_good_verdict_sees_only_what_came_after(audited_home, tmp_path):
    """The Audit view checks the records added since its last check on each refresh (a whole walk of a long
    chain stalls the keyboard); `v` walks the whole chain."""
    from core.audit import AuditLog
    from core.store import Store

    def verdict(home: Path, since=None):
        store = Store(home)
        try:
            return AuditLog(store).verify(since=since)
        finally:
            store.close()

    whole = verdict(audited_home)
    assert whole.ok and whole.last_seq == 9
    assert verdict(audited_home, since=verdict_of_first(audited_home, 8)) == whole  # carried on: the same end
    edited_after = tampered(audited_home, tmp_path / "b", "UPDATE audit SET user = 'mallory' WHERE seq = 9")
    carried = verdict(edited_after, since=verdict_of_first(audited_home, 8))
    assert not carried.ok and carried.first_bad == 9
    edited_before = tampered(audited_home, tmp_path / "c", "UPDATE audit SET user = 'mallory' WHERE seq = 2")
    assert verdict(edited_before, since=whole).ok  # not looked at again…
    assert not verdict(edited_before).ok  # …until the whole walk


def verdict_of_first(home: Path, n: int):
    """The verdict a check made when the chain had its first `n` records."""
    from core.audit import Verdict

    seq, hash_ = sql(home, "SELECT seq, hash FROM audit WHERE seq = ?", (n,))[0]
    return Verdict(True, n, last_seq=seq, last_hash=hash_)
