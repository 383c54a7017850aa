"""The engine facade's simulator-lab verbs: the Spark world's history to train on, a first model trained on
it, and the recommender judged on a held-out period of it (console/lab/evaluate.py). Engine mixes it in;
it reads the wiring and services Engine builds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.errors import BadInput


class LabFacade:
    _w: Any
    _autofix: Any
    _settings: Any

    if TYPE_CHECKING:  # Engine's

        def train_recommender(self, history_path: str, seed: int = 0) -> dict[str, Any]: ...

    def world_history(
        self, seed: int, jobs: int, days: int, estate: str = "default", before_held_out: bool = False
    ) -> list[dict[str, Any]]:
        from console.lab.evaluate import world_history

        return world_history(seed, jobs, days, estate, before_held_out)

    def train_on_world(self, seed: int = 11, jobs: int = 60, days: int = 30) -> dict[str, Any]:
        """Train on a history of the simulator's Spark world: the demo's way to a first model."""
        import json

        self._w.require("recommender-train")
        path = self._settings.home / f"spark-world-{seed}-{jobs}x{days}.jsonl"
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in self.world_history(seed, jobs, days)))
        tmp.replace(path)
        return self.train_recommender(str(path))

    def evaluate_recommender(
        self, seed: int = 7, jobs: int = 200, days: int = 40, estate: str = "default"
    ) -> dict[str, Any]:
        from console.lab.evaluate import estate_ranges, evaluate

        if not (1 <= jobs <= 5000 and 4 <= days <= 3650):
            raise BadInput(f"--jobs must be 1..5000 and --days 4..3650, got {jobs} and {days}")
        result = evaluate(
            self._w.recommender,
            seed,
            self._autofix.classify_record,
            n_jobs=jobs,
            days=days,
            ranges=estate_ranges(estate, seed),
        )
        return {**result, "estate": estate}
