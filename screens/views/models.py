"""The model registry view."""

from __future__ import annotations

from screens.base import Row, ViewScreen
from screens.describe import describe
from screens.grid import Column
from screens.widgets import status_label, status_style


class ModelsScreen(ViewScreen):
    VIEW = "models"
    TITLE = "Model registry"
    COLUMNS = (
        Column("MODEL", 1, min=10, max=32, shorten="middle"),
        Column("VERSION", 1, align="right"),
        Column("STAGE", 1, style=status_style),
        Column("FRAMEWORK", 4),
        Column("PARENT", 3, max=32, shorten="middle"),
        Column("AUC", 2, align="right"),
        Column("SHA256", 5),
        Column("CREATED", 2),
    )

    def fetch(self) -> list[Row]:
        return [
            (
                f"{m.model}:{m.version}",
                [
                    m.model,
                    str(m.version),
                    status_label(m.stage),
                    m.framework,
                    m.parent or "-",
                    str(m.metrics.get("auc", "-")),
                    m.sha256[:12],
                    m.created_at[:16].replace("T", " "),
                ],
            )
            for m in self.app.engine.models()
        ]

    def describe(self, key: str) -> str:
        model, _, version = key.rpartition(":")
        return describe(self.app.engine.model_details(model, int(version)))
