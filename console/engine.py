"""The one facade. The CLI and every screen call these methods and nothing else, so they cannot disagree.

`Engine` wires the settings, the console's store, the audit path and the backend (console/backend.py)
into the domain services (console/services/) and forwards to them. It hands out none of its
collaborators: what a caller needs is a method here, with core's types or plain data in and out.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from console import __version__
from console.engine_lab import LabFacade
from console.engine_monitoring import MonitoringFacade
from console.services import roles
from console.services.alerts import AlertService
from console.services.audit import AuditService
from console.services.autofix import AutofixService
from console.services.dashboard import DashboardService
from console.services.jobs import JobService
from console.services.models import ModelService
from console.services.nodes import NodeService, drain_options
from console.services.rollouts import RolloutService, parse_rollout
from console.services.wiring import Wiring
from console.settings import Settings
from core.audit import AuditLog, Verdict
from core.cluster import Cluster
from core.errors import BadInput, ConsoleError
from core.store import Store
from core.types import Attempt, AuditEvent, Job, MetricPoint, ModelDeployment, ModelVersion, Node, Pod, Pool, Summary

if TYPE_CHECKING:
    from autofix.classify import Classification
    from autofix.queue import Suggestion
    from autofix.rules import Rule
    from core.changes import DrainOptions

Progress = Callable[[str], None]


class Engine(MonitoringFacade, LabFacade):
    def __init__(self, settings: Settings, cluster: Cluster | None = None, watch: bool = False):
        """`cluster`: the backend to run on; by default the one the settings choose (console/backend.py).
        `watch`: keep what the views read current from the cluster's watches (the TUI; a CLI command
        reads once)."""
        self._settings = settings
        self._watch = watch
        store = Store(settings.home)
        audit = AuditLog(store)
        built: list[dict] = []
        if cluster is None:
            from console.backend import open_cluster

            cluster = open_cluster(settings, on_build=built.append, watch=watch)
        self._w = w = Wiring(settings, store, audit, cluster)
        self._nodes, self._rollouts, self._jobs = NodeService(w), RolloutService(w), JobService(w)
        self._autofix, self._models, self._audit = AutofixService(w), ModelService(w), AuditService(w)
        self._dashboard = DashboardService(w)
        self._alerts = AlertService(w)
        self.recovered: list[dict] = []
        self.interrupted: list[dict] = []
        if built:
            self._record_build(built[0])
        elif not settings.read_only:
            self._adopt_served_versions()
        if not settings.read_only and self._left_unsettled():  # what a killed process left half-recorded
            self.recovered = w.changes.recover()
            self.interrupted = w.ops.mark_interrupted()

    def _record_build(self, info: dict) -> None:
        """The backend built its estate on this first start: recorded, the model versions it serves
        registered, so that the registry knows what runs, and its canaries in flight adopted as rollout
        operations, so that they can be promoted, aborted and resumed (`ops`) like one started here."""
        served = self._models.served_versions_to_adopt()
        adopted: list[dict] = []

        def adopt() -> None:
            self._w.registry.adopt(served)
            adopted.extend(self._rollouts.adopt_canaries(self._settings.actor, audited=False))

        self._w.audit.change(
            verb="create",
            user=self._settings.actor,
            object_ref={"resource": "estate", "name": "demo"},
            before=None,
            apply=adopt,
            local=True,
            after=lambda: {
                **info,
                "registered": [f"{m.model}:{m.version}" for m in served],
                "rollouts": [f"{op['target']} (operation {op['id']}, {op['state']})" for op in adopted],
            },
            annotations={"reason": "first start: built the embedded demo estate"},
        )

    def _adopt_served_versions(self) -> None:
        """Model versions the cluster serves that the registry does not know (a new home on an existing
        cluster, a version deployed by other means): registered as they are, one audited change."""
        served = self._models.served_versions_to_adopt()
        if served:
            self._w.audit.change(
                verb="adopt",
                user=self._settings.actor,
                object_ref={"resource": "registry", "name": self._w.cluster.name},
                before=None,
                apply=lambda: self._w.registry.adopt(served),
                local=True,
                after=[f"{m.model}:{m.version}" for m in served],
                annotations={"reason": "served by the cluster, unknown to the registry"},
            )

    def _left_unsettled(self) -> bool:
        """An intent without an outcome, or an operation still marked running: only then load the recovery."""
        return bool(self._w.audit.pending()) or bool(
            self._w.store.scalar("SELECT EXISTS (SELECT 1 FROM operations WHERE state = 'running')")
        )

    # -- who is acting -------------------------------------------------------------------------------
    @property
    def read_only(self) -> bool:
        return self._w.read_only

    @property
    def role(self) -> str:
        return self._w.role

    @property
    def actor(self) -> str:
        return self._settings.actor

    def rules_stamp(self) -> tuple:
        """Changes when the rules file does: every failure is classified again."""
        return self._w.rules_stamp()

    def data_generation(self) -> tuple:
        """Changes whenever any read may return something new: the cluster's token, the console store's
        commits, the rules file. Equal generations: a view need not read again."""
        return self._w.data_generation()

    @property
    def backend_name(self) -> str:
        return self._w.cluster.name

    # -- where the console is connected (Kubernetes contexts and namespaces) ---------------------------
    def contexts(self) -> tuple[list[dict[str, str]], str]:
        """The kubeconfig's contexts and the one in use ("" : not on a Kubernetes cluster)."""
        from console.backend import contexts

        return contexts(self._settings)

    def namespace(self) -> str:
        """The namespace the console reads ("all": every one; "" on a backend without namespaces)."""
        cluster = self._w.cluster
        if not hasattr(cluster, "list_namespaces"):
            return ""
        ns = getattr(cluster, "namespace", None)
        return "all" if ns is None else str(ns)

    def namespaces(self) -> list[str]:
        """The cluster's namespaces ([] on a backend without them)."""
        return list(getattr(self._w.cluster, "list_namespaces", lambda: [])())

    def retargeted(self, **change: Any) -> Engine:
        """An engine on the same home for another context or namespace (`context=`, `namespace=`,
        `all_namespaces=`): the TUI's :ctx and :ns. Raises ConsoleError when it cannot connect."""
        from dataclasses import replace

        ns = change.get("namespace")
        if ns and not change.get("context"):
            try:
                known = self.namespaces()
            except ConsoleError:  # (a role that may not list namespaces: kubectl's habit, taken on trust)
                known = []
            if known and ns not in known:
                raise BadInput(f"no namespace {ns!r} (namespaces: {', '.join(known)})")
        engine = Engine(replace(self._settings, **change), watch=self._watch)
        self.close()
        return engine

    def close(self) -> None:
        """Stop what the backend runs in the background (its watches)."""
        getattr(self._w.cluster, "close", lambda: None)()

    def connection_problem(self) -> tuple[str, float] | None:
        """(why, since when) what the views show is not current (a lost connection to the cluster)."""
        return getattr(self._w.cluster, "connection_problem", lambda: None)()

    @property
    def settings(self) -> Settings:
        return self._settings

    def can(self, action: str) -> bool:
        """Whether this operator may do `action` (an id of console/services/roles.py) here and now."""
        return self._w.can(action)

    @staticmethod
    def actions() -> dict[str, str]:
        """Every action and the role it needs."""
        return dict(roles.ACTIONS)

    # -- the dashboard -------------------------------------------------------------------------------
    def summary(self) -> Summary:
        return self._dashboard.summary()

    def drift_alerts(self) -> list[str]:
        return self._dashboard.drift_alerts()

    # -- nodes ---------------------------------------------------------------------------------------
    def pools(self) -> list[Pool]:
        return self._nodes.pools()

    def nodes(self, pool: str | None = None) -> list[Node]:
        return self._nodes.nodes(pool)

    def iter_nodes(self, pool: str | None = None) -> Iterator[Node]:
        """`nodes`, read a page at a time (the CLI's listings stream)."""
        return self._nodes.iter_nodes(pool)

    def node(self, name: str) -> Node:
        return self._nodes.node(name)

    def pods(self, node: str | None = None) -> list[Pod]:
        return self._nodes.pods(node)

    def node_details(self, name: str) -> dict[str, Any]:
        return self._nodes.details(name)

    def drift(self) -> list[dict[str, Any]]:
        return self._nodes.drift()

    def cordon(self, nodes: list[str], on: bool = True) -> list[str]:
        return self._nodes.cordon(nodes, on)

    def label_words(self, node: str, words: list[str]) -> None:
        self._nodes.label(node, words)

    def taint_words(self, node: str, words: list[str]) -> None:
        self._nodes.taint(node, words)

    drain_options = staticmethod(drain_options)

    def drain(self, nodes: list[str], opts: DrainOptions, progress: Progress = lambda m: None) -> list[dict]:
        return self._nodes.drain(nodes, opts, progress)

    def apply_config(
        self, pool: str, version: str, max_unavailable: int, drain: bool = True, progress: Progress = lambda m: None
    ) -> dict:
        return self._nodes.apply_config(pool, version, max_unavailable, drain, progress)

    # -- rollouts and operations ------------------------------------------------------------------------
    def deployments(self) -> list[ModelDeployment]:
        return self._rollouts.deployments()

    def deployment(self, name: str) -> ModelDeployment:
        return self._rollouts.deployment(name)

    def metrics(self, name: str, minutes: int = 60, revision: int | None = None) -> list[MetricPoint]:
        return self._rollouts.metrics(name, minutes, revision)

    def deployment_details(self, name: str) -> dict[str, Any]:
        return self._rollouts.details(name)

    parse_rollout = staticmethod(parse_rollout)

    def rollout_start(
        self,
        deployment: str,
        model: str,
        version: int,
        steps: list[int],
        pause: float | None,
        analysis: dict[str, float],
        progress: Progress = lambda m: None,
        force: bool = False,
    ) -> dict:
        """A canary rollout of a version the gate passes (`models gate`): one it refuses only with `force`
        (an admin's, kept in the operation); one the console holds no artifact of is started unjudged,
        saying so."""
        return self._rollouts.start(
            deployment,
            model,
            version,
            steps,
            pause,
            analysis,
            progress,
            gate=lambda: self._models.rollout_verdict(model, version, force),
        )

    def rollout_promote(self, deployment: str, progress: Progress = lambda m: None) -> dict:
        return self._rollouts.promote(deployment, progress)

    def rollout_abort(self, deployment: str) -> dict:
        return self._rollouts.abort(deployment)

    def scale(self, deployment: str, replicas: int) -> dict[str, Any]:
        """The deployment serves with `replicas` pods: one audited change, rolled back like any other."""
        return self._rollouts.scale(deployment, replicas)

    def rollout_rollback(self, deployment: str, to_revision: int | None = None) -> dict:
        return self._rollouts.rollback(deployment, to_revision)

    def rollout_status(self, deployment: str) -> dict:
        return self._rollouts.status(deployment)

    def operations(self, unfinished: bool = False) -> list[dict]:
        return self._rollouts.operations(unfinished)

    def interrupted_operations(self) -> list[dict]:
        """Operations left interrupted (id, kind, target, position, steps): what every command warns of."""
        return self._rollouts.interrupted()

    def operation(self, op_id: str) -> dict:
        return self._rollouts.operation(op_id)

    def op_pause(self, op_id: str) -> dict:
        return self._rollouts.pause(op_id)

    def op_resume(self, op_id: str, progress: Progress = lambda m: None) -> dict:
        return self._rollouts.resume(op_id, progress)

    def op_rollback(self, op_id: str, progress: Progress = lambda m: None) -> dict:
        return self._rollouts.rollback_operation(op_id, progress)

    # -- jobs and triage ---------------------------------------------------------------------------------
    def jobs(self) -> list[Job]:
        return self._jobs.jobs()

    def attempts(
        self,
        *,
        failed: bool | None = None,
        job_id: str | None = None,
        since: str | None = None,
        limit: int | None = None,
    ) -> list[Attempt]:
        return self._jobs.attempts(failed=failed, job_id=job_id, since=since, limit=limit)

    def attempt(self, run_id: str) -> Attempt:
        return self._jobs.attempt(run_id)

    def attempt_log(self, run_id: str) -> str:
        return self._jobs.log(run_id)

    def attempt_record(self, a: Attempt) -> dict[str, Any]:
        return self._jobs.record(a)

    def attempt_records(self, **filters: Any) -> list[dict[str, Any]]:
        return self._jobs.records(**filters)

    def iter_attempt_records(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """`attempt_records`, read a page at a time."""
        return self._jobs.iter_records(**filters)

    def attempt_details(self, run_id: str) -> dict[str, Any]:
        return self._jobs.details(run_id)

    def classification(self, run_id: str) -> Classification | None:
        return self._jobs.classification(run_id)

    @property
    def rules_warning(self) -> str | None:
        return self._jobs.rules_warning

    def rules_file(self) -> str:
        return str(self._jobs.rules_file)

    def rules(self) -> list[Rule]:
        return self._jobs.rules()

    def classify_paths(self, paths: list[str], rules_file: str | None = None) -> list[dict[str, Any]]:
        return self._jobs.classify_paths(paths, rules_file)

    def check_rules(self, path: str) -> list[str]:
        return self._jobs.check_rules(path)

    def test_rules(self, rules_path: str, log_path: str) -> dict[str, Any]:
        return self._jobs.test_rules(rules_path, log_path)

    def signatures(self) -> list[dict[str, Any]]:
        return self._jobs.signatures()

    def draft_rule(self, signature: str, **kw: Any) -> Rule:
        return self._jobs.draft_rule(signature, **kw)

    def preview_rule(self, rule: Rule) -> dict[str, Any]:
        return self._jobs.preview_rule(rule)

    def add_rule(self, rule: Rule) -> None:
        self._jobs.add_rule(rule)

    # -- history and the recommender ----------------------------------------------------------------------
    def import_history(self, path: str, strict: bool = False) -> dict[str, Any]:
        return self._autofix.import_history(path, strict)

    def history_sources(self) -> list[dict[str, Any]]:
        return self._autofix.history_sources()

    def history(self, job_id: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        return self._autofix.history(job_id, limit)

    def train_recommender(self, history_path: str, seed: int = 0) -> dict[str, Any]:
        return self._autofix.train(history_path, seed)

    def recommend(self, path: str) -> list[dict[str, Any]]:
        return self._autofix.recommend(path)

    # -- the approval queue ---------------------------------------------------------------------------------
    def failures_to_queue(self) -> tuple[int, int]:
        return self._autofix.failures_to_queue()

    def autofix_queue(self, everything: bool = False) -> list[Suggestion]:
        return self._autofix.queue(everything)

    def autofix_reconcile(self) -> dict[str, Any]:
        return self._autofix.reconcile()

    def suggestion(self, key: int | str) -> Suggestion:
        return self._autofix.suggestion(key)

    def approve(self, key: int | str) -> Suggestion:
        return self._autofix.approve(key)

    def reject(self, key: int | str, reason: str) -> Suggestion:
        return self._autofix.reject(key, reason)

    def edit_suggestion(self, key: int | str, words: list[str]) -> Suggestion:
        return self._autofix.edit(key, words)

    def check_edit(self, key: int | str, words: list[str]) -> None:
        self._autofix.check_edit(key, words)

    # -- models -------------------------------------------------------------------------------------------
    def models(self, model: str | None = None) -> list[ModelVersion]:
        return self._models.models(model)

    def model_details(self, model: str, version: int) -> dict[str, Any]:
        return self._models.details(model, version)

    def model_show(self, model: str, ref: str) -> dict[str, Any]:
        return self._models.show(model, ref)

    def model_compare(self, model: str, a: str, b: str) -> dict[str, Any]:
        return self._models.compare(model, a, b)

    def model_validate(self, model: str, data_path: str | None = None) -> dict[str, Any]:
        return self._models.validate(model, data_path)

    def model_train(self, model: str, **kw: Any) -> dict[str, Any]:
        """kw: params, seed, data_path, progress(epoch, epochs, loss, eta_s), cancelled(), device."""
        return self._models.train(model, **kw)

    def model_train_recommender(self, days: int, seed: int = 0) -> dict[str, Any]:
        return self._models.train_recommender(days, seed)

    def model_evaluate(self, model: str, ref: str) -> dict[str, Any]:
        return self._models.evaluate(model, ref)

    def model_gate(
        self, model: str, ref: str, tolerance: float | None = None, package_dir: str | None = None
    ) -> dict[str, Any]:
        return self._models.gate(model, ref, tolerance, package_dir)

    def model_package(
        self, model: str, ref: str, out: str, image: str | None = None, namespace: str = "default"
    ) -> dict[str, Any]:
        return self._models.package(model, ref, out, image, namespace)

    def model_alias(
        self, model: str, alias: str, ref: str | None, force: bool = False, reason: str | None = None
    ) -> dict[str, Any]:
        return self._models.alias(model, alias, ref, force, reason)

    def start_model_job(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """model_train or model_compress in a worker process (console.model_jobs.ModelJob): the TUI's way."""
        from console.model_jobs import ModelJob

        self._w.require(
            {"model_train": "model-train", "model_compress": "model-compress", "model_retrain": "model-retrain"}[method]
        )
        return ModelJob(run_model_job, self._settings, method, *args, **kwargs)

    def trainable_models(self) -> list[str]:
        from core.lifecycle.nets import CATALOG

        return list(CATALOG)

    def model_compress(self, model: str, ref: str, **kw: Any) -> dict[str, Any]:
        """kw: prune, quantize, target_latency_ms."""
        return self._models.compress(model, ref, **kw)

    # -- audit ----------------------------------------------------------------------------------------------
    def audit_events(self, limit: int | None = None) -> list[AuditEvent]:
        return self._audit.events(limit)

    def iter_audit_events(self, limit: int | None = None) -> Iterator[AuditEvent]:
        """`audit_events`, read a page at a time."""
        return self._audit.iter_events(limit)

    def audit_count(self) -> int:
        return self._audit.count()

    def audit_show(self, key: str) -> list[AuditEvent]:
        return self._audit.show(key)

    def audit_verify(self, since: Verdict | None = None) -> Verdict:
        return self._audit.verify(since)

    def audit_rollback(self, key: str, force: bool = False) -> dict:
        return self._audit.rollback(key, force)

    def change_details(self, key: str) -> dict[str, Any]:
        return self._audit.change(key)

    # -- about --------------------------------------------------------------------------------------------
    def version_info(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {
            "mlops-console": __version__,
            "schema": self._w.store.schema_version,
            "python": platform.python_version(),
            "textual": version("textual"),
            "backend": self.backend_name,
            "home": str(self._settings.home),
            "read_only": self.read_only,
            "user": self.actor,
            "platform": sys.platform,
        }


def interrupt(signum: int, frame: Any) -> None:
    """A signal handler that stops a model job as Ctrl-C does: a training Job on a cluster is deleted,
    not left running unwatched."""
    raise KeyboardInterrupt


def run_model_job(settings: Settings, method: str, args: tuple, kwargs: dict, events: Any, cancel: Any) -> None:
    """A model job's worker process (console.model_jobs.ModelJob): an engine of its own on the same settings,
    the method called with progress and cancel wired to the parent's queue and flag."""
    import signal

    from console.model_jobs import Event
    from core.errors import ConsoleError

    signal.signal(signal.SIGTERM, interrupt)  # the TUI's second esc or its exit
    signal.signal(signal.SIGHUP, interrupt)  # the SSH session gone
    try:
        engine = Engine(settings)
        try:
            if method in ("model_train", "model_retrain"):
                kwargs = {
                    **kwargs,
                    "progress": lambda e, n, loss, eta: events.put(Event("progress", e, n, loss, eta)),
                    "cancelled": cancel.is_set,
                    "note": lambda text: events.put(Event("note", message=text)),
                }
            result = getattr(engine, method)(*args, **kwargs)
        finally:
            engine.close()
        events.put(Event("done", result=result))
    except ConsoleError as e:
        events.put(Event("error", message=str(e)))
    except Exception as e:  # the parent shows it and stays up; the child has nothing else to do with it
        events.put(Event("error", message=f"{type(e).__name__}: {e}"))
