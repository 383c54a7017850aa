"""Collect what is known about a failed attempt into the one document the classifier reads:
the container's termination reason and exit code, the pod/job events, then the log tail (bounded)."""

from __future__ import annotations

from core.cluster import Cluster
from core.types import Attempt

DEFAULT_TAIL_LINES = 500
DEFAULT_TAIL_BYTES = 1 << 20


def document(attempt: Attempt, events: list[str], log_tail: str) -> str:
    head = [f"termination: reason={attempt.reason or 'Unknown'} exit_code={attempt.exit_code}"]
    head += [f"event: {e}" for e in events]
    return "\n".join(head) + "\n" + log_tail


def collect(
    cluster: Cluster, attempt: Attempt, tail_lines: int = DEFAULT_TAIL_LINES, tail_bytes: int = DEFAULT_TAIL_BYTES
) -> str:
    return document(
        attempt,
        cluster.attempt_events(attempt.run_id),
        cluster.attempt_log_tail(attempt.run_id, tail_lines, tail_bytes),
    )
