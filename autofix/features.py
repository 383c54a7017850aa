"""Features of a (job, config, input) for the retry recommender: the parsed config (Spark's syntax and
defaults), the input, per-task quantities derived from them (partition size, memory per core, load per
task, tasks per slot), and what the job's own history says — the largest load per task it survived and
the smallest it died of, for heap, off-heap and driver memory, and how long its last good run took on
which shape.

Everything is learnable from history records alone: nothing here knows the world's formulas. The
quantities are the ones a Spark engineer reasons with (bytes per partition, heap per concurrent task,
waves of tasks over the slots); how they turn into success, runtime and cost is left to the models.
A reference the job's history does not have yet (no success, no failure of a kind) gives a ratio of 0
and a flag, never a sentinel: the box of seen features (model.Predictor.seen) stays meaningful."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.spark import GiB, beside_overhead_bytes, executors_key, overhead_bytes, size_of

if TYPE_CHECKING:  # numpy itself is imported where it is used: the TUI's start does not wait for it
    import numpy as np
    import numpy.typing as npt

    Floats = npt.NDArray[np.float64]
    Mask = npt.NDArray[np.bool_]
    Numbers = float | Floats  # one number, or one for each row

# where a task's load nears the one it died of, spilling slows it: a piecewise-linear basis in
# log2(load ÷ failing load) with knots at these values lets the linear models learn that curve (and
# the last good run's place on it) from history, without assuming its shape
SPILL_KNOTS = (-2.0, -1.5, -1.0, -0.5)
# the first seven are the config's own numbers, in this order (model.rate_design reads them)
NAMES = (
    "input_gib",
    "heap_gib",
    "overhead_gib",
    "cores",
    "instances",
    "partitions",
    "driver_gib",
    "result_gib",
    "partition_gib",
    "heap_per_core_gib",
    "overhead_per_core_gib",
    "load",
    "slots",
    "input_per_slot_gib",
    "tasks_per_slot",
    "shuffle_blocks_per_slot",
    "has_ok",
    "load_vs_ok",
    "has_heap_fail",
    "load_vs_fail",
    "offheap_vs_ok",
    "has_offheap_fail",
    "offheap_vs_fail",
    "driver_vs_ok",
    "has_driver_fail",
    "driver_vs_fail",
    "result_vs_ok",
    "has_result_fail",
    "result_vs_fail",
    "log_failures_seen",
    "log_driver_failures_seen",
    "runs_seen",
    "input_vs_last_ok",
    "last_ok_runtime",
    "last_ok_slot_seconds_per_gib",
    "scaled_last_ok_runtime",
    *(f"load_vs_fail_above_{k}" for k in SPILL_KNOTS),
    *(f"last_ok_load_vs_fail_above_{k}" for k in SPILL_KNOTS),
    "blocks_per_last_ok_second",
    "last_ok_blocks_per_last_ok_second",
)
N = len(NAMES)
COLUMNS = 7  # of a config row: heap, overhead, cores, instances, partitions, driver, result limit
MAP_SPLIT = 128 * 1024**2  # Spark's default input split (spark.sql.files.maxPartitionBytes): a map task each
FAILS_KEPT = 40  # the memory failures of a job kept as evidence (the newest)
# the shares of the input a job's largest task may hold whatever the partitions (JobMemory.floor), tried
# from 2^-20 to 1 in quarter doublings
FLOORS = tuple(2.0 ** (-k / 4) for k in range(80, -1, -1))


def _l2(x: float) -> float:
    return math.log2(max(x, 1e-9))


@dataclass
class JobMemory:
    """What one job's history has shown so far (updated in time order)."""

    ok_load: float = 0.0  # largest partition-per-heap-per-core load a run survived
    fail_load: float = math.inf  # smallest such load a heap OOM died of
    ok_offheap: float = math.inf  # smallest overhead per core it ran with and survived
    ok_over_share: float = math.inf  # smallest share of overhead in the container it ran with and survived
    fail_offheap: float = 0.0  # largest overhead per core it was killed with
    ok_driver: float = math.inf  # smallest driver memory per GiB of input a run succeeded with
    fail_driver: float = 0.0  # largest driver memory per GiB of input a driver OOM happened with
    ok_result: float = math.inf  # the same for spark.driver.maxResultSize
    fail_result: float = 0.0  # largest maxResultSize per GiB of input that results were bigger than
    failures: int = 0
    driver_failures: int = 0
    runs: int = 0
    ok_blocks: float = 0.0  # most shuffle blocks per slot a run succeeded with (how far its shapes have gone)
    last_ok: dict[str, float] | None = None  # the last good run: input, runtime, partitions, slots, heap/core
    # the share of the input the largest task holds however many partitions there are: a hot key, which
    # no repartitioning splits. 0 until the job's own history contradicts "more partitions, smaller tasks"
    # (a heap OOM at a smaller load than a run survived): then the least share that makes its runs and
    # heap failures agree again (_fit_floor); every load of the job is taken with it (effective_load)
    floor: float = 0.0
    oks: list[tuple[float, float, float]] = field(
        default_factory=list
    )  # the newest good runs: input, partitions, heap/core
    seen: set[str] = field(default_factory=set)  # the run ids learned (a failure is learned once)
    # the job's latest memory failures: (kind, input GiB, heap, overhead, cores, partitions, driver, result)
    fails: list[tuple[str, float, float, float, float, float, float, float]] = field(default_factory=list)

    def effective_load(self, input_gib: Numbers, partitions: Numbers, heap_per_core: Numbers) -> Floats:
        """Partition per GiB of heap per running task, the partition no smaller than the job's floor."""
        import numpy as np

        return np.maximum(np.asarray(input_gib) / partitions, self.floor * np.asarray(input_gib)) / heap_per_core

    def learn(self, q: dict[str, float], status: str, failure: str | None, runtime: float | None = None) -> None:
        self.runs += 1
        load = float(self.effective_load(q["input_gib"], q["partitions"], q["heap_per_core_gib"]))
        if status == "succeeded":
            self.oks = (self.oks + [(q["input_gib"], q["partitions"], q["heap_per_core_gib"])])[-FAILS_KEPT:]
        if status != "succeeded" and failure in ("heap", "overhead", "driver", "driver_result"):
            self.fails = (
                self.fails
                + [
                    (
                        failure,
                        q["input_gib"],
                        q["heap_gib"],
                        q["overhead_gib"],
                        q["cores"],
                        q["partitions"],
                        q["driver_gib"],
                        q["result_gib"],
                    )
                ]
            )[-FAILS_KEPT:]
        driver = q["driver_gib"] / max(q["input_gib"], 1e-3)
        result = q["result_gib"] / max(q["input_gib"], 1e-3)
        if status == "succeeded":
            self.ok_result = min(self.ok_result, result)
            self.ok_load = max(self.ok_load, load)
            self.ok_offheap = min(self.ok_offheap, q["overhead_per_core_gib"])
            self.ok_over_share = min(self.ok_over_share, q["overhead_gib"] / (q["heap_gib"] + q["overhead_gib"]))
            self.ok_driver = min(self.ok_driver, driver)
            self.ok_blocks = max(self.ok_blocks, float(blocks_per_slot(q["input_gib"], q["partitions"], q["slots"])))
            if runtime:
                self.last_ok = {
                    "input_gib": q["input_gib"],
                    "runtime": float(runtime),
                    "partitions": q["partitions"],
                    "slots": q["slots"],
                    "heap_per_core_gib": q["heap_per_core_gib"],
                }
        elif failure == "heap":
            self.fail_load = min(self.fail_load, load)
            self.failures += 1
        elif failure == "overhead":
            self.fail_offheap = max(self.fail_offheap, q["overhead_per_core_gib"])
            self.failures += 1
        elif failure == "driver":
            self.fail_driver = max(self.fail_driver, driver)
            self.driver_failures += 1
        elif failure == "driver_result":
            self.fail_result = max(self.fail_result, result)
            self.driver_failures += 1
        if self.fail_load < self.ok_load * (1 - 1e-6) and failure in (None, "heap"):
            self._fit_floor()

    def _fit_floor(self) -> None:
        """The least floor (FLOORS) under which every kept good run's load lies below every kept heap
        failure's — or, where none separates them, the one that leaves the widest gap; ok_load and
        fail_load retaken with it. A floor only grows: the hot key's share of the input does not shrink."""
        import numpy as np

        heap = [f for f in self.fails if f[0] == "heap"]
        if not self.oks or not heap:
            return
        ok = np.asarray(self.oks)
        bad = np.asarray([(f[1], f[5], (f[2] - 0.3) / f[4]) for f in heap])
        floors = np.asarray([f for f in FLOORS if f >= self.floor] or [self.floor])[:, None]

        def loads(runs: Floats) -> Floats:
            return np.maximum(runs[:, 0] / runs[:, 1], floors * runs[:, 0]) / np.maximum(1e-3, runs[:, 2])

        gap = np.log2(loads(bad).min(axis=1) / loads(ok).max(axis=1))
        now = np.log2(self.fail_load / self.ok_load)
        pick = int(np.argmax(gap > 0)) if (gap > 0).any() else int(np.argmax(gap))
        if gap[pick] <= now + 1e-9:
            return
        self.floor = float(floors[pick, 0])
        self.ok_load = float(loads(ok)[pick].max())
        self.fail_load = float(loads(bad)[pick].min())

    @property
    def last_ok_input(self) -> float:
        return self.last_ok["input_gib"] if self.last_ok else 0.0


