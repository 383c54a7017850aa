"""The dashboard's "failing now": each job's newest run, as its latest attempt says."""

from __future__ import annotations

from console.services.dashboard import newest_runs
from core.types import Attempt


def attempt(run_id: str, n: int, at: str, status: str, job: str = "agg") -> Attempt:
    return Attempt(
        job_id=job,
        run_id=run_id,
        attempt=n,
        submitted_at=at,
        kind="spark",
        input_bytes=1,
        conf={},
        status=status,
        runtime_seconds=1.0,
        cost=1.0,
    )


def test_a_successful_retry_of_an_older_run_does_not_hide_a_newer_failed_run():
    older, newer = "2026-11-20T12:00:00Z", "2026-11-20T20:00:00Z"
    retried_now = "2026-11-20T21:00:00Z"  # the retry of the older run is the newest attempt of all
    shown = newest_runs(
        [
            attempt("r1", 1, older, "failed"),
            attempt("r2", 1, newer, "failed"),
            attempt("r1-2", 2, retried_now, "succeeded"),
        ]
    )
    assert shown["agg"].run_id == "r2" and shown["agg"].status == "failed"


def test_a_run_fixed_by_its_retry_is_not_failing():
    shown = newest_runs(
        [
            attempt("r1", 1, "2026-11-20T12:00:00Z", "failed"),
            attempt("r1-2", 2, "2026-11-20T12:30:00Z", "succeeded"),
            attempt("q1", 1, "2026-11-20T10:00:00Z", "failed", job="other"),
        ]
    )
    assert shown["agg"].status == "succeeded" and shown["other"].status == "failed"
