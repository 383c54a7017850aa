"""From a failed attempt to a decision: the taxonomy's action, and for config-fixable failures the config
that minimises cost + λ·P(fail)·penalty over the search space, scored in one batch by the model.

The output changes only what needs changing: the keys whose value differs from the failed config."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from autofix.features import JobMemory, quantities, vector
from core.spark import GiB, MiB, format_size, overhead_bytes, parse_size
from core.taxonomy import CATEGORIES, UNCLASSIFIED

LAMBDA = 1.0
PENALTY_FACTOR = 25.0  # a failed retry costs its own run, then a person's fix: weigh P(fail) by this × the run
SPACE = {"spark.executor.memory": (512 * MiB, 64 * GiB), "spark.executor.memoryOverhead": (384 * MiB, 16 * GiB),
         "spark.executor.cores": (1, 8), "spark.executor.instances": (1, 500),
         "spark.sql.shuffle.partitions": (1, 20000), "spark.driver.memory": (512 * MiB, 64 * GiB)}


@dataclass
class Decision:
    run_id: str
    category: str
    rule_id: str | None
    action: str
    conf: dict[str, str] = field(default_factory=dict)  # changed keys only
    p_success: float | None = None
    expected_cost: float | None = None
    alternatives: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "category": self.category, "rule_id": self.rule_id, "action": self.action,
                "conf": self.conf, "p_success": self.p_success, "expected_cost": self.expected_cost}


def _clamp(key: str, value: float) -> float:
    lo, hi = SPACE[key]
    return min(hi, max(lo, value))


def candidates(conf: dict[str, str]) -> list[dict[str, str]]:
    """Reshapings of a config around itself: memory up, overhead up, fewer cores per executor with more
    executors (same slots), more partitions — and their combinations."""
    heap = parse_size(conf.get("spark.executor.memory", "1g"))
    over = overhead_bytes(conf)
    cores = int(conf.get("spark.executor.cores", "1"))
    inst = int(conf.get("spark.executor.instances", "2"))
    parts = int(conf.get("spark.sql.shuffle.partitions", "200"))
    out = []
    for hm, om, c, pm in itertools.product((0.5, 0.75, 1, 1.25, 1.5, 2, 3, 4), (1, 1.5, 2, 3, 4),
                                           sorted({1, 2, 4, cores, min(8, cores * 2)}), (1, 2, 4, 8, 16)):
        new_cores = int(_clamp("spark.executor.cores", c))
        cand = dict(conf)
        cand["spark.executor.memory"] = format_size(int(_clamp("spark.executor.memory", heap * hm)))
        if om != 1 or "spark.executor.memoryOverhead" in conf:
            cand["spark.executor.memoryOverhead"] = format_size(int(_clamp("spark.executor.memoryOverhead", over * om)))
        cand["spark.executor.cores"] = str(new_cores)
        cand["spark.executor.instances"] = str(int(_clamp("spark.executor.instances", round(cores * inst / new_cores))))
        cand["spark.sql.shuffle.partitions"] = str(int(_clamp("spark.sql.shuffle.partitions", parts * pm)))
        out.append(cand)
    return out


def search(predictor, conf: dict[str, str], input_bytes: int, mem: JobMemory, lam: float = LAMBDA,
           penalty: float | None = None) -> list[tuple[float, float, float, dict[str, str]]]:
    """(score, p_success, expected cost, config), best first."""
    cands = candidates(conf)
    X = [vector(quantities(c, input_bytes), mem) for c in cands]
    inside = predictor.seen(X)
    if inside.any():  # a model is not to be trusted far from anything it has seen
        cands = [c for c, ok in zip(cands, inside) if ok]
        X = [x for x, ok in zip(X, inside) if ok]
    p, cost = predictor.predict(X)
    base = float(predictor.predict([vector(quantities(conf, input_bytes), mem)])[1][0])
    pen = penalty if penalty is not None else PENALTY_FACTOR * base
    scored = [(float(cost[i] + lam * (1 - p[i]) * pen), float(p[i]), float(cost[i]), cands[i]) for i in range(len(cands))]
    scored.sort(key=lambda s: s[0])
    return scored


def changed(old: dict[str, str], new: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in new.items() if old.get(k) != v}


def decide(record: dict[str, Any], category: str, rule_id: str | None, predictor, mem: JobMemory,
           lam: float = LAMBDA) -> Decision:
    action = CATEGORIES.get(category)
    d = Decision(record["run_id"], category, rule_id, action or "no_retry")
    if category == UNCLASSIFIED or action == "retry_with_conf":
        if predictor is None:
            raise LookupError("no trained model")
        best = search(predictor, record["conf"], record["input_bytes"], mem, lam)
        if category == UNCLASSIFIED:
            same = predictor.predict([vector(quantities(record["conf"], record["input_bytes"]), mem)])[0][0]
            top = best[0]
            # doomed retries cost money: retry an unclassified failure only when the model expects success
            if top[1] >= 0.5 and top[1] > same + 0.1:
                d.action, d.conf = "retry_with_conf", changed(record["conf"], top[3])
                d.p_success, d.expected_cost = round(top[1], 4), round(top[2], 4)
            elif same >= 0.5:
                d.action, d.p_success = "retry", round(float(same), 4)
            else:
                d.action, d.p_success = "no_retry", round(float(same), 4)
            return d
        top = best[0]
        d.conf, d.p_success, d.expected_cost = changed(record["conf"], top[3]), round(top[1], 4), round(top[2], 4)
        d.alternatives = [{"conf": changed(record["conf"], s[3]), "p_success": round(s[1], 4),
                           "expected_cost": round(s[2], 4)} for s in best[1:3]]
    return d
