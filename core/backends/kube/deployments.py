"""Model deployments on Kubernetes: a Deployment labelled with the model it serves is the stable revision;
a canary is a second Deployment, `<name>-canary`, whose share of the replicas is its traffic weight (the
Service selects both by their common pod labels). A promotion gives the stable Deployment the canary's
pod template (the Deployment controller makes it a new ReplicaSet revision) and removes the canary; a
rollback is another revision with an older template, as `kubectl rollout undo` makes. The revisions the
console made are kept in an annotation of the stable Deployment (docs/kubernetes.md)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from core.backends.kube.api import Api, ns_path
from core.errors import ClusterError, Forbidden, NotFound
from core.types import ModelDeployment, Revision

APPS = "/apis/apps/v1"
AUTOSCALING = "/apis/autoscaling/v2"
MODEL = "mlops-console.io/model"
MODEL_VERSION = "mlops-console.io/model-version"
CANARY_OF = "mlops-console.io/canary-of"
REVISION = "mlops-console.io/revision"  # the console's revision number of what a Deployment serves
REVISIONS = "mlops-console.io/revisions"  # JSON: every revision the console knows of, on the stable one
TOTAL = "mlops-console.io/replicas"  # the replicas stable and canary share (the stable's own before a canary)
WEIGHT = "mlops-console.io/weight"  # the canary's weight as asked (the replica split rounds it)


class Deployments:
    def __init__(self, api: Api, namespace: str | None, read: Callable[[str], list[dict[str, Any]]] | None = None):
        """`read`: how a list is read (the cluster's cache, where it keeps one)."""
        self.api, self.namespace = api, namespace
        self.read = read or (lambda path: list(api.items(path)))

    def _all(self) -> list[dict[str, Any]]:
        return self.read(ns_path(APPS, "deployments", self.namespace))

    def list(self) -> list[ModelDeployment]:
        objs = self._all()
        canaries = {(_ns(o), _labels(o).get(CANARY_OF)): o for o in objs if _labels(o).get(CANARY_OF)}
        stable = [o for o in objs if _labels(o).get(MODEL) and not _labels(o).get(CANARY_OF)]
        hpas = self._autoscalers(self.namespace) if stable else {}
        return sorted(
            (model_deployment(o, canaries.get((_ns(o), _name(o))), hpas.get((_ns(o), _name(o)))) for o in stable),
            key=lambda d: d.name,
        )

    def _autoscalers(self, namespace: str | None) -> dict[tuple[str, str], dict[str, Any]]:
        """The HorizontalPodAutoscalers of Deployments, by (namespace, deployment); none where the API
        is not served or not readable (an autoscaler is shown, never required)."""
        try:
            objs = self.read(ns_path(AUTOSCALING, "horizontalpodautoscalers", namespace))
        except (NotFound, Forbidden):
            return {}
        out = {}
        for h in objs:
            ref = (h.get("spec") or {}).get("scaleTargetRef") or {}
            if ref.get("kind") == "Deployment":
                out[(_ns(h), str(ref.get("name")))] = autoscaler(h)
        return out

    def _stable(self, name: str) -> dict[str, Any]:
        ns = self.namespace or _find_namespace(self._all(), name)
        o = self.api.get(ns_path(APPS, "deployments", ns, name))
        if not _labels(o).get(MODEL):
            raise NotFound(f"deployment {name} serves no model (no {MODEL} label)")
        return o

    def _canary(self, stable: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return self.api.get(ns_path(APPS, "deployments", _ns(stable), _name(stable) + "-canary"))
        except NotFound:
            return None

    def get(self, name: str) -> ModelDeployment:
        o = self._stable(name)
        return model_deployment(o, self._canary(o), self._autoscalers(_ns(o)).get((_ns(o), name)))

    # -- the protocol's verbs --------------------------------------------------------------------------
    def add_revision(self, name: str, number: int, model: str, version: int, image: str) -> None:
        stable = self._stable(name)
        if self._canary(stable) is not None:
            return  # made already (this step's retry, or a resumed operation)
        canary = copy.deepcopy(stable)
        canary.pop("status", None)
        meta = stable["metadata"]
        canary["metadata"] = {
            "name": _name(stable) + "-canary",
            "namespace": _ns(stable),
            "labels": {**(meta.get("labels") or {}), CANARY_OF: _name(stable), MODEL_VERSION: str(version)},
            "annotations": {REVISION: str(number), WEIGHT: "0"},
        }
        spec = canary["spec"]
        spec["replicas"] = 0
        # its own pods: a selector the stable one's ReplicaSets do not match
        spec["selector"] = {"matchLabels": {**_match(stable), CANARY_OF: _name(stable)}}
        tmeta = spec["template"].setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), CANARY_OF: _name(stable), MODEL_VERSION: str(version)}
        spec["template"]["spec"]["containers"][0]["image"] = image
        self.api.create(ns_path(APPS, "deployments", _ns(stable)), canary)
        revs = _revisions(stable)
        labels = _labels(stable)
        # the revision serving now, kept for a rollback to come back to
        revs.setdefault(
            str(_rev(stable)),
            {
                "model": labels.get(MODEL, ""),
                "model_version": int(labels.get(MODEL_VERSION) or 0),
                "image": stable["spec"]["template"]["spec"]["containers"][0].get("image", ""),
                "status": "active",
            },
        )
        revs[str(number)] = {"model": model, "model_version": version, "image": image, "status": "canary"}
        self._annotate(stable, {REVISIONS: json.dumps(revs, sort_keys=True), TOTAL: str(_total(stable))})

    def set_weight(self, name: str, number: int, weight: int) -> None:
        stable = self._stable(name)
        canary = self._canary(stable)
        if canary is None:
            raise ClusterError(f"{name} has no canary (r{number}) to weight")
        total = _total(stable)
        share = 0 if weight <= 0 else max(1, min(total, round(total * weight / 100)))
        self.api.patch(
            ns_path(APPS, "deployments", _ns(canary), _name(canary)),
            {"metadata": {"annotations": {WEIGHT: str(weight)}}, "spec": {"replicas": share}},
        )
        self.api.patch(ns_path(APPS, "deployments", _ns(stable), name), {"spec": {"replicas": total - share}})

    def promote(self, name: str, number: int) -> None:
        stable = self._stable(name)
        canary = self._canary(stable)
        revs = _revisions(stable)
        if canary is None:
            if _rev(stable) == number:
                return  # promoted already
            raise ClusterError(f"{name} has no canary r{number} to promote")
        template = copy.deepcopy(canary["spec"]["template"])
        labels = template["metadata"]["labels"]
        labels.pop(CANARY_OF, None)
        version = labels.get(MODEL_VERSION, "")
        for r in revs.values():
            if r["status"] == "active":
                r["status"] = "retired"
        if str(number) in revs:
            revs[str(number)]["status"] = "active"
        self.api.patch(
            ns_path(APPS, "deployments", _ns(stable), name),
            {
                "metadata": {
                    "labels": {MODEL_VERSION: version},
                    "annotations": {REVISION: str(number), REVISIONS: json.dumps(revs, sort_keys=True)},
                },
                "spec": {"replicas": _total(stable), "template": template},
            },
        )
        self.api.delete(ns_path(APPS, "deployments", _ns(canary), _name(canary)))

    def abort(self, name: str, number: int) -> None:
        stable = self._stable(name)
        canary = self._canary(stable)
        revs = _revisions(stable)
        if str(number) in revs:
            revs[str(number)]["status"] = "aborted"
        self.api.patch(
            ns_path(APPS, "deployments", _ns(stable), name),
            {
                "metadata": {"annotations": {REVISIONS: json.dumps(revs, sort_keys=True)}},
                "spec": {"replicas": _total(stable)},
            },
        )
        if canary is not None:
            self.api.delete(ns_path(APPS, "deployments", _ns(canary), _name(canary)))

    def scale(self, name: str, replicas: int) -> None:
        """`replicas` in all: with a canary, shared by its weight, as set_weight shares them."""
        stable = self._stable(name)
        canary = self._canary(stable)
        self._annotate(stable, {TOTAL: str(replicas)})
        if canary is None:
            self.api.patch(ns_path(APPS, "deployments", _ns(stable), name), {"spec": {"replicas": replicas}})
            return
        weight = int(((canary.get("metadata") or {}).get("annotations") or {}).get(WEIGHT) or 0)
        self.set_weight(name, _rev(canary), weight)

    def _annotate(self, o: dict[str, Any], notes: dict[str, str]) -> None:
        self.api.patch(ns_path(APPS, "deployments", _ns(o), _name(o)), {"metadata": {"annotations": notes}})

    # -- what a rollback writes back ---------------------------------------------------------------------
    def snapshot(self, name: str) -> dict[str, Any] | None:
        try:
            stable = self._stable(name)
        except NotFound:
            return None
        canary = self._canary(stable)
        return {"stable": _kept(stable), "canary": _kept(canary) if canary else None}

    def restore(self, name: str, snap: dict[str, Any]) -> None:
        stable = self._stable(name)
        s = snap["stable"]
        self.api.patch(
            ns_path(APPS, "deployments", _ns(stable), name),
            {
                "metadata": {"labels": s["labels"], "annotations": s["annotations"]},
                "spec": {"replicas": s["replicas"], "template": s["template"]},
            },
        )
        canary = self._canary(stable)
        if snap["canary"] is None and canary is not None:
            self.api.delete(ns_path(APPS, "deployments", _ns(canary), _name(canary)))
        elif snap["canary"] is not None:
            c = snap["canary"]
            if canary is None:
                body = {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {
                        "name": name + "-canary",
                        "namespace": _ns(stable),
                        "labels": c["labels"],
                        "annotations": c["annotations"],
                    },
                    "spec": {"replicas": c["replicas"], "selector": c["selector"], "template": c["template"]},
                }
                self.api.create(ns_path(APPS, "deployments", _ns(stable)), body)
            else:
                self.api.patch(
                    ns_path(APPS, "deployments", _ns(canary), _name(canary)),
                    {
                        "metadata": {"annotations": c["annotations"]},
                        "spec": {"replicas": c["replicas"], "template": c["template"]},
                    },
                )


