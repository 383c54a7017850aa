"""What the services share: settings, the console's store, the one audit path, the backend, and the
pieces built on them — each built on first use, since the TUI's first frame needs none of them."""

from __future__ import annotations

import os
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from console.services import roles
from console.settings import Settings
from core import clock
from core.audit import AuditLog
from core.cluster import Cluster
from core.errors import Forbidden
from core.registry import Registry
from core.store import Store
from core.types import Attempt, run_of, to_dict

if TYPE_CHECKING:
    from autofix.approvals import Approvals
    from autofix.service import Recommender
    from autofix.triage import Triage
    from console.services.metrics import MetricsService
    from core.changes import Changes
    from core.operations import Operations
    from core.rollouts import Rollouts


class Wiring:
    def __init__(self, settings: Settings, store: Store, audit: AuditLog, cluster: Cluster):
        self.settings, self.store, self.audit, self.cluster = settings, store, audit, cluster
        self.registry = Registry(store, audit)
        if settings.webhook_url:
            from console.services.webhook import Webhook

            audit.listeners.append(Webhook(settings.webhook_url, settings.monitoring_timeout_seconds))

    # -- who may do what ----------------------------------------------------------------------------
    @property
    def read_only(self) -> bool:
        return self.settings.read_only

    @property
    def role(self) -> str:
        return self.settings.role

    def rules_stamp(self) -> tuple[int, ...]:
        try:
            st = os.stat(self.settings.rules_file)
        except OSError:
            return ()
        return (st.st_size, st.st_mtime_ns)

    def data_generation(self) -> tuple[Any, ...]:
        return (self.cluster.generation(), self.store.generation(), self.rules_stamp())

    def can(self, action: str) -> bool:
        return not self.read_only and roles.allows(self.role, action)

    def require(self, action: str) -> str:
        """Refuse (exit 3) unless the operator may do `action` (roles.ACTIONS); the actor for the audit record."""
        what = roles.WHAT[action]
        if self.read_only:
            raise Forbidden(f"read-only: {what} is not allowed (run without --read-only)")
        if not roles.allows(self.role, action):
            raise Forbidden(f"{what} needs the {roles.ACTIONS[action]} role; {self.settings.actor} is {self.role}")
        return self.settings.actor

    # -- the pieces ---------------------------------------------------------------------------------
    @cached_property
    def triage(self) -> Triage:
        from autofix.triage import Triage

        s = self.settings
        return Triage(
            self.store,
            self.cluster,
            self.audit,
            s.rules_file,
            s.log_tail_lines,
            s.log_tail_bytes,
            read_only=s.read_only,
        )

    @cached_property
    def recommender(self) -> Recommender:
        from autofix.service import Recommender

        s = self.settings

        # the console's rules, the user's first; a run's reading is kept while the rules stay the same: every
        # reconcile asks again of the same history
        seen: dict[tuple[str, str], str] = {}

        def component_of(record: dict[str, Any]) -> str:
            from autofix.components import classifier_components

            classifier = self.triage.classifier
            key = (classifier.digest, str(record.get("run_id")))
            if key not in seen or not record.get("run_id"):
                if len(seen) > 100_000:
                    seen.clear()
                seen[key] = classifier_components(classifier)(record)
            return seen[key]

        return Recommender(
            self.registry, s.home / "artifacts", s.autofix_lambda, s.autofix_penalty, component_of=component_of
        )

    @cached_property
    def changes(self) -> Changes:
        from autofix.approvals import run_snapshot
        from core.changes import Changes

        changes = Changes(self.cluster, self.audit)
        changes.register("rule", self.triage.rule_snapshot, self.triage.rule_restore)
        changes.register("run", lambda run, job: run_snapshot(self.cluster, run, job), None)
        changes.register("model-alias", self.registry.alias_snapshot, self.registry.alias_restore)
        return changes

    @cached_property
    def ops(self) -> Operations:
        from core.operations import Operations

        return Operations(self.store, self.changes)

    @cached_property
    def rollouts(self) -> Rollouts:
        from core.rollouts import Rollouts

        return Rollouts(self.ops, self.registry, self.metrics.deployment_metrics)

    @cached_property
    def metrics(self) -> MetricsService:
        from console.services.metrics import MetricsService

        return MetricsService(self)

    @cached_property
    def approvals(self) -> Approvals:
        from autofix.approvals import Approvals
        from autofix.queue import Queue

        return Approvals(
            Queue(self.store),
            self.cluster,
            self.changes,
            self.triage,
            self.recommender,
            self.settings.autofix_policy,
            self.retry_candidates,
            self.past_of,
        )

    # -- what the queue and the recommender read ----------------------------------------------------
    def retry_candidates(self, hours: int = 24, max_attempts: int = 3) -> list[Attempt]:
        """The latest attempt of each run of the last `hours`, when it failed and the run has tries left."""
        since = clock.iso(clock.now() - timedelta(hours=hours))
        latest: dict[str, Attempt] = {}
        for a in self.cluster.list_attempts(since=since):
            run = run_of(a.run_id, a.attempt)
            if run not in latest or a.attempt > latest[run].attempt:
                latest[run] = a
        return sorted(
            (a for a in latest.values() if a.status == "failed" and a.attempt < max_attempts),
            key=lambda a: (a.submitted_at, a.run_id),
            reverse=True,
        )

    def past_of(self, jobs: list[str]) -> list[dict[str, Any]]:
        """The jobs' history records: the cluster's attempts, and the imported history the cluster does
        not hold (a run the cluster knows is taken from the cluster)."""
        from autofix import history

        past = {a.run_id: to_dict(a) for job in jobs for a in self.cluster.list_attempts(job_id=job)}
        for rec in history.records(self.store, jobs):
            past.setdefault(rec["run_id"], rec)
        return list(past.values())
