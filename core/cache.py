"""The console's cache directory: what is costly to make and the same every time (compiled rule databases,
the demo estate's trained models). Everything in it is checked before use and may be deleted at any time."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    if os.environ.get("MLOPS_CONSOLE_CACHE"):
        return Path(os.environ["MLOPS_CONSOLE_CACHE"])
    try:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    except (RuntimeError, KeyError):  # no home to be found (a bare container user): the temp dir serves
        base = tempfile.gettempdir()
    return Path(base) / "mlops-console"
