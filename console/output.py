"""Listing output for the CLI: aligned table (kubectl-style), JSON array, or JSON lines."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

from core.sanitize import strip_control

Column = tuple[str, Callable[[dict[str, Any]], Any]]


def emit(records: Sequence[dict[str, Any]], fmt: str, columns: Sequence[Column], out: TextIO = sys.stdout) -> None:
    if fmt == "json":
        json.dump(list(records), out, indent=2, default=str)
        out.write("\n")
    elif fmt == "jsonl":
        for r in records:
            out.write(json.dumps(r, default=str) + "\n")
    else:
        table(([h for h, _ in columns]), ([_cell(get(r)) for _, get in columns] for r in records), out)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], out: TextIO = sys.stdout) -> None:
    rows = list(rows)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    for r in [list(headers)] + rows:
        out.write("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    # A table is for eyes: keep one line, and let nothing from the cluster drive the terminal.
    return strip_control(str(value)).replace("\n", " ")
