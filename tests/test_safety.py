"""Safety under concurrency and faults: several mlops-console processes on one home, a full disk, a held lock,
and input that must not reach the audit trail or the terminal.

Processes are synchronised through pipes (the MLOPS_CONSOLE_HOLD_AT hook stops a process at a named point,
says so on stderr and waits for a line on stdin), never by sleeping."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import DB_NAME, REPO, SIM_DB, Cli, connect

FAST = {"MLOPS_CONSOLE_SIM_POD_START": "0"}
TERMINAL = ("ResponseComplete", "Failed")


def H(home) -> tuple[str, str]:
    return ("--home", str(home))


@pytest.fixture
def mc(cli) -> Cli:
    cli.env.update(FAST)
    return cli


def sql(home: Path, query: str, params: tuple = ()) -> list[tuple]:
    c = connect(home)  # the simulator's tables (nodes…) attached
    try:
        return c.execute(query, params).fetchall()
    finally:
        c.close()


def trail(home: Path) -> dict[str, list[dict]]:
    """auditID -> its records, oldest first (annotations decoded)."""
    out: dict[str, list[dict]] = {}
    for audit_id, stage, verb, notes in sql(home, "SELECT audit_id, stage, verb, annotations FROM audit ORDER BY seq"):
        out.setdefault(audit_id, []).append({"stage": stage, "verb": verb, "annotations": json.loads(notes)})
    return out


def schedulable_nodes(home: Path, n: int) -> list[str]:
    return [name for (name,) in sql(home, "SELECT name FROM nodes WHERE unschedulable = 0 ORDER BY name LIMIT ?", (n,))]


class Held:
    """`python -m console ARGS` stopped at a hold point: it has said so on stderr and waits on its stdin."""

    def __init__(self, cli: Cli, points: str, *args: str):
        env = {**cli.env, "MLOPS_CONSOLE_HOLD_AT": points}
        self.args = args
        self.p = subprocess.Popen(
            [sys.executable, "-m", "console", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cli.root,
        )
        self.err = ""
        first = points.split(",")[0].split(":")[0]
        assert self.reached(first), f"{args} never held at {first} (rc {self.p.wait()}): {self.err}"

    def reached(self, point: str) -> bool:
        """Read its stderr until it says it holds at `point` (True) or it ends (False)."""
        while True:
            line = self.p.stderr.readline()
            if not line:
                return False
            if line.strip() == f"mlops-console: held at {point}":
                return True
            self.err += line

    def go(self) -> None:
        self.p.stdin.write("go\n")
        self.p.stdin.flush()

    def wait(self) -> tuple[int, str, str]:
        out, err = self.p.communicate()
        return self.p.returncode, out, self.err + err

    def release(self) -> tuple[int, str, str]:
        self.go()
        return self.wait()

    def kill(self) -> None:
        self.p.kill()  # SIGKILL: as a power cut would
        self.p.communicate()


# == 1. recovery settles only the intents of writers that are gone ========================================
@pytest.mark.parametrize("then", ["writer finishes", "writer killed"])
def test_a_bystander_does_not_settle_the_intent_of_a_running_writer(mc, home_copy, then):
    [node] = schedulable_nodes(home_copy, 1)
    writer = Held(mc, "after-intent", *H(home_copy), "nodes", "cordon", node)
    [(audit_id,)] = sql(
        home_copy,
        "SELECT audit_id FROM audit a WHERE stage = 'RequestReceived' AND NOT EXISTS ("
        " SELECT 1 FROM audit b WHERE b.audit_id = a.audit_id AND b.stage != a.stage)",
    )
    # a colleague looks at the nodes meanwhile: their start must leave the running writer's change alone
    mc.ok(*H(home_copy), "nodes", "list", "--format", "json")
    assert [r["stage"] for r in trail(home_copy)[audit_id]] == ["RequestReceived"]
    if then == "writer finishes":
        rc, out, err = writer.release()
        assert rc == 0, err
        assert [(r["stage"], "recovered" in r["annotations"]) for r in trail(home_copy)[audit_id]] == [
            ("RequestReceived", False),
            ("ResponseComplete", False),
        ]
    else:
        writer.kill()
        mc.ok(*H(home_copy), "nodes", "list", "--format", "json")  # the next start settles it: not applied
        records = trail(home_copy)[audit_id]
        assert [r["stage"] for r in records] == ["RequestReceived", "Failed"]
        assert records[1]["annotations"]["recovered"] == "interrupted before the change"
    node_now = mc.ok(*H(home_copy), "nodes", "list", "--format", "json").json()
    assert next(n for n in node_now if n["name"] == node)["unschedulable"] is (then == "writer finishes")


def test_an_intent_from_before_writer_identity_is_still_settled(mc, home_copy):
    """A trail written by an older mlops-console has intents without a writer: a next start settles them."""
    from core.audit import AuditLog
    from core.store import Store

    [node] = schedulable_nodes(home_copy, 1)
    store = Store(home_copy)
    try:
        # the intent exactly as the older code wrote it: no writer annotation
        intent = AuditLog(store)._append(
            stage="RequestReceived",
            verb="cordon",
            user="old",
            object_ref={"resource": "node", "name": node},
            before={"old": "snapshot"},
        )
    finally:
        store.close()
    mc.ok(*H(home_copy), "nodes", "list")
    records = trail(home_copy)[intent.audit_id]
    assert [r["stage"] for r in records][:1] == ["RequestReceived"] and len(records) == 2
    assert records[1]["stage"] in TERMINAL and "recovered" in records[1]["annotations"]


def test_writer_liveness():
    from core.audit import writer_alive, writer_identity

    me = writer_identity()
    assert me["pid"] == os.getpid() and writer_alive(me)
    if me["start"] is not None:  # Linux: a reused pid has another start time
        assert not writer_alive({**me, "start": me["start"] + 1})
    assert not writer_alive({**me, "boot_id": "another-boot"}) or me["boot_id"] is None
    assert not writer_alive({**me, "host": me["host"] + ".elsewhere"})
    child = subprocess.run(
        [sys.executable, "-c", "import json; from core.audit import writer_identity as w; print(json.dumps(w()))"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    assert not writer_alive(json.loads(child.stdout))  # that process has ended
    assert not writer_alive(None) and not writer_alive("garbage") and not writer_alive({})


def test_a_change_never_gets_a_second_outcome(tmp_path):
    from core.audit import AlreadySettled, AuditLog
    from core.store import Store

    store = Store(tmp_path)
    log = AuditLog(store)
    ref = {"resource": "node", "name": "n1"}
    intent = log._append(stage="RequestReceived", verb="cordon", user="u", object_ref=ref)
    log._append(stage="ResponseComplete", verb="cordon", user="u", object_ref=ref, audit_id=intent.audit_id)
    for stage in TERMINAL:
        with pytest.raises(AlreadySettled):
            log._append(stage=stage, verb="cordon", user="u", object_ref=ref, audit_id=intent.audit_id)
    assert [e.stage for e in log.get(intent.audit_id)] == ["RequestReceived", "ResponseComplete"]
    assert log.verify().ok
    store.close()


LOOP = """
    import sys
    from console.cli import main
    home, node, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print("ready", file=sys.stderr, flush=True)
    sys.stdin.readline()  # the barrier: both loops start together
    for _ in range(n):
        for verb in ("cordon", "uncordon"):
            rc = main(["--home", home, "nodes", verb, node])
            if rc:
                sys.exit(rc)
