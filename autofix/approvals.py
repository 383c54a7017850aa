"""From failed attempts to decided retries: fill the approval queue with the recommender's suggestions,
apply what the policy allows, and carry out a person's approve / edit / reject — every retry submitted to
the backend through the one audit path, every outcome kept (it is the next training set's history)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from autofix.queue import (
    APPROVED,
    AUTO_APPLIED,
    PENDING,
    REJECTED,
    RETRIED,
    Queue,
    Suggestion,
    parse_edit,
    policy_match,
)
from core import clock
from core.errors import BadInput, Conflict
from core.taxonomy import UNCLASSIFIED
from core.types import Attempt, probability_rounded, probability_text, run_of, to_dict

if TYPE_CHECKING:
    from autofix.classify import Classification
    from autofix.service import Recommender
    from autofix.triage import Triage
    from core.changes import Changes
    from core.cluster import Cluster

MODEL_CATEGORIES = ("memory_exceeded", UNCLASSIFIED)  # what the recommender's history teaches it about


def needs_model(a: Attempt, c: Classification) -> bool:
    """Whether the recommender decides this failure (a Spark memory or unclassified one): without a trained
    model it waits."""
    return a.kind == "spark" and c.category in MODEL_CATEGORIES


def attempts_of(cluster: Cluster, job_id: str, run: str) -> list[Attempt]:
    return sorted(
        (a for a in cluster.list_attempts(job_id=job_id) if run_of(a.run_id, a.attempt) == run), key=lambda a: a.attempt
    )


def run_snapshot(cluster: Cluster, run: str, job_id: str | None) -> dict[str, Any]:
    """The object a retry changes — the run's attempts (the audit record's namespace carries the job).
    Registered with no restore: a submitted retry is not undone by writing the old state back."""
    return {
        "run": run,
        "attempts": [
            {"run_id": a.run_id, "attempt": a.attempt, "conf": a.conf} for a in attempts_of(cluster, job_id or "", run)
        ],
    }


class Approvals:
    def __init__(
        self,
        queue: Queue,
        cluster: Cluster,
        changes: Changes,
        triage: Triage,
        recommender: Recommender,
        policies: list[dict[str, Any]],
        candidates: Callable[[], list[Attempt]],
        past: Callable[[list[str]], list[dict[str, Any]]],
    ):
        """`candidates`: the failures a retry may be queued for; `past(job_ids)`: those jobs' history
        records (the cluster's attempts and imported history), what the recommender learns each job from."""
        self.queue, self.cluster, self.changes, self.triage = queue, cluster, changes, triage
        self.recommender, self.policies, self.candidates, self.past = recommender, policies, candidates, past

    def _attempts_of(self, job_id: str, run: str) -> list[Attempt]:
        return attempts_of(self.cluster, job_id, run)

    # -- filling the queue ----------------------------------------------------------------------------
    def unqueued(self) -> list[tuple[Attempt, Any]]:
        """(attempt, classification) of the failures with tries left that the next look at the queue will
        queue: not queued yet, and not of a category the taxonomy says no retry fixes (an unclassified
        one is queued, for a person to judge)."""
        known = self.queue.known_runs()
        classes = self.triage.classifications()
        out = []
        for a in sorted(
            (a for a in self.candidates() if a.run_id not in known), key=lambda a: (a.submitted_at, a.run_id)
        ):
            c = classes.get(a.run_id) or self.triage.classification(a.run_id)
            if c is not None and (c.action != "no_retry" or c.category == UNCLASSIFIED):
                out.append((a, c))
        return out

    def refresh(self, actor: str | None) -> dict[str, Any]:
        """Record the outcomes of finished retries; queue a suggestion for each new failure a retry may fix;
        apply the policy to the new ones when `actor` (an operator) is refreshing. Returns what happened."""
        report: dict[str, Any] = {"queued": 0, "waiting_for_model": 0, "auto_applied": [], "outcomes": 0}
        report["outcomes"] = self.record_outcomes()
        fresh = self.unqueued()
        self.mark_retried_elsewhere()
        if not fresh:
            return report
        rows, by_model = [], []
        for a, c in fresh:
            row = {
                "run_id": a.run_id,
                "attempt": a.attempt,
                "job_id": a.job_id,
                "category": c.category,
                "rule_id": c.rule_id,
                "evidence": c.evidence,
                "action": c.action,
                "conf_before": a.conf,
                "conf": {},
            }
            if needs_model(a, c):
                by_model.append((a, row))
            elif c.action in ("retry", "retry_later"):
                rows.append(row)
            elif c.action == "retry_with_conf":
                rows.append(
                    {
                        **row,
                        "note": f"the recommender learns Spark memory configs only: edit the retry's "
                        f"config for this {a.kind} {c.category} failure before approving",
                    }
                )
            elif c.category == UNCLASSIFIED:
                rows.append(
                    {
                        **row,
                        "action": "retry",
                        "note": f"unclassified {a.kind} failure: the recommender "
                        "cannot judge it; a plain retry may be doomed",
                    }
                )
        if by_model:
            try:
                _, mv = self.recommender.load()
            except BadInput:
                report["waiting_for_model"] = len(by_model)
            else:
                rows += self._suggest(by_model, f"{mv.model}:{mv.version}")
        added = self.queue.add(rows)
        report["queued"] = len(added)
        if actor:
            for s in added:
                p = policy_match(s, self.policies)
                if p is not None:
                    self.approve(s.id, f"policy:{p['name']}", policy=p, on_behalf_of=actor)
                    report["auto_applied"].append({"id": s.id, "run_id": s.run_id, "policy": p["name"]})
        return report

    def _suggest(self, pairs: list[tuple[Attempt, dict[str, Any]]], model: str) -> list[dict[str, Any]]:
        jobs = {a.job_id for a, _ in pairs}
        history = self.past(sorted(jobs))
        records = [to_dict(a) for a, _ in pairs]
        cats = {a.run_id: (row["category"], row["rule_id"]) for a, row in pairs}
        decisions = self.recommender.recommend(records, lambda r: cats[r["run_id"]], history)
        rows = []
        for (a, row), d in zip(pairs, decisions, strict=True):
            row.update(
                action=d.action,
                conf=d.conf,
                p_success=d.p_success,
                expected_cost=d.expected_cost,
                alternatives=d.alternatives,
                model=model,
            )
            if d.note:
                row["note"] = d.note
            if d.action == "no_retry":
                # doomed: shown, not dropped — a person sees the advice and what was tried, and may still
                # retry with a config of their own (edit) or close it (reject)
                row["note"] = (
                    f"the recommender advises no retry (P(success) {probability_text(d.p_success or 0)} at best): a "
                    "retry would likely fail and cost a run; edit it to retry with a config of your "
                    "own, or reject it"
                )
            if d.action == "retry_with_conf":
                row["base_cost"] = round(self.recommender.score(to_dict(a), [a.conf], history)[0][1], 4)
            rows.append(row)
        return rows

    def record_outcomes(self) -> int:
        """Retries that have finished: their outcome goes on the suggestion."""
        n = 0
        for s in self.queue.awaiting_outcome():
            try:
                assert s.retry_run_id is not None  # awaiting_outcome: the retried ones
                a = self.cluster.get_attempt(s.retry_run_id)
            except Exception:  # the backend lost it: leave it for the next look
                continue
            if a.status in ("succeeded", "failed"):
                self.queue.update(s.id, outcome=a.status)
                n += 1
        return n

    def mark_retried_elsewhere(self) -> None:
        """A pending suggestion whose run has been retried by other means (by hand, by a process killed
        between the submission and the queue's update) is settled, linked to that attempt."""
        for s in self.queue.list(PENDING):
            attempts = self._attempts_of(s.job_id, s.run)
            mine = next((a.attempt for a in attempts if a.run_id == s.run_id), None)
            later = [a for a in attempts if mine is not None and a.attempt > mine]
            if later:
                last = max(later, key=lambda a: a.attempt)
                # only if still pending: an approval that went through meanwhile (its retry is the later
                # attempt seen here) is not relabelled as retried by other means
                self.queue.update(
                    s.id, if_status=PENDING, status=RETRIED, retry_run_id=last.run_id, decided_at=last.submitted_at
                )

    # -- decisions ------------------------------------------------------------------------------------
    def approve(
        self, key: int | str, user: str, policy: dict[str, Any] | None = None, on_behalf_of: str | None = None
    ) -> Suggestion:
        s = self.queue.pending(key)
        why = s.not_approvable
        if why:
            own = " to retry with a config of your own," if s.action == "no_retry" else ""
            raise BadInput(f"suggestion {s.id}: {why}; edit it (autofix edit {s.id} KEY=VALUE){own} or reject it")
        conf = s.retry_conf
        later = [a for a in self._attempts_of(s.job_id, s.run) if a.attempt > s.attempt]
        if later:  # retried since the suggestion was made (by hand, or by another console)
            self.mark_retried_elsewhere()
            raise Conflict(
                f"suggestion {s.id}: run {s.run} was already retried as {later[-1].run_id}; nothing submitted"
            )

        def submit() -> Attempt:
            a = self.cluster.submit_retry(s.run_id, conf)
            self.queue.update(
                s.id,
                status=AUTO_APPLIED if policy else APPROVED,
                decided_by=user,
                decided_at=clock.iso(clock.now()),
                retry_run_id=a.run_id,
            )
            return a

        notes = {
            "suggestion": s.id,
            "failed_run": s.run_id,
            "category": s.category,
            "action": s.action,
            "conf_changed": s.conf,
            "p_success": s.p_success,
            "expected_cost": s.expected_cost,
            "model": s.model,
        }
        if policy:
            notes.update(policy=policy["name"], on_behalf_of=on_behalf_of)
        self.changes.apply(
            verb="retry", user=user, resource="run", name=s.run, namespace=s.job_id, change=submit, annotations=notes
        )
        return self.queue.get(s.id)

    def reject(self, key: int | str, user: str, reason: str) -> Suggestion:
        reason = (reason or "").strip()
        if not reason:
            raise BadInput("a rejection needs a reason: it is kept with the decision")
        s = self.queue.pending(key)
        self.changes.audit.change(
            verb="reject",
            user=user,
            object_ref={"resource": "suggestion", "name": str(s.id)},
            before={"status": PENDING, "conf": s.conf},
            after={"status": REJECTED, "reason": reason},
            apply=lambda: self.queue.update(
                s.id, status=REJECTED, decided_by=user, reason=reason, decided_at=clock.iso(clock.now())
            ),
            annotations={"failed_run": s.run_id, "category": s.category},
        )
        return self.queue.get(s.id)

    def check_edit(self, key: int | str, words: list[str]) -> None:
        """What edit would refuse, refused before anything is written (the TUI keeps its dialog open)."""
        self._checked_edit(self.queue.pending(key), words)

    def _checked_edit(self, s: Suggestion, words: list[str]) -> tuple[dict[str, str], list[str]]:
        """An edit's syntax, sizes and counts (queue.parse_edit), and its keys against the job's kind: a
        Spark key set on a PyTorch or Python job is a slip — that job never reads it, so the retry would run
        unchanged while the queue shows a fix."""
        where = f"edit of suggestion {s.id}"
        sets, removes = parse_edit(words, where)
        kind = self.cluster.get_attempt(s.run_id).kind
        foreign = sorted(k for k in sets if k.startswith("spark.")) if kind != "spark" else []
        if foreign:
            raise BadInput(f"{where}: {foreign[0]} is a Spark setting, and {s.run_id} is a {kind} job")
        return sets, removes

    def edit(self, key: int | str, user: str, words: list[str]) -> Suggestion:
        """Change the retry's config (`key=value`, `key-` to drop a key): re-scored, still pending."""
        s = self.queue.pending(key)
        sets, removes = self._checked_edit(s, words)
        conf = {**s.retry_conf, **sets}
        for k in removes:
            conf.pop(k, None)
        changed: dict[str, str | None] = {k: v for k, v in conf.items() if s.conf_before.get(k) != v}
        changed.update({k: None for k in s.conf_before if k not in conf})  # None: back to Spark's default
        p = cost = None
        if s.model:
            try:
                failed = to_dict(self.cluster.get_attempt(s.run_id))
                history = self.past([s.job_id])
                p, cost = self.recommender.score(failed, [conf], history)[0]
                p, cost = probability_rounded(p), round(cost, 4)
            except BadInput:  # the model is gone: the edit stands, unscored
                pass
        action = "retry_with_conf" if changed else ("retry" if s.action == "retry_with_conf" else s.action)
        note = s.note
        if s.not_approvable or s.edited_by:  # the note asked for this edit (or told of the last): now stale
            note = f"edited by {user}"
            if s.action == "no_retry":
                note += f"; the recommender had advised no retry (P(success) {probability_text(s.p_success or 0)})"
            if p is None:
                note += (
                    "; not scored: the recommender learns Spark memory configs only"
                    if not s.model
                    else "; not scored: the recommender's model is gone"
                )
        self.changes.audit.change(
            verb="edit",
            user=user,
            object_ref={"resource": "suggestion", "name": str(s.id)},
            before={"conf": s.conf, "p_success": s.p_success, "expected_cost": s.expected_cost},
            after={"conf": changed, "p_success": p, "expected_cost": cost},
            apply=lambda: self.queue.update(
                s.id, conf=changed, p_success=p, expected_cost=cost, edited_by=user, action=action, note=note
            ),
            annotations={"failed_run": s.run_id},
        )
        return self.queue.get(s.id)

    def outcome_records(self) -> list[dict[str, Any]]:
        """The failed attempts and their approved retries, as history records: training data."""
        out = []
        for s in self.queue.list():
            if s.outcome and s.retry_run_id:
                for run_id in (s.run_id, s.retry_run_id):
                    out.append(to_dict(self.cluster.get_attempt(run_id)))
        return out
