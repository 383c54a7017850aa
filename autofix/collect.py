"""Collect what is known about a failed attempt into the one document the classifier reads:
the container's termination reason and exit code, the pod/job events, then the log tail (bounded)."""

from __future__ import annotations

from typing import Any

from core.cluster import Cluster
from core.types import HISTORY_FIELDS, Attempt

DEFAULT_TAIL_LINES = 500
DEFAULT_TAIL_BYTES = 1 << 20


def document(attempt: Attempt, events: list[str], log_tail: str) -> str:
    head = [f"termination: reason={attempt.reason or 'Unknown'} exit_code={attempt.exit_code}"]
    head += [f"event: {e}" for e in events]
    return "\n".join(head) + "\n" + log_tail


def log_evidence(evidence: str | None) -> str | None:
    """What of an evidence line (a line of document()) the attempt's log itself may hold: a log line as it
    is, an event's text without its `event: ` (the driver often logs it too), nothing of the termination."""
    if not evidence or evidence.startswith("termination: "):
        return None
    return evidence.removeprefix("event: ").strip() or None


def collect(
    cluster: Cluster, attempt: Attempt, tail_lines: int = DEFAULT_TAIL_LINES, tail_bytes: int = DEFAULT_TAIL_BYTES
) -> str:
    return document(
        attempt,
        cluster.attempt_events(attempt.run_id),
        cluster.attempt_log_tail(attempt.run_id, tail_lines, tail_bytes),
    )


# the history record's fields, and the termination the classifier reads first
RECORD_FIELDS = (*HISTORY_FIELDS, "exit_code", "reason")


def record_document(record: dict[str, Any]) -> str:
    """The document the classifier reads for a history record (no events: a record carries none)."""
    fields: dict[str, Any] = {k: record.get(k) for k in RECORD_FIELDS}
    a = Attempt(**fields)
    return document(a, [], record.get("log_tail") or "")
