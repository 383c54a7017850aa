"""Untrusted text (log lines, object fields from the cluster) is data: strip terminal control sequences
before it reaches a terminal, or make them visible. (Escaping Rich markup is the views' part:
screens/widgets.py.)"""

from __future__ import annotations

import re

# CSI (ESC [ … final), OSC (ESC ] … BEL/ST), other two-byte ESC sequences, 8-bit C1 CSI/OSC.
_ANSI = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]          # CSI
  | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)? # OSC, ended by BEL or ST
  | \x1b[PX^_][^\x1b]*(?:\x1b\\)?      # DCS, SOS, PM, APC
  | \x1b[@-Z\\-_]                      # other Fe escapes
  | \x9b[0-?]*[ -/]*[@-~]              # C1 CSI
""",
    re.VERBOSE,
)
# Remaining C0 controls (keep \t and \n), DEL and C1 controls.
_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_control(text: str) -> str:
    """Remove escape sequences and control characters; keep tabs and newlines."""
    if not text:
        return text
    return _CTRL.sub("", _ANSI.sub("", text.replace("\r\n", "\n")))


# ESC shows as ␛ (so `\x1b[2J` reads `␛[2J`), other C0 as Control Pictures, DEL as ␡, C1 as <9b>.
_VISIBLE = {c: chr(0x2400 + c) for c in range(0x20) if c not in (0x09, 0x0A)}
_VISIBLE |= {0x7F: "\u2421"} | {c: f"<{c:02x}>" for c in range(0x80, 0xA0)}


def visible_control(text: str) -> str:
    """Control characters made visible instead of removed, for an operator reading a hostile log.
    Tabs and newlines stay; nothing is left that a terminal would act on."""
    if not text:
        return text
    return text.replace("\r\n", "\n").translate(_VISIBLE)


def redact_url(url: str) -> str:
    """The URL without its credentials (`https://user:pw@host/` → `https://***@host/`): for messages, logs
    and audit records."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))
