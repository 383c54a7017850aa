"""The model lifecycle: the registry's versions and aliases, training and compression of the demo models,
data validation, the evaluation gate, and side-by-side comparison. Every write is audited: a version's
registration with its record in one transaction, an alias move as a change `audit rollback` undoes."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from console.services.wiring import Wiring
from core import clock
from core.errors import BadInput, ConsoleError, NotFound
from core.types import ModelVersion

GATED_ALIASES = ("production", "canary")
RECOMMENDER = "retry-recommender"


class GateFailed(ConsoleError):
    """A version did not pass the gate (exit 1); the report says which check and why."""

    def __init__(self, report: dict[str, Any]):
        failed = [f"{c['name']}: {c['detail']}" for c in report["checks"] if not c["passed"]]
        super().__init__(f"{report['ref']} did not pass the gate — " + "; ".join(failed))
        self.report = report


class ModelService:
    def __init__(self, w: Wiring):
        self.w = w

    @property
    def artifacts(self) -> Path:
        return self.w.settings.home / "artifacts"

    # -- reading ----------------------------------------------------------------------------------------
    def models(self, model: str | None = None) -> list[ModelVersion]:
        return self.w.registry.list(model)

    def details(self, model: str, version: int) -> dict[str, Any]:
        return asdict(self.w.registry.get(model, version))

    def show(self, model: str, ref: str) -> dict[str, Any]:
        mv = self.w.registry.resolve(model, ref)
        return {**asdict(mv), "lineage": self.lineage(mv)}

    def lineage(self, mv: ModelVersion) -> list[str]:
        """The version and its ancestors, newest first."""
        chain, seen = [f"{mv.model}:{mv.version}"], set()
        parent = mv.parent
        while parent and parent not in seen and len(chain) < 50:
            seen.add(parent)
            chain.append(parent)
            model, _, number = parent.rpartition(":")
            try:
                parent = self.w.registry.get(model, int(number)).parent
            except (NotFound, ValueError):
                break
        return chain

    def compare(self, model: str, a: str, b: str) -> dict[str, Any]:
        """Two versions side by side: every param and metric each has (nested ones flattened to a.b), their
        lineage, data, code and environment."""
        va, vb = self.w.registry.resolve(model, a), self.w.registry.resolve(model, b)

        def side_by_side(x: dict[str, Any], y: dict[str, Any]) -> dict[str, list[Any]]:
            fx, fy = _flat(x), _flat(y)
            return {k: [fx.get(k), fy.get(k)] for k in sorted(set(fx) | set(fy))}

        env = ("python", "torch", "scikit-learn", "numpy")
        return {
            "model": model,
            "versions": [va.version, vb.version],
            "aliases": [va.aliases, vb.aliases],
            "created": [[va.created_at, va.created_by], [vb.created_at, vb.created_by]],
            "lineage": [self.lineage(va), self.lineage(vb)],
            "data_digest": [va.data_digest, vb.data_digest],
            "code_version": [va.code_version, vb.code_version],
            "environment": {k: [va.environment.get(k), vb.environment.get(k)] for k in env},
            "params": side_by_side(
                {k: v for k, v in va.params.items() if k != "data_reference"},
                {k: v for k, v in vb.params.items() if k != "data_reference"},
            ),
            "metrics": side_by_side(_scalars(va.metrics), _scalars(vb.metrics)),
        }

    def served_versions_to_adopt(self) -> list[ModelVersion]:
        """The model versions the cluster serves or stages that the registry does not know yet; the demo
        estate's own models (params `demo_training`) with the artifact core.lifecycle.demo trains for them."""
        known = {(m.model, m.version) for m in self.w.registry.list()}
        return sorted(
            (
                self._demo_trained(mv) if mv.params.get("demo_training") else mv
                for mv in self.w.cluster.known_model_versions()
                if (mv.model, mv.version) not in known
            ),
            key=lambda m: (m.model, m.version),
        )

    def _demo_trained(self, mv: ModelVersion) -> ModelVersion:
        import dataclasses

        from core.lifecycle import demo

        try:
            source, record = demo.trained(mv.model, int(mv.params.get("seed", 0)))
            path = self._copy_in(mv.model, source, record["sha256"])
        except (ConsoleError, OSError, RuntimeError) as e:  # the estate starts without it rather than not at all
            return dataclasses.replace(mv, params={**mv.params, "demo_training": f"failed: {e}"})
        return dataclasses.replace(
            mv,
            framework=record["framework"],
            sha256=record["sha256"],
            params=record["params"],
            metrics=record["metrics"],
            data_digest=record["data_digest"],
            artifact_uri=str(path.relative_to(self.artifacts)),
            code_version=record["code_version"],
            environment=record["environment"],
        )

    # -- training ---------------------------------------------------------------------------------------
    def data_for(self, model: str, data_path: str | None) -> Any:
        from core.lifecycle import data, nets

        spec = nets.spec(model)
        bundled = data.bundled(spec.dataset)
        return data.read_csv(Path(data_path), bundled.names) if data_path else bundled

    def validate(self, model: str, data_path: str | None = None, d: Any = None) -> dict[str, Any]:
        """The data a training would use (`d`, when already read), checked against the production version's
        reference profile."""
        from core.lifecycle import data

        d = d or self.data_for(model, data_path)
        prod = self.w.registry.production(model)
        reference = prod.params.get("data_reference") if prod else None
        problems = data.validate(d, reference)
        return {
            "model": model,
            "data": d.source,
            "rows": len(d.X),
            "data_digest": d.digest(),
            "reference": f"{model}:{prod.version}" if prod and reference else None,
            "passed": not problems,
            "problems": problems,
        }

    def train(
        self,
        model: str,
        params: dict[str, str] | None = None,
        seed: int = 0,
        data_path: str | None = None,
        progress: Callable[[int, int, float, float], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        device: str | None = None,
        here: bool = False,
        note: Callable[[str], None] | None = None,
        reference_drift: dict[str, float] | None = None,
    ) -> dict[str, Any]:
        """Validate the data, train, register a candidate version (no alias: `alias` moves one, through the
        gate). A failing validation stops it before training (BadInput with the report); so does a cancel.
        On a cluster that runs trainings (Kubernetes) it runs there as a Job, unless `here`; `note(text)`
        hears what the Job is doing before its first epoch."""
        from core.lifecycle import nets, provenance, train

        user = self.w.require("model-train")
        spec = nets.spec(model)
        chosen = train.params_for(spec, params or {})
        jobs = None if here else self.w.cluster.training_jobs()
        if jobs is not None:
            from console.services import cluster_training

            cluster_training.check_settings(self.w.settings)
            if device:
                raise BadInput("--device is for a training here; on the cluster, training_gpus decides")
            pod_data = cluster_training.pod_data_path(self.w.settings, data_path)
        d = self.data_for(model, data_path)
        report = self.validate(model, data_path, d)
        if not report["passed"]:
            raise BadInput(f"{d.source}: data validation failed — " + "; ".join(report["problems"]))
        params_kept = train.kept_params(chosen, seed, d, data_path)
        validation = {k: report[k] for k in ("passed", "problems", "reference")}
        if jobs is not None:
            spec = cluster_training.spec_for(self.w.settings, self.w.cluster, model, chosen, seed, pod_data, user)
            ct = cluster_training.run(jobs, spec, self.w.settings, progress, cancelled, note)
            if ct.result.get("data_digest") != d.digest():
                raise ConsoleError(
                    f"training Job {ct.job} trained on other data than was validated here (digest "
                    f"{str(ct.result.get('data_digest'))[:12]}… is not {d.digest()[:12]}…): not registered"
                )
            return self._register(
                model,
                self._adopt(model, ct.artifact, ct.result["sha256"]),
                user,
                params=params_kept,
                metrics={**ct.result["metrics"], "data_validation": validation},
                data_digest=d.digest(),
                parent=None,
                annotations={"reason": "models train", "data": d.source, "job": ct.job},
                code_version=ct.result.get("code_version"),
                environment=ct.result.get("environment") or {},
            )
        trained, metrics = train.fit(spec, d, chosen, seed, progress, cancelled, device)
        metrics["data_validation"] = validation
        if reference_drift is not None:  # what its serving traffic's drift is measured against
            from core.lifecycle import data, recent

            metrics["reference"] = recent.reference(trained, d, data.split(len(d.X))[1], reference_drift).to_dict()
        return self._register(
            model,
            self._store(model, trained),
            user,
            params=params_kept,
            metrics=metrics,
            data_digest=d.digest(),
            parent=None,
            annotations={"reason": "models train", "data": d.source},
            code_version=provenance.code_version(),
            environment=provenance.environment(),
        )

    def train_recommender(self, days: int, seed: int = 0) -> dict[str, Any]:
        """The retry recommender on the last `days` days of what this console holds: the cluster's attempts,
        the imported history and the approved retries' outcomes (one record per run, the cluster's first).
        Through the recommender's own gate (autofix.service.Recommender.gate)."""
        from datetime import timedelta

        from autofix import history

        user = self.w.require("recommender-train")
        if not 1 <= days <= 3650:
            raise BadInput(f"--data-window {days}: 1..3650 days")
        since = clock.iso(clock.now() - timedelta(days=days))
        records: dict[str, dict[str, Any]] = {}
        for r in self.w.cluster.iter_attempt_records(since=since):
            records.setdefault(r["run_id"], r)
        for r in [*history.records(self.w.store), *self.w.approvals.outcome_records()]:
            if str(r.get("submitted_at", "")) >= since:
                records.setdefault(r["run_id"], r)
        result = self.w.recommender.train(
            list(records.values()), user, seed=seed, annotations={"data_window_days": days, "records": len(records)}
        )
        result["metrics"]["data_window_days"] = days
        return result

    def _store(self, model: str, trained: Any) -> tuple[Path, str, dict[str, Any]]:
        """The trained network's artifact, written under a private name, then named by its digest: two
        trainings never share a file. (path, sha256, header)."""
        from core import artifacts

        tensors, meta = trained.to_artifact()
        staging = self.artifacts / model / f".training-{os.getpid()}-{threading.get_ident()}.pt"
        digest = artifacts.save(staging, tensors, meta)
        path = staging.with_name(f"{digest}.pt")
        staging.replace(path)
        return path, digest, meta

    def _copy_in(self, model: str, source: Path, sha256: str) -> Path:
        """An artifact made elsewhere, copied in under its digest, the copy's digest checked."""
        import hashlib
        import shutil

        path = self.artifacts / model / f"{sha256}.pt"
        staging = path.with_name(f".adopting-{os.getpid()}-{threading.get_ident()}.pt")
        staging.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, staging)
        if hashlib.sha256(staging.read_bytes()).hexdigest() != sha256:
            staging.unlink()
            raise ConsoleError(f"{source} changed while it was copied in (sha256 is not {sha256[:12]}…); try again")
        staging.replace(path)
        return path

    def _adopt(self, model: str, source: Path, sha256: str) -> tuple[Path, str, dict[str, Any]]:
        """An artifact made elsewhere (a training Job's), copied in and read back as tensors only."""
        from core import artifacts

        path = self._copy_in(model, source, sha256)
        _, meta = artifacts.load(path, sha256, "train again")
        return path, sha256, meta

    def _register(
        self,
        model: str,
        stored: tuple[Path, str, dict[str, Any]],
        user: str,
        *,
        params: dict[str, Any],
        metrics: dict[str, Any],
        data_digest: str,
        parent: str | None,
        annotations: dict[str, Any],
        code_version: str | None,
        environment: dict[str, Any],
    ) -> dict[str, Any]:
        path, digest, meta = stored
        mv = self.w.registry.register(
            model,
            user=user,
            framework=f"torch-{meta['arch']}" + ("-int8" if meta["int8"] else ""),
            sha256=digest,
            params=params,
            metrics=metrics,
            data_digest=data_digest,
            created_at=clock.iso(clock.now()),
            parent=parent,
            alias=None,
            annotations=annotations,
            artifact_uri=str(path.relative_to(self.artifacts)),
            code_version=code_version,
            environment=environment,
        )
        return {"model": model, "version": mv.version, "sha256": digest, "metrics": _scalars(metrics)}

    def load(self, mv: ModelVersion) -> Any:
        """The version's network, its artifact checked against the registered sha256 and read as tensors."""
        from core import artifacts
        from core.lifecycle import nets
        from core.lifecycle.train import Trained

        if mv.model == RECOMMENDER:
            raise BadInput("the retry recommender is judged with `autofix evaluate` and gated by `autofix train`")
        if not mv.artifact_uri or mv.model not in nets.CATALOG:
            raise BadInput(f"{mv.model}:{mv.version} has no artifact in this console (the cluster serves it)")
        tensors, meta = artifacts.load(
            self.artifacts / mv.artifact_uri, mv.sha256, f"retrain with `models train {mv.model}`"
        )
        return Trained.from_artifact(tensors, meta)

    # -- evaluation, the gate and aliases ----------------------------------------------------------------
    def evaluate(self, model: str, ref: str) -> dict[str, Any]:
        """Accuracy re-measured from the artifact on the held-out rows of the data it was trained on, its
        size and CPU latency."""
        from core.lifecycle import data, train

        mv = self.w.registry.resolve(model, ref)
        trained = self.load(mv)
        d = self._training_data(mv)
        _, test = data.split(len(d.X))
        return {
            "model": model,
            "version": mv.version,
            "accuracy": train.accuracy(trained, d, test),
            "size_bytes": train.size_bytes(trained),
            "latency_ms": {"bs1": train.latency_ms(trained, 1), "bs64": train.latency_ms(trained, 64)},
        }

    def _training_data(self, mv: ModelVersion) -> Any:
        from core.lifecycle import data, nets

        if mv.model not in nets.CATALOG:
            raise BadInput(f"{mv.model}:{mv.version}: the console holds no data of {mv.model} to measure it on")
        source = str(mv.params.get("data", ""))
        bundled = data.bundled(nets.spec(mv.model).dataset)
        if source.startswith("sklearn:"):
            d = bundled
        elif mv.params.get("data_path"):
            d = data.read_csv(Path(mv.params["data_path"]), bundled.names)
        else:
            raise BadInput(f"{mv.model}:{mv.version} was trained on {source or 'data this console does not hold'}")
        if d.digest() != mv.data_digest:
            raise ConsoleError(
                f"{source} is not the data {mv.model}:{mv.version} was trained on any more "
                f"(digest {d.digest()[:12]}… is not {str(mv.data_digest)[:12]}…)"
            )
        return d

    def gate(
        self, model: str, ref: str, tolerance: float | None = None, package_dir: str | None = None
    ) -> dict[str, Any]:
        from core.lifecycle import data, gate, train

        tolerance = gate.DEFAULT_TOLERANCE if tolerance is None else tolerance
        if not 0 <= tolerance <= 1:
            raise BadInput(f"--tolerance {tolerance}: a share of accuracy, 0..1")
        mv = self.w.registry.resolve(model, ref)
        if model == RECOMMENDER:
            return self._recommender_gate(mv)
        measured, error, extra = None, None, []
        try:
            trained = self.load(mv)
        except ConsoleError as e:
            error = str(e)
        else:
            try:
                d = self._training_data(mv)
                measured = train.accuracy(trained, d, data.split(len(d.X))[1])
            except ConsoleError as e:  # judged on the accuracy registered at training, saying why
                extra.append(("re-measured", True, f"not re-measured: {e}"))
        parent = None
        if mv.parent:
            pmodel, _, pnumber = mv.parent.rpartition(":")
            parent = self.w.registry.get(pmodel, int(pnumber))
        if package_dir:
            from core.lifecycle import package

            extra += package.check(Path(package_dir), mv)
        return gate.judge(mv, measured, error, self.w.registry.production(model), parent, tolerance, extra)

    def _recommender_gate(self, mv: ModelVersion) -> dict[str, Any]:
        """The retry recommender's gate: its artifact, and the verdict its training gave
        (autofix.service.Recommender.gate: log-loss against production on rows production never saw)."""
        from autofix import model as recommender_model

        checks = []
        try:
            recommender_model.load(self.artifacts / mv.params["artifact"], mv.sha256)
            checks.append({"name": "artifact", "passed": True, "detail": f"sha256 {mv.sha256[:12]}… verified"})
        except (ConsoleError, KeyError) as e:
            checks.append({"name": "artifact", "passed": False, "detail": str(e)})
        verdict = mv.metrics.get("gate") or {}
        checks.append(
            {
                "name": "evaluation",
                "passed": bool(verdict.get("passed")),
                "detail": verdict.get("detail") or "trained before the recommender had a gate: no verdict recorded",
            }
        )
        ref = f"{mv.model}:{mv.version}"
        return {
            "model": mv.model,
            "version": mv.version,
            "ref": ref,
            "passed": all(c["passed"] for c in checks),
            "checks": checks,
        }

    def alias(
        self, model: str, alias: str, ref: str | None, force: bool = False, reason: str | None = None
    ) -> dict[str, Any]:
        """Point `alias` at a version (None: remove the alias). production and canary take only a version
        that passes the gate, unless `force` (an admin's, recorded with the gate's report)."""
        from core.registry import check_alias

        check_alias(alias)
        user = self.w.require("gate-force" if force else "model-alias")
        mv = self.w.registry.resolve(model, ref) if ref is not None else None
        report = None
        if mv is not None and alias in GATED_ALIASES:
            report = self.gate(model, str(mv.version))
            if not report["passed"] and not force:
                raise GateFailed(report)
        before = self.w.registry.alias_snapshot(f"{model}/{alias}")
        if mv is None and before is None:
            raise NotFound(f"model {model!r} has no alias {alias!r} to remove")
        notes: dict[str, Any] = {"reason": reason or f"models alias {alias}"}
        if force:
            notes["forced"] = True
        if report is not None:
            notes["gate"] = (
                "passed"
                if report["passed"]
                else "failed: " + "; ".join(c["name"] for c in report["checks"] if not c["passed"])
            )
        self.w.changes.apply(
            verb="alias",
            user=user,
            resource="model-alias",
            name=f"{model}/{alias}",
            change=lambda: self.w.registry.set_alias(model, alias, mv.version if mv else None),
            annotations=notes,
        )
        return {
            "model": model,
            "alias": alias,
            "version": mv.version if mv else None,
            "was": before["version"] if before else None,
            "gate": report,
        }

    def rollout_verdict(self, model: str, version: int, force: bool = False) -> str:
        """The gate's word on rolling `version` out: "passed"; "not judged: …" for a version whose artifact
        this console does not hold (the cluster's own); GateFailed, unless `force` (an admin's)."""
        mv = self.w.registry.get(model, version)
        if not mv.artifact_uri:
            return "not judged: the console holds no artifact of it (the cluster serves it)"
        report = self.gate(model, str(version))
        if report["passed"]:
            return "passed"
        if not force:
            raise GateFailed(report)
        self.w.require("gate-force")
        return "forced past a failed gate: " + "; ".join(c["name"] for c in report["checks"] if not c["passed"])

    # -- packaging --------------------------------------------------------------------------------------------
    def package(
        self, model: str, ref: str, out: str, image: str | None = None, namespace: str = "default"
    ) -> dict[str, Any]:
        """A container build context and Kubernetes manifests for a version (core.lifecycle.package). Reads
        the registry only: a package is a file tree, not a change."""
        from core import artifacts
        from core.lifecycle import package

        mv = self.w.registry.resolve(model, ref)
        if not mv.artifact_uri:
            raise BadInput(f"{model}:{mv.version} has no artifact in this console to package")
        path = self.artifacts / mv.artifact_uri
        artifacts.load(path, mv.sha256, f"retrain with `models train {model}`")  # a tampered file is not shipped
        image = image or f"registry.local/models/{model}:{mv.version}"
        resources = {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}
        return package.write(mv, path, Path(out), image, namespace, resources)

    # -- compression --------------------------------------------------------------------------------------
    def compress(
        self,
        model: str,
        ref: str,
        prune: float | None = None,
        quantize: str | None = None,
        target_latency_ms: float | None = None,
    ) -> dict[str, Any]:
        from core.lifecycle import compress, provenance

        user = self.w.require("model-compress")
        if quantize not in (None, "int8"):
            raise BadInput(f"--quantize {quantize}: only int8")
        if prune is not None and target_latency_ms is not None:
            raise BadInput("--prune and --target-latency both choose the pruning: give one")
        if prune is None and target_latency_ms is None and quantize is None:
            raise BadInput("say how to compress: --prune RATIO, --target-latency MS and/or --quantize int8")
        parent = self.w.registry.resolve(model, ref)
        trained = self.load(parent)
        d = self._training_data(parent)
        result = compress.compress(
            trained,
            d,
            int(parent.params.get("seed", 0)),
            ratio=prune if prune is not None or target_latency_ms is not None else 0.0,
            int8=quantize == "int8",
            target_latency_ms=target_latency_ms,
        )
        how = {"prune": result.ratio, "quantize": quantize, "target_latency_ms": target_latency_ms}
        reg = self._register(
            model,
            self._store(model, result.model),
            user,
            params={**parent.params, **result.model.widths, "compression": how},
            metrics={
                "accuracy": result.report["accuracy"]["after"],
                "compression": result.report,
                "data_validation": parent.metrics.get("data_validation"),
                # the same data: drift is measured against the parent's reference
                **({"reference": parent.metrics["reference"]} if "reference" in parent.metrics else {}),
            },
            data_digest=parent.data_digest or "",
            parent=f"{model}:{parent.version}",
            annotations={"reason": "models compress", **{k: v for k, v in how.items() if v is not None}},
            code_version=provenance.code_version(),
            environment=provenance.environment(),
        )
        return {
            "parent": f"{model}:{parent.version}",
            "version": reg["version"],
            "prune": result.ratio,
            **result.report,
        }


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _scalars(metrics: dict[str, Any]) -> dict[str, Any]:
    """The metrics a table shows: numbers and short text, nested ones flattened (no per-epoch lists)."""
    return {k: v for k, v in _flat(metrics).items() if isinstance(v, int | float | str | bool) or v is None}
