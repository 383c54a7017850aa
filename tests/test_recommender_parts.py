"""Pieces of the retry recommender (issue 5, in progress): features from history alone, both model
families trained and chosen on a time split, artifacts read back only through their sha256 and
weights_only, and a search whose answer changes only what needs changing, inside the space."""

from __future__ import annotations

import functools
import math

import pytest

from autofix.features import NAMES, JobMemory, dataset, quantities, vector
from autofix.model import load, save, train
from autofix.recommend import SPACE, candidates, changed, search
from core.backends.sim import spark_estates as estates
from core.backends.sim import spark_world as w
from core.errors import ConsoleError
from core.spark import parse_size


@pytest.fixture(scope="module")
def trained():
    records, truths = w.history(3, n_jobs=30, days=20)
    records = [triaged(r) for r in records]
    X, y, cost, when, memory, runtime = dataset(records)
    tensors, meta, metrics = train(X, y, cost, when, seed=1, runtime=runtime)
    return records, truths, memory, tensors, meta, metrics


CONF = {
    "spark.executor.memory": "8g",
    "spark.executor.cores": "4",
    "spark.executor.instances": "10",
    "spark.sql.shuffle.partitions": "200",
}


def failed_record(conf: dict[str, str], component: str) -> dict:
    """A failed attempt of 50 GiB whose failing component the triage named."""
    return {
        "run_id": "r",
        "job_id": "j",
        "status": "failed",
        "conf": conf,
        "input_bytes": 50 * 2**30,
        "component": component,
    }


class Scored:
    """A predictor double for the search: every row inside its box, P(success) 1, and cost and runtime
    from `score(heap GiB, partitions) -> (cost, runtime)` of each feature row; billed by the core and GiB."""

    node = None
    most_executors = None

    def __init__(self, score, runtime_margin=None):
        self.score, self.runtime_margin = score, runtime_margin

    def seen(self, X, also=None):
        import numpy as np

        return np.ones(len(X), dtype=bool)

    def predict_all(self, X, clip=False, also=None):
        import numpy as np

        X = np.asarray(X)
        cost, runtime = self.score(np.exp2(X[:, 1]), np.exp2(X[:, 5]))
        return np.ones(len(X)), cost, runtime

    def predict(self, X, clip=False, also=None):
        return self.predict_all(X)[:2]


@functools.cache
def _builtin_components():
    from autofix.components import builtin_components

    return builtin_components()


def triaged(record: dict) -> dict:
    """The record with the memory component the built-in rules read from its log, as the recommender
    gets it from the triage."""
    from autofix.components import with_components

    return with_components([record], _builtin_components())[0]


def test_features_use_only_the_history_before_each_record():
    records, _ = w.history(3, n_jobs=3, days=5)
    X, y, *_ = dataset(records)
    assert all(len(row) == len(NAMES) for row in X) and set(y) <= {0, 1}
    # the first run of a job knows nothing of it
    first = vector(records[0]["conf"], records[0]["input_bytes"], JobMemory())
    assert first[NAMES.index("log_failures_seen")] == 0


def test_both_families_are_trained_validated_and_calibration_reported(trained):
    *_, meta, metrics = trained
    assert metrics["chosen"] == meta["family"] and set(metrics["validation"]) == {"torch-mlp", "sklearn-linear"}
    for m in metrics["validation"].values():
        assert 0 <= m["val_logloss"] < 0.7 and m["val_accuracy"] > 0.8
        assert sum(b["n"] for b in m["reliability"]) == metrics["val_rows"]


def test_the_networks_training_loss_is_kept_per_epoch_and_falls(trained):
    """What the Models view draws: the network's mean loss per epoch of its final fit (the linear family
    has no epochs)."""
    import numpy as np

    from autofix.model import _fit

    records, *_ = trained
    X, y, cost, *_ = dataset(records)
    curve: list[float] = []
    _fit(
        "torch-mlp",
        np.asarray(X, np.float32),
        np.asarray(y, np.float32),
        np.asarray(cost, np.float32),
        1,
        "cpu",
        None,
        curve,
    )
    assert len(curve) >= 8 and all(np.isfinite(curve)) and curve[-1] < 0.8 * curve[0]
    *_, meta, metrics = trained
    assert ("train_loss" in metrics) == (meta["family"] == "torch-mlp")
    assert len(metrics["validation"]["torch-mlp"]["train_loss"]) >= 8  # drawn when the linear family won
    assert "train_loss" not in metrics["validation"]["sklearn-linear"]


def test_artifacts_round_trip_and_a_corrupt_one_is_refused(trained, tmp_path):
    *_, tensors, meta, _ = trained
    path = tmp_path / "v1.pt"
    digest = save(path, tensors, meta)
    model = load(path, digest)
    p, c = model.predict([[0.0] * len(NAMES)])
    assert 0 <= p[0] <= 1 and c[0] > 0
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ConsoleError, match="corrupt"):
        load(path, digest)


def test_search_stays_in_the_space_and_changes_only_what_it_must(trained):
    records, _, memory, tensors, meta, _ = trained
    from autofix.model import Predictor

    model = Predictor(tensors, meta)
    failed = next(r for r in records if r["status"] == "failed" and "OutOfMemoryError" in r["log_tail"])
    for cand in candidates(failed["conf"]):
        for key, (lo, hi) in SPACE.items():
            if key in cand:
                v = parse_size(cand[key]) if "memory" in key.lower() else int(cand[key])
                assert lo <= v <= hi, (key, cand[key])
    best = search(model, failed["conf"], failed["input_bytes"], memory[failed["job_id"]])
    assert len(best) == 3 and best == sorted(best, key=lambda s: s[0])
    diff = changed(failed["conf"], best[0][3])
    assert diff and all(failed["conf"].get(k) != v for k, v in diff.items())


