"""History records (DESIGN.md: JSONL, one job attempt per line) read, checked and kept in the store.

A record is refused with the line number and the field at fault: malformed JSON, a missing or mistyped
field, an impossible value (negative memory, an unparsable size, a count below its least — 1, or 0 for
GPUs). Unknown fields and conf keys are kept as they are (`extra`, `conf`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.spark import COUNTS, MIB_KEYS, SIZE_CEILING, SIZE_KEYS, format_size, parse_count, parse_size

if TYPE_CHECKING:
    from core.store import Store

REQUIRED: dict[str, tuple[type, ...]] = {
    "job_id": (str,),
    "run_id": (str,),
    "attempt": (int,),
    "submitted_at": (str,),
    "kind": (str,),
    "input_bytes": (int,),
    "conf": (dict,),
    "status": (str,),
    "runtime_seconds": (int, float),
    "cost": (int, float),
}
STATUSES = ("succeeded", "failed", "running")
COLUMNS = (
    "run_id",
    "job_id",
    "attempt",
    "submitted_at",
    "kind",
    "input_bytes",
    "conf",
    "status",
    "log_tail",
    "runtime_seconds",
    "cost",
    "node",
    "exit_code",
    "reason",
)


class RecordError(ValueError):
    """One bad record: says which field and why."""


@dataclass
class Report:
    path: str
    imported: int = 0
    replaced: int = 0  # of the imported, records that took the place of one with the same run_id
    errors: list[dict[str, Any]] = field(default_factory=list)  # {"line", "error"}

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "imported": self.imported,
            "replaced": self.replaced,
            "skipped": len(self.errors),
            "errors": self.errors,
        }


def check(rec: object) -> dict[str, Any]:
    """A history record as a row of the attempts table, or RecordError naming the field."""
    if not isinstance(rec, dict):
        raise RecordError(f"a record must be a JSON object, got {type(rec).__name__}")
    for key, types in REQUIRED.items():
        if key not in rec:
            raise RecordError(f"missing field {key!r}")
        v = rec[key]
        if isinstance(v, bool) or not isinstance(v, types):
            raise RecordError(f"field {key!r} must be {' or '.join(t.__name__ for t in types)}, got {v!r}")
    if not rec["job_id"].strip() or not rec["run_id"].strip():
        raise RecordError("job_id and run_id must not be empty")
    if rec["attempt"] < 1:
        raise RecordError(f"field 'attempt' must be at least 1, got {rec['attempt']}")
    if rec["input_bytes"] < 0:
        raise RecordError(f"field 'input_bytes' must not be negative, got {rec['input_bytes']}")
    for key in ("runtime_seconds", "cost"):
        if rec[key] < 0:
            raise RecordError(f"field {key!r} must not be negative, got {rec[key]}")
    if rec["status"] not in STATUSES:
        raise RecordError(f"field 'status' must be one of {', '.join(STATUSES)}, got {rec['status']!r}")
    try:
        datetime.fromisoformat(rec["submitted_at"].replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(f"field 'submitted_at' is not an ISO time: {rec['submitted_at']!r}") from None
    conf = {}
    for key, value in rec["conf"].items():
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise RecordError(f"conf[{key!r}] must be a string or a number, got {value!r}")
        try:
            if key in SIZE_KEYS and parse_size(value, key) > SIZE_CEILING:
                unit = "MiB" if key in MIB_KEYS else "bytes"
                raise ValueError(
                    f"{value!r} is more than {format_size(SIZE_CEILING)} (a bare number is {unit} for this key, as Spark reads it)"
                )
            if key in COUNTS:
                parse_count(value, key)
        except (ValueError, OverflowError) as e:
            raise RecordError(f"conf[{key!r}]: {e}") from None
        conf[key] = str(value)
    if rec["status"] == "failed" and not isinstance(rec.get("log_tail"), str):
        raise RecordError("a failed attempt needs its 'log_tail' (a string)")
    row = {k: rec.get(k) for k in COLUMNS}
    row["conf"] = conf
    row["extra"] = {k: v for k, v in rec.items() if k not in COLUMNS}
    return row


def read(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line number, row, error) for every non-blank line."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a byte-order mark, as some editors write
                raw = raw[3:]
            try:
                yield n, check(json.loads(raw.decode("utf-8"))), None
            except UnicodeDecodeError as e:
                yield n, None, f"not UTF-8 (byte {e.start + 1})"
            except json.JSONDecodeError as e:
                yield n, None, f"not JSON: {e.msg} (column {e.colno})"
            except RecordError as e:
                yield n, None, str(e)


# -- imported history: training data, kept apart from the cluster's own attempts ---------------------------
def keep(store: Store, rows: list[dict[str, Any]], source: str, imported_at: str) -> int:
    """Upsert `rows` (from `read`) into the console's history table; returns how many replaced a record
    of the same job and run. The caller holds the transaction (the import is one audited change)."""
    jobs = sorted({r["job_id"] for r in rows})
    known: set[tuple[str, str]] = set()
    for chunk in (jobs[i : i + 500] for i in range(0, len(jobs), 500)):
        known |= {
            (j, r)
            for j, r in store.conn.execute(
                f"SELECT job_id, run_id FROM history WHERE job_id IN ({','.join('?' * len(chunk))})", tuple(chunk)
            )
        }
    replaced = len({(r["job_id"], r["run_id"]) for r in rows} & known)
    store.upsert_all(
        "history", ({**r, "source": source, "imported_at": imported_at} for r in rows), pk=("job_id", "run_id")
    )
    return replaced


def records(store: Store, job_ids: list[str] | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Imported records as history records (extra fields flattened back in), newest first."""
    sql, params = "SELECT * FROM history", []
    if job_ids is not None:
        sql += f" WHERE job_id IN ({','.join('?' * len(job_ids))})"
        params = list(job_ids)
    sql += " ORDER BY submitted_at DESC, run_id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    out = []
    for r in store.query(sql, params):
        extra = r.pop("extra") or {}
        rec = {k: v for k, v in r.items() if v is not None or k in ("log_tail",)}
        out.append({**rec, **extra})
    return out


def sources(store: Store) -> list[dict[str, Any]]:
    """One row per imported file: how many records, of how many jobs, over which period."""
    return store.query(
        "SELECT source, count(*) AS records, count(DISTINCT job_id) AS jobs,"
        " sum(status = 'failed') AS failed, min(submitted_at) AS first, max(submitted_at) AS last,"
        " max(imported_at) AS imported_at FROM history GROUP BY source ORDER BY imported_at DESC"
    )
