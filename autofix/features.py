"""Features of a (job, config, input) for the retry recommender: the parsed config (Spark's syntax and
defaults), the input, per-task quantities derived from them, and what the job's own history says —
the largest load per task it survived and the smallest it died of, for heap and for off-heap memory.

Everything is learnable from history records alone: nothing here knows the world's formulas."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from core.spark import GiB, overhead_bytes, parse_size

NAMES = ("input_gib", "heap_gib", "overhead_gib", "cores", "instances", "partitions", "driver_gib",
         "partition_gib", "heap_per_core_gib", "overhead_per_core_gib", "load", "slots", "input_per_slot_gib",
         "ok_load", "fail_load", "load_vs_ok", "load_vs_fail", "ok_offheap", "fail_offheap", "offheap_vs_ok",
         "offheap_vs_fail", "failures_seen", "runs_seen", "last_ok_input_ratio")
N = len(NAMES)


def _l2(x: float) -> float:
    return math.log2(max(x, 1e-9))


@dataclass
class JobMemory:
    """What one job's history has shown so far (updated in time order)."""
    ok_load: float = 0.0  # largest partition-per-heap-per-core load a run survived
    fail_load: float = math.inf  # smallest such load a heap OOM died of
    ok_offheap: float = math.inf  # smallest overhead-per-core it ran with... and survived (lower bound of need)
    fail_offheap: float = 0.0  # largest overhead per core it was killed with
    failures: int = 0
    runs: int = 0
    last_ok_input: float = 0.0
    seen: set[str] = field(default_factory=set)

    def learn(self, q: dict[str, float], status: str, failure: str | None) -> None:
        self.runs += 1
        if status == "succeeded":
            self.ok_load = max(self.ok_load, q["load"])
            self.ok_offheap = min(self.ok_offheap, q["overhead_per_core_gib"])
            self.last_ok_input = q["input_gib"]
        elif failure == "heap":
            self.fail_load = min(self.fail_load, q["load"])
            self.failures += 1
        elif failure == "overhead":
            self.fail_offheap = max(self.fail_offheap, q["overhead_per_core_gib"])
            self.failures += 1


def numbers(conf: dict[str, str]) -> tuple[float, float, float, float, float, float]:
    """(heap GiB, overhead GiB, cores, instances, partitions, driver GiB) of a config, Spark's defaults filled in."""
    c = {"spark.executor.memory": "1g", "spark.executor.cores": "1", "spark.executor.instances": "2",
         "spark.sql.shuffle.partitions": "200", "spark.driver.memory": "1g", **conf}
    return (parse_size(c["spark.executor.memory"]) / GiB, overhead_bytes(c) / GiB, float(c["spark.executor.cores"]),
            float(c["spark.executor.instances"]), float(c["spark.sql.shuffle.partitions"]),
            parse_size(c["spark.driver.memory"]) / GiB)


def quantities(conf: dict[str, str], input_bytes: int) -> dict[str, float]:
    """The per-task quantities of one config (what the job's memory is learned from)."""
    heap, over, cores, inst, parts, driver = numbers(conf)
    gib = input_bytes / GiB
    part = gib / parts
    hpc = max(1e-3, (heap - 0.3) / cores)
    return {"input_gib": gib, "heap_gib": heap, "overhead_gib": over, "cores": cores, "instances": inst,
            "partitions": parts, "driver_gib": driver, "partition_gib": part,
            "heap_per_core_gib": hpc, "overhead_per_core_gib": over / cores, "load": part / hpc,
            "slots": cores * inst, "input_per_slot_gib": gib / (cores * inst)}


def matrix(configs, input_bytes: float, mem: JobMemory):
    """Feature rows for many configs at once — the (heap, overhead, cores, instances, partitions, driver)
    columns of `configs` (an N×6 array, GiB and counts) — as the search scores them in one batch."""
    import numpy as np
    c = np.asarray(configs, dtype=np.float64).reshape(-1, 6)
    heap, over, cores, inst, parts, driver = c.T
    gib = np.full(len(c), input_bytes / GiB)
    part = gib / parts
    hpc = np.maximum(1e-3, (heap - 0.3) / cores)
    load, opc, slots = part / hpc, over / cores, cores * inst
    ok_load = mem.ok_load or 1e-6
    fail_load = mem.fail_load if math.isfinite(mem.fail_load) else 1e6
    ok_off = mem.ok_offheap if math.isfinite(mem.ok_offheap) else 1e-6
    fail_off = mem.fail_offheap or 1e-6
    l2 = lambda x: np.log2(np.maximum(x, 1e-9))  # noqa: E731
    const = lambda v: np.full(len(c), v)  # noqa: E731
    cols = [l2(gib), l2(heap), l2(over), cores, l2(inst), l2(parts), l2(driver), l2(part), l2(hpc), l2(opc), l2(load),
            l2(slots), l2(gib / slots), const(_l2(ok_load)), const(_l2(fail_load)), l2(load / ok_load),
            l2(load / fail_load), const(_l2(ok_off)), const(_l2(fail_off)), l2(opc / ok_off), l2(opc / fail_off),
            const(float(mem.failures)), const(_l2(mem.runs + 1)), l2(gib / (mem.last_ok_input or gib))]
    return np.stack(cols, axis=1)


def vector(conf: dict[str, str], input_bytes: int, mem: JobMemory) -> list[float]:
    """One config's feature row: the same code as the batch the search scores."""
    return matrix([numbers(conf)], input_bytes, mem)[0].tolist()


def failure_kind(record: dict[str, Any]) -> str | None:
    """heap, overhead or driver: which memory ran out, read from the log as an operator would."""
    tail = record.get("log_tail") or ""
    if record.get("status") != "failed":
        return None
    if "maxResultSize" in tail or "SparkContext" in tail:
        return "driver"
    if "physical memory" in tail or "exit code 137" in tail or "OOMKilled" in tail:
        return "overhead"
    if "OutOfMemoryError" in tail or "GC overhead" in tail:
        return "heap"
    return "other"


def dataset(records: list[dict[str, Any]]) -> tuple[list[list[float]], list[int], list[float], list[str],
                                                   dict[str, JobMemory], list[float]]:
    """Rows of every record in time order, each featurised with only the history before it. Failures that
    are not about memory (lost nodes, resets) say nothing about the config: they are left out."""
    X, y, cost, when, runtime = [], [], [], [], []
    memory: dict[str, JobMemory] = {}
    for r in sorted(records, key=lambda r: (r["submitted_at"], r["run_id"])):
        mem = memory.setdefault(r["job_id"], JobMemory())
        q = quantities(r["conf"], r["input_bytes"])
        kind = failure_kind(r)
        if kind not in ("other",):
            X.append(vector(r["conf"], r["input_bytes"], mem))
            y.append(1 if r["status"] == "succeeded" else 0)
            cost.append(float(r["cost"]))
            runtime.append(float(r["runtime_seconds"]))
            when.append(r["submitted_at"])
        mem.learn(q, r["status"], kind)
    return X, y, cost, when, memory, runtime
