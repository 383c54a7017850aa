"""Spark configuration values in Spark's own syntax: sizes ("4g", "512m", "1536m", a bare number in the
key's own unit), counts, and the defaults Spark applies when a key is absent."""

from __future__ import annotations

import re

GiB = 1024**3
MiB = 1024**2
_UNITS = {"b": 1, "k": 1024, "m": MiB, "g": GiB, "t": 1024**4, "p": 1024**5}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?\s*$", re.IGNORECASE)

# keys whose value is a size; the rest of the known keys are counts
SIZE_KEYS = (
    "spark.executor.memory",
    "spark.executor.memoryOverhead",
    "spark.driver.memory",
    "spark.driver.memoryOverhead",
    "spark.driver.maxResultSize",
    "spark.executor.pyspark.memory",
    "spark.memory.offHeap.size",
    "resources.memory",
)
# the least and most of each setting a retry may be given: the search space the recommender's issue set
# (autofix.space holds the recommender to it; the simulated world's owners raise no further)
RETRY_SPACE = {
    "spark.executor.memory": (512 * MiB, 64 * GiB),
    "spark.executor.memoryOverhead": (384 * MiB, 16 * GiB),
    "spark.executor.cores": (1, 8),
    "spark.executor.instances": (1, 500),
    "spark.sql.shuffle.partitions": (1, 20000),
    "spark.driver.memory": (512 * MiB, 64 * GiB),
}
# the sizes Spark reads in MiB where the value has no unit (its config package declares them
# bytesConf(ByteUnit.MiB): "spark.executor.memory=4096" is 4 GiB); maxResultSize and offHeap.size are bytes
MIB_KEYS = frozenset(
    {
        "spark.executor.memory",
        "spark.executor.memoryOverhead",
        "spark.driver.memory",
        "spark.driver.memoryOverhead",
        "spark.executor.pyspark.memory",
    }
)
# counts: the least each can be (a CPU-only job asks for 0 GPUs) and a ceiling past which a value is a
# typo rather than a config — an edit in the approval queue is held to both, history only to the least
COUNTS = {
    "spark.executor.cores": (1, 64),
    "spark.executor.instances": (1, 5000),
    "spark.dynamicAllocation.maxExecutors": (1, 5000),
    "spark.sql.shuffle.partitions": (1, 200_000),
    "spark.driver.cores": (1, 64),
    "resources.cpu": (1, 256),
    "resources.gpus": (0, 64),
    "train.batch_size": (1, 1_000_000),
    "train.nodes": (1, 1024),
}
# the same for sizes: past this, a memory value in an edit is a typo (no JVM or container is that big)
SIZE_CEILING = 512 * GiB


def parse_size(value: object, key: str | None = None) -> int:
    """Spark memory syntax → bytes. A bare number is in `key`'s own unit, as Spark reads it: MiB for the
    MIB_KEYS, bytes for the others. Raises ValueError naming the value."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    bare = MiB if key in MIB_KEYS else 1
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"negative size: {value!r}")
        return int(value * bare)
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"not a size: {value!r} (expected e.g. 4g, 512m, 1536m or a number)")
    unit = m.group(2).lower()
    n = float(m.group(1)) * (_UNITS[unit or "b"] if unit or m.group(3) else bare)
    return int(n)


def size_of(conf: dict[str, str], key: str, default: str = "1g") -> int:
    """`key`'s size in `conf` in bytes (parse_size, in the key's own unit), `default` where it is unset."""
    return parse_size(conf.get(key, default), key)


def format_size(n: int) -> str:
    """Bytes → Spark syntax, in whole MiB (Spark's own granularity for these keys)."""
    mib = max(1, round(n / MiB))
    return f"{mib // 1024}g" if mib % 1024 == 0 else f"{mib}m"


def parse_count(value: object, key: str | None = None) -> int:
    """A whole number, at least the least `key` can be (COUNTS; 1 for other keys). Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"not a count: {value!r}")
    try:
        n = int(str(value).strip())
    except ValueError:
        raise ValueError(f"not a whole number: {value!r}") from None
    least = COUNTS[key][0] if key is not None and key in COUNTS else 1
    if n < least:
        raise ValueError(f"must be at least {least}, got {n}")
    return n


def default_overhead(heap_bytes: int, factor: float = 0.1) -> int:
    """Spark's default spark.executor.memoryOverhead: max(384m, `factor` of the heap) — 0.1, or 0.4 for
    non-JVM jobs on Kubernetes (the cluster manager's share, which a config does not say)."""
    return max(384 * MiB, int(heap_bytes) * round(factor * 1000) // 1000)


# the overhead's share of the heap, where a config names it: Spark ≥ 3.3's key, then the Kubernetes one it replaced
FACTOR_KEYS = ("spark.executor.memoryOverheadFactor", "spark.kubernetes.memoryOverheadFactor")


def overhead_factor(conf: dict[str, str], default: float = 0.1) -> float:
    """The overhead's share of the heap a config runs with: the one it names (FACTOR_KEYS), else `default`
    (the cluster manager's; a value that is not a fraction in (0, 1] is Spark's error, not a share)."""
    for key in FACTOR_KEYS:
        if key in conf:
            try:
                share = float(conf[key])
            except ValueError:
                continue
            if 0 < share <= 1:
                return share
    return default


def overhead_bytes(conf: dict[str, str], factor: float = 0.1) -> int:
    """spark.executor.memoryOverhead, or Spark's default (default_overhead) at the share the config names
    (overhead_factor), else `factor`."""
    if "spark.executor.memoryOverhead" in conf:
        return size_of(conf, "spark.executor.memoryOverhead")
    heap = size_of(conf, "spark.executor.memory")
    return default_overhead(heap, overhead_factor(conf, factor))


def beside_overhead_bytes(conf: dict[str, str]) -> int:
    """What an executor's container holds besides its heap and memoryOverhead: spark.executor.pyspark.memory
    (MiB where no unit is given) and, where off-heap memory is enabled, spark.memory.offHeap.size (bytes).
    Spark's configuration docs: the container's size is the sum of the four; a cluster packs and bills it whole."""
    total = 0
    if "spark.executor.pyspark.memory" in conf:  # (tested first: most configs set neither, and this runs per record)
        total += size_of(conf, "spark.executor.pyspark.memory")
    if "spark.memory.offHeap.enabled" in conf and str(conf["spark.memory.offHeap.enabled"]).strip().lower() == "true":
        total += size_of(conf, "spark.memory.offHeap.size", "0")
    return total


def executors_key(conf: dict[str, str]) -> str:
    """The key that caps a job's executors: spark.dynamicAllocation.maxExecutors when dynamic allocation
    is on and sets it (and no fixed spark.executor.instances is given), else spark.executor.instances.
    A dynamically allocated job runs with up to that many, so that is the count to reason with and
    the key to change."""
    if (
        str(conf.get("spark.dynamicAllocation.enabled", "false")).strip().lower() == "true"
        and "spark.executor.instances" not in conf
        and "spark.dynamicAllocation.maxExecutors" in conf
    ):
        return "spark.dynamicAllocation.maxExecutors"
    return "spark.executor.instances"
