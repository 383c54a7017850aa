"""A Spark world for training and judging the retry recommender (issue 5): what a job's run needs, how
long it takes and what it costs under a config, and which failure a shortfall produces.

The recommender never sees this module's formulas — only the history records the world writes
(DESIGN.md's format) — and is judged by this module's truth.

The model, per recurring job (its hidden `JobTruth`) and one run (input bytes I, config):

- Partitions. Spark splits the shuffle into P = spark.sql.shuffle.partitions parts; the largest one
  holds `skew` × I / P bytes — or, for a job with a hot key (`hot_fraction`, only when `history` is
  asked for them), at least that key's share of I, however many partitions there are.
- Executor heap. A task needs `expansion` × (its partition) + 64 MiB of execution memory. Each of the C
  concurrent tasks of an executor gets (M − 300 MiB) × 0.6 / C of a heap of M (Spark's unified memory).
  Spark spills what does not fit, at a cost: runtime grows with the ratio need/available; past
  SPILL_LIMIT× the non-spillable structures no longer fit and the executor dies with
  `java.lang.OutOfMemoryError: Java heap space`.
- Off-heap. Each running task holds `native_mib_per_core` MiB outside the heap (netty buffers, Python
  workers, Arrow), plus 5 % of the heap; more than spark.executor.memoryOverhead O (default
  max(384 MiB, 10 % of M)) and the container is killed for exceeding its memory limit (exit 137).
- Driver. The job collects `collect_fraction` × I bytes to the driver: more than
  spark.driver.maxResultSize (default 1 GiB; 0 means unlimited, as in Spark) fails the job; more than
  60 % of the driver's heap D is a driver OutOfMemoryError. Some jobs ("collectors", about 1 in 12)
  bring a sizeable share of their input to the driver; as their input grows, some outgrow even a 64 GiB
  driver: memory failures that no config in the search space fixes (a person must change the code).
- Time. `cpu_s_per_gib` × I of CPU work over min(P, C × E) slots (E executors), in waves; the last wave
  waits for the largest task; spilling slows tasks down; 45 s to start. Every task also pays a fixed
  cost: TASK_SECONDS to schedule and launch, plus FETCH_SECONDS for each shuffle block it reads — one
  per map task, and there are I / 128 MiB map tasks. So very many small partitions are slow (M × P
  shuffle blocks), very few big ones need big heaps and leave slots idle: the cheapest shape lies in
  between, near the 100–500 MiB partitions of the usual rule of thumb, larger for larger shuffles.
- Cost. Executors and driver by the hour: 0.0357 a core, 0.0034 a GiB of container memory (heap +
  overhead).

Owners (in `history`) size their jobs by hand, in three habits drawn per job: "defaults" (about 40 %)
keep the shuffle partitions they chose when the job was new (200–1000, or a partition per 1–4 GiB of
the input of the day) while the input grows, and an executor per 8 GiB of input; "tuners"
(35 %) set partitions to the input (one per 96–384 MiB, re-tuned weekly) and pick executor shapes
of their own; "reshapers" (25 %) start like defaults but answer a heap OOM with twice the partitions
and 1.25× the heap, and a container kill with fewer cores per executor. Everyone else answers a failure
with 1.5× the memory that ran out, within the search space (at most 64 GiB). Calibration: on the
evaluation's held-out failures, doubling all memory costs about 1.7–1.9× the cheapest fixes, the
figure issue 5 gives for naive bumps in practice (earlier versions of this world, where every owner
kept 200 partitions and ratcheted memory, gave 5×).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from core.backends.sim.spark_estates import PHYSICS, RANGES, Physics
from core.spark import RETRY_SPACE, GiB, MiB, format_size, overhead_bytes, size_of

MAP_SPLIT = 128 * MiB  # input bytes per map task
DEFAULTS = {
    "spark.executor.memory": "1g",
    "spark.executor.cores": "1",
    "spark.executor.instances": "2",
    "spark.sql.shuffle.partitions": "200",
    "spark.driver.memory": "1g",
    "spark.driver.maxResultSize": "1g",
}
BOUNDS = RETRY_SPACE  # the bounds of the search space the issue gives


@dataclass(frozen=True)
class JobTruth:
    """What a recurring job really needs: hidden from the recommender."""

    job_id: str
    expansion: float  # in-memory bytes per input byte of a task's partition
    skew: float  # largest partition / mean partition
    native_mib_per_core: float  # off-heap MiB per running task
    collect_fraction: float  # bytes brought to the driver per input byte
    cpu_s_per_gib: float  # CPU seconds of work per GiB of input
    owner: str = "defaults"  # how the job's owner sizes it by hand: defaults | tuner | reshaper
    hot_fraction: float = 0.0  # share of the input under one hot key: a partition holds at least this much
    physics: Physics = PHYSICS


@dataclass
class Outcome:
    status: str  # succeeded | failed
    failure: str | None  # heap | overhead | driver_result | driver_heap
    runtime_seconds: float
    cost: float
    detail: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def settings(conf: dict[str, str], overhead_factor: float = 0.1) -> dict[str, int]:
    """The numbers a config means, Spark's defaults filled in (the overhead's default share of the heap is
    the cluster manager's: `overhead_factor`)."""
    c = {**DEFAULTS, **conf}
    return {
        "heap": size_of(c, "spark.executor.memory"),
        "overhead": overhead_bytes(c, overhead_factor),
        "cores": int(c["spark.executor.cores"]),
        "instances": int(c["spark.executor.instances"]),
        "partitions": int(c["spark.sql.shuffle.partitions"]),
        "driver": size_of(c, "spark.driver.memory"),
        "max_result": size_of(c, "spark.driver.maxResultSize"),
    }