def numbers(conf: dict[str, str]) -> tuple[float, float, float, float, float, float, float]:
    """(heap GiB, overhead GiB, cores, instances, partitions, driver GiB, maxResultSize GiB) of a config,
    Spark's defaults filled in (maxResultSize 1g; 0, unlimited, counts as the driver's memory). The
    overhead is all the container holds outside the heap: memoryOverhead, and PySpark's memory and
    off-heap memory where set (core.spark.beside_overhead_bytes) — the room a task's native memory and
    Python workers have, and what a node packs."""
    c = {
        "spark.executor.memory": "1g",
        "spark.executor.cores": "1",
        "spark.executor.instances": "2",
        "spark.sql.shuffle.partitions": "200",
        "spark.driver.memory": "1g",
        "spark.driver.maxResultSize": "1g",
        **conf,
    }
    driver = size_of(c, "spark.driver.memory") / GiB
    return (
        size_of(c, "spark.executor.memory") / GiB,
        (overhead_bytes(c) + beside_overhead_bytes(c)) / GiB,
        float(c["spark.executor.cores"]),
        float(c[executors_key(conf)]),
        float(c["spark.sql.shuffle.partitions"]),
        driver,
        size_of(c, "spark.driver.maxResultSize") / GiB or driver,
    )


def quantities(conf: dict[str, str], input_bytes: int) -> dict[str, float]:
    """The per-task quantities of one config (what the job's memory is learned from)."""
    heap, over, cores, inst, parts, driver, result = numbers(conf)
    gib = input_bytes / GiB
    part = gib / parts
    hpc = max(1e-3, (heap - 0.3) / cores)
    return {
        "input_gib": gib,
        "heap_gib": heap,
        "overhead_gib": over,
        "cores": cores,
        "instances": inst,
        "partitions": parts,
        "driver_gib": driver,
        "result_gib": result,
        "partition_gib": part,
        "heap_per_core_gib": hpc,
        "overhead_per_core_gib": over / cores,
        "slots": cores * inst,
        "input_per_slot_gib": gib / (cores * inst),
    }


