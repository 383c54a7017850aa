"""The estates a Spark world (spark_world) is drawn from: the ranges of its jobs and owners' habits, and
its physics — the laws a recommender has to hold under without being told them. The module's constants
are the default world's; `OTHER_ESTATE` is a hungrier estate; random_estate draws ranges, physics and log
dialect from a seed, for worlds nobody has shaped the recommender on."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from core.spark import MiB

RESERVED = 300 * MiB
UNIFIED_FRACTION = 0.6
SPILL_LIMIT = 2.5  # need/available beyond which execution memory cannot spill its way out
CORE_HOUR = 0.0357  # fitted to on-demand prices of c5/m5/r5.xlarge (4 vCPU, 8/16/32 GiB: 0.170, 0.192, 0.252 an hour)
GIB_HOUR = 0.0034
START_SECONDS = 45.0
TASK_SECONDS = 0.1  # to schedule and launch one task
FETCH_SECONDS = 0.0005  # for a task to fetch one shuffle block (there is one per map task)


@dataclass(frozen=True)
class Physics:
    """The laws of one world, which a recommender has to hold under without being told them. `PHYSICS` is
    the module's own (the constants above, logs as Spark on YARN prints them); random_physics draws others."""

    reserved: int = RESERVED  # Spark's reserved heap
    unified_fraction: float = UNIFIED_FRACTION  # spark.memory.fraction
    spill_limit: float = SPILL_LIMIT
    spill_slowdown: float = 0.6  # runtime added per unit of pressure past 1
    offheap_heap_share: float = 0.05  # off-heap use in proportion to the heap
    native_scale: float = 1.0  # × each job's native MiB per core
    overhead_factor: float = 0.1  # the overhead's default share of the heap (0.4: non-JVM on Kubernetes)
    driver_fraction: float = 0.6  # of the driver's heap that collected results may take
    core_hour: float = CORE_HOUR
    gib_hour: float = GIB_HOUR
    start_seconds: float = START_SECONDS
    task_seconds: float = TASK_SECONDS
    fetch_seconds: float = FETCH_SECONDS
    dialect: str = "yarn"  # how its logs read: yarn | kubernetes | pyspark (PySpark on Kubernetes)


PHYSICS = Physics()


def random_physics(seed: int) -> Physics:
    """A world's physics drawn from its seed: memory fraction and reserve, how hard spilling bites, native
    memory, the overhead's default share, prices of a core and a GiB, task and fetch times, and the log
    dialect — each in a range that real clusters and Spark's settings span."""
    rng = random.Random(f"spark-physics:{seed}")
    dialect = rng.choice(("yarn", "kubernetes", "pyspark"))
    return Physics(
        reserved=int(rng.uniform(250, 450) * MiB),
        unified_fraction=round(rng.uniform(0.5, 0.75), 3),
        spill_limit=round(rng.uniform(1.8, 3.5), 2),
        spill_slowdown=round(rng.uniform(0.3, 1.2), 2),
        offheap_heap_share=round(rng.uniform(0.02, 0.1), 3),
        native_scale=round(math.exp(rng.uniform(math.log(0.5), math.log(2.0))), 2),
        overhead_factor=0.4 if dialect == "pyspark" else 0.1,
        driver_fraction=round(rng.uniform(0.45, 0.75), 2),
        core_hour=round(CORE_HOUR * math.exp(rng.uniform(-0.7, 0.7)), 5),
        gib_hour=round(GIB_HOUR * math.exp(rng.uniform(-0.7, 0.7)), 5),
        start_seconds=round(rng.uniform(20, 120), 1),
        task_seconds=round(rng.uniform(0.03, 0.3), 3),
        fetch_seconds=round(rng.uniform(0.0002, 0.0012), 5),
        dialect=dialect,
    )


def random_estate(seed: int) -> dict[str, Any]:
    """Ranges of a world with randomized physics (random_physics), its jobs and owners drawn from ranges
    that are themselves drawn: how hungry, skewed, big and growing its jobs are, how many collect to the
    driver, and the shares of the owners' three habits."""
    rng = random.Random(f"spark-estate:{seed}")
    lo_exp = rng.uniform(1.0, 4.0)
    weights = [rng.uniform(0.1, 1.0) for _ in range(3)]
    return {
        **RANGES,
        "expansion": (round(lo_exp, 2), round(lo_exp * rng.uniform(2.0, 4.0), 2)),
        "skew_low": (1.0, round(rng.uniform(1.3, 2.0), 2)),
        "skew_high": (2.0, round(rng.uniform(3.0, 7.0), 2)),
        "native_mib": (round(rng.uniform(50, 200)), round(rng.uniform(500, 1500))),
        "cpu_s_per_gib": (round(rng.uniform(10, 40)), round(rng.uniform(80, 200))),
        "collectors": round(rng.uniform(1 / 20, 1 / 6), 3),
        "input_gib_median": round(math.exp(rng.uniform(math.log(15), math.log(200))), 1),
        "input_sigma": round(rng.uniform(0.6, 1.2), 2),
        "growth": (0.0, round(rng.uniform(0.02, 0.07), 3)),
        "owners": tuple(round(x / sum(weights), 3) for x in weights),
        "physics": random_physics(seed),
    }


# The ranges a world draws its jobs from. `OTHER_ESTATE` is a differently drawn estate (hungrier,
# more skewed jobs, bigger inputs, other owners' habits) for checking that what the recommender learns
# from one estate's history is a method, not this world's numbers.
RANGES: dict[str, Any] = {
    "expansion": (1.5, 6.0),
    "skew_low": (1.0, 1.6),
    "skew_high": (1.6, 4.0),
    "native_mib": (80, 700),
    "cpu_s_per_gib": (15, 90),
    "small_collect": (2e-5, 4e-4),
    "collectors": 1 / 12,
    "big_collect": (0.02, 0.2),
    "input_gib_median": 40.0,
    "input_sigma": 1.0,
    "growth": (0.0, 0.04),
    "owners": (0.35, 0.35, 0.30),
}
OTHER_ESTATE: dict[str, Any] = {
    **RANGES,
    "expansion": (3.0, 10.0),
    "skew_low": (1.1, 2.0),
    "skew_high": (2.0, 6.0),
    "native_mib": (150, 1200),
    "cpu_s_per_gib": (30, 160),
    "collectors": 1 / 8,
    "big_collect": (0.005, 0.1),
    "input_gib_median": 120.0,
    "input_sigma": 0.8,
    "growth": (0.0, 0.06),
    "owners": (0.6, 0.25, 0.15),
}