def _stamp(started: datetime | None, rng: random.Random) -> str:
    """Spark's log timestamp (yy/MM/dd HH:mm:ss) some minutes into a run; two draws of `rng` whatever
    `started` is, so that a world's runs are the same with or without it."""
    minutes, seconds = rng.randint(0, 59), rng.randint(0, 59)
    when = (started or datetime(2026, 11, 20, 3, 0)) + timedelta(minutes=minutes, seconds=seconds)
    return when.strftime("%y/%m/%d %H:%M:%S")


def run(truth: JobTruth, conf: dict[str, str], input_bytes: int, enough_memory: bool = False) -> Outcome:
    """One run of the job under `conf`. `enough_memory`: the run this config would have had if no memory
    ran short — nothing spills, nothing fails — the reference of the evaluation's SLA (issue 5: "the
    runtime the failed config would have had with enough memory"), whatever the search space allows."""
    ph = truth.physics
    s = settings(conf, ph.overhead_factor)
    # a hot key cannot be split: its partition holds it whatever the number of partitions
    largest = max(truth.skew * input_bytes / s["partitions"], truth.hot_fraction * input_bytes)
    need = truth.expansion * largest + 64 * MiB
    available = max(1.0, (s["heap"] - ph.reserved) * ph.unified_fraction / s["cores"])
    pressure = need / available
    offheap = truth.native_mib_per_core * ph.native_scale * MiB * s["cores"] + ph.offheap_heap_share * s["heap"]
    collected = truth.collect_fraction * input_bytes
    slots = min(s["partitions"], s["cores"] * s["instances"])
    spill = 1.0 if enough_memory else 1.0 + ph.spill_slowdown * max(0.0, pressure - 1.0)
    work = truth.cpu_s_per_gib * input_bytes / GiB
    per_task = work / s["partitions"]
    waves = math.ceil(s["partitions"] / slots)
    fixed = ph.task_seconds + ph.fetch_seconds * max(1, math.ceil(input_bytes / MAP_SPLIT))
    runtime = ph.start_seconds + ((waves - 1) * per_task + truth.skew * per_task) * spill + waves * fixed
    hourly = (
        s["instances"] * (s["cores"] * ph.core_hour + (s["heap"] + s["overhead"]) / GiB * ph.gib_hour)
        + ph.core_hour
        + s["driver"] / GiB * ph.gib_hour
    )
    max_result = s["max_result"] or math.inf  # 0: unlimited
    detail = {
        "pressure": round(pressure, 3),
        "offheap_ratio": round(offheap / s["overhead"], 3),
        "collected_ratio": round(collected / max_result, 4),
        "driver_ratio": round(collected / (ph.driver_fraction * s["driver"]), 4),
    }
    failure = None if enough_memory else _shortfall(s, collected, max_result, offheap, pressure, ph)
    if failure:
        # it dies part way: when the first big task or the collect blows up
        frac = 0.9 if failure.startswith("driver") else min(0.9, 0.25 + 0.5 / waves)
        runtime = ph.start_seconds + (runtime - ph.start_seconds) * frac
    return Outcome(
        "failed" if failure else "succeeded", failure, round(runtime, 1), round(hourly * runtime / 3600, 4), detail
    )


