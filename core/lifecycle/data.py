"""Training data of the demo models: scikit-learn's bundled datasets or a user's CSV, its digest, its split,
and the reference profile a later training's data is validated against (the seed's figure 1)."""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import BadInput

TARGET = "target"
# a feature's values may stray this far beyond the reference's range (in the reference's standard
# deviations) before validation calls them out of range
RANGE_SLACK_STD = 3.0
MAX_NULL_RATE = 0.0  # the demo models take no missing values
MAX_OUT_OF_RANGE = 0.01  # share of a feature's values allowed outside the range


@dataclass
class Data:
    X: list[list[float]]  # rows × features; NaN marks a missing value
    y: list[int]
    names: list[str]
    source: str
    classes: int = 0

    def __post_init__(self) -> None:
        self.classes = self.classes or (max(self.y) + 1 if self.y else 0)

    def digest(self) -> str:
        """sha256 of the exact rows, their order, names and labels: one changed value changes it."""
        h = hashlib.sha256()
        h.update(("\x1f".join(self.names) + "\x1e").encode())
        for row, label in zip(self.X, self.y, strict=True):
            h.update((",".join(repr(float(v)) for v in row) + f";{label}\n").encode())
        return h.hexdigest()


def bundled(name: str) -> Data:
    """A dataset that ships with scikit-learn (no download): digits, breast_cancer."""
    from sklearn import datasets

    loaders = {"digits": datasets.load_digits, "breast_cancer": datasets.load_breast_cancer}
    if name not in loaders:
        raise BadInput(f"no bundled dataset {name!r} (have: {', '.join(loaders)})")
    d = loaders[name]()
    names = [str(n) for n in getattr(d, "feature_names", [])] or [f"f{i}" for i in range(d.data.shape[1])]
    return Data(d.data.astype(float).tolist(), [int(v) for v in d.target], names, f"sklearn:{name}")


def read_csv(path: Path, names: list[str]) -> Data:
    """A user's CSV: a header naming `names` (any order) and `target`; one row per sample. Empty cells are
    missing values (for validation to report); anything else that is not a number is an error naming
    the file, line and column."""
    try:
        f = path.open(newline="", encoding="utf-8-sig")  # a spreadsheet's byte-order mark is not a column name
    except OSError as e:
        raise BadInput(f"{path}: {e.strerror}") from None
    try:
        return _read_rows(f, path, names)
    except UnicodeDecodeError as e:
        raise BadInput(f"{path}: not UTF-8 text (byte {e.start} of a line)") from None
    finally:
        f.close()


def _read_rows(f: Any, path: Path, names: list[str]) -> Data:
    reader = csv.reader(f)
    header = next(reader, None)
    if not header:
        raise BadInput(f"{path}:1: empty file, expected a header with {TARGET!r} and the features")
    missing = [n for n in [*names, TARGET] if n not in header]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise BadInput(f"{path}:1: the header lacks column(s) {shown}")
    at = {n: header.index(n) for n in [*names, TARGET]}
    X, y = [], []
    for line, row in enumerate(reader, start=2):
        if len(row) != len(header):
            raise BadInput(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
        try:
            label = int(row[at[TARGET]])
        except ValueError:
            raise BadInput(
                f"{path}:{line}: column {TARGET!r} must be a whole number, got {row[at[TARGET]]!r}"
            ) from None
        values = []
        for n in names:
            cell = row[at[n]].strip()
            try:
                values.append(float(cell) if cell else math.nan)
            except ValueError:
                raise BadInput(f"{path}:{line}: column {n!r} must be a number, got {cell!r}") from None
        X.append(values)
        y.append(label)
    if not X:
        raise BadInput(f"{path}: no rows after the header")
    return Data(X, y, names, f"file:{path.name}")


SPLIT_SEED = 20  # one held-out split for every version: the gate compares versions on the same rows


def split(n: int, test_share: float = 0.25) -> tuple[list[int], list[int]]:
    """(train, test) row indices of `n` rows: one fixed shuffle, whatever the training's seed, so that no
    version is judged on rows another one trained on."""
    import random

    order = list(range(n))
    random.Random(SPLIT_SEED).shuffle(order)
    cut = int(n * (1 - test_share))
    return order[:cut], order[cut:]


@dataclass
class Profile:
    """What a feature looked like in the training data: the reference of later validations."""

    features: dict[str, dict[str, float]] = field(default_factory=dict)  # name -> min, max, mean, std, null_rate
    classes: int = 0
    rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"features": self.features, "classes": self.classes, "rows": self.rows}


def profile(data: Data) -> Profile:
    out: dict[str, dict[str, float]] = {}
    for j, name in enumerate(data.names):
        col = [row[j] for row in data.X]
        seen = [v for v in col if not math.isnan(v)]
        mean = sum(seen) / len(seen) if seen else 0.0
        std = math.sqrt(sum((v - mean) ** 2 for v in seen) / len(seen)) if seen else 0.0
        out[name] = {
            "min": min(seen, default=0.0),
            "max": max(seen, default=0.0),
            "mean": round(mean, 6),
            "std": round(std, 6),
            "null_rate": round(1 - len(seen) / len(col), 6) if col else 0.0,
        }
    return Profile(out, data.classes, len(data.X))


def validate(data: Data, reference: dict[str, Any] | None) -> list[str]:
    """Problems of `data` against the reference profile (empty: it passes): schema (the features and
    classes the model knows), null rates, value ranges. With no reference, only what any data must be."""
    problems = []
    if min(data.y) < 0:
        problems.append(f"{TARGET}: negative labels ({min(data.y)}); classes are 0, 1, …")
    if len(set(data.y)) < 2:
        problems.append(f"{TARGET}: one class only ({sorted(set(data.y))}); a classifier needs two or more")
    for j, name in enumerate(data.names):
        col = [row[j] for row in data.X]
        nulls = sum(math.isnan(v) for v in col) / len(col)
        if nulls > MAX_NULL_RATE:
            problems.append(f"{name}: {nulls:.1%} missing (allowed {MAX_NULL_RATE:.0%})")
        infinite = sum(math.isinf(v) for v in col)
        if infinite:
            problems.append(f"{name}: {infinite} infinite value(s)")
    if not reference:
        return problems
    ref = reference.get("features", {})
    extra, lacking = set(data.names) - set(ref), set(ref) - set(data.names)
    if extra or lacking:
        problems.append(f"schema: features {sorted(lacking)[:5]} missing, {sorted(extra)[:5]} unknown to the reference")
    if reference.get("classes") and max(data.y) >= reference["classes"]:
        problems.append(f"{TARGET}: labels outside 0..{reference['classes'] - 1}")
    for j, name in enumerate(data.names):
        r = ref.get(name)
        if not r:
            continue
        slack = RANGE_SLACK_STD * max(r["std"], 1e-9)
        lo, hi = r["min"] - slack, r["max"] + slack
        col = [row[j] for row in data.X if not math.isnan(row[j])]
        out = sum(not lo <= v <= hi for v in col)
        if col and out / len(col) > MAX_OUT_OF_RANGE:
            problems.append(
                f"{name}: {out} of {len(col)} values outside the reference's {r['min']:g}..{r['max']:g} (±{RANGE_SLACK_STD:g} std)"
            )
    return problems
