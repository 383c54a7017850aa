"""What happens when the simulator is asked to retry a failed attempt with some config: the simulator's
truth about its own failures, never shown to the recommender (which sees only the attempts).

- Memory failures of Spark jobs are judged by the Spark world (core/backends/sim/spark_world.py): the job gets a
  hidden `JobTruth` under which the failed config really does fail the way its log says — heap, container
  memory (exit 137) or driver — by a margin drawn per run (5–60 % short). The retry's config then runs in
  that world: it succeeds, or fails again with the log such a failure leaves, and costs what the world says.
- Memory failures of other kinds (python, pytorch) need `resources.memory` ≥ the failed amount × that margin.
- Failures a plain retry usually fixes (lost nodes, resets, throttling…) succeed 9 times in 10; disk and
  timeouts 7 in 10 (the retry lands elsewhere); unclassified ones half the time; the rest fail again the
  same way (a retry does not fix a permission or a bug).

Every draw is seeded by the failed run and the config, so the same retry always has the same outcome.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import datetime
from typing import Any

from core import clock
from core.backends.sim import spark_estates as estates
from core.backends.sim import spark_world as world
from core.spark import GiB, parse_size
from core.types import Attempt

PLAIN_RETRY_FIXES = {
    "shuffle_fetch_failed": 0.9,
    "node_lost": 0.9,
    "network_transient": 0.9,
    "storage_throttled": 0.9,
    "missing_input": 0.6,
    "gpu_failure": 0.8,
    "disk_exhausted": 0.7,
    "timeout": 0.7,
    "unclassified": 0.5,
}


def memory_kind(a: Attempt) -> str:
    """Which memory the failed attempt ran out of, as its log and exit say."""
    tail = a.log_tail or ""
    if "maxResultSize" in tail:
        return "driver_result"
    if "broadcast-exchange" in tail or "spark-kubernetes-driver" in tail:
        return "driver_heap"
    if a.exit_code == 137 or "physical memory" in tail or a.reason == "OOMKilled":
        return "overhead"
    return "heap"


def hidden_truth(a: Attempt, kind: str, rng: random.Random) -> world.JobTruth:
    """A JobTruth under which the failed attempt's config fails with `kind`, short by a margin."""
    truth = world.random_truth(a.job_id, rng)
    s = world.settings(a.conf)
    margin = rng.uniform(1.05, 1.6)
    inp = max(a.input_bytes, GiB)

    def largest(t: world.JobTruth) -> float:
        return t.skew * inp / s["partitions"]

    available = max(1.0, (s["heap"] - estates.RESERVED) * estates.UNIFIED_FRACTION / s["cores"])
    # Start comfortable in every dimension, then make the one that failed fall short by `margin`.
    heap_pressure = estates.SPILL_LIMIT * (margin if kind == "heap" else rng.uniform(0.3, 0.8))
    expansion = max(0.1, (heap_pressure * available - 64 * 2**20) / largest(truth))
    offheap_ratio = margin if kind == "overhead" else rng.uniform(0.3, 0.8)
    native = max(1.0, (offheap_ratio * s["overhead"] - 0.05 * s["heap"]) / s["cores"] / 2**20)
    collect = {"driver_heap": margin * 0.6 * s["driver"] / inp, "driver_result": margin * s["max_result"] / inp}.get(
        kind, 0.0
    )
    return replace(truth, expansion=expansion, native_mib_per_core=native, collect_fraction=collect)


def outcome(
    a: Attempt, category: str | None, conf: dict[str, str], seed: int, run_id: str, started: datetime
) -> dict[str, Any]:
    """The status, runtime, cost, log tail, exit code and reason of the retry `run_id` of `a`, submitted at
    `started`."""
    rng = random.Random(f"retry:{seed}:{a.run_id}:{sorted(conf.items())}")
    if category == "memory_exceeded" and a.kind == "spark":
        kind = memory_kind(a)
        truth = hidden_truth(a, kind, random.Random(f"truth:{seed}:{a.run_id}"))
        o = world.run(truth, conf, max(a.input_bytes, GiB))
        if o.status == "succeeded":
            return _ok(o.runtime_seconds, o.cost)
        assert o.failure is not None  # a failed outcome names its failure
        return {
            "status": "failed",
            "runtime_seconds": o.runtime_seconds,
            "cost": o.cost,
            "log_tail": world.log_tail(o.failure, conf, truth, a.input_bytes, rng, started),
            "exit_code": 137 if o.failure == "overhead" else 1,
            "reason": "Error",
        }
    runtime, cost = _scaled(a, conf)
    if category == "memory_exceeded":
        need = _memory(a.conf) * random.Random(f"truth:{seed}:{a.run_id}").uniform(1.05, 1.6)
        fixed = _memory(conf) >= need
    else:
        fixed = rng.random() < PLAIN_RETRY_FIXES.get(category or "unclassified", 0.0)
    if fixed:
        return _ok(runtime, cost)
    return {
        "status": "failed",
        "runtime_seconds": a.runtime_seconds,
        "cost": a.cost,
        "log_tail": as_retry(a.log_tail, a, run_id, started),
        "exit_code": a.exit_code,
        "reason": a.reason,
    }


_SPARK_STAMP = re.compile(r"\b\d\d/\d\d/\d\d \d\d:\d\d:\d\d\b")  # 26/11/20 03:14:07
_ISO_STAMP = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")  # 2026-11-20T03:14:07Z


def as_retry(tail: str | None, failed: Attempt, run_id: str, started: datetime) -> str | None:
    """The failed attempt's log tail as the retry that fails the same way writes it: every stamp moved by
    the time between the two submissions (their spacing kept), the failed run's id (in pod names) the
    retry's. Copied as it was, the retry's log ended in the first attempt's lines, days old, naming its pod."""
    if not tail:
        return tail
    shift = started - clock.parse_ts(failed.submitted_at)

    def spark(m: re.Match[str]) -> str:
        at = datetime.strptime(m.group(), "%y/%m/%d %H:%M:%S").replace(tzinfo=started.tzinfo) + shift
        return at.strftime("%y/%m/%d %H:%M:%S")

    def iso(m: re.Match[str]) -> str:
        return clock.iso(clock.parse_ts(m.group()) + shift)

    text = _ISO_STAMP.sub(iso, _SPARK_STAMP.sub(spark, tail))
    # the run id where it stands whole (r0000382 in `job-r0000382-driver`, not in r0000382-2)
    return re.sub(re.escape(failed.run_id) + r"(?![\w]|-\d)", run_id, text)


def _ok(runtime: float, cost: float) -> dict[str, Any]:
    return {
        "status": "succeeded",
        "runtime_seconds": round(runtime, 1),
        "cost": round(cost, 4),
        "log_tail": None,
        "exit_code": 0,
        "reason": "Completed",
    }


def _memory(conf: dict[str, str]) -> int:
    for key in ("spark.executor.memory", "resources.memory"):
        if key in conf:
            return parse_size(conf[key], key)
    return 0


def _scaled(a: Attempt, conf: dict[str, str]) -> tuple[float, float]:
    """A full run's runtime and cost: the failed attempt's, priced by how much more memory the retry asks."""
    full = max(a.runtime_seconds, 60.0) * 1.5
    grow = max(1.0, _memory(conf) / max(1, _memory(a.conf)))
    return full, a.cost * 1.5 * (1 + 0.2 * (grow - 1))
