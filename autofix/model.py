"""The retry recommender's models: a torch multi-task MLP (P(success), log cost) and a scikit-learn
baseline (logistic regression, ridge) on the same features, chosen by validation on a time split.

Artifacts are plain tensors (torch.save of a dict of tensors, read back with weights_only=True), named by
their sha256 in the registry: nothing is ever unpickled. torch and scikit-learn are imported here only.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from autofix.features import NAMES

if TYPE_CHECKING:  # numpy and torch are imported where they are used: the TUI's start does not wait for them
    import numpy as np
    import numpy.typing as npt

    Array = npt.NDArray[Any]

MODEL = "retry-recommender"
FETCH = NAMES.index("blocks_per_last_ok_second")  # the config's shuffle blocks per slot ÷ the last good run's seconds
ANCHOR = NAMES.index("scaled_last_ok_runtime")  # log2 of the job's own runtime scaled to the row (0: none)
LOG_RUNTIME = (0.0, 14.0)  # the runtime models' answers stay within 1 s .. 1.2 M s (no overflow in exp)
# how far beyond the range of each feature it was trained on a family is trusted (Predictor._box), as a
# share of that range: it depends on how the family extrapolates. The linear family's answers there
# follow the slopes it fitted on all of its rows, in features that are logs of sizes, counts and times;
# a ReLU network's follow whichever of its pieces lie at the edge. Measured (README): a quarter lets a
# bigger estate's jobs be reshaped past the training estate's largest partitions and overhead, which
# their cheapest fixes need (spend on seven never-seen-estate pairs 1.33–1.51 → 1.13–1.23); for the network
# the same margin sent terabyte jobs to far reshapes that ran past the SLA
TRUST_MARGIN = {"sklearn-linear": 0.25, "torch-mlp": 0.05}


def anchor(X: npt.ArrayLike) -> Array:
    """The natural log of each row's anchor runtime (features.scaled_runtime), 0 where the job has none:
    the runtime models learn log(runtime) minus this — a correction to the job's own scaled past."""
    import numpy as np

    column: Array = np.asarray(X, dtype=np.float64)[:, ANCHOR] * np.log(2.0)
    return column


def rate_design(X: npt.ArrayLike, node: npt.ArrayLike | None = None) -> Array:
    """Resources by the hour from the features (log2 of heap, overhead, instances, driver; cores raw): the
    columns of a price list (resources). Prices are learned from history, not assumed."""
    import numpy as np

    X = np.asarray(X, dtype=np.float64)
    return resources(np.exp2(X[:, 1]), np.exp2(X[:, 2]), X[:, 3], np.exp2(X[:, 4]), np.exp2(X[:, 6]), node)


# the nodes an estate that bills whole nodes may pack its executors onto: the vCPUs and GiB per vCPU of
# the usual compute-, general- and memory-optimised instance families
NODE_CPUS = (2, 4, 8, 16, 32, 48, 64, 96)
GIB_PER_CPU = (2, 4, 8)
# a node shape is taken only where it explains the estate's bills this much better than prices per core
# and per GiB do: an estate billed by the core and GiB is explained by both about as well
NODE_EVIDENCE = 0.25


def resources(
    heap: Array, over: Array, cores: Array, inst: Array, driver: Array, node: npt.ArrayLike | None = None
) -> Array:
    """What runs hold by the hour, the columns of a price list (sizes in GiB): cores in use, GiB of executor
    containers, GiB of driver, 1 — or, for an estate that packs executors onto whole nodes of `node`
    (vCPUs, GiB), the nodes they take, GiB of driver, 1: a container shape that packs badly wastes the
    rest of its node, which a price per core and per GiB cannot see."""
    import numpy as np

    if node is None:
        return np.stack([cores * inst, inst * (heap + over), driver, np.ones(len(heap))], axis=1)
    cpu, gib = (float(v) for v in np.asarray(node, dtype=np.float64))
    pod = heap + over
    per_node = np.floor(np.minimum(cpu / cores, gib / pod) + 1e-6)  # (sizes come back through log2)
    # an executor larger than a node cannot be placed on one: costed as the nodes it would span, not as one
    nodes = np.where(
        per_node >= 1,
        np.ceil(inst / np.maximum(per_node, 1.0)),
        inst * np.maximum(np.ceil(cores / cpu), np.ceil(pod / gib)),
    )
    return np.stack([nodes, driver, np.ones(len(heap))], axis=1)


