"""The model registry: versions of each model, with artifact digest, params, metrics and lineage."""
from __future__ import annotations

from core.errors import NotFound
from core.store import Store
from core.types import ModelVersion


class Registry:
    def __init__(self, store: Store):
        self.store = store

    def list(self, model: str | None = None) -> list[ModelVersion]:
        sql, params = "SELECT * FROM model_versions", ()
        if model:
            sql, params = sql + " WHERE model = ?", (model,)
        return [ModelVersion(**r) for r in self.store.query(sql + " ORDER BY model, version DESC", params)]

    def get(self, model: str, version: int) -> ModelVersion:
        row = self.store.one("SELECT * FROM model_versions WHERE model = ? AND version = ?", (model, version))
        if row is None:
            raise NotFound(f"no version {version} of model {model!r}")
        return ModelVersion(**row)

    def production(self, model: str) -> ModelVersion | None:
        row = self.store.one("SELECT * FROM model_versions WHERE model = ? AND stage = 'production' "
                             "ORDER BY version DESC LIMIT 1", (model,))
        return ModelVersion(**row) if row else None

    def register(self, model: str, *, framework: str, sha256: str, params: dict, metrics: dict, data_digest: str,
                 created_at: str, parent: str | None = None, stage: str = "production") -> ModelVersion:
        """A new version, the newest production one: earlier production versions are archived."""
        with self.store.transaction():
            version = (self.store.scalar("SELECT max(version) FROM model_versions WHERE model = ?", (model,)) or 0) + 1
            if stage == "production":
                self.store.conn.execute("UPDATE model_versions SET stage = 'archived' WHERE model = ? AND "
                                        "stage = 'production'", (model,))
            self.store.insert_all("model_versions", [{
                "model": model, "version": version, "stage": stage, "created_at": created_at, "framework": framework,
                "sha256": sha256, "params": params, "metrics": metrics, "parent": parent, "data_digest": data_digest}])
        return self.get(model, version)
