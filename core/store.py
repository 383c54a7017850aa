"""SQLite stores: WAL mode, numbered schema migrations; bulk writes through sqlite-utils.

`Store(home)` is the console's own data (imported history, classifications, suggestions, operations, the
model registry, audit). A backend that keeps state of its own (the simulator) opens a Store of its own,
in its own file, with its own migrations: the console's store never holds the cluster's objects.

Each thread gets its own connection (the TUI reads from worker threads); WAL lets readers run
beside a writer. Reads use the sqlite3 connection directly: importing sqlite-utils pulls in numpy
(~130 ms), which the TUI's first frame must not wait for, so it is imported only when writing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from core.errors import StoreError

if TYPE_CHECKING:
    import sqlite_utils

DB_NAME = "console.db"
LOCK_TIMEOUT_ENV = "MLOPS_CONSOLE_LOCK_TIMEOUT"  # seconds to wait for another process's write lock
LOCK_TIMEOUT = 30.0

# Migration N brings the schema from version N-1 to N. Never edit a released one: append.
MIGRATIONS: list[str] = [
    # 1: the estate, job history, model registry, audit
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE pools (
        name TEXT PRIMARY KEY, instance_type TEXT, desired_kubelet TEXT, desired_config TEXT,
        cpu INTEGER, memory_gib INTEGER, gpus INTEGER);
    CREATE TABLE nodes (
        name TEXT PRIMARY KEY, pool TEXT NOT NULL, ready INTEGER NOT NULL, unschedulable INTEGER NOT NULL,
        cpu INTEGER, memory_gib INTEGER, gpus INTEGER, kubelet_version TEXT, config_version TEXT,
        zone TEXT, created_at TEXT, labels TEXT, taints TEXT, conditions TEXT);
    CREATE INDEX nodes_pool ON nodes(pool);
    CREATE TABLE pods (
        namespace TEXT NOT NULL, name TEXT NOT NULL, node TEXT, phase TEXT, owner TEXT,
        cpu REAL, memory_gib REAL, restarts INTEGER, emptydir INTEGER,
        PRIMARY KEY (namespace, name));
    CREATE INDEX pods_node ON pods(node);
    CREATE TABLE deployments (
        name TEXT PRIMARY KEY, namespace TEXT, model TEXT, replicas INTEGER, ready_replicas INTEGER,
        status TEXT, current_revision INTEGER);
    CREATE TABLE revisions (
        deployment TEXT NOT NULL, number INTEGER NOT NULL, model TEXT, model_version INTEGER, image TEXT,
        created_at TEXT, weight INTEGER, status TEXT, PRIMARY KEY (deployment, number));
    CREATE TABLE jobs (job_id TEXT PRIMARY KEY, kind TEXT, owner TEXT, schedule TEXT);
    CREATE TABLE attempts (
        run_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, attempt INTEGER NOT NULL, submitted_at TEXT NOT NULL,
        kind TEXT, input_bytes INTEGER, conf TEXT, status TEXT NOT NULL, log_tail TEXT,
        runtime_seconds REAL, cost REAL, node TEXT, exit_code INTEGER, reason TEXT, extra TEXT,
        source TEXT NOT NULL DEFAULT 'sim');
    CREATE INDEX attempts_status_time ON attempts(status, submitted_at);
    CREATE INDEX attempts_time ON attempts(submitted_at);
    CREATE INDEX attempts_job ON attempts(job_id, submitted_at);
    CREATE TABLE model_versions (
        model TEXT NOT NULL, version INTEGER NOT NULL, stage TEXT, created_at TEXT, framework TEXT,
        sha256 TEXT, params TEXT, metrics TEXT, parent TEXT, data_digest TEXT,
        PRIMARY KEY (model, version));
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY, audit_id TEXT NOT NULL, stage TEXT NOT NULL, verb TEXT NOT NULL,
        user TEXT NOT NULL, object_ref TEXT, before TEXT, after TEXT, annotations TEXT,
        timestamp TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
    CREATE INDEX audit_id ON audit(audit_id);
    """,
    # 2: classifications of failed attempts, with the content hash of the rule set that made them
    """
    CREATE TABLE classifications (
        run_id TEXT PRIMARY KEY, category TEXT NOT NULL, rule_id TEXT, action TEXT, evidence TEXT,
        evidence_line INTEGER, context TEXT, fields TEXT, ruleset TEXT NOT NULL, classified_at TEXT NOT NULL);
    CREATE INDEX classifications_category ON classifications(category);
    """,
    # 3: change management: pod readiness, disruption budgets, node faults, durable multi-step operations
    """
    ALTER TABLE pods ADD COLUMN ready_at TEXT;
    ALTER TABLE nodes ADD COLUMN faults TEXT;
    CREATE TABLE pdbs (namespace TEXT NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL,
        min_available INTEGER NOT NULL, PRIMARY KEY (namespace, name));
    CREATE TABLE operations (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, target TEXT NOT NULL, params TEXT NOT NULL, state TEXT NOT NULL,
        steps TEXT NOT NULL, position INTEGER NOT NULL DEFAULT 0, results TEXT, error TEXT, user TEXT NOT NULL,
        pid INTEGER, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE INDEX operations_state ON operations(state);
    """,
    # 4: the approval queue of retry suggestions; the simulator's hidden truth about its own failures
    """
    CREATE TABLE suggestions (
        id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL UNIQUE, job_id TEXT NOT NULL,
        category TEXT NOT NULL, rule_id TEXT, evidence TEXT, action TEXT NOT NULL, conf_before TEXT NOT NULL,
        conf TEXT NOT NULL, p_success REAL, expected_cost REAL, base_cost REAL, alternatives TEXT,
        model TEXT, status TEXT NOT NULL, created_at TEXT NOT NULL, decided_by TEXT, decided_at TEXT,
        reason TEXT, edited_by TEXT, retry_run_id TEXT, outcome TEXT, note TEXT, attempt INTEGER NOT NULL DEFAULT 1);
    CREATE INDEX suggestions_status ON suggestions(status, created_at);
    ALTER TABLE attempts ADD COLUMN truth TEXT;
    """,
    # 5: the cluster's objects leave the console's store. Imported history becomes training data of its
    # own (it used to be written among the cluster's attempts, where it showed as live jobs), a record
    # named by its job and run (schedulers that number runs per job reuse run ids across jobs); the
    # simulator keeps its estate in sim.db (core/backends/sim), rebuilt from its seed on the next start.
    """
    CREATE TABLE history (
        run_id TEXT NOT NULL, job_id TEXT NOT NULL, attempt INTEGER NOT NULL, submitted_at TEXT NOT NULL,
        kind TEXT, input_bytes INTEGER, conf TEXT, status TEXT NOT NULL, log_tail TEXT, runtime_seconds REAL,
        cost REAL, node TEXT, exit_code INTEGER, reason TEXT, extra TEXT, source TEXT NOT NULL,
        imported_at TEXT NOT NULL, PRIMARY KEY (job_id, run_id));
    CREATE INDEX history_job ON history(job_id, submitted_at);
    INSERT INTO history SELECT run_id, job_id, attempt, submitted_at, kind, input_bytes, conf, status, log_tail,
        runtime_seconds, cost, node, exit_code, reason, extra, source, submitted_at FROM attempts
        WHERE source LIKE 'import:%';
    DROP TABLE attempts;
    DROP TABLE jobs;
    DROP TABLE pods;
    DROP TABLE pdbs;
    DROP TABLE nodes;
    DROP TABLE pools;
    DROP TABLE revisions;
    DROP TABLE deployments;
    DELETE FROM meta WHERE key LIKE 'sim.%';
    """,
    # 6: one unfinished operation per object (running, paused, interrupted, failed: operations.ACTIVE), enforced
    # by the store. A store from before may hold several on one target (two runs that raced): the newest stays,
    # the others are marked aborted, saying why (`ops rollback` still undoes their steps once that one is done).
    """
    UPDATE operations SET state = 'aborted', error = 'aborted by store migration 6: another unfinished operation '
        || 'on ' || target || ' is newer, and only one may be unfinished at a time'
    WHERE state IN ('running', 'paused', 'interrupted', 'failed') AND EXISTS (
        SELECT 1 FROM operations o WHERE o.target = operations.target
        AND o.state IN ('running', 'paused', 'interrupted', 'failed')
        AND (o.created_at > operations.created_at OR (o.created_at = operations.created_at AND o.rowid > operations.rowid)));
    CREATE UNIQUE INDEX operations_one_unfinished ON operations(target)
        WHERE state IN ('running', 'paused', 'interrupted', 'failed');
    """,
    # 7: model aliases in place of stages (as MLflow since 2.9), and each version's provenance. The newest
    # production version keeps the production alias; a version's stage column keeps what it was registered as
    """
    ALTER TABLE model_versions ADD COLUMN artifact_uri TEXT;
    ALTER TABLE model_versions ADD COLUMN code_version TEXT;
    ALTER TABLE model_versions ADD COLUMN environment TEXT;
    ALTER TABLE model_versions ADD COLUMN created_by TEXT;
    CREATE TABLE model_aliases (
        model TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (model, alias));
    INSERT INTO model_aliases (model, alias, version)
        SELECT model, 'production', max(version) FROM model_versions WHERE stage = 'production' GROUP BY model;
    UPDATE model_versions SET stage = 'archived' WHERE stage = 'production';
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

JSON_COLUMNS = frozenset(
    {
        "conf",
        "extra",
        "params",
        "metrics",
        "object_ref",
        "before",
        "after",
        "annotations",
        "context",
        "fields",
        "steps",
        "results",
        "conf_before",
        "alternatives",
        "environment",
    }
)


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def encode_row(row: dict[str, Any], json_columns: frozenset[str] = JSON_COLUMNS) -> dict[str, Any]:
    """JSON-encode the JSON columns of a row about to be written (text is taken as already encoded)."""
    return {k: dumps(v) if k in json_columns and not isinstance(v, str | None) else v for k, v in row.items()}


def decode_row(row: dict[str, Any], json_columns: frozenset[str] = JSON_COLUMNS) -> dict[str, Any]:
    """Turn the JSON text columns of a row back into objects."""
    for k in json_columns.intersection(row):
        if isinstance(row[k], str):
            row[k] = json.loads(row[k])
    return row


def default_lock_timeout() -> float:
    text = os.environ.get(LOCK_TIMEOUT_ENV, "")
    if not text:
        return LOCK_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise StoreError(
            f"environment variable {LOCK_TIMEOUT_ENV} must be a number of seconds (0 or more), got {text!r}"
        )
    return value


class Store:
    def __init__(
        self,
        home: Path,
        name: str = DB_NAME,
        migrations: list[str] | None = None,
        json_columns: frozenset[str] = JSON_COLUMNS,
        lock_timeout: float | None = None,
    ):
        self.home = Path(home)
        self.path = self.home / name
        self.migrations = MIGRATIONS if migrations is None else migrations
        self.json_columns = json_columns
        self.lock_timeout = default_lock_timeout() if lock_timeout is None else lock_timeout
        self._local = threading.local()
        self._prepare_home()
        self._migrate()

    # -- opening ---------------------------------------------------------------------------
    def _prepare_home(self) -> None:
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            # Prove we can write here before SQLite fails half-way with a vaguer message.
            fd, probe = tempfile.mkstemp(prefix=".probe-", dir=self.home)
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            reason = e.strerror or str(e)
            raise StoreError(
                f"cannot use home directory {self.home}: {reason} "
                "(choose another with --home DIR or MLOPS_CONSOLE_HOME)"
            ) from None

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(
                    self.path, timeout=self.lock_timeout, isolation_level=None, check_same_thread=False
                )
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.DatabaseError as e:
                raise self.named(e) or StoreError(f"cannot open store {self.path}: {e}") from None
            self._local.conn = conn
        return conn

    @property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils view of this thread's connection, for bulk writes."""
        db = getattr(self._local, "db", None)
        if db is None:
            import sqlite_utils

            db = self._local.db = sqlite_utils.Database(self.conn)
        return db

    def _migrate(self) -> None:
        conn = self.conn
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path} is not a mlops-console store: {e}") from None
        latest = len(self.migrations)
        if version > latest:
            raise StoreError(
                f"store {self.path} has schema version {version}, newer than this mlops-console "
                f"understands ({latest}); upgrade mlops-console or use another --home"
            )
        for number in range(version + 1, latest + 1):
            with self.transaction():
                # Re-read inside the write lock: another process may have migrated meanwhile.
                if conn.execute("PRAGMA user_version").fetchone()[0] >= number:
                    continue
                for stmt in self.migrations[number - 1].split(";"):
                    if stmt.strip():
                        conn.execute(stmt)
                conn.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def named(self, e: sqlite3.Error) -> StoreError | None:
        """The operator's words for the failures that are not bugs: a full disk, another process's lock."""
        code = (getattr(e, "sqlite_errorcode", 0) or 0) & 0xFF  # the primary code of an extended one
        if code == sqlite3.SQLITE_FULL or "database or disk is full" in str(e):
            return StoreError(f"store {self.path}: the disk is full ({e}); nothing was written")
        if code == sqlite3.SQLITE_BUSY or "database is locked" in str(e):
            return StoreError(
                f"store {self.path} is locked by another mlops-console process (it may be building "
                f"the estate): its write lock was not released within {self.lock_timeout:g}s ({e}); "
                f"nothing was written; try again when it is done"
            )
        return None

    # -- helpers ---------------------------------------------------------------------------
    def transaction(self) -> _Transaction:
        return _Transaction(self.conn, self)

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[dict[str, Any]]:
        return [decode_row(dict(r), self.json_columns) for r in self.conn.execute(sql, params)]

    def pages(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = (), size: int = 1000
    ) -> Iterator[list[tuple[Any, ...]]]:
        """A query's rows, `size` at a time, as plain tuples in the order of its columns (JSON columns
        left as text): one cursor read page by page, so a listing of any length holds one page."""
        cur = self.conn.cursor()
        cur.row_factory = None
        cur.execute(sql, params)
        try:
            while page := cur.fetchmany(size):
                yield page
        finally:
            cur.close()

    def query_pages(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = (), size: int = 1000
    ) -> Iterator[list[dict[str, Any]]]:
        """`query`, a page at a time (see `pages`)."""
        cur = self.conn.cursor()
        cur.row_factory = None
        cur.execute(sql, params)
        names = [d[0] for d in cur.description]
        try:
            while page := cur.fetchmany(size):
                yield [decode_row(dict(zip(names, r, strict=True)), self.json_columns) for r in page]
        finally:
            cur.close()

    def one(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        row = self.conn.execute(sql, tuple(params)).fetchone()
        return row[0] if row else None

    def insert_all(self, table: str, rows: Iterable[dict[str, Any]], batch_size: int = 2000) -> None:
        self.db.table(table).insert_all((encode_row(r, self.json_columns) for r in rows), batch_size=batch_size)

    def upsert_all(self, table: str, rows: Iterable[dict[str, Any]], pk: str | tuple[str, ...]) -> None:
        self.db.table(table).upsert_all((encode_row(r, self.json_columns) for r in rows), pk=pk)

    def update(self, table: str, pk: Any, values: dict[str, Any]) -> None:
        self.db.table(table).update(pk, encode_row(values, self.json_columns))

    def generation(self) -> tuple[int, ...]:
        """Changes whenever a commit lands, from any process: the database's and its write-ahead log's size and
        modification time. Two stat calls: a view polls it to learn whether reading again is worth it."""
        stamp: list[int] = []
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                stamp += [0, 0]
            else:
                stamp += [st.st_size, st.st_mtime_ns]
        return tuple(stamp)

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            self._local.db = None


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT/ROLLBACK; nests as a no-op inside an open transaction. A full disk or
    another process's lock leaves as a StoreError that says so."""

    def __init__(self, conn: sqlite3.Connection, store: Store | None = None):
        self.conn = conn
        self.store = store
        self.outer = False

    def __enter__(self) -> sqlite3.Connection:
        if not self.conn.in_transaction:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                self._raise_named(e)
                raise
            self.outer = True
        return self.conn

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        if not self.outer:
            return False
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as e:
                self._rollback()
                self._raise_named(e)
                raise
            return False
        self._rollback()
        if isinstance(exc, sqlite3.Error):
            self._raise_named(exc)
        return False

    def _rollback(self) -> None:
        # SQLite ends the transaction itself on some errors (a full disk among them): a ROLLBACK then
        # fails with "no transaction is active" and would hide the error that matters.
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the error on its way out says more; SQLite undoes the rest when the file is next opened

    def _raise_named(self, e: sqlite3.Error) -> None:
        named = self.store.named(e) if self.store is not None else None
        if named is not None:
            raise named from e