"""


def test_two_processes_changing_nodes_at_once_leave_one_true_outcome_per_change(mc, home_copy):
    n = 10
    nodes = schedulable_nodes(home_copy, 2)
    before = set(trail(home_copy))
    loops = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(LOOP), str(home_copy), node, str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=mc.env,
            cwd=mc.root,
        )
        for node in nodes
    ]
    for p in loops:
        assert p.stderr.readline().strip() == "ready"
    for p in loops:
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in loops:
        _, err = p.communicate()
        assert p.returncode == 0, err
    changes = {k: v for k, v in trail(home_copy).items() if k not in before}
    assert len(changes) == 2 * 2 * n
    for audit_id, records in changes.items():
        assert [r["stage"] for r in records] == ["RequestReceived", "ResponseComplete"], (audit_id, records)
        assert not any("recovered" in r["annotations"] for r in records), (audit_id, records)


# == 2. one unfinished operation per object ================================================================
POOL, NEW_CFG = "cpu-general", "ncfg-2026.12.1"
APPLY = ("nodes", "apply-config", POOL, NEW_CFG, "--max-unavailable", "18", "--no-drain", "--yes", "--format", "json")


class _NoCluster:
    cluster = None


def test_a_second_unfinished_operation_on_one_target_is_refused_by_the_store(tmp_path, monkeypatch):
    from core.errors import Conflict
    from core.operations import Operations
    from core.store import Store

    store = Store(tmp_path)
    ops = Operations(store, _NoCluster())
    first = ops.create("pool-config", "pool/p", {}, [], "u")
    with pytest.raises(Conflict, match=rf"pool/p already has an unfinished operation {first['id']} \(running\)"):
        ops.create("pool-config", "pool/p", {}, [], "u")
    # the same with the check in Python out of the way: the store's index refuses it
    monkeypatch.setattr(Operations, "unfinished_on", lambda self, target: None)
    with pytest.raises(Conflict, match=rf"pool/p already has an unfinished operation {first['id']}"):
        ops.create("pool-config", "pool/p", {}, [], "u")
    assert store.scalar("SELECT count(*) FROM operations") == 1
    for state in ("paused", "interrupted", "failed"):  # still unfinished: still one at a time
        store.conn.execute("UPDATE operations SET state = ? WHERE id = ?", (state, first["id"]))
        with pytest.raises(Conflict):
            ops.create("pool-config", "pool/p", {}, [], "u")
    store.conn.execute("UPDATE operations SET state = 'done' WHERE id = ?", (first["id"],))
    second = ops.create("pool-config", "pool/p", {}, [], "u")  # finished ones do not count
    ops.create("pool-config", "pool/q", {}, [], "u")  # nor do other targets
    assert store.scalar("SELECT count(*) FROM operations") == 3
    with pytest.raises(Conflict, match=rf"unfinished operation {second['id']}"):  # nor may a finished one resume
        ops.claim(ops.get(first["id"]))
    store.close()


def test_a_store_holding_two_unfinished_operations_on_one_target_still_opens(tmp_path):
    """Written before one-per-target was enforced: the migration keeps the newest unfinished one."""
    from core.store import MIGRATIONS, SCHEMA_VERSION, Store

    conn = sqlite3.connect(tmp_path / DB_NAME)
    for script in MIGRATIONS[:4]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 4")
    for op_id, created in (("old", "2026-11-20T10:00:00Z"), ("new", "2026-11-20T11:00:00Z")):
        conn.execute(
            "INSERT INTO operations (id, kind, target, params, state, steps, user, created_at, updated_at)"
            " VALUES (?, 'pool-config', 'pool/p', '{}', 'running', '[]', 'u', ?, ?)",
            (op_id, created, created),
        )
    conn.commit()
    conn.close()
    store = Store(tmp_path)
    assert store.schema_version == SCHEMA_VERSION
    states = dict(store.conn.execute("SELECT id, state FROM operations").fetchall())
    assert states == {"old": "aborted", "new": "running"}
    assert "migration" in store.scalar("SELECT error FROM operations WHERE id = 'old'")
    store.close()


def test_two_apply_config_runs_on_one_pool_at_once_exactly_one_starts(mc, home_copy):
    """Both runs are stopped at the moment they create their operation and let go together; the one that
    starts is stopped again at its first change, so the other decides while that operation is surely
    unfinished, however the two are scheduled."""
    runs = [Held(mc, "operation-create,after-intent", *H(home_copy), *APPLY) for _ in range(2)]
    for r in runs:
        r.go()
    at_first_change = [r.reached("after-intent") for r in runs]
    assert sorted(at_first_change) == [False, True], [r.err for r in runs]
    winner, loser = runs if at_first_change[0] else runs[::-1]
    rc, out, err = loser.wait()
    assert rc == 1 and f"pool/{POOL} already has an unfinished operation" in err and "Traceback" not in err, err
    assert out == ""
    rc, out, err = winner.release()
    assert rc == 0, err
    assert json.loads(out)["state"] == "done"
    assert sql(home_copy, "SELECT count(*) FROM operations WHERE target = ?", (f"pool/{POOL}",)) == [(1,)]
    assert {cv for (cv,) in sql(home_copy, "SELECT config_version FROM nodes WHERE pool = ?", (POOL,))} == {NEW_CFG}


# == 3. store errors keep their cause ======================================================================
DISK_FULL_CLI = """
    import sys
    import core.store as st
    opened = st.Store.conn.fget

    def conn(self):  # this process's store cannot grow past its size at opening: the disk is full
        c = opened(self)
        if not getattr(self._local, "full", False):
            self._local.full = True
            c.execute(f"PRAGMA max_page_count = {c.execute('PRAGMA page_count').fetchone()[0]}")
        return c

    st.Store.conn = property(conn)
    from console.cli import main
    sys.exit(main(sys.argv[1:]))
