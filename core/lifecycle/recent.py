"""Recent data for a retrain after drift, and the training reference a version's drift is measured
against.

Where the estate is simulated, "recent data" is the bundled dataset as the simulator's drift moved the
world: covariate drift shifts every feature by that many of its standard deviations, prior drift drops
part of the lower half of the classes (the balance moves), concept drift gives a share of the rows their
neighbouring label — the rows of one region of the input space (the largest values of the feature that
varies most), so that the new meaning is a function of the inputs a model can learn, not label noise.
A real estate hands its own recent labelled data in (`--data`)."""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path
from typing import Any

from core.lifecycle.data import TARGET, Data
from core.monitoring import traffic


def drifted(d: Data, drift: dict[str, float], seed: int = 0) -> Data:
    rng = random.Random(seed)
    n_features = len(d.names)
    cols = [[row[j] for row in d.X] for j in range(n_features)]
    means = [sum(c) / len(c) for c in cols]
    # a constant feature (a digit image's blank corner) stays constant: drift moves what varies
    stds = [math.sqrt(sum((v - m) ** 2 for v in c) / len(c)) for c, m in zip(cols, means, strict=True)]
    shift = drift.get("covariate", 0.0)
    X = [[v + shift * s for v, s in zip(row, stds, strict=True)] for row in d.X]
    y = list(d.y)
    keep = list(range(len(X)))
    prior = drift.get("prior", 0.0)
    if prior:
        low = set(range(d.classes // 2))
        drop = min(0.9, abs(prior) * 2)
        keep = [i for i in keep if (y[i] in low) != (prior > 0) or rng.random() >= drop]
    concept = drift.get("concept", 0.0)
    if concept:
        j = max(range(n_features), key=lambda f: stds[f])
        region = sorted(keep, key=lambda i: X[i][j], reverse=True)[: int(len(keep) * concept)]
        for i in region:
            y[i] = (y[i] + 1) % d.classes
    return Data([X[i] for i in keep], [y[i] for i in keep], list(d.names), f"{d.source}+drift", d.classes)


def write_csv(d: Data, path: Path) -> Path:
    """The data as a CSV `read_csv` takes back (written aside, then renamed: never half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([*d.names, TARGET])
        for row, label in zip(d.X, d.y, strict=True):
            w.writerow([repr(float(v)) for v in row] + [label])
    tmp.replace(path)
    return path


def reference(model: Any, d: Data, idx: list[int], learned_drift: dict[str, float]) -> traffic.Reference:
    """The version's reference on its held-out rows: each row's mean standardised feature (against the
    network's own normalisation: what the server sees), the top class's probability, and the accuracy."""
    import torch

    rows = [d.X[i] for i in idx]
    with torch.inference_mode():
        x = model.inputs(rows)
        probs = torch.softmax(model.net(x), dim=1)
    z = ((torch.as_tensor(rows, dtype=torch.float32) - model.mean) / model.std).mean(dim=1).tolist()
    top = probs.max(dim=1)
    correct = (top.indices == torch.tensor([d.y[i] for i in idx])).float().mean().item()
    return traffic.Reference(
        traffic.histogram(z, traffic.INPUT_EDGES),
        traffic.histogram(top.values.tolist(), traffic.SCORE_EDGES),
        float(correct),
        {k: v for k, v in learned_drift.items() if v},
        len(idx),
    )