def _shortfall(
    s: dict[str, int], collected: float, max_result: float, offheap: float, pressure: float, ph: Physics
) -> str | None:
    """Which memory ran out first, if any: results over maxResultSize, the driver's heap, the
    container's overhead, the executors' heap."""
    if collected > max_result:
        return "driver_result"
    if collected > ph.driver_fraction * s["driver"]:
        return "driver_heap"
    if offheap > s["overhead"]:
        return "overhead"
    if pressure > ph.spill_limit:
        return "heap"
    return None


def log_tail(
    failure: str,
    conf: dict[str, str],
    truth: JobTruth,
    input_bytes: int,
    rng: random.Random,
    started: datetime | None = None,
) -> str:
    """The end of the driver log a failure of this kind leaves — as Spark prints it on the world's cluster
    manager (Physics.dialect: YARN, or Kubernetes with the SparkContext banner that opens every application
    log, for JVM or PySpark jobs) — stamped up to an hour after the run `started`."""
    s = settings(conf, truth.physics.overhead_factor)
    ts = _stamp(started, rng)
    ex, stage, tid = rng.randint(1, 40), f"{rng.randint(2, 30)}.0", rng.randint(1000, 90000)
    host = f"ip-10-{rng.randint(0, 255)}-{rng.randint(0, 255)}-{rng.randint(1, 254)}.ec2.internal"
    if truth.physics.dialect != "yarn":
        return _kubernetes_tail(failure, s, truth, input_bytes, ts, ex, stage, tid)
    if failure == "heap":
        return (
            f"{ts} ERROR Executor: Exception in task {rng.randint(0, 999)}.0 in stage {stage} (TID {tid})\n"
            "java.lang.OutOfMemoryError: Java heap space\n"
            "\tat org.apache.spark.util.collection.ExternalSorter.insertAll(ExternalSorter.scala:199)\n"
            "\tat org.apache.spark.shuffle.sort.SortShuffleWriter.write(SortShuffleWriter.scala:63)\n"
            f"{ts} ERROR YarnScheduler: Lost executor {ex} on {host}: Executor heartbeat timed out\n"
            f"{ts} ERROR TaskSetManager: Task {rng.randint(0, 999)} in stage {stage} failed 4 times; aborting job"
        )
    if failure == "overhead":
        limit = (s["heap"] + s["overhead"]) / GiB
        used = limit * rng.uniform(1.01, 1.25)
        return (
            f"{ts} WARN YarnAllocator: Container killed by YARN for exceeding physical memory limits. "
            f"{used:.1f} GB of {limit:.1f} GB physical memory used. "
            "Consider boosting spark.executor.memoryOverhead.\n"
            f"{ts} ERROR YarnScheduler: Lost executor {ex} on {host}: Container killed by YARN for exceeding "
            "physical memory limits.\n"
            f"{ts} ERROR TaskSetManager: Task {rng.randint(0, 999)} in stage {stage} failed 4 times; aborting job"
        )
    if failure == "driver_result":
        size = truth.collect_fraction * input_bytes / MiB
        return (
            f"{ts} ERROR TaskSetManager: Total size of serialized results of {rng.randint(100, 900)} tasks "
            f"({size:.1f} MiB) is bigger than spark.driver.maxResultSize ({s['max_result'] / MiB:.1f} MiB)\n"
            "org.apache.spark.SparkException: Job aborted due to stage failure: Total size of serialized results "
            f"of {rng.randint(100, 900)} tasks ({size:.1f} MiB) is bigger than spark.driver.maxResultSize "
            f"({s['max_result'] / MiB:.1f} MiB)"
        )
    return (
        f"{ts} ERROR Utils: Uncaught exception in thread driver-heartbeater\n"
        "java.lang.OutOfMemoryError: Java heap space\n"
        "\tat java.util.Arrays.copyOf(Arrays.java:3332)\n"
        f"{ts} ERROR SparkContext: Error initializing SparkContext.\n"
        'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space'
    )


