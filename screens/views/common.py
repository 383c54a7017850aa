"""Helpers the views share."""

from __future__ import annotations


def count_of(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{len(names)} nodes"


def op_summary(op: dict) -> str:
    return f"operation {op['id']} {op['state']}" + (f": {op['error']}" if op.get("error") else "")
