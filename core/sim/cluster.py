"""SimCluster: the embedded backend. Built once from fixtures/ and a seed, then kept in the store so that
what an operator changes survives a restart."""
from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Callable

from core import clock
from core.errors import BadInput, NotFound
from core.sim import metrics
from core.sim.logs import full_log
from core.store import Store
from core.types import Attempt, Job, MetricPoint, ModelDeployment, Node, Pod, Revision

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


class SimCluster:
    def __init__(self, store: Store, fixtures_dir: Path, seed: int = DEFAULT_SEED,
                 scale: dict[str, int] | None = None,
                 on_build: Callable[[dict], None] | None = None):
        self.store = store
        self.fixtures_dir = Path(fixtures_dir)
        built = store.get_meta("sim.seed")
        if built is None:
            self._build(seed, scale or {}, on_build)
        else:
            stored_scale = parse_scale(store.get_meta("sim.scale"))
            if scale and scale != stored_scale:
                raise BadInput(
                    f"home {store.home} already holds an estate built with --scale "
                    f"{store.get_meta('sim.scale') or 'default'}; use a new --home for another scale")
        self.seed = int(store.get_meta("sim.seed"))
        self.anchor = clock.parse_ts(store.get_meta("sim.anchor"))
        with open(self.fixtures_dir / "estate.toml", "rb") as f:
            spec = tomllib.load(f)
        self._dep_specs = {d["name"]: d for d in spec["deployments"]}
        self.name = f"sim:{spec['estate']['name']} (seed {self.seed})"

    # -- building ------------------------------------------------------------------------------
    def _build(self, seed: int, scale: dict[str, int], on_build: Callable[[dict], None] | None) -> None:
        from core.sim.estate import EstateBuilder  # only on first start: keep it off the TUI's start path
        anchor = clock.now().replace(minute=0, second=0, microsecond=0)
        b = EstateBuilder(self.fixtures_dir, seed, scale, anchor)
        with self.store.transaction():
            if self.store.get_meta("sim.seed") is not None:  # another process built it first
                return
            self.store.insert_all("pools", b.pools())
            self.store.insert_all("nodes", b.nodes())
            self.store.insert_all("pods", b.pods())
            deps, revs, versions = b.deployments()
            self.store.insert_all("deployments", deps)
            self.store.insert_all("revisions", revs)
            self.store.insert_all("model_versions", versions)
            jobs, attempts = b.jobs_and_attempts()
            self.store.insert_all("jobs", jobs)
            self.store.insert_all("attempts", attempts, batch_size=5000)
            scale_text = ",".join(f"{k}={v}" for k, v in scale.items())
            self.store.set_meta("sim.seed", str(seed))
            self.store.set_meta("sim.scale", scale_text)
            self.store.set_meta("sim.anchor", clock.iso(anchor))
            if on_build:
                on_build({"seed": seed, "scale": scale_text or "default", "anchor": clock.iso(anchor),
                          "nodes": self.store.scalar("SELECT count(*) FROM nodes"),
                          "attempts": self.store.scalar("SELECT count(*) FROM attempts")})

    # -- nodes -----------------------------------------------------------------------------------
    def list_pools(self) -> list[dict]:
        return self.store.query("SELECT * FROM pools ORDER BY name")

    def list_nodes(self, pool: str | None = None) -> list[Node]:
        usage = {r["node"]: r for r in self.store.query(
            "SELECT node, count(*) AS pods, sum(cpu) AS cpu, sum(memory_gib) AS mem FROM pods GROUP BY node")}
        sql, params = "SELECT * FROM nodes", ()
        if pool:
            sql, params = sql + " WHERE pool = ?", (pool,)
        return [_node(r, usage.get(r["name"])) for r in self.store.query(sql + " ORDER BY pool, name", params)]

    def get_node(self, name: str) -> Node:
        row = self.store.one("SELECT * FROM nodes WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"no node named {name!r}")
        usage = self.store.one("SELECT count(*) AS pods, sum(cpu) AS cpu, sum(memory_gib) AS mem FROM pods "
                               "WHERE node = ?", (name,))
        return _node(row, usage)

    def list_pods(self, node: str | None = None) -> list[Pod]:
        sql, params = "SELECT * FROM pods", ()
        if node:
            sql, params = sql + " WHERE node = ?", (node,)
        return [Pod(**{**r, "emptydir": bool(r["emptydir"])}) for r in self.store.query(sql + " ORDER BY namespace, name", params)]

    # -- deployments -------------------------------------------------------------------------------
    def list_deployments(self) -> list[ModelDeployment]:
        revs: dict[str, list[Revision]] = {}
        for r in self.store.query("SELECT * FROM revisions ORDER BY deployment, number"):
            revs.setdefault(r.pop("deployment"), []).append(Revision(**r))
        return [ModelDeployment(**d, revisions=revs.get(d["name"], []))
                for d in self.store.query("SELECT * FROM deployments ORDER BY name")]

    def get_deployment(self, name: str) -> ModelDeployment:
        for d in self.list_deployments():
            if d.name == name:
                return d
        raise NotFound(f"no deployment named {name!r}")

    def deployment_metrics(self, name: str, minutes: int = 60, revision: int | None = None) -> list[MetricPoint]:
        dep = self.get_deployment(name)
        spec = self._dep_specs.get(name, {"name": name, "rate": 10.0, "latency_ms": 20.0, "error_rate": 0.001})
        return metrics.series(self.seed, spec, revision or dep.current_revision, clock.now(), minutes)

    # -- jobs ------------------------------------------------------------------------------------------
    def list_jobs(self) -> list[Job]:
        rows = self.store.query(
            "SELECT j.job_id, j.kind, j.owner, j.schedule, count(a.run_id) AS attempts,"
            " sum(a.status = 'failed') AS failures, max(a.submitted_at) AS last_submitted_at"
            " FROM jobs j LEFT JOIN attempts a ON a.job_id = j.job_id GROUP BY j.job_id ORDER BY j.job_id")
        last = {r["job_id"]: r for r in self.store.query(
            "SELECT a.job_id, a.run_id, a.status FROM attempts a JOIN"
            " (SELECT job_id, max(submitted_at) AS t FROM attempts GROUP BY job_id) m"
            " ON a.job_id = m.job_id AND a.submitted_at = m.t")}
        return [Job(job_id=r["job_id"], kind=r["kind"], owner=r["owner"], schedule=r["schedule"],
                    last_status=last.get(r["job_id"], {}).get("status", "-"),
                    last_run_id=last.get(r["job_id"], {}).get("run_id", "-"),
                    last_submitted_at=r["last_submitted_at"] or "-", attempts=r["attempts"],
                    failures=r["failures"] or 0) for r in rows]

    def list_attempts(self, *, failed: bool | None = None, job_id: str | None = None,
                      since: str | None = None, limit: int | None = None) -> list[Attempt]:
        where, params = [], []
        if failed is not None:
            where.append("status = 'failed'" if failed else "status != 'failed'")
        if job_id:
            where.append("job_id = ?")
            params.append(job_id)
        if since:
            where.append("submitted_at >= ?")
            params.append(since)
        sql = "SELECT * FROM attempts" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY submitted_at DESC, run_id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_attempt(r) for r in self.store.query(sql, params)]

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


