"""Judge the retry recommender on a held-out period of the simulator's Spark world, beside two baselines
(`autofix evaluate`, bench/evaluate_pairs.py), and write the world's history to train on (`autofix world`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autofix import model as models
from autofix.components import with_components
from autofix.features import JobMemory, learn, memory_kind
from autofix.overhead_share import estate_terms, with_shares
from autofix.recommend import decide
from autofix.service import Recommender
from core.backends.sim import spark_estates as estates
from core.backends.sim import spark_world as w
from core.errors import BadInput

# the memory failures the world's cheapest fix is searched for: every kind the recommender searches
# (features.KIND_OF_COMPONENT). Any other failure is judged as a decision: retry if transient, else stop
SEARCHED_KINDS = ("heap", "overhead", "driver", "driver_result")


def estate_ranges(estate: str, seed: int) -> dict[str, Any] | None:
    """The ranges a world of `estate` is drawn from: default (None), other, or random (drawn from `seed`)."""
    if estate == "random":
        return estates.random_estate(seed)
    return {"default": None, "other": estates.OTHER_ESTATE}[estate]


def world_history(
    seed: int, jobs: int, days: int, estate: str = "default", before_held_out: bool = False
) -> list[dict[str, Any]]:
    """A Spark world's history; `before_held_out`: only the runs before the period `evaluate` judges on the
    same world (seed, jobs, days, estate) — the estate's own past, to train on as a console would."""
    if not (1 <= jobs <= 5000 and 1 <= days <= 3650):
        raise BadInput(f"--jobs must be 1..5000 and --days 1..3650, got {jobs} and {days}")
    records = w.history(seed, n_jobs=jobs, days=days, ranges=estate_ranges(estate, seed))[0]
    if before_held_out:
        cut = held_out_cut(records)
        records = [r for r in records if r["submitted_at"] < cut]
    return records


def held_out_cut(records: list[dict[str, Any]]) -> str:
    """Where the judged period starts: the newest quarter of the runs is held out."""
    return sorted(r["submitted_at"] for r in records)[int(len(records) * 0.75)]


