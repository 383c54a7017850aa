"""The one facade. The CLI and every screen call these methods and nothing else, so they cannot disagree."""
from __future__ import annotations

import importlib.resources
import os
import platform
import sys
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from functools import cached_property
from typing import TYPE_CHECKING, Any

from console import __version__
from console.settings import Settings
from core import clock
from core.audit import AuditLog
from core.cluster import Cluster
from core.describe import describe
from core.errors import BadInput, Forbidden, NotFound
from core.registry import Registry
from core.sim import SimCluster, parse_scale
from core.store import SCHEMA_VERSION, Store
from core.types import (Attempt, AuditEvent, Job, MetricPoint, ModelDeployment, ModelVersion, Node, Pod, Summary, run_of,
                        to_dict)

if TYPE_CHECKING:
    from autofix.classify import Classification
    from autofix.rules import Rule
    from autofix.triage import Triage
    from core.changes import Changes, DrainOptions
    from core.operations import Operations
    from core.rollouts import Rollouts

SCORE_DRIFT_ALERT = 0.08
ROLE_RANK = {"viewer": 0, "operator": 1, "admin": 2}  # |live score mean − training score mean| that raises a drift alert


def describe_op(op: dict) -> dict:
    from core.operations import describe_op as describe
    return describe(op)


def fixtures_dir() -> Path:
    return Path(str(importlib.resources.files("fixtures")))