def _kubernetes_tail(
    failure: str, s: dict[str, int], truth: JobTruth, input_bytes: int, ts: str, ex: int, stage: str, tid: int
) -> str:
    """A failure's log as Spark 3.5 prints it on Kubernetes: the SparkContext banner, then the executor's
    or the driver's end (a PySpark job's container kill shows its Python worker's crash)."""
    pod = f"{truth.job_id}-exec-{ex}"
    banner = (
        f"{ts} INFO SparkContext: Running Spark version 3.5.1\n"
        f"{ts} INFO SparkContext: Submitted application: {truth.job_id}\n"
        f"{ts} INFO KubernetesClusterSchedulerBackend: Executor pods will be requested from the API server\n"
    )
    lost = f"Lost task {tid % 997}.0 in stage {stage} (TID {tid}) (10.1.{ex}.7 executor {ex})"
    if failure == "heap":
        body = (
            f"{ts} WARN TaskSetManager: {lost}: java.lang.OutOfMemoryError: Java heap space\n"
            "\tat org.apache.spark.sql.execution.UnsafeExternalRowSorter.insertRow(UnsafeExternalRowSorter.java:120)\n"
        )
    elif failure == "overhead" and truth.physics.dialect == "pyspark":
        body = (
            f"{ts} WARN TaskSetManager: {lost}: org.apache.spark.SparkException: Python worker exited "
            "unexpectedly (crashed)\n"
            f"{ts} INFO ExecutorPodsAllocator: Executor pod {pod} terminated: reason=OOMKilled exitCode=137\n"
        )
    elif failure == "overhead":
        body = (
            f"{ts} INFO ExecutorPodsAllocator: Executor pod {pod} terminated: reason=OOMKilled exitCode=137\n"
            f"{ts} WARN TaskSetManager: {lost}: ExecutorLostFailure (executor {ex} exited caused by one of the "
            f"running tasks) Reason: The executor with id {ex} exited with exit code 137(SIGKILL, possible "
            "container OOM).\n"
        )
    elif failure == "driver_result":
        size = truth.collect_fraction * input_bytes / MiB
        body = (
            "org.apache.spark.SparkException: Job aborted due to stage failure: Total size of serialized results "
            f"of {tid % 900 + 100} tasks ({size:.1f} MiB) is bigger than spark.driver.maxResultSize "
            f"({s['max_result'] / MiB:.1f} MiB)\n"
        )
        return banner + body
    else:
        body = (
            f'{ts} ERROR SparkContext: Exception in thread "broadcast-exchange-0"\n'
            "java.lang.OutOfMemoryError: Java heap space\n"
            "\tat java.util.Arrays.copyOf(Arrays.java:3332)\n"
            'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space\n'
        )
        return banner + body
    return banner + body + f"{ts} ERROR TaskSetManager: Task {tid % 997} in stage {stage} failed 4 times; aborting job"


