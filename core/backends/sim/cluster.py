"""SimCluster: the embedded backend. Built once from fixtures/ and a seed, then kept in a store of its own
(sim.db in the console's home) so that what an operator changes survives a restart."""

from __future__ import annotations

import bisect
import tomllib
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from core import clock
from core.backends.sim import metrics, schema
from core.backends.sim.faults import TrafficFaults
from core.backends.sim.logs import full_log
from core.backends.sim.rows import (
    ATTEMPT_COLUMNS,
    _attempt,
    _fields,
    _node,
    _pod,
    _ready,
    sim_events,
)
from core.cluster import PAGE_SIZE
from core.errors import BadInput, ClusterError, Conflict, NotFound, TooManyRequests
from core.store import Store
from core.types import (
    Attempt,
    Job,
    MetricPoint,
    ModelDeployment,
    ModelVersion,
    Node,
    Pod,
    Pool,
    Revision,
    attempt_record,
    run_of,
)

DEFAULT_SEED = 42
SCALE_KEYS = ("nodes", "jobs")


def parse_scale(text: str | None) -> dict[str, int]:
    """`nodes=10000,jobs=100000` → {"nodes": 10000, "jobs": 100000}."""
    if not text:
        return {}
    out = {}
    for part in text.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or key not in SCALE_KEYS:
            raise BadInput(f"--scale: expected {'=N,'.join(SCALE_KEYS)}=N, got {part.strip()!r}")
        try:
            n = int(value)
        except ValueError:
            raise BadInput(f"--scale: {key} must be a whole number, got {value!r}") from None
        if not 1 <= n <= 10_000_000:
            raise BadInput(f"--scale: {key}={n} is out of range (1..10000000)")
        out[key] = n
    return out