def test_what_the_jobs_own_failures_rule_out_is_not_retried(trained):
    from autofix.features import dominated, numbers
    from autofix.model import Predictor
    from autofix.recommend import decide, grid

    records, _, memory, tensors, meta, _ = trained
    model = Predictor(tensors, meta)
    conf = {
        "spark.executor.memory": "8g",
        "spark.executor.cores": "4",
        "spark.executor.instances": "10",
        "spark.sql.shuffle.partitions": "800",
        "spark.driver.memory": "64g",
        "spark.driver.maxResultSize": "64g",
    }
    mem = JobMemory()
    tail = "java.lang.OutOfMemoryError: Java heap space\nERROR SparkContext: Error initializing SparkContext."
    failed = {
        "run_id": "r1",
        "job_id": "j",
        "input_bytes": 300 * 2**30,
        "conf": conf,
        "status": "failed",
        "log_tail": tail,
        "submitted_at": "2026-11-01T00:00:00Z",
        "runtime_seconds": 100.0,
        "cost": 1.0,
    }
    mem.learn(quantities(conf, 250 * 2**30), "failed", "driver", 100.0)  # already died with 64g on less input
    rows = grid(conf, "driver")
    assert dominated(rows, 300, mem).all()  # no driver in the space is bigger than 64g
    assert not dominated(rows, 200, mem).any()  # on less input than the failure, nothing is ruled out
    d = decide(failed, "memory_exceeded", "r", model, mem)
    assert d.action == "no_retry" and d.conf == {} and d.p_success < 0.5 and d.alternatives
    # a job whose driver failed with less memory gets a retry with more
    small = {**conf, "spark.driver.memory": "4g", "spark.driver.maxResultSize": "4g"}
    mem2 = JobMemory()
    mem2.learn(quantities(small, 250 * 2**30), "failed", "driver", 100.0)
    assert not dominated([numbers({**small, "spark.driver.memory": "16g"})], 300, mem2).any()


def test_results_over_the_limit_of_a_driver_at_the_spaces_bound_get_the_limit_raised(trained):
    from autofix.model import Predictor
    from autofix.recommend import decide, grid

    *_, tensors, meta, _ = trained
    conf = {
        "spark.executor.memory": "8g",
        "spark.executor.cores": "4",
        "spark.executor.instances": "10",
        "spark.sql.shuffle.partitions": "800",
        "spark.driver.memory": "64g",
        "spark.driver.maxResultSize": "32g",
    }
    rows = grid(conf, "driver")
    raised = rows[rows[:, 6] > 32]
    # no more driver memory is to be had, but the limit can go up to the driver's heap, and no further
    assert len(raised) and (raised[:, 5] == 64).all() and raised[:, 6].max() == 64
    # below the bound, a bigger limit comes with a bigger heap for the results to land in
    smaller = grid({**conf, "spark.driver.memory": "16g", "spark.driver.maxResultSize": "8g"}, "driver")
    assert (smaller[smaller[:, 6] > 8][:, 5] > 16).all()
    failed = {
        "run_id": "r1",
        "job_id": "j",
        "input_bytes": 300 * 2**30,
        "conf": conf,
        "status": "failed",
        "log_tail": "Total size of serialized results of 90 tasks (33800.0 MiB) is bigger than "
        "spark.driver.maxResultSize (32768.0 MiB)",
        "submitted_at": "2026-11-01T00:00:00Z",
        "runtime_seconds": 100.0,
        "cost": 1.0,
    }
    failed = triaged(failed)
    d = decide(failed, "memory_exceeded", "r", Predictor(tensors, meta), JobMemory())
    assert d.action == "retry_with_conf" and parse_size(d.conf["spark.driver.maxResultSize"]) > 32 * 2**30
    assert "spark.driver.memory" not in d.conf


def test_a_job_beyond_the_training_data_is_reshaped_only_as_far_as_it_or_the_data_has_been(trained):
    from autofix.features import matrix, numbers
    from autofix.model import Predictor
    from autofix.recommend import decide

    *_, tensors, meta, _ = trained
    model = Predictor(tensors, meta)
    # a 3 TB job, where the training history's inputs stay far smaller
    conf = {
        "spark.executor.memory": "8g",
        "spark.executor.cores": "4",
        "spark.executor.instances": "100",
        "spark.sql.shuffle.partitions": "3000",
    }
    gib = 3 * 1024
    failed = {
        "run_id": "r1",
        "job_id": "j",
        "input_bytes": gib * 2**30,
        "conf": conf,
        "status": "failed",
        "log_tail": "java.lang.OutOfMemoryError: Java heap space",
        "submitted_at": "2026-11-01T00:00:00Z",
        "runtime_seconds": 900.0,
        "cost": 9.0,
    }
    own = matrix([numbers(conf)], gib * 2**30, JobMemory())
    assert not model.seen(own).any()
    d = decide(failed, "memory_exceeded", "r", model, JobMemory())
    assert d.action == "retry_with_conf"
    # the answer lies where the model has seen runs or this job has run — not at the box's edge, whose
    # clipped features hide how many more shuffle blocks a far reshape fetches
    new = matrix([numbers({**conf, **d.conf})], gib * 2**30, JobMemory())
    assert model.seen(new, also=own).all()
    assert int(d.conf.get("spark.sql.shuffle.partitions", 3000)) <= 2 * 3000


def test_the_linear_family_is_trusted_a_little_further_past_its_data_than_the_network(trained):
    # a bigger estate's job needs more partitions than any the training estate ran: the linear family,
    # whose answers there follow its fitted slopes, may be asked a little past them; the network may not
    from autofix.model import Predictor

    *_, tensors, meta, _ = trained
    lo, hi = tensors["lo"].numpy(), tensors["hi"].numpy()
    k = NAMES.index("partitions")
    near, far = (lo + hi) / 2, (lo + hi) / 2
    near[k], far[k] = hi[k] + 0.15 * (hi[k] - lo[k]), hi[k] + 0.5 * (hi[k] - lo[k])
    linear = Predictor(tensors, {**meta, "family": "sklearn-linear"})
    network = Predictor(tensors, {**meta, "family": "torch-mlp"})
    assert linear.seen([near]).all() and not network.seen([near]).any()
    assert not linear.seen([far]).any()


def test_the_failure_itself_is_evidence_and_the_callers_memory_is_left_as_it_was():
    from autofix.features import learn, with_failure

    conf = {"spark.executor.memory": "4g", "spark.executor.cores": "4", "spark.driver.maxResultSize": "2g"}
    failed = {
        "run_id": "r9",
        "job_id": "j",
        "input_bytes": 100 * 2**30,
        "conf": conf,
        "status": "failed",
        "log_tail": "Total size of serialized results of 9 tasks (2100.0 MiB) is bigger than "
        "spark.driver.maxResultSize (2048.0 MiB)",
        "submitted_at": "2026-11-01T00:00:00Z",
        "runtime_seconds": 100.0,
        "cost": 1.0,
    }
    failed = triaged(failed)
    mem = JobMemory()
    got = with_failure(mem, failed)
    assert mem.fails == [] and got.fails[-1][0] == "driver_result" and got.driver_failures == 1
    memory = {"j": JobMemory()}
    learn(memory, failed)
    learn(memory, failed)  # a run is learned once, however often it is seen
    assert memory["j"].driver_failures == 1 and with_failure(memory["j"], failed) is memory["j"]


