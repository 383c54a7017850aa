"""YAML-like describe text of any domain object (the `enter` detail pane, `jobs show` and the CLI's yaml output).

Plain text, no textual or rich: the CLI formats with it too."""

from __future__ import annotations

from typing import Any


def describe(data: dict[str, Any]) -> str:
    import yaml  # comes with the kubernetes client; imported here so start-up does not pay for it

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, value: str):
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000, default_flow_style=False)


def describe_change(change: dict[str, Any]) -> str:
    """A change as the operator reads it (Engine.change_details): who, what, its stages, and a diff of
    before → after."""
    import difflib

    before = describe({"object": change["before"]}).splitlines()
    after = describe({"object": change["after"]}).splitlines()
    diff = list(difflib.unified_diff(before, after, "before", "after", lineterm="", n=2))
    head = describe({k: v for k, v in change.items() if k not in ("before", "after")})
    return head + "diff:\n" + ("\n".join("  " + ln for ln in diff) if diff else "  (no difference)") + "\n"
