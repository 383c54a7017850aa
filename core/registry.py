"""The model registry: versions of each model with their provenance (artifact and its digest, params,
metrics, the digest of the exact training data, parent, code version, environment, who and when), and
aliases — `production`, `canary` or a user's own — that point at one version each. Moving an alias is an
audited change (resource `model-alias`) that `audit rollback` undoes."""

from __future__ import annotations

import builtins
import re
from dataclasses import asdict
from typing import Any

from core.audit import AuditLog
from core.errors import BadInput, NotFound
from core.store import Store
from core.types import ModelVersion

ALIAS = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
# the aliases a version's stage is read from, in that order
STAGE_ALIASES = ("production", "canary")


def check_alias(alias: str) -> str:
    if not ALIAS.match(alias):
        raise BadInput(f"alias {alias!r}: lower-case letters, digits and '-', starting with a letter (at most 40)")
    return alias


class Registry:
    def __init__(self, store: Store, audit: AuditLog):
        self.store = store
        self.audit = audit

    # -- reading ----------------------------------------------------------------------------------------
    def _versions(self, rows: builtins.list[dict[str, Any]]) -> builtins.list[ModelVersion]:
        models = sorted({r["model"] for r in rows})
        aliases: dict[tuple[str, int], builtins.list[str]] = {}
        if models:
            marks = ",".join("?" * len(models))
            for a in self.store.query(
                f"SELECT model, alias, version FROM model_aliases WHERE model IN ({marks}) ORDER BY alias",
                tuple(models),
            ):
                aliases.setdefault((a["model"], a["version"]), []).append(a["alias"])
        out = []
        for r in rows:
            named = aliases.get((r["model"], r["version"]), [])
            stage = next((a for a in STAGE_ALIASES if a in named), None)
            r = {**r, "aliases": named, "stage": stage or ("staging" if r["stage"] == "staging" else "archived")}
            r["environment"] = r.get("environment") or {}
            out.append(ModelVersion(**r))
        return out

    def list(self, model: str | None = None) -> builtins.list[ModelVersion]:
        sql = "SELECT * FROM model_versions"
        params: tuple[str, ...] = ()
        if model:
            sql, params = sql + " WHERE model = ?", (model,)
        return self._versions(self.store.query(sql + " ORDER BY model, version DESC", params))

    def get(self, model: str, version: int) -> ModelVersion:
        row = self.store.one("SELECT * FROM model_versions WHERE model = ? AND version = ?", (model, version))
        if row is None:
            raise NotFound(f"no version {version} of model {model!r}")
        return self._versions([row])[0]

    def resolve(self, model: str, ref: str | int) -> ModelVersion:
        """A version by number or by alias (`production`, `canary`, …)."""
        if isinstance(ref, int) or str(ref).isdigit():
            return self.get(model, int(ref))
        mv = self.alias(model, str(ref))
        if mv is None:
            if not self.list(model):
                raise NotFound(f"no model {model!r} in the registry")
            raise NotFound(f"model {model!r} has no alias {ref!r}")
        return mv

    def alias(self, model: str, alias: str) -> ModelVersion | None:
        v = self.store.scalar("SELECT version FROM model_aliases WHERE model = ? AND alias = ?", (model, alias))
        return self.get(model, int(v)) if v is not None else None

    def production(self, model: str) -> ModelVersion | None:
        return self.alias(model, "production")

    # -- the alias as an object of audited changes (core.changes: snapshot, restore) ----------------------
    def alias_snapshot(self, name: str, _namespace: str | None = None) -> dict[str, Any] | None:
        """`name` is MODEL/ALIAS: what the alias points at, None when it is not set."""
        model, _, alias = name.rpartition("/")
        v = self.store.scalar("SELECT version FROM model_aliases WHERE model = ? AND alias = ?", (model, alias))
        return {"model": model, "alias": alias, "version": int(v)} if v is not None else None

    def alias_restore(self, name: str, snap: dict[str, Any] | None, _namespace: str | None = None) -> None:
        model, _, alias = name.rpartition("/")
        self.set_alias(model, alias, snap["version"] if snap else None)

    def set_alias(self, model: str, alias: str, version: int | None) -> None:
        """Point `alias` at `version` (None: remove it). Unaudited: Changes.apply or register wraps it."""
        check_alias(alias)
        with self.store.transaction():
            if version is None:
                self.store.conn.execute("DELETE FROM model_aliases WHERE model = ? AND alias = ?", (model, alias))
                return
            self.get(model, version)  # NotFound for a version that is not there
            if alias == "production":  # the version it leaves was production once: archived, no candidate
                self.store.conn.execute(
                    "UPDATE model_versions SET stage = 'archived' WHERE model = ? AND stage = 'staging' AND version = "
                    "(SELECT version FROM model_aliases WHERE model = ? AND alias = 'production' AND version != ?)",
                    (model, model, version),
                )
            self.store.conn.execute(
                "INSERT INTO model_aliases (model, alias, version) VALUES (?, ?, ?) "
                "ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version",
                (model, alias, version),
            )

    # -- writing ----------------------------------------------------------------------------------------
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
        alias: str | None = "production",
        version: int | None = None,
        annotations: dict[str, Any] | None = None,
        artifact_uri: str | None = None,
        code_version: str | None = None,
        environment: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """A new version (the next number, or `version` when it is known, as for a model the cluster already
        serves), `alias` pointed at it. The version number, the row, the alias and the audit record are one
        transaction: two trainings finishing together get two numbers. A version is never dated before
        its parent: a clock behind the parent's writer is lifted to the parent's time."""
        if alias:
            check_alias(alias)
        if parent:
            pmodel, _, pversion = parent.rpartition(":")
            parent_row = self.store.one(
                "SELECT created_at FROM model_versions WHERE model = ? AND version = ?", (pmodel, int(pversion))
            )
            if parent_row is None:
                raise NotFound(f"parent {parent!r} is not in the registry")
            created_at = max(created_at, parent_row["created_at"] or "")

        def insert() -> ModelVersion:
            number = (
                version
                or (self.store.scalar("SELECT max(version) FROM model_versions WHERE model = ?", (model,)) or 0) + 1
            )
            self.store.insert_all(
                "model_versions",
                [
                    {
                        "model": model,
                        "version": number,
                        "stage": "archived" if alias else "staging",
                        "created_at": created_at,
                        "framework": framework,
                        "sha256": sha256,
                        "params": params,
                        "metrics": metrics,
                        "parent": parent,
                        "data_digest": data_digest,
                        "artifact_uri": artifact_uri,
                        "code_version": code_version,
                        "environment": environment or {},
                        "created_by": user,
                    }
                ],
            )
            if alias:
                self.set_alias(model, alias, number)
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
            after=lambda: {k: v for k, v in asdict(holder[0]).items() if k not in ("metrics", "environment")},
        )
        return holder[0]

    def adopt(self, versions: builtins.list[ModelVersion]) -> None:
        """Versions that already exist elsewhere (the cluster serves them), with their own numbers; the
        newest production one of each model takes the production alias. The caller makes this part of an
        audited change (the estate's creation)."""
        rows = []
        for mv in versions:
            row = {k: v for k, v in asdict(mv).items() if k != "aliases"}
            row["stage"] = "staging" if mv.stage == "staging" else "archived"
            rows.append(row)
        self.store.insert_all("model_versions", rows)
        newest: dict[str, int] = {}
        for mv in versions:
            if mv.stage == "production":
                newest[mv.model] = max(newest.get(mv.model, 0), mv.version)
        for model, number in newest.items():
            if self.production(model) is None:
                self.set_alias(model, "production", number)
