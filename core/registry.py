"""The model registry: versions of each model, with artifact digest, params, metrics and lineage."""

from __future__ import annotations

import builtins
from dataclasses import asdict
from typing import Any

from core.audit import AuditLog
from core.errors import NotFound
from core.store import Store
from core.types import ModelVersion


class Registry:
    def __init__(self, store: Store, audit: AuditLog):
        self.store = store
        self.audit = audit

    def list(self, model: str | None = None) -> list[ModelVersion]:
        sql = "SELECT * FROM model_versions"
        params: tuple[str, ...] = ()
        if model:
            sql, params = sql + " WHERE model = ?", (model,)
        return [ModelVersion(**r) for r in self.store.query(sql + " ORDER BY model, version DESC", params)]

    def get(self, model: str, version: int) -> ModelVersion:
        row = self.store.one("SELECT * FROM model_versions WHERE model = ? AND version = ?", (model, version))
        if row is None:
            raise NotFound(f"no version {version} of model {model!r}")
        return ModelVersion(**row)

    def production(self, model: str) -> ModelVersion | None:
        row = self.store.one(
            "SELECT * FROM model_versions WHERE model = ? AND stage = 'production' ORDER BY version DESC LIMIT 1",
            (model,),
        )
        return ModelVersion(**row) if row else None

    def register(
        self,
        model: str,
        *,
        user: str,
        framework: str,
        sha256: str,
        params: dict[str, Any],
        metrics: dict[str, Any],
        data_digest: str,
        created_at: str,
        parent: str | None = None,
        stage: str = "production",
        version: int | None = None,
        annotations: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """A new version (the next number, or `version` when it is known, as for a model the cluster already
        serves); a production one archives the earlier production version. The version number, the row and
        its audit record are one transaction: two trainings finishing together get two numbers."""

        def insert() -> ModelVersion:
            number = (
                version
                or (self.store.scalar("SELECT max(version) FROM model_versions WHERE model = ?", (model,)) or 0) + 1
            )
            if stage == "production":
                self.store.conn.execute(
                    "UPDATE model_versions SET stage = 'archived' WHERE model = ? AND stage = 'production'", (model,)
                )
            self.store.insert_all(
                "model_versions",
                [
                    {
                        "model": model,
                        "version": number,
                        "stage": stage,
                        "created_at": created_at,
                        "framework": framework,
                        "sha256": sha256,
                        "params": params,
                        "metrics": metrics,
                        "parent": parent,
                        "data_digest": data_digest,
                    }
                ],
            )
            return self.get(model, number)

        holder: builtins.list[ModelVersion] = []
        self.audit.change(
            verb="register",
            user=user,
            object_ref={"resource": "model", "name": model},
            before=None,
            apply=lambda: holder.append(insert()),
            local=True,
            annotations=annotations,
            after=lambda: {k: v for k, v in asdict(holder[0]).items() if k != "metrics"},
        )
        return holder[0]

    def adopt(self, versions: builtins.list[ModelVersion]) -> None:
        """Versions that already exist elsewhere (the cluster serves them), with their own numbers and
        stages. The caller makes this part of an audited change (the estate's creation)."""
        self.store.insert_all("model_versions", [asdict(mv) for mv in versions])
