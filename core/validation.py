"""Names and values checked as Kubernetes checks them, and the acting user's name.

The rules are those of k8s.io/apimachinery/pkg/util/validation (IsQualifiedName, IsValidLabelValue,
IsDNS1123Subdomain), which the API server applies to label keys and values and to taint keys and values.
They are written out here: kubernetes-validate checks whole manifests against the OpenAPI schemas, which
type labels as a map of strings and say nothing of their syntax, and the kubernetes client has no validator.
"""

from __future__ import annotations

import re

from core.errors import BadInput

NAME_MAX = 63
PREFIX_MAX = 253
USER_MAX = 256
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = re.compile(rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*")
_NAME_CHARS = "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"


def qualified_name_problem(key: str) -> str | None:
    """What is wrong with a label (or taint) key: [prefix/]name, the prefix a DNS-1123 subdomain."""
    parts = key.split("/")
    if len(parts) > 2:
        return "must be a name with an optional DNS-1123 subdomain prefix and at most one '/' (e.g. example.com/name)"
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            return "prefix part must not be empty"
        if len(prefix) > PREFIX_MAX:
            return f"prefix part must be no more than {PREFIX_MAX} characters"
        if not _DNS1123_SUBDOMAIN.fullmatch(prefix):
            return (
                "prefix part must be a lowercase DNS-1123 subdomain: lowercase alphanumeric characters, '-' or "
                "'.', starting and ending with an alphanumeric character"
            )
    name = parts[-1]
    if not name:
        return "name part must not be empty"
    if len(name) > NAME_MAX:
        return f"name part must be no more than {NAME_MAX} characters"
    if not _NAME.fullmatch(name):
        return f"name part must consist of {_NAME_CHARS}"
    return None


def label_value_problem(value: str) -> str | None:
    if len(value) > NAME_MAX:
        return f"must be no more than {NAME_MAX} characters"
    if value and not _NAME.fullmatch(value):
        return f"must be empty or consist of {_NAME_CHARS}"
    return None


def label_key(key: str, what: str) -> str:
    problem = qualified_name_problem(key)
    if problem:
        raise BadInput(f"{what}: key {key!r}: {problem}")
    return key


def label_value(value: str, what: str) -> str:
    problem = label_value_problem(value)
    if problem:
        raise BadInput(f"{what}: value {value!r} {problem}")
    return value


def taint_effect(effect: str, what: str) -> str:
    if effect not in TAINT_EFFECTS:
        raise BadInput(f"{what}: effect {effect!r} must be one of {', '.join(TAINT_EFFECTS)}")
    return effect


def user_name(name: str, what: str) -> str:
    """The acting user, as the audit trail records it and every screen shows it: one printable line.
    Square brackets are allowed (bot accounts are named like renovate[bot]); they are shown as text."""
    if not name:
        raise BadInput(f"{what}: the user name must not be empty")
    if len(name) > USER_MAX:
        raise BadInput(f"{what}: the user name must be no more than {USER_MAX} characters, got {len(name)}")
    if not name.isprintable():  # C0/C1 controls, escape sequences, line breaks, bidi and other format characters
        bad = next(c for c in name if not c.isprintable())
        raise BadInput(f"{what}: the user name must not contain control characters, got {bad!r} in {name!r}")
    return name
