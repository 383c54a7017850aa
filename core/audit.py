"""The one audit path's record: events shaped like Kubernetes audit events, hash-chained.

Each event's hash covers its content and the previous event's hash, so editing, deleting,
inserting or reordering any row breaks the chain from that row on.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Callable, TypeVar

from core import clock
from core.store import Store
from core.types import AuditEvent

T = TypeVar("T")
GENESIS = "0" * 64
HASHED_FIELDS = ("seq", "audit_id", "stage", "verb", "user", "object_ref", "before", "after",
                 "annotations", "timestamp", "prev_hash")


def event_hash(event: dict[str, Any]) -> str:
    body = json.dumps({k: event[k] for k in HASHED_FIELDS}, sort_keys=True, separators=(",", ":"),
                      default=str)
    return hashlib.sha256(body.encode()).hexdigest()


class AuditLog:
    def __init__(self, store: Store):
        self.store = store

    def append(self, *, verb: str, user: str, object_ref: dict[str, str], stage: str = "ResponseComplete",
               before: Any = None, after: Any = None, annotations: dict[str, str] | None = None,
               audit_id: str | None = None) -> AuditEvent:
        import uuid  # ~5 ms to import; only mutations need it

        with self.store.transaction() as conn:
            last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            event = {
                "seq": (last[0] + 1) if last else 1,
                "audit_id": audit_id or str(uuid.uuid4()),
                "stage": stage, "verb": verb, "user": user, "object_ref": object_ref,
                "before": before, "after": after, "annotations": annotations or {},
                "timestamp": clock.iso(clock.now()),
                "prev_hash": last[1] if last else GENESIS,
            }
            event["hash"] = event_hash(event)
            conn.execute(
                "INSERT INTO audit(seq, audit_id, stage, verb, user, object_ref, before, after, annotations,"
                " timestamp, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (event["seq"], event["audit_id"], stage, verb, user, _j(object_ref), _j(before), _j(after),
                 _j(event["annotations"]), event["timestamp"], event["prev_hash"], event["hash"]))
        return AuditEvent(**event)

    def change(self, *, verb: str, user: str, object_ref: dict[str, str], before: Any, after: Any,
               apply: Callable[[], T], annotations: dict[str, str] | None = None) -> T:
        """The one audit path: an intent record, the change, then its outcome — all under one auditID."""
        import uuid

        audit_id = str(uuid.uuid4())
        notes = dict(annotations or {})
        common = dict(verb=verb, user=user, object_ref=object_ref, audit_id=audit_id)
        self.append(stage="RequestReceived", before=before, after=after, annotations=notes, **common)
        try:
            result = apply()
        except Exception as e:
            self.append(stage="Failed", before=before, after=None, annotations={**notes, "error": str(e)[:500]}, **common)
            raise
        self.append(stage="ResponseComplete", before=before, after=after, annotations=notes, **common)
        return result

    def list(self, limit: int | None = None, offset: int = 0) -> list[AuditEvent]:
        sql = "SELECT * FROM audit ORDER BY seq DESC"
        params: tuple = ()
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params = (limit, offset)
        return [AuditEvent(**r) for r in self.store.query(sql, params)]

    def count(self) -> int:
        return self.store.scalar("SELECT count(*) FROM audit") or 0


def _j(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
