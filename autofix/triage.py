"""Triage of failed attempts: classify them with the active rule set (cached in the store with the rule
set's hash), group the unclassified by signature, and turn a signature into a user rule."""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from autofix import collect
from autofix.classify import Classification, Classifier, rule_matches
from autofix.rules import BUILTIN_RULES, Rule, RuleError, RuleSet, load_ruleset, parse_rules, rule_to_toml
from autofix.signatures import regex_for, signature, telling_line
from core.audit import AuditLog
from core.cluster import Cluster
from core.errors import BadInput, NotFound
from core.store import Store
from core.taxonomy import CATEGORIES, UNCLASSIFIED
from core.types import Attempt

LAST_GOOD_KEY = "rules.user.last_good"


class Triage:
    def __init__(
        self,
        store: Store,
        cluster: Cluster,
        audit: AuditLog,
        user_rules: Path,
        tail_lines: int = collect.DEFAULT_TAIL_LINES,
        tail_bytes: int = collect.DEFAULT_TAIL_BYTES,
        read_only: bool = False,
    ):
        self.store, self.cluster, self.audit = store, cluster, audit
        self.read_only = read_only
        self.user_rules = Path(user_rules)
        self.tail_lines, self.tail_bytes = tail_lines, tail_bytes
        self.warning: str | None = None
        self._lock = threading.RLock()
        self._ruleset: RuleSet | None = None
        self._classifier: Classifier | None = None
        self._mtime: float | None = None

    # -- the active rule set ---------------------------------------------------------------------
    @property
    def ruleset(self) -> RuleSet:
        return self.classifier.ruleset

    @property
    def classifier(self) -> Classifier:
        """Reloaded when the user's rule file changes; a broken file keeps the last good set in use."""
        with self._lock:
            mtime = self.user_rules.stat().st_mtime if self.user_rules.exists() else None
            if self._classifier is None or mtime != self._mtime:
                self._ruleset = self._load()
                self._classifier = Classifier(self._ruleset)
                self._mtime = mtime
            return self._classifier

    def _load(self) -> RuleSet:
        try:
            rs = load_ruleset(self.user_rules)
            self.warning = None
            if self.user_rules.exists() and not self.read_only:
                self.store.set_meta(LAST_GOOD_KEY, self.user_rules.read_text(encoding="utf-8"))
            return rs
        except RuleError as e:
            good = self.store.get_meta(LAST_GOOD_KEY)
            builtin = load_ruleset(None)
            if good is not None:
                user = parse_rules(good, f"{self.user_rules} (last good copy)")
                self.warning = f"{e} — using the last good rule set"
                return RuleSet(user + builtin.rules, [f"{self.user_rules} (last good copy)", str(BUILTIN_RULES)])
            self.warning = f"{e} — using the built-in rules only"
            return builtin

    # -- classifying ------------------------------------------------------------------------------
    def document(self, a: Attempt) -> str:
        return collect.collect(self.cluster, a, self.tail_lines, self.tail_bytes)

    def classify_pending(self) -> int:
        """Classify failed attempts never classified, or classified by another rule set, and keep the result
        (a cache, not a change: it is rebuilt whenever the rules change). Read-only: nothing is written,
        `classifications` computes what is missing in memory instead. Returns how many were classified."""
        if self.read_only:
            return 0
        clf = self.classifier
        todo = self._unclassified(clf.digest)
        if not todo:
            return 0
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        out = []
        for a in todo:
            c = clf.classify_text(self.document(a))
            out.append({"run_id": a.run_id, **_row(c), "classified_at": now})
        with self.store.transaction():
            self.store.upsert_all("classifications", out, pk="run_id")
        return len(out)

    def _unclassified(self, digest: str) -> list[Attempt]:
        """The cluster's failed attempts with no classification by the rule set `digest` in the store."""
        done = {
            r[0] for r in self.store.conn.execute("SELECT run_id FROM classifications WHERE ruleset = ?", (digest,))
        }
        return [a for a in self.cluster.list_attempts(failed=True) if a.run_id not in done]

    def classification(self, run_id: str) -> Classification | None:
        self.classify_pending()
        row = self.store.one(
            "SELECT * FROM classifications WHERE run_id = ? AND ruleset = ?", (run_id, self.classifier.digest)
        )
        if row:
            return _from_row(row, self.classifier.ruleset)
        a = self.cluster.get_attempt(run_id)
        return self.classifier.classify_text(self.document(a)) if a.status == "failed" else None

    def classifications(self) -> dict[str, Classification]:
        self.classify_pending()
        digest = self.classifier.digest
        out = {
            r["run_id"]: _from_row(r, self.classifier.ruleset)
            for r in self.store.query("SELECT * FROM classifications WHERE ruleset = ?", (digest,))
        }
        if self.read_only:  # what the cache lacks, computed and not kept
            for a in self._unclassified(digest):
                out[a.run_id] = self.classifier.classify_text(self.document(a))
        return out

    def classifications_of(self, run_ids: list[str]) -> dict[str, Classification]:
        """The classifications of these failed attempts (a page of a listing's): read from the store, and
        the ones it lacks classified now (and kept, unless read-only) — what `classifications` would say
        of them, without reading every failure of the cluster first."""
        if not run_ids:
            return {}
        digest = self.classifier.digest
        out: dict[str, Classification] = {}
        for part in range(0, len(run_ids), 500):  # SQLite's limit on parameters is 999 on older builds
            ids = run_ids[part : part + 500]
            marks = ",".join("?" * len(ids))
            # plain rows, not query's decoded dicts: a listing reads ~10,000 of these per 100,000 attempts
            sql = f"SELECT {_CLASS_COLUMNS} FROM classifications WHERE ruleset = ? AND run_id IN ({marks})"
            for page in self.store.pages(sql, (digest, *ids), 500):
                for run_id, category, rule_id, action, evidence, line, context, fields in page:
                    out[run_id] = Classification(
                        category=category,
                        rule_id=rule_id,
                        action=action,
                        evidence=evidence,
                        evidence_line=line,
                        context=json.loads(context) if context else [],
                        fields=json.loads(fields) if fields else {},
                        ruleset=digest,
                    )
        todo = [run_id for run_id in run_ids if run_id not in out]
        if todo:  # a new estate's first look, or new failures: the attempts read one by one
            clf = self.classifier
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            rows = []
            for run_id in todo:
                c = out[run_id] = clf.classify_text(self.document(self.cluster.get_attempt(run_id)))
                rows.append({"run_id": run_id, **_row(c), "classified_at": now})
            if not self.read_only:
                with self.store.transaction():
                    self.store.upsert_all("classifications", rows, pk="run_id")
        return out

    # -- signatures and new rules ---------------------------------------------------------------------
    def signatures(self) -> list[dict[str, Any]]:
        groups: dict[str, list[Attempt]] = defaultdict(list)
        for run_id, c in self.classifications().items():
            if c.category == UNCLASSIFIED:
                a = self.cluster.get_attempt(run_id)
                groups[signature(self.document(a))].append(a)
        out = []
        for sig, attempts in groups.items():
            attempts.sort(key=lambda a: a.submitted_at, reverse=True)
            out.append(
                {
                    "signature": sig,
                    "count": len(attempts),
                    "jobs": sorted({a.job_id for a in attempts}),
                    "last_seen": attempts[0].submitted_at,
                    "run_ids": [a.run_id for a in attempts],
                    "example": telling_line(self.document(attempts[0])),
                    "regex": regex_for(sig),
                }
            )
        return sorted(out, key=lambda g: (-g["count"], g["signature"]))

    def draft_rule(
        self,
        sig: str,
        rule_id: str | None = None,
        category: str = "user_code_error",
        action: str | None = None,
        pattern: str | None = None,
    ) -> Rule:
        group = next((g for g in self.signatures() if g["signature"] == sig), None)
        if group is None:
            raise NotFound(f"no unclassified signature {sig!r}")
        if category not in CATEGORIES:
            raise BadInput(f"unknown category {category!r} (one of {', '.join(CATEGORIES)})")
        others = [g["example"] for g in self.signatures() if g["signature"] != sig]
        text = f'''[[rule]]\nid = "x"\ncategory = "{category}"\naction = "{action or CATEGORIES[category]}"\n'''
        parse_rules(text + f"patterns = [{_toml_str(pattern or group['regex'])}]\n", "the new rule")  # validates
        return Rule(
            id=rule_id or _rule_id(sig),
            category=category,
            action=action or CATEGORIES[category],
            patterns=[pattern or group["regex"]],
            description=f"from unclassified signature: {sig}"[:200],
            examples=[group["example"]],
            counter_examples=others[:1],
            source=str(self.user_rules),
        )

    def preview(self, rule: Rule) -> dict[str, Any]:
        """What the rule would do to past failures: how many it would classify, and whose place it takes."""
        user_ids = {r.id for r in self.ruleset.rules if r.source.startswith(str(self.user_rules))}
        matched, shadowed, blocked = 0, Counter[str | None](), Counter[str | None]()
        current = self.classifications()
        for run_id, cur in current.items():
            doc = self.document(self.cluster.get_attempt(run_id))
            if not rule_matches(rule, doc):
                continue
            if cur.rule_id in user_ids:  # an earlier user rule keeps it
                blocked[cur.rule_id] += 1
                continue
            matched += 1
            if cur.category != UNCLASSIFIED:
                shadowed[cur.rule_id] += 1
        return {
            "matches": matched,
            "shadows": dict(shadowed.most_common()),
            "kept_by_earlier_user_rules": dict(blocked),
            "failures": len(current),
        }

    def add_rule(self, rule: Rule, user: str) -> None:
        """Append the rule to the user's rule file — validated as a whole first, written atomically, audited."""
        old = self.user_rules.read_text(encoding="utf-8") if self.user_rules.exists() else ""
        new = (
            old.rstrip("\n") + "\n\n"
            if old.strip()
            else "# mlops-console user rules: read before the built-in ones.\n\n"
        ) + rule_to_toml(rule)
        parsed = parse_rules(new, str(self.user_rules))  # the whole file must stay valid,
        clash = {r.id for r in parsed} & {r.id for r in load_ruleset(None).rules}
        if clash:
            raise RuleError(f"{self.user_rules}: rule {sorted(clash)[0]!r}: duplicate id (also built in)")

        self.audit.change(
            verb="create",
            user=user,
            object_ref={"resource": "rule", "name": rule.id, "file": str(self.user_rules)},
            before=None,
            apply=lambda: self._write(new),
            after=lambda: self.rule_snapshot(rule.id),
            annotations={"reason": "rule from unclassified signature"},
        )

    # -- rules as objects of the audit path: snapshot and restore (rollback) -------------------------------
    def rule_snapshot(self, rule_id: str, namespace: str | None = None) -> dict[str, Any] | None:
        if not self.user_rules.exists():
            return None
        for r in parse_rules(self.user_rules.read_text(encoding="utf-8"), str(self.user_rules)):
            if r.id == rule_id:
                return r.to_dict()
        return None

    def rule_restore(self, rule_id: str, snap: dict[str, Any] | None, namespace: str | None = None) -> None:
        """Put the user file back as it was for this rule: without it (snap None), or with it."""
        text = self.user_rules.read_text(encoding="utf-8") if self.user_rules.exists() else ""
        blocks = re.split(r"(?m)^(?=\[\[rule\]\])", text)
        kept = [
            b
            for b in blocks
            if not (b.startswith("[[rule]]") and any(r.id == rule_id for r in parse_rules(b, str(self.user_rules))))
        ]
        new = "".join(kept).rstrip("\n") + "\n"
        if snap is not None:
            new += "\n" + rule_to_toml(Rule(**snap))
        parse_rules(new, str(self.user_rules))
        self._write(new)

    def _write(self, text: str) -> None:
        self.user_rules.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".rules-", dir=self.user_rules.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, self.user_rules)
        with self._lock:
            self._classifier = None  # reload, and reclassify on the next look


def _toml_str(s: str) -> str:
    import json

    return f"'{s}'" if "'" not in s and "\n" not in s else json.dumps(s)


def _rule_id(sig: str) -> str:
    import re

    words = re.findall(r"[a-z0-9]+", re.sub(r"<\w+>", "", sig.lower()))[:5]
    return "user-" + "-".join(words or ["signature"])


_CLASS_COLUMNS = "run_id, category, rule_id, action, evidence, evidence_line, context, fields"


def _row(c: Classification) -> dict[str, Any]:
    """A classification as kept: its component is the rule's, read back from the rule set (_from_row)."""
    return {k: v for k, v in c.to_dict().items() if k != "component"}


def _from_row(r: dict[str, Any], ruleset: RuleSet) -> Classification:
    rule = ruleset.get(r["rule_id"]) if r["rule_id"] else None
    return Classification(
        category=r["category"],
        rule_id=r["rule_id"],
        action=r["action"],
        evidence=r["evidence"],
        evidence_line=r["evidence_line"],
        context=r["context"] or [],
        fields=r["fields"] or {},
        ruleset=r["ruleset"],
        component=rule.component if rule else "",
    )
