"""The optional outgoing webhook (`webhook_url`): each recorded change to a rollout, a deployment, an
approval-queue suggestion, a retried run or an alert silence is POSTed as JSON, in a thread of its own
so that a slow receiver never holds the change up (a command's process waits for it at exit, at most
`monitoring_timeout_seconds`). Best effort: a receiver that is down loses the
notification, never the change (the audit trail keeps every one)."""

from __future__ import annotations

import threading
from typing import Any

from core.types import AuditEvent, object_name

RESOURCES = frozenset({"rollout", "deployment", "suggestion", "run", "alert"})


class Webhook:
    def __init__(self, url: str, timeout: float):
        self.url, self.timeout = url, timeout

    def __call__(self, event: AuditEvent) -> None:
        if event.object_ref.get("resource") not in RESOURCES:
            return
        body = payload(event)
        # not a daemon: a CLI command that exits right after its change still delivers (waiting at most the
        # timeout); the TUI never waits on it
        threading.Thread(target=self._post, args=(body,), name="webhook").start()

    def _post(self, body: dict[str, Any]) -> None:
        import httpx

        try:
            httpx.post(self.url, json=body, timeout=self.timeout)
        except (httpx.HTTPError, ValueError):  # ValueError: a value JSON cannot carry (NaN)
            pass  # best effort: said in the module's docstring and docs/monitoring.md


def payload(event: AuditEvent) -> dict[str, Any]:
    return {
        "source": "mlops-console",
        "object": object_name(event.object_ref),
        "verb": event.verb,
        "stage": event.stage,
        "user": event.user,
        "time": event.timestamp,
        "audit_id": event.audit_id,
        "after": event.after,
        "annotations": {k: v for k, v in event.annotations.items() if k != "writer"},
    }
