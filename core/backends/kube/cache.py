"""A watch-based cache of the objects the views read, for the TUI (a CLI command reads once, directly):
each resource listed a page at a time, then watched from the list's resourceVersion; a 410 Gone (the
version is too old for the server) lists again; any other failure retries with exponential backoff and
full jitter, the last good state kept and marked stale meanwhile. Only the fields the console reads are
kept (`trim`), not whole objects: 100,000 pods stay within tens of MB."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from core.backends.kube.api import Api, Expired
from core.errors import Forbidden, NotFound

Trim = Callable[[dict[str, Any]], dict[str, Any]]


class Gone(Exception):
    """The watch's resourceVersion is too old: list again."""


class Informer:
    def __init__(
        self,
        api: Api,
        path: str,
        trim: Trim,
        name: str,
        sleep: Callable[[float], None] = time.sleep,
        optional: bool = False,
    ):
        """`optional`: a resource the views can do without (autoscalers, events): a 403 or 404 on its list
        ends the watch quietly (`refused`), rather than marking the whole cache stale."""
        self.api, self.path, self.trim, self.name, self.sleep = api, path, trim, name, sleep
        self.optional = optional
        self.refused: Exception | None = None  # why the server will not list it (optional ones only)
        self.items: dict[str, dict[str, Any]] = {}  # "namespace/name" -> the trimmed object
        self.synced = threading.Event()  # the first list is in
        self.changes = 0  # bumped by every change applied: the cache's part of the data generation
        self.problem: str | None = None  # why it is not current now (None: it is)
        self.since: float | None = None  # when that began
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"watch {name}", daemon=True)

    def start(self) -> Informer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def values(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.items.values())

    # -- the loop ----------------------------------------------------------------------------------------
    def _run(self) -> None:
        version: str | None = None
        failures = 0
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self._list()
                version = self._watch(version)
                failures = 0
            except (Gone, Expired):
                version = None
            except (Forbidden, NotFound) as e:
                if self.optional:
                    self.refused = e
                    return
                failures = self._failed(e, failures)
            except Exception as e:  # the API unreachable, a dropped stream, a refusal: keep what we have
                failures = self._failed(e, failures)

    def _failed(self, e: Exception, failures: int) -> int:
        """Mark the cache stale with why, back off (exponential, full jitter); the new failure count."""
        failures += 1
        self._set_problem(f"{self.name}: {str(e).splitlines()[0][:200] if str(e) else type(e).__name__}")
        self.sleep(random.uniform(0, min(30.0, 0.5 * 2**failures)))
        return failures

    def _list(self) -> str:
        fresh: dict[str, dict[str, Any]] = {}
        for page in self.api.pages(self.path):
            for o in page:
                fresh[_key(o)] = self.trim(o)
        version = str(self.api.last_version)
        with self._lock:
            self.items = fresh
            self.changes += 1
        self._set_problem(None)
        self.synced.set()
        return version

    def _watch(self, version: str) -> str:
        events = self.api.watch(self.path, version)
        self._set_problem(None)  # the server answers again
        for event in events:
            if self._stop.is_set():
                break
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise Gone()
                raise RuntimeError(f"watch error: {obj.get('message') or obj}")
            version = (obj.get("metadata") or {}).get("resourceVersion") or version
            if kind == "BOOKMARK":
                continue
            with self._lock:
                if kind == "DELETED":
                    self.items.pop(_key(obj), None)
                else:
                    self.items[_key(obj)] = self.trim(obj)
                self.changes += 1
            self._set_problem(None)
        return version

    def _set_problem(self, problem: str | None) -> None:
        if problem and not self.problem:
            self.since = time.time()
        if not problem:
            self.since = None
        if problem != self.problem:
            self.problem = problem
            with self._lock:
                self.changes += 1  # stale marks come and go: the views draw again


def _key(o: dict[str, Any]) -> str:
    meta = o.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name')}"


# -- what is kept of each kind (the paths core/backends/kube/mapping.py and the cluster read) ---------------
def _pick(d: Any, *keys: str) -> dict[str, Any]:
    return {k: d[k] for k in keys if isinstance(d, dict) and k in d}


def _meta(o: dict[str, Any], annotations: bool = True) -> dict[str, Any]:
    meta = o.get("metadata") or {}
    kept = _pick(meta, "name", "namespace", "labels", "creationTimestamp", "deletionTimestamp", "resourceVersion")
    if annotations:
        kept["annotations"] = meta.get("annotations") or {}
    refs = meta.get("ownerReferences")
    if refs:
        kept["ownerReferences"] = [_pick(r, "kind", "name", "controller") for r in refs]
    return kept


def trim_node(o: dict[str, Any]) -> dict[str, Any]:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    return {
        "metadata": _meta(o),
        "spec": _pick(spec, "unschedulable", "taints"),
        "status": {
            "conditions": [_pick(c, "type", "status") for c in status.get("conditions") or []],
            "allocatable": status.get("allocatable") or {},
            "capacity": status.get("capacity") or {},
            "nodeInfo": _pick(status.get("nodeInfo") or {}, "kubeletVersion"),
        },
    }


def trim_pod(o: dict[str, Any]) -> dict[str, Any]:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    meta = _meta(o, annotations=False)
    notes = (o.get("metadata") or {}).get("annotations") or {}
    if "kubernetes.io/config.mirror" in notes:
        meta["annotations"] = {"kubernetes.io/config.mirror": notes["kubernetes.io/config.mirror"]}
    return {
        "metadata": meta,
        "spec": {
            "nodeName": spec.get("nodeName"),
            "containers": [
                {"resources": _pick(c.get("resources") or {}, "requests", "limits")}
                for c in spec.get("containers") or []
            ],
            "volumes": [{"emptyDir": {}} for v in spec.get("volumes") or [] if "emptyDir" in v],
        },
        "status": {
            **_pick(status, "phase", "reason"),
            "containerStatuses": [
                _pick(s, "restartCount", "state", "lastState") for s in status.get("containerStatuses") or []
            ],
        },
    }


def trim_whole(o: dict[str, Any]) -> dict[str, Any]:
    """Jobs, SparkApplications, Deployments: few, and their specs are what a retry or a rollout copies."""
    o = dict(o)
    meta = dict(o.get("metadata") or {})
    meta.pop("managedFields", None)
    o["metadata"] = meta
    return o


def trim_event(o: dict[str, Any]) -> dict[str, Any]:
    """What a failure's triage reads of an Event: what it is about, its type, reason and message."""
    return {
        "metadata": _pick(o.get("metadata") or {}, "name", "namespace", "resourceVersion"),
        "involvedObject": _pick(o.get("involvedObject") or {}, "kind", "name"),
        **_pick(o, "type", "reason", "message", "lastTimestamp"),
    }
