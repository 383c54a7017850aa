"""Auto-remediation: imported history (training data), the retry recommender, and the approval queue.

Looking at the queue never writes: `reconcile` is the one step that records finished retries' outcomes,
queues suggestions for new failures and applies the configured policies."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.services.wiring import Wiring
from core import clock
from core.errors import BadInput

if TYPE_CHECKING:
    from autofix.queue import Suggestion


def read_records(path: str, failed_only: bool = False) -> list[dict[str, Any]]:
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


class AutofixService:
    def __init__(self, w: Wiring):
        self.w = w

    # -- imported history ----------------------------------------------------------------------------
    def import_history(self, path: str, strict: bool = False) -> dict[str, Any]:
        """Keep history records (JSONL) as training data. Every line is checked first; with `strict` the
        first bad line stops it and nothing is written. Records replace earlier ones of the same job and run_id.
        The cluster's jobs are not touched: imported records never show as live attempts."""
        from autofix import history

        user = self.w.require("history-import")
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
                    rows.append(row)
        except FileNotFoundError:
            raise BadInput(f"{p}: no such file") from None
        except IsADirectoryError:
            raise BadInput(f"{p}: is a directory") from None
        if rows:

            def write() -> None:
                report.replaced = history.keep(self.w.store, rows, f"import:{p.name}", clock.iso(clock.now()))

            # named by the file's name, as kubectl names an object (resource/name); the path goes in the
            # annotations
            self.w.audit.change(
                verb="import",
                user=user,
                object_ref={"resource": "history", "name": p.name},
                before=None,
                apply=write,
                local=True,
                after=lambda: {"records": len(rows), "replaced": report.replaced, "skipped": len(report.errors)},
                annotations={"path": str(p.resolve())},
            )
        report.imported = len(rows)
        return report.to_dict()

    def history_sources(self) -> list[dict[str, Any]]:
        from autofix import history

        return history.sources(self.w.store)

    def history(self, job_id: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        from autofix import history

        return history.records(self.w.store, [job_id] if job_id else None, limit)

    # -- the recommender -----------------------------------------------------------------------------
    def classify_record(self, r: dict[str, Any]) -> tuple[str, str | None]:
        from autofix.collect import record_document

        c = self.w.triage.classifier.classify_text(record_document(r))
        return c.category, c.rule_id

    def train(self, history_path: str, seed: int = 0) -> dict[str, Any]:
        """Import the history (audited), train both model families on it, register the chosen one (its
        registration and audit record one transaction)."""
        user = self.w.require("recommender-train")
        self.import_history(history_path, strict=True)
        records = {r["run_id"]: r for r in read_records(history_path)}
        # what approved retries came to is history too: the next model learns from its own outcomes
        outcomes = {r["run_id"]: r for r in self.w.approvals.outcome_records() if r["run_id"] not in records}
        result = self.w.recommender.train(
            [*records.values(), *outcomes.values()],
            user,
            seed=seed,
            annotations={"history": Path(history_path).name, "outcome_records": len(outcomes)},
        )
        result["metrics"]["outcome_records"] = len(outcomes)
        return result

    def recommend(self, path: str) -> list[dict[str, Any]]:
        records = read_records(path, failed_only=True)
        if not records:
            return []
        # the past of the jobs asked about: the cluster's attempts and the imported history (the
        # recommender reads their configs, inputs, outcomes and logs; their triage it does not need)
        decisions = self.w.recommender.recommend(
            records, self.classify_record, self.w.past_of(sorted({r["job_id"] for r in records}))
        )
        return [d.to_dict() for d in decisions]

    # -- the approval queue ----------------------------------------------------------------------------
    def failures_to_queue(self) -> tuple[int, int]:
        """(how many failures the next reconcile will queue, how many of them wait for a trained
        recommender): none wait once one is registered (a cheap look at the registry; no model is loaded)."""
        from autofix.approvals import needs_model
        from autofix.model import MODEL

        unqueued = self.w.approvals.unqueued()
        if self.w.registry.production(MODEL) is not None:
            return len(unqueued), 0
        return len(unqueued), sum(needs_model(a, c) for a, c in unqueued)

    def queue(self, everything: bool = False) -> list[Suggestion]:
        """The suggestions waiting for a decision (all of them with `everything`). Reads only."""
        return self.w.approvals.queue.list(None if everything else "pending")

    def reconcile(self) -> dict[str, Any]:
        """Record the outcomes of finished retries, queue a suggestion for each new failure a retry may
        fix, and apply the policies (as the operator who runs it)."""
        return self.w.approvals.refresh(self.w.require("autofix-reconcile"))

    def suggestion(self, key: int | str) -> Suggestion:
        return self.w.approvals.queue.get(key)

    def approve(self, key: int | str) -> Suggestion:
        return self.w.approvals.approve(key, self.w.require("approve"))

    def reject(self, key: int | str, reason: str) -> Suggestion:
        return self.w.approvals.reject(key, self.w.require("reject"), reason)

    def edit(self, key: int | str, words: list[str]) -> Suggestion:
        return self.w.approvals.edit(key, self.w.require("edit"), words)

    def check_edit(self, key: int | str, words: list[str]) -> None:
        """What an edit would refuse, checked before anything is written (raises BadInput)."""
        self.w.approvals.check_edit(key, words)
