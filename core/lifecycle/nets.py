"""The demo models' networks, built from their widths: a pruned model is the same network, narrower, so an
artifact's header (its widths, and whether it is int8) is enough to rebuild it before its weights load."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Spec:
    """A model the console can train: its bundled dataset, its network and the default params."""

    name: str
    dataset: str
    arch: str  # cnn | mlp
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""


CATALOG = {
    s.name: s
    for s in (
        Spec(
            "digits-cnn",
            "digits",
            "cnn",
            {"epochs": 15, "lr": 0.005, "batch": 64, "c1": 32, "c2": 64, "hidden": 128},
            "a small CNN on scikit-learn's 8×8 handwritten digits",
        ),
        Spec(
            "cancer-mlp",
            "breast_cancer",
            "mlp",
            {"epochs": 60, "lr": 0.003, "batch": 32, "hidden": 64},
            "an MLP on scikit-learn's Wisconsin breast-cancer table",
        ),
    )
}
# params that are not widths or training settings a user may set (`models train --param k=v`)
TRAINING_KEYS = ("epochs", "lr", "batch")


def spec(name: str) -> Spec:
    from core.errors import BadInput

    if name not in CATALOG:
        raise BadInput(
            f"no model {name!r} this console trains (have: {', '.join(CATALOG)}; retry-recommender: --data-window)"
        )
    return CATALOG[name]


def build(arch: str, widths: dict[str, int], features: int, classes: int) -> Any:
    import torch.nn as nn

    if arch == "cnn":  # 8×8 images, one channel
        return nn.Sequential(
            nn.Conv2d(1, widths["c1"], 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(widths["c1"], widths["c2"], 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(widths["c2"] * 16, widths["hidden"]),
            nn.ReLU(),
            nn.Linear(widths["hidden"], classes),
        )
    return nn.Sequential(
        nn.Linear(features, widths["hidden"]),
        nn.ReLU(),
        nn.Linear(widths["hidden"], widths.get("hidden2", widths["hidden"])),
        nn.ReLU(),
        nn.Linear(widths.get("hidden2", widths["hidden"]), classes),
    )


def widths_of(arch: str, net: Any) -> dict[str, int]:
    """The widths of a (possibly pruned) network, read from its layers."""
    if arch == "cnn":
        return {"c1": net[0].out_channels, "c2": net[2].out_channels, "hidden": net[6].out_features}
    return {"hidden": net[0].out_features, "hidden2": net[2].out_features}


def input_shape(arch: str, features: int) -> tuple[int, ...]:
    return (1, 8, 8) if arch == "cnn" else (features,)


def quantize(net: Any) -> Any:
    """Dynamic int8 of the Linear layers (torch.ao; convolutions stay in float, as torch leaves them)."""
    import warnings

    import torch
    import torch.nn as nn

    with warnings.catch_warnings():  # torch.ao's dynamic quantization announces torchao as its successor
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(net, {nn.Linear}, dtype=torch.qint8)  # type: ignore[no-untyped-call]