def cheapest_fix(
    truth: JobTruth,
    conf: dict[str, str],
    input_bytes: int,
    sla_seconds: float | None = None,
    grid: int = 1,
    allowed: Callable[[dict[str, str]], bool] | None = None,
) -> tuple[dict[str, str], Outcome] | None:
    """The world's own answer: the cheapest config that succeeds (within the SLA, when given), searched
    over the issue's space on a coarse grid (`grid` steps per doubling of heap and overhead), kept to the
    configs `allowed` lets through when given. None when nothing in the space fixes it."""
    best: tuple[dict[str, str], Outcome] | None = None
    mems = [int(2 ** (k / grid) * GiB) for k in range(-grid, 6 * grid + 1)]  # 512m .. 64g
    overs = [384 * MiB] + [int(2 ** (k / grid) * GiB) for k in range(0, 4 * grid + 1)]  # 384m, 1g .. 16g
    base = settings(conf, truth.physics.overhead_factor)
    for heap in mems:
        for cores in (1, 2, 4, 5, 8):
            for parts in (50, 200, 400, 800, 1600, 3200, 6400, 12800, 20000):
                for over in overs:
                    inst = max(1, min(500, round(base["cores"] * base["instances"] / cores)))
                    candidate = {
                        **conf,
                        "spark.executor.memory": format_size(heap),
                        "spark.executor.cores": str(cores),
                        "spark.executor.instances": str(inst),
                        "spark.sql.shuffle.partitions": str(parts),
                        "spark.executor.memoryOverhead": format_size(over),
                    }
                    drivers = [base["driver"]] + ([2**k * GiB for k in range(1, 7)] if truth.collect_fraction else [])
                    for drv in drivers:
                        cand = {**candidate, "spark.driver.memory": format_size(drv)}
                        if truth.collect_fraction:
                            cand["spark.driver.maxResultSize"] = format_size(
                                max(size_of(conf, "spark.driver.maxResultSize"), int(drv * 0.6))
                            )
                        if allowed is not None and not allowed(cand):
                            continue
                        o = run(truth, cand, input_bytes)
                        if o.status != "succeeded" or (sla_seconds and o.runtime_seconds > sla_seconds):
                            continue
                        if best is None or o.cost < best[1].cost:
                            best = (cand, o)
    return best


def random_truth(job_id: str, rng: random.Random, ranges: dict[str, Any] | None = None) -> JobTruth:
    g = ranges or RANGES
    expansion = round(rng.uniform(*g["expansion"]), 2)
    skew = round(rng.choice([rng.uniform(*g["skew_low"]), rng.uniform(*g["skew_high"])]), 2)
    native = round(rng.uniform(*g["native_mib"]), 0)
    small = rng.choice([0.0] * 6 + [rng.uniform(*g["small_collect"])])
    collect = rng.uniform(*g["big_collect"]) if rng.random() < g["collectors"] else small
    owner = rng.choices(("defaults", "tuner", "reshaper"), weights=g["owners"])[0]
    return JobTruth(
        job_id=job_id,
        expansion=expansion,
        skew=skew,
        native_mib_per_core=native,
        collect_fraction=collect,
        cpu_s_per_gib=round(rng.uniform(*g["cpu_s_per_gib"]), 1),
        owner=owner,
        physics=g.get("physics", PHYSICS),
    )


TRANSIENT_TAILS = {
    "node_lost": "{ts} ERROR YarnScheduler: Lost executor 7 on {host}: Container marked as failed: container_e42 on host: "
    "{host}. Exit status: -100. Diagnostics: Container released on a *lost* node.\n"
    "{ts} WARN TaskSetManager: Lost task 12.0 in stage 4.0: ExecutorLostFailure (executor 7 exited caused "
    "by one of the running tasks) Reason: Container released on a *lost* node",
    "network_transient": "{ts} WARN TransportChannelHandler: Exception in connection from /10.0.3.7:7337\n"
    "java.io.IOException: Connection reset by peer\n"
    "\tat sun.nio.ch.FileDispatcherImpl.read0(Native Method)",
}


