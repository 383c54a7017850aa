"""The search space's bounds: the least and most of each setting a retry the recommender proposes may have
(recommend.grid, recommend.floor, packing.filled). A retry never passes them, so neither do the rows the
model is asked about (recommend.enough_memory_rows)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.spark import RETRY_SPACE, SIZE_KEYS

if TYPE_CHECKING:  # numpy is imported where it is used: the TUI's start does not wait for it
    import numpy.typing as npt

    from autofix.features import Floats

SPACE = RETRY_SPACE
SIZES = tuple(k for k in SPACE if k in SIZE_KEYS)  # the memory settings, in bytes


def clamp(key: str, value: npt.ArrayLike) -> Floats:
    """`value` held to the space's bounds for `key`."""
    import numpy as np

    lo, hi = SPACE[key]
    out: Floats = np.clip(value, lo, hi)
    return out
