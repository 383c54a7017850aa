"""Listing output for the CLI: aligned table (kubectl-style), JSON array, or JSON lines.

Every format streams: records are written a page at a time as they come (the listings read their
source a page at a time too), so the first line shows at once and memory holds one page whatever the
length. `json` is still one JSON array, the same text `json.dump(records, indent=2)` writes. A table
takes its column widths from its first page (PAGE rows; all of them in a shorter listing, which then
looks as it always did); a later cell wider than its column pushes the rest of its line to the right
rather than being cut.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, TextIO, TypeVar

from core.sanitize import strip_control

Column = tuple[str, Callable[[dict[str, Any]], Any]]
T = TypeVar("T")

#: records written (and, for a table, measured) at a time
PAGE = 1000


def _compact_line(r: Any) -> bytes:
    import orjson

    return orjson.dumps(r, default=str)


_indented = json.JSONEncoder(indent=2, default=str).encode


def emit(
    records: Iterable[dict[str, Any]],
    fmt: str,
    columns: Sequence[Column],
    out: TextIO = sys.stdout,
    page: int = PAGE,
) -> None:
    if fmt == "json":
        started = False
        for batch in _pages(records, page):
            # json.dump(list, indent=2): "[\n  " + items joined by ",\n  " + "\n]", each item indented once more
            text = ",\n".join("  " + _indented(r).replace("\n", "\n  ") for r in batch)
            out.write((",\n" if started else "[\n") + text)
            out.flush()
            started = True
        out.write("\n]\n" if started else "[]\n")
    elif fmt == "jsonl":
        # compact JSON, UTF-8 (orjson): the format for pipes and jq, where Python's encoder was the
        # listing's biggest cost; written as bytes where the stream has a buffer
        raw = getattr(out, "buffer", None)
        if raw is None:
            for batch in _pages(records, page):
                out.write("".join([_compact_line(r).decode() + "\n" for r in batch]))
                out.flush()
            return
        out.flush()
        for batch in _pages(records, page):
            raw.write(b"".join([_compact_line(r) + b"\n" for r in batch]))
            raw.flush()
    else:
        rows = ([_cell(get(r)) for _, get in columns] for r in records)
        table([h for h, _ in columns], rows, out, page)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], out: TextIO = sys.stdout, page: int = PAGE) -> None:
    pages = _pages(rows, page)
    first = next(pages, [])
    widths = [max([len(h)] + [len(r[i]) for r in first]) for i, h in enumerate(headers)]
    out.write(_lines([list(headers), *first], widths))
    out.flush()
    for batch in pages:
        out.write(_lines(batch, widths))
        out.flush()


def _lines(rows: Iterable[Sequence[str]], widths: Sequence[int]) -> str:
    return "".join("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n" for r in rows)


def _pages(items: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    # A table is for eyes: keep one line, and let nothing from the cluster drive the terminal.
    return strip_control(str(value)).replace("\n", " ")


def show(obj: Any, fmt: str) -> None:
    """One object: JSON, or the describe text (YAML-like) the TUI's panes show."""
    from screens.describe import describe

    if fmt == "json":
        print(json.dumps(obj, indent=2, default=str))
    else:
        sys.stdout.write(strip_control(describe(json.loads(json.dumps(obj, default=str)))))
