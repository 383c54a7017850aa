"""Compression of a trained demo model: structural pruning that removes channels and neurons (Torch-Pruning's
dependency graph keeps the layers consistent), a short fine-tune, then dynamic int8 of the Linear layers
(torch.ao; torchao's `quantize_` targets GPUs and newer kernels). Before and after are measured, not
estimated: size of the serialized weights, CPU latency medians at batch 1 and 64, test accuracy."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from core.errors import BadInput
from core.lifecycle import nets
from core.lifecycle.data import Data, split
from core.lifecycle.train import Trained, accuracy, fine_tune, latency_ms, size_bytes

FINE_TUNE_EPOCHS = 10
FINE_TUNE_LR = 0.001
# the ratios --target-latency tries, least pruning first
RATIOS = (0.0, 0.25, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass
class Result:
    model: Trained
    ratio: float
    report: dict[str, Any]  # size_bytes, latency_ms, accuracy: each {before, after}


def prune(model: Trained, ratio: float) -> Trained:
    """A copy with `ratio` of each layer's channels/neurons removed (the classifier's outputs kept)."""
    import torch
    import torch_pruning as tp  # type: ignore[import-untyped]

    out = copy.deepcopy(model)
    if ratio <= 0:
        return out
    example = torch.randn(1, *nets.input_shape(model.arch, len(model.names)))
    pruner = tp.pruner.BasePruner(
        out.net,
        example,
        importance=tp.importance.GroupMagnitudeImportance(p=2),
        pruning_ratio=ratio,
        ignored_layers=[out.net[-1]],
    )
    pruner.step()
    return out


def quantized(model: Trained) -> Trained:
    out = copy.deepcopy(model)
    out.net, out.int8 = nets.quantize(out.net), True
    return out


def compress(
    model: Trained,
    data: Data,
    seed: int,
    ratio: float | None = None,
    int8: bool = True,
    target_latency_ms: float | None = None,
) -> Result:
    """Prune by `ratio`, or by the least ratio whose pruned (and int8) model meets `target_latency_ms` at
    batch 64 as measured here; fine-tune; quantize."""
    if ratio is None and target_latency_ms is None:
        raise BadInput(
            "say how much to compress: --prune RATIO, --target-latency MS, or --quantize int8 alone (--prune 0)"
        )
    if ratio is not None and not 0 <= ratio < 1:
        raise BadInput(f"--prune {ratio}: a share of each layer's channels, 0 <= ratio < 1")
    if model.int8:
        raise BadInput("this version is already int8: compress its parent instead")
    _, test = split(len(data.X))
    if ratio is None:
        ratio = _ratio_for(model, float(target_latency_ms or 0), int8)
    child = prune(model, ratio)
    if ratio > 0:
        fine_tune(child, data, seed, FINE_TUNE_EPOCHS, FINE_TUNE_LR)
    if int8:
        child = quantized(child)
    report = {
        "size_bytes": {"before": size_bytes(model), "after": size_bytes(child)},
        "latency_ms": {f"bs{b}": {"before": latency_ms(model, b), "after": latency_ms(child, b)} for b in (1, 64)},
        "accuracy": {"before": accuracy(model, data, test), "after": accuracy(child, data, test)},
    }
    return Result(child, ratio, report)


def _ratio_for(model: Trained, target_ms: float, int8: bool) -> float:
    """The least of RATIOS whose pruned model runs batch 64 within `target_ms` (measured, not counted in
    FLOPs); BadInput naming the best reached when none does."""
    best: tuple[float, float] = (float("inf"), RATIOS[0])  # (ms, ratio) of the fastest tried
    for ratio in RATIOS:
        candidate = prune(model, ratio)
        if int8:
            candidate = quantized(candidate)
        ms = latency_ms(candidate, 64)
        best = min(best, (ms, ratio))
        if ms <= target_ms:
            return ratio
    raise BadInput(
        f"--target-latency {target_ms:g} ms: not reached; the fastest pruning tried ({best[1]}) ran batch 64 in {best[0]:g} ms"
    )
