"""How large a job's executor containers are where its config leaves the memory overhead to Spark. The
default is a share of the heap: 0.1 (spark.executor.memoryOverheadFactor), but 0.4 for non-JVM jobs
(PySpark, SparkR) on Kubernetes — and a history record says neither which cluster manager ran it nor
always whether the job is Python. Read as 0.1, a PySpark pod on Kubernetes is costed 27 % smaller than
it is, and a retry that no longer packs onto its nodes looks cheap.

The estate's bills say which share it gives: a container 0.4 of the heap larger holds more GiB, or packs
fewer to a node. A job whose own bills tell the two apart gets the share they show. Where they cannot
(a container that packs by its cores bills alike either way), a job with a non-JVM witness in its config
or failures gets the share most witnessed jobs' bills show, where theirs tell. The share found is written
into a copy of the job's configs as Spark's own key, so every size computed from them (features, prices,
the search's candidates) is the container the cluster runs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from autofix.model import Prices, estate_prices, per_hour, resources
from core.spark import FACTOR_KEYS, GiB, beside_overhead_bytes, default_overhead

SPARK_SHARE, NON_JVM_SHARE = 0.1, 0.4
SHARE_KEY = FACTOR_KEYS[0]
# the non-JVM share is taken where it explains the bills this much better than Spark's (squared relative
# error), as model.NODE_EVIDENCE takes a node shape: bills that fit both about as well say nothing
EVIDENCE = 0.25
# a config key only a Python job sets (Spark's configuration docs: PySpark, Python on Kubernetes)
NON_JVM_KEYS = (
    "spark.executor.pyspark.memory",
    "spark.pyspark.python",
    "spark.pyspark.driver.python",
    "spark.submit.pyFiles",
    "spark.kubernetes.pyspark.pythonVersion",
)


def left_to_spark(conf: dict[str, str]) -> bool:
    """Does Spark size this config's overhead from the heap at a share the config does not name?"""
    return "spark.executor.memoryOverhead" not in conf and not any(k in conf for k in FACTOR_KEYS)


def witnessed(record: dict[str, Any]) -> bool:
    """A non-JVM job by its config's keys, or by a failure the triage's rules put in a Python worker."""
    return any(k in record.get("conf", {}) for k in NON_JVM_KEYS) or record.get("component") == "pyspark_worker"


def _misfit(bills: list[dict[str, Any]], prices: Prices, share: float) -> float:
    """Squared relative error of the bills' hourly cost, their overhead `share` of the heap."""
    import numpy as np

    from autofix.features import numbers

    n = np.asarray([numbers(r["conf"]) for r in bills], dtype=np.float64)
    over = np.asarray(
        [
            (default_overhead(int(h * GiB), share) + beside_overhead_bytes(r["conf"])) / GiB
            for h, r in zip(n[:, 0], bills, strict=True)
        ]
    )
    hourly = per_hour([r["cost"] for r in bills], [float(r["runtime_seconds"]) for r in bills])
    billed = resources(n[:, 0], over, n[:, 2], n[:, 3], n[:, 5], prices.node) @ prices.rate
    return float(np.sum(((billed - hourly) / hourly) ** 2))


def job_shares(records: Iterable[dict[str, Any]], prices: Prices | None) -> dict[str, float]:
    """job_id → NON_JVM_SHARE for each job whose containers the estate sizes at that share (the others keep
    Spark's SPARK_SHARE and are not named)."""
    if prices is None:
        return {}
    bills: dict[str, list[dict[str, Any]]] = defaultdict(list)
    witnesses: set[str] = set()
    for r in records:
        if r.get("kind") != "spark":
            continue
        if witnessed(r):
            witnesses.add(r["job_id"])
        if r.get("status") == "succeeded" and r.get("cost") and r.get("runtime_seconds") and left_to_spark(r["conf"]):
            bills[r["job_id"]].append(r)
    told: dict[str, float] = {}  # the share of each job whose bills tell the two apart
    for job, b in bills.items():
        jvm, non_jvm = _misfit(b, prices, SPARK_SHARE), _misfit(b, prices, NON_JVM_SHARE)
        if non_jvm < EVIDENCE * jvm or jvm < EVIDENCE * non_jvm:
            told[job] = NON_JVM_SHARE if non_jvm < jvm else SPARK_SHARE
    shares = {job: share for job, share in told.items() if share == NON_JVM_SHARE}
    # the witnessed jobs whose bills cannot tell: the share most of the witnessed jobs' bills show
    votes = [told[j] for j in witnesses if j in told]
    if votes.count(NON_JVM_SHARE) > votes.count(SPARK_SHARE):
        shares.update({j: NON_JVM_SHARE for j in witnesses if j not in told})
    return shares


def with_shares(records: Iterable[dict[str, Any]], shares: dict[str, float]) -> list[dict[str, Any]]:
    """The records, those of a job in `shares` (a copy) with its share named in their config where Spark
    would size the overhead from the heap."""
    return [
        {**r, "conf": share_conf(r["conf"], shares.get(r.get("job_id", "")))}
        if r.get("job_id") in shares and left_to_spark(r.get("conf", {}))
        else r
        for r in records
    ]


def share_conf(conf: dict[str, str], share: float | None) -> dict[str, str]:
    """`conf` with the overhead share named, where it leaves the overhead to Spark and a share is known."""
    return {**conf, SHARE_KEY: str(share)} if share is not None and left_to_spark(conf) else conf


def estate_terms(history: list[dict[str, Any]]) -> tuple[Prices | None, dict[str, float]]:
    """The estate's price list and its jobs' overhead shares, from its bills: prices fitted with every
    container at Spark's share tell which jobs bill larger, and are fitted again with their containers
    as large as they are."""
    first = estate_prices(history)
    shares = job_shares(history, first)
    return (estate_prices(with_shares(history, shares)) if shares else first), shares
