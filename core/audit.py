"""The one audit path: events shaped like Kubernetes audit events (auditID, stage, verb, user, objectRef,
before/after objects, timestamps, annotations), hash-chained.

Each event's hash covers its stored columns and the previous event's hash, so editing, inserting or
reordering any row breaks the chain at that row; deleting one leaves a gap in `seq`, and deleting the
newest ones is caught by the head anchor kept in `meta` (written in the same transaction as the row).

Every mutation goes through `AuditLog.change`, the one path: an intent record (RequestReceived) is
committed before the change, the outcome (ResponseComplete or Failed) after it. A process killed in
between leaves an intent without an outcome; `Changes.recover` settles it on a later start by looking at
the object. The intent names its writer (host, boot, pid and the pid's start time), so that another
process starting meanwhile leaves a change that is still being made alone; and no auditID ever gets a
second outcome. A change to this store itself (the registry, imported history) is `local`: the change
and its outcome record commit in one transaction, so neither can exist without the other.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from core import clock
from core.errors import ConsoleError
from core.store import Store
from core.types import AuditEvent

T = TypeVar("T")
GENESIS = "0" * 64
HEAD_KEY = "audit.head"  # "seq:hash" of the newest event
COLUMNS = (
    "seq",
    "audit_id",
    "stage",
    "verb",
    "user",
    "object_ref",
    "before",
    "after",
    "annotations",
    "timestamp",
    "prev_hash",
)
TERMINAL = ("ResponseComplete", "Failed")
PARALLEL_FROM = 200_000  # events; below this one process verifies faster than starting others
WRITER = "writer"  # the intent's annotation naming the process that makes the change


class AuditTampered(ConsoleError):
    """The chain's head does not match its anchor: nothing may be appended."""


class AlreadySettled(ConsoleError):
    """The change already has its outcome: a second one is not appended."""


def _j(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def row_hash(values: tuple[Any, ...]) -> str:
    """sha256 over the stored text of the hashed columns (no JSON round trip: verify stays fast)."""
    return hashlib.sha256("\x1f".join(str(v) for v in values).encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Verdict:
    ok: bool
    events: int
    first_bad: int | None = None  # seq of the first bad record
    audit_id: str | None = None
    reason: str = ""
    last_seq: int = 0  # the newest record checked, and its hash: where a later check may carry on from
    last_hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "first_bad_seq": self.first_bad,
            "audit_id": self.audit_id,
            "reason": self.reason,
        }


def crash_point(name: str) -> None:
    """Fault injection for the crash-safety tests: MLOPS_CONSOLE_CRASH_AT=NAME:N kills the process the Nth
    time NAME is reached, as a power cut would (no cleanup, no flush)."""
    spec = os.environ.get("MLOPS_CONSOLE_CRASH_AT")
    if not spec:
        return
    point, _, n = spec.partition(":")
    if point != name:
        return
    counts = crash_point.__dict__.setdefault("counts", {})
    counts[name] = counts.get(name, 0) + 1
    if counts[name] == int(n or 1):
        os._exit(137)


def _pid_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat): with the boot,
    it tells a pid reused by a later process from the one that wrote an intent. None without /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: count fields after its closing one
    return int(stat[stat.rindex(")") + 2 :].split()[19])


def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return None


def writer_identity() -> dict[str, Any]:
    import socket

    pid = os.getpid()
    return {"pid": pid, "start": _pid_start(pid), "boot_id": _boot_id(), "host": socket.gethostname()}


def writer_alive(writer: Any) -> bool:
    """Whether the process that wrote an intent is still running: same host, same boot, and that pid
    running with the same start time. Anything else (another host, a reboot, no writer recorded) counts
    as gone, so its intent is settled as before writers were recorded."""
    import socket

    if not isinstance(writer, dict) or not isinstance(writer.get("pid"), int) or writer["pid"] <= 0:
        return False
    if writer.get("host") != socket.gethostname() or writer.get("boot_id") != _boot_id():
        return False
    pid, recorded = writer["pid"], writer.get("start")
    running = _pid_start(pid)
    if recorded is not None and running is not None:
        return bool(running == recorded)
    # no start time to compare (no /proc, or the pid is gone): whether the pid exists decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def hold_point(name: str) -> None:
    """Fault injection for the concurrency tests: MLOPS_CONSOLE_HOLD_AT=NAME:N[,NAME:N…] stops the process the
    Nth time NAME is reached, says so on stderr, and goes on when a line (or end of file) arrives on stdin. A
    test then knows exactly where this process is while another one runs, without waiting on a clock."""
    spec = os.environ.get("MLOPS_CONSOLE_HOLD_AT")
    if not spec:
        return
    wanted = [int(n or 1) for point, _, n in (p.partition(":") for p in spec.split(",")) if point == name]
    if not wanted:
        return
    counts = hold_point.__dict__.setdefault("counts", {})
    counts[name] = counts.get(name, 0) + 1
    if counts[name] in wanted:
        import sys

        print(f"mlops-console: held at {name}", file=sys.stderr, flush=True)
        sys.stdin.readline()


