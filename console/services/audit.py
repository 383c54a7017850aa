"""The audit trail: every change's events, the chain's verification, and rollback of a change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from console.services.wiring import Wiring
from core.audit import Verdict
from core.errors import NotFound
from core.types import AuditEvent


class AuditService:
    def __init__(self, w: Wiring):
        self.w = w

    def events(self, limit: int | None = None) -> list[AuditEvent]:
        return self.w.audit.list(limit)

    def iter_events(self, limit: int | None = None) -> Iterator[AuditEvent]:
        return self.w.audit.iterate(limit)

    def count(self) -> int:
        return self.w.audit.count()

    def show(self, key: str) -> list[AuditEvent]:
        events = self.w.audit.get(key)
        if not events:
            raise NotFound(f"no audit event {key!r} (give a seq, an auditID or a unique prefix of one)")
        return events

    def verify(self, since: Verdict | None = None) -> Verdict:
        return self.w.audit.verify(since=since)

    def rollback(self, key: str, force: bool = False) -> dict[str, Any]:
        return self.w.changes.rollback(key, self.w.require("audit-rollback"), force)

    def change(self, key: str) -> dict[str, Any]:
        """A change as the operator reads it: who, what, its stages, before and after."""
        events = self.show(key)
        last = events[-1]
        return {
            "auditID": last.audit_id,
            "verb": last.verb,
            "user": last.user,
            "objectRef": last.object_ref,
            "stages": [f"{e.seq} {e.stage} {e.timestamp}" for e in events],
            "annotations": last.annotations,
            "before": last.before,
            "after": last.after,
        }