def evaluate(
    recommender: Recommender,
    seed: int,
    classify,
    n_jobs: int = 200,
    days: int = 40,
    ranges: dict[str, Any] | None = None,
    cases_out: list[dict[str, Any]] | None = None,
    hot_keys: float = 0.0,
) -> dict[str, Any]:
    """On the newest quarter of a Spark world's history, judged by the world's truth: first-retry fix rate
    of memory failures some config fixes within the SLA, episode spend over the cheapest fixes', decision
    accuracy on the rest; beside the same for 'VPA-style bump' and 'double all memory'. `ranges` draws the
    world from other ranges (spark_estates.OTHER_ESTATE) than the default's. `cases_out`, when given, receives
    one row per judged failure (what was recommended, what the world did with it, the cheapest fix): the
    per-case diagnostic of bench/evaluate_pairs.py. `hot_keys`: the share of jobs with a hot key
    (spark_world.history; none in the world `autofix evaluate` judges on)."""
    records, truths = w.history(seed, n_jobs=n_jobs, days=days, ranges=ranges, hot_keys=hot_keys)
    records = with_components(records, recommender.component_of)
    cut = held_out_cut(records)
    predictor, mv = recommender.load()
    # the judged estate's prices, from its bills before the held-out period (what Recommender.recommend does)
    prices, shares = estate_terms([r for r in records if r["submitted_at"] < cut])
    predictor = predictor.repriced(prices)
    # the recommender sees each job's configs with the overhead share its bills show (overhead_share); the
    # world runs the configs as they are
    seen = {r["run_id"]: r for r in with_shares(records, shares)}
    memory: dict[str, JobMemory] = defaultdict(JobMemory)
    policies = ("recommender", "vpa_bump", "double_memory")
    fixed = dict.fromkeys(policies, 0)
    spend = dict.fromkeys(policies, 0.0)
    cheapest, cases, unfixable, right, decided = 0.0, 0, 0, 0, 0
    floors = 0  # retries that were the floor (recommend.floor), not the model's own pick
    late = 0  # retries the model plans past the SLA, as a memory failure is not doomed by its runtime alone
    calibration: list[tuple[float, int]] = []  # (predicted P(success), did the world run it to success)
    for r in sorted(records, key=lambda r: (r["submitted_at"], r["run_id"])):
        kind = memory_kind(r)
        if r["submitted_at"] >= cut and r["attempt"] == 1 and r["status"] == "failed":
            truth, mem = truths[r["job_id"]], memory[r["job_id"]]
            category, rule_id = classify(r)
            # the SLA: 1.5 × the run the failed config would have had with enough memory. (It was once the
            # run of the config with the space's most memory, 64 GiB, which for a job already at 64 GiB
            # was the failed run, cut short: an SLA of a fraction of the job's time, judging fixes doomed.)
            sla = 1.5 * w.run(truth, r["conf"], r["input_bytes"], enough_memory=True).runtime_seconds
            best = w.cheapest_fix(truth, r["conf"], r["input_bytes"], sla) if kind in SEARCHED_KINDS else None
            d = decide(
                seen[r["run_id"]], category, rule_id, predictor, mem, recommender.lam, recommender.penalty_factor
            )
            if d.action == "retry_with_conf" and d.p_success is not None:
                ran = w.run(truth, {**r["conf"], **d.conf}, r["input_bytes"])
                calibration.append((d.p_success, int(ran.status == "succeeded")))
                floors += bool(d.note and d.note.startswith("floor"))
                late += bool(d.note and d.note.startswith("past the SLA"))
            if best is None:
                # transient (retry it) or a memory failure nothing fixes (stop it)
                decided += 1
                should = "retry" if kind == "other" else "no_retry"
                got = "retry" if d.action in ("retry", "retry_with_conf", "retry_later") else "no_retry"
                right += got == should
                unfixable += kind != "other"
                if cases_out is not None:
                    o = w.run(truth, {**r["conf"], **d.conf}, r["input_bytes"]) if d.conf else None
                    cases_out.append(
                        {
                            "run_id": r["run_id"],
                            "job_id": r["job_id"],
                            "kind": kind,
                            "fixable": False,
                            "should": should,
                            "got": got,
                            "p_success": d.p_success,
                            "conf": r["conf"],
                            "change": d.conf,
                            "failure": o.failure if o else None,
                            "sla": sla,
                            "runtime": o.runtime_seconds if o else None,
                            "input_gib": r["input_bytes"] / 2**30,
                            "truth": truth,
                        }
                    )
            else:
                cases += 1
                cheapest += best[1].cost
                tries = {
                    "recommender": [{**r["conf"], **d.conf}] if d.action == "retry_with_conf" else [],
                    "vpa_bump": _vpa(r["conf"]),
                    "double_memory": [_double(r["conf"], truth.physics.overhead_factor)],
                }
                for policy, confs in tries.items():
                    cost, first, any_ok = 0.0, False, False
                    for i, conf in enumerate(confs):
                        o = w.run(truth, conf, r["input_bytes"])
                        cost += o.cost
                        if o.status == "succeeded" and o.runtime_seconds <= sla:
                            first, any_ok = i == 0, True
                            break
                    fixed[policy] += first
                    # a retry that does not fix it: its cost, then a person's fix at twice the cheapest
                    spend[policy] += cost + (0.0 if any_ok else 2 * best[1].cost)
                    if cases_out is not None and policy == "recommender":
                        o = w.run(truth, confs[0], r["input_bytes"]) if confs else None
                        cases_out.append(
                            {
                                "run_id": r["run_id"],
                                "job_id": r["job_id"],
                                "kind": kind,
                                "fixable": True,
                                "action": d.action,
                                "conf": r["conf"],
                                "change": d.conf,
                                "input_gib": r["input_bytes"] / 2**30,
                                "p_success": d.p_success,
                                "expected_cost": d.expected_cost,
                                "fixed": first,
                                "spend": cost if any_ok else cost + 2 * best[1].cost,
                                "cheapest": best[1].cost,
                                "cheapest_conf": best[0],
                                "failure": o.failure if o else None,
                                "runtime": o.runtime_seconds if o else None,
                                "sla": sla,
                                "detail": o.detail if o else None,
                                "truth": truth,
                            }
                        )
        learn(memory, seen[r["run_id"]])
    # the baselines' decisions on the rest: a transient failure is retried as it is (right), a memory
    # failure nothing fixes is bumped all the same (wrong) — they have no way to stop a doomed retry
    decisions = {"recommender": right, "vpa_bump": decided - unfixable, "double_memory": decided - unfixable}
    table = {
        p: {
            "first_retry_fix_rate": round(fixed[p] / cases, 4) if cases else None,
            "episode_spend_vs_cheapest": round(spend[p] / cheapest, 3) if cheapest else None,
            "decision_accuracy": round(decisions[p] / decided, 4) if decided else None,
        }
        for p in policies
    }
    recommended = models.reliability([p for p, _ in calibration], [ok for _, ok in calibration])
    validation = mv.metrics.get("validation", {}).get(mv.metrics.get("chosen"), {}).get("reliability")
    return {
        "model": f"{models.MODEL}:{mv.version}",
        "seed": seed,
        "fixable_memory_failures": cases,
        "other_failures": decided,
        "memory_failures_nothing_fixes": unfixable,
        "decision_accuracy": round(right / decided, 4) if decided else None,
        "policies": table,
        # calibration of the recommended retries on the held-out period (runs past the SLA count as
        # successes here: P is about the run, the SLA about the fix), and on the training's time split
        "reliability": recommended,
        "ece": models.expected_calibration_error(recommended),
        "floor_retries": floors,
        "past_sla_retries": late,
        "validation_reliability": validation,
        "validation_ece": models.expected_calibration_error(validation or []),
    }


