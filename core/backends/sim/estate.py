"""Build the demo estate, deterministically, from fixtures/estate.toml, the log templates and a seed.

The same (seed, scale, anchor) always gives the same rows; timestamps are offsets back from the anchor
(the moment the estate was first built), so a fresh estate always shows the last 7 days.
"""

from __future__ import annotations

import hashlib
import math
import random
import tomllib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from core.backends.sim.logs import LogTemplate, load_templates
from core.clock import iso
from core.spark import GiB, format_size, parse_size, size_of
from core.taxonomy import TAXONOMY

# How often each failure happens in the demo (relative weights). Memory dominates, as in production.
FAILURE_WEIGHTS = {
    "memory_exceeded": 30,
    "disk_exhausted": 5,
    "shuffle_fetch_failed": 7,
    "node_lost": 7,
    "network_transient": 8,
    "storage_throttled": 6,
    "missing_input": 6,
    "permission_denied": 4,
    "schema_mismatch": 5,
    "user_code_error": 8,
    "timeout": 6,
    "image_pull_failed": 3,
    "gpu_failure": 4,
    "unclassified": 4,
}
AWAITING_HOURS = 12  # failures this recent have no owner's retry yet: they wait in the approval queue
# Which failures an owner's retry (attempt 2) usually fixes.
RETRY_FIXES = {
    "memory_exceeded",
    "disk_exhausted",
    "shuffle_fetch_failed",
    "node_lost",
    "network_transient",
    "storage_throttled",
    "timeout",
    "gpu_failure",
}


def load_estate(fixtures_dir: Path) -> dict[str, Any]:
    with open(Path(fixtures_dir) / "estate.toml", "rb") as f:
        return tomllib.load(f)


def rng_for(seed: int, *parts: object) -> random.Random:
    key = ":".join(str(p) for p in (seed, *parts))
    return random.Random(hashlib.sha256(key.encode()).digest())


parse_mem = parse_size  # the simulator's name for it
fmt_mem = format_size


