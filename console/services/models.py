"""The model registry: versions of each model with artifact digest, params, metrics and lineage."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from console.services.wiring import Wiring
from core.types import ModelVersion


class ModelService:
    def __init__(self, w: Wiring):
        self.w = w

    def models(self, model: str | None = None) -> list[ModelVersion]:
        return self.w.registry.list(model)

    def details(self, model: str, version: int) -> dict[str, Any]:
        return asdict(self.w.registry.get(model, version))

    def served_versions_to_adopt(self) -> list[ModelVersion]:
        """The model versions the cluster serves or stages that the registry does not know yet."""
        known = {(m.model, m.version) for m in self.w.registry.list()}
        return sorted(
            (mv for mv in self.w.cluster.known_model_versions() if (mv.model, mv.version) not in known),
            key=lambda m: (m.model, m.version),
        )