def history(
    seed: int,
    n_jobs: int = 60,
    days: int = 30,
    start: str = "2026-10-01T00:00:00Z",
    transient_rate: float = 0.03,
    ranges: dict[str, Any] | None = None,
    hot_keys: float = 0.0,
) -> tuple[list[dict[str, Any]], dict[str, JobTruth]]:
    """Daily runs of recurring Spark jobs whose inputs grow, sized by hand by their owners (three habits,
    see the module's doc): after a memory failure the owner retries with a fix of their habit (up to
    three tries) and keeps that config. Records in DESIGN.md's history format, oldest first; and the
    world's truth about each job, for judging. `hot_keys`: the share of jobs with a hot key (_hot_key),
    none by default."""

    g = ranges or RANGES
    rng = random.Random(f"spark-world:{seed}" + ("" if ranges is None else f":{sorted(g.items())}"))
    t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
    records: list[dict[str, Any]] = []
    truths: dict[str, JobTruth] = {}
    run_no = 0
    for j in range(n_jobs):
        job = f"spark-job-{j:03d}"
        truth = random_truth(job, rng, g)
        base = min(2000.0, max(1.0, rng.lognormvariate(math.log(g["input_gib_median"]), g["input_sigma"]))) * GiB
        truth = truths[job] = _hot_key(truth, base, f"{seed}:{job}:{truth.expansion}:{truth.skew}", hot_keys)
        growth = rng.uniform(*g["growth"])
        conf = _owner_conf(truth.owner, base, rng)
        hour = rng.randint(0, 23)
        for d in range(days):
            input_bytes = int(base * (1 + growth) ** d * rng.uniform(0.9, 1.1))
            if truth.owner == "tuner" and d % 7 == 0 and d:
                conf = _retune(conf, input_bytes, rng)
            submitted = t0 + timedelta(days=d, hours=hour)
            run_no += 1
            attempt = 1
            while True:
                o = run(truth, conf, input_bytes)
                transient = o.status == "succeeded" and attempt == 1 and rng.random() < transient_rate
                started = submitted + timedelta(minutes=40 * (attempt - 1))
                rec = {
                    "job_id": job,
                    "run_id": f"w{seed}-{run_no:06d}" + (f"-{attempt}" if attempt > 1 else ""),
                    "attempt": attempt,
                    "submitted_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "kind": "spark",
                    "input_bytes": input_bytes,
                    "conf": dict(conf),
                    "status": o.status,
                    "runtime_seconds": o.runtime_seconds,
                    "cost": o.cost,
                }
                if transient:
                    kind = rng.choice(list(TRANSIENT_TAILS))
                    rec.update(
                        status="failed",
                        runtime_seconds=round(o.runtime_seconds * 0.4, 1),
                        cost=round(o.cost * 0.4, 4),
                        log_tail=TRANSIENT_TAILS[kind].format(
                            ts=(started + timedelta(seconds=847)).strftime("%y/%m/%d %H:%M:%S"),
                            host="ip-10-1-2-3.ec2.internal",
                        ),
                    )
                    records.append(rec)
                    attempt += 1
                    continue
                if o.status == "failed":
                    assert o.failure is not None  # a failed outcome names its failure
                    rec["log_tail"] = log_tail(o.failure, conf, truth, input_bytes, rng, started)
                records.append(rec)
                if o.status == "succeeded" or attempt >= 3:
                    break
                conf = _owner_fix(conf, o.failure, truth.owner, truth.physics.overhead_factor)
                attempt += 1
    records.sort(key=lambda r: (r["submitted_at"], r["run_id"]))
    return records, truths


def _hot_key(truth: JobTruth, base: float, key: str, share: float) -> JobTruth:
    """A `share` of the jobs have a hot key: at its first input a task needs 3–30 GiB for that key
    alone, and the need grows with the input. (Drawn from a generator of its own: the job's other
    draws from the world's generator are the ones the same seed gives without hot keys.)"""
    from dataclasses import replace

    rng = random.Random(f"hot-key:{key}")
    if rng.random() >= share:
        return truth
    need = rng.uniform(3.0, 30.0) * GiB
    return replace(truth, hot_fraction=round(need / (truth.expansion * base), 6))