class Engine:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = Store(settings.home)
        self.audit = AuditLog(self.store)
        self.registry = Registry(self.store)
        self.cluster: Cluster = SimCluster(self.store, fixtures_dir(), seed=settings.seed,
                                           scale=parse_scale(settings.scale), on_build=self._record_build,
                                           pod_start_seconds=float(os.environ.get("MLOPS_CONSOLE_SIM_POD_START", "2")),
                                           job_seconds=float(os.environ.get("MLOPS_CONSOLE_SIM_JOB_SECONDS", "20")))
        self.recovered: list[dict] = []
        self.interrupted: list[dict] = []
        if not settings.read_only and self._left_unsettled():  # what a killed process left half-recorded
            self.recovered = self.changes.recover()
            self.interrupted = self.ops.mark_interrupted()

    # The pieces below are built on first use: the TUI's first frame needs none of them.
    @cached_property
    def triage(self) -> Triage:
        from autofix.triage import Triage
        s = self.settings
        return Triage(self.store, self.cluster, self.audit, s.rules_file, s.log_tail_lines, s.log_tail_bytes,
                      read_only=s.read_only)

    @cached_property
    def recommender(self):
        from autofix.service import Recommender
        s = self.settings
        return Recommender(self.registry, s.home / "artifacts", s.autofix_lambda, s.autofix_penalty)

    @cached_property
    def changes(self) -> Changes:
        from core.changes import Changes
        changes = Changes(self.cluster, self.audit)
        changes.register("rule", self.triage.rule_snapshot, self.triage.rule_restore)
        from autofix.approvals import run_snapshot
        changes.register("run", lambda run, job: run_snapshot(self.cluster, run, job), None)
        return changes

    @cached_property
    def ops(self) -> Operations:
        from core.operations import Operations
        return Operations(self.store, self.changes)

    @cached_property
    def rollouts_(self) -> Rollouts:
        from core.rollouts import Rollouts
        return Rollouts(self.ops, self.registry)

    def _left_unsettled(self) -> bool:
        """An intent without an outcome, or an operation still marked running: only then load the recovery."""
        return bool(self.audit.pending()) or bool(self.store.scalar(
            "SELECT EXISTS (SELECT 1 FROM operations WHERE state = 'running')"))

    def _record_build(self, info: dict) -> None:
        self.audit.append(verb="create", user=self.settings.actor,
                          object_ref={"resource": "estate", "name": "demo"}, after=info,
                          annotations={"reason": "first start: built the embedded demo estate"})

    @property
    def read_only(self) -> bool:
        return self.settings.read_only

    @property
    def role(self) -> str:
        return self.settings.role

    def backend_name(self) -> str:
        return self.cluster.name

    def can(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def require(self, role: str, what: str) -> str:
        """Refuse (exit 3) unless the operator's role allows it; returns the actor for the audit record."""
        if self.read_only:
            raise Forbidden(f"read-only: {what} is not allowed (run without --read-only)")
        if not self.can(role):
            raise Forbidden(f"{what} needs the {role} role; {self.settings.actor} is {self.role}")
        return self.settings.actor

    # -- the dashboard -----------------------------------------------------------------------
    def summary(self) -> Summary:
        nodes = self.cluster.list_nodes()
        pools: dict[str, dict[str, int]] = {}
        for n in nodes:
            p = pools.setdefault(n.pool, {"nodes": 0, "ready": 0, "cordoned": 0, "gpus": 0})
            p["nodes"] += 1
            p["ready"] += n.ready
            p["cordoned"] += n.unschedulable
            p["gpus"] += n.gpus
        deps = self.cluster.list_deployments()
        since = clock.iso(clock.now() - timedelta(hours=24))
        recent = self.cluster.list_attempts(since=since)
        latest: dict[str, Attempt] = {}
        for a in recent:  # newest first
            latest.setdefault(a.job_id, a)
        failing = [{"job_id": a.job_id, "run_id": a.run_id, "submitted_at": a.submitted_at,
                    "reason": a.reason or "", "exit_code": a.exit_code}
                   for a in latest.values() if a.status == "failed"]
        return Summary(
            backend=self.cluster.name, nodes_total=len(nodes), nodes_ready=sum(n.ready for n in nodes),
            nodes_cordoned=sum(n.unschedulable for n in nodes), nodes_pressure=sum(bool(n.pressure) for n in nodes),
            pools=pools, gpus_total=sum(n.gpus for n in nodes), deployments=len(deps),
            deployments_degraded=sum(d.status == "Degraded" for d in deps),
            rollouts_in_flight=[f"{d.name} r{d.canary.number} at {d.canary.weight}%" for d in deps if d.canary],
            attempts_24h=len(recent), failed_24h=sum(a.status == "failed" for a in recent),
            failing_jobs=sorted(failing, key=lambda f: f["submitted_at"], reverse=True),
            pending_approvals=self.store.scalar("SELECT count(*) FROM suggestions WHERE status = 'pending'") or 0, drift_alerts=self.drift_alerts(nodes, deps), audit_events=self.audit.count())

    def drift_alerts(self, nodes: list[Node] | None = None, deps: list[ModelDeployment] | None = None) -> list[str]:
        """Node pools running a mix of config versions, and models whose live scores left their training range."""
        alerts = []
        nodes = nodes if nodes is not None else self.cluster.list_nodes()
        for pool in self.cluster.list_pools():
            members = [n for n in nodes if n.pool == pool["name"]]
            off = [n for n in members if n.config_version != pool["desired_config"]]
            if off:
                versions = sorted({n.config_version for n in off})
                alerts.append(f"pool {pool['name']}: {len(off)}/{len(members)} nodes on {', '.join(versions)}, "
                              f"desired {pool['desired_config']}")
        for d in deps if deps is not None else self.cluster.list_deployments():
            rev = d.active
            mv = rev and self._model_version(rev.model, rev.model_version)
            if not mv or "score_mean" not in mv.metrics:
                continue
            live = self.cluster.deployment_metrics(d.name, minutes=15)
            mean = sum(p.score_mean for p in live) / len(live)
            shift = mean - mv.metrics["score_mean"]
            if abs(shift) >= SCORE_DRIFT_ALERT:
                alerts.append(f"model {d.model} on {d.name}: score mean {mean:.2f} vs {mv.metrics['score_mean']:.2f} "
                              f"in training ({shift:+.2f})")
        return alerts

    def _model_version(self, model: str, version: int) -> ModelVersion | None:
        try:
            return self.registry.get(model, version)
        except NotFound:
            return None

    # -- nodes ----------------------------------------------------------------------------------
    def nodes(self, pool: str | None = None) -> list[Node]:
        return self.cluster.list_nodes(pool)

    def pools(self) -> list[dict[str, Any]]:
        return self.cluster.list_pools()

    def node(self, name: str) -> Node:
        return self.cluster.get_node(name)

    def pods(self, node: str | None = None) -> list[Pod]:
        return self.cluster.list_pods(node)

    def describe_node(self, name: str) -> str:
        n = self.node(name)
        data = asdict(n) | {"status": n.status, "age": clock.age(n.created_at)}
        data["pods"] = [f"{p.namespace}/{p.name} ({p.owner}, {p.phase})" for p in self.pods(name)]
        return describe(data)

    # -- rollouts -------------------------------------------------------------------------------
    def deployments(self) -> list[ModelDeployment]:
        return self.cluster.list_deployments()

    def deployment(self, name: str) -> ModelDeployment:
        return self.cluster.get_deployment(name)

    def metrics(self, name: str, minutes: int = 60, revision: int | None = None) -> list[MetricPoint]:
        return self.cluster.deployment_metrics(name, minutes, revision)

    def describe_deployment(self, name: str) -> str:
        d = self.deployment(name)
        last = self.metrics(name, minutes=5)[-1]
        data = asdict(d)
        data["metrics_now"] = {k: v for k, v in asdict(last).items() if k != "score_hist"}
        return describe(data)

    # -- jobs -------------------------------------------------------------------------------------
    def jobs(self) -> list[Job]:
        return self.cluster.list_jobs()

    def attempts(self, *, failed: bool | None = None, job_id: str | None = None, since: str | None = None,
                 limit: int | None = None) -> list[Attempt]:
        return self.cluster.list_attempts(failed=failed, job_id=job_id, since=since, limit=limit)

    def attempt(self, run_id: str) -> Attempt:
        return self.cluster.get_attempt(run_id)

    def attempt_log(self, run_id: str) -> str:
        return self.cluster.attempt_log(run_id)

    def attempt_record(self, a: Attempt, c: Classification | None = None) -> dict[str, Any]:
        """An attempt as a history record, with its triage (category, rule_id, action, evidence) when failed."""
        rec = to_dict(a)
        if a.status == "failed":
            c = c or self.triage.classification(a.run_id)
            if c is not None:
                rec.update(category=c.category, rule_id=c.rule_id, action=c.action, evidence=c.evidence,
                           fields=c.fields)
        return rec

    def attempt_records(self, **filters: Any) -> list[dict[str, Any]]:
        attempts = self.attempts(**filters)
        classes = self.triage.classifications() if any(a.status == "failed" for a in attempts) else {}
        return [self.attempt_record(a, classes.get(a.run_id)) for a in attempts]

    def describe_attempt(self, run_id: str) -> str:
        a = self.attempt(run_id)
        rec = self.attempt_record(a)
        if a.status == "failed":
            c = self.triage.classification(run_id)
            rec["triage"] = c.to_dict() if c else None
            rec["events"] = self.cluster.attempt_events(run_id)
        return describe(rec)

    # -- triage: rules, classification, signatures ----------------------------------------------------
    @property
    def rules_warning(self) -> str | None:
        self.triage.classifier  # (re)loads the rule set, which sets the warning
        return self.triage.warning

    def rules(self) -> list[Rule]:
        return self.triage.ruleset.rules

    def rules_file(self) -> Path:
        return self.settings.rules_file

    def classification(self, run_id: str) -> Classification | None:
        return self.triage.classification(run_id)

    def classify_paths(self, paths: list[str], rules_file: str | None = None) -> list[dict[str, Any]]:
        """Classify log files (`-` is stdin) with the active rules, or with FILE in place of the user's."""
        from autofix.classify import Classifier
        from autofix.rules import load_ruleset
        clf = Classifier(load_ruleset(Path(rules_file))) if rules_file else self.triage.classifier
        out = []
        for path in paths:
            if path == "-":
                c = clf.classify_stream(sys.stdin.buffer)
            else:
                try:
                    c = clf.classify_path(path)
                except FileNotFoundError:
                    raise BadInput(f"{path}: no such file") from None
                except IsADirectoryError:
                    raise BadInput(f"{path}: is a directory") from None
                except OSError as e:
                    raise BadInput(f"{path}: cannot read: {e.strerror}") from None
            out.append({"path": path, "category": c.category, "rule_id": c.rule_id, "action": c.action,
                        "evidence": c.evidence, "fields": c.fields, "evidence_line": c.evidence_line,
                        "context": c.context})
        return out

    def check_rules(self, path: str) -> list[str]:
        from autofix.rules import check_rule_file
        return check_rule_file(Path(path))

    def test_rules(self, rules_path: str, log_path: str) -> dict[str, Any]:
        """Which rule of FILE wins on LOG, and every rule of FILE that matches it."""
        from autofix.classify import Classifier, rule_matches
        from autofix.rules import RuleSet, load_file
        rs = RuleSet(load_file(Path(rules_path)), [rules_path])
        try:
            text = Path(log_path).read_bytes().decode("utf-8", "replace") if log_path != "-" else \
                sys.stdin.buffer.read().decode("utf-8", "replace")
        except OSError as e:
            raise BadInput(f"{log_path}: cannot read: {e.strerror}") from None
        c = Classifier(rs).classify_text(text)
        result = c.to_dict()
        result["matching_rules"] = [r.id for r in rs.rules if rule_matches(r, text)]
        return result

    def signatures(self) -> list[dict[str, Any]]:
        return self.triage.signatures()

    def draft_rule(self, signature: str, **kw: Any) -> Rule:
        return self.triage.draft_rule(signature, **kw)

    def preview_rule(self, rule: Rule) -> dict[str, Any]:
        return self.triage.preview(rule)

    def add_rule(self, rule: Rule) -> None:
        self.triage.add_rule(rule, self.require("operator", "saving a rule"))

    # -- history ----------------------------------------------------------------------------------------
    def import_history(self, path: str, strict: bool = False) -> dict[str, Any]:
        """Load history records (JSONL) into the store. Every line is checked first; with `strict` the first
        bad line stops it and nothing is written. Records replace earlier ones with the same run_id."""
        from autofix import history
        user = self.require("operator", "importing history")
        p = Path(path)
        report = history.Report(str(p))
        rows = []
        try:
            for n, row, error in history.read(p):
                if error:
                    if strict:
                        raise BadInput(f"{p}:{n}: {error}")
                    report.errors.append({"line": n, "error": error})
                else:
                    rows.append({**row, "source": f"import:{p.name}"})
        except FileNotFoundError:
            raise BadInput(f"{p}: no such file") from None
        except IsADirectoryError:
            raise BadInput(f"{p}: is a directory") from None
        known = {r["job_id"] for r in self.store.query("SELECT job_id FROM jobs")}
        ids = sorted({r["run_id"] for r in rows})
        report.replaced = sum(self.store.scalar(f"SELECT count(*) FROM attempts WHERE run_id IN ({','.join('?' * len(chunk))})",
                                                tuple(chunk)) for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)))
        jobs = {r["job_id"]: {"job_id": r["job_id"], "kind": r["kind"], "owner": "imported", "schedule": "-"}
                for r in rows if r["job_id"] not in known}

        if rows:
            with self.store.transaction():
                self.store.upsert_all("attempts", rows, pk="run_id")
                if jobs:
                    self.store.insert_all("jobs", list(jobs.values()))
            # named by the file's name, as kubectl names an object (resource/name); the full path would
            # read history//tmp/…, so it goes in the annotations
            self.audit.append(verb="import", user=user, object_ref={"resource": "history", "name": p.name},
                              after={"records": len(rows), "replaced": report.replaced, "skipped": len(report.errors)},
                              annotations={"new_jobs": len(jobs), "path": str(p.resolve())})
        report.imported = len(rows)
        return report.to_dict()

    # -- the retry recommender ------------------------------------------------------------------------------
    def _records(self, path: str, failed_only: bool = False) -> list[dict[str, Any]]:
        """The history records of a JSONL file; the first bad line stops it (exit 2 naming the line).
        `failed_only`: a record that did not fail is bad input too (recommend decides on failures)."""
        from autofix import history
        rows = []
        try:
            for n, row, error in history.read(Path(path)):
                if error:
                    raise BadInput(f"{path}:{n}: {error}")
                if failed_only and row["status"] != "failed":
                    raise BadInput(f"{path}:{n}: status {row['status']!r}: only failed attempts get a decision")
                rows.append({**{k: v for k, v in row.items() if k != "extra"}, **row["extra"]})
        except FileNotFoundError:
            raise BadInput(f"{path}: no such file") from None
        except IsADirectoryError:
            raise BadInput(f"{path}: is a directory") from None
        return rows

    def _classify_record(self, r: dict[str, Any]) -> tuple[str, str | None]:
        from autofix.collect import document
        from core.types import Attempt
        a = Attempt(**{k: r.get(k) for k in ("job_id", "run_id", "attempt", "submitted_at", "kind", "input_bytes",
                                             "conf", "status", "runtime_seconds", "cost", "log_tail", "exit_code",
                                             "reason")})
        c = self.triage.classifier.classify_text(document(a, [], r.get("log_tail") or ""))
        return c.category, c.rule_id

    def train_recommender(self, history_path: str, seed: int = 0) -> dict[str, Any]:
        """Import the history (audited), train both model families on it, register the chosen one."""
        user = self.require("operator", "training the recommender")
        self.import_history(history_path, strict=True)
        records = {r["run_id"]: r for r in self._records(history_path)}
        # what approved retries came to is history too: the next model learns from its own outcomes
        outcomes = {r["run_id"]: r for r in self.approvals.outcome_records() if r["run_id"] not in records}
        result = self.recommender.train([*records.values(), *outcomes.values()], seed=seed)
        result["metrics"]["outcome_records"] = len(outcomes)
        # a new version is what recommend and the queue use from now on: a change, recorded as one
        m = result["metrics"]
        self.audit.append(verb="register", user=user,
                          object_ref={"resource": "model", "name": f"{result['model']}:{result['version']}"},
                          after={"version": result["version"], "family": m["chosen"], "rows": m["rows"]},
                          annotations={"history": str(history_path), "outcome_records": len(outcomes)})
        return result

    def recommend(self, path: str) -> list[dict[str, Any]]:
        records = self._records(path, failed_only=True)
        if not records:
            return []
        # the history of the jobs asked about, as records (the recommender reads their configs, inputs,
        # outcomes and logs; their triage it does not need — computing it for every attempt took seconds)
        past = [to_dict(a) for job in sorted({r["job_id"] for r in records}) for a in self.attempts(job_id=job)]
        decisions = self.recommender.recommend(records, self._classify_record, past)
        return [d.to_dict() for d in decisions]

    def train_on_world(self, seed: int = 11, jobs: int = 60, days: int = 30) -> dict[str, Any]:
        """Train on a history of the simulator's Spark world: the demo's way to a first model."""
        import json
        self.require("operator", "training the recommender")
        path = self.settings.home / f"spark-world-{seed}-{jobs}x{days}.jsonl"
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in self.world_history(seed, jobs, days)))
        tmp.replace(path)
        return self.train_recommender(str(path))

    @staticmethod
    def world_history(seed: int, jobs: int, days: int) -> list[dict[str, Any]]:
        from core.sim import spark_world
        if not (1 <= jobs <= 5000 and 1 <= days <= 3650):
            raise BadInput(f"--jobs must be 1..5000 and --days 1..3650, got {jobs} and {days}")
        return spark_world.history(seed, n_jobs=jobs, days=days)[0]

    def evaluate_recommender(self, seed: int = 7) -> dict[str, Any]:
        from autofix.service import evaluate
        return evaluate(self.recommender, seed, self._classify_record)

    # -- change management: nodes ----------------------------------------------------------------------
    def cordon(self, nodes: list[str], on: bool = True) -> list[str]:
        user = self.require("operator", "cordon" if on else "uncordon")
        return [n for n in nodes if self.changes.cordon(n, user, on=on)]

    def label(self, node: str, set_: dict[str, str], remove: list[str]) -> None:
        self.changes.label(node, self.require("operator", "labelling a node"), set_, remove)

    def taint(self, node: str, add: list[dict[str, str]], remove: list[tuple[str, str | None]]) -> None:
        self.changes.taint(node, self.require("operator", "tainting a node"), add, remove)

    def drain(self, nodes: list[str], opts: DrainOptions, progress=lambda m: None) -> list[dict]:
        user = self.require("operator", "drain")
        return [self.changes.drain(n, user, opts, progress) for n in nodes]

    def label_words(self, node: str, words: list[str]) -> None:
        from core.changes import parse_labels
        self.label(node, *parse_labels(words))

    def taint_words(self, node: str, words: list[str]) -> None:
        from core.changes import parse_taints
        self.taint(node, *parse_taints(words))

    @staticmethod
    def drain_options(values: dict[str, Any]) -> DrainOptions:
        from core.changes import DrainOptions
        try:
            return DrainOptions(grace_seconds=int(values.get("grace_seconds", 30)),
                                timeout_seconds=float(values.get("timeout", 120)),
                                ignore_daemonsets=bool(values.get("ignore_daemonsets")),
                                delete_emptydir_data=bool(values.get("delete_emptydir_data")))
        except ValueError:
            raise BadInput("drain: grace period and timeout must be numbers of seconds") from None

    @staticmethod
    def parse_rollout(steps: str, pause: str) -> tuple[list[int], float | None]:
        from core.rollouts import parse_pause, parse_steps
        return parse_steps(steps), parse_pause(pause)

    def drift(self) -> list[dict[str, Any]]:
        """Nodes whose observed config differs from their pool's desired config."""
        desired = {p["name"]: p for p in self.cluster.list_pools()}
        return [{"node": n.name, "pool": n.pool, "observed": n.config_version,
                 "desired": desired[n.pool]["desired_config"], "unschedulable": n.unschedulable}
                for n in self.cluster.list_nodes() if n.config_version != desired[n.pool]["desired_config"]]

    def apply_config(self, pool: str, version: str, max_unavailable: int, drain: bool = True,
                     progress=lambda m: None) -> dict:
        user = self.require("admin", "changing a pool's node config")
        op = self.ops.start_pool_config(pool, version, max_unavailable, user, drain)
        return describe_op(self.ops.run_pool_config(op, user, progress))

    # -- change management: rollouts -------------------------------------------------------------------
    def rollout_start(self, deployment: str, model: str, version: int, steps: list[int], pause: float | None,
                      analysis: dict[str, float], progress=lambda m: None) -> dict:
        user = self.require("operator", "starting a rollout")
        op = self.rollouts_.start(deployment, model, version, user, steps, pause, analysis)
        return describe_op(self.rollouts_.run(op, user, progress))

    def rollout_promote(self, deployment: str, progress=lambda m: None) -> dict:
        return describe_op(self.rollouts_.promote(deployment, self.require("operator", "promote"), progress))

    def rollout_abort(self, deployment: str) -> dict:
        return describe_op(self.rollouts_.abort(deployment, self.require("operator", "abort")))

    def rollout_rollback(self, deployment: str, to_revision: int | None = None) -> dict:
        return self.rollouts_.rollback(deployment, self.require("admin", "rolling back a deployment"), to_revision)

    def rollout_status(self, deployment: str) -> dict:
        d = self.deployment(deployment)
        op = self.rollouts_.current(deployment)
        return {"deployment": asdict(d), "rollout": describe_op(op) if op else None}

    # -- operations (multi-step, durable) ---------------------------------------------------------------
    def operations(self, unfinished: bool = False) -> list[dict]:
        return [describe_op(o) for o in self.ops.list(unfinished)]

    def operation(self, op_id: str) -> dict:
        return describe_op(self.ops.get(op_id))

    def op_pause(self, op_id: str) -> dict:
        self.require("operator", "pausing an operation")
        return describe_op(self.ops.pause(op_id))

    def op_resume(self, op_id: str, progress=lambda m: None) -> dict:
        op = self.ops.get(op_id)
        user = self.require("admin" if op["kind"] == "pool-config" else "operator", "resuming an operation")
        if op["kind"] == "pool-config":
            return describe_op(self.ops.run_pool_config(op, user, progress))
        return describe_op(self.rollouts_.run(op, user, progress))

    def op_rollback(self, op_id: str, progress=lambda m: None) -> dict:
        op = self.ops.get(op_id)
        user = self.require("admin", "rolling back an operation")
        if op["kind"] == "pool-config":
            return describe_op(self.ops.rollback_pool_config(op, user, progress))
        return describe_op(self.rollouts_.abort(op["params"]["deployment"], user, reason="rolled back by operator",
                                                state="rolled_back"))

    # -- audit -------------------------------------------------------------------------------------------
    def audit_show(self, key: str) -> list[AuditEvent]:
        events = self.audit.get(key)
        if not events:
            raise NotFound(f"no audit event {key!r} (give a seq, an auditID or a unique prefix of one)")
        return events

    def audit_verify(self):
        return self.audit.verify()

    def audit_rollback(self, key: str, force: bool = False) -> dict:
        user = self.require("admin", "rolling back a change")
        return self.changes.rollback(key, user, force)

    def retry_candidates(self, hours: int = 24, max_attempts: int = 3) -> list[Attempt]:
        """The latest attempt of each run of the last `hours`, when it failed and the run has tries left."""
        since = clock.iso(clock.now() - timedelta(hours=hours))
        latest: dict[str, Attempt] = {}
        for a in self.attempts(since=since):
            run = run_of(a.run_id, a.attempt)
            if run not in latest or a.attempt > latest[run].attempt:
                latest[run] = a
        return sorted((a for a in latest.values() if a.status == "failed" and a.attempt < max_attempts),
                      key=lambda a: (a.submitted_at, a.run_id), reverse=True)

    # -- the approval queue ---------------------------------------------------------------------------
    @cached_property
    def approvals(self):
        from autofix.approvals import Approvals
        from autofix.queue import Queue
        return Approvals(Queue(self.store), self.cluster, self.changes, self.triage, self.recommender,
                         self.settings.autofix_policy, self.retry_candidates)

    def failures_to_queue(self) -> tuple[int, int]:
        """(how many failures the next reconcile will queue, how many of them wait for a trained
        recommender): none wait once one is registered (a cheap look at the registry; no model is loaded)."""
        from autofix.approvals import needs_model
        from autofix.model import MODEL
        unqueued = self.approvals.unqueued()
        if self.registry.production(MODEL) is not None:
            return len(unqueued), 0
        return len(unqueued), sum(needs_model(a, c) for a, c in unqueued)

    def autofix_reconcile(self) -> dict[str, Any]:
        """The queue's write step: record the outcomes of finished retries, queue a suggestion for each new
        failure a retry may fix, apply the policies to the new ones (only when an operator reconciles).
        Refused in read-only mode. Returns what it did."""
        if self.read_only:
            raise Forbidden("read-only: reconciling the approval queue writes to it (run without --read-only)")
        return self.approvals.refresh(self.settings.actor if self.can("operator") else None)

    def autofix_queue(self, everything: bool = False) -> tuple[list, dict[str, Any]]:
        """(suggestions, report): a read; autofix_reconcile is what fills the queue. The report keeps the
        reconcile's fields with nothing done (queued 0, outcomes 0, auto_applied []), and says what waits:
        `to_queue` failures the next reconcile queues, `waiting_for_model` those that wait for a model."""
        new, waiting = self.failures_to_queue()
        report = {"queued": 0, "waiting_for_model": waiting, "auto_applied": [], "outcomes": 0,
                  "to_queue": new - waiting, "read_only": self.read_only}
        return self.approvals.queue.list(None if everything else "pending"), report

    def suggestion(self, key: int | str):
        return self.approvals.queue.get(key)

    def describe_suggestion(self, key: int | str) -> str:
        return describe(self.suggestion(key).to_dict())

    def approve(self, key: int | str):
        return self.approvals.approve(key, self.require("operator", "approving a retry"))

    def reject(self, key: int | str, reason: str):
        return self.approvals.reject(key, self.require("operator", "rejecting a suggestion"), reason)

    def edit_suggestion(self, key: int | str, words: list[str]):
        return self.approvals.edit(key, self.require("operator", "editing a suggestion"), words)

    def check_edit(self, key: int | str, words: list[str]) -> None:
        """What an edit of suggestion `key` would refuse, checked before anything is written (raises
        BadInput): the TUI keeps its dialog open, with what was typed, until it holds."""
        self.approvals.check_edit(key, words)

    # -- models and audit ---------------------------------------------------------------------------
    def models(self, model: str | None = None) -> list[ModelVersion]:
        return self.registry.list(model)

    def describe_model(self, model: str, version: int) -> str:
        return describe(asdict(self.registry.get(model, version)))

    def audit_events(self, limit: int | None = None) -> list[AuditEvent]:
        return self.audit.list(limit)

    def describe_change(self, key: str) -> str:
        """A change as the operator reads it: who, what, its stages, and a diff of before → after."""
        import difflib
        events = self.audit_show(key)
        last = events[-1]
        before = describe({"object": last.before}).splitlines()
        after = describe({"object": last.after}).splitlines()
        diff = [ln for ln in difflib.unified_diff(before, after, "before", "after", lineterm="", n=2)]
        head = describe({"auditID": last.audit_id, "verb": last.verb, "user": last.user,
                         "objectRef": last.object_ref,
                         "stages": [f"{e.seq} {e.stage} {e.timestamp}" for e in events],
                         "annotations": last.annotations})
        return head + "diff:\n" + ("\n".join("  " + ln for ln in diff) if diff else "  (no difference)") + "\n"

    # -- about -------------------------------------------------------------------------------------
    def version_info(self) -> dict[str, Any]:
        from importlib.metadata import version
        return {"mlops-console": __version__, "schema": SCHEMA_VERSION, "python": platform.python_version(),
                "textual": version("textual"), "backend": self.cluster.name, "home": str(self.settings.home),
                "read_only": self.read_only, "user": self.settings.actor, "platform": sys.platform}
