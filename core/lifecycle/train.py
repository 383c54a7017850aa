"""Deterministic training of the demo models, their accuracy, size and latency, and their artifacts.

Same seed, same data, same machine: the same weights and metrics (torch's deterministic algorithms, one
seeded generator for init and batches). CUDA when torch sees it, unless params say `device=cpu`."""

from __future__ import annotations

import io
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.errors import BadInput, ConsoleError
from core.lifecycle import nets
from core.lifecycle.data import Data, split

# progress(epoch, epochs, loss, eta_seconds)
Progress = Callable[[int, int, float, float], None]


class Cancelled(ConsoleError):
    """The user stopped the training: nothing was registered."""


@dataclass
class Trained:
    arch: str
    net: Any  # torch.nn.Module
    mean: Any  # tensor: per feature, subtracted before the network
    std: Any
    names: list[str]
    classes: int
    int8: bool = False

    @property
    def widths(self) -> dict[str, int]:
        return nets.widths_of(self.arch, self.net)

    def inputs(self, X: Any) -> Any:
        import torch

        x = (torch.as_tensor(X, dtype=torch.float32) - self.mean) / self.std
        return x.view(-1, *nets.input_shape(self.arch, len(self.names)))

    def to_artifact(self) -> tuple[dict[str, Any], dict[str, Any]]:
        tensors = {"state": self.net.state_dict(), "mean": self.mean, "std": self.std}
        meta = {
            "arch": self.arch,
            "widths": self.widths,
            "names": self.names,
            "classes": self.classes,
            "int8": self.int8,
        }
        return tensors, meta

    @classmethod
    def from_artifact(cls, tensors: dict[str, Any], meta: dict[str, Any]) -> Trained:
        net = nets.build(meta["arch"], meta["widths"], len(meta["names"]), meta["classes"])
        if meta.get("int8"):
            net = nets.quantize(net)
        net.load_state_dict(tensors["state"])
        net.eval()
        return cls(
            meta["arch"], net, tensors["mean"], tensors["std"], meta["names"], meta["classes"], bool(meta.get("int8"))
        )


def params_for(spec: nets.Spec, given: dict[str, str]) -> dict[str, Any]:
    """The spec's defaults with the user's `--param k=v` (each checked against the default's type)."""
    out = dict(spec.defaults)
    for k, v in given.items():
        if k not in out:
            raise BadInput(f"--param {k}: {spec.name} has no such param (has: {', '.join(out)})")
        try:
            out[k] = type(out[k])(v)
        except ValueError:
            raise BadInput(f"--param {k}={v}: must be {type(out[k]).__name__}") from None
        if not math.isfinite(out[k]) or out[k] <= 0:
            raise BadInput(f"--param {k}={v}: must be a positive finite number")
    return out


def kept_params(chosen: dict[str, Any], seed: int, data: Data, data_path: str | None = None) -> dict[str, Any]:
    """What a version records of its training: the params, the seed, its data and the data's reference
    profile (what the next training's data is validated against)."""
    from pathlib import Path

    from core.lifecycle.data import profile

    return {
        **chosen,
        "seed": seed,
        "data": data.source,
        # where a file was read from: evaluate, gate and compress read it again (its digest checked)
        **({"data_path": str(Path(data_path).resolve())} if data_path else {}),
        "data_reference": profile(data).to_dict(),
    }


def _seeded(seed: int) -> Any:
    import torch

    torch.manual_seed(seed)
    # cuBLAS is deterministic only with a fixed workspace (PyTorch's reproducibility notes); set before
    # the first CUDA call of the process
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def fit(
    spec: nets.Spec,
    data: Data,
    params: dict[str, Any],
    seed: int,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    device: str | None = None,
) -> tuple[Trained, dict[str, Any]]:
    """Train on the split's training rows; metrics on its test rows."""
    import torch

    train_idx, test_idx = split(len(data.X))
    X = torch.tensor(data.X, dtype=torch.float32)
    if spec.arch == "cnn":
        mean, std = torch.zeros(X.shape[1]), torch.full((X.shape[1],), 16.0)  # pixel values 0..16
    else:
        mean, std = X[train_idx].mean(0), X[train_idx].std(0).clamp_min(1e-6)
    g = _seeded(seed)
    net = nets.build(
        spec.arch, {k: v for k, v in params.items() if k not in nets.TRAINING_KEYS}, X.shape[1], data.classes
    )
    model = Trained(spec.arch, net, mean, std, data.names, data.classes)
    losses = _train_loop(model, data, train_idx, params, g, progress, cancelled, device)
    metrics = {"accuracy": accuracy(model, data, test_idx), "train_loss": losses, "test_rows": len(test_idx)}
    return model, metrics


def _train_loop(
    model: Trained,
    data: Data,
    idx: list[int],
    params: dict[str, Any],
    g: Any,
    progress: Progress | None,
    cancelled: Callable[[], bool] | None,
    device: str | None,
) -> list[float]:
    import torch
    import torch.nn.functional as F

    if device == "cuda" and not torch.cuda.is_available():
        raise BadInput("--device cuda: torch sees no CUDA device here")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    x = model.inputs([data.X[i] for i in idx]).to(dev)
    y = torch.tensor([data.y[i] for i in idx], dtype=torch.long, device=dev)
    net = model.net.to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=params["lr"])
    epochs, batch, losses, start = int(params["epochs"]), int(params["batch"]), [], time.monotonic()
    for epoch in range(1, epochs + 1):
        net.train()
        order, total = torch.randperm(len(y), generator=g).to(dev), 0.0
        for b in range(0, len(y), batch):
            if cancelled and cancelled():
                raise Cancelled("training cancelled; nothing was registered")
            pick = order[b : b + batch]
            opt.zero_grad()
            loss = F.cross_entropy(net(x[pick]), y[pick])
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            total += float(loss.detach()) * len(pick)
        losses.append(round(total / len(y), 6))
        if progress:
            elapsed = time.monotonic() - start
            progress(epoch, epochs, losses[-1], elapsed / epoch * (epochs - epoch))
    model.net = net.to("cpu").eval()
    return losses


def fine_tune(model: Trained, data: Data, seed: int, epochs: int, lr: float, batch: int = 64) -> list[float]:
    """A few epochs at a low rate after pruning (without them accuracy falls 12–50 points)."""
    train_idx, _ = split(len(data.X))
    return _train_loop(
        model, data, train_idx, {"epochs": epochs, "lr": lr, "batch": batch}, _seeded(seed), None, None, "cpu"
    )


def accuracy(model: Trained, data: Data, idx: list[int]) -> float:
    import torch

    with torch.inference_mode():
        pred = model.net(model.inputs([data.X[i] for i in idx])).argmax(1)
    return round(float((pred == torch.tensor([data.y[i] for i in idx])).float().mean()), 4)


def size_bytes(model: Trained) -> int:
    """Bytes of the serialized weights (what an artifact or an image carries)."""
    import torch

    buf = io.BytesIO()
    torch.save(model.net.state_dict(), buf)
    return len(buf.getvalue())


def latency_ms(model: Trained, batch: int, repeats: int = 100) -> float:
    """Median wall time of one forward pass of `batch` rows on one CPU thread, after a warm-up."""
    import torch

    x = torch.randn(batch, *nets.input_shape(model.arch, len(model.names)))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            for _ in range(10):
                model.net(x)
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                model.net(x)
                times.append(time.perf_counter() - t)
    finally:
        torch.set_num_threads(threads)
    return round(statistics.median(times) * 1000, 4)