class AuditLog:
    def __init__(self, store: Store):
        self.store = store
        # told of each change's outcome once it is recorded (a webhook); one that fails never fails the change
        self.listeners: list[Callable[[AuditEvent], None]] = []

    def _notify(self, event: AuditEvent) -> None:
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # noqa: BLE001 — a notification is best effort; the record is what counts
                pass

    def _append(
        self,
        *,
        verb: str,
        user: str,
        object_ref: dict[str, Any],
        stage: str = "ResponseComplete",
        before: Any = None,
        after: Any = None,
        annotations: dict[str, Any] | None = None,
        audit_id: str | None = None,
    ) -> AuditEvent:
        import uuid  # ~5 ms to import; only mutations need it

        with self.store.transaction() as conn:
            # Checked under the write lock, so that even two processes settling one change at once
            # leave it one outcome.
            if (
                stage in TERMINAL
                and audit_id
                and conn.execute(
                    f"SELECT 1 FROM audit WHERE audit_id = ? AND stage IN {TERMINAL} LIMIT 1", (audit_id,)
                ).fetchone()
            ):
                raise AlreadySettled(f"change {audit_id} already has its outcome")
            last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            head = conn.execute("SELECT value FROM meta WHERE key = ?", (HEAD_KEY,)).fetchone()
            if head is not None and (last is None or head[0] != f"{last[0]}:{last[1]}"):
                # The newest records were removed: appending would chain over the hole and hide it.
                raise AuditTampered(
                    "the audit trail's newest record does not match its head anchor (records "
                    "deleted?): no change is made until `audit verify` is looked into"
                )
            seq = (last[0] + 1) if last else 1
            prev = last[1] if last else GENESIS
            values = (
                seq,
                audit_id or str(uuid.uuid4()),
                stage,
                verb,
                user,
                _j(object_ref),
                _j(before),
                _j(after),
                _j(annotations or {}),
                clock.iso(clock.now()),
                prev,
            )
            digest = row_hash(values)
            conn.execute(
                f"INSERT INTO audit({', '.join(COLUMNS)}, hash) VALUES ({', '.join('?' * 12)})", (*values, digest)
            )
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (HEAD_KEY, f"{seq}:{digest}"),
            )
        return AuditEvent(
            seq=seq,
            audit_id=values[1],
            stage=stage,
            verb=verb,
            user=user,
            object_ref=object_ref,
            before=before,
            after=after,
            annotations=annotations or {},
            timestamp=values[9],
            prev_hash=prev,
            hash=digest,
        )

    def change(
        self,
        *,
        verb: str,
        user: str,
        object_ref: dict[str, Any],
        before: Any,
        apply: Callable[[], T],
        after: Callable[[], Any] | Any = None,
        annotations: dict[str, Any] | None = None,
        local: bool = False,
    ) -> T:
        """Intent record → the change → outcome record, all under one auditID.

        `after` may be a callable, read once the change is made (the object as it now is). `local`: the
        change writes this store only: the change and its one record (the outcome) commit as one
        transaction, and a failure leaves neither."""
        if local:
            # nothing can come between the change and its record, so one record tells it: the outcome
            with self.store.transaction():
                result = apply()
                final = after() if callable(after) else after
                event = self._append(
                    verb=verb, user=user, object_ref=object_ref, before=before, after=final, annotations=annotations
                )
            self._notify(event)
            return result
        return self._change(verb, user, object_ref, before, apply, after, annotations)

    def _change(
        self,
        verb: str,
        user: str,
        object_ref: dict[str, Any],
        before: Any,
        apply: Callable[[], T],
        after: Callable[[], Any] | Any,
        annotations: dict[str, Any] | None,
    ) -> T:
        import uuid

        audit_id = str(uuid.uuid4())
        notes = dict(annotations or {})
        common: dict[str, Any] = dict(verb=verb, user=user, object_ref=object_ref, audit_id=audit_id)
        planned = None if callable(after) else after
        self._append(
            stage="RequestReceived",
            before=before,
            after=planned,
            annotations={**notes, WRITER: writer_identity()},
            **common,
        )
        crash_point("after-intent")
        hold_point("after-intent")
        try:
            result = apply()
        except Exception as e:
            try:
                self._notify(
                    self._append(
                        stage="Failed",
                        before=before,
                        after=None,
                        annotations={**notes, "error": str(e)[:500]},
                        **common,
                    )
                )
            except AlreadySettled:
                pass
            raise
        crash_point("after-change")
        final = after() if callable(after) else after
        try:
            self._notify(
                self._append(stage="ResponseComplete", before=before, after=final, annotations=notes, **common)
            )
        except AlreadySettled:
            pass  # settled by a process that took this one for gone: one outcome per change, still
        return result

    def head_ok(self) -> bool:
        last = self.store.conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        head = self.store.get_meta(HEAD_KEY)
        return head is None or (last is not None and head == f"{last[0]}:{last[1]}")

    def settle(self, intent: AuditEvent, applied: bool, current: Any) -> None:
        """The outcome of an intent whose writer died: applied (the object is no longer as it was before)
        or not. Only `Changes.recover` calls this; AlreadySettled when another process did it first."""
        common: dict[str, Any] = dict(
            verb=intent.verb, user=intent.user, object_ref=intent.object_ref, audit_id=intent.audit_id
        )
        notes = {k: v for k, v in intent.annotations.items() if k != WRITER}
        if applied:
            self._append(
                stage="ResponseComplete",
                before=intent.before,
                after=current,
                **common,
                annotations={**notes, "recovered": "interrupted after the change"},
            )
        else:
            self._append(
                stage="Failed",
                before=intent.before,
                after=None,
                **common,
                annotations={**notes, "recovered": "interrupted before the change"},
            )

    def pending(self) -> list[AuditEvent]:
        """Intents with no outcome: a process died between the two records."""
        rows = self.store.query(
            "SELECT * FROM audit a WHERE stage = 'RequestReceived' AND NOT EXISTS ("
            f" SELECT 1 FROM audit b WHERE b.audit_id = a.audit_id AND b.stage IN {TERMINAL})"
            " ORDER BY seq"
        )
        return [AuditEvent(**r) for r in rows]

    def list(self, limit: int | None = None, offset: int = 0) -> list[AuditEvent]:
        sql = "SELECT * FROM audit ORDER BY seq DESC"
        params: tuple[Any, ...] = ()
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params = (limit, offset)
        return [AuditEvent(**r) for r in self.store.query(sql, params)]

    def iterate(self, limit: int | None = None, page_size: int = 1000) -> Iterator[AuditEvent]:
        """What `list(limit)` returns, newest first, read a page at a time."""
        sql = "SELECT * FROM audit ORDER BY seq DESC"
        params: tuple[Any, ...] = ()
        if limit is not None:
            sql, params = sql + " LIMIT ?", (limit,)
        for page in self.store.query_pages(sql, params, page_size):
            yield from (AuditEvent(**r) for r in page)

    def get(self, key: str | int) -> builtins.list[AuditEvent]:
        """The events of one change: by seq, or by auditID (or a unique prefix of one)."""
        if isinstance(key, int) or str(key).isdigit():
            row = self.store.one("SELECT audit_id FROM audit WHERE seq = ?", (int(key),))
            if row is None:
                return []
            key = row["audit_id"]
        if not key:
            return []
        rows = self.store.query("SELECT * FROM audit WHERE audit_id LIKE ? ORDER BY seq", (f"{key}%",))
        if len({r["audit_id"] for r in rows}) > 1:
            return []
        return [AuditEvent(**r) for r in rows]

    def count(self) -> int:
        return self.store.scalar("SELECT count(*) FROM audit") or 0

    def verify(self, workers: int | None = None, since: Verdict | None = None) -> Verdict:
        """Walk the chain from the first event; name the first record that does not fit. Long chains are
        cut into segments checked by one process per core, then joined at the seams.

        `since`: a good verdict of an earlier walk; only the records after it are checked, against its last
        hash (what a view that keeps an eye on the chain does every refresh; it cannot see an old record
        edited since, which a whole walk does)."""
        import threading

        carry_on = since is not None and since.ok and since.last_seq > 0
        start = since.last_seq if since is not None and carry_on else 0
        total = self.count() - (since.events if since is not None and carry_on else 0)
        # fork, with no other thread alive (a forked lock held by another thread would never be released);
        # in the TUI, which has threads, one process does it all
        alone = threading.active_count() == 1
        workers = workers or (min(os.cpu_count() or 1, 4) if total >= PARALLEL_FROM and alone else 1)
        last = self.store.scalar("SELECT max(seq) FROM audit") or 0
        bounds = [start + (last - start) * i // workers for i in range(workers + 1)]
        segments = [(str(self.store.path), bounds[i] + 1, bounds[i + 1]) for i in range(workers)]
        if workers == 1:
            results = [verify_segment(*segments[0])]
        else:
            import concurrent.futures
            import multiprocessing

            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as ex:
                results = list(ex.map(verify_segment, *zip(*segments, strict=True)))
        if since is not None and carry_on:
            prev_hash, expected_seq, n = since.last_hash, start + 1, since.events
        else:
            prev_hash, expected_seq, n = GENESIS, 1, 0
        for r in results:
            if r["n"] == 0:
                continue
            if r["first_seq"] != expected_seq:
                return Verdict(
                    False,
                    n + 1,
                    r["first_seq"],
                    r["first_id"],
                    f"sequence jumps from {expected_seq - 1} to {r['first_seq']}: record(s) deleted",
                )
            if r["first_prev"] != prev_hash:
                return Verdict(
                    False,
                    n + 1,
                    r["first_seq"],
                    r["first_id"],
                    "does not follow the previous record (inserted, deleted or reordered)",
                )
            if r["bad"]:
                return Verdict(False, n + r["bad"][0], r["bad"][1], r["bad"][2], r["bad"][3])
            n += r["n"]
            prev_hash, expected_seq = r["last_hash"], r["last_seq"] + 1
        head = self.store.get_meta(HEAD_KEY)
        if head is not None and head != f"{expected_seq - 1}:{prev_hash}":
            head_seq = int(head.split(":")[0])
            if head_seq >= expected_seq:
                return Verdict(
                    False,
                    n,
                    expected_seq,
                    None,
                    f"the newest record(s) from seq {expected_seq} to {head_seq} were deleted",
                )
            return Verdict(False, n, expected_seq - 1, None, "the newest record does not match the head anchor")
        return Verdict(True, n, last_seq=expected_seq - 1, last_hash=prev_hash)


def verify_segment(db_path: str, lo: int, hi: int) -> dict[str, Any]:
    """Check the records with lo <= seq <= hi among themselves (a worker of `AuditLog.verify`)."""
    import sqlite3

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    body = " || char(31) || ".join(COLUMNS)
    cur = conn.execute(
        f"SELECT seq, audit_id, prev_hash, hash, {body} FROM audit WHERE seq BETWEEN ? AND ? ORDER BY seq", (lo, hi)
    )
    out: dict[str, Any] = {"n": 0, "bad": None}
    sha = hashlib.sha256
    prev_hash: str | None = None
    expected = 0  # set by each row; the first row is not compared with it
    while True:
        rows = cur.fetchmany(20000)
        if not rows:
            break
        for seq, audit_id, prev, stored, text in rows:
            if out["n"] == 0:
                out.update(first_seq=seq, first_prev=prev, first_id=audit_id)
            else:
                reason = None
                if seq != expected:
                    reason = f"sequence jumps from {expected - 1} to {seq}: record(s) deleted"
                elif prev != prev_hash:
                    reason = "does not follow the previous record (inserted, deleted or reordered)"
                if reason:
                    out["bad"] = (out["n"] + 1, seq, audit_id, reason)
                    conn.close()
                    return out
            out["n"] += 1
            if sha(text.encode("utf-8", "surrogatepass")).hexdigest() != stored:
                out["bad"] = (out["n"], seq, audit_id, "content does not match its hash (edited)")
                conn.close()
                return out
            prev_hash, expected = stored, seq + 1
            out.update(last_seq=seq, last_hash=stored)
    conn.close()
    return out