def test_the_search_stays_in_the_memory_room_the_job_succeeded_with():
    from autofix.features import numbers, untried

    ok = {
        "spark.executor.memory": "8g",
        "spark.executor.memoryOverhead": "2g",
        "spark.executor.cores": "4",
        "spark.sql.shuffle.partitions": "400",
    }
    mem = JobMemory()
    mem.learn(quantities(ok, 200 * 2**30), "succeeded", None, 300.0)
    same, more_cores = numbers(ok), numbers({**ok, "spark.executor.cores": "8"})  # less overhead per task
    bigger_heap = numbers({**ok, "spark.executor.memory": "32g"})  # a smaller share of overhead
    fewer_parts = numbers({**ok, "spark.sql.shuffle.partitions": "100"})  # more load per heap per task
    assert untried([same, more_cores, bigger_heap, fewer_parts], 200, mem).tolist() == [False, True, True, True]
    assert not untried([more_cores], 200, JobMemory()).any()  # nothing known, nothing ruled


def test_runtime_predictions_are_clipped_far_outside_what_the_model_saw(trained):
    import warnings

    import numpy as np

    *_, tensors, meta, _ = trained
    from autofix.model import Predictor

    model = Predictor(tensors, meta)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        far = tensors["hi"].numpy().astype(np.float64) + 20 * (tensors["hi"] - tensors["lo"]).numpy() + 5
        p, cost, runtime = model.predict_all(np.stack([far, far]))
    assert np.isfinite(cost).all() and (runtime <= np.exp(14.0) + 1).all()


def test_the_search_plans_for_longer_runs_far_beyond_the_shapes_the_job_has_run(monkeypatch):
    import numpy as np

    monkeypatch.setattr("autofix.recommend.TRUST_DOUBLINGS", math.inf)  # the runtime's planning alone

    from autofix.features import blocks_per_slot, numbers
    from autofix.recommend import FAR_COST, FAR_FREE

    flat = Scored(lambda heap, parts: (1.0 / parts, np.full(len(parts), 100.0)))  # more partitions look cheaper
    conf = CONF
    gib = 400.0
    mem = JobMemory()
    mem.learn(quantities(conf, int(gib * 2**30)), "succeeded", None, 100.0)
    assert mem.ok_blocks == pytest.approx(float(blocks_per_slot(gib, 200, 40)))
    best = numbers(search(flat, conf, int(gib * 2**30), mem)[0][3])
    far = np.log2(blocks_per_slot(gib, best[4], best[2] * best[3]) / mem.ok_blocks)
    assert 2 <= far <= FAR_FREE + np.log2(1.5 * 0.8) / FAR_COST  # more partitions, but not past what it plans for


def test_the_sla_is_reckoned_from_the_failed_shape_with_enough_memory_not_from_its_spilling_run():
    """A config short of memory spills before it dies: its own runtime is no reference for the SLA. A
    model that says runs spill (take twice as long) below 16g of heap at this shape must not let a
    reshape that runs 2.2× the unspilled time (1.1× the spilling one) pass as within 1.5×."""
    import numpy as np

    from autofix.features import numbers
    from autofix.recommend import enough_memory_runtime

    # runtime 100 s with 16g of heap or more, 200 s below; partitions cost time, not money
    spilling = Scored(
        lambda heap, parts: (
            1.0 / parts + 0.001 * heap,
            np.where(heap >= 16 - 1e-6, 100.0, 200.0) * np.where(parts > 200, 2.2, 1.0),
        )
    )
    size = 400 * 2**30
    assert enough_memory_runtime(spilling, CONF, size, JobMemory()) == pytest.approx(100.0)
    best = numbers(search(spilling, CONF, size, JobMemory())[0][3])
    assert (
        best[4] == 200 and best[0] >= 16
    )  # enough heap at the same shape: neither the spilling one nor the 2.2× slower reshape


def test_the_runtime_margin_is_learned_from_validation_and_decides_what_counts_as_too_slow(trained, monkeypatch):
    import numpy as np

    monkeypatch.setattr("autofix.recommend.TRUST_DOUBLINGS", math.inf)  # the runtime's margin alone

    from autofix.features import numbers
    from autofix.model import Predictor

    *_, tensors, meta, metrics = trained
    under = metrics["validation"][metrics["chosen"]]["val_runtime_underestimate_p90"]
    assert Predictor(tensors, meta).runtime_margin == pytest.approx(math.exp(-max(0.0, under)))
    assert metrics["runtime_margin"] == pytest.approx(math.exp(-max(0.0, under)), abs=1e-4)

    def reshaping(heap, parts):  # twice the partitions: 1.3× the runtime and cheaper
        return 1.0 / parts + 0.01 * heap, np.where(parts > 200, 130.0, 100.0)

    sure = numbers(search(Scored(reshaping, 1.0), CONF, 40 * 2**30, JobMemory())[0][3])
    wary = numbers(search(Scored(reshaping, 0.8), CONF, 40 * 2**30, JobMemory())[0][3])
    assert sure[4] > 200 and wary[4] == 200  # 130 s is within 1.5 × 100 s, not within 0.8 of it


def test_appraise_says_why_a_config_was_not_the_retry_picked():
    """Asked about configs a person or a diagnostic has in mind, the search answers as it scored its own
    candidates: the one it picked with the score it picked it at, a reshape the model expects past the SLA
    with P 0, and a config with less heap per task than the heap OOM'd one as starved."""
    import numpy as np

    from autofix.recommend import appraise

    def reshaping(heap, parts):  # twice the partitions: 1.3× the runtime, past 0.8 × 1.5 × 100 s
        return 1.0 / parts + 0.01 * heap, np.where(parts > 200, 130.0, 100.0)

    model, size = Scored(reshaping, 0.8), 40 * 2**30
    score, p, cost, picked = search(model, CONF, size, JobMemory(), kind="heap")[0]
    wider = {**picked, "spark.sql.shuffle.partitions": "400"}
    smaller = {**CONF, "spark.executor.memory": "4g"}
    mine, slow, starving = appraise(model, CONF, size, JobMemory(), [picked, wider, smaller], kind="heap")
    assert mine["score"] == pytest.approx(score) and mine["p_success"] == pytest.approx(p)
    assert mine["runtime"] <= mine["limit"] and not mine["starved"]
    assert slow["runtime"] > slow["limit"] and slow["p_success"] == 0.0
    assert starving["starved"] and starving["p_success"] == 0.0 and not mine["starved"]


