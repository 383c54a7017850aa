"""Durable multi-step operations: a pool's node-config change in batches, a canary rollout.

The plan and the progress of each operation live in the store and are written after every step, so a
process killed at any point leaves an exact record: on the next start the operation shows as
`interrupted`, with which node or step it was on, and can be resumed or rolled back. The individual
changes go through the audit path (core/changes.py); intents left without an outcome are settled by
`Changes.recover` first.
"""

from __future__ import annotations

import builtins
import functools
import json
import os
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any

from core import clock
from core.audit import crash_point, hold_point
from core.changes import Changes, DrainOptions
from core.errors import BadInput, Conflict, ConsoleError, NotFound
from core.store import Store

ACTIVE = ("running", "paused", "interrupted", "failed")  # not finished: can be resumed or rolled back
# finished: done, rolled_back, aborted
Progress = Callable[[str], None]
UNFINISHED_ON = f"SELECT id, state FROM operations WHERE target = ? AND state IN ({', '.join('?' * len(ACTIVE))})"


def _busy(target: str, busy: dict[str, Any] | None) -> Conflict:
    which = f" {busy['id']} ({busy['state']})" if busy else ""
    return Conflict(f"{target} already has an unfinished operation{which}: resume or roll it back first (`ops list`)")


def _now() -> str:
    return clock.iso(clock.now())


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Operations:
    def __init__(self, store: Store, changes: Changes):
        self.store = store
        self.changes = changes
        self.cluster = changes.cluster

    # -- the record --------------------------------------------------------------------------------
    def unfinished_on(self, target: str) -> dict[str, Any] | None:
        return self.store.one(UNFINISHED_ON, (target, *ACTIVE))

    def create(
        self, kind: str, target: str, params: dict[str, Any], steps: list[dict[str, Any]], user: str
    ) -> dict[str, Any]:
        """One unfinished operation per object: checked and inserted under one write lock, and the store's
        index (migration 5) refuses a second one whatever the caller checked."""
        op = {
            "id": uuid.uuid4().hex[:8],
            "kind": kind,
            "target": target,
            "params": params,
            "state": "running",
            "steps": steps,
            "position": 0,
            "results": [],
            "error": None,
            "user": user,
            "pid": os.getpid(),
            "created_at": _now(),
            "updated_at": _now(),
        }
        hold_point("operation-create")
        try:
            with self.store.transaction():
                busy = self.unfinished_on(target)
                if busy:
                    raise _busy(target, busy)
                self.store.insert_all("operations", [op])
        except sqlite3.IntegrityError as e:
            if "operations.target" not in str(e):
                raise
            raise _busy(target, self.store.one(UNFINISHED_ON, (target, *ACTIVE))) from None
        return op

    def get(self, op_id: str) -> dict[str, Any]:
        rows = self.store.query("SELECT * FROM operations WHERE id LIKE ?", (f"{op_id}%",))
        if len(rows) != 1:
            raise NotFound(f"no operation {op_id!r}" if not rows else f"operation id {op_id!r} is ambiguous")
        return rows[0]

    def list(self, unfinished: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT * FROM operations"
        if unfinished:
            sql += f" WHERE state IN ({','.join('?' * len(ACTIVE))})"
        return self.store.query(sql + " ORDER BY created_at DESC, rowid DESC", ACTIVE if unfinished else ())

    def save(self, op: dict[str, Any], **fields: Any) -> None:
        op.update(fields, updated_at=_now())
        with self.store.transaction():
            self.store.update("operations", op["id"], {k: op[k] for k in (*fields, "updated_at")})

    def mark_interrupted(self) -> builtins.list[dict[str, Any]]:
        """Operations left `running` by a process that is gone: say so, exactly where they stopped."""
        found = []
        for op in self.store.query("SELECT * FROM operations WHERE state = 'running'"):
            if op["pid"] != os.getpid() and not _alive(op["pid"]):
                self.save(op, state="interrupted")
                found.append(op)
        return found

    def claim(self, op: dict[str, Any]) -> None:
        if op["state"] == "running" and op["pid"] != os.getpid() and _alive(op["pid"]):
            raise Conflict(f"operation {op['id']} is running in process {op['pid']}")
        try:
            self.save(op, state="running", pid=os.getpid(), error=None)
        except sqlite3.IntegrityError as e:  # a finished one taken up again while another is unfinished
            if "operations.target" not in str(e):
                raise
            raise _busy(op["target"], self.store.one(UNFINISHED_ON, (op["target"], *ACTIVE))) from None

    def pause(self, op_id: str) -> dict[str, Any]:
        op = self.get(op_id)
        if op["state"] != "running":
            raise Conflict(f"operation {op['id']} is {op['state']}, not running")
        self.save(op, state="paused")  # the runner stops before its next batch
        return op

    # -- a pool's node config, in batches ----------------------------------------------------------------
    def start_pool_config(
        self, pool: str, version: str, max_unavailable: int, user: str, drain: bool = True
    ) -> dict[str, Any]:
        if max_unavailable < 1:
            raise BadInput(f"--max-unavailable must be at least 1, got {max_unavailable}")
        pools = {p.name: p for p in self.cluster.list_pools()}
        if pool not in pools:
            raise NotFound(f"no node pool {pool!r} (pools: {', '.join(pools)})")
        nodes = [n for n in self.cluster.list_nodes(pool) if n.config_version != version]
        if not nodes:
            raise BadInput(f"every node of pool {pool} already runs {version}")
        steps = [
            {"node": n.name, "from": n.config_version, "was_unschedulable": n.unschedulable, "state": "pending"}
            for n in nodes
        ]
        return self.create(
            "pool-config",
            f"pool/{pool}",
            {
                "pool": pool,
                "version": version,
                "from": pools[pool].desired_config,
                "max_unavailable": max_unavailable,
                "drain": drain,
            },
            steps,
            user,
        )

    def run_pool_config(self, op: dict[str, Any], user: str, progress: Progress = lambda m: None) -> dict[str, Any]:
        """Batches of max_unavailable nodes: cordon (and drain) them, apply the config, uncordon. Stops on
        the first failure (that node stays cordoned), or before the next batch when paused."""
        self.claim(op)
        p, steps = op["params"], op["steps"]
        version, batch_size = p["version"], p["max_unavailable"]

        def back_in_service(i: int) -> Callable[[str], Any]:
            """Uncordons step i's node, unless it was cordoned before the operation."""
            return lambda n: steps[i]["was_unschedulable"] or self.changes.cordon(n, user, on=False, operation=op["id"])

        while True:
            pending = [i for i, s in enumerate(steps) if s["state"] != "done"]
            if not pending:
                self._set_pool_desired(op, p["pool"], version, user)
                self.save(op, state="done", position=len(steps))
                progress(f"pool {p['pool']}: all {len(steps)} nodes on {version}")
                return op
            if self.get(op["id"])["state"] == "paused":
                op["state"] = "paused"
                progress(f"paused before node {steps[pending[0]]['node']}")
                return op
            batch = pending[:batch_size]
            self.save(op, position=batch[0])
            try:
                for i in batch:
                    self._node_step(op, i, "cordoned", lambda n: self.changes.cordon(n, user, operation=op["id"]))
                    if p.get("drain", True):
                        self._node_step(
                            op,
                            i,
                            "drained",
                            lambda n: self.changes.drain(
                                n,
                                user,
                                DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True),
                                operation=op["id"],
                            ),
                        )
                for i in batch:
                    self._node_step(
                        op,
                        i,
                        "applied",
                        lambda n: self.changes.apply(
                            verb="apply-config",
                            user=user,
                            resource="node",
                            name=n,
                            change=lambda: self.cluster.apply_node_config(n, version),
                            annotations={"operation": op["id"], "version": version},
                        ),
                    )
                for i in batch:
                    self._node_step(
                        op,
                        i,
                        "done",
                        back_in_service(i),
                    )
                    progress(f"{steps[i]['node']}: {version}")
            except ConsoleError as e:
                # Stop here. The failing node stays cordoned, on its old config, for someone to look at; the
                # rest of the batch goes back into service — with the new config, or still the old one (to
                # be redone on resume).
                failing = next((i for i in batch if steps[i]["state"] not in ("applied", "done")), None)
                for i in batch:
                    if i == failing:
                        continue
                    if steps[i]["state"] == "applied":
                        self._node_step(
                            op,
                            i,
                            "done",
                            back_in_service(i),
                        )
                    elif steps[i]["state"] in ("cordoned", "drained"):
                        if not steps[i]["was_unschedulable"]:
                            self.changes.cordon(steps[i]["node"], user, on=False, operation=op["id"])
                        steps[i]["state"] = "pending"
                        self.save(op, steps=steps)
                self.save(op, state="failed", error=str(e)[:1000])
                progress(f"stopped: {e}")
                return op

    def _node_step(self, op: dict[str, Any], i: int, state: str, action: Callable[[str], Any]) -> None:
        order = ["pending", "cordoned", "drained", "applied", "done"]
        step = op["steps"][i]
        if order.index(step["state"]) >= order.index(state):
            return  # done before an interruption: resuming skips it
        crash_point("node-step")
        action(step["node"])
        step["state"] = state
        self.save(op, steps=op["steps"])

    def _set_pool_desired(self, op: dict[str, Any], pool: str, version: str, user: str) -> None:
        """The pool's desired config: what drift is measured against — a change like any other."""
        self.changes.apply(
            verb="set-desired-config",
            user=user,
            resource="pool",
            name=pool,
            change=lambda: self.cluster.set_pool_desired_config(pool, version),
            annotations={"operation": op["id"], "version": version},
        )

    def rollback_pool_config(
        self, op: dict[str, Any], user: str, progress: Progress = lambda m: None
    ) -> dict[str, Any]:
        """Every node the operation touched goes back to its old config and schedulability."""
        self.claim(op)
        # Every step, whatever its recorded state: a kill can come between a change and its record.
        for step in reversed(op["steps"]):
            node = self.cluster.get_node(step["node"])
            if node.config_version != step["from"]:
                self.changes.apply(
                    verb="apply-config",
                    user=user,
                    resource="node",
                    name=step["node"],
                    change=functools.partial(self.cluster.patch_node, step["node"], config_version=step["from"]),
                    annotations={"operation": op["id"], "version": step["from"], "reason": "rollback"},
                )
            self.changes.cordon(step["node"], user, on=step["was_unschedulable"], operation=op["id"])
            step["state"] = "pending"
            self.save(op, steps=op["steps"])
            progress(f"{step['node']}: back on {step['from']}")
        self._set_pool_desired(op, op["params"]["pool"], op["params"]["from"], user)
        self.save(op, state="rolled_back")
        return op


def describe_op(op: dict[str, Any]) -> dict[str, Any]:
    """The exact state of an operation, for `ops show` and the TUI."""
    out = {k: op[k] for k in ("id", "kind", "target", "state", "position", "user", "created_at", "updated_at", "error")}
    out["params"] = op["params"]
    steps = op["steps"]
    counts: dict[str, int] = {}
    for s in steps:
        counts[s.get("state", "?")] = counts.get(s.get("state", "?"), 0) + 1
    out["progress"] = counts
    out["steps"] = steps
    if op.get("results"):
        out["results"] = op["results"]
    plain: dict[str, Any] = json.loads(json.dumps(out))
    return plain
