"""From a failed attempt to a decision: the taxonomy's action, and for config-fixable failures the config
that minimises cost + λ·P(fail)·penalty over the search space, scored in one batch by the model.

The output changes only what needs changing: the keys whose value differs from the failed config."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autofix.features import JobMemory, blocks_per_slot, dominated, matrix, memory_kind, numbers, untried, with_failure
from autofix.packing import filled, packed
from autofix.space import SIZES, SPACE, clamp
from autofix.weights import LAMBDA, PENALTY_FACTOR
from core.spark import (
    SIZE_KEYS,
    GiB,
    MiB,
    beside_overhead_bytes,
    default_overhead,
    executors_key,
    format_size,
    overhead_factor,
    parse_size,
)
from core.taxonomy import CATEGORIES, UNCLASSIFIED
from core.types import probability_rounded

if TYPE_CHECKING:  # numpy is imported where it is used: the TUI's start does not wait for it
    import numpy.typing as npt

    from autofix.features import Floats, Mask
    from autofix.model import Predictor

SLA = 1.5  # a retry is to finish within this × the runtime the failed config would have had with enough memory
# of that limit, what the search plans for when the model has not measured its own runtime error on
# validation (model.Predictor.runtime_margin, learned at training, is used when it has)
RUNTIME_MARGIN = 0.8
MIN_PARTITION_GIB = 1 / 16  # 64 MiB: below the 100–200 MiB partitions of the usual rule of thumb
# the runtime model's error grows with how far a shape lies beyond what the job has run: past FAR_FREE
# doublings of the most shuffle blocks per slot a good run of the job fetched (features.blocks_per_slot),
# each further doubling plans for a runtime 2^FAR_COST as long. A prior, not learned: chosen by looking at the
# evaluation pairs default 11→3 and 11→5 of bench/evaluate_pairs.py, so those two are no unbiased check (README)
FAR_FREE = 2.5
FAR_COST = 0.6
# what each executor holds whatever its number of cores: Spark's reserved heap (300 MiB), and outside the
# heap the JVM's own native memory, for which Spark's least overhead (384 MiB) is the measure. Halving an
# executor (heap, overhead and cores) leaves each task the same share of what it holds but less of the rest
RESERVED = 300 / 1024  # GiB
NATIVE_FIXED = 384 / 1024  # GiB
NO_RETRY_BELOW = 0.5  # a config-fixable failure whose best candidate is this unlikely to succeed is not retried
# how far from the failed run's shape (recommend.novelty, in doublings) the model's word keeps its weight: at
# TRUST_DOUBLINGS doublings, exp(−1) of its certainty above a coin's toss is left. A prior, not learned:
# histories show few shape changes to learn it from. Chosen among 4, 8 and 16 on the independent world's
# seeds 1, 11, 12 and the project's pairs default 401→409 and other 403→411 (docs/recommender.md); 4
# fixed every failure there but spent up to 1.9× the cheapest fixes on the project's worlds, whose
# cheapest fixes are reshapes its history vouches for
TRUST_DOUBLINGS = 16.0
# a doubling of the partitions counts for this much of a step into the unknown (recommend.novelty), a
# halving for a whole one: more partitions keep the executor the job ran and only make each task's share of
# the data smaller — Spark's tuning guide calls it the simplest fix for a task's OutOfMemoryError. At a
# whole step the search bought heap instead (random worlds 7313, 7318: docs/recommender.md)
MORE_PARTITIONS_WEIGHT = 0.5
# below this P(success) the model is unsure of its best config, and the retry is the floor instead: the
# memory that ran out raised FLOOR_RAISE× at the failed run's shape (recommend.floor)
SURE = 0.8
FLOOR_RAISE = 1.5


@dataclass
class Decision:
    run_id: str
    category: str
    rule_id: str | None
    action: str
    conf: dict[str, str] = field(default_factory=dict)  # changed keys only
    p_success: float | None = None
    expected_cost: float | None = None
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None  # why the retry is not the model's own pick (the floor)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "category": self.category,
            "rule_id": self.rule_id,
            "action": self.action,
            "conf": self.conf,
            "p_success": self.p_success,
            "expected_cost": self.expected_cost,
            "note": self.note,
        }


def grid(conf: dict[str, str], kind: str | None = None) -> Floats:
    """Reshapings of a config around itself, as an N×7 array (heap GiB, overhead GiB, cores, instances,
    partitions, driver GiB, result limit GiB): memory down or up, overhead up, other cores per executor
    with as many slots in all, fewer or more partitions — and their combinations; for a driver failure
    (`kind` "driver" or "driver_result") each of them with more driver memory too, its result limit raised to match, or with
    the result limit alone raised (up to the driver's memory) when the driver has no more to get."""
    import numpy as np

    heap, over, cores, inst, parts, driver, result = numbers(conf)
    driver_side = kind in ("driver", "driver_result")  # its heap, or the results it collects

    def rounded(key: str, values: npt.ArrayLike) -> Floats:  # clamped, in whole MiB for sizes
        v = clamp(key, np.asarray(values, dtype=np.float64))
        out: Floats = np.round(v / MiB) * MiB / GiB if key in SIZES else np.round(v)
        return out

    def axis(key: str, values: npt.ArrayLike) -> Floats:  # one dimension's values, each once, ascending
        # (a set of a handful of floats: np.unique's fixed cost was a tenth of the search's time)
        return np.array(sorted(set(rounded(key, values).tolist())))

    heaps = axis("spark.executor.memory", heap * GiB * np.array([0.25, 0.35, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 4]))
    # raises of the overhead: an overhead the job leaves to Spark is the cluster manager's share of the
    # heap — 0.1, or 0.4 for non-JVM jobs on Kubernetes — which the config does not say. Written as a
    # number from the 0.1 guess, a "raise" can cut a PySpark pod's overhead to a third (docs/recommender.md):
    # so it is raised only where it ran out, and otherwise left unset, following the row's heap
    unknown = "spark.executor.memoryOverhead" not in conf
    raises = np.array([1.0] if unknown and kind != "overhead" else [1, 1.5, 2, 3, 4])
    coreset = axis("spark.executor.cores", [1, 2, 4, cores, min(8, cores * 2), 8])
    partset = axis("spark.sql.shuffle.partitions", parts * np.array([0.5, 1, 2, 4, 8, 16]))
    drivers = axis(
        "spark.driver.memory", driver * GiB * np.array([1, 1.5, 2, 3, 4, 6, 8, 16, 32] if driver_side else [1])
    )
    # (driver, result limit) pairs: more driver memory with the limit raised to it; for a driver already at
    # the space's bound, the limit alone, up to the driver's memory. Only there: bigger results need a
    # bigger heap to land in, and history (where owners raise both) never shows what a limit raised
    # alone does — the model would guess; measured, it guessed success for runs that then died of the
    # driver's OOM (README)
    pairs = [(d, max(result, d) if d > driver else result) for d in drivers]
    if driver_side and driver * GiB >= SPACE["spark.driver.memory"][1]:
        pairs += [
            (driver, r) for r in np.unique(np.minimum(driver, result * np.array([1.25, 1.5, 2, 3, 4]))) if r > result
        ]
    # (heap, overhead) pairs: each heap with the overheads it is tried with, each pair once, ascending
    # at the share the config names, else Spark's 0.1 (a job's own share: autofix/overhead_share.py)
    share, beside = overhead_factor(conf), beside_overhead_bytes(conf)
    overs = (
        np.array([default_overhead(int(h * GiB), share) + beside for h in heaps])
        if unknown
        else np.full(len(heaps), over * GiB)
    )
    # an overhead left to Spark is what Spark derives from the heap, not a setting the search's bounds hold
    derived = unknown and kind != "overhead"
    sized = (
        np.round(overs / MiB) * MiB / GiB
        if derived
        # the key's value is what is raised and held to the space's bounds, not the PySpark and off-heap
        # memory beside it in the row
        else rounded("spark.executor.memoryOverhead", np.outer(overs - beside, raises)).ravel() + beside / GiB
    )
    ho = np.unique(np.stack([np.repeat(heaps, len(raises)), sized], axis=1), axis=0)
    k, c, pt, i = (
        a.ravel() for a in np.meshgrid(np.arange(len(ho)), coreset, partset, np.arange(len(pairs)), indexing="ij")
    )
    dr = np.asarray(pairs, dtype=np.float64)[i]
    return np.stack(
        [ho[k, 0], ho[k, 1], c, clamp("spark.executor.instances", np.round(cores * inst / c)), pt, dr[:, 0], dr[:, 1]],
        axis=1,
    )


def to_conf(conf: dict[str, str], row: Iterable[float]) -> dict[str, str]:
    """A grid row back into Spark's syntax; overhead is written only when it is not Spark's default, the
    other keys only when they were set or change — a key the job leaves to Spark's default stays unset
    when the row keeps that default, so the answer names only what changes."""
    heap, over, cores, inst, parts, driver, result = (float(v) for v in row)
    old = numbers(conf)
    out = dict(conf)
    if "spark.executor.memory" in conf or abs(heap - old[0]) * GiB > MiB:
        out["spark.executor.memory"] = format_size(int(heap * GiB))
    # the row's overhead holds PySpark's and off-heap memory too (features.numbers), which keep their keys
    over_key = over * GiB - beside_overhead_bytes(conf)
    if (
        "spark.executor.memoryOverhead" in conf
        or abs(over_key - default_overhead(int(heap * GiB), overhead_factor(conf))) > MiB
    ):
        out["spark.executor.memoryOverhead"] = format_size(int(over_key))
    # maxExecutors for a job under dynamic allocation
    for key, value, before in (
        ("spark.executor.cores", cores, old[2]),
        (executors_key(conf), inst, old[3]),
        ("spark.sql.shuffle.partitions", parts, old[4]),
    ):
        if key in conf or int(value) != int(before):
            out[key] = str(int(value))
    if abs(driver - old[5]) * GiB > MiB:
        out["spark.driver.memory"] = format_size(int(driver * GiB))
    if abs(result - old[6]) * GiB > MiB:
        out["spark.driver.maxResultSize"] = format_size(int(result * GiB))
    return out


def candidates(conf: dict[str, str], kind: str | None = None) -> list[dict[str, str]]:
    return [to_conf(conf, row) for row in grid(conf, kind)]


def search(
    predictor: Predictor,
    conf: dict[str, str],
    input_bytes: int,
    mem: JobMemory,
    lam: float = LAMBDA,
    penalty: float | None = None,
    keep: int = 3,
    kind: str | None = None,
    penalty_factor: float = PENALTY_FACTOR,
    sla: float = SLA,
) -> list[tuple[float, float, float, dict[str, str]]]:
    """(score, p_success, expected cost, config) of the `keep` best, best first: every candidate inside
    the memory room the job has succeeded with (features.untried; when none is, all) scored in one
    batch (_judged); of them, those inside the box of what the model has seen, widened to the failed
    config's own features, when any of those is likely to succeed — else all, their features clipped
    into the model's box. `penalty`: the cost of a failed retry, by default `penalty_factor` × the model's
    cost for the failed config. `sla`: the runtime limit, a multiple of the runtime with enough memory
    (inf: none). On an estate billed by the node, a retry for an executor's memory comes back with the
    node share it takes filled (`filled`); its P(success) and cost are those of the row as scored, which
    has less memory on the same nodes."""
    import numpy as np

    rows, base = grid(conf, kind), numbers(conf)
    if predictor.node is not None:  # an estate that bills whole nodes (model.fit_prices)
        rows = packed(rows, predictor.node)
    # no more executors than any run it learned from got (or the failed run had): a cluster's quotas and
    # maxExecutors policies are nowhere in a config, only in what runs were given. A reshape past it gets
    # that many (fewer slots in all, which the runtime model prices) rather than being dropped: dropped,
    # a job already near the quota could not be given fewer cores per executor, and more heap per task
    # only at sizes past the space's bound (docs/recommender.md)
    if predictor.most_executors is not None:
        rows = rows.copy()
        rows[:, 3] = np.minimum(rows[:, 3], max(predictor.most_executors, base[3]))
    # the candidates, the failed config and the SLA's reference rows in one batch of features
    everything = matrix(np.vstack([rows, [base], enough_memory_rows(conf)]), input_bytes, mem)
    X, own, more = everything[: len(rows)], everything[len(rows) : len(rows) + 1], everything[len(rows) + 1 :]
    # what the job's own failures rule out, and what gives each running task less of what just ran out
    ruled_out = dominated(rows, input_bytes / GiB, mem) | starved(rows, base, kind)
    # the rule of thumb's floor on partition size (unless the job already runs smaller ones): tasks much
    # smaller pay more in launch and shuffle-fetch time than they save, and the runtime model has seen
    # too few of them to tell
    gib = input_bytes / GiB
    tiny = gib / rows[:, 4] < min(MIN_PARTITION_GIB, gib / base[4])
    known = ~ruled_out & ~untried(rows, gib, mem) & ~tiny
    if known.any():
        rows, X, ruled_out = rows[known], X[known], ruled_out[known]
    # a model is not to be trusted far from anything it has seen — nor from where the job itself has run:
    # a job beyond the training data's box (a terabyte job, trained on smaller ones) is asked about
    # shapes within the box widened to take in its own failed config. Asked at the box's edge instead,
    # features clipped there, the model lost what a reshape changes and planned 5–16× the partitions
    # that ran 2–3× its runtime (README). Only when nothing there is likely to work: the edge, as before
    trusted = predictor.seen(X, also=own)
    p, cost, _, _ = _judged(predictor, base, input_bytes, mem, rows, X, more, ruled_out, also=own, sla=sla)
    if (trusted & (p >= NO_RETRY_BELOW)).any():
        rows, p, cost = rows[trusted], p[trusted], cost[trusted]
    elif not predictor.seen(own).all():  # (inside the plain box already, the two boxes are one)
        p, cost, _, _ = _judged(predictor, base, input_bytes, mem, rows, X, more, ruled_out, also=None, sla=sla)
    p = honest(p, novelty(rows, base))
    if penalty is None:
        penalty = penalty_factor * float(predictor.predict(own)[1][0])
    score = cost + lam * (1 - p) * penalty
    top = np.argpartition(score, keep)[:keep] if len(score) > keep else np.arange(len(score))
    best = top[np.argsort(score[top], kind="stable")]
    chosen = rows[best]
    if predictor.node is not None and kind in ("heap", "overhead"):  # the executor's memory ran out
        chosen = filled(chosen, predictor.node, conf, gib, mem)
    return [
        (float(score[i]), float(p[i]), float(cost[i]), to_conf(conf, row)) for i, row in zip(best, chosen, strict=True)
    ]


def appraise(
    predictor: Predictor,
    conf: dict[str, str],
    input_bytes: int,
    mem: JobMemory,
    confs: list[dict[str, str]],
    kind: str | None = None,
    lam: float = LAMBDA,
    penalty_factor: float = PENALTY_FACTOR,
) -> list[dict[str, Any]]:
    """What the search makes of each of `confs` as a retry of the failed `conf`, had it been a candidate:
    the rules that would set it aside (starved, dominated, untried, tiny partitions, outside the model's
    box), and its P(success) after `honest`, expected cost, planned runtime against the limit, and score.
    The search's own steps, for a person or a diagnostic asking why a config was not the one picked
    (bench/k8s_gap.py). Judged in the model's box widened to the failed config, as the search judges
    first; where none of its candidates there was likely to succeed, the search judged them all in the
    plain box instead, and its P for a config outside the box differs from this one."""
    import numpy as np

    rows, base = np.array([numbers(c) for c in confs], dtype=np.float64).reshape(-1, 7), numbers(conf)
    everything = matrix(np.vstack([rows, [base], enough_memory_rows(conf)]), input_bytes, mem)
    n = len(rows)
    X, own, more = everything[:n], everything[n : n + 1], everything[n + 1 :]
    gib = input_bytes / GiB
    starve, dom = starved(rows, base, kind), dominated(rows, gib, mem)
    p, cost, runtime, limit = _judged(predictor, base, input_bytes, mem, rows, X, more, starve | dom, also=own)
    p = honest(p, novelty(rows, base))
    penalty = penalty_factor * float(predictor.predict(own)[1][0])
    flags = {
        "starved": starve,
        "dominated": dom,
        "untried": untried(rows, gib, mem),
        "tiny": gib / rows[:, 4] < min(MIN_PARTITION_GIB, gib / base[4]),
        "outside": ~predictor.seen(X, also=own),
    }
    return [
        {
            **{k: bool(v[i]) for k, v in flags.items()},
            "p_success": float(p[i]),
            "expected_cost": float(cost[i]),
            "runtime": None if runtime is None else float(runtime[i]),
            "limit": limit,
            "score": float(cost[i] + lam * (1 - p[i]) * penalty),
        }
        for i in range(n)
    ]


def novelty(rows: Floats, failed: Iterable[float]) -> Floats:
    """How far each row's shape lies from the failed run's, in doublings: the Euclidean length of the log2
    changes of cores per executor, executors and partitions (a raise of the partitions weighed by
    MORE_PARTITIONS_WEIGHT), plus each halving of the heap or overhead.
    More memory of the same shape is no step into the unknown; a new shape, or less memory, is."""
    import numpy as np

    heap, over, cores, inst, parts, _, _ = (float(v) for v in failed)
    shape = np.log2(rows[:, 2:5] / np.array([cores, inst, parts]))
    shape[:, 2] = np.where(shape[:, 2] > 0, shape[:, 2] * MORE_PARTITIONS_WEIGHT, shape[:, 2])
    cuts = np.maximum(0.0, -np.log2(rows[:, 0] / heap)) + np.maximum(0.0, -np.log2(rows[:, 1] / over))
    far: Floats = np.sqrt((shape**2).sum(axis=1)) + cuts
    return far


def honest(p: Floats, far: Floats) -> Floats:
    """P(success) drawn towards a coin's toss the further a shape lies from what the job has run: the
    model has seen the estate's shapes, not this job at that one. exp(−far ÷ TRUST_DOUBLINGS) of what it says
    above 0.5 is kept; a P below 0.5 is left as it is."""
    import numpy as np

    shrunk: Floats = np.where(p > 0.5, 0.5 + (p - 0.5) * np.exp(-far / TRUST_DOUBLINGS), p)
    return shrunk


FLOOR_OF_KIND = {"heap": "executor heap", "overhead": "executor memory overhead", "driver": "driver memory"}


def floor(conf: dict[str, str], kind: str | None) -> tuple[dict[str, str], str] | None:
    """The safe simple fix for the memory that ran out, as Pinterest's retries and Kubernetes' VPA make it:
    that memory FLOOR_RAISE× at the failed run's shape, nothing else changed — (config, what was raised);
    None where it cannot be raised (at the space's bound) or the failure is not one of a Spark memory.
    An overhead the job leaves to Spark is raised through the heap it follows (its share is not known)."""
    heap, over, cores, inst, parts, driver, result = numbers(conf)
    row = [heap, over, cores, inst, parts, driver, result]
    raised = f"is raised {FLOOR_RAISE:g}×"
    if kind == "overhead" and "spark.executor.memoryOverhead" not in conf:
        kind, what = "heap", f"executor heap (with the memory overhead that follows it) {raised}"
    elif kind == "driver_result":
        what = "result limit is doubled, up to the driver's memory (both raised where it is there already)"
    else:
        what = f"{FLOOR_OF_KIND.get(kind or '', 'memory')} {raised}"
    if kind == "heap":
        row[0] = min(heap * FLOOR_RAISE, SPACE["spark.executor.memory"][1] / GiB)
        if "spark.executor.memoryOverhead" not in conf:
            row[1] = (default_overhead(int(row[0] * GiB), overhead_factor(conf)) + beside_overhead_bytes(conf)) / GiB
    elif kind == "overhead":
        beside = beside_overhead_bytes(conf) / GiB  # (in the row's overhead, not the key's: features.numbers)
        row[1] = min((over - beside) * FLOOR_RAISE, SPACE["spark.executor.memoryOverhead"][1] / GiB) + beside
    elif kind == "driver":
        row[5] = min(driver * FLOOR_RAISE, SPACE["spark.driver.memory"][1] / GiB)
        row[6] = max(result, row[5]) if result >= driver else result
    elif kind == "driver_result":
        row[6] = min(result * 2, driver)
        if row[6] <= result:  # the limit is the driver's memory already: both go up
            row[5] = min(driver * FLOOR_RAISE, SPACE["spark.driver.memory"][1] / GiB)
            row[6] = row[5]
    else:
        return None
    out = to_conf(conf, row)
    return (out, what) if changed(conf, out) else None


def starved(rows: Floats, failed: Iterable[float], kind: str | None) -> Mask:
    """The rows that give each running task less of the memory that ran out than the failed config did:
    for a heap OOM, Spark's unified memory per task, (heap − 300 MiB) × spark.memory.fraction ÷ running
    tasks (the fraction and spark.task.cpus are the job's, the same in every row: heap less the reserve
    per core compares them); for a container kill, overhead per running task past the executor's fixed
    native memory (strictly more of it: the same again is killed again) and the container (heap +
    overhead) per running task; for the driver, its memory;
    for results over the limit, the limit. Physics, not a model's opinion: such a row is never
    recommended, however sure a model is about it."""
    import numpy as np

    heap, over, cores, _, _, driver, result = (float(v) for v in failed)
    eps = 1e-9
    if kind == "heap":
        return (rows[:, 0] - RESERVED) / rows[:, 2] < (heap - RESERVED) / cores - eps
    if kind == "overhead":
        # strictly more overhead per task than the killed container had (more partitions barely shrink what
        # a task holds outside the heap), and the container as a whole not made smaller per task
        native = (rows[:, 1] - NATIVE_FIXED) / rows[:, 2] <= (over - NATIVE_FIXED) / cores + eps
        container = RESERVED + NATIVE_FIXED
        return native | ((rows[:, 0] + rows[:, 1] - container) / rows[:, 2] < (heap + over - container) / cores - eps)
    if kind == "driver":
        return rows[:, 5] < driver - eps
    if kind == "driver_result":
        return rows[:, 6] < result - eps
    return np.zeros(len(rows), dtype=bool)


def _judged(
    predictor: Predictor,
    base: tuple[float, ...],
    input_bytes: int,
    mem: JobMemory,
    rows: Floats,
    X: Floats,
    more: Floats,
    ruled_out: Mask,
    also: Floats | None,
    sla: float = SLA,
) -> tuple[Floats, Floats, Floats | None, float | None]:
    """(P(success), expected cost, planned runtime, the runtime limit) of the candidate rows, features
    clipped into the model's box (widened by the rows `also`); P is 0 where the job's failures rule a row
    out or the planned runtime is past the limit (the SLA with a margin for the model's error) — planning
    for longer the further a shape's shuffle blocks per slot lie beyond what the job has run (FAR_FREE,
    FAR_COST). `base`: the failed config's numbers; `more`: the features of enough_memory_rows, the SLA's
    reference. The runtimes and the limit are None for a model without a price list."""
    import numpy as np

    p, cost, runtime = predictor.predict_all(np.vstack([X, more]), clip=True, also=also)
    n = len(X)
    p, cost = np.where(ruled_out, 0.0, p[:n]), cost[:n]
    if runtime is None:
        return p, cost, None, None
    margin = getattr(predictor, "runtime_margin", None) or RUNTIME_MARGIN
    # the reference (enough_memory_runtime) asked in the same box as the candidates it limits
    limit = sla * margin * float(np.min(runtime[n:]))
    # beyond the shapes the job has run, plan for more (the failed config's own shape counts as run)
    gib = input_bytes / GiB
    _, _, cores, inst, parts, _, _ = base
    ref = max(mem.ok_blocks, float(blocks_per_slot(gib, parts, cores * inst)))
    far = np.maximum(0.0, np.log2(blocks_per_slot(gib, rows[:, 4], rows[:, 2] * rows[:, 3]) / ref) - FAR_FREE)
    planned = runtime[:n] * np.exp2(FAR_COST * far)
    return np.where(planned > limit, np.minimum(p, 0.0), p), cost, planned, limit


def enough_memory_runtime(predictor: Predictor, conf: dict[str, str], input_bytes: int, mem: JobMemory) -> float:
    """The runtime the failed config would have had with enough memory — the SLA's reference: the
    model's runtime for the same shape (cores, executors, partitions) with ever more heap and overhead
    (enough_memory_rows), the least of them. A config short of memory spills before it dies, so the
    model's runtime for the failed config itself includes that slowdown, and a limit taken from it would
    be lenient by as much. (The search scores these rows with its candidates, in the same box: _judged.)"""
    import numpy as np

    runtime = predictor.predict_all(matrix(enough_memory_rows(conf), input_bytes, mem), clip=True)[2]
    if runtime is None:  # (was a TypeError from float(None))
        raise ValueError("the model has no price list: it predicts no runtime")
    return float(np.min(runtime))


def enough_memory_rows(conf: dict[str, str]) -> Floats:
    """The failed config's shape with 1–8× its heap and overhead, as rows of a grid — no more of either than
    the search space holds (SPACE), which no retry gets past: asked about a 216-GiB heap, a model
    extrapolates a runtime no retry can reach, and a limit taken from it rules out every fix but the
    dearest (docs/recommender.md)."""
    import numpy as np

    more = np.repeat(np.asarray([numbers(conf)], dtype=np.float64), 6, axis=0)
    factors = np.array([1, 1.5, 2, 3, 4, 8])
    beside = beside_overhead_bytes(conf) / GiB  # held to no bound: the row's overhead holds it beside the key's
    for column, key, fixed in ((0, "spark.executor.memory", 0.0), (1, "spark.executor.memoryOverhead", beside)):
        own = more[:, column] - fixed
        more[:, column] = np.maximum(own, np.minimum(own * factors, SPACE[key][1] / GiB)) + fixed
    return more


def changed(old: dict[str, str], new: dict[str, str]) -> dict[str, str]:
    """The keys of `new` whose value differs from `old`'s — a size by what it is, not how it is spelled
    (a bare 4096 of executor memory is 4g)."""

    def same(key: str, a: str | None, b: str) -> bool:
        if a == b or a is None or key not in SIZE_KEYS:
            return a == b
        try:
            return abs(parse_size(a, key) - parse_size(b, key)) < MiB
        except ValueError:
            return False

    return {k: v for k, v in new.items() if not same(k, old.get(k), v)}


def decide(
    record: dict[str, Any],
    category: str,
    rule_id: str | None,
    predictor: Predictor | None,
    mem: JobMemory,
    lam: float = LAMBDA,
    penalty_factor: float = PENALTY_FACTOR,
) -> Decision:
    """The decision for one failed attempt. A config-fixable failure gets the best config found — unless
    even that one is predicted to fail (P(success) < NO_RETRY_BELOW): then no_retry, for a doomed retry
    only costs money; its candidates stay in `alternatives` for a person to look at."""
    action = CATEGORIES.get(category)
    d = Decision(record["run_id"], category, rule_id, action or "no_retry")
    kind = memory_kind(record)
    if category == UNCLASSIFIED or action == "retry_with_conf":
        if predictor is None:
            raise LookupError("no trained model")
        mem = with_failure(mem, record)  # what this failure shows about the config is evidence too
        searched = functools.partial(
            search, predictor, record["conf"], record["input_bytes"], mem, lam, kind=kind, penalty_factor=penalty_factor
        )
        best = searched()
        top = best[0]
        if category == UNCLASSIFIED:
            same_p = float(predictor.predict(matrix([numbers(record["conf"])], record["input_bytes"], mem))[0][0])
            # doomed retries cost money: retry an unclassified failure only when the model expects success
            if top[1] >= 0.5 and top[1] > same_p + 0.1:
                d.action, d.conf = "retry_with_conf", changed(record["conf"], top[3])
                d.p_success, d.expected_cost = probability_rounded(top[1]), round(top[2], 4)
            elif same_p >= 0.5:
                d.action, d.p_success = "retry", probability_rounded(same_p)
            else:
                d.action, d.p_success = "no_retry", probability_rounded(same_p)
            return d
        alternatives = best[1:3]
        safe = floor(record["conf"], kind) if NO_RETRY_BELOW <= top[1] < SURE else None
        slow = None
        if top[1] < NO_RETRY_BELOW and kind in ("heap", "overhead", "driver", "driver_result"):
            # a memory failure is doomed when no config gives it the memory, not when the model plans
            # every config that does past the runtime limit: a late job beats a failed one, and the
            # limit is the search's own reference (enough memory at the failed shape), stricter than a
            # deadline its owner may have. So the search is asked again without the limit
            slow = searched(sla=math.inf)[0]
        if slow is not None and slow[1] >= SURE:
            d.conf, d.expected_cost = changed(record["conf"], slow[3]), round(slow[2], 4)
            d.note = (
                f"past the SLA: the model plans every config likely to fit in memory past {SLA:g}× the runtime "
                "the failed config would have with enough memory; this is the best of them"
            )
            alternatives, top = best[:2], slow
        elif top[1] < NO_RETRY_BELOW:
            d.action, alternatives = "no_retry", best[:2]
        elif safe is not None:  # unsure of every config it found: the simple fix, the model's pick an alternative
            conf, what = safe
            p, cost = predictor.predict(matrix([numbers(conf)], record["input_bytes"], mem), clip=True)
            d.conf, d.expected_cost = changed(record["conf"], conf), round(float(cost[0]), 4)
            d.note = (
                f"floor: the model is unsure of every config it found (P(success) {top[1]:.2f} for the best), "
                f"so the {what} at the failed run's shape, as a VPA-style bump would"
            )
            alternatives, top = best[:2], (top[0], float(p[0]), float(cost[0]), conf)
        else:
            d.conf, d.expected_cost = changed(record["conf"], top[3]), round(top[2], 4)
        d.p_success = probability_rounded(top[1])
        d.alternatives = [
            {
                "conf": changed(record["conf"], s[3]),
                "p_success": probability_rounded(s[1]),
                "expected_cost": round(s[2], 4),
            }
            for s in alternatives
        ]
    return d
