"""The simulator's own tables, in its own file (sim.db in the console's home): the estate it plays
(pools, nodes, pods and their disruption budgets, model deployments and their revisions, jobs and their
attempts, with the hidden truth about each failure). Nothing outside core/backends/sim reads them."""

from __future__ import annotations

DB_NAME = "sim.db"

# Migration N brings the schema from version N-1 to N. Never edit a released one: append.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE pools (
        name TEXT PRIMARY KEY, instance_type TEXT, desired_kubelet TEXT, desired_config TEXT,
        cpu INTEGER, memory_gib INTEGER, gpus INTEGER);
    CREATE TABLE nodes (
        name TEXT PRIMARY KEY, pool TEXT NOT NULL, ready INTEGER NOT NULL, unschedulable INTEGER NOT NULL,
        cpu INTEGER, memory_gib INTEGER, gpus INTEGER, kubelet_version TEXT, config_version TEXT,
        zone TEXT, created_at TEXT, labels TEXT, taints TEXT, conditions TEXT, faults TEXT);
    CREATE INDEX nodes_pool ON nodes(pool);
    CREATE TABLE pods (
        namespace TEXT NOT NULL, name TEXT NOT NULL, node TEXT, phase TEXT, owner TEXT,
        cpu REAL, memory_gib REAL, restarts INTEGER, emptydir INTEGER, ready_at TEXT,
        PRIMARY KEY (namespace, name));
    CREATE INDEX pods_node ON pods(node);
    CREATE TABLE pdbs (namespace TEXT NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL,
        min_available INTEGER NOT NULL, PRIMARY KEY (namespace, name));
    CREATE TABLE deployments (
        name TEXT PRIMARY KEY, namespace TEXT, model TEXT, replicas INTEGER, ready_replicas INTEGER,
        status TEXT, current_revision INTEGER);
    CREATE TABLE revisions (
        deployment TEXT NOT NULL, number INTEGER NOT NULL, model TEXT, model_version INTEGER, image TEXT,
        created_at TEXT, weight INTEGER, status TEXT, PRIMARY KEY (deployment, number));
    CREATE TABLE catalogue (
        model TEXT NOT NULL, version INTEGER NOT NULL, record TEXT NOT NULL, PRIMARY KEY (model, version));
    CREATE TABLE jobs (job_id TEXT PRIMARY KEY, kind TEXT, owner TEXT, schedule TEXT);
    CREATE TABLE attempts (
        run_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, attempt INTEGER NOT NULL, submitted_at TEXT NOT NULL,
        kind TEXT, input_bytes INTEGER, conf TEXT, status TEXT NOT NULL, log_tail TEXT,
        runtime_seconds REAL, cost REAL, node TEXT, exit_code INTEGER, reason TEXT, extra TEXT,
        source TEXT NOT NULL DEFAULT 'sim', truth TEXT);
    CREATE INDEX attempts_status_time ON attempts(status, submitted_at);
    CREATE INDEX attempts_time ON attempts(submitted_at);
    CREATE INDEX attempts_job ON attempts(job_id, submitted_at);
    """,
]

JSON_COLUMNS = frozenset({"labels", "taints", "conditions", "conf", "extra", "faults", "record"})