def test_spill_features_rise_as_the_load_nears_the_one_the_job_died_of():
    """The linear models learn the slowdown of spilling from these: nothing for a job that never ran
    out of heap, and more, knot by knot, the closer a config's load per task comes to the failing one."""
    import numpy as np

    from autofix.features import SPILL_KNOTS, matrix, numbers

    conf = CONF
    size = 400 * 2**30
    cols = [NAMES.index(f"load_vs_fail_above_{k}") for k in SPILL_KNOTS]
    heaps = np.array([[h, *numbers(conf)[1:]] for h in (64.0, 32.0, 16.0, 8.0)])  # less heap: nearer the edge
    assert not matrix(heaps, size, JobMemory())[:, cols].any()
    mem = JobMemory()
    mem.learn(quantities(conf, size), "failed", "heap")
    spill = matrix(heaps, size, mem)[:, cols].sum(axis=1)
    assert spill[0] == 0 and (np.diff(spill) >= 0).all() and spill[3] > spill[2] > 0


def test_fetch_features_count_shuffle_blocks_against_the_last_good_runs_seconds():
    import numpy as np

    from autofix.features import blocks_per_slot, matrix, numbers

    conf = CONF
    size = 400 * 2**30
    now, then = NAMES.index("blocks_per_last_ok_second"), NAMES.index("last_ok_blocks_per_last_ok_second")
    shapes = np.array([[*numbers(conf)[:4], p, *numbers(conf)[5:]] for p in (200, 800, 3200)])
    assert not matrix(shapes, size, JobMemory())[:, [now, then]].any()  # no good run: nothing to scale by
    mem = JobMemory()
    mem.learn(quantities(conf, size), "succeeded", None, 500.0)
    X = matrix(shapes, size, mem)
    assert X[0, now] == pytest.approx(float(blocks_per_slot(400, 200, 40)) / 500.0) == pytest.approx(X[0, then])
    assert X[2, now] == pytest.approx(16 * X[0, now]) and (X[:, then] == X[0, then]).all()


def test_a_job_under_dynamic_allocation_is_reasoned_about_and_reshaped_by_its_max_executors():
    from autofix.features import numbers
    from autofix.recommend import grid, to_conf

    dyn = {
        "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.maxExecutors": "40",
        "spark.executor.cores": "2",
        "spark.executor.memory": "8g",
        "spark.sql.shuffle.partitions": "400",
    }
    assert numbers(dyn)[3] == 40  # not Spark's 2 instances, which a dynamic job does not run with
    assert numbers({**dyn, "spark.executor.instances": "10"})[3] == 10  # a fixed count given wins
    assert numbers({**dyn, "spark.dynamicAllocation.enabled": "false"})[3] == 2
    four_cores = next(r for r in grid(dyn) if r[2] == 4)
    out = changed(dyn, to_conf(dyn, four_cores))
    assert out["spark.executor.cores"] == "4" and out["spark.dynamicAllocation.maxExecutors"] == "20"
    assert "spark.executor.instances" not in out  # the key the job uses, not a new one that pins it


def test_keys_left_to_sparks_defaults_stay_unset_when_the_answer_keeps_the_default():
    from autofix.recommend import grid, to_conf

    bare = {"spark.executor.memory": "4g", "spark.executor.cores": "2", "spark.executor.instances": "10"}
    rows = grid(bare)
    # twice the heap with Spark's default overhead for it, the rest as it was
    same_shape = next(r for r in rows if r[0] == 8.0 and abs(r[1] - 0.8) < 0.001 and r[2] == 2 and r[4] == 200)
    assert changed(bare, to_conf(bare, same_shape)) == {"spark.executor.memory": "8g"}
    more_parts = next(r for r in rows if r[0] == 4.0 and abs(r[1] - 0.4) < 0.001 and r[2] == 2 and r[4] == 800)
    assert changed(bare, to_conf(bare, more_parts)) == {"spark.sql.shuffle.partitions": "800"}


def test_the_linear_runtime_model_never_learns_that_fetching_more_blocks_is_faster():
    import numpy as np

    from autofix.model import FETCH, _fit

    rng = np.random.default_rng(0)
    n = 400
    X = rng.normal(size=(n, len(NAMES))).astype(np.float32)
    X[:, FETCH] = rng.uniform(0, 500, n)
    # a history in which runs that fetched more per second of their last good run happened to be quicker
    runtime = np.exp(6.0 - 0.004 * X[:, FETCH] + 0.1 * rng.normal(size=n)).astype(np.float32)
    y = np.ones(n, dtype=np.float32)
    y[:40] = 0
    t = _fit("sklearn-linear", X, y, runtime / 3600 * 2.0, 0, None, runtime)
    assert float(t["reg_w"][FETCH]) == 0.0
    # where the history shows it, the cost of fetching is learned
    slower = np.exp(6.0 + 0.004 * X[:, FETCH] + 0.1 * rng.normal(size=n)).astype(np.float32)
    assert float(_fit("sklearn-linear", X, y, slower / 3600 * 2.0, 0, None, slower)["reg_w"][FETCH]) > 0


def test_heap_ooms_that_more_partitions_did_not_prevent_are_read_as_a_hot_key():
    """A job that ran at 650 partitions, then died of heap OOMs on a larger input at 1,000 to 20,000 with
    the same heap per core: under "more partitions, smaller tasks" its failures lie below the load it
    survived. The job's largest task does not shrink with the partitions (a hot key), so its loads are
    retaken with a floor — its failures above its good run again — and a config with more heap per task
    and fewer partitions lies inside what it has survived, while more partitions at the same heap do not."""
    import numpy as np

    from autofix.features import numbers, untried

    conf = {
        "spark.executor.memory": "64g",
        "spark.executor.cores": "4",
        "spark.executor.instances": "25",
        "spark.executor.memoryOverhead": "7g",
    }
    mem = JobMemory()
    mem.learn(quantities({**conf, "spark.sql.shuffle.partitions": "650"}, 240 * 2**30), "succeeded", None, 300.0)
    assert mem.floor == 0
    for parts in (1000, 2000, 4000, 20000):
        mem.learn(quantities({**conf, "spark.sql.shuffle.partitions": str(parts)}, 370 * 2**30), "failed", "heap")
    assert mem.floor > 0 and mem.fail_load > mem.ok_load
    fewer_cores = [64.0, 7.0, 2.0, 50.0, 2000.0, *numbers(conf)[5:]]  # twice the heap per task, the slots kept
    more_parts = [64.0, 7.0, 4.0, 25.0, 20000.0, *numbers(conf)[5:]]
    assert untried(np.array([fewer_cores, more_parts]), 370, mem).tolist() == [False, True]