class SimCluster(TrafficFaults):
    def __init__(
        self,
        home: Path,
        fixtures_dir: Path,
        seed: int = DEFAULT_SEED,
        scale: dict[str, int] | None = None,
        on_build: Callable[[dict[str, Any]], None] | None = None,
        pod_start_seconds: float = 2.0,
        job_seconds: float = 20.0,
    ):
        self.store = store = Store(home, schema.DB_NAME, schema.MIGRATIONS, schema.JSON_COLUMNS)
        self._deadlines: list[str] = []  # the clock-driven changes still to come, as of _deadlines_at
        self._deadlines_at: tuple[int, ...] | None = None
        self.fixtures_dir = Path(fixtures_dir)
        built = store.get_meta("sim.seed")
        if built is None:
            self._build(seed, scale or {}, on_build)
        else:
            stored_scale = parse_scale(store.get_meta("sim.scale"))
            if scale and scale != stored_scale:
                raise BadInput(
                    f"home {store.home} already holds an estate built with --scale "
                    f"{store.get_meta('sim.scale') or 'default'}; use a new --home for another scale"
                )
        seed_meta, anchor_meta = store.get_meta("sim.seed"), store.get_meta("sim.anchor")
        assert seed_meta is not None and anchor_meta is not None  # written by _build
        self.seed = int(seed_meta)
        self.pod_start_seconds = pod_start_seconds
        self.job_seconds = job_seconds
        self.anchor = clock.parse_ts(anchor_meta)
        # the estate's name as recorded when it was built: parsing estate.toml for it cost the TUI's start ~10 ms
        estate = store.get_meta("sim.estate") or self._spec["estate"]["name"]
        self.name = f"sim:{estate} (seed {self.seed})"

    @cached_property
    def _spec(self) -> dict[str, Any]:
        with open(self.fixtures_dir / "estate.toml", "rb") as f:
            return tomllib.load(f)

    @cached_property
    def _dep_specs(self) -> dict[str, dict[str, Any]]:
        return {d["name"]: d for d in self._spec["deployments"]}

    # -- building ------------------------------------------------------------------------------
    def _build(self, seed: int, scale: dict[str, int], on_build: Callable[[dict[str, Any]], None] | None) -> None:
        from core.backends.sim.estate import EstateBuilder  # only on first start: keep it off the TUI's start path

        anchor = clock.now().replace(minute=0, second=0, microsecond=0)
        b = EstateBuilder(self.fixtures_dir, seed, scale, anchor)
        with self.store.transaction():
            if self.store.get_meta("sim.seed") is not None:  # another process built it first
                return
            self.store.insert_all("pools", b.pools())
            self.store.insert_all("nodes", b.nodes())
            self.store.insert_all("pods", b.pods())
            self.store.insert_all("pdbs", b.pdbs())
            deps, revs, versions = b.deployments()
            self.store.insert_all("deployments", deps)
            self.store.insert_all("revisions", revs)
            self.store.insert_all(
                "catalogue", [{"model": v["model"], "version": v["version"], "record": v} for v in versions]
            )
            jobs, attempts = b.jobs_and_attempts()
            self.store.insert_all("jobs", jobs)
            self.store.insert_all("attempts", attempts, batch_size=5000)
            scale_text = ",".join(f"{k}={v}" for k, v in scale.items())
            self.store.set_meta("sim.seed", str(seed))
            self.store.set_meta("sim.scale", scale_text)
            self.store.set_meta("sim.anchor", clock.iso(anchor))
            self.store.set_meta("sim.estate", self._spec["estate"]["name"])
            if on_build:
                on_build(
                    {
                        "seed": seed,
                        "scale": scale_text or "default",
                        "anchor": clock.iso(anchor),
                        "nodes": self.store.scalar("SELECT count(*) FROM nodes"),
                        "attempts": self.store.scalar("SELECT count(*) FROM attempts"),
                    }
                )

    # -- nodes -----------------------------------------------------------------------------------
    def list_pools(self) -> list[Pool]:
        return [Pool(**r) for r in self.store.query("SELECT * FROM pools ORDER BY name")]

    def set_pool_desired_config(self, pool: str, version: str) -> None:
        with self.store.transaction():
            if self.store.one("SELECT name FROM pools WHERE name = ?", (pool,)) is None:
                raise NotFound(f"no node pool {pool!r}")
            self.store.update("pools", pool, {"desired_config": version})

    def list_nodes(self, pool: str | None = None) -> list[Node]:
        return list(self.iter_nodes(pool))

    def iter_nodes(self, pool: str | None = None, page_size: int = PAGE_SIZE) -> Iterator[Node]:
        sql = "SELECT * FROM nodes"
        params: tuple[str, ...] = ()
        if pool:
            sql, params = sql + " WHERE pool = ?", (pool,)
        for rows in self.store.query_pages(sql + " ORDER BY pool, name", params, page_size):
            marks = ",".join("?" * len(rows))  # one parameter a node: pages stay under SQLite's 32,766
            usage = {
                r["node"]: r
                for r in self.store.query(
                    "SELECT node, count(*) AS pods, sum(cpu) AS cpu, sum(memory_gib) AS mem FROM pods"
                    f" WHERE node IN ({marks}) GROUP BY node",
                    [r["name"] for r in rows],
                )
            }
            yield from (_node(r, usage.get(r["name"])) for r in rows)

    def get_node(self, name: str) -> Node:
        row = self.store.one("SELECT * FROM nodes WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"no node named {name!r}")
        usage = self.store.one(
            "SELECT count(*) AS pods, sum(cpu) AS cpu, sum(memory_gib) AS mem FROM pods WHERE node = ?", (name,)
        )
        return _node(row, usage)

    def list_pods(self, node: str | None = None) -> list[Pod]:
        sql = "SELECT * FROM pods"
        params: tuple[str, ...] = ()
        if node:
            sql, params = sql + " WHERE node = ?", (node,)
        return [_pod(r) for r in self.store.query(sql + " ORDER BY namespace, name", params)]

    # -- deployments -------------------------------------------------------------------------------
    def list_deployments(self) -> list[ModelDeployment]:
        revs: dict[str, list[Revision]] = {}
        for r in self.store.query("SELECT * FROM revisions ORDER BY deployment, number"):
            revs.setdefault(r.pop("deployment"), []).append(Revision(**r))
        return [
            ModelDeployment(**d, revisions=revs.get(d["name"], []))
            for d in self.store.query("SELECT * FROM deployments ORDER BY name")
        ]

    def get_deployment(self, name: str) -> ModelDeployment:
        for d in self.list_deployments():
            if d.name == name:
                return d
        raise NotFound(f"no deployment named {name!r}")

    def deployment_metrics(self, name: str, minutes: int = 60, revision: int | None = None) -> list[MetricPoint]:
        dep = self.get_deployment(name)
        number = revision or dep.current_revision
        spec = dict(self._dep_specs.get(name, {"name": name, "rate": 10.0, "latency_ms": 20.0, "error_rate": 0.001}))
        rev = next((r for r in dep.revisions if r.number == number), None)
        if rev is not None:  # a model version of the estate's catalogue serves with its own quality
            row = self.store.one(
                "SELECT record FROM catalogue WHERE model = ? AND version = ?", (rev.model, rev.model_version)
            )
            spec["error_rate"] *= float(
                ((row or {}).get("record") or {}).get("params", {}).get("sim_error_factor", 1.0)
            )
        return metrics.series(self.seed, spec, number, clock.now(), minutes)

    def known_model_versions(self) -> list[ModelVersion]:
        return [
            ModelVersion(**r["record"])
            for r in self.store.query("SELECT record FROM catalogue ORDER BY model, version")
        ]

    # -- mutations (each one SQLite transaction: all or nothing) --------------------------------------
    def patch_node(
        self,
        name: str,
        *,
        unschedulable: bool | None = None,
        labels: dict[str, str] | None = None,
        taints: list[dict[str, str]] | None = None,
        config_version: str | None = None,
    ) -> None:
        fields: dict[str, Any] = {
            k: v
            for k, v in (
                ("unschedulable", unschedulable),
                ("labels", labels),
                ("taints", taints),
                ("config_version", config_version),
            )
            if v is not None
        }
        self.get_node(name)
        with self.store.transaction():
            self.store.update("nodes", name, {k: int(v) if k == "unschedulable" else v for k, v in fields.items()})

    def apply_node_config(self, name: str, version: str) -> None:
        """The node takes a new node-config version (the kubelet restarts with it), or fails as a node does."""
        row = self.store.one("SELECT faults FROM nodes WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"no node named {name!r}")
        fault = (row["faults"] or {}).get("config_apply")
        if fault:
            raise ClusterError(f"node {name}: {fault}")
        self.patch_node(name, config_version=version)

    def evict(self, namespace: str, pod: str, grace_seconds: int = 30) -> None:
        """The Eviction API: refuses with 429 when the pod's disruption budget would be violated; otherwise
        the pod's controller recreates it on another schedulable node, ready after a short start-up."""
        with self.store.transaction():
            row = self.store.one("SELECT * FROM pods WHERE namespace = ? AND name = ?", (namespace, pod))
            if row is None:
                raise NotFound(f"no pod {namespace}/{pod}")
            now = clock.now()
            pdb = self.store.one("SELECT * FROM pdbs WHERE namespace = ? AND owner = ?", (namespace, row["owner"]))
            if pdb is not None:
                siblings = self.store.query(
                    "SELECT ready_at FROM pods WHERE namespace = ? AND owner = ?", (namespace, row["owner"])
                )
                available = sum(1 for p in siblings if _ready(p["ready_at"], now))
                if _ready(row["ready_at"], now) and available - 1 < pdb["min_available"]:
                    raise TooManyRequests(
                        f"Cannot evict pod as it would violate the pod's disruption budget "
                        f"{namespace}/{pdb['name']} (needs {pdb['min_available']} available, "
                        f"has {available})"
                    )
            if row["owner"].startswith("DaemonSet/"):
                self.store.conn.execute("DELETE FROM pods WHERE namespace = ? AND name = ?", (namespace, pod))
                return
            target = self.store.one(
                "SELECT n.name FROM nodes n LEFT JOIN pods p ON p.node = n.name WHERE n.unschedulable = 0"
                " AND n.ready = 1 AND n.name != ? AND n.pool = (SELECT pool FROM nodes WHERE name = ?)"
                " GROUP BY n.name ORDER BY count(p.name), n.name LIMIT 1",
                (row["node"], row["node"]),
            )
            if target is None:
                raise ClusterError(f"pod {namespace}/{pod}: no schedulable node left in its pool to run it")
            ready = clock.iso(now + timedelta(seconds=self.pod_start_seconds))
            self.store.update("pods", (namespace, pod), {"node": target["name"], "phase": "Running", "ready_at": ready})

    # -- revisions: what a canary rollout does to a deployment -------------------------------------------
    def _revisions(self, deployment: str) -> list[dict[str, Any]]:
        if self.store.one("SELECT name FROM deployments WHERE name = ?", (deployment,)) is None:
            raise NotFound(f"no deployment named {deployment!r}")
        return self.store.query("SELECT * FROM revisions WHERE deployment = ? ORDER BY number", (deployment,))

    def _revision(self, deployment: str, number: int) -> dict[str, Any]:
        rev = next((r for r in self._revisions(deployment) if r["number"] == number), None)
        if rev is None:
            raise NotFound(f"deployment {deployment} has no revision {number}")
        return rev

    def add_revision(self, deployment: str, number: int, model: str, model_version: int, image: str) -> None:
        with self.store.transaction():
            if any(r["number"] == number for r in self._revisions(deployment)):
                raise Conflict(f"deployment {deployment} already has a revision {number}")
            self.store.insert_all(
                "revisions",
                [
                    {
                        "deployment": deployment,
                        "number": number,
                        "model": model,
                        "model_version": model_version,
                        "image": image,
                        "created_at": clock.iso(clock.now()),
                        "weight": 0,
                        "status": "canary",
                    }
                ],
            )
            self.store.update("deployments", deployment, {"status": "Progressing"})

    def set_canary_weight(self, deployment: str, number: int, weight: int) -> None:
        with self.store.transaction():
            self._revision(deployment, number)
            for r in self._revisions(deployment):
                if r["number"] == number:
                    self.store.update("revisions", (deployment, number), {"weight": weight})
                elif r["status"] == "active":
                    self.store.update("revisions", (deployment, r["number"]), {"weight": 100 - weight})

    def scale_deployment(self, deployment: str, replicas: int) -> None:
        # the simulator keeps a deployment's pods as a count: its new ones are ready at once
        with self.store.transaction():
            self.get_deployment(deployment)  # NotFound names it
            self.store.update("deployments", deployment, {"replicas": replicas, "ready_replicas": replicas})

    def promote_revision(self, deployment: str, number: int) -> None:
        with self.store.transaction():
            self._revision(deployment, number)
            for r in self._revisions(deployment):
                if r["number"] == number:
                    self.store.update("revisions", (deployment, number), {"status": "active", "weight": 100})
                elif r["status"] == "active":
                    self.store.update("revisions", (deployment, r["number"]), {"status": "retired", "weight": 0})
            self.store.update("deployments", deployment, {"current_revision": number, "status": "Healthy"})

    def abort_revision(self, deployment: str, number: int) -> None:
        with self.store.transaction():
            self._revision(deployment, number)
            for r in self._revisions(deployment):
                if r["number"] == number:
                    self.store.update("revisions", (deployment, number), {"status": "aborted", "weight": 0})
                elif r["status"] == "active":
                    self.store.update("revisions", (deployment, r["number"]), {"weight": 100})
            self.store.update("deployments", deployment, {"status": "Degraded"})

    def generation(self) -> tuple[Any, ...]:
        """The store's commit stamp, and how many of the simulator's clock-driven changes (a pod becoming
        ready, a retry finishing) have come due: both are what the reads depend on."""
        stamp = self.store.generation()
        if self._deadlines_at != stamp:
            now = clock.iso(clock.now())
            pending = [
                r["t"]
                for r in self.store.query(
                    "SELECT ready_at AS t FROM pods WHERE ready_at > ? UNION ALL "
                    "SELECT json_extract(extra, '$.finishes_at') FROM attempts "
                    "WHERE source = 'autofix' AND json_extract(extra, '$.finishes_at') > ?",
                    (now, now),
                )
            ]
            self._deadlines, self._deadlines_at = sorted(pending), stamp
        return (*stamp, bisect.bisect_right(self._deadlines, clock.iso(clock.now())))

    # -- snapshots: what the audit records as before/after, and what a rollback writes back --------------
    def snapshot(self, resource: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        if resource == "pool":
            return self.store.one("SELECT desired_config, desired_kubelet FROM pools WHERE name = ?", (name,))
        if resource == "node":
            r = self.store.one(
                "SELECT unschedulable, labels, taints, config_version, kubelet_version FROM nodes WHERE name = ?",
                (name,),
            )
            return None if r is None else {**r, "unschedulable": bool(r["unschedulable"])}
        if resource == "pod":
            return self.store.one(
                "SELECT node, phase, ready_at FROM pods WHERE namespace = ? AND name = ?", (namespace, name)
            )
        if resource == "deployment":
            d = self.store.one(
                "SELECT status, current_revision, replicas, ready_replicas FROM deployments WHERE name = ?", (name,)
            )
            if d is None:
                return None
            d["revisions"] = self.store.query(
                "SELECT number, model, model_version, image, created_at, weight, status"
                " FROM revisions WHERE deployment = ? ORDER BY number",
                (name,),
            )
            return d
        raise ValueError(f"no snapshots of {resource!r}")

    def restore(self, resource: str, name: str, snap: dict[str, Any] | None, namespace: str | None = None) -> None:
        with self.store.transaction():
            if resource == "pool":
                assert snap is not None  # a pool, node or deployment that is snapshotted exists
                self.store.update("pools", name, snap)
            elif resource == "node":
                assert snap is not None
                self.store.update("nodes", name, {**snap, "unschedulable": int(snap["unschedulable"])})
            elif resource == "pod":
                if snap is None:
                    raise ClusterError(f"pod {namespace}/{name} did not exist before; it cannot be restored to nothing")
                if self.store.one("SELECT 1 AS x FROM pods WHERE namespace = ? AND name = ?", (namespace, name)):
                    self.store.update("pods", (namespace, name), snap)
                else:  # a deleted DaemonSet pod comes back on its node
                    ds = snap.get("owner") or ""
                    raise ClusterError(f"pod {namespace}/{name} was deleted; its controller {ds} recreates it")
            elif resource == "deployment":
                assert snap is not None
                revs = snap.pop("revisions")
                self.store.update("deployments", name, snap)
                self.store.conn.execute("DELETE FROM revisions WHERE deployment = ?", (name,))
                self.store.insert_all("revisions", [{**r, "deployment": name} for r in revs])
                snap["revisions"] = revs
            else:
                raise ValueError(f"cannot restore {resource!r}")

    # -- jobs ------------------------------------------------------------------------------------------
    def list_jobs(self) -> list[Job]:
        rows = self.store.query(
            "SELECT j.job_id, j.kind, j.owner, j.schedule, count(a.run_id) AS attempts,"
            " sum(a.status = 'failed') AS failures, max(a.submitted_at) AS last_submitted_at"
            " FROM jobs j LEFT JOIN attempts a ON a.job_id = j.job_id GROUP BY j.job_id ORDER BY j.job_id"
        )
        last = {
            r["job_id"]: r
            for r in self.store.query(
                "SELECT a.job_id, a.run_id, a.status FROM attempts a JOIN"
                " (SELECT job_id, max(submitted_at) AS t FROM attempts GROUP BY job_id) m"
                " ON a.job_id = m.job_id AND a.submitted_at = m.t"
            )
        }
        return [
            Job(
                job_id=r["job_id"],
                kind=r["kind"],
                owner=r["owner"],
                schedule=r["schedule"],
                last_status=last.get(r["job_id"], {}).get("status", "-"),
                last_run_id=last.get(r["job_id"], {}).get("run_id", "-"),
                last_submitted_at=r["last_submitted_at"] or "-",
                attempts=r["attempts"],
                failures=r["failures"] or 0,
            )
            for r in rows
        ]

    def list_attempts(
        self,
        *,
        failed: bool | None = None,
        job_id: str | None = None,
        since: str | None = None,
        limit: int | None = None,
    ) -> list[Attempt]:
        return list(self.iter_attempts(failed=failed, job_id=job_id, since=since, limit=limit))

    def iter_attempts(
        self,
        *,
        failed: bool | None = None,
        job_id: str | None = None,
        since: str | None = None,
        limit: int | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[Attempt]:
        for f in self._attempt_fields(failed, job_id, since, limit, page_size):
            yield Attempt(*f.values())  # (in Attempt's order; positional is the fast call)

    def iter_attempt_records(
        self,
        *,
        failed: bool | None = None,
        job_id: str | None = None,
        since: str | None = None,
        limit: int | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[dict[str, Any]]:
        return map(attempt_record, self._attempt_fields(failed, job_id, since, limit, page_size))

    def _attempt_fields(
        self, failed: bool | None, job_id: str | None, since: str | None, limit: int | None, page_size: int
    ) -> Iterator[dict[str, Any]]:
        """The attempts' fields (`rows._fields`), newest first, read a page at a time."""
        where, params = [], []
        if failed is not None:
            where.append("status = 'failed'" if failed else "status != 'failed'")
        if job_id:
            where.append("job_id = ?")
            params.append(job_id)
        if since:
            where.append("submitted_at >= ?")
            params.append(since)
        sql = f"SELECT {ATTEMPT_COLUMNS} FROM attempts" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY submitted_at DESC, run_id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        decoded: dict[str, Any] = {}  # the few distinct confs of an estate, each parsed once
        for page in self.store.pages(sql, params, page_size):
            for f in _fields(page, clock.now(), decoded):
                if not failed or f["status"] == "failed":  # a retry still running is not a failure (yet)
                    yield f

    def training_jobs(self) -> None:
        return None  # the demo estate's models train where the console runs

    def submit_retry(self, run_id: str, conf: dict[str, str]) -> Attempt:
        """Run the failed attempt `run_id` again with `conf`, as attempt N+1 of the same run. It shows as
        running for `job_seconds` (wall clock: the simulator is faster than the jobs it plays), then as what
        the simulator's truth says it came to (core/backends/sim/retries.py)."""
        from core.backends.sim import retries

        failed = self.store.one("SELECT * FROM attempts WHERE run_id = ?", (run_id,))
        if failed is None:
            raise NotFound(f"no job attempt with run_id {run_id!r}")
        truth = failed.get("truth")
        shown = _attempt(dict(failed))
        if shown.status != "failed":
            raise Conflict(f"attempt {run_id} did not fail ({shown.status}): nothing to retry")
        base = run_of(run_id, shown.attempt)
        n = (
            self.store.scalar(
                "SELECT max(attempt) FROM attempts WHERE job_id = ? AND (run_id = ? OR run_id LIKE ?)",
                (shown.job_id, base, base + "-%"),
            )
            or 1
        )
        now = clock.now()
        retry_id = f"{base}-{n + 1}"
        result = retries.outcome(shown, truth, conf, self.seed, retry_id, now)
        row = {
            **{k: failed[k] for k in ("job_id", "kind", "input_bytes", "node")},
            **result,
            "run_id": retry_id,
            "attempt": n + 1,
            "submitted_at": clock.iso(now),
            "conf": conf,
            "truth": truth if result["status"] == "failed" else None,
            "source": "autofix",
            "extra": {"retry_of": run_id, "finishes_at": clock.iso(now + timedelta(seconds=self.job_seconds))},
        }
        with self.store.transaction():
            self.store.insert_all("attempts", [row])
        return self.get_attempt(row["run_id"])

    def get_attempt(self, run_id: str) -> Attempt:
        row = self.store.one("SELECT * FROM attempts WHERE run_id = ?", (run_id,))
        if row is None:
            raise NotFound(f"no job attempt with run_id {run_id!r}")
        return _attempt(row)

    def attempt_log(self, run_id: str) -> str:
        a = self.get_attempt(run_id)
        return full_log(a.run_id, a.kind, a.job_id, a.submitted_at, a.log_tail, a.node or "localhost")

    def attempt_log_tail(self, run_id: str, lines: int, max_bytes: int) -> str:
        """The last `lines` lines, at most `max_bytes` of them, as `kubectl logs --tail --limit-bytes`."""
        row = self.store.one("SELECT log_tail FROM attempts WHERE run_id = ?", (run_id,))
        if row is None:
            raise NotFound(f"no job attempt with run_id {run_id!r}")
        text = "\n".join((row["log_tail"] or "").splitlines()[-lines:]) if lines > 0 else ""
        data = text.encode("utf-8", "surrogateescape")
        return data[-max_bytes:].decode("utf-8", "replace") if len(data) > max_bytes else text

    def attempt_events(self, run_id: str) -> list[str]:
        """Kubernetes events of the attempt's driver pod and job, as `kubectl get events` would list them."""
        return sim_events(self.get_attempt(run_id))
