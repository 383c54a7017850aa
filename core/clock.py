"""Wall-clock access in one place, so tests and snapshots can pin time with MLOPS_CONSOLE_NOW."""

from __future__ import annotations

import os
from datetime import UTC, datetime


def now() -> datetime:
    pinned = os.environ.get("MLOPS_CONSOLE_NOW")
    if pinned:
        return parse_ts(pinned)
    return datetime.now(UTC)


def parse_ts(text: str) -> datetime:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def age(ts: str, ref: datetime | None = None) -> str:
    """kubectl-style age: 45s, 12m, 5h, 3d."""
    secs = int(((ref or now()) - parse_ts(ts)).total_seconds())
    if secs < 0:
        return "0s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size * (2 if unit == "d" else 1):
            return f"{secs // size}{unit}"
    return f"{secs}s"


def parse_duration(text: str, what: str) -> float:
    """`90s`, `5m`, `2h`, or bare seconds → seconds; BadInput naming `what` (a flag or field) otherwise."""
    import re

    from core.errors import BadInput

    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if not m:
        raise BadInput(f"{what}: expected a duration like 90s or 5m, got {text!r}")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]