def test_a_job_whose_failures_agree_with_its_good_runs_keeps_no_floor():
    conf = {"spark.executor.memory": "8g", "spark.executor.cores": "4", "spark.executor.instances": "10"}
    mem = JobMemory()
    for gib, parts, status in (
        (100, 200, "succeeded"),
        (300, 200, "failed"),
        (300, 800, "succeeded"),
        (600, 800, "failed"),
        (600, 1600, "succeeded"),
    ):
        mem.learn(
            quantities({**conf, "spark.sql.shuffle.partitions": str(parts)}, gib * 2**30),
            status,
            None if status == "succeeded" else "heap",
            100.0,
        )
    assert mem.floor == 0 and mem.fail_load > mem.ok_load


@pytest.mark.parametrize("kind", ["heap", "overhead"])
def test_a_candidate_with_less_per_task_of_what_ran_out_is_never_recommended(kind):
    """A model certain of success everywhere, and cheaper the less memory: what the issue saw (executor
    memory cut, cores raised, P 1.00). The search still gives each task at least what the failed run had."""
    import numpy as np

    from autofix.features import numbers
    from autofix.recommend import grid

    conf = {**CONF, "spark.executor.memoryOverhead": "2g", "spark.driver.memory": "4g"}

    class CheaperWithLess(Scored):  # certain of success; each GiB of heap, overhead or driver costs
        def predict_all(self, X, clip=False, also=None):
            X = np.asarray(X)
            cost = np.exp2(X[:, 1]) + np.exp2(X[:, 2]) + np.exp2(X[:, 6])
            return np.ones(len(X)), cost, np.full(len(X), 100.0)

    best = search(CheaperWithLess(None), conf, 50 * 2**30, JobMemory(), keep=25, kind=kind)

    def per_task(rows):  # unified memory (less the reserve) or overhead, per running task
        return (rows[:, 0] - 300 / 1024) / rows[:, 2] if kind == "heap" else rows[:, 1] / rows[:, 2]

    failed = per_task(np.array([numbers(conf)]))[0]
    assert len(best) == 25 and (per_task(np.array([numbers(c) for _, _, _, c in best])) >= failed - 1e-9).all()
    assert (per_task(grid(conf, kind)) < failed).any()  # the space holds such rows: the rule keeps them out
    if kind == "overhead":  # a killed container is not made smaller per task either (heap + overhead)
        rows = np.array([numbers(c) for _, _, _, c in best])
        base = np.array(numbers(conf))
        assert ((rows[:, 0] + rows[:, 1]) / rows[:, 2] >= (base[0] + base[1]) / base[2] - 1e-9).all()


def test_a_shape_the_job_never_ran_is_never_certain():
    """P(success) shrinks with the distance from the failed run's shape: a model sure of everything gives
    the same shape with more heap its full word, a reshape less, a farther reshape less again."""
    import numpy as np

    from autofix.features import numbers
    from autofix.recommend import honest, novelty

    base = numbers(CONF)
    more_heap = numbers({**CONF, "spark.executor.memory": "16g"})
    reshaped = numbers({**CONF, "spark.sql.shuffle.partitions": "800"})
    farther = numbers({**CONF, "spark.sql.shuffle.partitions": "3200", "spark.executor.cores": "1"})
    less_heap = numbers({**CONF, "spark.executor.memory": "4g"})
    far = novelty(np.array([more_heap, reshaped, farther, less_heap]), base)
    p = honest(np.ones(4), far)
    assert p[0] == 1.0 and 0.5 < p[2] < p[1] < 1.0 and p[3] < 1.0
    assert honest(np.array([0.3]), np.array([5.0]))[0] == 0.3  # a doubt is not made a coin's toss


def test_more_partitions_are_a_shorter_step_than_fewer_or_another_executor():
    """Raising the partitions keeps the executor the job ran and makes each task smaller (Spark's tuning
    guide's first fix for a task's OOM): four times the partitions is trusted more than a quarter of them,
    or than four times the cores per executor — and still less than the same shape with more heap."""
    import numpy as np

    from autofix.features import numbers
    from autofix.recommend import honest, novelty

    base = numbers(CONF)
    more_parts = numbers({**CONF, "spark.sql.shuffle.partitions": "800"})
    fewer_parts = numbers({**CONF, "spark.sql.shuffle.partitions": "50"})
    more_cores = numbers({**CONF, "spark.executor.cores": str(4 * int(CONF["spark.executor.cores"]))})
    more_heap = numbers({**CONF, "spark.executor.memory": "16g"})
    p = honest(np.ones(4), novelty(np.array([more_parts, fewer_parts, more_cores, more_heap]), base))
    assert p[1] < p[0] and p[2] < p[0] < p[3]


def test_the_floor_raises_only_the_memory_that_ran_out_when_the_model_is_unsure():
    import numpy as np

    from autofix.recommend import FLOOR_RAISE, SURE, decide

    class Unsure(Scored):  # 0.7 for every config: it finds no fix it is sure of
        def predict_all(self, X, clip=False, also=None):
            return np.full(len(X), 0.7), np.full(len(X), 1.0), np.full(len(X), 100.0)

    assert 0.7 < SURE
    conf = {**CONF, "spark.driver.memory": "4g"}
    cases = {
        "executor_heap": {"spark.executor.memory": f"{int(8 * FLOOR_RAISE)}g"},
        "driver_heap": {"spark.driver.memory": f"{int(4 * FLOOR_RAISE)}g"},
        # an overhead left to Spark (its share unknown) rises through the heap it follows
        "executor_container": {"spark.executor.memory": f"{int(8 * FLOOR_RAISE)}g"},
        "driver_result": {"spark.driver.maxResultSize": "2g"},  # the limit doubled, up to the driver's 4g
    }
    for component, raised in cases.items():
        record = failed_record(conf, component)
        d = decide(record, "memory_exceeded", "rule", Unsure(None), JobMemory())
        assert d.action == "retry_with_conf" and d.conf == raised, component
        assert d.note.startswith("floor:") and d.p_success == 0.7 and len(d.alternatives) == 2
        assert "the the" not in d.note and ("doubled" in d.note) == (component == "driver_result")


