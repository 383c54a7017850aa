"""Executors on an estate that bills whole nodes (model.fit_prices finds the node from the bills): the
executors a candidate needs to fill the nodes it pays for (packed), and the memory a retry's executors
leave empty on them, given back to it (filled)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autofix.features import JobMemory, untried
from autofix.space import SPACE, clamp
from core.spark import GiB, MiB, beside_overhead_bytes, default_overhead, overhead_factor

if TYPE_CHECKING:
    from autofix.features import Floats


def packed(rows: Floats, node: Floats) -> Floats:
    """The rows, and each whose executors leave their last `node` (vCPUs, GiB) part-empty again with the
    executors that fill the nodes it pays for: an estate that bills whole nodes charges for the empty part
    too, and more executors on it finish sooner. (Cut down to the nodes they fill instead, they ran past
    the SLA where the runtime model underestimated the slowdown: docs/recommender.md.)"""
    import numpy as np

    cpu, gib = (float(v) for v in node)
    per_node = np.floor(np.minimum(cpu / rows[:, 2], gib / (rows[:, 0] + rows[:, 1])) + 1e-6)
    fits = per_node >= 1
    filled = np.ceil(rows[fits, 3] / per_node[fits]) * per_node[fits]
    more = rows[fits][filled != rows[fits, 3]].copy()
    more[:, 3] = clamp("spark.executor.instances", filled[filled != rows[fits, 3]])
    out: Floats = np.vstack([rows, more])
    return out


def filled(
    rows: Floats, node: Floats, conf: dict[str, str], input_gib: float = 0.0, mem: JobMemory | None = None
) -> Floats:
    """The rows with their executors grown to fill the share of a node each already takes: where the
    estate bills whole nodes, the memory a node's executors leave empty is paid for anyway, and a heap
    given it spills and collects less. Heap and overhead grow in the proportion the row has them (an
    overhead Spark derives follows its heap), so the off-heap room grows with the heap it serves; the
    cores, executors and executors per node stay, and so do the nodes paid for; up to the space's
    bounds, never down. A container whose overhead follows a share nobody named (not the config, not
    the estate's bills, which name only the non-JVM 0.4) is left as it is: it may be larger than it looks
    (0.4 of the heap for a Python job on Kubernetes), and grown to the node's edge it would no longer
    pack. Given the job's memory, a row whose fill the job's runs never survived (features.untried) is
    left as it is too."""
    import numpy as np

    cpu, gib = (float(v) for v in node)
    heap, over, cores = rows[:, 0], rows[:, 1], rows[:, 2]
    per_node = np.floor(np.minimum(cpu / cores, gib / (heap + over)) + 1e-6)
    # (the share as default_overhead applies it, to three decimals; none where no valid one is named)
    named = overhead_factor(conf, default=-1.0) > 0
    share, beside = round(overhead_factor(conf) * 1000) / 1000, beside_overhead_bytes(conf) / GiB
    key = over - beside  # the memoryOverhead the row sets or Spark derives; PySpark's and off-heap memory stay
    room = gib / np.maximum(per_node, 1.0) - beside
    derived = np.array(
        [
            "spark.executor.memoryOverhead" not in conf
            and abs(k - default_overhead(int(h * GiB), share) / GiB) * GiB <= MiB
            for h, k in zip(heap, key, strict=True)
        ],
        dtype=bool,
    )
    least = default_overhead(0) / GiB  # Spark's least overhead, 384 MiB
    heap_bound, over_bound = SPACE["spark.executor.memory"][1] / GiB, SPACE["spark.executor.memoryOverhead"][1] / GiB
    # derived: max(384 MiB, share × heap) beside the heap; set: heap and overhead × the same factor
    factor = np.minimum.reduce([room / (heap + key), heap_bound / heap, over_bound / key])
    grown = np.where(
        derived,
        np.minimum.reduce([room / (1 + share), room - least, np.full(len(heap), heap_bound)]),
        heap * factor,
    )
    grown = np.floor(grown * 1024) / 1024  # whole MiB
    more = (per_node >= 1) & (grown > heap)
    if not named:
        more &= ~derived
    out = rows.copy()
    out[more, 0] = grown[more]
    keys = np.where(
        derived,
        [default_overhead(int(h * GiB), share) / GiB for h in grown],
        np.floor(key * np.minimum(factor, grown / heap) * 1024) / 1024,
    )
    out[more, 1] = keys[more] + beside
    if mem is not None:
        # a fixed PySpark memory, or Spark's least overhead, is a smaller share of a grown container: a fill
        # to a share the job's runs never survived (features.untried) is not made
        thin = untried(out, input_gib, mem) & ~untried(rows, input_gib, mem)
        out[thin] = rows[thin]
    return out
