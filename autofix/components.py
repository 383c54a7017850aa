"""Which memory ran out in a failed history record, as the triage's rules say: the recommender learns
and searches by it, and never reads a log itself (one source of log semantics: autofix/rules.toml)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from autofix.classify import Classifier

ComponentOf = Callable[[dict[str, Any]], str]


def classifier_components(classifier: Classifier) -> ComponentOf:
    """The component a classifier's winning rule names for a record's document ("" when none does)."""
    from autofix.collect import record_document

    def component_of(record: dict[str, Any]) -> str:
        return classifier.classify_text(record_document(record)).component

    return component_of


def builtin_components() -> ComponentOf:
    """component_of on the built-in rules, compiled when first asked."""
    from autofix.rules import load_ruleset

    compiled: list[ComponentOf] = []

    def component_of(record: dict[str, Any]) -> str:
        if not compiled:
            compiled.append(classifier_components(Classifier(load_ruleset(None))))
        return compiled[0](record)

    return component_of


def with_components(records: Iterable[dict[str, Any]], component_of: ComponentOf) -> list[dict[str, Any]]:
    """The records, each failed one (a copy) with its `component`; one that has one already is kept."""
    return [
        {**r, "component": component_of(r)} if r.get("status") == "failed" and "component" not in r else r
        for r in records
    ]
