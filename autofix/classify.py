"""The classification engine: ordered rules over a stream of lines, bounded memory, many patterns at once.

All patterns (every rule's `patterns` and `all_of`) are compiled into one Hyperscan database and the
input is scanned in chunks of CHUNK bytes cut at line ends, so the cost is one linear pass whatever the
number of rules (measured in bench/classify.py). Hyperscan only says *which* pattern matched *where*;
Python's `re` then confirms the match on that one line and extracts the named groups. Patterns
Hyperscan cannot compile (lookarounds, backreferences) are searched with `re` line by line in every
chunk: each costs a Python `re` pass over the input (measured in the bench).

A line longer than CHUNK is read in CHUNK-sized pieces: a 50 MB line costs what 50 MB of short lines
cost, and memory stays under two chunks. Bytes that are not UTF-8 are decoded with replacement
characters.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from autofix.rules import Rule, RuleSet, load_file
from core.cache import cache_dir
from core.taxonomy import UNCLASSIFIED

if TYPE_CHECKING:
    import hyperscan

CHUNK = 4 << 20
EVIDENCE_MAX = 2000  # characters kept of an evidence or context line


@dataclass
class Classification:
    category: str
    rule_id: str | None
    action: str | None  # None when no rule decided (unclassified): the recommender decides
    evidence: str | None
    evidence_line: int | None  # 1-based line number in the input
    context: list[str] = field(default_factory=list)  # [line before, evidence, line after]
    fields: dict[str, str] = field(default_factory=dict)
    ruleset: str = ""
    component: str = ""  # memory_exceeded: which memory ran out, as the rule says ("" where it does not)

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "rule_id": self.rule_id,
            "action": self.action,
            "evidence": self.evidence,
            "evidence_line": self.evidence_line,
            "context": self.context,
            "fields": self.fields,
            "ruleset": self.ruleset,
            "component": self.component or None,
        }


def unclassified(ruleset: str = "") -> Classification:
    return Classification(UNCLASSIFIED, None, None, None, None, [], {}, ruleset)


@dataclass(frozen=True)
class _Engine:
    table: list[tuple[int, bool, re.Pattern[str]]]
    db: hyperscan.Database | None
    fallback: list[int]
    multiline: dict[int, re.Pattern[str]]


@dataclass
class _Hit:
    line_no: int
    line: str
    before: str
    after: str | None
    fields: dict[str, str]


class Classifier:
    def __init__(self, ruleset: RuleSet):
        self.ruleset = ruleset
        self.digest = ruleset.digest
        # Hyperscan's scratch space is for one scan at a time: each thread scans with its own (the TUI
        # classifies from several workers; sharing one raised ScratchInUseError)
        self._scratch = threading.local()
        self._lock = threading.Lock()
        self._engine: _Engine | None = None

    def _compiled(self) -> _Engine:
        """The regexes, the Hyperscan database and the `re` fallbacks, built on the first scan (~0.5 s for
        the built-in rules): reading stored classifications needs only the digest, and never pays for it."""
        engine = self._engine
        if engine is None:
            with self._lock:
                if self._engine is None:
                    # pattern table: (rule index, is_all_of, compiled re)
                    table: list[tuple[int, bool, re.Pattern[str]]] = []
                    for ri, rule in enumerate(self.ruleset.rules):
                        table += [(ri, False, c) for c in rule.compiled]
                        table += [(ri, True, c) for c in rule.compiled_all]
                    db, fallback = _compile_hyperscan([c.pattern for _, _, c in table])
                    multiline = {pid: re.compile(table[pid][2].pattern, re.MULTILINE) for pid in fallback}
                    self._engine = _Engine(table, db, fallback, multiline)
                engine = self._engine
        return engine

    @property
    def table(self) -> list[tuple[int, bool, re.Pattern[str]]]:
        return self._compiled().table

    @property
    def hs_db(self) -> hyperscan.Database | None:
        return self._compiled().db

    @property
    def fallback(self) -> list[int]:
        return self._compiled().fallback

    @property
    def multiline(self) -> dict[int, re.Pattern[str]]:
        return self._compiled().multiline

    # -- entry points ------------------------------------------------------------------------
    def classify_text(self, text: str) -> Classification:
        return self.classify_stream(io.BytesIO(text.encode("utf-8", "surrogateescape")))

    def classify_path(self, path: str) -> Classification:
        with open(path, "rb") as f:
            return self.classify_stream(f)

    def classify_stream(self, f: BinaryIO) -> Classification:
        state = _ScanState(len(self.ruleset.rules))
        for chunk, first_line in _chunks(f):
            self._scan(chunk, first_line, state)
            state.prev_last_line = _last_line(chunk)
        return self._decide(state)

    # -- scanning ----------------------------------------------------------------------------
    def _thread_scratch(self) -> hyperscan.Scratch:
        scratch = getattr(self._scratch, "space", None)
        if scratch is None:
            import hyperscan

            scratch = self._scratch.space = hyperscan.Scratch(self.hs_db)
        return scratch

    def _scan(self, chunk: bytes, first_line: int, st: _ScanState) -> None:
        if st.pending_after:  # the evidence was the last line of the previous chunk
            nl = chunk.find(b"\n")
            line_after = _decode(chunk[: nl if nl >= 0 else len(chunk)])
            for waiting in st.pending_after:
                waiting.after = line_after
            st.pending_after = []
        candidates: dict[int, int] = {}  # pattern id -> first offset reported
        if self.hs_db is not None:

            def on_match(pid: int, start: int, end: int, flags: int, ctx: object) -> None:
                if pid not in candidates:
                    candidates[pid] = end

            self.hs_db.scan(chunk, match_event_handler=on_match, scratch=self._thread_scratch())
        if self.fallback:
            # Patterns Hyperscan cannot take: one `re` search each over the chunk, to find where to look.
            text = chunk.decode("utf-8", "surrogateescape")
            for pid in self.fallback:
                if pid in st.all_seen or pid in st.patterns_seen:
                    continue
                m = self.multiline[pid].search(text)
                if m is not None:
                    candidates[pid] = len(text[: max(m.end(), m.start() + 1)].encode("utf-8", "surrogateescape"))
        for pid, end in sorted(candidates.items(), key=lambda kv: kv[1]):
            ri, is_all, rx = self.table[pid]
            if is_all:
                if pid in st.all_seen:
                    continue
                if end >= 0 and rx.search(_decode(_line_at(chunk, end))) is not None:
                    st.all_seen.add(pid)
                    continue
            elif pid in st.patterns_seen:
                continue
            for off, line in _lines_from(chunk, end):
                m = rx.search(line)
                if m is None:
                    continue
                if is_all:
                    st.all_seen.add(pid)
                    break
                st.patterns_seen.add(pid)
                found = {k: v for k, v in m.groupdict().items() if v is not None}
                first = st.hits[ri]
                if first is not None:  # the rule's evidence is its first line; other patterns add fields
                    first.fields = found | first.fields
                    break
                line_no = first_line + chunk.count(b"\n", 0, off)
                before, after = _neighbours(chunk, off, st.prev_last_line)
                hit = _Hit(line_no, line[:EVIDENCE_MAX], before, after, found)
                st.hits[ri] = hit
                if after is None:
                    st.pending_after.append(hit)
                break

    def _decide(self, st: _ScanState) -> Classification:
        for ri, rule in enumerate(self.ruleset.rules):
            hit = st.hits[ri]
            if hit is None:
                continue
            if not all(pid in st.all_seen for pid, (r, is_all, _) in enumerate(self.table) if r == ri and is_all):
                continue
            context = [c for c in (hit.before, hit.line, hit.after) if c is not None]
            return Classification(
                rule.category,
                rule.id,
                rule.action,
                hit.line,
                hit.line_no,
                [c[:EVIDENCE_MAX] for c in context],
                hit.fields,
                self.digest,
                rule.component,
            )
        return unclassified(self.digest)

    @property
    def unaccelerated(self) -> list[str]:
        return [self.table[pid][2].pattern for pid in self.fallback]


def rule_matches(rule: Rule, text: str) -> bool:
    """Does this one rule match this document, whatever the other rules say? (checks and previews)"""
    lines = text.splitlines() or [""]
    any_pattern = any(c.search(line) for c in rule.compiled for line in lines)
    return any_pattern and all(any(c.search(line) for line in lines) for c in rule.compiled_all)


class _ScanState:
    def __init__(self, n_rules: int):
        self.hits: list[_Hit | None] = [None] * n_rules
        self.all_seen: set[int] = set()
        self.patterns_seen: set[int] = set()  # patterns whose first match is known
        self.pending_after: list[_Hit] = []
        self.prev_last_line = ""


def _compile_hyperscan(patterns: list[str]) -> tuple[hyperscan.Database | None, list[int]]:
    """One database of every pattern Hyperscan accepts; the ids of the others go to the `re` fallback.
    Compiling takes about a second for the built-in rules, so the database is kept in the user's cache,
    named by the patterns' hash (and Hyperscan's version), and read back on later starts."""
    try:
        import hyperscan
    except ImportError:  # still correct without it, only slower
        return None, list(range(len(patterns)))
    key = hashlib.sha256(
        json.dumps(
            [getattr(hyperscan, "__version__", ""), [(_hs_expr(p).decode(), _hs_flags(p)) for p in patterns]]
        ).encode()
    ).hexdigest()[:32]
    cached = _cache_read(key)
    if cached is not None:
        return cached
    db, fallback = _compile_each(patterns)
    _cache_write(key, db, fallback)
    return db, fallback


def _cache_read(key: str) -> tuple[hyperscan.Database | None, list[int]] | None:
    """The database compiled earlier for `key`, checked against the sha256 written beside it (a file
    changed or cut short is compiled again, never trusted); None when there is none."""
    import hyperscan

    try:
        meta = json.loads((cache_dir() / f"hyperscan-{key}.json").read_text())
        if meta.get("db") is None:
            return None, list(meta["fallback"])
        blob = (cache_dir() / f"hyperscan-{key}.db").read_bytes()
        if hashlib.sha256(blob).hexdigest() != meta["db"]:
            return None
        return hyperscan.loadb(blob, hyperscan.HS_MODE_BLOCK), list(meta["fallback"])
    except (OSError, ValueError, KeyError, TypeError, hyperscan.error):
        return None


def _cache_write(key: str, db: hyperscan.Database | None, fallback: list[int]) -> None:
    """Kept for the next start; a cache that cannot be written (read-only home) only costs time."""
    import hyperscan

    where = cache_dir()
    try:
        where.mkdir(parents=True, exist_ok=True, mode=0o700)
        blob = hyperscan.dumpb(db) if db is not None else None
        if blob is not None:
            _write_atomically(where / f"hyperscan-{key}.db", blob)
        meta = {"db": hashlib.sha256(blob).hexdigest() if blob is not None else None, "fallback": fallback}
        _write_atomically(where / f"hyperscan-{key}.json", json.dumps(meta).encode())
    except (OSError, hyperscan.error):
        pass


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _compile_each(patterns: list[str]) -> tuple[hyperscan.Database | None, list[int]]:
    import hyperscan

    ok, fallback = [], []
    for pid, p in enumerate(patterns):
        try:
            probe = hyperscan.Database()
            probe.compile(expressions=[_hs_expr(p)], ids=[pid], elements=1, flags=[_hs_flags(p)])
            ok.append(pid)
        except hyperscan.error:
            fallback.append(pid)
    if not ok:
        return None, fallback
    db = hyperscan.Database()
    db.compile(
        expressions=[_hs_expr(patterns[i]) for i in ok],
        ids=ok,
        elements=len(ok),
        flags=[_hs_flags(patterns[i]) for i in ok],
    )
    return db, fallback


def _hs_expr(p: str) -> bytes:
    return p.removeprefix("(?i)").encode("utf-8")


def _hs_flags(p: str) -> int:
    import hyperscan

    # `^`/`$` at line ends, as Python re sees each line; one report per pattern per chunk is enough
    # because `re` re-finds the first occurrence from there.
    # Byte mode, not HS_FLAG_UTF8: logs carry invalid UTF-8, on which UTF-8 mode is undefined.
    flags = hyperscan.HS_FLAG_MULTILINE | hyperscan.HS_FLAG_SINGLEMATCH
    if p.startswith("(?i)"):
        flags |= hyperscan.HS_FLAG_CASELESS
    return flags


# -- byte-level helpers ----------------------------------------------------------------------------
def _chunks(f: BinaryIO) -> Iterator[tuple[bytes, int]]:
    """Chunks of ~CHUNK bytes ending at a line end, with the number of their first line. A line that has
    no end within CHUNK bytes comes in CHUNK-sized pieces (a match across two pieces is missed), so
    memory stays under two chunks whatever the input."""
    carry = b""
    line_no = 1
    while True:
        block = f.read(CHUNK)
        if not block:
            break
        data = carry + block
        cut = data.rfind(b"\n") + 1
        if cut == 0:  # no line end yet
            if len(data) >= CHUNK:
                yield data, line_no  # a piece of a very long line
                carry = b""
            else:
                carry = data
            continue
        chunk, carry = data[:cut], data[cut:]
        yield chunk, line_no
        line_no += chunk.count(b"\n")
    if carry:
        yield carry, line_no


def _decode(b: bytes) -> str:
    return b.decode("utf-8", "replace").rstrip("\r")


def _line_at(chunk: bytes, end: int) -> bytes:
    start = chunk.rfind(b"\n", 0, max(0, end - 1)) + 1
    stop = chunk.find(b"\n", max(0, end - 1))
    return chunk[start : stop if stop >= 0 else len(chunk)]


def _lines_from(chunk: bytes, end: int) -> Iterator[tuple[int, str]]:
    """Decoded lines with their byte offsets, from the line holding `end` on (all lines when end < 0)."""
    pos = 0 if end < 0 else chunk.rfind(b"\n", 0, max(0, end - 1)) + 1
    n = len(chunk)
    while pos < n:
        stop = chunk.find(b"\n", pos)
        if stop < 0:
            stop = n
        yield pos, _decode(chunk[pos:stop])
        pos = stop + 1


def _neighbours(chunk: bytes, off: int, prev_last_line: str) -> tuple[str, str | None]:
    if off == 0:
        before = prev_last_line
    else:
        bstart = chunk.rfind(b"\n", 0, off - 1) + 1
        before = _decode(chunk[bstart : off - 1])
    stop = chunk.find(b"\n", off)
    if stop < 0 or stop + 1 >= len(chunk):
        return before[:EVIDENCE_MAX], None
    astop = chunk.find(b"\n", stop + 1)
    return before[:EVIDENCE_MAX], _decode(chunk[stop + 1 : astop if astop >= 0 else len(chunk)])[:EVIDENCE_MAX]


def _last_line(chunk: bytes) -> str:
    body = chunk[:-1] if chunk.endswith(b"\n") else chunk
    return _decode(body[body.rfind(b"\n") + 1 :])[:EVIDENCE_MAX]


def check_rule_file(path: Path) -> list[str]:
    """Run every rule's examples and counter-examples. Returns the failures, one line each, naming the
    file and rule; an empty list means the file is good. A file that does not load raises RuleError."""
    rules = load_file(path)
    clf = Classifier(RuleSet(rules, [str(path)]))
    problems = []
    for rule in rules:
        where = f"{path}: rule {rule.id!r}"
        if not rule.examples:
            problems.append(f"{where}: has no examples")
        for n, ex in enumerate(rule.examples, start=1):
            if not rule_matches(rule, ex):
                problems.append(f"{where}: example {n} does not match: {ex[:120]!r}")
                continue
            won = clf.classify_text(ex)
            if won.rule_id != rule.id and won.category != rule.category:
                problems.append(
                    f"{where}: example {n} is taken by earlier rule {won.rule_id!r} ({won.category}): {ex[:120]!r}"
                )
        for n, ex in enumerate(rule.counter_examples, start=1):
            if rule_matches(rule, ex):
                problems.append(f"{where}: counter-example {n} matches: {ex[:120]!r}")
    return problems
