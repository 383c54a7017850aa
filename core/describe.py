"""YAML-like describe text of any domain object (the `enter` detail pane and `jobs show`)."""
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
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000,
                     default_flow_style=False)
