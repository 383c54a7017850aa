"""The recommender as the engine uses it: train on history and register a version; load the newest
version; recommend for failed attempts. (Its evaluation on the simulator's Spark world is tooling:
console/lab/.)"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autofix import model as models
from autofix.components import ComponentOf, builtin_components, with_components
from autofix.features import JobMemory, dataset, learn
from autofix.overhead_share import estate_terms, share_conf, with_shares
from autofix.recommend import Decision, decide
from autofix.weights import LAMBDA, PENALTY_FACTOR
from core import clock
from core.errors import BadInput
from core.registry import Registry
from core.types import ModelVersion

NO_MODEL = (
    "no trained retry-recommender yet: train one with "
    "`mlops-console autofix train --history FILE.jsonl` (JSONL history records, one attempt a line; "
    "`mlops-console autofix world > h.jsonl` writes a sample to train on)"
)


# the gate a new recommender passes to take production (Recommender.gate)
GATE_LOGLOSS_TOLERANCE = 0.02
GATE_MIN_ROWS = 50


class Recommender:
    def __init__(
        self,
        registry: Registry,
        artifacts: Path,
        lam: float = LAMBDA,
        penalty_factor: float = PENALTY_FACTOR,
        component_of: ComponentOf | None = None,
    ):
        """`component_of(record)`: which memory ran out in a failed record, as the triage's rules say
        (autofix/components.py; the built-in rules by default)."""
        self.registry = registry
        self.artifacts = Path(artifacts)
        self.lam, self.penalty_factor = lam, penalty_factor
        self.component_of = component_of or builtin_components()
        self._loaded: tuple[str, models.Predictor] | None = None  # (sha256, predictor) of the version last read

    def train(
        self, records: list[dict[str, Any]], user: str, seed: int = 0, annotations: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        spark = [r for r in records if r.get("kind") == "spark"]
        if len(spark) < 50:
            raise BadInput(f"need at least 50 Spark history records to train, got {len(spark)}")
        t = time.perf_counter()
        learned = with_components(spark, self.component_of)
        X, y, cost, when, _, runtime = dataset(with_shares(learned, estate_terms(learned)[1]))
        if len(set(y)) < 2:
            raise BadInput("the history needs both succeeded and failed attempts to learn from")
        validation_p: dict[int, float] = {}
        tensors, meta, metrics = models.train(X, y, cost, when, seed=seed, runtime=runtime, validation_p=validation_p)
        metrics["train_seconds"] = round(time.perf_counter() - t, 2)
        # named by its content: two trainings at once cannot write over each other's artifact, and the
        # version number is given only when it is registered
        staging = self.artifacts / models.MODEL / f".training-{os.getpid()}-{threading.get_ident()}.pt"
        digest = models.save(staging, tensors, meta)
        path = staging.with_name(f"{digest}.pt")
        staging.replace(path)
        prod = self.registry.production(models.MODEL)
        gate = self.gate(prod, X, y, when, metrics, validation_p)
        metrics["gate"] = gate
        mv = self.registry.register(
            models.MODEL,
            user=user,
            framework=meta["family"],
            sha256=digest,
            annotations={
                **(annotations or {}),
                "family": meta["family"],
                "rows": metrics.get("rows"),
                "gate": "passed" if gate["passed"] else "failed: " + gate["detail"],
            },
            # relative to the artifacts folder: a home copied or moved keeps its models
            params={
                "features": meta["features"],
                "seed": seed,
                "artifact": str(path.relative_to(self.artifacts)),
                "trained_through": max(when),
            },
            metrics=metrics,
            data_digest=models.data_digest(spark),
            created_at=clock.iso(clock.now()),
            parent=f"{models.MODEL}:{prod.version}" if prod else None,
            alias="production" if gate["passed"] else None,
            artifact_uri=str(path.relative_to(self.artifacts)),
        )
        return {"model": models.MODEL, "version": mv.version, "metrics": metrics}

    def gate(
        self,
        prod: ModelVersion | None,
        X: Any,
        y: Any,
        when: list[str],
        metrics: dict[str, Any],
        validation_p: dict[int, float],
    ) -> dict[str, Any]:
        """Does the new model take production? Judged on the rows of its validation split (the newest fifth)
        that the production version never trained on: the log-loss there of its family fitted on the older
        rows (`validation_p`) against production's, within GATE_LOGLOSS_TOLERANCE. With no such rows, or no
        production version it can score, it passes on its own validation and says so."""
        import numpy as np

        from core.errors import ConsoleError

        mine = metrics["validation"][metrics["chosen"]]["val_logloss"]
        if prod is None:
            return {"passed": True, "detail": "no production version: the first one", "val_logloss": mine}
        through = prod.params.get("trained_through")
        order, cut = models._time_split(when)
        fresh = [i for i in order[cut:] if through and when[i] > through]
        if len(fresh) < GATE_MIN_ROWS:
            why = f"{len(fresh)} validation rows newer than production v{prod.version}'s training (at least {GATE_MIN_ROWS} judge)"
            return {"passed": True, "detail": f"not compared: {why}", "val_logloss": mine}
        try:
            predictor, _ = self.load()
        except ConsoleError as e:
            return {"passed": True, "detail": f"production v{prod.version} cannot be scored: {e}", "val_logloss": mine}
        Xa, ya = np.asarray(X, dtype=np.float64)[fresh], np.asarray(y, dtype=np.float64)[fresh]

        def logloss(p: Any) -> float:
            p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
            return round(float(-np.mean(ya * np.log(p) + (1 - ya) * np.log(1 - p))), 4)

        theirs = logloss(predictor.predict(Xa)[0])
        mine = logloss([validation_p[i] for i in fresh])
        passed = mine <= theirs + GATE_LOGLOSS_TOLERANCE
        return {
            "passed": passed,
            "detail": f"validation log-loss {mine} against production v{prod.version}'s {theirs} on {len(fresh)} rows it never saw "
            f"({'within' if passed else 'beyond'} {GATE_LOGLOSS_TOLERANCE})",
            "val_logloss": mine,
            "production_logloss": theirs,
        }

    def load(self) -> tuple[models.Predictor, ModelVersion]:
        mv = self.registry.production(models.MODEL)
        if mv is None:
            raise BadInput(NO_MODEL)
        # read and checksummed once per version: the queue scores each suggestion with the same model
        if self._loaded is None or self._loaded[0] != mv.sha256:
            # (versions registered before paths were relative name their artifact absolutely)
            self._loaded = (mv.sha256, models.load(self.artifacts / mv.params["artifact"], mv.sha256))
        return self._loaded[1], mv

    def recommend(
        self,
        records: list[dict[str, Any]],
        classify: Callable[[dict[str, Any]], tuple[str, str | None]],
        history: list[dict[str, Any]],
    ) -> list[Decision]:
        """One decision per failed record; `classify(record) -> (category, rule_id)`; `history` gives each
        job's past (what its runs survived and died of)."""
        predictor, shares, memory = self._estate(history)
        out = []
        for r in with_shares(with_components(records, self.component_of), shares):
            category, rule_id = classify(r)
            out.append(decide(r, category, rule_id, predictor, memory[r["job_id"]], self.lam, self.penalty_factor))
        return out

    def score(
        self, record: dict[str, Any], confs: list[dict[str, str]], history: list[dict[str, Any]]
    ) -> list[tuple[float, float]]:
        """(P(success), expected cost) of running `record`'s job on its input with each of `confs`."""
        from autofix.features import matrix, numbers

        predictor, shares, memory = self._estate(history)
        share = shares.get(record["job_id"])
        p, cost = predictor.predict(
            matrix([numbers(share_conf(c, share)) for c in confs], record["input_bytes"], memory[record["job_id"]])
        )
        return [(float(a), float(b)) for a, b in zip(p, cost, strict=True)]

    def appraise(
        self, record: dict[str, Any], confs: list[dict[str, str]], history: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """What the search makes of each of `confs` as the retry of the failed `record`
        (recommend.appraise): the rules that set it aside, P(success), cost, runtime against the limit."""
        from autofix.features import memory_kind, with_failure
        from autofix.recommend import appraise

        predictor, shares, memory = self._estate(history)
        share = shares.get(record["job_id"])
        r = with_shares(with_components([record], self.component_of), shares)[0]
        mem = with_failure(memory[r["job_id"]], r)
        tried = [share_conf(c, share) for c in confs]
        return appraise(
            predictor, r["conf"], r["input_bytes"], mem, tried, memory_kind(r), self.lam, self.penalty_factor
        )

    def _estate(self, history: list[dict[str, Any]]) -> tuple[models.Predictor, dict[str, float], dict[str, JobMemory]]:
        """The model priced at the estate's own bills, each job's overhead share, and what each job's past
        shows — all read from `history`, not from what the model was trained on."""
        predictor, _ = self.load()
        history = with_components(history, self.component_of)
        prices, shares = estate_terms(history)
        return predictor.repriced(prices), shares, memories(with_shares(history, shares))


def memories(history: list[dict[str, Any]]) -> dict[str, JobMemory]:
    """What each job's past shows (what its runs survived and died of), learned in time order."""
    memory: dict[str, JobMemory] = defaultdict(JobMemory)
    for r in sorted(history, key=lambda r: (r["submitted_at"], r["run_id"])):
        learn(memory, r)
    return memory