def per_hour(cost: npt.ArrayLike, runtime: npt.ArrayLike) -> Array:
    """What each run cost per hour (a runtime under a second counts as one)."""
    import numpy as np

    rate: Array = np.asarray(cost, dtype=np.float64) / np.maximum(np.asarray(runtime, dtype=np.float64), 1.0) * 3600.0
    return rate


def price_list(design: npt.ArrayLike, cost: npt.ArrayLike, runtime: npt.ArrayLike) -> Array:
    """The price of each column of a rate_design from what runs cost per hour (non-negative least squares)."""
    import numpy as np
    from scipy.optimize import nnls

    hourly = per_hour(cost, runtime)
    rate: Array = nnls(np.asarray(design, dtype=np.float64), hourly)[0]
    return rate


class Prices(NamedTuple):
    """An estate's price list: `rate` per column of its resources; `node` (vCPUs, GiB) where it bills whole nodes."""

    rate: Array
    node: Array | None = None


def fit_prices(
    heap: Array, over: Array, cores: Array, inst: Array, driver: Array, cost: Array, runtime: Array
) -> Prices:
    """The price list that explains what runs cost per hour: per core and GiB, or per whole node of the
    shape (NODE_CPUS × GIB_PER_CPU) that explains the bills best, where it does so NODE_EVIDENCE× better
    (squared relative error)."""
    import numpy as np

    hourly = per_hour(cost, runtime)
    weight = 1.0 / np.maximum(hourly, 1e-9)

    def fit(node: tuple[float, float] | None) -> tuple[float, Array]:
        design = resources(heap, over, cores, inst, driver, node)
        rate = price_list(design, cost, runtime)
        return float(np.sum((((design @ rate) - hourly) * weight) ** 2)), rate

    linear_error, linear = fit(None)
    best: tuple[float, Array, tuple[float, float] | None] = (linear_error * NODE_EVIDENCE, linear, None)
    for cpu in NODE_CPUS:
        for per in GIB_PER_CPU:
            error, rate = fit((cpu, cpu * per))
            if error < best[0]:
                best = (error, rate, (cpu, cpu * per))
    return Prices(best[1], None if best[2] is None else np.asarray(best[2], dtype=np.float64))


MIN_BILLS = 20  # succeeded runs with a cost and a runtime before an estate's own prices are read from them
MAX_BILLS = 2000  # the newest bills are the prices now (and fitting more only takes longer)


def estate_prices(records: list[dict[str, Any]]) -> Prices | None:
    """The estate's price list from its own bills (fit_prices): what its succeeded Spark runs cost per hour
    against what they held. None with fewer than MIN_BILLS such runs."""
    import numpy as np

    from autofix.features import numbers

    bills = [
        r
        for r in records
        if r.get("kind") == "spark" and r.get("status") == "succeeded" and r.get("cost") and r.get("runtime_seconds")
    ]
    if len(bills) < MIN_BILLS:
        return None
    bills = sorted(bills, key=lambda r: str(r.get("submitted_at", "")))[-MAX_BILLS:]
    n = np.asarray([numbers(r["conf"]) for r in bills], dtype=np.float64)
    cost = np.asarray([r["cost"] for r in bills], dtype=np.float64)
    runtime = np.asarray([r["runtime_seconds"] for r in bills], dtype=np.float64)
    return fit_prices(n[:, 0], n[:, 1], n[:, 2], n[:, 3], n[:, 5], cost, runtime)