def test_the_sla_is_measured_from_what_a_retry_could_be_given():
    """A model whose runtime keeps falling with more heap, past the largest heap a retry may have: the SLA's
    reference is the failed shape with as much memory as the space holds, not a runtime the model
    extrapolates for a 216-GiB heap that would put every retry past the limit — a fixable failure stopped."""
    from autofix.recommend import SPACE, decide, enough_memory_rows

    conf = {**CONF, "spark.executor.memory": "27g"}
    rows = enough_memory_rows(conf)
    assert rows[:, 0].max() * 2**30 == SPACE["spark.executor.memory"][1] and rows[:, 0].min() == 27

    def faster_with_more(heap, partitions):  # (cost, runtime): each GiB costs; more heap is always faster
        return heap, 100 + 10_000 / heap

    record = {"run_id": "r", "job_id": "j", "status": "failed", "conf": conf, "input_bytes": 50 * 2**30}
    model = Scored(faster_with_more, runtime_margin=0.8)
    d = decide({**record, "component": "executor_heap"}, "memory_exceeded", "rule", model, JobMemory())
    assert d.action == "retry_with_conf" and parse_size(d.conf["spark.executor.memory"]) > 27 * 2**30


def test_a_probability_is_never_recorded_or_shown_as_certain():
    """What the queue keeps (four places) and what a person reads (two) of a model's P(success): 0.99996
    is kept as 0.9999 and read as >0.99, never 1 or 1.00; the same at the other end."""
    from core.types import probability_rounded, probability_text

    assert [probability_rounded(p) for p in (0.99996, 1.0, 0.98765, 0.00004, 0.0)] == [
        0.9999,
        0.9999,
        0.9877,
        0.0001,
        0.0001,
    ]
    assert [probability_text(p) for p in (0.9999, 0.995, 0.9949, 0.5, 0.0049, 0.0001)] == [
        ">0.99",
        ">0.99",
        "0.99",
        "0.50",
        "<0.01",
        "<0.01",
    ]


def test_a_heap_retry_leaves_an_overhead_the_job_left_to_spark_unset():
    """Its share of the heap is the cluster manager's (0.4 for PySpark on Kubernetes): a number written from
    the 0.1 guess would cut it."""
    from autofix.recommend import candidates

    for c in candidates(CONF, "heap"):
        assert "spark.executor.memoryOverhead" not in c
    assert any("spark.executor.memoryOverhead" in c for c in candidates(CONF, "overhead"))


def test_a_killed_container_is_not_retried_halved():
    """Half the heap, half the overhead, half the cores: each task keeps its share, but the executor's
    fixed native memory is spread over fewer tasks — the same kill again."""
    import numpy as np

    from autofix.features import numbers
    from autofix.recommend import starved

    conf = {**CONF, "spark.executor.memoryOverhead": "2g"}
    half = numbers(
        {
            **conf,
            "spark.executor.memory": "4g",
            "spark.executor.memoryOverhead": "1g",
            "spark.executor.cores": "2",
            "spark.executor.instances": "20",
        }
    )
    more = numbers({**conf, "spark.executor.memoryOverhead": "3g"})
    assert starved(np.array([half, numbers(conf), more]), numbers(conf), "overhead").tolist() == [True, True, False]


def test_prices_are_read_from_the_judged_estates_own_bills(trained):
    """A model trained on one estate costs runs at the prices of the estate it recommends for: the price
    list is fitted to that estate's succeeded runs (cost per hour against cores, container and driver GiB)."""
    import numpy as np

    from autofix.model import Predictor, Prices, estate_prices

    estate = estates.random_estate(601)
    ph = estate["physics"]
    assert ph.overhead_factor == 0.1  # (the console reads an unset overhead as Spark's 0.1 of the heap)
    records, _ = w.history(601, n_jobs=20, days=10, ranges=estate)
    prices = estate_prices(records)
    assert prices is not None and prices.node is None  # billed by the core and the GiB, not by the node
    assert prices.rate == pytest.approx(
        [ph.core_hour, ph.gib_hour, ph.gib_hour, ph.core_hour], rel=0.05
    )  # (bills are rounded)
    assert estate_prices(records[:5]) is None  # too few bills to read a price list from

    *_, tensors, meta, _ = trained
    model = Predictor(tensors, meta)
    X = np.asarray([vector(CONF, 50 * 2**30, JobMemory())])
    p, cost, runtime = model.predict_all(X)
    p2, cost2, runtime2 = model.repriced(Prices(2 * tensors["rate"].numpy())).predict_all(X)
    assert p2 == pytest.approx(p) and runtime2 == pytest.approx(runtime) and cost2 == pytest.approx(2 * cost)


