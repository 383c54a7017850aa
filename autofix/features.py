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


def quantities(conf: dict[str, str], input_bytes: int) -> dict[str, float]:
    c = {"spark.executor.memory": "1g", "spark.executor.cores": "1", "spark.executor.instances": "2",
         "spark.sql.shuffle.partitions": "200", "spark.driver.memory": "1g", **conf}
    heap = parse_size(c["spark.executor.memory"]) / GiB
    over = overhead_bytes(c) / GiB
    cores = float(c["spark.executor.cores"])
    inst = float(c["spark.executor.instances"])
    parts = float(c["spark.sql.shuffle.partitions"])
    gib = input_bytes / GiB
    part = gib / parts
    hpc = max(1e-3, (heap - 0.3) / cores)
    return {"input_gib": gib, "heap_gib": heap, "overhead_gib": over, "cores": cores, "instances": inst,
            "partitions": parts, "driver_gib": parse_size(c["spark.driver.memory"]) / GiB, "partition_gib": part,
            "heap_per_core_gib": hpc, "overhead_per_core_gib": over / cores, "load": part / hpc,
            "slots": cores * inst, "input_per_slot_gib": gib / (cores * inst)}


def vector(q: dict[str, float], mem: JobMemory) -> list[float]:
    ok_load = mem.ok_load or 1e-6
    fail_load = mem.fail_load if math.isfinite(mem.fail_load) else 1e6
    ok_off = mem.ok_offheap if math.isfinite(mem.ok_offheap) else 1e-6
    fail_off = mem.fail_offheap or 1e-6
    return [_l2(q["input_gib"]), _l2(q["heap_gib"]), _l2(q["overhead_gib"]), q["cores"], _l2(q["instances"]),
            _l2(q["partitions"]), _l2(q["driver_gib"]), _l2(q["partition_gib"]), _l2(q["heap_per_core_gib"]),
            _l2(q["overhead_per_core_gib"]), _l2(q["load"]), _l2(q["slots"]), _l2(q["input_per_slot_gib"]),
            _l2(ok_load), _l2(fail_load), _l2(q["load"] / ok_load), _l2(q["load"] / fail_load),
            _l2(ok_off), _l2(fail_off), _l2(q["overhead_per_core_gib"] / ok_off),
            _l2(q["overhead_per_core_gib"] / fail_off), float(mem.failures), _l2(mem.runs + 1),
            _l2(q["input_gib"] / (mem.last_ok_input or q["input_gib"]))]


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
            X.append(vector(q, mem))
            y.append(1 if r["status"] == "succeeded" else 0)
            cost.append(float(r["cost"]))
            runtime.append(float(r["runtime_seconds"]))
            when.append(r["submitted_at"])
        mem.learn(q, r["status"], kind)
    return X, y, cost, when, memory, runtime
