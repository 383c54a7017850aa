"""The approval queue: one suggestion per failed attempt that a retry may fix, waiting for a person (or a
policy) to approve, edit or reject it. Rows live in the store's `suggestions` table; the engine does the
audited part (submitting the retry through the backend)."""

from __future__ import annotations

import builtins
import re
from dataclasses import asdict, dataclass
from typing import Any

from core import clock
from core.errors import BadInput, Conflict, NotFound
from core.spark import COUNTS, MIB_KEYS, SIZE_CEILING, SIZE_KEYS, MiB, format_size, parse_size
from core.store import Store
from core.types import probability_text, run_of

SPARK_SIZE = re.compile(r"^\d+(?:[kmgtp]b?|b)?$", re.IGNORECASE)

PENDING, APPROVED, AUTO_APPLIED, REJECTED, RETRIED = "pending", "approved", "auto_applied", "rejected", "retried"
DECIDED = (APPROVED, AUTO_APPLIED, REJECTED, RETRIED)
KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


@dataclass
class Suggestion:
    id: int
    run_id: str
    job_id: str
    category: str
    rule_id: str | None
    evidence: str | None
    action: str  # retry | retry_with_conf | retry_later | no_retry (the recommender's advice: approve refuses it)
    conf_before: dict[str, str]
    conf: dict[str, str | None]  # the keys the retry changes, Spark syntax (None: dropped, back to default)
    p_success: float | None
    expected_cost: float | None
    # what the model expects the failed config to cost had it run to the end — slowed by the spilling it
    # learned near the load the job died of, so a retry that stops the spill can cost less (README)
    base_cost: float | None
    alternatives: list[dict[str, Any]]
    model: str | None
    status: str
    created_at: str
    decided_by: str | None = None
    decided_at: str | None = None
    reason: str | None = None
    edited_by: str | None = None
    retry_run_id: str | None = None
    outcome: str | None = None  # succeeded | failed, once the retry has run
    # why there is no model's suggestion, when there is none; after an edit, who edited it (an edit settles a
    # note that asked for one)
    note: str | None = None
    attempt: int = 1

    @property
    def run(self) -> str:
        return run_of(self.run_id, self.attempt)

    @property
    def retry_conf(self) -> dict[str, str]:
        """The config the retry runs with; a changed key set to None goes back to its default."""
        return {k: v for k, v in {**self.conf_before, **self.conf}.items() if v is not None}

    @property
    def needs_an_edit(self) -> bool:
        """A failure the taxonomy fixes with a config change that no one has suggested (disk, timeout, a
        non-Spark job): retried as it is, it would fail again — a person edits it first."""
        return self.action == "retry_with_conf" and not self.conf

    @property
    def not_approvable(self) -> str | None:
        """Why approving it as it stands is refused (the recommender advises no retry; a config change is
        needed and none is suggested), or None. The remedy is the caller's to name: a command, a key."""
        if self.action == "no_retry":
            return f"the recommender advises no retry (P(success) {probability_text(self.p_success or 0)})"
        if self.needs_an_edit:
            return f"{self.category} needs a config change and none is suggested"
        return None

    @property
    def cost_increase(self) -> float | None:
        """Expected cost of the retry over the failed config's, minus one (0.3 = 30 % more)."""
        if self.expected_cost is None or not self.base_cost:
            return None
        return self.expected_cost / self.base_cost - 1

    @property
    def change(self) -> str:
        """executor.memory=6g, sql.shuffle.partitions=800: the change on one line."""
        return ", ".join(
            f"{k.removeprefix('spark.')}={'(default)' if v is None else v}" for k, v in sorted(self.conf.items())
        )

    def diff(self) -> list[tuple[str, str | None, str | None]]:
        return [(k, self.conf_before.get(k), v) for k, v in sorted(self.conf.items())]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["change"] = self.change
        d["diff"] = [{"key": k, "from": old, "to": new} for k, old, new in self.diff()]
        d["cost_increase"] = None if self.cost_increase is None else round(self.cost_increase, 4)
        return d