def _vpa(conf: dict[str, str]) -> list[dict[str, str]]:
    """VPA-style: memory ×1.2, at least +100 MiB, up to 3 tries."""
    from core.spark import MiB, format_size, size_of

    out, c = [], dict(conf)
    for _ in range(3):
        heap = size_of(c, "spark.executor.memory")
        c = {**c, "spark.executor.memory": format_size(max(int(heap * 1.2), heap + 100 * MiB))}
        out.append(dict(c))
    return out


def _double(conf: dict[str, str], overhead_factor: float = 0.1) -> dict[str, str]:
    """Twice every memory setting: executor heap and overhead (twice what the container had, the overhead's
    default share being the cluster's: `overhead_factor`), driver heap and the driver's result limit."""
    from core.spark import format_size, size_of

    return {
        **conf,
        "spark.executor.memory": format_size(2 * size_of(conf, "spark.executor.memory")),
        "spark.executor.memoryOverhead": format_size(2 * w.settings(conf, overhead_factor)["overhead"]),
        "spark.driver.memory": format_size(2 * size_of(conf, "spark.driver.memory")),
        "spark.driver.maxResultSize": format_size(2 * size_of(conf, "spark.driver.maxResultSize")),
    }


def lab_recommender(home: Path) -> tuple[Recommender, Callable[[dict[str, Any]], tuple[str, str | None]]]:
    """A recommender with a registry of its own in `home`, and a classifier of history records on the
    built-in rules: what bench/ trains and judges pairs of worlds with, apart from any console's data."""
    from autofix.classify import Classifier
    from autofix.collect import record_document
    from autofix.rules import load_ruleset
    from core.audit import AuditLog
    from core.registry import Registry
    from core.store import Store

    store = Store(home)
    recommender = Recommender(Registry(store, AuditLog(store)), home / "artifacts")
    classifier = Classifier(load_ruleset(None))

    def classify(r: dict[str, Any]) -> tuple[str, str | None]:
        c = classifier.classify_text(record_document(r))
        return c.category, c.rule_id

    return recommender, classify