class EstateBuilder:
    def __init__(self, fixtures_dir: Path, seed: int, scale: dict[str, int], anchor: datetime):
        self.spec = load_estate(fixtures_dir)
        self.templates = load_templates(Path(fixtures_dir) / "logs")
        self.seed = seed
        self.scale = scale
        self.anchor = anchor
        self.node_names: dict[str, list[str]] = {}

    # -- nodes and pods ------------------------------------------------------------------------
    def pools(self) -> list[dict[str, Any]]:
        return [
            {
                "name": p["name"],
                "instance_type": p["instance_type"],
                "desired_kubelet": p["kubelet"],
                "desired_config": p["config"],
                "cpu": p["cpu"],
                "memory_gib": p["memory_gib"],
                "gpus": p["gpus"],
            }
            for p in self.spec["pools"]
        ]

    def nodes(self) -> list[dict[str, Any]]:
        total = self.scale.get("nodes", 40)
        pools = self.spec["pools"]
        counts = [max(1, round(total * p["share"])) for p in pools]
        counts[0] += total - sum(counts)
        incidents = {(i["pool"], i["index"]): i["state"] for i in self.spec.get("incidents", [])}
        zones = self.spec["estate"]["zones"]
        rows = []
        for pool, count in zip(pools, counts, strict=True):
            rng = rng_for(self.seed, "nodes", pool["name"])
            names = self.node_names[pool["name"]] = []
            for i in range(count):
                ip = f"10.{20 + pools.index(pool)}.{i // 250}.{i % 250 + 4}"
                name = f"ip-{ip.replace('.', '-')}.eu-west-1.compute.internal"
                names.append(name)
                state = incidents.get((pool["name"], i))
                if state is None and total > 200 and rng.random() < 0.01:
                    state = rng.choice(["NotReady", "MemoryPressure", "DiskPressure"])
                conditions = {
                    "Ready": "False" if state == "NotReady" else "True",
                    "MemoryPressure": "True" if state == "MemoryPressure" else "False",
                    "DiskPressure": "True" if state == "DiskPressure" else "False",
                    "PIDPressure": "False",
                }
                config = pool["config"]
                if i < pool.get("lagging", 0):
                    config = pool["previous_config"]
                zone = zones[i % len(zones)]
                labels = {
                    "kubernetes.io/hostname": name,
                    "node.kubernetes.io/instance-type": pool["instance_type"],
                    "topology.kubernetes.io/zone": zone,
                    "mlops/pool": pool["name"],
                }
                if pool["gpus"]:
                    labels["nvidia.com/gpu.product"] = "NVIDIA-A100-SXM4-40GB"
                taints = []
                for t in pool.get("taints", []):
                    kv, effect = t.rsplit(":", 1)
                    k, _, v = kv.partition("=")
                    taints.append({"key": k, "value": v, "effect": effect})
                cordoned = state == "Cordoned"
                faults = (
                    {
                        "config_apply": "kubelet failed to start with the new node config: "
                        "invalid --eviction-hard threshold"
                    }
                    if state == "ConfigApplyFails"
                    else {}
                )
                if cordoned:
                    taints.append({"key": "node.kubernetes.io/unschedulable", "value": "", "effect": "NoSchedule"})
                created = self.anchor - timedelta(days=rng.randint(8, 120), minutes=rng.randint(0, 1440))
                rows.append(
                    {
                        "name": name,
                        "pool": pool["name"],
                        "ready": int(state != "NotReady"),
                        "unschedulable": int(cordoned),
                        "cpu": pool["cpu"],
                        "memory_gib": pool["memory_gib"],
                        "gpus": pool["gpus"],
                        "kubelet_version": pool["kubelet"],
                        "config_version": config,
                        "zone": zone,
                        "created_at": iso(created),
                        "labels": labels,
                        "taints": taints,
                        "conditions": conditions,
                        "faults": faults,
                    }
                )
        return rows

    def pods(self) -> Iterator[dict[str, Any]]:
        all_nodes = [n for names in self.node_names.values() for n in names]
        taken: set[str] = set()

        def _suffix(owner: str, i: int) -> str:
            # Kubernetes-like 5-character suffixes; lengthened on the rare collision so names stay unique.
            digest = hashlib.sha256(f"{self.seed}:{owner}:{i}".encode()).hexdigest()
            for n in range(5, 65):
                name = f"{owner}-{digest[:n]}"
                if name not in taken:
                    taken.add(name)
                    return name
            raise AssertionError("sha256 ran out of digits")

        for ds in self.spec.get("daemonsets", []):
            for i, node in enumerate(all_nodes):
                yield {
                    "namespace": ds["namespace"],
                    "name": _suffix(ds["name"], i),
                    "node": node,
                    "phase": "Running",
                    "owner": f"DaemonSet/{ds['name']}",
                    "cpu": ds["cpu"],
                    "memory_gib": ds["memory_gib"],
                    "restarts": 0,
                    "emptydir": 0,
                }
        for d in self.spec["deployments"]:
            rng = rng_for(self.seed, "pods", d["name"])
            nodes = self.node_names[d["pool"]]
            for r in range(d["replicas"]):
                node = nodes[(r * 7 + rng.randint(0, 3)) % len(nodes)]
                gpu = d["pool"].startswith("gpu")
                yield {
                    "namespace": d["namespace"],
                    "name": _suffix(d["name"], r),
                    "node": node,
                    "phase": "Running",
                    "owner": f"Deployment/{d['name']}",
                    "cpu": 8.0 if gpu else 2.0,
                    "memory_gib": 64.0 if gpu else 8.0,
                    "restarts": rng.choice([0, 0, 0, 1, 3]),
                    "emptydir": int(gpu),
                }

    def pdbs(self) -> list[dict[str, Any]]:
        """One PodDisruptionBudget per deployment: at most one replica down at a time."""
        return [
            {
                "namespace": d["namespace"],
                "name": f"{d['name']}-pdb",
                "owner": f"Deployment/{d['name']}",
                "min_available": max(1, d["replicas"] - 1),
            }
            for d in self.spec["deployments"]
        ]

    # -- deployments and the registry -----------------------------------------------------------
    def deployments(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        deps, revs, versions = [], [], []
        for d in self.spec["deployments"]:
            rng = rng_for(self.seed, "deploy", d["name"])
            canary = d.get("canary_weight")
            n = len(d["versions"])
            current = n - 1 if canary else n
            for number, version in enumerate(d["versions"], start=1):
                created = self.anchor - timedelta(days=(n - number) * 9 + rng.randint(0, 3), hours=rng.randint(1, 20))
                if number == current:
                    status, weight = "active", 100 - (canary or 0)
                elif canary and number == n:
                    status, weight = "canary", canary
                else:
                    status, weight = "retired", 0
                revs.append(
                    {
                        "deployment": d["name"],
                        "number": number,
                        "model": d["model"],
                        "model_version": version,
                        "image": f"registry.internal/serving/{d['model']}:{version}",
                        "created_at": iso(created),
                        "weight": weight,
                        "status": status,
                    }
                )
                stage = "production" if status == "active" else "staging" if status == "canary" else "archived"
                digest = hashlib.sha256(f"{self.seed}:{d['model']}:{version}".encode()).hexdigest()
                versions.append(
                    {
                        "model": d["model"],
                        "version": version,
                        "stage": stage,
                        "created_at": iso(created - timedelta(hours=6)),
                        "framework": d["framework"],
                        "sha256": digest,
                        "params": (
                            {"seed": 0, "demo_training": True}  # the console trains it (core.lifecycle.demo)
                            if d.get("trained")
                            else {"trained_on_days": 30, "seed": rng.randint(1, 9999)}
                        ),
                        "metrics": {
                            "auc": round(0.80 + 0.01 * number + rng.uniform(0, 0.02), 4),
                            "p99_ms": round(d["latency_ms"] * 2.6, 1),
                            "score_mean": d.get("score_mean", 0.5),
                        },
                        "parent": f"{d['model']}:{d['versions'][number - 2]}" if number > 1 else None,
                        "data_digest": hashlib.sha256(f"data:{d['model']}:{version}".encode()).hexdigest()[:16],
                    }
                )
            # candidates are trained from the newest served version, after it, in the order of their numbers
            # (drawn as "2 to 30 hours ago" alone, churn-gbm v5 came out older than its parent v4)
            trained = created - timedelta(hours=6)  # the registry's time of the newest served version
            for cand in d.get("candidates", []):
                digest = hashlib.sha256(f"{self.seed}:{d['model']}:{cand['version']}".encode()).hexdigest()
                trained = max(self.anchor - timedelta(hours=rng.randint(2, 30)), trained + timedelta(hours=1))
                versions.append(
                    {
                        "model": d["model"],
                        "version": cand["version"],
                        "stage": "staging",
                        "created_at": iso(trained),
                        "framework": d["framework"],
                        "sha256": digest,
                        "params": {"trained_on_days": 30, "sim_error_factor": cand.get("error_factor", 1.0)},
                        "metrics": {
                            "auc": round(0.83 + rng.uniform(0, 0.02), 4),
                            "p99_ms": round(d["latency_ms"] * 2.6, 1),
                            "score_mean": d.get("score_mean", 0.5),
                        },
                        "parent": f"{d['model']}:{d['versions'][-1]}",
                        "data_digest": hashlib.sha256(f"data:{d['model']}:{cand['version']}".encode()).hexdigest()[:16],
                    }
                )
            status = "Degraded" if d.get("degraded") else "Progressing" if canary else "Healthy"
            ready = d["replicas"] - (1 if d.get("degraded") else 0)
            deps.append(
                {
                    "name": d["name"],
                    "namespace": d["namespace"],
                    "model": d["model"],
                    "replicas": d["replicas"],
                    "ready_replicas": ready,
                    "status": status,
                    "current_revision": current,
                }
            )
        return deps, revs, versions

    # -- jobs and their attempts -----------------------------------------------------------------
    def job_specs(self) -> list[dict[str, Any]]:
        """The recurring jobs; with a `jobs` scale, clones of the fixtures' jobs until the target is met."""
        base: list[dict[str, Any]] = self.spec["jobs"]
        days = self.spec["estate"]["days_of_history"]
        target = self.scale.get("jobs")
        if not target:
            return base
        specs, i = [], 0
        runs = 0
        while runs < target:
            b = base[i % len(base)]
            clone = dict(b, id=b["id"] if i < len(base) else f"{b['id']}-{i // len(base):04d}")
            specs.append(clone)
            runs += int(days * 24 / b["every_hours"])
            i += 1
        return specs

    def jobs_and_attempts(self) -> tuple[list[dict[str, Any]], Iterator[dict[str, Any]]]:
        specs = self.job_specs()
        jobs = [
            {
                "job_id": s["id"],
                "kind": s["kind"],
                "owner": s["owner"],
                "schedule": f"every {s['every_hours']}h" if s["every_hours"] != 24 else "daily",
            }
            for s in specs
        ]
        return jobs, self._attempts(specs)

    def _attempts(self, specs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        est = self.spec["estate"]
        days = est["days_of_history"]
        start = self.anchor - timedelta(days=days)
        target = self.scale.get("jobs")
        categories = list(FAILURE_WEIGHTS)
        weights = [FAILURE_WEIGHTS[c] for c in categories]
        # Every category appears in the demo: the first failures walk the taxonomy once.
        unseen = list(TAXONOMY)
        runs = []
        for s in specs:
            rng = rng_for(self.seed, "sched", s["id"])
            offset = timedelta(minutes=rng.randint(0, 59))
            t = start + offset
            while t < self.anchor:
                runs.append((t, s))
                t += timedelta(hours=s["every_hours"])
        runs.sort(key=lambda r: (r[0], r[1]["id"]))
        emitted = 0
        for seq, (t, s) in enumerate(runs):
            rng = rng_for(self.seed, "run", s["id"], seq)
            day = (t - start).total_seconds() / 86400
            input_bytes = int(s["input_gb"] * GiB * (1 + s["growth_per_day"]) ** day * rng.uniform(0.9, 1.1))
            run_id = f"r{seq:07d}"
            failed = rng.random() < est["failure_rate"]
            category = None
            if failed:
                fits = [c for c in unseen if self._templates_for(c, s["kind"])]
                if fits:
                    category = fits[0]
                    unseen.remove(category)
                else:
                    while True:
                        category = rng.choices(categories, weights)[0]
                        if self._templates_for(category, s["kind"]):
                            break
            yield self._attempt(s, run_id, 1, t, input_bytes, dict(s["conf"]), category, rng)
            emitted += 1
            if target and emitted >= target:
                return
            if category and category in RETRY_FIXES:
                conf = dict(s["conf"])
                if category == "memory_exceeded":
                    conf = _bump_memory(conf)
                retry_at = t + timedelta(minutes=rng.randint(15, 50))
                # failures of the last hours are left to the console's approval queue
                if retry_at < self.anchor - timedelta(hours=AWAITING_HOURS):
                    yield self._attempt(s, f"{run_id}-2", 2, retry_at, input_bytes, conf, None, rng)
                    emitted += 1
            if target and emitted >= target:
                return

    def _templates_for(self, category: str, kind: str) -> list[LogTemplate]:
        return [t for t in self.templates.get(category, []) if kind in t.kinds]

    def _attempt(
        self,
        s: dict[str, Any],
        run_id: str,
        attempt: int,
        t: datetime,
        input_bytes: int,
        conf: dict[str, str],
        category: str | None,
        rng: random.Random,
    ) -> dict[str, Any]:
        runtime, cost = _runtime_cost(s["kind"], conf, input_bytes, rng)
        node_pool = self.node_names.get("gpu-a100" if s["kind"] == "pytorch" else "highmem") or next(
            iter(self.node_names.values())
        )
        host = node_pool[rng.randrange(len(node_pool))]
        row = {
            "run_id": run_id,
            "job_id": s["id"],
            "attempt": attempt,
            "submitted_at": iso(t),
            "kind": s["kind"],
            "input_bytes": input_bytes,
            "conf": conf,
            "status": "succeeded",
            "log_tail": None,
            "runtime_seconds": round(runtime, 1),
            "cost": round(cost, 2),
            "node": host,
            "exit_code": 0,
            "reason": "Completed",
            "extra": {},
            "source": "sim",
        }
        if category:
            tpl = rng.choice(self._templates_for(category, s["kind"]))
            frac = rng.uniform(0.05, 0.9)
            key = "spark.executor.memory" if "spark.executor.memory" in conf else "resources.memory"
            limit = size_of(conf, key, "4g") / GiB
            values = {
                "ts": t.strftime("%y/%m/%d %H:%M:%S"),
                "iso": iso(t),
                "host": host,
                "executor": rng.randint(1, 40),
                "stage": f"{rng.randint(2, 40)}.0",
                "task": rng.randint(0, 999),
                "tid": rng.randint(1000, 90000),
                "app": f"application_{int(self.anchor.timestamp())}000_{rng.randint(1, 9999):04d}",
                "container": f"container_e{rng.randint(10, 99)}_{rng.randint(10**12, 10**13)}_01_{rng.randint(1, 999):06d}",
                "used_gb": f"{limit * rng.uniform(1.01, 1.3) + 1:.1f}",
                "limit_gb": f"{limit + 1:g}",
                "path": f"s3a://datalake/{s['id'].replace('-', '_')}/dt={t:%Y-%m-%d}",
                "bucket": "datalake",
                "job": s["id"],
                "image": f"registry.internal/jobs/{s['id']}:{rng.randint(1, 9)}.{rng.randint(0, 20)}.0",
                "gpu": rng.randint(0, 7),
                "port": rng.randint(30000, 45000),
                "pod": f"{s['id']}-{run_id}-driver",
            }
            row.update(
                status="failed",
                truth=category,
                log_tail=tpl.body.format_map(values),
                exit_code=tpl.exit_code,
                reason=tpl.reason,
                runtime_seconds=round(runtime * frac, 1),
                cost=round(cost * frac, 2),
            )
        return row


def _bump_memory(conf: dict[str, str]) -> dict[str, str]:
    """What an owner does by hand after an OOM: 1.5× the memory, rounded up to a whole GiB."""
    out = dict(conf)
    for key in ("spark.executor.memory", "resources.memory"):
        if key in out:
            out[key] = fmt_mem(math.ceil(parse_mem(out[key], key) * 1.5 / GiB) * GiB)
    return out


def _runtime_cost(kind: str, conf: dict[str, str], input_bytes: int, rng: random.Random) -> tuple[float, float]:
    gb = input_bytes / GiB
    if kind == "spark":
        cores = int(conf.get("spark.executor.cores", "1"))
        inst = int(conf.get("spark.executor.instances", "2"))
        mem = size_of(conf, "spark.executor.memory") / GiB
        runtime = 90 + gb * 45 / max(1, cores * inst) * 60 / 60 * rng.uniform(0.85, 1.2)
        hourly = inst * (cores * 0.048 + mem * 0.0065) + 0.2
    elif kind == "pytorch":
        gpus = int(conf.get("resources.gpus", "1")) * int(conf.get("train.nodes", "1"))
        runtime = 600 + gb * 30 / gpus * rng.uniform(0.9, 1.15)
        hourly = gpus * 4.1
    else:
        cpus = int(conf.get("resources.cpu", "2"))
        mem = parse_mem(conf.get("resources.memory", "4g")) / GiB
        runtime = 120 + gb * 90 / cpus * rng.uniform(0.85, 1.2)
        hourly = cpus * 0.048 + mem * 0.0065
    return runtime, hourly * runtime / 3600