class Queue:
    def __init__(self, store: Store):
        self.store = store

    def known_runs(self) -> set[str]:
        return {r[0] for r in self.store.conn.execute("SELECT run_id FROM suggestions")}

    def add(self, rows: list[dict[str, Any]]) -> list[Suggestion]:
        now = clock.iso(clock.now())
        out: list[int] = []
        with self.store.transaction() as conn:
            for r in rows:
                cur = conn.execute(
                    "INSERT INTO suggestions(run_id, job_id, category, rule_id, evidence, action, conf_before, conf,"
                    " p_success, expected_cost, base_cost, alternatives, model, status, created_at, note, attempt)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(run_id) DO NOTHING",
                    (
                        r["run_id"],
                        r["job_id"],
                        r["category"],
                        r.get("rule_id"),
                        r.get("evidence"),
                        r["action"],
                        _j(r["conf_before"]),
                        _j(r["conf"]),
                        r.get("p_success"),
                        r.get("expected_cost"),
                        r.get("base_cost"),
                        _j(r.get("alternatives") or []),
                        r.get("model"),
                        PENDING,
                        now,
                        r.get("note"),
                        r["attempt"],
                    ),
                )
                if cur.rowcount and cur.lastrowid is not None:  # inserted: it has a rowid
                    out.append(cur.lastrowid)
        return [self.get(i) for i in out]

    def count(self, status: str) -> int:
        return self.store.scalar("SELECT count(*) FROM suggestions WHERE status = ?", (status,)) or 0

    def list(self, status: str | None = None, limit: int | None = None) -> list[Suggestion]:
        sql = "SELECT * FROM suggestions" + (" WHERE status = ?" if status else "")
        sql += " ORDER BY (status = 'pending') DESC, id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        return [_suggestion(r) for r in self.store.query(sql, (status,) if status else ())]

    def get(self, key: int | str) -> Suggestion:
        try:
            ident = int(str(key).lstrip("#"))
        except ValueError:
            raise BadInput(f"suggestion id must be a number, got {key!r}") from None
        row = self.store.one("SELECT * FROM suggestions WHERE id = ?", (ident,))
        if row is None:
            raise NotFound(f"no suggestion {ident} (see `mlops-console autofix queue`)")
        return _suggestion(row)

    def pending(self, key: int | str) -> Suggestion:
        s = self.get(key)
        if s.status != PENDING:
            raise Conflict(
                f"suggestion {s.id} is already {s.status}"
                f"{' by ' + s.decided_by if s.decided_by else ''}: nothing to decide"
            )
        return s

    def update(self, ident: int, *, if_status: str | None = None, **values: Any) -> None:
        """Set `values`; with `if_status`, only while the suggestion still has that status (a decision
        taken meanwhile by another worker or console stands)."""
        cols = ", ".join(f"{k} = ?" for k in values)
        encoded = [_j(v) if isinstance(v, dict | list) else v for v in values.values()]
        where, args = ("id = ? AND status = ?", (ident, if_status)) if if_status else ("id = ?", (ident,))
        with self.store.transaction() as conn:
            conn.execute(f"UPDATE suggestions SET {cols} WHERE {where}", (*encoded, *args))

    def awaiting_outcome(self) -> builtins.list[Suggestion]:
        return [
            _suggestion(r)
            for r in self.store.query("SELECT * FROM suggestions WHERE retry_run_id IS NOT NULL AND outcome IS NULL")
        ]


def parse_changes(words: list[str], where: str = "edit") -> tuple[dict[str, str], list[str]]:
    """`key=value` sets, `key-` removes (back to the default); sizes and counts checked."""
    sets, removes = {}, []
    for w in words:
        if w.endswith("-") and "=" not in w:
            key = w[:-1]
            if not KEY.match(key):
                raise BadInput(f"{where}: {key!r} is not a config key")
            removes.append(key)
            continue
        key, sep, value = w.partition("=")
        if not sep or not KEY.match(key) or not value:
            raise BadInput(f"{where}: expected key=value or key-, got {w!r}")
        sets[key] = check_value(key, value, where)
    return sets, removes


def parse_edit(words: list[str], where: str = "edit") -> tuple[dict[str, str], list[str]]:
    """An edit's changes (parse_changes), at least one."""
    sets, removes = parse_changes(words, where)
    if not sets and not removes:
        raise BadInput(f"{where}: nothing to change (give key=value or key-)")
    return sets, removes


def check_value(key: str, value: str, where: str = "edit") -> str:
    value = value.strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise BadInput(f"{where}: field {key}: control characters are not allowed")
    if key in SIZE_KEYS:
        try:
            size = parse_size(value, key)
        except ValueError:
            raise BadInput(f"{where}: field {key}: {value!r} is not a memory size (e.g. 4g, 512m)") from None
        # what Spark itself takes (JavaUtils.byteStringAs): an edit becomes the retry's config, and
        # "1.5g" or "512MiB" would fail at spark-submit
        if key.startswith("spark.") and not SPARK_SIZE.match(value):
            raise BadInput(
                f"{where}: field {key}: {value!r} is not a size Spark takes (a whole number and a unit: 1536m, 4g)"
            )
        if key in MIB_KEYS and size < MiB:  # Spark reads this key in whole MiB: 4096b is 0
            raise BadInput(f"{where}: field {key}: {value!r} is less than 1 MiB, the least Spark reads this key in")
        if size <= 0:
            raise BadInput(f"{where}: field {key}: {value!r} is not a positive size")
        if size > SIZE_CEILING:
            raise BadInput(f"{where}: field {key}: {value!r} is more than {format_size(SIZE_CEILING)} (a typo?)")
    elif key in COUNTS:
        lo, hi = COUNTS[key]
        if not value.isdigit() or not lo <= int(value) <= hi:
            raise BadInput(f"{where}: field {key}: {value!r} is not a whole number in {lo}..{hi}")
    return value


def policy_match(s: Suggestion, policies: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first policy that lets this suggestion be applied without a person, or None.

    A policy names a category (or "*"), the least P(success) and the most cost increase it accepts;
    suggestions without a prediction (plain retries) pass only a policy with min_p_success = 0."""
    if s.action == "no_retry" or s.needs_an_edit:
        return None  # no policy retries what the recommender advises against, or guesses a config for
    for p in policies:
        if p.get("category", "*") not in ("*", s.category):
            continue
        need_p = float(p.get("min_p_success", 0.9))
        if need_p > 0 and (s.p_success is None or s.p_success < need_p):
            continue
        most = p.get("max_cost_increase")
        if (
            most is not None
            and s.action == "retry_with_conf"
            and (s.cost_increase is None or s.cost_increase > float(most))
        ):
            continue
        return p
    return None


def _j(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True)


def _suggestion(row: dict[str, Any]) -> Suggestion:
    import json

    for k in ("conf_before", "conf", "alternatives"):
        if isinstance(row.get(k), str):
            row[k] = json.loads(row[k])
    return Suggestion(**row)
