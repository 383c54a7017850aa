"""Two versions side by side as text lines (ModelService.compare's dict): what `models compare` prints and
the Models view's `d` shows. A row whose two sides differ ends with " *"."""

from __future__ import annotations

from typing import Any

from core.sanitize import strip_control


def lines(c: dict[str, Any]) -> list[str]:
    a, b = (f"v{v}" for v in c["versions"])
    rows = [("", a, b), ("aliases", *(", ".join(x) or "-" for x in c["aliases"]))]
    rows += [("created", *(f"{t[:19]} by {who or '?'}" for t, who in c["created"]))]
    rows += [
        ("lineage", *(" <- ".join(x) for x in c["lineage"])),
        ("data digest", *(str(x)[:16] for x in c["data_digest"])),
    ]
    rows += [("code", *(str(x)[:12] if x else "-" for x in c["code_version"]))]
    rows += [(k, *map(str, v)) for k, v in c["environment"].items()]
    rows += [(f"param {k}", *("-" if x is None else str(x) for x in v)) for k, v in c["params"].items()]
    rows += [(f"metric {k}", *("-" if x is None else str(x) for x in v)) for k, v in c["metrics"].items()]
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    out = []
    for r in rows:
        mark = "" if r[1] == r[2] or not r[0] else "  *"
        out.append(strip_control("  ".join(x.ljust(w) for x, w in zip(r, width, strict=True)).rstrip() + mark))
    return out