def matrix(configs: npt.ArrayLike, input_bytes: float, mem: JobMemory) -> Floats:
    """Feature rows for many configs at once — the (heap, overhead, cores, instances, partitions, driver,
    result limit) columns of `configs` (an N×7 array, GiB and counts) — as the search scores them in one batch."""
    import numpy as np

    c = np.asarray(configs, dtype=np.float64).reshape(-1, COLUMNS)
    heap, over, cores, inst, parts, driver, result = c.T
    n = len(c)
    gib = np.full(n, input_bytes / GiB)
    part = gib / parts
    hpc = np.maximum(1e-3, (heap - 0.3) / cores)
    load, opc, slots = mem.effective_load(gib, parts, hpc), over / cores, cores * inst
    blocks = blocks_per_slot(gib, parts, slots)
    drv, res = driver / gib, result / gib

    def l2(x: Numbers) -> Floats:
        return np.log2(np.maximum(x, 1e-9))

    def const(v: float) -> Floats:
        return np.full(n, float(v))

    zero = const(0.0)

    def vs(
        x: Floats, ref: float, known: bool
    ) -> Floats:  # log ratio to a reference from the job's history, 0 when none
        return l2(x / ref) if known else zero

    last = mem.last_ok
    cols = [
        l2(gib),
        l2(heap),
        l2(over),
        cores,
        l2(inst),
        l2(parts),
        l2(driver),
        l2(result),
        l2(part),
        l2(hpc),
        l2(opc),
        l2(load),
        l2(slots),
        l2(gib / slots),
        l2(parts / slots),
        l2(blocks),
        const(mem.ok_load > 0),
        vs(load, mem.ok_load, mem.ok_load > 0),
        const(math.isfinite(mem.fail_load)),
        vs(load, mem.fail_load, math.isfinite(mem.fail_load)),
        vs(opc, mem.ok_offheap, math.isfinite(mem.ok_offheap)),
        const(mem.fail_offheap > 0),
        vs(opc, mem.fail_offheap, mem.fail_offheap > 0),
        vs(drv, mem.ok_driver, math.isfinite(mem.ok_driver)),
        const(mem.fail_driver > 0),
        vs(drv, mem.fail_driver, mem.fail_driver > 0),
        vs(res, mem.ok_result, math.isfinite(mem.ok_result)),
        const(mem.fail_result > 0),
        vs(res, mem.fail_result, mem.fail_result > 0),
        # counts in logs, as the runs are: raw, a job that failed 80 times weighed 80 times one failure,
        # beyond anything else in its row (README: hot keys)
        const(_l2(mem.failures + 1)),
        const(_l2(mem.driver_failures + 1)),
        const(_l2(mem.runs + 1)),
        vs(gib, last["input_gib"], True) if last else zero,
        const(_l2(last["runtime"])) if last else zero,
        const(_l2(last["runtime"] * min(last["partitions"], last["slots"]) / max(last["input_gib"], 1e-3)))
        if last
        else zero,
        l2(scaled_runtime(last, gib, parts, slots)) if last else zero,
        *_hinges(l2(load / mem.fail_load) if math.isfinite(mem.fail_load) else None, n),
        *_hinges(
            const(_l2(last_load(last, mem) / mem.fail_load)) if last and math.isfinite(mem.fail_load) else None, n
        ),
        # fetching adds seconds per shuffle block, whatever the job computes: blocks per second of the
        # last good run, for this shape and for that run's own, in linear scale — small while
        # fetching is a small share of the run, growing as a reshape multiplies the blocks
        blocks / last["runtime"] if last else zero,
        const(float(blocks_per_slot(last["input_gib"], last["partitions"], last["slots"])) / last["runtime"])
        if last
        else zero,
    ]
    return np.stack(cols, axis=1)


