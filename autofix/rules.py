"""Rule files: an ordered list of TOML `[[rule]]` tables. Order is priority (first match wins), and the
user's file is read before the built-in one. Every problem is reported with file, rule id and reason."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

from core.errors import BadInput
from core.taxonomy import ACTIONS, CATEGORIES, MEMORY_COMPONENTS

BUILTIN_RULES = Path(__file__).with_name("rules.toml")
KNOWN_KEYS = {
    "id",
    "category",
    "action",
    "description",
    "component",
    "patterns",
    "all_of",
    "examples",
    "counter_examples",
}
ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class RuleError(BadInput):
    """A rule file is unusable; the message names the file, the rule id and the problem."""


@dataclass
class Rule:
    id: str
    category: str
    action: str
    patterns: list[str]
    description: str = ""
    all_of: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    counter_examples: list[str] = field(default_factory=list)
    component: str = ""  # memory_exceeded: which memory ran out (core.taxonomy.MEMORY_COMPONENTS)
    source: str = ""

    # compiled when first used: a look at stored classifications needs the rules' digest, not their regexes
    @cached_property
    def compiled(self) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in self.patterns]

    @cached_property
    def compiled_all(self) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in self.all_of]

    @property
    def fields(self) -> list[str]:
        names: list[str] = []
        for c in self.compiled:
            names += [n for n in c.groupindex if n not in names]
        return names

    def to_dict(self) -> dict[str, Any]:
        # what asdict() less `source` gives, without its deep copy (the rule set's digest takes this of
        # every rule: ~5 ms of the TUI's first fetch with asdict)
        return {f: list(v) if isinstance(v := getattr(self, f), list) else v for f in _RULE_FIELDS}


_RULE_FIELDS = tuple(f.name for f in fields(Rule) if f.name != "source")


@dataclass
class RuleSet:
    rules: list[Rule]
    sources: list[str]

    @property
    def digest(self) -> str:
        """Content hash stored with every classification: which rules, in which order."""
        body = json.dumps([r.to_dict() for r in self.rules], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def parse_rules(text: str, source: str, trusted: bool = False) -> list[Rule]:
    """Parse and validate one rule file's text. `trusted` (the built-in file, which the tests check):
    its regexes are compiled when first used rather than here (~0.15 s of every start)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RuleError(f"{source}: invalid TOML: {e}") from None
    unknown = set(data) - {"rule"}
    if unknown:
        raise RuleError(f"{source}: unknown top-level key {sorted(unknown)[0]!r} (rules are [[rule]] tables)")
    raw = data.get("rule", [])
    if not isinstance(raw, list):
        raise RuleError(f"{source}: 'rule' must be an array of tables ([[rule]])")
    rules, seen = [], set()
    for n, item in enumerate(raw, start=1):
        rid = item.get("id") if isinstance(item, dict) else None
        where = f"{source}: rule {rid!r}" if isinstance(rid, str) else f"{source}: rule #{n}"
        rules.append(_rule(item, where, source, check_regexes=not trusted))
        if rules[-1].id in seen:
            raise RuleError(f"{where}: duplicate id")
        seen.add(rules[-1].id)
    return rules


def _rule(item: object, where: str, source: str, check_regexes: bool = True) -> Rule:
    if not isinstance(item, dict):
        raise RuleError(f"{where}: must be a table")
    for key in ("id", "category", "action", "patterns"):
        if key not in item:
            raise RuleError(f"{where}: missing field {key!r}")
    unknown = set(item) - KNOWN_KEYS
    if unknown:
        raise RuleError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    rid = item["id"]
    if not isinstance(rid, str) or not ID_RE.match(rid):
        raise RuleError(f"{where}: id must be lower-case letters, digits, '.', '_' or '-'")
    if item["category"] not in CATEGORIES:
        raise RuleError(f"{where}: unknown category {item['category']!r} (one of {', '.join(CATEGORIES)})")
    if item["action"] not in ACTIONS:
        raise RuleError(f"{where}: unknown action {item['action']!r} (one of {', '.join(ACTIONS)})")
    lists = {}
    for key in ("patterns", "all_of", "examples", "counter_examples"):
        value = item.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RuleError(f"{where}: {key!r} must be a list of strings")
        lists[key] = value
    if not lists["patterns"]:
        raise RuleError(f"{where}: 'patterns' is empty")
    for key in ("patterns", "all_of"):
        for p in lists[key]:
            if not p:
                raise RuleError(f"{where}: empty regex in {key!r}")
            try:
                if check_regexes:
                    re.compile(p)
            except re.error as e:
                raise RuleError(f"{where}: invalid regex {p!r} in {key!r}: {e}") from None
            if "\n" in p or "\\n" in p:
                raise RuleError(f"{where}: regex {p!r} spans lines; rules match one line at a time")
    if not isinstance(item.get("description", ""), str):
        raise RuleError(f"{where}: 'description' must be a string")
    component = item.get("component", "")
    if component and item["category"] != "memory_exceeded":
        raise RuleError(f"{where}: 'component' is for memory_exceeded rules only")
    if component not in ("", *MEMORY_COMPONENTS):
        raise RuleError(f"{where}: unknown component {component!r} (one of {', '.join(MEMORY_COMPONENTS)})")
    return Rule(
        id=rid,
        category=item["category"],
        action=item["action"],
        description=item.get("description", ""),
        component=component,
        source=source,
        **lists,
    )


def load_file(path: Path, trusted: bool = False) -> list[Rule]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RuleError(f"{path}: no such rule file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise RuleError(f"{path}: cannot read: {e}") from None
    return parse_rules(text, str(path), trusted)


def load_ruleset(user_file: Path | None = None, builtin: Path | None = BUILTIN_RULES) -> RuleSet:
    """The user's rules first (they take priority), then the built-in ones. Ids must be unique across both."""
    rules: list[Rule] = []
    sources: list[str] = []
    for path in (user_file, builtin):
        if path is None or (path is user_file and not Path(path).exists()):
            continue
        part = load_file(path, trusted=path is builtin)
        taken = {r.id: r.source for r in rules}
        for r in part:
            if r.id in taken:
                raise RuleError(f"{r.source}: rule {r.id!r}: duplicate id (also in {taken[r.id]})")
        rules += part
        sources.append(str(path))
    return RuleSet(rules, sources)


def rule_to_toml(rule: Rule) -> str:
    """One [[rule]] table, as appended to the user's rule file."""

    def lit(s: str) -> str:
        # TOML literal strings cannot hold a single quote or a newline: fall back to a basic string.
        return f"'{s}'" if "'" not in s and "\n" not in s else json.dumps(s)

    def arr(items: list[str]) -> str:
        return "[" + ", ".join(lit(i) for i in items) + "]"

    lines = [
        "[[rule]]",
        f"id = {json.dumps(rule.id)}",
        f"category = {json.dumps(rule.category)}",
        f"action = {json.dumps(rule.action)}",
        f"description = {json.dumps(rule.description)}",
        *([f"component = {json.dumps(rule.component)}"] if rule.component else []),
        f"patterns = {arr(rule.patterns)}",
    ]
    if rule.all_of:
        lines.append(f"all_of = {arr(rule.all_of)}")
    lines.append(f"examples = {arr(rule.examples)}")
    lines.append(f"counter_examples = {arr(rule.counter_examples)}")
    return "\n".join(lines) + "\n"
