"""The failure taxonomy of DESIGN.md: category ids are part of the CLI contract."""

from __future__ import annotations

CATEGORIES: dict[str, str] = {  # id -> default action
    "memory_exceeded": "retry_with_conf",
    "disk_exhausted": "retry_with_conf",
    "shuffle_fetch_failed": "retry",
    "node_lost": "retry",
    "network_transient": "retry",
    "storage_throttled": "retry_later",
    "missing_input": "retry_later",
    "permission_denied": "no_retry",
    "schema_mismatch": "no_retry",
    "user_code_error": "no_retry",
    "timeout": "retry_with_conf",
    "image_pull_failed": "no_retry",
    "gpu_failure": "retry",
}
UNCLASSIFIED = "unclassified"
TAXONOMY = tuple(CATEGORIES) + (UNCLASSIFIED,)
ACTIONS = ("retry", "retry_with_conf", "retry_later", "no_retry")

# Which memory ran out, for a memory_exceeded rule (its `component`): what a retry has to give more of.
MEMORY_COMPONENTS: dict[str, str] = {
    "executor_heap": "a Spark executor's JVM heap, shared by its running tasks (spark.executor.memory, cores)",
    "executor_container": "a Spark executor's container limit: heap + overhead (YARN's physical-memory kill, "
    "Kubernetes' OOMKilled executor pod, exit 137)",
    "executor_offheap": "a Spark executor's JVM off-heap memory: direct buffers, metaspace (memoryOverhead, offHeap)",
    "pyspark_worker": "PySpark's Python workers beside the executor JVM (spark.executor.pyspark.memory, overhead)",
    "driver_heap": "the Spark driver's JVM heap: broadcasts, collects, planning (spark.driver.memory)",
    "driver_container": "the Spark driver's container limit (YARN's ApplicationMaster in cluster mode, its pod)",
    "driver_result": "results collected to the driver over spark.driver.maxResultSize",
    "container": "a container or process the memory limit killed, whose role the log does not tell",
    "gpu": "GPU memory (CUDA, XLA)",
    "process": "a process's own allocation (Python MemoryError, numpy, Arrow)",
}