def test_an_estate_that_bills_whole_nodes_is_costed_by_the_nodes_its_executors_take(trained):
    """Where executors are packed onto whole nodes billed by the hour (a Kubernetes node pool), the bills
    say so and which node: a container that leaves most of a node empty costs the whole node, which a
    price per core and per GiB cannot see — so the search can tell a shape that packs from one that wastes."""
    import numpy as np

    from autofix.features import numbers
    from autofix.model import Predictor, estate_prices

    records, _ = w.history(601, n_jobs=20, days=10, ranges=estates.random_estate(601))
    node_hour = 0.9  # a 16-vCPU, 128-GiB node; an executor larger than one spans the nodes it needs
    for r in records:
        heap, over, cores, inst, *_ = numbers(r["conf"])
        per_node = min(16 // cores, int(128 // (heap + over)))
        nodes = math.ceil(inst / per_node) if per_node else inst * math.ceil((heap + over) / 128)
        r["cost"] = (nodes + 0.25) * node_hour * r["runtime_seconds"] / 3600
    prices = estate_prices(records)
    assert prices is not None and prices.node is not None and prices.node.tolist() == [16, 128]
    assert prices.rate[0] == pytest.approx(node_hour, rel=0.02)

    *_, tensors, meta, _ = trained
    model = Predictor(tensors, meta).repriced(prices)
    # 10 executors of 4 cores either way; a 64-GiB container fits twice on a node, a 65-GiB one once
    shapes = {"packs": ("61g", "3g"), "wastes": ("62g", "3g")}
    hourly = {}
    for k, (heap, over) in shapes.items():
        conf = {**CONF, "spark.executor.memory": heap, "spark.executor.memoryOverhead": over}
        conf.update({"spark.executor.cores": "4", "spark.executor.instances": "10"})
        _, cost, runtime = model.predict_all(np.asarray([vector(conf, 50 * 2**30, JobMemory())]))
        hourly[k] = float(cost[0] / runtime[0])
    assert hourly["wastes"] == pytest.approx(2 * hourly["packs"], rel=0.1)  # twice the nodes, 2 % more GiB
    # an executor larger than the node is never costed as fitting on one: it spans as many as it needs
    from autofix.model import resources

    one = np.ones(1)
    assert resources(200 * one, 20 * one, 4 * one, 10 * one, 2 * one, prices.node)[0, 0] == 20


def test_the_evaluation_searches_a_fix_for_every_memory_failure_the_recommender_searches():
    """A kind it left out is judged "should not retry" — a maxResultSize failure, whose fix is a bigger
    limit, counted as a wrong decision every time the recommender fixed it."""
    from autofix.features import KIND_OF_COMPONENT
    from console.lab.evaluate import SEARCHED_KINDS

    assert set(KIND_OF_COMPONENT.values()) - {"other"} <= set(SEARCHED_KINDS)


def test_a_recommender_worse_than_production_on_rows_production_never_saw_does_not_take_it(trained_home, tmp_path):
    """The recommender's gate: on validation rows newer than what production trained on, a candidate whose
    log-loss is worse than production's (beyond the tolerance) is refused; as good as production passes."""
    import numpy as np
    from conftest import copy_home

    from autofix import model as models
    from autofix.components import builtin_components, with_components
    from autofix.features import dataset
    from console.engine import Engine
    from console.settings import load
    from core.backends.sim import spark_world as w

    engine = Engine(load({"home": str(copy_home(trained_home, tmp_path / "h"))}))
    rec = engine._w.recommender
    prod = rec.registry.production(models.MODEL)
    assert prod.params["trained_through"]
    records, _ = w.history(29, n_jobs=40, days=15)
    X, y, _, _, _, _ = dataset(with_components([r for r in records if r["kind"] == "spark"], builtin_components()))
    when = [f"2099-01-01T00:00:{i // 60 % 60:02d}.{i:06d}" for i in range(len(y))]  # all after production's
    order, cut = models._time_split(when)
    fresh = order[cut:]
    metrics = {"chosen": "m", "validation": {"m": {"val_logloss": 0.1}}}
    theirs = rec.load()[0].predict(np.asarray(X, dtype=np.float64)[fresh])[0]
    as_good = rec.gate(prod, X, y, when, metrics, dict(zip(fresh, theirs.tolist(), strict=True)))
    coin = rec.gate(prod, X, y, when, metrics, dict.fromkeys(fresh, 0.5))
    assert as_good["passed"] and as_good["val_logloss"] == as_good["production_logloss"]
    assert not coin["passed"] and coin["val_logloss"] == round(float(np.log(2)), 4) > coin["production_logloss"] + 0.02
    # rows production may have trained on judge nothing: the candidate passes on its own validation, saying so
    same_period = [prod.params["trained_through"]] * len(y)
    assert "not compared" in rec.gate(prod, X, y, same_period, metrics, dict.fromkeys(fresh, 0.5))["detail"]
    engine.close()


def test_the_recommender_appraises_a_config_as_it_decided_on_it(tmp_path):
    """Recommender.appraise prepares a failure as Recommender.recommend does (the estate's prices, the
    job's overhead share and past, the failure itself as evidence): a retry it recommended from inside
    the model's box appraises at the P(success) and cost it was recommended with, and the failed config
    itself is what the failure rules out."""
    from console.lab.evaluate import lab_recommender

    records, _ = w.history(3, n_jobs=30, days=20)
    recommender, classify = lab_recommender(tmp_path)
    recommender.train(records, "test", seed=0)
    failed = [r for r in records if r["status"] == "failed" and classify(r)[0] == "memory_exceeded"]
    decisions = [d for d in recommender.recommend(failed, classify, records) if d.action == "retry_with_conf"]
    inside = 0
    for d in decisions:
        r = next(f for f in failed if f["run_id"] == d.run_id)
        retry, same = recommender.appraise(r, [{**r["conf"], **d.conf}, r["conf"]], records)
        assert same["dominated"] and same["p_success"] == 0.0
        if retry["outside"] or d.note:  # judged in the plain box, or the floor rather than the pick
            continue
        inside += 1
        assert retry["p_success"] == pytest.approx(d.p_success, abs=1e-4)
        assert retry["expected_cost"] == pytest.approx(d.expected_cost, abs=1e-4)  # (a decision rounds to 4)
    assert inside >= 3


def test_a_memory_failure_is_retried_late_rather_than_stopped_when_only_the_runtime_limit_rules_out_every_fit():
    """The model plans every config that gives the failed tasks more memory at twice the runtime: past the
    SLA's limit, each at P 0. That makes the job slow, not doomed: the retry is the best of them without the
    limit, labelled as past the SLA. With no config likely to fit at all, it is still stopped."""
    import numpy as np

    from autofix.features import NAMES, numbers
    from autofix.recommend import SURE, decide, starved

    hpc, parts = NAMES.index("heap_per_core_gib"), NAMES.index("partitions")  # log2 columns
    failed_hpc, failed_parts = np.log2((8 - 0.3) / 4), np.log2(200)

    class SlowWhenItFits(Scored):
        def predict_all(self, X, clip=False, also=None):
            X = np.asarray(X)
            fits = (X[:, hpc] > failed_hpc + 1e-9) | (X[:, parts] > failed_parts + 1e-9)
            return np.full(len(X), self.p), np.exp2(X[:, 1]), np.where(fits, 200.0, 100.0)

    record = failed_record(CONF, "executor_heap")
    model = SlowWhenItFits(None, runtime_margin=1.0)
    model.p = 0.95
    d = decide(record, "memory_exceeded", "rule", model, JobMemory())
    assert d.action == "retry_with_conf" and d.note.startswith("past the SLA")
    assert SURE <= d.p_success <= 0.95  # the model's word, made honest for the reshape
    retry = numbers({**CONF, **d.conf})
    assert not starved(np.array([retry]), numbers(CONF), "heap")[0] and retry != numbers(CONF)
    model.p = 0.1
    assert decide(record, "memory_exceeded", "rule", model, JobMemory()).action == "no_retry"


def test_a_retry_on_an_estate_billed_by_the_node_fills_the_node_share_its_executors_already_take():
    """The memory a node's executors leave empty is paid for anyway: the heap grows into it, the executors
    per node (and so the nodes paid for) stay, an overhead Spark derives grows with the heap, nothing
    shrinks — and a container sized from a share nobody named is left as it is, for it may be larger
    than it looks."""
    import numpy as np

    from autofix.features import numbers
    from autofix.packing import filled
    from autofix.recommend import to_conf

    node = np.array([16.0, 128.0])

    def per_node(row):
        return int(min(16 / row[2], 128 / (row[0] + row[1])) + 1e-9)

    explicit = {**CONF, "spark.executor.memory": "20g", "spark.executor.memoryOverhead": "2g"}
    python = {
        **CONF,
        "spark.executor.memory": "40g",
        "spark.executor.memoryOverheadFactor": "0.4",
        "spark.executor.pyspark.memory": "1g",
    }
    unnamed = {**CONF, "spark.executor.memory": "40g"}
    full = {**CONF, "spark.executor.memory": "64g", "spark.executor.memoryOverhead": "6g", "spark.executor.cores": "8"}
    confs = (explicit, python, unnamed, full)
    rows = np.array([numbers(c) for c in confs])
    out = np.array([filled(rows[i : i + 1], node, c)[0] for i, c in enumerate(confs)])
    # 4 to a node: 32 GiB each, heap and overhead in the proportion they had
    assert out[0, 0] == pytest.approx(20 * 32 / 22, abs=1 / 1024) and out[0, 1] == pytest.approx(
        2 * 32 / 22, abs=1 / 1024
    )
    assert out[1, 0] == pytest.approx(63 / 1.4, abs=1 / 1024)  # 2 to a node: 64 GiB each, 1 of them PySpark's
    assert out[1, 1] == pytest.approx(0.4 * out[1, 0] + 1, abs=1 / 1024)
    assert np.array_equal(out[2], rows[2])  # its overhead follows a share nobody named
    assert np.array_equal(out[3], rows[3])  # one to a node, at the space's 64 GiB already
    for before, after in ((rows[0], out[0]), (rows[1], out[1])):
        assert per_node(after) == per_node(before) and after[0] >= before[0]
        assert (after[2:] == before[2:]).all()
    grown = out[1]
    # on a small node the overhead Spark derives is its least, 384 MiB, not the share: the container still fits
    small = {
        **CONF,
        "spark.executor.memory": "1g",
        "spark.executor.cores": "1",
        "spark.executor.memoryOverheadFactor": "0.1",
    }
    tiny = filled(np.array([numbers(small)]), np.array([2.0, 4.0]), small)[0]
    assert tiny[0] == pytest.approx(2 - 0.375, abs=1 / 1024) and tiny[1] == 0.375  # two to the node, 2 GiB each
    odd = {**CONF, "spark.executor.memory": "20g", "spark.executor.memoryOverheadFactor": "0.1999"}
    assert per_node(filled(np.array([numbers(odd)]), node, odd)[0]) == 4  # applied as 0.2, as Spark sizes it
    bad = {**CONF, "spark.executor.memory": "20g", "spark.executor.memoryOverheadFactor": "1.5"}
    assert np.array_equal(filled(np.array([numbers(bad)]), node, bad)[0], numbers(bad))  # no share Spark takes
    conf = to_conf(python, grown)
    assert "spark.executor.memoryOverhead" not in conf  # Spark still derives it
    assert numbers(conf)[0] == pytest.approx(grown[0], abs=1 / 1024)


def test_the_search_hands_back_its_heap_retries_with_the_node_share_filled():
    """What the search returns for an executor's heap on an estate billed by the node has no paid-for room
    left to fill; the same search on an estate billed by the core and GiB changes nothing of the kind."""
    import numpy as np

    from autofix.features import numbers
    from autofix.packing import filled
    from autofix.recommend import search

    class Noded(Scored):
        node = np.array([16.0, 128.0])

    def cheap_partitions(heap, parts):  # more partitions look cheaper; heap costs a little
        return 1.0 / parts + 0.001 * heap, np.full(len(parts), 100.0)

    conf = {**CONF, "spark.executor.memory": "20g", "spark.executor.memoryOverhead": "2g"}
    node = Noded.node
    for model, fills in ((Noded(cheap_partitions), True), (Scored(cheap_partitions), False)):
        best = [numbers(c) for *_, c in search(model, conf, 40 * 2**30, JobMemory(), kind="heap")]
        left = [not np.allclose(filled(np.array([row]), node, conf)[0], row, rtol=0, atol=2 / 1024) for row in best]
        assert not any(left) if fills else any(left)


def test_a_fill_that_would_thin_the_off_heap_share_below_what_the_job_survived_is_not_made():
    """PySpark's memory stays as the heap grows, so the container's off-heap share falls: where the job's
    runs never survived that share (features.untried), the row stays as it was."""
    import numpy as np

    from autofix.features import numbers
    from autofix.packing import filled

    conf = {
        **CONF,
        "spark.executor.memory": "20g",
        "spark.executor.memoryOverhead": "2g",
        "spark.executor.pyspark.memory": "4g",
    }
    row = np.array([numbers(conf)])
    heap, over = row[0, 0], row[0, 1]
    node = np.array([16.0, 128.0])
    survived = JobMemory()
    survived.ok_over_share = over / (heap + over)  # the least share its runs had: this one
    grown = filled(row, node, conf, 40.0, JobMemory())[0]
    assert grown[0] > heap and grown[1] / (grown[0] + grown[1]) < over / (heap + over)
    assert np.array_equal(filled(row, node, conf, 40.0, survived)[0], row[0])


def test_a_bare_number_is_read_in_the_keys_own_unit_as_spark_reads_it():
    """Spark's config package reads the executor's and the driver's memory, their overheads and PySpark's
    memory in MiB where no unit is given, maxResultSize and off-heap sizes in bytes: "4096" is a 4-GiB
    heap, not a 4-KiB one."""
    from autofix.features import numbers
    from autofix.recommend import floor

    bare = {
        "spark.executor.memory": "4096",
        "spark.executor.memoryOverhead": "1024",
        "spark.driver.memory": "2048",
        "spark.driver.maxResultSize": str(2**30),
    }
    assert numbers(bare)[:2] == (4.0, 1.0) and numbers(bare)[5:] == (2.0, 1.0)
    assert numbers({**bare, "spark.executor.pyspark.memory": "512"})[1] == 1.5
    assert parse_size(4096, "spark.executor.memory") == 4 * 2**30  # a number in JSON, as a string would be
    assert parse_size("4096b", "spark.executor.memory") == 4096  # a unit given is the unit
    assert parse_size("4096", "spark.memory.offHeap.size") == parse_size("4096") == 4096
    # a size is changed by what it is, not by how it is spelled: no retry "raises" 65536 to 64g
    assert changed({"spark.executor.memory": "4096"}, {"spark.executor.memory": "4g"}) == {}
    assert floor({**CONF, "spark.executor.memory": "65536"}, "heap") is None  # at the space's bound
