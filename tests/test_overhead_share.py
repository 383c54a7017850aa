"""The overhead share a job's containers get where its config leaves the overhead to Spark (0.1 of the heap,
0.4 for non-JVM jobs on Kubernetes), read from the estate's bills (autofix/overhead_share.py)."""

from __future__ import annotations

import math

import pytest

from autofix.features import numbers
from autofix.overhead_share import SHARE_KEY, estate_terms, job_shares, with_shares
from core.backends.sim import spark_estates as estates
from core.backends.sim import spark_world as w
from core.spark import GiB, overhead_bytes, overhead_factor, parse_size

NODE_HOUR, NODE_GIB = 0.9, 64  # a 16-vCPU, 64-GiB node


def billed(records, python: set[str], share: float, by_node: bool) -> None:
    """Bill each run as its cluster would: the containers of the `python` jobs at `share` of the heap where
    the config leaves the overhead to Spark, the others at 0.1 — by the whole 16-vCPU/64-GiB node, or
    per core and GiB."""
    for r in records:
        heap, over, cores, inst, *_ = numbers(r["conf"])
        if r["job_id"] in python and "spark.executor.memoryOverhead" not in r["conf"]:
            over = max(384 / 1024, share * heap)
        if by_node:
            per_node = min(16 // cores, int(NODE_GIB // (heap + over)))
            nodes = math.ceil(inst / per_node) if per_node else inst * math.ceil((heap + over) / NODE_GIB)
            hourly = (nodes + 0.25) * NODE_HOUR
        else:
            hourly = 0.05 * cores * inst + 0.006 * inst * (heap + over) + 0.01
        r["cost"] = hourly * r["runtime_seconds"] / 3600


@pytest.fixture(scope="module")
def estate():
    """A YARN-dialect world's runs; a third of its jobs made Python ones, every other of those that leave
    the overhead to Spark with the config key only a PySpark job sets (a witness)."""
    records, _ = w.history(611, n_jobs=60, days=20, ranges=estates.random_estate(611))
    jobs = sorted({r["job_id"] for r in records})
    python = set(jobs[::3])
    left = {r["job_id"] for r in records if r["kind"] == "spark" and "spark.executor.memoryOverhead" not in r["conf"]}
    assert len(python & left) >= 2 and (set(jobs) - python) & left  # both kinds leave it to Spark somewhere
    witnessed = set(sorted(python & left)[::2])
    for r in records:
        r["conf"] = dict(r["conf"])
        if r["job_id"] in witnessed:
            r["conf"]["spark.executor.pyspark.memory"] = "512m"
    return records, python, witnessed


@pytest.mark.parametrize("by_node", [True, False], ids=["node-pool", "per-core-and-GiB"])
def test_a_python_job_on_kubernetes_is_costed_with_the_overhead_its_bills_show(estate, by_node):
    """Bills at 0.4 for the Python jobs: those jobs, and only those, are given it (the witnessed ones even
    where their own bills cannot tell), and the estate's prices are fitted with their containers as large
    as they are."""
    records, python, witnessed = estate
    billed(records, python, 0.4, by_node)
    prices, shares = estate_terms(records)
    assert prices is not None and shares
    assert set(shares) <= python  # no JVM job is given a Python job's share
    assert witnessed <= set(shares)
    assert set(shares.values()) == {0.4}
    assert (python - witnessed) & set(shares)  # some by their bills alone
    # the share reaches every size computed from the configs, and only where Spark sizes the overhead
    seen = with_shares(records, shares)
    for before, after in zip(records, seen, strict=True):
        share = shares.get(before["job_id"])
        if share is None or "spark.executor.memoryOverhead" in before["conf"]:
            assert after["conf"] == before["conf"]
        else:
            heap = numbers(before["conf"])[0] * GiB
            assert overhead_bytes(after["conf"]) == pytest.approx(max(384 * 2**20, 0.4 * heap), rel=1e-3)
    assert all(SHARE_KEY not in r["conf"] for r in records)  # the records themselves are not changed


@pytest.mark.parametrize("by_node", [True, False], ids=["node-pool", "per-core-and-GiB"])
def test_python_jobs_billed_at_sparks_share_keep_it(estate, by_node):
    """On YARN a PySpark job's overhead is 0.1 of its heap like any other's: a witness alone gives no job
    the Kubernetes share."""
    records, python, *_ = estate
    billed(records, python, 0.1, by_node)
    prices, _ = estate_terms(records)
    assert job_shares(records, prices) == {}


def test_no_bills_no_share():
    records, _ = w.history(611, n_jobs=10, days=3, ranges=estates.random_estate(611))
    assert job_shares([{**r, "cost": None} for r in records], None) == {}


def test_a_config_that_names_the_share_is_sized_by_it():
    """Spark ≥ 3.3's key, then the Kubernetes key it replaced; an explicit overhead wins over both; a value
    Spark would reject is no share."""
    conf = {"spark.executor.memory": "10g"}
    assert overhead_bytes(conf) == GiB
    assert overhead_bytes({**conf, "spark.kubernetes.memoryOverheadFactor": "0.4"}) == 4 * GiB
    assert (
        overhead_factor(
            {**conf, "spark.executor.memoryOverheadFactor": "0.2", "spark.kubernetes.memoryOverheadFactor": "0.4"}
        )
        == 0.2
    )
    assert (
        overhead_bytes({**conf, "spark.executor.memoryOverheadFactor": "0.4", "spark.executor.memoryOverhead": "2g"})
        == 2 * GiB
    )
    assert overhead_factor({**conf, "spark.executor.memoryOverheadFactor": "lots"}) == 0.1
    assert overhead_factor({**conf, "spark.executor.memoryOverheadFactor": "1.5"}) == 0.1


def test_a_heap_retry_of_a_python_job_keeps_the_overhead_spark_derives_at_its_share():
    """Its candidates' containers follow the heap at 0.4 — past the 16 GiB the search would write as an
    explicit overhead — and the retry still names no overhead: Spark sizes it."""
    from autofix.recommend import candidates, floor, grid

    conf = {
        "spark.executor.memory": "40g",
        "spark.executor.cores": "4",
        "spark.executor.instances": "10",
        SHARE_KEY: "0.4",
    }
    rows = grid(conf, "heap")
    assert rows[:, 1] == pytest.approx(0.4 * rows[:, 0], rel=1e-3)
    assert rows[:, 1].max() > 16
    assert all("spark.executor.memoryOverhead" not in c for c in candidates(conf, "heap"))
    raised, _ = floor(conf, "heap")
    assert raised["spark.executor.memory"] == "60g" and "spark.executor.memoryOverhead" not in raised


def test_the_recommender_costs_a_python_jobs_retry_as_the_containers_its_cluster_runs(estate, tmp_path):
    """A 26-GiB heap of 4 cores packs twice onto a 16-vCPU, 64-GiB node at 0.1 of the heap as overhead,
    once at 0.4: the same retry of a Python job costs far more where its cluster bills it at 0.4 — and a
    JVM job's the same either way."""
    from console.lab.evaluate import lab_recommender

    records, python, witnessed = estate
    jvm = sorted({r["job_id"] for r in records} - python)[0]
    failed = {j: next(r for r in records if r["job_id"] == j) for j in (sorted(witnessed)[0], jvm)}
    retries = {}
    for j, r in failed.items():
        retries[j] = {**r["conf"], "spark.executor.memory": "26g", "spark.executor.cores": "4"}
        retries[j].pop("spark.executor.memoryOverhead", None)
    recommender, _ = lab_recommender(tmp_path)
    billed(records, python, 0.1, by_node=True)
    recommender.train(records, "test")
    cost = {}
    for share in (0.1, 0.4):
        billed(records, python, share, by_node=True)
        for j, r in failed.items():
            cost[j, share] = recommender.score(r, [retries[j]], records)[0][1]
    python_job = sorted(witnessed)[0]
    assert cost[python_job, 0.4] > 1.4 * cost[python_job, 0.1]  # half as many executors to a node
    assert cost[jvm, 0.4] == pytest.approx(cost[jvm, 0.1], rel=0.1)


def test_where_whole_nodes_are_billed_the_search_also_tries_executors_that_fill_them():
    """Five 4-core executors on 16-vCPU nodes pay for two nodes and fill one: eight fill both. Twenty-seven
    1-core ones: thirty-two. Eight 4-core ones fill their two already; memory decides too (60-GiB
    containers fit twice on a 128-GiB node whatever their cores)."""
    import numpy as np

    from autofix.packing import packed

    rows = np.array(
        [
            [12.0, 2.7, 4, 5, 200, 2, 1],
            [3.0, 0.8, 1, 27, 1000, 2, 1],
            [8.0, 0.8, 4, 8, 200, 2, 1],
            [55.0, 5.5, 2, 5, 200, 2, 1],
        ]
    )
    out = packed(rows, np.array([16.0, 128.0]))
    assert out[:4].tolist() == rows.tolist()  # the rows themselves first, as they were
    assert [(int(r[2]), int(r[3])) for r in out[4:]] == [(4, 8), (1, 32), (2, 6)]
    others = [0, 1, 2, 4, 5, 6]  # only the executors change
    assert all(any((v[others] == r[others]).all() for r in rows) for v in out[4:])
    # an executor larger than a node is left as it is
    assert len(packed(np.array([[200.0, 20.0, 4, 3, 200, 2, 1]]), np.array([16.0, 128.0]))) == 1


class Flat:
    """A predictor double for the search: every row seen, sure to succeed, each at the same cost and time."""

    node = None
    runtime_margin = None

    def __init__(self, most_executors=None):
        self.most_executors = most_executors

    def seen(self, X, also=None):
        import numpy as np

        return np.ones(len(X), dtype=bool)

    def predict_all(self, X, clip=False, also=None):
        import numpy as np

        return np.ones(len(X)), np.ones(len(X)), np.full(len(X), 100.0)

    def predict(self, X, clip=False, also=None):
        return self.predict_all(X)[:2]


def test_a_retry_asks_for_no_more_executors_than_any_run_it_learned_from():
    """141 five-core executors reshaped to one core each want 705; the cluster's quota is in no config, only
    in what runs were given — here never more than 400. A job that already ran more keeps its own count."""
    from autofix.features import JobMemory
    from autofix.recommend import search

    conf = {
        "spark.executor.memory": "16g",
        "spark.executor.cores": "5",
        "spark.executor.instances": "141",
        "spark.sql.shuffle.partitions": "4000",
    }

    def most(model, c):
        found = search(model, c, 500 * 2**30, JobMemory(), keep=2000, kind="heap")
        return max(int(f[3]["spark.executor.instances"]) for f in found)

    assert most(Flat(), conf) > 400  # (without a quota: one-core reshapes ask for 500)
    assert most(Flat(most_executors=400.0), conf) <= 400
    assert most(Flat(most_executors=400.0), {**conf, "spark.executor.instances": "450"}) == 450


def test_a_job_near_the_quota_can_still_get_fewer_cores_per_executor():
    """300 five-core executors that ran out of heap, in a cluster that never gave a run more than 400: one
    core per executor (five times the heap per task) at the same slot count would want 1,500 executors;
    it is offered at the quota's 400 instead of not at all."""
    from autofix.features import JobMemory
    from autofix.recommend import search

    conf = {
        "spark.executor.memory": "34g",
        "spark.executor.cores": "5",
        "spark.executor.instances": "300",
        "spark.sql.shuffle.partitions": "20000",
    }
    found = search(Flat(most_executors=400.0), conf, 2000 * 2**30, JobMemory(), keep=5000, kind="heap")
    one_core = {int(f[3]["spark.executor.instances"]) for f in found if f[3]["spark.executor.cores"] == "1"}
    assert one_core and max(one_core) == 400


def test_pysparks_and_off_heap_memory_count_in_the_container():
    """Spark sizes an executor's container as heap + memoryOverhead + spark.executor.pyspark.memory (MiB
    where no unit is given) + spark.memory.offHeap.size where off-heap is enabled: the room outside the
    heap, and what a node packs. A retry that changes none of them names none of them."""
    from autofix.recommend import candidates, floor

    conf = {"spark.executor.memory": "40g", "spark.executor.memoryOverhead": "4g"}
    assert numbers(conf)[1] == 4
    assert numbers({**conf, "spark.executor.pyspark.memory": "2g"})[1] == 6
    assert numbers({**conf, "spark.executor.pyspark.memory": "2048"})[1] == 6
    assert numbers({**conf, "spark.memory.offHeap.size": "8g"})[1] == 4  # not enabled: not allocated
    assert numbers({**conf, "spark.memory.offHeap.enabled": "true", "spark.memory.offHeap.size": "8g"})[1] == 12
    python = {"spark.executor.memory": "40g", "spark.executor.pyspark.memory": "1g"}
    assert numbers(python)[1] == 4 + 1  # Spark's 0.1 of the heap, and PySpark's
    for conf in (python, {**python, "spark.executor.memoryOverhead": "6g"}):
        same = [c for c in candidates(conf, "heap") if numbers(c)[0] == 40 and numbers(c)[2:5] == numbers(conf)[2:5]]
        least = min(same, key=lambda c: numbers(c)[1])  # the failed run's own container, unchanged
        assert numbers(least)[1] == numbers(conf)[1]
        assert least.get("spark.executor.memoryOverhead") == conf.get("spark.executor.memoryOverhead")
    # the key is what the space's bounds hold (16 GiB of overhead), not the key with PySpark's memory beside it
    near = {**python, "spark.executor.memoryOverhead": "15872m"}
    assert min(parse_size(c["spark.executor.memoryOverhead"]) for c in candidates(near, "heap")) == 15872 * 2**20
    raised, _ = floor({**python, "spark.executor.memoryOverhead": "4g"}, "overhead")
    assert raised["spark.executor.memoryOverhead"] == "6g"


def test_an_estate_whose_python_pods_fill_half_a_node_is_billed_by_the_node_it_packs():
    """Bills of 16-vCPU, 128-GiB nodes where PySpark's memory tips pods over half a node: the node and its
    price are read from them exactly, which they are not with the containers taken 1 GiB smaller."""
    from autofix.model import estate_prices

    price, records = 0.96, []
    for i in range(120):
        heap, cores, inst = (40, 44, 45, 46, 20, 30)[i % 6], (2, 4, 8)[i % 3], 10 + 7 * i
        py = ("1g", "2g", "512m")[i % 4 % 3]
        conf = {
            "spark.executor.memory": f"{heap}g",
            "spark.executor.memoryOverhead": f"{heap * 4 // 10}g",
            "spark.executor.cores": str(cores),
            "spark.executor.instances": str(inst),
            "spark.executor.pyspark.memory": py,
        }
        pod = heap + heap * 4 // 10 + {"1g": 1, "2g": 2, "512m": 0.5}[py]
        per_node = min(16 // cores, int(128 // pod))
        runtime = 600.0 + 13 * i
        cost = (math.ceil(inst / per_node) + 0.25) * price * runtime / 3600
        records.append(
            {
                "job_id": f"py-{i % 9}",
                "kind": "spark",
                "status": "succeeded",
                "conf": conf,
                "cost": cost,
                "runtime_seconds": runtime,
                "submitted_at": f"2026-10-{1 + i % 28:02d}T00:00:00Z",
            }
        )
    prices = estate_prices(records)
    assert prices is not None and prices.node is not None
    assert tuple(prices.node) == (16, 128)
    assert prices.rate[0] == pytest.approx(price, rel=1e-3)