def last_load(last: dict[str, float], mem: JobMemory) -> float:
    """The load (partition per GiB of heap per running task) of the job's last good run."""
    return float(mem.effective_load(last["input_gib"], last["partitions"], last["heap_per_core_gib"]))


def _hinges(x: Floats | None, n: int) -> list[Floats]:
    import numpy as np

    if x is None:
        return [np.zeros(n)] * len(SPILL_KNOTS)
    return [np.maximum(0.0, x - k) for k in SPILL_KNOTS]


def blocks_per_slot(input_gib: Numbers, partitions: Numbers, slots: Numbers) -> Floats:
    """Shuffle blocks each slot fetches: map tasks (one per 128 MiB split) × reduce partitions ÷ slots."""
    import numpy as np

    return np.maximum(1.0, np.asarray(input_gib, dtype=np.float64) * GiB / MAP_SPLIT) * partitions / slots


def scaled_runtime(last: dict[str, float], gib: Floats, parts: Floats, slots: Floats) -> Floats:
    """The job's last good runtime scaled to this input and shape by the rule of thumb of any Spark
    engineer — the work grows with the input and is shared by the tasks that run at once, min(partitions,
    slots): the anchor the runtime model learns its correction to (model.py), so that a shape the job has
    never run with starts from its own history, not from other jobs' runtimes."""
    import numpy as np

    before = min(last["partitions"], last["slots"])
    return last["runtime"] * (gib / max(last["input_gib"], 1e-3)) * before / np.minimum(parts, slots)


def dominated(configs: npt.ArrayLike, input_gib: float, mem: JobMemory) -> Mask:
    """Which configs the job's own failures already rule out, by monotonicity alone — less memory never
    helps and more input never needs less: a config is dominated by a failure at no more input when,
    for a driver OOM, its driver memory is no larger; for results over maxResultSize, its limit is no
    larger; for a heap OOM, its heap per core is no larger with no more partitions; for a container kill,
    its overhead is no larger with no fewer cores and no less heap. Nothing here is fitted: it is what
    the history shows, applied before the model is asked."""
    import numpy as np

    c = np.asarray(configs, dtype=np.float64).reshape(-1, COLUMNS)
    heap, over, cores, _, parts, driver, result = c.T
    hpc = (heap - 0.3) / cores
    out = np.zeros(len(c), dtype=bool)
    eps = 1e-6
    for kind, f_in, f_heap, f_over, f_cores, f_parts, f_driver, f_result in mem.fails:
        if f_in > input_gib * (1 + eps):
            continue
        if kind == "driver":
            out |= driver <= f_driver + eps
        elif kind == "driver_result":
            out |= result <= f_result + eps
        elif kind == "heap":
            out |= (hpc <= (f_heap - 0.3) / f_cores + eps) & (parts <= f_parts + eps)
        elif kind == "overhead":
            out |= (over <= f_over + eps) & (cores >= f_cores - eps) & (heap >= f_heap - eps)
    return out