class Predictor:
    """Either family, from its tensors: predict(X) -> (p_success, expected cost of a success)."""

    def __init__(self, tensors: dict[str, Any], meta: dict[str, Any]):
        self.t, self.meta = tensors, meta
        self.family = meta["family"]
        # numpy copies: scoring a grid of ~1,500 rows is too small for torch's per-call overhead to pay
        self.a: dict[str, Array] = {k: v.detach().cpu().numpy() for k, v in tensors.items() if hasattr(v, "numpy")}

    def _box(self, also: npt.ArrayLike | None = None) -> tuple[Array, Array] | None:
        """The box of the training data (and TRUST_MARGIN of each feature's range beyond it), widened to
        take in the rows `also` — runs the job itself has had, whose neighbourhood its own history vouches
        for. None: no box recorded."""
        import numpy as np

        lo, hi = self.a.get("lo"), self.a.get("hi")
        if lo is None or hi is None:  # (an artifact has both or neither)
            return None
        lo, hi = lo.astype(np.float64), hi.astype(np.float64)
        margin = TRUST_MARGIN.get(self.family, 0.05) * (hi - lo)
        lo, hi = lo - margin, hi + margin
        if also is not None:
            also = np.asarray(also, dtype=np.float64)
            lo, hi = np.minimum(lo, also.min(0)), np.maximum(hi, also.max(0))
        return lo, hi

    def repriced(self, prices: Prices | None) -> Predictor:
        """The same model costing runs at another price list (estate_prices): prices are the estate's own,
        whatever estate the model learned its runtimes on. Itself when there is none, or it has no runtimes."""
        import copy

        import numpy as np

        if prices is None or "rate" not in self.a:
            return self
        other = copy.copy(self)
        other.a = {k: v for k, v in self.a.items() if k != "node"}
        other.a["rate"] = np.asarray(prices.rate, dtype=np.float64)
        if prices.node is not None:
            other.a["node"] = np.asarray(prices.node, dtype=np.float64)
        return other

    @property
    def most_executors(self) -> float | None:
        """The most executors a run it learned from had (None: no box recorded)."""
        hi = self.a.get("hi")
        return None if hi is None else float(round(2.0 ** float(hi[NAMES.index("instances")])))

    @property
    def node(self) -> Array | None:
        """(vCPUs, GiB) of the node the estate bills whole (repriced), or None where it bills cores and GiB."""
        return self.a.get("node")

    @property
    def runtime_margin(self) -> float | None:
        """The share of a runtime limit the search plans for: exp(−the validation's 90th percentile of
        runtime underestimation) of the chosen family, learned at training (None: not measured)."""
        m = self.a.get("runtime_margin")
        return None if m is None else float(m)

    def seen(self, X: npt.ArrayLike, also: npt.ArrayLike | None = None) -> npt.NDArray[np.bool_]:
        """Which rows lie inside the box (self._box): where predictions mean something."""
        import numpy as np

        X = np.asarray(X, dtype=np.float32)
        box = self._box(also)
        if box is None:
            return np.ones(len(X), dtype=bool)
        lo, hi = (b.astype(np.float32) for b in box)
        return np.asarray(((X >= lo) & (X <= hi)).all(axis=1))

    def clip(self, X: npt.ArrayLike, also: npt.ArrayLike | None = None) -> npt.ArrayLike:
        """Rows moved into the box (self._box), feature by feature: what the model says at the edge of
        what it has seen stands for what lies beyond it."""
        import numpy as np

        box = self._box(also)
        return X if box is None else np.clip(np.asarray(X, dtype=np.float64), *box)

    def predict(self, X: npt.ArrayLike, clip: bool = False, also: npt.ArrayLike | None = None) -> tuple[Array, Array]:
        """(P(success), expected cost) of each row. `clip`: the networks see the rows moved into their
        box (self.clip, widened by `also`); the price and the runtime anchor stay those of the rows themselves."""
        p, cost, _ = self.predict_all(X, clip, also)
        return p, cost

    def predict_all(
        self, X: npt.ArrayLike, clip: bool = False, also: npt.ArrayLike | None = None
    ) -> tuple[Array, Array, Array | None]:
        """(P(success), expected cost, expected runtime in seconds — None for models without a price list)."""
        import numpy as np

        a = self.a
        x = (np.asarray(self.clip(X, also) if clip else X, dtype=np.float32) - a["mean"]) / a["std"]
        if self.family == "torch-mlp":
            h = np.maximum(x @ a["w1"].T + a["b1"], 0)
            h = np.maximum(h @ a["w2"].T + a["b2"], 0)
            out = h @ a["w3"].T + a["b3"]
            logit, logcost = out[:, 0], out[:, 1]
        else:
            logit = x @ a["clf_w"] + a["clf_b"]
            logcost = x @ a["reg_w"] + a["reg_b"]
        p = 0.5 * (1.0 + np.tanh(0.5 * logit))  # the logistic function, without overflow
        logcost = logcost.astype(np.float64)
        if "rate" in a:  # cost = learned price of the resources × predicted runtime
            rate = np.maximum(rate_design(X, a.get("node")) @ a["rate"].astype(np.float64), 1e-6)
            if self.meta.get("runtime_anchor"):
                logcost = logcost + anchor(X)
            runtime = np.exp(np.clip(logcost, *LOG_RUNTIME))
            return p, rate * runtime / 3600.0, runtime
        return p, np.exp(np.clip(logcost, -20.0, 20.0)), None


