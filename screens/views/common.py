"""Helpers the views share."""

from __future__ import annotations

import re


def count_of(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{len(names)} nodes"


def op_summary(op: dict) -> str:
    return f"operation {op['id']} {op['state']}" + (f": {op['error']}" if op.get("error") else "")


# -- cells as an operator reads them -----------------------------------------------------------------
_UNITS = ((1024**2, "Pi"), (1024, "Ti"), (1, "Gi"))


def gib(value: float) -> str:
    """A size in GiB as kubectl prints quantities: `512Mi`, `12Gi`, `128Gi`, `1.1Ti`."""
    if value < 1:
        return f"{value * 1024:.0f}Mi" if value else "0"
    for scale, unit in _UNITS:
        if value >= scale:
            n = value / scale
            return f"{n:.1f}".rstrip("0").rstrip(".") + unit if n < 10 else f"{n:.0f}{unit}"
    return f"{value:g}Gi"


_SIZE = re.compile(r"([\d.]+)(Mi|Gi|Ti|Pi)?")
_TO_GIB = {"Mi": 1 / 1024, "Gi": 1.0, "Ti": 1024.0, "Pi": 1024.0**2, None: 1.0}


def size_key(text: str) -> float:
    """Sorts `98Gi/1.1Ti` by its first size, in GiB."""
    m = _SIZE.match(text)
    return float(m.group(1)) * _TO_GIB[m.group(2)] if m else -1.0


_AGE = re.compile(r"(\d+)([smhd])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def age_key(text: str) -> int:
    """Sorts kubectl ages (`45s`, `12m`, `5h`, `3d`) by their length of time."""
    return sum(int(n) * _SECONDS[u] for n, u in _AGE.findall(text))


# a log line's leading time: ISO (2026-12-02T10:11:12.123Z, 2026-12-02 10:11:12,123), log4j's default in
# Spark and YARN (26/12/02 10:11:12), klog (E1202 10:11:12.123456   12345 file.go:42]), bracketed variants
_TIMESTAMP = re.compile(
    r"^\s*\[?(?:"
    r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"
    r"|\d\d/\d\d/\d\d \d\d:\d\d:\d\d(?:[.,]\d+)?"
    r"|[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+\s+[\w./-]+:\d+\]"
    r")\]?\s*"
)


def without_timestamp(line: str) -> str:
    """The message of a log line: its leading timestamp is what every line shares, not what tells it apart."""
    return _TIMESTAMP.sub("", line, count=1)
