"""The cluster's job attempts and their triage: classification by the ordered rule set, unclassified
signatures, and new rules drawn from them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.services.wiring import Wiring
from core.cluster import PAGE_SIZE
from core.errors import BadInput
from core.types import Attempt, Job

if TYPE_CHECKING:
    from autofix.classify import Classification
    from autofix.rules import Rule


class JobService:
    def __init__(self, w: Wiring):
        self.w = w

    # -- the cluster's attempts ----------------------------------------------------------------------
    def jobs(self) -> list[Job]:
        return self.w.cluster.list_jobs()

    def attempts(
        self,
        *,
        failed: bool | None = None,
        job_id: str | None = None,
        since: str | None = None,
        limit: int | None = None,
    ) -> list[Attempt]:
        return self.w.cluster.list_attempts(failed=failed, job_id=job_id, since=since, limit=limit)

    def attempt(self, run_id: str) -> Attempt:
        return self.w.cluster.get_attempt(run_id)

    def log(self, run_id: str) -> str:
        return self.w.cluster.attempt_log(run_id)

    def classification(self, run_id: str) -> Classification | None:
        return self.w.triage.classification(run_id)

    def record(self, a: Attempt, c: Classification | None = None) -> dict[str, Any]:
        """An attempt as a history record, with its triage (category, rule_id, action, evidence) when failed."""
        rec = a.to_record()
        if a.status == "failed":
            _with_triage(rec, c or self.w.triage.classification(a.run_id))
        return rec

    def records(self, **filters: Any) -> list[dict[str, Any]]:
        return list(self.iter_records(**filters))

    def iter_records(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """`records`, a page at a time: each page of records read from the cluster, its failures'
        classifications from the store (those it lacks classified then), the page yielded."""
        records = self.w.cluster.iter_attempt_records(**filters, page_size=PAGE_SIZE)
        while page := list(islice(records, PAGE_SIZE)):
            failed = [r["run_id"] for r in page if r["status"] == "failed"]
            if failed:
                classes = self.w.triage.classifications_of(failed)
                for r in page:
                    if r["status"] == "failed":
                        _with_triage(r, classes.get(r["run_id"]))
            yield from page

    def details(self, run_id: str) -> dict[str, Any]:
        a = self.attempt(run_id)
        rec = self.record(a)
        if a.status == "failed":
            c = self.w.triage.classification(run_id)
            rec["triage"] = c.to_dict() if c else None
            rec["events"] = self.w.cluster.attempt_events(run_id)
        return rec

    # -- rules ---------------------------------------------------------------------------------------
    @property
    def rules_warning(self) -> str | None:
        _ = self.w.triage.classifier  # (re)loads the rule set, which sets the warning
        return self.w.triage.warning

    @property
    def rules_file(self) -> Path:
        return self.w.settings.rules_file

    def rules(self) -> list[Rule]:
        return self.w.triage.ruleset.rules

    def classify_paths(self, paths: list[str], rules_file: str | None = None) -> list[dict[str, Any]]:
        """Classify log files (`-` is stdin) with the active rules, or with FILE in place of the user's."""
        from autofix.classify import Classifier
        from autofix.rules import load_ruleset

        clf = Classifier(load_ruleset(Path(rules_file))) if rules_file else self.w.triage.classifier
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
            out.append(
                {
                    "path": path,
                    "category": c.category,
                    "rule_id": c.rule_id,
                    "action": c.action,
                    "evidence": c.evidence,
                    "fields": c.fields,
                    "evidence_line": c.evidence_line,
                    "context": c.context,
                }
            )
        return out

    def check_rules(self, path: str) -> list[str]:
        from autofix.classify import check_rule_file

        return check_rule_file(Path(path))

    def test_rules(self, rules_path: str, log_path: str) -> dict[str, Any]:
        """Which rule of FILE wins on LOG, and every rule of FILE that matches it."""
        from autofix.classify import Classifier, rule_matches
        from autofix.rules import RuleSet, load_file

        rs = RuleSet(load_file(Path(rules_path)), [rules_path])
        try:
            text = (
                Path(log_path).read_bytes().decode("utf-8", "replace")
                if log_path != "-"
                else sys.stdin.buffer.read().decode("utf-8", "replace")
            )
        except OSError as e:
            raise BadInput(f"{log_path}: cannot read: {e.strerror}") from None
        c = Classifier(rs).classify_text(text)
        result = c.to_dict()
        result["matching_rules"] = [r.id for r in rs.rules if rule_matches(r, text)]
        return result

    def signatures(self) -> list[dict[str, Any]]:
        return self.w.triage.signatures()

    def draft_rule(self, signature: str, **kw: Any) -> Rule:
        return self.w.triage.draft_rule(signature, **kw)

    def preview_rule(self, rule: Rule) -> dict[str, Any]:
        return self.w.triage.preview(rule)

    def add_rule(self, rule: Rule) -> None:
        self.w.triage.add_rule(rule, self.w.require("rule-add"))


def _with_triage(rec: dict[str, Any], c: Classification | None) -> None:
    if c is not None:
        rec.update(
            category=c.category,
            rule_id=c.rule_id,
            action=c.action,
            evidence=c.evidence,
            # sorted: a classification read back from the store has its keys sorted, one made now has
            # them in the rule's order; a listing must not depend on which it met
            fields=dict(sorted(c.fields.items())),
        )