def _time_split(when: list[str], frac: float = 0.8) -> tuple[list[int], int]:
    order = sorted(range(len(when)), key=lambda i: when[i])
    return order, int(len(order) * frac)


def train(
    X: list[list[float]],
    y: list[int],
    cost: list[float],
    when: list[str],
    seed: int = 0,
    device: str | None = None,
    runtime: list[float] | None = None,
    validation_p: dict[int, float] | None = None,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Train both families on the older 80 %, validate on the newer 20 %, refit the better on everything.
    Returns (tensors, meta, metrics). `validation_p`, when given, receives the chosen family's P(success)
    for each validation row, by row index (what the gate compares with production on)."""
    import numpy as np
    import torch

    Xa, ya, ca = np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.float32), np.asarray(cost, dtype=np.float32)
    ra = np.asarray(runtime if runtime is not None else np.full(len(y), np.nan), dtype=np.float32)
    order, cut = _time_split(when)
    tr, va = np.asarray(order[:cut]), np.asarray(order[cut:])
    results, val_p = {}, {}
    for family in ("torch-mlp", "sklearn-linear"):
        fit_loss: list[float] = []
        tensors = _fit(family, Xa[tr], ya[tr], ca[tr], seed, device, ra[tr], fit_loss)
        p, c, rt = Predictor(tensors, {"family": family, "runtime_anchor": "rate" in tensors}).predict_all(Xa[va])
        results[family] = _metrics(p, ya[va], c, ca[va])
        val_p[family] = p
        if fit_loss:
            results[family]["train_loss"] = [round(v, 4) for v in fit_loss]
        if rt is not None:
            results[family]["val_runtime_underestimate_p90"] = _underestimate(rt, ra[va], ya[va])
    best = min(results, key=lambda f: results[f]["val_logloss"])
    if validation_p is not None:
        validation_p.update(zip(va.tolist(), val_p[best].tolist(), strict=True))
    curve: list[float] = []
    tensors = _fit(best, Xa, ya, ca, seed, device, ra, curve)
    under = results[best].get("val_runtime_underestimate_p90")
    if under is not None:  # what the search plans for: the limit less the model's own error (recommend.search)
        tensors["runtime_margin"] = torch.tensor(float(np.exp(-max(0.0, under))), dtype=torch.float64)
    meta = {"family": best, "features": list(NAMES), "seed": seed, "runtime_anchor": "rate" in tensors}
    metrics = {"chosen": best, "validation": results, "rows": len(y), "train_rows": int(cut), "val_rows": len(va)}
    if "runtime_margin" in tensors:
        metrics["runtime_margin"] = round(float(tensors["runtime_margin"]), 4)
    if curve:
        metrics["train_loss"] = [round(v, 4) for v in curve]
    return tensors, meta, metrics


def _fit(
    family: str,
    X: Array,
    y: Array,
    cost: Array,
    seed: int,
    device: str | None,
    runtime: Array | None = None,
    curve: list[float] | None = None,
) -> dict[str, Any]:
    """The fitted model's tensors; a network's mean training loss per epoch appended to `curve`."""
    import numpy as np
    import torch

    mean, std = X.mean(0), X.std(0) + 1e-6
    Z = (X - mean) / std
    ok = y > 0.5
    logc = np.log(np.maximum(cost, 1e-6))
    prices = None
    if runtime is not None and np.isfinite(runtime).all() and ok.sum() >= 10:
        held = X[ok].astype(np.float64)  # (log2 of heap, overhead, instances and driver; cores raw)
        heap, over, inst, driver = (np.exp2(held[:, i]) for i in (1, 2, 4, 6))
        prices = fit_prices(heap, over, held[:, 3], inst, driver, cost[ok], runtime[ok])
        # the models learn runtime (cost is price × runtime), as a correction to the job's own past
        logc = (np.log(np.maximum(runtime, 1.0)) - anchor(X)).astype(np.float32)
    # the box of what the model has seen: the search does not trust it outside (see recommend.search)
    t = {
        "mean": torch.as_tensor(mean),
        "std": torch.as_tensor(std),
        "lo": torch.as_tensor(X.min(0)),
        "hi": torch.as_tensor(X.max(0)),
    }
    if prices is not None:
        t["rate"] = torch.as_tensor(prices.rate, dtype=torch.float64)
        if prices.node is not None:
            t["node"] = torch.as_tensor(prices.node, dtype=torch.float64)
    if family == "sklearn-linear":
        from sklearn.linear_model import LogisticRegression, Ridge

        clf = LogisticRegression(C=1.0, max_iter=2000).fit(Z, y.astype(int)) if len(set(y.tolist())) > 1 else None
        reg = Ridge(alpha=1.0).fit(Z[ok], logc[ok]) if ok.any() else None
        if reg is not None and reg.coef_[FETCH] < 0:
            # more shuffle blocks to fetch never make a run faster: history at the owners' shapes does not
            # show the fetch cost, and a negative weight, extrapolated, predicted far reshapes to speed up
            # (README). Held at 0: the refit without the feature, the constrained least squares' answer
            held = Z[ok].copy()
            held[:, FETCH] = 0.0
            reg = Ridge(alpha=1.0).fit(held, logc[ok])
        t["clf_w"] = torch.as_tensor(clf.coef_[0] if clf is not None else np.zeros(Z.shape[1]), dtype=torch.float32)
        t["clf_b"] = torch.tensor(float(clf.intercept_[0]) if clf is not None else 0.0)
        t["reg_w"] = torch.as_tensor(reg.coef_ if reg is not None else np.zeros(Z.shape[1]), dtype=torch.float32)
        t["reg_b"] = torch.tensor(float(reg.intercept_) if reg is not None else 0.0)
        return t
    torch.manual_seed(seed)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    net = torch.nn.Sequential(
        torch.nn.Linear(Z.shape[1], 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 2),
    ).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-5)
    Zt, yt = torch.as_tensor(Z, device=dev), torch.as_tensor(y, device=dev)
    ct, okt = torch.as_tensor(logc, device=dev), torch.as_tensor(ok, device=dev)
    n = len(Zt)
    epochs = max(8, min(60, int(400_000 / max(n, 1))))
    g = torch.Generator(device="cpu").manual_seed(seed)
    for _ in range(epochs):
        total, batches = torch.zeros((), device=dev), 0  # summed on the device: no sync per batch
        for idx in torch.randperm(n, generator=g).split(512):  # type: ignore[no-untyped-call]  # torch leaves Tensor.split unannotated
            idx = idx.to(dev)
            out = net(Zt[idx])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(out[:, 0], yt[idx])
            m = okt[idx]
            if m.any():
                loss = loss + torch.nn.functional.mse_loss(out[m, 1], ct[idx][m])
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
            opt.step()
            total += loss.detach()
            batches += 1
        if curve is not None:
            curve.append(float(total) / max(batches, 1))
    lin = [m for m in net if isinstance(m, torch.nn.Linear)]
    for i, layer in enumerate(lin, start=1):
        t[f"w{i}"] = layer.weight.detach().cpu()
        t[f"b{i}"] = layer.bias.detach().cpu()
    return t


def _underestimate(predicted: Array, actual: Array, y: Array) -> float | None:
    """How much longer than predicted the slowest tenth of the validation successes ran: the 90th
    percentile of log(actual ÷ predicted runtime), what a limit must leave room for."""
    import numpy as np

    ok = (y > 0.5) & np.isfinite(actual) & (actual > 0)
    if ok.sum() < 10:
        return None
    return round(float(np.quantile(np.log(actual[ok] / predicted[ok]), 0.9)), 4)


def _metrics(p: Array, y: Array, c: Array, cost: Array) -> dict[str, Any]:
    import numpy as np

    eps = 1e-6
    pc = np.clip(p, eps, 1 - eps)
    logloss = float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc)))
    acc = float(np.mean((p >= 0.5) == (y > 0.5)))
    ok = y > 0.5
    cost_err = (
        float(np.median(np.abs(np.log(np.maximum(c[ok], eps)) - np.log(np.maximum(cost[ok], eps)))))
        if ok.any()
        else None
    )
    return {
        "val_logloss": round(logloss, 4),
        "val_accuracy": round(acc, 4),
        "val_cost_median_abs_log_error": None if cost_err is None else round(cost_err, 4),
        "reliability": reliability(p, y),
    }


def reliability(p: npt.ArrayLike, y: npt.ArrayLike) -> list[dict[str, Any]]:
    """Calibration in tenths: in each bin of predicted P(success), how many, the mean predicted, the share
    that did succeed."""
    import numpy as np

    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    table = []
    for lo in np.arange(0, 1, 0.1):
        m = (p >= lo) & (p < lo + 0.1 + (1e-9 if lo >= 0.9 else 0))
        if m.any():
            table.append(
                {
                    "bin": f"{lo:.1f}-{lo + 0.1:.1f}",
                    "n": int(m.sum()),
                    "predicted": round(float(p[m].mean()), 3),
                    "observed": round(float(y[m].mean()), 3),
                }
            )
    return table


def expected_calibration_error(table: list[dict[str, Any]]) -> float | None:
    """ECE of a reliability table: the gap between predicted and observed success in each bin, weighted by
    the bin's share of the predictions (None: no predictions)."""
    n = sum(int(b["n"]) for b in table)
    if not n:
        return None
    gap: float = sum(float(b["n"]) * abs(float(b["predicted"]) - float(b["observed"])) for b in table)
    return round(gap / n, 4)


# -- artifacts: tensors only, checked by sha256 before they are read (core.artifacts) --------------------
RETRAIN = "retrain with `autofix train`"


def save(path: Path, tensors: dict[str, Any], meta: dict[str, Any]) -> str:
    from core import artifacts

    return artifacts.save(path, tensors, meta)


def load(path: Path, sha256: str) -> Predictor:
    from core import artifacts
    from core.errors import ConsoleError

    blob, meta = artifacts.load(path, sha256, RETRAIN)
    if meta.get("features") != list(NAMES):
        raise ConsoleError(f"model artifact {path} was trained on other features than this version computes; {RETRAIN}")
    return Predictor(blob, meta)


def data_digest(records: list[dict[str, Any]]) -> str:
    h = hashlib.sha256()
    for r in sorted(records, key=lambda r: r["run_id"]):
        h.update(json.dumps(r, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]
