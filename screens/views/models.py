"""The model registry view."""

from __future__ import annotations

from screens.base import Row, ViewScreen
from screens.describe import describe
from screens.widgets import safe_text, status_text


class ModelsScreen(ViewScreen):
    VIEW = "models"
    TITLE = "Model registry"
    COLUMNS = ("MODEL", "VERSION", "STAGE", "FRAMEWORK", "PARENT", "AUC", "SHA256", "CREATED")

    def fetch(self) -> list[Row]:
        return [
            (
                f"{m.model}:{m.version}",
                [
                    safe_text(m.model),
                    m.version,
                    status_text(m.stage),
                    safe_text(m.framework),
                    safe_text(m.parent),
                    m.metrics.get("auc", "-"),
                    m.sha256[:12],
                    m.created_at[:16].replace("T", " "),
                ],
            )
            for m in self.app.engine.models()
        ]

    def describe(self, key: str) -> str:
        model, _, version = key.rpartition(":")
        return describe(self.app.engine.model_details(model, int(version)))