def autoscaler(h: dict[str, Any]) -> dict[str, Any]:
    spec, status = h.get("spec") or {}, h.get("status") or {}
    targets = []
    for metric in spec.get("metrics") or []:
        res = metric.get("resource") or {}
        target = res.get("target") or {}
        if target.get("averageUtilization") is not None:
            targets.append(f"{res.get('name')} {target['averageUtilization']}%")
        elif target.get("averageValue") is not None:
            targets.append(f"{res.get('name') or metric.get('type', '')} {target['averageValue']}")
    return {
        "name": _name(h),
        "min": int(spec.get("minReplicas") or 1),
        "max": int(spec.get("maxReplicas") or 0),
        "current": int(status.get("currentReplicas") or 0),
        "desired": int(status.get("desiredReplicas") or 0),
        "targets": targets,
    }


def model_deployment(
    o: dict[str, Any], canary: dict[str, Any] | None, hpa: dict[str, Any] | None = None
) -> ModelDeployment:
    labels, spec, status = _labels(o), o.get("spec") or {}, o.get("status") or {}
    revs = _revisions(o)
    current = _rev(o)
    image = (spec.get("template") or {}).get("spec", {}).get("containers", [{}])[0].get("image", "")
    created = (o.get("metadata") or {}).get("creationTimestamp", "")
    weight = int(((canary or {}).get("metadata") or {}).get("annotations", {}).get(WEIGHT, 0) or 0) if canary else 0
    active = Revision(
        current, labels.get(MODEL, ""), int(labels.get(MODEL_VERSION) or 0), image, created, 100 - weight, "active"
    )
    canary_rev = None
    if canary is not None:
        canary_rev = Revision(
            _rev(canary),
            labels.get(MODEL, ""),
            int(_labels(canary).get(MODEL_VERSION) or 0),
            canary["spec"]["template"]["spec"]["containers"][0].get("image", ""),
            (canary.get("metadata") or {}).get("creationTimestamp", created),
            weight,
            "canary",
        )
    revisions = revision_history(revs, active, canary_rev, created)
    replicas = int(spec.get("replicas") or 0) + int(((canary or {}).get("spec") or {}).get("replicas") or 0)
    ready = int(status.get("readyReplicas") or 0) + int(((canary or {}).get("status") or {}).get("readyReplicas") or 0)
    if spec.get("paused"):
        state = "Paused"
    elif canary is not None:
        state = "Progressing"
    elif any(r.status == "aborted" and r.number > current for r in revisions) or ready < replicas:
        state = "Degraded"
    else:
        state = "Healthy"
    return ModelDeployment(_name(o), _ns(o), labels.get(MODEL, ""), replicas, ready, state, current, revisions, hpa)


