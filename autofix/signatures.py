"""Signatures of unclassified failures: the telling line of the log with its variable parts masked
(numbers, ids, hosts, paths, times), as log parsers like Drain do, so that the same failure on other
hosts and days groups together; and the regex a new rule would start from."""

from __future__ import annotations

import re

# The line that tells: the first one that sounds most like the failure, skipping stack frames.
_STRONG = re.compile(
    r"(?i)fatal|panic|abort|sigsegv|sigabrt|segmentation fault|killed|terminate called|"
    r"exit(?:ed)? (?:with )?(?:code|status)|exception|denied|refused"
)
_WEAK = re.compile(r"(?i)error|fail")
_FRAME = re.compile(r"^\s*(at |\.\.\. \d+ more|File \"|Caused by: \.\.\.)")
# Log prefixes that differ on every line: timestamps, levels, logger names.
# (the logger name goes only after a level: "botocore.exceptions.ClientError: …" is the failure itself)
_PREFIX = re.compile(
    r"^(?:(?:\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}|\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?\]?)\s*)?"
    r"(?:(?:TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL|CRITICAL)\b:?\s*(?:[\w.$-]+:\s)?)?"
)
# Order matters: the wider shapes first, so a UUID is not read as numbers.
MASKS: list[tuple[str, re.Pattern[str], str]] = [
    ("TS", re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), r"\S+"),
    (
        "UUID",
        re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
        r"[0-9a-fA-F-]+",
    ),
    ("URI", re.compile(r"\b[a-z][a-z0-9+.-]*://\S+"), r"\S+"),
    ("PATH", re.compile(r"(?<![\w.])(?:/[\w.@%+=:,~-]+){2,}/?"), r"\S+"),
    (
        "HOST",
        re.compile(r"\b(?:ip-\d+-\d+-\d+-\d+(?:\.[\w-]+)*|(?:[a-z0-9-]+\.)+(?:internal|local|com|net|org|io|svc))\b"),
        r"\S+",
    ),
    ("IP", re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), r"[0-9.:]+"),
    (
        "HEX",
        re.compile(
            r"\b(?:0x)?[0-9a-fA-F]*\d[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b|\b(?:0x)?[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\d[0-9a-fA-F]*\b"
        ),
        r"[0-9a-fA-Fx]+",
    ),
    ("NUM", re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?![\w])"), r"[-+]?[0-9]+(?:\.[0-9]+)?"),
]
_TOKEN = re.compile(r"<(" + "|".join(name for name, _, _ in MASKS) + r")>")
_REGEX_FOR = {name: rx for name, _, rx in MASKS}


def telling_line(text: str) -> str:
    """The line of a log tail most likely to name the failure."""
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [
        ln
        for ln in lines
        if ln.strip("# ") and not ln.startswith(("termination:", "event: Normal")) and not _FRAME.match(ln)
    ]
    if not lines:
        return ""
    scores = [2 * bool(_STRONG.search(ln)) + bool(_WEAK.search(ln)) for ln in lines]
    best = max(scores)
    return lines[scores.index(best)] if best else lines[-1]


def mask(line: str) -> str:
    line = _PREFIX.sub("", line.strip())
    for name, rx, _ in MASKS:
        # HEX only when it is an id (8+ characters): short words like "dead" or "a1" stay.
        if name == "HEX":
            line = rx.sub(lambda m: "<HEX>" if len(m.group(0)) >= 8 else m.group(0), line)
        else:
            line = rx.sub(f"<{name}>", line)
    return re.sub(r"\s+", " ", line)[:300]


def signature(text: str) -> str:
    return mask(telling_line(text))


def regex_for(sig: str) -> str:
    """A rule pattern matching every line with this signature: literals escaped, masks widened."""
    parts, pos = [], 0
    for m in _TOKEN.finditer(sig):
        parts.append(re.escape(sig[pos : m.start()]))
        parts.append(_REGEX_FOR[m.group(1)])
        pos = m.end()
    parts.append(re.escape(sig[pos:]))
    return "".join(parts).replace("\\ ", " ")