def sim_events(a: Attempt) -> list[str]:
    pod = f"{a.job_id}-{a.run_id}-driver"
    pid = int(hashlib.sha256(a.run_id.encode()).hexdigest()[:4], 16) + 1000
    events = [f"Normal Scheduled pod/{pod} Successfully assigned jobs/{pod} to {a.node}"]
    if a.reason == "ImagePullBackOff":
        events += [f"Normal Pulling pod/{pod} Pulling image for {a.job_id}",
                   f"Warning Failed pod/{pod} Error: ErrImagePull",
                   f"Warning BackOff pod/{pod} Back-off pulling image"]
        return events
    events.append(f"Normal Started pod/{pod} Started container driver")
    if a.status != "failed":
        return events + [f"Normal Completed job/{a.job_id} Job completed"]
    if a.reason == "OOMKilled":
        events.append(f"Warning OOMKilling node/{a.node} Memory cgroup out of memory: Killed process {pid} (java)")
    elif a.reason == "Evicted":
        events.append(f"Warning Evicted pod/{pod} The node was low on resource: ephemeral-storage.")
    elif a.reason == "DeadlineExceeded":
        events.append(f"Warning DeadlineExceeded job/{a.job_id} Job was active longer than specified deadline")
    events.append(f"Warning BackoffLimitExceeded job/{a.job_id} Job has reached the specified backoff limit")
    return events


def _node(r: dict, usage: dict | None) -> Node:
    usage = usage or {}
    return Node(name=r["name"], pool=r["pool"], ready=bool(r["ready"]), unschedulable=bool(r["unschedulable"]),
                cpu=r["cpu"], memory_gib=r["memory_gib"], gpus=r["gpus"], pods=usage.get("pods") or 0,
                cpu_used=round(usage.get("cpu") or 0.0, 2), memory_used_gib=round(usage.get("mem") or 0.0, 2),
                kubelet_version=r["kubelet_version"], config_version=r["config_version"], zone=r["zone"],
                created_at=r["created_at"], labels=r["labels"], taints=r["taints"], conditions=r["conditions"])


def _attempt(r: dict) -> Attempt:
    r.pop("source", None)
    extra = r.pop("extra", None) or {}
    return Attempt(**r, extra=extra)