def untried(configs: npt.ArrayLike, input_gib: float, mem: JobMemory) -> Mask:
    """Which configs ask more of the executors' memory than any run of the job that succeeded: a larger
    partition per GiB of heap per running task (the load), or less off-heap room — less overhead per
    running task, or a smaller share of the container (the JVM's own native memory grows with its heap;
    Spark's default overhead is a tenth of it). The job's history says nothing about how its memory need
    behaves there, the model can only extrapolate, and a failure costs a whole run: the search leaves such
    configs to the last (recommend.search). Nothing here is fitted."""
    import numpy as np

    c = np.asarray(configs, dtype=np.float64).reshape(-1, COLUMNS)
    heap, over, cores, parts = c[:, 0], c[:, 1], c[:, 2], c[:, 4]
    out = np.zeros(len(c), dtype=bool)
    if mem.ok_load > 0:
        out |= mem.effective_load(input_gib, parts, np.maximum(1e-3, (heap - 0.3) / cores)) > mem.ok_load * (1 + 1e-6)
    if math.isfinite(mem.ok_offheap):
        out |= over / cores < mem.ok_offheap * (1 - 1e-6)
    if math.isfinite(mem.ok_over_share):
        out |= over / (heap + over) < mem.ok_over_share * (1 - 1e-6)
    return out


def vector(conf: dict[str, str], input_bytes: int, mem: JobMemory) -> list[float]:
    """One config's feature row: the same code as the batch the search scores."""
    row: list[float] = matrix([numbers(conf)], input_bytes, mem)[0].tolist()
    return row


# which memory the recommender's features and search treat as having run out, by the triage rules'
# component (autofix/rules.toml): the rules are the one reader of logs, the recommender reads them
KIND_OF_COMPONENT = {
    "executor_heap": "heap",
    "executor_container": "overhead",
    "executor_offheap": "overhead",
    "pyspark_worker": "overhead",
    # a kill whose process the log does not name: on Spark, an executor's almost always (the driver's
    # own kill reads as driver_container where the cluster says so)
    "container": "overhead",
    "driver_heap": "driver",
    "driver_container": "driver",
    "driver_result": "driver_result",
}


def memory_kind(record: dict[str, Any]) -> str | None:
    """heap, overhead, driver, driver_result or other: which memory ran out, from the record's `component`
    (which the triage's rules gave it: autofix.components.with_components); None for a success."""
    if record.get("status") != "failed":
        return None
    return KIND_OF_COMPONENT.get(record.get("component") or "", "other")


def learn(memory: dict[str, JobMemory], record: dict[str, Any]) -> None:
    """Add one history record to its job's memory."""
    kind = memory_kind(record)
    mem = memory.setdefault(record["job_id"], JobMemory())
    if record.get("run_id") in mem.seen:
        return
    if record.get("run_id"):
        mem.seen.add(record["run_id"])
    mem.learn(quantities(record["conf"], record["input_bytes"]), record["status"], kind, record.get("runtime_seconds"))


def with_failure(mem: JobMemory, record: dict[str, Any]) -> JobMemory:
    """The job's memory with the failed attempt itself learned — the newest and best evidence of what the
    config lacked — when it is not in it yet (the caller's memory is left as it was)."""
    if record.get("run_id") in mem.seen:
        return mem
    import copy

    memory = {record["job_id"]: copy.deepcopy(mem)}
    learn(memory, record)
    return memory[record["job_id"]]


def dataset(
    records: list[dict[str, Any]],
) -> tuple[list[list[float]], list[int], list[float], list[str], dict[str, JobMemory], list[float]]:
    """Rows of every record in time order, each featurised with only the history before it. Failures that
    are not about memory (lost nodes, resets) say nothing about the config: they are left out."""
    X, y, cost, when, runtime = [], [], [], [], []
    memory: dict[str, JobMemory] = {}
    for r in sorted(records, key=lambda r: (r["submitted_at"], r["run_id"])):
        mem = memory.setdefault(r["job_id"], JobMemory())
        if memory_kind(r) != "other":
            X.append(vector(r["conf"], r["input_bytes"], mem))
            y.append(1 if r["status"] == "succeeded" else 0)
            cost.append(float(r["cost"]))
            runtime.append(float(r["runtime_seconds"]))
            when.append(r["submitted_at"])
        learn(memory, r)
    return X, y, cost, when, memory, runtime
