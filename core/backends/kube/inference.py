"""Model deployments as KServe InferenceServices (serving.kserve.io/v1beta1), where the cluster serves
them: a canary is KServe's own, the predictor's new model with `canaryTrafficPercent` as its weight
(KServe splits traffic between the last rolled-out revision and the new one). A promotion removes the
percentage (the new revision takes all traffic); an abort or a rollback writes the older model back,
so that the spec always says what serves. The console's revision numbers and history are kept in the
same annotations as on a Deployment (docs/kubernetes.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from core.backends.kube.api import Api, ns_path
from core.backends.kube.deployments import (
    MODEL,
    MODEL_VERSION,
    REVISION,
    REVISIONS,
    _labels,
    _name,
    _ns,
    _revisions,
    revision_history,
)
from core.errors import ClusterError, NotFound
from core.types import ModelDeployment, Revision

KSERVE = "/apis/serving.kserve.io/v1beta1"
CANARY_REVISION = "mlops-console.io/canary-revision"  # the console's number of the revision in canary
CANARY_VERSION = "mlops-console.io/canary-model-version"
# the predictor's fields that name what it serves, in the order KServe reads them
_FRAMEWORKS = ("sklearn", "xgboost", "lightgbm", "pytorch", "tensorflow", "onnx", "triton", "pmml", "paddle")


class InferenceServices:
    def __init__(self, api: Api, namespace: str | None, read: Callable[[str], list[dict[str, Any]]] | None = None):
        self.api, self.namespace = api, namespace
        self.read = read or (lambda path: list(api.items(path)))

    def _all(self) -> list[dict[str, Any]]:
        return self.read(ns_path(KSERVE, "inferenceservices", self.namespace))

    def list(self) -> list[ModelDeployment]:
        return sorted((model_deployment(o) for o in self._all()), key=lambda d: d.name)

    def names(self) -> set[str]:
        return {_name(o) for o in self._all()}

    def _get(self, name: str) -> dict[str, Any]:
        if self.namespace:
            return self.api.get(ns_path(KSERVE, "inferenceservices", self.namespace, name))
        found = [o for o in self._all() if _name(o) == name]
        if not found:
            raise NotFound(f"no InferenceService {name!r}")
        return self.api.get(ns_path(KSERVE, "inferenceservices", _ns(found[0]), name))

    def get(self, name: str) -> ModelDeployment:
        return model_deployment(self._get(name))

    def _patch(self, o: dict[str, Any], body: dict[str, Any]) -> None:
        self.api.patch(ns_path(KSERVE, "inferenceservices", _ns(o), _name(o)), body)

    # -- the protocol's verbs --------------------------------------------------------------------------
    def add_revision(self, name: str, number: int, model: str, version: int, image: str) -> None:
        o = self._get(name)
        notes = _notes(o)
        if notes.get(CANARY_REVISION) == str(number):
            return  # made already (this step's retry, or a resumed operation)
        if notes.get(CANARY_REVISION):
            raise ClusterError(f"{name} has a canary r{notes[CANARY_REVISION]} already")
        revs = _revisions(o)
        labels = _labels(o)
        revs.setdefault(
            str(_rev(o)),
            {
                "model": labels.get(MODEL) or name,
                "model_version": int(labels.get(MODEL_VERSION) or 0),
                "image": serves(o),
                "status": "active",
            },
        )
        revs[str(number)] = {"model": model, "model_version": version, "image": image, "status": "canary"}
        self._patch(
            o,
            {
                "metadata": {
                    "annotations": {
                        CANARY_REVISION: str(number),
                        CANARY_VERSION: str(version),
                        REVISIONS: json.dumps(revs, sort_keys=True),
                    }
                },
                "spec": {"predictor": {**_serving_patch(o, image), "canaryTrafficPercent": 0}},
            },
        )

    def set_weight(self, name: str, number: int, weight: int) -> None:
        o = self._get(name)
        if _notes(o).get(CANARY_REVISION) != str(number):
            raise ClusterError(f"{name} has no canary r{number} to weight")
        self._patch(o, {"spec": {"predictor": {"canaryTrafficPercent": max(0, min(100, weight))}}})

    def promote(self, name: str, number: int) -> None:
        o = self._get(name)
        notes = _notes(o)
        if notes.get(CANARY_REVISION) != str(number):
            if _rev(o) == number:
                return  # promoted already
            raise ClusterError(f"{name} has no canary r{number} to promote")
        revs = _revisions(o)
        for r in revs.values():
            if r["status"] == "active":
                r["status"] = "retired"
        if str(number) in revs:
            revs[str(number)]["status"] = "active"
        self._patch(
            o,
            {
                "metadata": {
                    "labels": {MODEL_VERSION: notes.get(CANARY_VERSION, "")},
                    "annotations": {
                        REVISION: str(number),
                        REVISIONS: json.dumps(revs, sort_keys=True),
                        CANARY_REVISION: None,
                        CANARY_VERSION: None,
                    },
                },
                # no percentage: the latest revision takes all traffic and becomes KServe's rolled-out one
                "spec": {"predictor": {"canaryTrafficPercent": None}},
            },
        )

    def abort(self, name: str, number: int) -> None:
        o = self._get(name)
        if _notes(o).get(CANARY_REVISION) != str(number):
            return  # no such canary (aborted already)
        revs = _revisions(o)
        if str(number) in revs:
            revs[str(number)]["status"] = "aborted"
        stable = revs.get(str(_rev(o))) or {}
        self._patch(
            o,
            {
                "metadata": {
                    "annotations": {
                        REVISIONS: json.dumps(revs, sort_keys=True),
                        CANARY_REVISION: None,
                        CANARY_VERSION: None,
                    }
                },
                "spec": {"predictor": {**_serving_patch(o, stable.get("image", "")), "canaryTrafficPercent": None}},
            },
        )

    def scale(self, name: str, replicas: int) -> None:
        """KServe scales between the predictor's minReplicas and maxReplicas: the floor is set, and the
        ceiling raised to it where it was lower."""
        o = self._get(name)
        predictor = (o.get("spec") or {}).get("predictor") or {}
        body: dict[str, Any] = {"minReplicas": replicas}
        if predictor.get("maxReplicas") is not None and int(predictor["maxReplicas"]) < replicas:
            body["maxReplicas"] = replicas
        self._patch(o, {"spec": {"predictor": body}})

    # -- what a rollback writes back ---------------------------------------------------------------------
    def snapshot(self, name: str) -> dict[str, Any] | None:
        try:
            o = self._get(name)
        except NotFound:
            return None
        meta = o.get("metadata") or {}
        return {
            "labels": {k: v for k, v in (meta.get("labels") or {}).items() if k.startswith("mlops-console.io/")},
            "annotations": {
                k: v for k, v in (meta.get("annotations") or {}).items() if k.startswith("mlops-console.io/")
            },
            "predictor": (o.get("spec") or {}).get("predictor") or {},
        }

    def restore(self, name: str, snap: dict[str, Any]) -> None:
        o = self._get(name)
        meta = o.get("metadata") or {}
        # a merge patch merges maps: what the snapshot lacks is set to null
        labels = {k: None for k in (meta.get("labels") or {}) if k.startswith("mlops-console.io/")}
        notes = {k: None for k in (meta.get("annotations") or {}) if k.startswith("mlops-console.io/")}
        predictor: dict[str, Any] = {k: None for k in ((o.get("spec") or {}).get("predictor") or {})}
        self._patch(
            o,
            {
                "metadata": {"labels": {**labels, **snap["labels"]}, "annotations": {**notes, **snap["annotations"]}},
                "spec": {"predictor": {**predictor, **snap["predictor"]}},
            },
        )


def serves(o: dict[str, Any]) -> str:
    """What the predictor serves: its model's storageUri, else its first container's image."""
    predictor = (o.get("spec") or {}).get("predictor") or {}
    for key in ("model", *_FRAMEWORKS):
        if isinstance(predictor.get(key), dict) and predictor[key].get("storageUri"):
            return str(predictor[key]["storageUri"])
    containers = predictor.get("containers") or []
    return str(containers[0].get("image", "")) if containers else ""


def _serving_patch(o: dict[str, Any], ref: str) -> dict[str, Any]:
    """The predictor patch that makes it serve `ref`, in the field it already names it by."""
    predictor = (o.get("spec") or {}).get("predictor") or {}
    for key in ("model", *_FRAMEWORKS):
        if isinstance(predictor.get(key), dict) and predictor[key].get("storageUri"):
            return {key: {"storageUri": ref}}
    containers = predictor.get("containers") or []
    if containers:
        # a merge patch replaces a list whole: every container kept, the first one's image changed
        return {"containers": [{**containers[0], "image": ref}, *containers[1:]]}
    return {"model": {"storageUri": ref}}


def _notes(o: dict[str, Any]) -> dict[str, str]:
    return (o.get("metadata") or {}).get("annotations") or {}


def _rev(o: dict[str, Any]) -> int:
    return int(_notes(o).get(REVISION) or 1)


def model_deployment(o: dict[str, Any]) -> ModelDeployment:
    labels, notes = _labels(o), _notes(o)
    spec, status = o.get("spec") or {}, o.get("status") or {}
    predictor = spec.get("predictor") or {}
    created = (o.get("metadata") or {}).get("creationTimestamp", "")
    model = labels.get(MODEL) or _name(o)
    revs = _revisions(o)
    canary_number = notes.get(CANARY_REVISION)
    weight = int(predictor.get("canaryTrafficPercent") or 0) if canary_number else 0
    current = _rev(o)
    if canary_number:
        was = revs.get(str(current)) or {}
        active = Revision(
            current, model, int(was.get("model_version") or 0), was.get("image", ""), created, 100 - weight, "active"
        )
        canary: Revision | None = Revision(
            int(canary_number), model, int(notes.get(CANARY_VERSION) or 0), serves(o), created, weight, "canary"
        )
    else:
        version = int(labels.get(MODEL_VERSION) or 0)
        active = Revision(current, model, version, serves(o), created, 100, "active")
        canary = None
    revisions = revision_history(revs, active, canary, created)
    ready = _ready(status)
    floor = predictor.get("minReplicas")
    replicas = int(floor) if floor is not None else 1  # KServe's default floor
    if canary is not None:
        state = "Progressing"
    elif not ready or any(r.status == "aborted" and r.number > current for r in revisions):
        state = "Degraded"
    else:
        state = "Healthy"
    autoscaler = {
        "name": _name(o),
        "min": replicas,
        "max": int(predictor.get("maxReplicas") or 0),
        "current": replicas if ready else 0,
        "desired": replicas,
        "targets": [f"{predictor.get('scaleMetric', 'concurrency')} {predictor['scaleTarget']}"]
        if predictor.get("scaleTarget") is not None
        else [],
    }
    return ModelDeployment(
        _name(o), _ns(o), model, replicas, replicas if ready else 0, state, current, revisions, autoscaler
    )


def _ready(status: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