def revision_history(
    revs: dict[str, dict[str, Any]], active: Revision, canary: Revision | None, created: str
) -> list[Revision]:
    """Every revision the console knows of (the REVISIONS annotation), with what serves now, by number."""
    now = {active.number} | ({canary.number} if canary else set())
    out = [
        Revision(
            int(n),
            r["model"],
            int(r["model_version"]),
            r["image"],
            created,
            0,
            "aborted" if r["status"] == "aborted" else "retired",
        )
        for n, r in revs.items()
        if int(n) not in now
    ]
    out += [active] + ([canary] if canary else [])
    return sorted(out, key=lambda r: r.number)


def _labels(o: dict[str, Any]) -> dict[str, str]:
    return (o.get("metadata") or {}).get("labels") or {}


def _name(o: dict[str, Any]) -> str:
    return str((o.get("metadata") or {}).get("name", ""))


def _ns(o: dict[str, Any]) -> str:
    return str((o.get("metadata") or {}).get("namespace", ""))


def _match(o: dict[str, Any]) -> dict[str, str]:
    return dict(((o.get("spec") or {}).get("selector") or {}).get("matchLabels") or {})


def _rev(o: dict[str, Any]) -> int:
    notes = (o.get("metadata") or {}).get("annotations") or {}
    return int(notes.get(REVISION) or notes.get("deployment.kubernetes.io/revision") or 1)


def _revisions(o: dict[str, Any]) -> dict[str, dict[str, Any]]:
    notes = (o.get("metadata") or {}).get("annotations") or {}
    try:
        return dict(json.loads(notes.get(REVISIONS) or "{}"))
    except ValueError:
        return {}


def _total(stable: dict[str, Any]) -> int:
    notes = (stable.get("metadata") or {}).get("annotations") or {}
    return int(notes.get(TOTAL) or (stable.get("spec") or {}).get("replicas") or 1)


def _kept(o: dict[str, Any]) -> dict[str, Any]:
    meta, spec = o.get("metadata") or {}, o.get("spec") or {}
    return {
        "labels": meta.get("labels") or {},
        "annotations": {k: v for k, v in (meta.get("annotations") or {}).items() if k.startswith("mlops-console.io/")},
        "replicas": spec.get("replicas"),
        "selector": spec.get("selector"),
        "template": spec.get("template"),
    }


def _find_namespace(objs: list[dict[str, Any]], name: str) -> str:
    found = [_ns(o) for o in objs if _name(o) == name and _labels(o).get(MODEL)]
    if not found:
        raise NotFound(f"no model deployment {name!r}")
    return found[0]