def _owner_conf(owner: str, input_bytes: float, rng: random.Random) -> dict[str, str]:
    """A job's first config, as its owner's habit makes it."""
    gib = input_bytes / GiB
    if owner == "tuner":
        cores = rng.choice([2, 4, 5, 8])
        slots = gib / rng.uniform(1.0, 4.0)
        heap = 0.3 + cores * rng.uniform(1.0, 4.0)
        conf = {
            "spark.executor.memory": format_size(int(round(heap * 2) / 2 * GiB)),
            "spark.executor.cores": str(cores),
            "spark.executor.instances": str(max(1, min(300, round(slots / cores)))),
            "spark.driver.memory": rng.choice(["1g", "2g", "4g"]),
        }
        conf = _retune(conf, input_bytes, rng)
    else:
        cores = rng.choice([2, 4, 4, 5])
        conf = {
            "spark.executor.memory": rng.choice(["2g", "4g", "4g", "8g", "16g"]),
            "spark.executor.cores": str(cores),
            "spark.executor.instances": str(max(2, min(200, round(gib / 8)))),
            # the default 200 or a round number; enough that a partition starts at most a few GiB
            "spark.sql.shuffle.partitions": str(
                max(int(rng.choice(["200", "200", "400", "1000"])), 100 * math.ceil(gib / rng.uniform(1.0, 4.0) / 100))
            ),
            "spark.driver.memory": rng.choice(["1g", "2g", "4g"]),
        }
    if rng.random() < 0.4:
        conf["spark.executor.memoryOverhead"] = rng.choice(["512m", "1g", "2g"])
    return conf


def _retune(conf: dict[str, str], input_bytes: float, rng: random.Random) -> dict[str, str]:
    """A tuner's partitions: one per 96–384 MiB of input, a round number."""
    parts = input_bytes / (rng.uniform(96, 384) * MiB)
    step = 50 if parts < 1000 else 500
    return {**conf, "spark.sql.shuffle.partitions": str(max(50, min(20000, int(round(parts / step) * step))))}


def _more(key: str, factor: float, now: int) -> str:
    return format_size(min(BOUNDS[key][1], int(now * factor)))


def _owner_fix(
    conf: dict[str, str], failure: str | None, owner: str = "defaults", overhead_factor: float = 0.1
) -> dict[str, str]:
    """What a person does by hand after a memory failure: more of the memory that ran out, 1.5× at a time
    (within the search space); reshapers — and anyone whose memory is already at the space's bound —
    add partitions for a heap OOM and take cores away for a container kill. (The owner knows what their
    containers get: the overhead's default share is the cluster's, `overhead_factor`.)"""
    out = dict(conf)
    s = settings(out, overhead_factor)
    if failure in ("driver_heap", "driver_result"):
        out["spark.driver.memory"] = _more("spark.driver.memory", 1.5, s["driver"])
        if failure == "driver_result":
            out["spark.driver.maxResultSize"] = format_size(2 * s["max_result"])
    elif failure == "overhead":
        out["spark.executor.memoryOverhead"] = _more("spark.executor.memoryOverhead", 1.5, s["overhead"])
        if (owner == "reshaper" or s["overhead"] >= BOUNDS["spark.executor.memoryOverhead"][1]) and s["cores"] > 1:
            cores = max(1, s["cores"] // 2)
            out["spark.executor.cores"] = str(cores)
            out["spark.executor.instances"] = str(min(500, s["instances"] * s["cores"] // cores))
    elif owner == "reshaper" or s["heap"] >= BOUNDS["spark.executor.memory"][1]:
        out["spark.sql.shuffle.partitions"] = str(min(20000, 2 * s["partitions"]))
        out["spark.executor.memory"] = _more("spark.executor.memory", 1.25, s["heap"])
    else:
        out["spark.executor.memory"] = _more("spark.executor.memory", 1.5, s["heap"])
    return out