"""


def test_a_full_disk_is_named_and_nothing_is_half_written(mc, home_copy):
    [node] = schedulable_nodes(home_copy, 1)
    labels_before = sql(home_copy, "SELECT labels FROM nodes WHERE name = ?", (node,))
    n_before = sql(home_copy, "SELECT count(*) FROM audit")[0][0]
    # labels far larger than a page: the change needs pages the store may not take
    words = [f"team{i:03d}.example.com/owner={'x' * 63}" for i in range(100)]
    p = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(DISK_FULL_CLI), *H(home_copy), "nodes", "label", node, *words],
        capture_output=True,
        text=True,
        env=mc.env,
        cwd=mc.root,
        timeout=120,
    )
    assert p.returncode == 2, p.stderr
    # the intent fits in the console's store; the labels do not fit in the simulator's
    assert p.stderr == (
        f"mlops-console: error: store {home_copy / SIM_DB}: the disk is full (database or disk "
        f"is full); nothing was written\n"
    )
    assert sql(home_copy, "SELECT labels FROM nodes WHERE name = ?", (node,)) == labels_before
    assert sql(home_copy, "PRAGMA integrity_check") == [("ok",)]
    new = [r for r in sql(home_copy, "SELECT stage FROM audit WHERE seq > ?", (n_before,))]
    assert ("ResponseComplete",) not in new  # nothing claims the change was made
    # the next start (the full process is gone) settles what it left: not applied
    mc.ok(*H(home_copy), "nodes", "list")
    changes = {k: v for k, v in trail(home_copy).items() if any(r["verb"] == "label" for r in v)}
    assert all([r["stage"] for r in v][-1] == "Failed" for v in changes.values()), changes
    assert json.loads(mc.ok(*H(home_copy), "audit", "verify", "--format", "json").out)["ok"]


def test_a_held_write_lock_is_named_and_nothing_is_written(mc, home_copy):
    [node] = schedulable_nodes(home_copy, 1)
    before = sql(home_copy, "SELECT count(*) FROM audit")
    other = sqlite3.connect(home_copy / DB_NAME, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # as another mlops-console process writing (or building the estate)
    try:
        r = mc(*H(home_copy), "nodes", "cordon", node, env={"MLOPS_CONSOLE_LOCK_TIMEOUT": "0.05"})
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert r.rc == 2, r.err
    [line] = r.err.splitlines()
    assert line.startswith(
        f"mlops-console: error: store {home_copy / DB_NAME} is locked by another mlops-console process"
    ), line
    assert "building the estate" in line and "nothing was written" in line and "database is locked" in line
    assert sql(home_copy, "SELECT count(*) FROM audit") == before
    assert sql(home_copy, "SELECT unschedulable FROM nodes WHERE name = ?", (node,)) == [(0,)]


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_a_bad_lock_timeout_is_named(mc, home_copy, value):
    r = mc(*H(home_copy), "nodes", "list", env={"MLOPS_CONSOLE_LOCK_TIMEOUT": value})
    assert r.rc == 2 and r.err.splitlines() == [
        f"mlops-console: error: environment variable MLOPS_CONSOLE_LOCK_TIMEOUT must be a number of seconds "
        f"(0 or more), got {value!r}"
    ], r.err


# == 4. names and values as Kubernetes takes them; the acting user ========================================
HOSTILE = "mallory[bold]\x1b[2J"


def node_labels_taints(home: Path, node: str) -> tuple:
    return sql(home, "SELECT labels, taints FROM nodes WHERE name = ?", (node,))[0]


def refused(r, *needles: str) -> str:
    """Exit 2, one line on stderr, naming the field; nothing a terminal would act on."""
    assert r.rc == 2, (r.rc, r.err)
    [line] = r.err.splitlines()
    assert line.startswith("mlops-console: error: ") and "\x1b" not in line, line
    for n in needles:
        assert n in line, (n, line)
    return line


@pytest.mark.parametrize(
    "word,needles",
    [
        (f"team={HOSTILE}", ["label 'team=mallory[bold]\\x1b[2J'", "value"]),
        ("team=" + "x" * 64, ["value", "63 characters"]),
        ("team=-ml", ["value", "start and end with an alphanumeric"]),
        ("-team=ml", ["key", "name part"]),
        ("te am=ml", ["key", "name part"]),
        ("t" * 64 + "=ml", ["key", "name part", "63 characters"]),
        ("Example.com/team=ml", ["key", "prefix", "DNS-1123 subdomain"]),
        ("/team=ml", ["key", "prefix", "empty"]),
        ("example.com/=ml", ["key", "name part", "empty"]),
        ("a/b/c=ml", ["key", "at most one '/'"]),
        (("a" * 63 + ".") * 4 + "com/team=ml", ["key", "prefix", "253 characters"]),
        (f"{HOSTILE}-", ["label 'mallory[bold]\\x1b[2J-'", "key"]),
    ],
)
def test_bad_labels_are_refused_by_name(mc, home_copy, word, needles):
    [node] = schedulable_nodes(home_copy, 1)
    before, events = node_labels_taints(home_copy, node), sql(home_copy, "SELECT count(*) FROM audit")
    refused(mc(*H(home_copy), "nodes", "label", node, "--", "ok=fine", word), *needles)
    assert node_labels_taints(home_copy, node) == before and sql(home_copy, "SELECT count(*) FROM audit") == events


def test_labels_kubernetes_accepts_are_applied(mc, home_copy):
    [node] = schedulable_nodes(home_copy, 1)
    words = [
        "example.com/team=ML_ops-1.a",
        "empty=",
        "x" * 63 + "=" + "y" * 63,
        "a.b-c_d=Z",
        ("a" * 63 + ".") * 3 + "a" * 61 + "/k=v",
    ]
    mc.ok(*H(home_copy), "nodes", "label", node, *words)
    labels = json.loads(node_labels_taints(home_copy, node)[0])
    assert {w.partition("=")[0]: w.partition("=")[2] for w in words}.items() <= labels.items()


@pytest.mark.parametrize(
    "word,needles",
    [
        (f"dedicated={HOSTILE}:NoSchedule", ["taint", "value"]),
        ("-dedicated=ml:NoSchedule", ["taint", "key", "name part"]),
        ("Bad.Prefix/dedicated=ml:NoSchedule", ["taint", "key", "prefix"]),
        ("dedicated=ml:Sometimes", ["taint", "NoSchedule, PreferNoSchedule, NoExecute"]),
        (f"{HOSTILE}:NoSchedule-", ["taint", "key"]),
        ("dedicated:Sometimes-", ["taint", "NoSchedule, PreferNoSchedule, NoExecute"]),
    ],
)
def test_bad_taints_are_refused_by_name(mc, home_copy, word, needles):
    [node] = schedulable_nodes(home_copy, 1)
    before, events = node_labels_taints(home_copy, node), sql(home_copy, "SELECT count(*) FROM audit")
    refused(mc(*H(home_copy), "nodes", "taint", node, "--", word), *needles)
    assert node_labels_taints(home_copy, node) == before and sql(home_copy, "SELECT count(*) FROM audit") == events


def test_taints_kubernetes_accepts_are_applied(mc, home_copy):
    [node] = schedulable_nodes(home_copy, 1)
    mc.ok(*H(home_copy), "nodes", "taint", node, "example.com/gpu=true:NoExecute", "dedicated:PreferNoSchedule")
    taints = json.loads(node_labels_taints(home_copy, node)[1])
    assert {"key": "example.com/gpu", "value": "true", "effect": "NoExecute"} in taints
    assert {"key": "dedicated", "value": "", "effect": "PreferNoSchedule"} in taints


@pytest.mark.parametrize(
    "name,problem",
    [
        (HOSTILE, "control character"),
        ("", "empty"),
        ("a\tb", "control character"),
        ("a\u202eb", "control character"),
        ("u" * 257, "256 characters"),
    ],
    ids=["escape-sequence", "empty", "tab", "bidi-override", "too-long"],
)
@pytest.mark.parametrize("source", ["option", "environment", "config"])
def test_a_bad_acting_user_is_refused_by_name(mc, home_copy, tmp_path, name, problem, source):
    events = sql(home_copy, "SELECT count(*) FROM audit")
    [node] = schedulable_nodes(home_copy, 1)
    args, env, where = [*H(home_copy), "nodes", "cordon", node], {}, ""
    if source == "option":
        args, where = ["--as", name, *args], "option --as"
    elif source == "environment":
        env, where = {"MLOPS_CONSOLE_USER": name}, "environment variable MLOPS_CONSOLE_USER"
    else:
        cfg = tmp_path / "config.toml"
        cfg.write_text(f"user = {json.dumps(name)}\n", encoding="utf-8")
        env, where = {"MLOPS_CONSOLE_CONFIG": str(cfg)}, f"config file {cfg}: key 'user'"
    if source == "environment" and name == "":  # an empty variable is unset, as every MLOPS_CONSOLE_* one is
        mc.ok(*args, env=env)
        assert sql(home_copy, "SELECT user FROM audit ORDER BY seq DESC LIMIT 1")[0][0] != ""
        return
    refused(mc(*args, env=env), where, problem)
    assert sql(home_copy, "SELECT count(*) FROM audit") == events


def test_an_acting_user_with_brackets_and_spaces_is_recorded_as_given(mc, home_copy):
    """Bot accounts are named like renovate[bot]: every screen shows names as text, never as markup."""
    [node] = schedulable_nodes(home_copy, 1)
    mc.ok("--as", "renovate[bot]", *H(home_copy), "nodes", "cordon", node)
    mc.ok(*H(home_copy), "nodes", "uncordon", node, env={"MLOPS_CONSOLE_USER": "Zoë Doe"})
    users = [u for (u,) in sql(home_copy, "SELECT user FROM audit WHERE verb IN ('cordon', 'uncordon') ORDER BY seq")]
    assert users == ["renovate[bot]"] * 2 + ["Zoë Doe"] * 2
