"""Audit append rate and chain verification time, beside raw SQLite inserts of the same rows in the
same run (same database settings: WAL, synchronous=NORMAL, one transaction per event).

    .venv/bin/python bench/audit.py [--events 1000000]

Goals (issue 4): ≥ 5,000 events/s appended; verify of 1M events ≤ 5 s.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.audit import COLUMNS, AuditLog, _j  # noqa: E402
from core.store import Store  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    n = args.events
    tmp = Path(tempfile.mkdtemp(prefix="audit-bench-"))
    try:
        store = Store(tmp / "home")
        log = AuditLog(store)
        ref = {"resource": "node", "name": "ip-10-20-0-10.eu-west-1.compute.internal"}
        before = {"unschedulable": False, "labels": {"team": "ml"}, "taints": []}
        after = {
            "unschedulable": True,
            "labels": {"team": "ml"},
            "taints": [{"key": "k", "value": "", "effect": "NoSchedule"}],
        }

        # the anchor: the same rows, plain INSERTs, one transaction each, into a table of the same shape
        conn = store.conn
        conn.execute(f"CREATE TABLE raw ({', '.join(COLUMNS)}, hash TEXT)")
        row = (
            1,
            "a" * 36,
            "ResponseComplete",
            "cordon",
            "alice@10.0.0.7",
            _j(ref),
            _j(before),
            _j(after),
            _j({"reason": "bench"}),
            "2026-11-26T00:00:00Z",
            "0" * 64,
            "f" * 64,
        )
        t = time.perf_counter()
        for i in range(n):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(f"INSERT INTO raw VALUES ({', '.join('?' * 12)})", (i, *row[1:]))
            conn.execute("COMMIT")
        raw_dt = time.perf_counter() - t

        t = time.perf_counter()
        for _ in range(n):
            log.append(
                verb="cordon",
                user="alice@10.0.0.7",
                object_ref=ref,
                before=before,
                after=after,
                annotations={"reason": "bench"},
            )
        app_dt = time.perf_counter() - t

        t = time.perf_counter()
        verdict = log.verify()
        ver_dt = time.perf_counter() - t
        assert verdict.ok and verdict.events == n, verdict
        print(f"events: {n:,}")
        print(f"raw sqlite INSERT (1 txn each):  {n / raw_dt:10,.0f} rows/s")
        print(
            f"audit append (hash-chained):     {n / app_dt:10,.0f} events/s   {raw_dt / app_dt:.2f}x raw "
            f"(goal >= 5,000/s)"
        )
        print(
            f"audit verify:                    {ver_dt:10.2f} s for {n:,} events ({n / ver_dt:,.0f}/s; "
            f"goal <= 5 s for 1M)"
        )
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
