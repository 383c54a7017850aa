"""A Kubernetes API server for tests, over real HTTP, usable from synchronous code.

kmock's KubernetesEmulator runs on a background thread (its own event loop); the official client, kubectl
or the console talk to it through a kubeconfig this harness writes:

    with KubeEmulator() as emu:
        emu.add(kube_objects.node("n1"))
        path = emu.kubeconfig(tmp_path / "kubeconfig")
        emu.kubectl("cordon", "n1")

kmock parses requests, stores objects (`emu.emulator.objects`, with their history) and serves discovery;
this module serves the resource endpoints itself, because kmock stores a write before any reaction can
refuse it, ignores selectors and resourceVersions, cannot parse /api/v1/namespaces, and emits no watch
event for objects assigned directly. What is served the way a real apiserver does it:

- resourceVersion, uid, creationTimestamp and generation are set by the server; a write that changes
  nothing keeps its resourceVersion; a resourceVersion in a patch, PUT or delete precondition is checked (409);
- list: label and field selectors, `limit` + `continue` pages, apiVersion and kind "<Kind>List";
- watch: from a resourceVersion it replays what happened since (410 Gone when that is older than the
  history kept), without one it starts with ADDED for every object; selectors; timeoutSeconds;
- patch: JSON patch, merge patch (RFC 7386), strategic merge (lists of containers, env, volumes…
  merged by their key; 415 for custom resources, as a real server answers); writes to a resource with a
  status subresource keep the status, writes to /status keep the rest; /scale;
- delete: finalizers (deletionTimestamp first), preconditions, garbage collection of dependents
  (ownerReferences; Jobs orphan their pods by default, with the real server's warning);
- pods/log (text/plain, container, tailLines, limitBytes, previous), pods/eviction (PodDisruptionBudgets,
  429 without deleting); the node controller's `node.kubernetes.io/unschedulable` taint follows cordon;
- errors are Status bodies with the reasons and messages a real server uses.

Not emulated: controllers (nothing reconciles: a Deployment never makes pods, a Job never finishes),
admission and validation, RBAC, server-side apply field ownership (applied as a strategic merge), pod
graceful termination (pods go at once), consistent snapshots across list pages, bookmarks.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import collections
import contextlib
import gc
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp.web
import jsonpatch
import jsonpointer
import kmock
import orjson

PODS = kmock.resource("", "v1", "pods")
NODES = kmock.resource("", "v1", "nodes")
JOBS = kmock.resource("batch", "v1", "jobs")
PDBS = kmock.resource("policy", "v1", "poddisruptionbudgets")
CRDS = kmock.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
SPARK = "sparkoperator.k8s.io/v1beta2/sparkapplications"
KSERVE = "serving.kserve.io/v1beta1/inferenceservices"

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUBRESOURCE_VERBS = {
    "status": ["get", "patch", "update"],
    "scale": ["get", "patch", "update"],
    "eviction": ["create"],
    "log": ["get"],
    "binding": ["create"],
    "exec": ["create", "get"],
    "attach": ["create", "get"],
    "portforward": ["create", "get"],
    "proxy": ["create", "delete", "get", "patch", "update"],
}
# (group, version, kind) a subresource's discovery entry names when it is not its parent's
SUBRESOURCE_KINDS = {"eviction": ("policy", "v1", "Eviction"), "scale": ("autoscaling", "v1", "Scale")}
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
# strategic merge: the lists merged item by item, by the first of these keys the patch's items carry
MERGE_KEYS = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "ports": ("containerPort", "port"),
    "conditions": ("type",),
    "imagePullSecrets": ("name",),
    "ownerReferences": ("uid",),
    "hostAliases": ("ip",),
    "addresses": ("type",),
    "resourceClaims": ("name",),
}
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
JOB_ORPHAN_WARNING = (
    '299 - "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to '
    'remove them or set propagationPolicy=Orphan to suppress this warning"'
)
FREEZE_AT = 10_000  # objects added at once from which the store is frozen out of the cyclic GC's walks
HEARTBEAT = 1.0  # how often an idle watch checks that its client is still there (cleanup only)
STARTUP_TIMEOUT = 30.0
_END = object()  # ends a watch stream


class Seen(NamedTuple):
    """A request the emulator received."""

    method: str
    path: str
    query: dict[str, str]


@dataclass
class Fault:
    """An injected failure: the next `times` matching requests (None: all of them) get `status`."""

    verb: str
    resource: kmock.resource
    name: str | None = None
    namespace: str | None = None
    subresource: str | None = None
    status: int = 500
    times: int | None = 1
    retry_after: int | None = None
    message: str | None = None
    hits: int = 0
    delay: float = 0.0  # a slow server: the request is served, after this many seconds (status unused)

    def matches(self, verb: str, t: Target) -> bool:
        return (
            self.verb in ("*", verb)
            and self.resource.check(t.resource)
            and self.name in (None, t.name)
            and self.namespace in (None, t.namespace)
            and self.subresource == t.subresource
        )


class ApiError(Exception):
    """An answer with a Status body."""

    def __init__(self, code: int, message: str, details: dict[str, Any] | None = None, reason: str | None = None):
        super().__init__(message)
        self.code, self.message, self.details = code, message, details
        self.reason = reason or REASONS.get(code, "Unknown")
        self.headers: dict[str, str] = {}

    def response(self) -> aiohttp.web.Response:
        return _json(status_body(self.code, self.reason, self.message, self.details), self.code, self.headers)


@dataclass(frozen=True)
class Target:
    """What a resource request is about, from its path."""

    resource: kmock.resource
    namespace: str | None
    name: str | None
    subresource: str | None


@dataclass(eq=False)
class _Watcher:
    resource: kmock.resource
    namespace: str | None
    name: str | None
    labels: Callable[[Mapping[str, str]], bool]
    fields: Callable[[Mapping[str, Any]], bool]
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    closed: bool = False

    def wants(self, obj: Mapping[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        return (
            self.namespace in (None, meta.get("namespace"))
            and self.name in (None, meta.get("name"))
            and self.labels(meta.get("labels") or {})
            and self.fields(obj)
        )


# -- requests ------------------------------------------------------------------------------------------
def parse_path(path: str) -> Target | None:
    """The resource a path names; None for discovery (/api, /apis/G/V, /version…) and anything else."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    # /namespaces/NS/PLURAL/… is namespaced; /namespaces/NAME[/status] is a Namespace itself
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    name = rest[1] if len(rest) > 1 else None
    return Target(kmock.resource(group, version, rest[0]), namespace, name, "/".join(rest[2:]) or None)


def verb_of(method: str, t: Target, query: Mapping[str, str]) -> str:
    """The RBAC verb of a request."""
    if method == "GET":
        if query.get("watch") in ("true", "1"):
            return "watch"
        return "get" if t.name else "list"
    if method == "DELETE":
        return "delete" if t.name else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())


def path_of(resource: kmock.resource) -> str:
    """The harness's name of a resource: "v1/pods", "batch/v1/jobs"."""
    return f"{resource.group}/{resource.version}/{resource.plural}" if resource.group else f"v1/{resource.plural}"


def to_resource(path: str) -> kmock.resource:
    r = kmock.resource(path)
    if r.group is None or r.version is None or r.plural is None:
        raise ValueError(f"not a full resource path (want 'v1/pods', 'batch/v1/jobs'…): {path!r}")
    return r


def qualified(resource: kmock.resource) -> str:
    """How a real server names a resource in messages: "pods", "jobs.batch"."""
    return f"{resource.plural}.{resource.group}" if resource.group else str(resource.plural)


def status_body(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
    body.update(message=message, reason=reason, code=code)
    if details:
        body["details"] = details
    return body


def _json(obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> aiohttp.web.Response:
    # orjson: a listing of 100,000 pods is serialised in the server's only thread
    return aiohttp.web.Response(
        body=orjson.dumps(obj), status=status, headers={"Content-Type": "application/json", **(headers or {})}
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int(text: Any) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _parse_body(body: bytes, content_type: str) -> Any:
    if not body:
        return None
    try:
        if "yaml" in content_type:
            import yaml

            return yaml.safe_load(body)
        return json.loads(body)
    except ValueError as e:
        raise ApiError(400, f"the body of the request could not be decoded: {e}") from e


def _dict_body(body: bytes, content_type: str) -> dict[str, Any]:
    obj = _parse_body(body, content_type)
    if not isinstance(obj, dict):
        raise ApiError(400, "the body of the request was not a JSON object")
    return obj


def _not_found(t: Target) -> ApiError:
    details = {"name": t.name, "group": t.resource.group, "kind": t.resource.plural}
    return ApiError(404, f'{qualified(t.resource)} "{t.name}" not found', details)


def _conflict(t: Target) -> ApiError:
    message = (
        f'Operation cannot be fulfilled on {qualified(t.resource)} "{t.name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    return ApiError(409, message, {"name": t.name, "group": t.resource.group, "kind": t.resource.plural})


# -- selectors -----------------------------------------------------------------------------------------
_LABEL_TERM = re.compile(
    r"\s*(?:!\s*(?P<absent>[\w./-]+)|(?P<key>[\w./-]+)\s*"
    r"(?:(?P<op>==|!=|=)\s*(?P<value>[\w./-]*)|\s+(?P<set>in|notin)\s*\((?P<values>[^)]*)\))?)\s*"
)
_FIELD_TERM = re.compile(r"\s*([\w.]+)\s*(==|!=|=)\s*(.*?)\s*")


def _terms(text: str) -> list[str]:
    # the commas inside "in (a,b)" belong to the set
    return [t for t in re.split(r",(?![^()]*\))", text or "") if t.strip()]


def label_matcher(text: str) -> Callable[[Mapping[str, str]], bool]:
    """A labelSelector ("app=web,tier!=db,env in (a,b),!canary") as a predicate on labels."""
    checks = [_label_check(term) for term in _terms(text)]
    return lambda labels: all(check(labels) for check in checks)


def _label_check(term: str) -> Callable[[Mapping[str, str]], bool]:
    m = _LABEL_TERM.fullmatch(term)
    if not m:
        raise ApiError(400, f"unable to parse requirement: {term!r}")
    if m["absent"]:
        return lambda labels, k=m["absent"]: k not in labels
    key = m["key"]
    if m["op"]:
        value, negated = m["value"], m["op"] == "!="
        return lambda labels: (labels.get(key) == value) != negated
    if m["set"]:
        values = {v.strip() for v in m["values"].split(",") if v.strip()}
        if m["set"] == "in":
            return lambda labels: key in labels and labels[key] in values
        return lambda labels: labels.get(key) not in values
    return lambda labels: key in labels


def field_matcher(text: str) -> Callable[[Mapping[str, Any]], bool]:
    """A fieldSelector ("spec.nodeName=n1,status.phase!=Succeeded") as a predicate on objects."""
    checks = []
    for term in _terms(text):
        m = _FIELD_TERM.fullmatch(term)
        if not m:
            raise ApiError(400, f"invalid field selector: {term!r}")
        checks.append((m[1].split("."), m[2] == "!=", m[3]))
    return lambda obj: all((_field(obj, path) == value) != negated for path, negated, value in checks)


def _field(obj: Any, path: list[str]) -> str:
    for key in path:
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    if isinstance(obj, bool):
        return "true" if obj else "false"
    return "" if obj is None else str(obj)


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A structured LabelSelector (matchLabels, matchExpressions); an empty one matches all, none nothing."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        key, values = e.get("key"), set(e.get("values") or ())
        ok = {
            "In": key in labels and labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }.get(e.get("operator"), False)
        if not ok:
            return False
    return True


# -- patches -------------------------------------------------------------------------------------------
def merge_patch(old: Any, patch: Any) -> Any:
    """RFC 7386: maps merge, null removes, anything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return patch
    out = dict(old) if isinstance(old, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def strategic_patch(old: Any, patch: Any) -> Any:
    """Kubernetes' strategic merge: as a merge patch, but the lists in MERGE_KEYS merge item by item and
    the $patch / $retainKeys / $deleteFromPrimitiveList directives are obeyed (the others are dropped)."""
    if not isinstance(patch, dict):
        return _undirected(patch)
    if patch.get("$patch") == "replace":
        return _undirected(patch)
    out = dict(old) if isinstance(old, dict) else {}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            out[name] = [v for v in out.get(name) or [] if v not in value]
        elif key.startswith("$"):
            continue
        elif value is None or (isinstance(value, dict) and value.get("$patch") == "delete"):
            out.pop(key, None)
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(out.get(key), list):
            out[key] = _merge_list(out[key], value, MERGE_KEYS[key])
        elif isinstance(value, list) and key == "finalizers" and isinstance(out.get(key), list):
            out[key] = out[key] + [v for v in value if v not in out[key]]
        else:
            out[key] = strategic_patch(out.get(key), value)
    if "$retainKeys" in patch:
        out = {k: v for k, v in out.items() if k in patch["$retainKeys"]}
    return out


def _merge_list(old: list[Any], patch: list[Any], keys: tuple[str, ...]) -> list[Any]:
    key = next((k for k in keys if any(isinstance(i, dict) and k in i for i in patch)), None)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return _undirected(patch)
    out = list(old)
    for item in patch:
        at = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if at is not None:
                del out[at]
        elif at is None:
            out.append(_undirected(item))
        else:
            out[at] = strategic_patch(out[at], item)
    return out


def _undirected(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _undirected(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_undirected(v) for v in value]
    return value


def apply_patch(old: dict[str, Any], patch: Any, content_type: str) -> dict[str, Any]:
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json-patch+json" or isinstance(patch, list):
        try:
            return jsonpatch.apply_patch(old, patch)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as e:
            raise ApiError(422, f"the JSON patch could not be applied: {e}") from e
    if not isinstance(patch, dict):
        raise ApiError(400, "the patch is not a JSON object")
    if kind == "application/merge-patch+json":
        return merge_patch(old, patch)
    if kind in ("application/strategic-merge-patch+json", "application/apply-patch+yaml"):
        return strategic_patch(old, patch)
    raise ApiError(415, f"the body of the request was in an unknown format - accepted media types include: {kind}")


# -- the server ----------------------------------------------------------------------------------------
class _Emulator(kmock.KubernetesEmulator):
    """kmock's emulator with the resource endpoints served here (see the module's docstring).

    Runs in the server's loop: every method below is called there (the harness sends them over)."""

    def __init__(self, *, spark: bool, kserve: bool, history: int):
        super().__init__()
        self.rv = 0
        self.history_size = history
        self.history: dict[kmock.resource, collections.deque[tuple[int, str, dict[str, Any]]]] = {}
        self.horizon: dict[kmock.resource, int] = collections.defaultdict(int)  # newest event forgotten
        self.keys: dict[kmock.resource, dict[tuple[str, str], None]] = {}  # {(namespace or "", name)}
        self.sorted_keys: dict[kmock.resource, list[tuple[str, str]]] = {}  # sorted on demand
        self.owned: dict[str, set[tuple[kmock.resource, str | None, str]]] = collections.defaultdict(set)
        self.custom: set[kmock.resource] = set()  # custom resources: no strategic merge
        self.infos: dict[kmock.resource, kmock.ResourceInfo] = {}  # kmock's lookups are slow (Protocol checks)
        self.kinds: dict[tuple[str, str], kmock.resource] = {}  # (apiVersion, kind) → resource
        self.logs: dict[tuple[str, str, str | None, bool], str] = {}
        self.watchers: set[_Watcher] = set()
        self.watch_changed = threading.Condition()  # guards `watchers` for the harness's thread
        self.lock = threading.Lock()  # guards the lists below, written from both threads
        self.faults: list[Fault] = []
        self.expiries: list[list[Any]] = []  # [resource or None, times left]
        self.seen: list[tuple[Seen, bytes]] = []
        self.failures: list[str] = []
        with warnings.catch_warnings():  # kmock reads its bundle with a deprecated importlib call
            warnings.simplefilter("ignore", DeprecationWarning)
            self.resources.load_bundled()
        if spark:
            self.declare_crd(SPARK, "SparkApplication", ["sparkapp"])
        if kserve:
            self.declare_crd(KSERVE, "InferenceService", ["isvc"])

    # -- entry ---------------------------------------------------------------------------------------
    async def __call__(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        body = await raw.read()
        with self.lock:
            self.seen.append((Seen(raw.method, raw.path, dict(raw.query)), body))
        t = parse_path(raw.path)
        if t is None:
            return await super().__call__(raw)  # discovery: kmock's, with the fixes in _serve_version
        try:
            return await self._serve(raw, t, body)
        except ApiError as e:
            return e.response()
        except Exception as e:  # a bug here: answered as a real server would, kept for the test to see
            self.failures.append("".join(traceback.format_exception(e)))
            return _json(status_body(500, "InternalError", f"emulator: {e!r}"), 500)

    async def _serve(self, raw: aiohttp.web.BaseRequest, t: Target, body: bytes) -> aiohttp.web.StreamResponse:
        verb = verb_of(raw.method, t, raw.query)
        delay = self._raise_fault(verb, t, body)  # before anything is stored: a refused write changes nothing
        if delay:
            await asyncio.sleep(delay)  # a slow server: the client may have given up; the write still lands
        if not self._known(t.resource):
            raise ApiError(404, "the server could not find the requested resource")
        self._check_scope(t, verb)
        if t.subresource == "log" and t.resource == PODS:
            return self._log(raw, t, verb)
        if t.subresource == "eviction" and t.resource == PODS:
            return self._evict(raw, t, verb, body)
        if t.subresource == "scale":
            return self._scale(raw, t, verb, body)
        if t.subresource not in (None, "status"):
            raise ApiError(404, "the server could not find the requested resource")
        if verb == "watch":
            return await self._watch(raw, t)
        handlers = {
            "list": self._list,
            "get": self._get,
            "create": self._create,
            "patch": self._patch,
            "update": self._update,
            "delete": self._delete,
        }
        if verb not in handlers:
            raise ApiError(405, "the server does not allow this method on the requested resource")
        return handlers[verb](raw, t, body)

    def _raise_fault(self, verb: str, t: Target, body: bytes) -> float:
        """Raise the matching fault's error; a stall's delay is returned instead (0: no fault)."""
        if verb == "create" and not t.name:  # a create names its object in the body
            t = Target(t.resource, t.namespace, _name_in(body), t.subresource)
        with self.lock:
            fault = next((f for f in self.faults if f.matches(verb, t)), None)
            if fault is None:
                return 0.0
            fault.hits += 1
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
        if fault.delay:
            return fault.delay
        raise _fault_error(fault, verb, t)

    def _known(self, resource: kmock.resource) -> bool:
        return bool(self.keys.get(resource)) or self._info(resource) is not None

    def _info(self, resource: kmock.resource) -> kmock.ResourceInfo | None:
        if resource not in self.infos:
            # ResourcesArray creates an entry on a missing key: ask first, not to advertise what is not served
            if resource not in self.resources:
                return None
            self.infos[resource] = self.resources[resource]
        return self.infos[resource]

    def resource_of(self, obj: Mapping[str, Any]) -> kmock.resource:
        """The served resource of an object, by its apiVersion and kind."""
        key = (obj.get("apiVersion", ""), obj.get("kind", ""))
        if key not in self.kinds:
            group, _, version = key[0].rpartition("/")
            for r in self.resources:
                if r.group == group and r.version == version and self.resources[r].kind == key[1]:
                    self.kinds[key] = r
                    break
            else:
                raise ValueError(f"no served resource of kind {key[1]} in {key[0]}")
        return self.kinds[key]

    def _check_scope(self, t: Target, verb: str) -> None:
        info = self._info(t.resource)
        namespaced = info.namespaced if info else None
        if (namespaced is False and t.namespace) or (namespaced and not t.namespace and (t.name or verb == "create")):
            raise ApiError(404, "the server could not find the requested resource")

    # -- reads ---------------------------------------------------------------------------------------
    def _get(self, raw: aiohttp.web.BaseRequest, t: Target, body: bytes) -> aiohttp.web.Response:
        return _json(self._require(t))

    def _list(self, raw: aiohttp.web.BaseRequest, t: Target, body: bytes) -> aiohttp.web.Response:
        q = raw.query
        labels, fields = label_matcher(q.get("labelSelector", "")), field_matcher(q.get("fieldSelector", ""))
        limit = _int(q.get("limit")) or 0
        items: list[dict[str, Any]] = []
        last, more = None, None
        for key, obj in self.each(t.resource, t.namespace, after=_decode_continue(q.get("continue"))):
            if not (labels((obj.get("metadata") or {}).get("labels") or {}) and fields(obj)):
                continue
            if limit and len(items) == limit:
                more = last
                break
            items.append(obj)
            last = key
        meta: dict[str, Any] = {"resourceVersion": str(self.rv)}
        if more:
            meta["continue"] = _encode_continue(self.rv, more)
        kind = self.kind_of(t.resource) + "List"
        return _json({"apiVersion": _api_version(t.resource), "kind": kind, "metadata": meta, "items": items})

    def each(
        self, resource: kmock.resource, namespace: str | None = None, after: tuple[str, str] | None = None
    ) -> Iterator[tuple[tuple[str, str], dict[str, Any]]]:
        """((namespace or "", name), object) of the resource's objects, in key order."""
        keys = self._sorted(resource)
        if after is not None:
            i = bisect.bisect_right(keys, after)
        else:
            i = bisect.bisect_left(keys, (namespace, "")) if namespace is not None else 0
        for key in keys[i:]:
            if namespace is not None and key[0] != namespace:
                if key[0] > namespace:
                    return
                continue
            yield key, self._objects[resource, key[0] or None, key[1]].raw

    def _sorted(self, resource: kmock.resource) -> list[tuple[str, str]]:
        if resource not in self.sorted_keys:
            self.sorted_keys[resource] = sorted(self.keys.get(resource, ()))
        return self.sorted_keys[resource]

    def current(self, resource: kmock.resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        key = (resource, namespace, name)
        if key not in self._objects or self._objects[key].deleted:
            return None
        return self._objects[key].raw

    def _require(self, t: Target) -> dict[str, Any]:
        obj = self.current(t.resource, t.namespace, t.name or "")
        if obj is None:
            raise _not_found(t)
        return obj

    def kind_of(self, resource: kmock.resource) -> str:
        info = self._info(resource)
        return (info.kind if info else None) or str(resource.plural).capitalize()

    # -- writes --------------------------------------------------------------------------------------
    def _create(self, raw: aiohttp.web.BaseRequest, t: Target, body: bytes) -> aiohttp.web.Response:
        if t.name:
            raise ApiError(405, "the server does not allow this method on the requested resource")
        obj = _dict_body(body, raw.content_type)
        meta = obj.get("metadata") or {}
        name = meta.get("name") or _generated(meta.get("generateName"))
        if not name:
            raise ApiError(422, "metadata.name: Required value: name or generateName is required")
        if t.namespace and meta.get("namespace") not in (None, t.namespace):
            raise ApiError(400, "the namespace of the provided object does not match the namespace sent on the request")
        if self.current(t.resource, t.namespace, name) is not None:
            details = {"name": name, "group": t.resource.group, "kind": t.resource.plural}
            raise ApiError(409, f'{qualified(t.resource)} "{name}" already exists', details, "AlreadyExists")
        new = self.fresh(t.resource, t.namespace, name, obj, from_api=True)
        if not _dry_run(raw.query, obj):
            self.store(t.resource, t.namespace, name, new)
        return _json(new, 201)

    def _patch(self, raw: aiohttp.web.BaseRequest, t: Target, body: bytes) -> aiohttp.web.Response:
        old = self._require(t)
        patch = _parse_body(body, raw.content_type)
        if "strategic-merge" in raw.content_type and t.resource in self.custom:
            message = "the body of the request was in an unknown format - accepted media types include: "
            raise ApiError(415, message + "application/json-patch+json, application/merge-patch+json")
        self._check_version(t, old, patch)
        new = apply_patch(old, _without_version(patch), raw.content_type)
        return _json(self.commit(t, old, self._split_status(t, old, new), _dry_run(raw.query)))

    def _update(self, raw: aiohttp.web.BaseRequest, t: Target, body: bytes) -> aiohttp.web.Response:
        old = self._require(t)
        obj = _dict_body(body, raw.content_type)
        self._check_version(t, old, obj)
        return _json(self.commit(t, old, self._split_status(t, old, obj), _dry_run(raw.query, obj)))

    def _delete(self, raw: aiohttp.web.BaseRequest, t: Target, body: bytes) -> aiohttp.web.Response:
        old = self._require(t)
        opts = _parse_body(body, raw.content_type)
        opts = opts if isinstance(opts, dict) else {}
        _check_preconditions(t, old, opts.get("preconditions") or {})
        policy = opts.get("propagationPolicy") or raw.query.get("propagationPolicy")
        if opts.get("orphanDependents") or raw.query.get("orphanDependents") == "true":
            policy = "Orphan"
        headers = {}
        if policy is None and t.resource == JOBS:
            policy, headers = "Orphan", {"Warning": JOB_ORPHAN_WARNING}
        if _dry_run(raw.query, opts):
            return _json(old, headers=headers)
        final = self.delete_object(t.resource, t.namespace, t.name or "", policy or "Background")
        if t.resource == PODS or t.resource in self.custom or final.get("metadata", {}).get("deletionTimestamp"):
            return _json(final, headers=headers)  # what a real server answers: the object
        meta = final.get("metadata") or {}
        details = {"name": t.name, "group": t.resource.group, "kind": t.resource.plural, "uid": meta.get("uid")}
        success = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
        return _json(success, headers=headers)

    def _check_version(self, t: Target, old: dict[str, Any], body: Any) -> None:
        wanted = ((body.get("metadata") or {}) if isinstance(body, dict) else {}).get("resourceVersion")
        if wanted and wanted != old["metadata"].get("resourceVersion"):
            raise _conflict(t)

    def _split_status(self, t: Target, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        """A resource with a status subresource: its main endpoint does not write the status, and its
        /status endpoint writes nothing else."""
        info = self._info(t.resource)
        if not info or "status" not in info.subresources:
            return new
        if t.subresource == "status":
            return (
                {**old, "status": new["status"]} if "status" in new else {k: v for k, v in old.items() if k != "status"}
            )
        if "status" in old:
            return {**new, "status": old["status"]}
        return {k: v for k, v in new.items() if k != "status"}

    def fresh(
        self, resource: kmock.resource, namespace: str | None, name: str, obj: dict[str, Any], from_api: bool
    ) -> dict[str, Any]:
        """A new object as the server stores it: its identity, uid, timestamps and version filled in."""
        meta = dict(obj.get("metadata") or {})
        meta["name"] = name
        if namespace:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if from_api or not meta.get("uid"):
            meta["uid"] = str(uuid.uuid4())
        if from_api or not meta.get("creationTimestamp"):
            meta["creationTimestamp"] = _now()
        if from_api and "spec" in obj:
            meta["generation"] = 1
        meta["resourceVersion"] = self.next_rv()
        new = {"apiVersion": _api_version(resource), "kind": self.kind_of(resource), **obj, "metadata": meta}
        info = self._info(resource)
        if from_api and info and "status" in info.subresources:
            new.pop("status", None)  # a created object's status is the server's (then its controllers')
            if resource == PODS:
                new["status"] = {"phase": "Pending"}
        return _sync_cordon(new) if resource == NODES else new

    def commit(self, t: Target, old: dict[str, Any], new: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        """Store an update of `old`; what the server answers."""
        new = _keep_identity(old, new)
        if t.resource == NODES:
            new = _sync_cordon(new)
        if _unchanged(old, new):
            return old  # a real server neither bumps the resourceVersion nor tells the watches
        new["metadata"]["resourceVersion"] = self.next_rv()
        if dry_run:
            return new
        name = t.name or ""
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self.store(t.resource, t.namespace, name, new)
            self.remove(t.resource, t.namespace, name)
        else:
            self.store(t.resource, t.namespace, name, new)
        return new

    def delete_object(self, resource: kmock.resource, namespace: str | None, name: str, policy: str) -> dict[str, Any]:
        """Delete as the apiserver and its garbage collector do; the object's last state."""
        old = self.current(resource, namespace, name)
        if old is None:
            return {}
        meta = old["metadata"]
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp"):
                return old
            marked = {"deletionTimestamp": _now(), "deletionGracePeriodSeconds": 0, "resourceVersion": self.next_rv()}
            new = {**old, "metadata": {**meta, **marked}}
            self.store(resource, namespace, name, new)
            return new
        final = self.remove(resource, namespace, name)
        for dependent in sorted(self.owned.pop(meta.get("uid", ""), ()), key=str):
            self._collect(dependent, meta.get("uid", ""), policy)
        return final

    def _collect(self, key: tuple[kmock.resource, str | None, str], owner_uid: str, policy: str) -> None:
        resource, namespace, name = key
        obj = self.current(resource, namespace, name)
        if obj is None:
            return
        if policy != "Orphan":
            self.delete_object(resource, namespace, name, policy)
            return
        refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid]
        meta = {**obj["metadata"], "ownerReferences": refs, "resourceVersion": self.next_rv()}
        if not refs:
            del meta["ownerReferences"]
        self.store(resource, namespace, name, {**obj, "metadata": meta})

    # -- the store: every change goes through here, so that the watches see it ----------------------
    def next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def store(self, resource: kmock.resource, namespace: str | None, name: str, obj: dict[str, Any]) -> None:
        key = (resource, namespace, name)
        old = self.current(resource, namespace, name)
        if key in self._objects:
            self._objects[key].history.append(obj)
        else:
            self._objects[key] = obj
        self._index(resource, namespace, name, present=True)
        self._reown(key, old, obj)
        self.emit(resource, "ADDED" if old is None else "MODIFIED", obj)

    def remove(self, resource: kmock.resource, namespace: str | None, name: str) -> dict[str, Any]:
        key = (resource, namespace, name)
        old = self._objects[key].raw
        # a deletion is a change of its own: the DELETED event carries a new resourceVersion
        final = {**old, "metadata": {**old["metadata"], "resourceVersion": self.next_rv()}}
        self._objects[key].delete()
        self._index(resource, namespace, name, present=False)
        self._reown(key, old, None)
        self.emit(resource, "DELETED", final)
        return final

    def _index(self, resource: kmock.resource, namespace: str | None, name: str, present: bool) -> None:
        keys = self.keys.setdefault(resource, {})
        key = (namespace or "", name)
        if present != (key in keys):
            if present:
                keys[key] = None
            else:
                del keys[key]
            self.sorted_keys.pop(resource, None)

    def _reown(self, key: tuple[kmock.resource, str | None, str], old: Any, new: Any) -> None:
        for uid in _owner_uids(old):
            self.owned[uid].discard(key)
        for uid in _owner_uids(new):
            self.owned[uid].add(key)

    def emit(self, resource: kmock.resource, kind: str, obj: dict[str, Any]) -> None:
        history = self.history.setdefault(resource, collections.deque(maxlen=self.history_size))
        if len(history) == history.maxlen:
            self.horizon[resource] = history[0][0]
        history.append((int(obj["metadata"]["resourceVersion"]), kind, obj))
        for w in self.watchers:
            if w.resource == resource and not w.closed and w.wants(obj):
                w.queue.put_nowait({"type": kind, "object": obj})

    # -- watch ---------------------------------------------------------------------------------------
    async def _watch(self, raw: aiohttp.web.BaseRequest, t: Target) -> aiohttp.web.StreamResponse:
        q = raw.query
        labels, fields = label_matcher(q.get("labelSelector", "")), field_matcher(q.get("fieldSelector", ""))
        w = _Watcher(t.resource, t.namespace, t.name, labels, fields)
        # no await between the replay and the registration: no change falls in between
        backlog, live = self._start_watch(w, q.get("resourceVersion"))
        timeout = _int(q.get("timeoutSeconds"))
        deadline = asyncio.get_running_loop().time() + timeout if timeout else None
        resp = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        try:
            await resp.prepare(raw)
            for event in backlog:
                await resp.write(orjson.dumps(event) + b"\n")
            while live and (event := await self._next_event(w, deadline, raw)) is not None:
                await resp.write(orjson.dumps(event) + b"\n")
            await resp.write_eof()
        except ConnectionError:
            pass  # the client went away
        finally:
            self._unregister(w)
        return resp

    def _start_watch(self, w: _Watcher, version: str | None) -> tuple[list[dict[str, Any]], bool]:
        since = _int(version)
        if self._take_expiry(w.resource) or (since and since < self.horizon[w.resource]):
            return [self.gone_event(version)], False
        if not since:  # "", "0", none: the current state first, as ADDED
            backlog = [{"type": "ADDED", "object": obj} for _, obj in self.each(w.resource, w.namespace)]
            backlog = [e for e in backlog if w.wants(e["object"])]
        else:
            history = self.history.get(w.resource, ())
            backlog = [{"type": k, "object": o} for rv, k, o in history if rv > since and w.wants(o)]
        with self.watch_changed:
            self.watchers.add(w)
            self.watch_changed.notify_all()
        return backlog, True

    def _unregister(self, w: _Watcher) -> None:
        w.closed = True
        with self.watch_changed:
            self.watchers.discard(w)
            self.watch_changed.notify_all()

    async def _next_event(
        self, w: _Watcher, deadline: float | None, raw: aiohttp.web.BaseRequest
    ) -> dict[str, Any] | None:
        loop = asyncio.get_running_loop()
        while True:
            wait = HEARTBEAT if deadline is None else min(HEARTBEAT, deadline - loop.time())
            if wait <= 0:
                return None
            try:
                event = await asyncio.wait_for(w.queue.get(), wait)
            except TimeoutError:
                if raw.transport is None or raw.transport.is_closing():
                    return None
                continue
            return None if event is _END else event

    def _take_expiry(self, resource: kmock.resource) -> bool:
        with self.lock:
            for entry in self.expiries:
                if entry[0] is None or entry[0].check(resource):
                    entry[1] -= 1
                    if entry[1] <= 0:
                        self.expiries.remove(entry)
                    return True
        return False

    def gone_event(self, version: str | None) -> dict[str, Any]:
        message = f"too old resource version: {version or 0} ({self.rv})"
        return {"type": "ERROR", "object": status_body(410, "Expired", message)}

    def drop(self, resource: kmock.resource | None = None, gone: bool = False) -> int:
        """End the open watches (of one resource): how many."""
        dropped = 0
        for w in list(self.watchers):
            if not w.closed and (resource is None or resource.check(w.resource)):
                if gone:
                    w.queue.put_nowait(self.gone_event(None))
                w.queue.put_nowait(_END)
                w.closed = True
                dropped += 1
        return dropped

    # -- subresources --------------------------------------------------------------------------------
    def _log(self, raw: aiohttp.web.BaseRequest, t: Target, verb: str) -> aiohttp.web.Response:
        if verb != "get":
            raise ApiError(405, "the server does not allow this method on the requested resource")
        pod = self._require(t)
        q = raw.query
        container = _log_container(pod, q.get("container"))
        previous = q.get("previous") in ("true", "1")
        text = self.logs.get((t.namespace or "", t.name or "", container, previous))
        if text is None:
            text = self.logs.get((t.namespace or "", t.name or "", None, previous))
        if text is None and previous:
            raise ApiError(400, f'previous terminated container "{container}" in pod "{t.name}" not found')
        data = _tail(text or "", _int(q.get("tailLines"))).encode()
        limit = _int(q.get("limitBytes"))
        if limit is not None:
            data = data[:limit]
        return aiohttp.web.Response(body=data, headers={"Content-Type": "text/plain"})

    def _evict(self, raw: aiohttp.web.BaseRequest, t: Target, verb: str, body: bytes) -> aiohttp.web.Response:
        if verb != "create":
            raise ApiError(405, "the server does not allow this method on the requested resource")
        pod = self._require(t)
        eviction = _parse_body(body, raw.content_type)
        opts = (eviction.get("deleteOptions") if isinstance(eviction, dict) else None) or {}
        if not _terminal(pod):
            self._check_budget(pod)
        if not _dry_run(raw.query, opts):
            self.delete_object(PODS, t.namespace, t.name or "", "Background")
        return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201)

    def _check_budget(self, pod: dict[str, Any]) -> None:
        namespace, labels = pod["metadata"].get("namespace"), pod["metadata"].get("labels") or {}
        budgets = [b for _, b in self.each(PDBS, namespace) if selector_matches(_spec(b).get("selector"), labels)]
        if not budgets:
            return
        if len(budgets) > 1:
            message = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
            raise ApiError(500, message)
        budget = budgets[0]
        selector = _spec(budget).get("selector")
        healthy = sum(
            1
            for _, p in self.each(PODS, namespace)
            if selector_matches(selector, p["metadata"].get("labels") or {})
            and not _terminal(p)
            and not p["metadata"].get("deletionTimestamp")
        )
        needed = _needed(_spec(budget), healthy)
        if healthy - 1 < needed:
            name = budget["metadata"]["name"]
            cause = f"The disruption budget {name} needs {needed} healthy pods and has {healthy} currently"
            details = {"causes": [{"reason": "DisruptionBudget", "message": cause}]}
            raise ApiError(429, "Cannot evict pod as it would violate the pod's disruption budget.", details)

    def _scale(self, raw: aiohttp.web.BaseRequest, t: Target, verb: str, body: bytes) -> aiohttp.web.Response:
        old = self._require(t)
        if verb == "get":
            return _json(_scale_of(old))
        if verb == "patch":
            patch = _parse_body(body, raw.content_type)
            replicas = apply_patch(_scale_of(old), patch, raw.content_type).get("spec", {}).get("replicas")
        elif verb == "update":
            scale = _dict_body(body, raw.content_type)
            self._check_version(t, old, scale)
            replicas = (scale.get("spec") or {}).get("replicas")
        else:
            raise ApiError(405, "the server does not allow this method on the requested resource")
        new = {**old, "spec": {**(old.get("spec") or {}), "replicas": replicas}}
        main = Target(t.resource, t.namespace, t.name, None)
        return _json(_scale_of(self.commit(main, old, new, _dry_run(raw.query))))

    # -- discovery -----------------------------------------------------------------------------------
    async def _serve_version(self, request: kmock.Request) -> Any:
        doc = await super()._serve_version(request)
        doc["groupVersion"] = doc["groupVersion"].lstrip("/")  # kmock says "/v1" for the core group
        for entry in doc["resources"]:
            if "/" in entry["name"]:
                _fix_subresource(entry)
        return doc

    def _get_resources(self) -> list[kmock.resource]:
        # kmock's own walks every stored object; the index here knows which resources have some
        declared = kmock.KubernetesScaffold._get_resources(self)
        return list(set(declared) | {r for r, keys in self.keys.items() if keys})

    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        code = exc.status if isinstance(exc, kmock.KubernetesError) else 500
        message = "the server could not find the requested resource" if code == 404 else repr(exc)
        return _json(status_body(code, REASONS.get(code, "InternalError"), message), code)

    def declare_crd(self, path: str, kind: str, shortnames: list[str]) -> None:
        r = to_resource(path)
        info = kmock.ResourceInfo(
            namespaced=True,
            kind=kind,
            singular=kind.lower(),
            verbs=ALL_VERBS,
            shortnames=shortnames,
            subresources={"status"},
        )
        self.resources[r] = info
        self.custom.add(r)
        name = f"{r.plural}.{r.group}"
        self.store(CRDS, None, name, self.fresh(CRDS, None, name, _crd(r, kind, shortnames), from_api=False))


def _fault_error(f: Fault, verb: str, t: Target) -> ApiError:
    r = t.resource
    what = f'{qualified(r)} "{t.name}"' if t.name else qualified(r)
    where = f'in the namespace "{t.namespace}"' if t.namespace else "at the cluster scope"
    sub = f"/{t.subresource}" if t.subresource else ""
    messages = {
        403: f'{what} is forbidden: User "system:serviceaccount:default:emulator" cannot {verb} resource '
        f'"{r.plural}{sub}" in API group "{r.group}" {where}',
        404: f"{what} not found",
        409: f"{what} already exists" if verb == "create" else _conflict(t).message,
        429: "Too many requests, please try again later.",
        500: "Internal error occurred: the emulator was told to fail this request",
        503: "the server is currently unable to handle the request",
        504: "Timeout: request did not complete within requested timeout - context deadline exceeded",
    }
    details: dict[str, Any] = {"name": t.name, "group": r.group, "kind": r.plural} if t.name else {}
    if f.retry_after is not None:
        details["retryAfterSeconds"] = f.retry_after
    reason = "AlreadyExists" if f.status == 409 and verb == "create" else None
    error = ApiError(f.status, f.message or messages.get(f.status, f"injected {f.status}"), details, reason)
    if f.retry_after is not None:
        error.headers["Retry-After"] = str(f.retry_after)
    return error


def _name_in(body: bytes) -> str | None:
    try:
        return json.loads(body)["metadata"]["name"]
    except (ValueError, KeyError, TypeError):
        return None


def _api_version(resource: kmock.resource) -> str:
    return f"{resource.group}/{resource.version}" if resource.group else str(resource.version)


def _encode_continue(rv: int, key: tuple[str, str]) -> str:
    raw = json.dumps({"v": "emulator", "rv": rv, "start": list(key)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str | None) -> tuple[str, str] | None:
    if not token:
        return None
    try:
        ns, name = json.loads(base64.urlsafe_b64decode(token.encode()))["start"]
        return str(ns), str(name)
    except (ValueError, KeyError, TypeError) as e:
        raise ApiError(400, f"continue key is not valid: {e}") from e


def _generated(prefix: str | None) -> str | None:
    if not prefix:
        return None
    return prefix + "".join(random.choices("bcdfghjklmnpqrstvwxz2456789", k=5))


def _dry_run(query: Mapping[str, str], opts: Any = None) -> bool:
    return bool(query.get("dryRun") or (isinstance(opts, dict) and opts.get("dryRun")))


def _without_version(patch: Any) -> Any:
    if not isinstance(patch, dict) or "resourceVersion" not in (patch.get("metadata") or {}):
        return patch
    meta = {k: v for k, v in patch["metadata"].items() if k != "resourceVersion"}
    return {**patch, "metadata": meta}


def _check_preconditions(t: Target, old: dict[str, Any], pre: Mapping[str, Any]) -> None:
    meta = old["metadata"]
    for key, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        if pre.get(key) and pre[key] != meta.get(key):
            message = (
                f"Precondition failed: {label} in precondition: {pre[key]}, {label} in object meta: {meta.get(key)}"
            )
            raise ApiError(409, message, {"name": t.name, "group": t.resource.group, "kind": t.resource.plural})


def _keep_identity(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The fields a client cannot change, back as they were; generation counts changes of the spec."""
    meta = dict(new.get("metadata") or {})
    for key in (
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ):
        if key in old["metadata"]:
            meta[key] = old["metadata"][key]
        else:
            meta.pop(key, None)
    if "generation" in meta and new.get("spec") != old.get("spec"):
        meta["generation"] += 1
    return {"apiVersion": old.get("apiVersion"), "kind": old.get("kind"), **new, "metadata": meta}


def _unchanged(old: dict[str, Any], new: dict[str, Any]) -> bool:
    def bare(o: dict[str, Any]) -> dict[str, Any]:
        return {**o, "metadata": {k: v for k, v in o["metadata"].items() if k != "resourceVersion"}}

    return bare(old) == bare(new)


def _sync_cordon(node: dict[str, Any]) -> dict[str, Any]:
    """The node lifecycle controller's taint follows spec.unschedulable (at once here)."""
    spec = dict(node.get("spec") or {})
    taints = list(spec.get("taints") or [])
    has = any(t.get("key") == UNSCHEDULABLE_TAINT for t in taints)
    if spec.get("unschedulable") and not has:
        taints.append({"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule", "timeAdded": _now()})
    elif not spec.get("unschedulable") and has:
        taints = [t for t in taints if t.get("key") != UNSCHEDULABLE_TAINT]
    else:
        return node
    if taints:
        spec["taints"] = taints
    else:
        spec.pop("taints", None)
    return {**node, "spec": spec}


def _owner_uids(obj: Any) -> list[str]:
    if not obj:
        return []
    return [r["uid"] for r in (obj.get("metadata") or {}).get("ownerReferences") or [] if r.get("uid")]


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def _terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _needed(spec: Mapping[str, Any], pods: int) -> int:
    """How many healthy pods a PodDisruptionBudget wants kept, of `pods`."""
    if spec.get("minAvailable") is not None:
        return _scaled(spec["minAvailable"], pods)
    if spec.get("maxUnavailable") is not None:
        return pods - _scaled(spec["maxUnavailable"], pods)
    return 0


def _scaled(value: int | str, total: int) -> int:
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)


def _log_container(pod: Mapping[str, Any], asked: str | None) -> str | None:
    spec = _spec(pod)
    names = [c.get("name") for c in spec.get("containers") or []]
    known = names + [c.get("name") for c in spec.get("initContainers") or []]
    name = pod["metadata"]["name"]
    if asked is not None:
        if known and asked not in known:
            raise ApiError(400, f"container {asked} is not valid for pod {name}")
        return asked
    default = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    if default or len(names) <= 1:
        return default or (names[0] if names else None)
    raise ApiError(400, f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]")


def _tail(text: str, lines: int | None) -> str:
    if lines is None or lines < 0:
        return text
    return "".join(text.splitlines(keepends=True)[-lines:]) if lines else ""


def _scale_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    keep = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
    match = (_spec(obj).get("selector") or {}).get("matchLabels") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in keep if k in meta},
        "spec": {"replicas": _spec(obj).get("replicas", 1)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in match.items()),
        },
    }


def _fix_subresource(entry: dict[str, Any]) -> None:
    sub = entry["name"].split("/", 1)[1]
    entry.update(singularName="", shortNames=[], categories=[], verbs=SUBRESOURCE_VERBS.get(sub, ["get"]))
    if sub in SUBRESOURCE_KINDS:
        group, version, kind = SUBRESOURCE_KINDS[sub]
        entry.update(group=group, version=version, kind=kind)


def _crd(r: kmock.resource, kind: str, shortnames: list[str]) -> dict[str, Any]:
    """The CustomResourceDefinition a cluster serving `r` holds (schema left open)."""
    names = {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": r.plural,
        "singular": kind.lower(),
        "shortNames": shortnames,
    }
    version = {
        "name": r.version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        "subresources": {"status": {}},
    }
    spec = {"group": r.group, "names": names, "scope": "Namespaced", "versions": [version]}
    spec["conversion"] = {"strategy": "None"}
    conditions = [
        {"type": t, "status": "True", "reason": reason, "message": message, "lastTransitionTime": _now()}
        for t, reason, message in (
            ("NamesAccepted", "NoConflicts", "no conflicts found"),
            ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        )
    ]
    status = {"acceptedNames": names, "conditions": conditions, "storedVersions": [r.version]}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "spec": spec, "status": status}


# -- the harness ---------------------------------------------------------------------------------------
class KubeEmulator:
    """The emulator on a background thread, driven from synchronous code (a context manager).

    `spark` serves sparkoperator.k8s.io/v1beta2 SparkApplications, `kserve` serving.kserve.io/v1beta1
    InferenceServices (each with its CRD object), so that a backend can be tested with and without them.
    `history`: how many changes per resource a watch can resume from (older: 410 Gone)."""

    def __init__(self, *, spark: bool = True, kserve: bool = False, history: int = 1000):
        self._options = {"spark": spark, "kserve": kserve, "history": history}
        self._tmp = Path(tempfile.mkdtemp(prefix="kubeemu-"))
        self._kubeconfig: Path | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._emu: _Emulator | None = None
        self.port = 0

    # -- life ----------------------------------------------------------------------------------------
    def __enter__(self) -> KubeEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> KubeEmulator:
        if self._thread is not None:
            return self
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="kube-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(STARTUP_TIMEOUT) or self._failure is not None:
            raise RuntimeError(f"the Kubernetes emulator did not start: {self._failure!r}")
        return self

    def _run(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._serve(ready))
        except BaseException as e:  # the starting thread waits on `ready`: tell it why
            self._failure = e
        finally:
            ready.set()

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._emu = _Emulator(**self._options)  # made here: its asyncio primitives belong to this loop
        async with self._emu, kmock.Server(self._emu, host="127.0.0.1") as server:
            self.port = server.port
            ready.set()
            await self._stopping.wait()
            self._emu.drop()  # open watches end first: the server's shutdown waits for its handlers

    def close(self) -> None:
        """Stop the server and its thread (idempotent)."""
        if self._thread is None:
            return
        if self._loop is not None and self._stopping is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(STARTUP_TIMEOUT)
        self._thread = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def emulator(self) -> _Emulator:
        """The kmock handler (its `objects` keep every version of every object). Touch it only through
        `call` while the server runs."""
        assert self._emu is not None, "not started"
        return self._emu

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args) run in the server's loop (between two requests); its result."""
        assert self._loop is not None, "not started"

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(STARTUP_TIMEOUT)

    # -- clients -------------------------------------------------------------------------------------
    def kubeconfig(
        self,
        path: str | Path | None = None,
        context: str = "emu",
        namespace: str = "default",
        contexts: Mapping[str, str] | None = None,
    ) -> Path:
        """Write a kubeconfig for this server and return its path. `contexts`: more contexts ({name:
        default namespace}) on the same server, for context switching; `context` is the current one."""
        all_contexts = {context: namespace, **(contexts or {})}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "emulator", "user": {"token": "emulator-token"}}],
            "contexts": [
                {"name": name, "context": {"cluster": "emulator", "user": "emulator", "namespace": ns}}
                for name, ns in all_contexts.items()
            ],
            "current-context": context,
            "preferences": {},
        }
        target = Path(path) if path is not None else self._tmp / "kubeconfig"
        target.write_text(json.dumps(config, indent=2))  # JSON is YAML: every kubeconfig reader takes it
        self._kubeconfig = target
        return target

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run the venv's kubectl against this server (the last kubeconfig written, or a new one)."""
        exe = Path(sys.executable).parent / "kubectl"
        kubeconfig = self._kubeconfig or self.kubeconfig()
        env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        env["HOME"] = str(self._tmp)  # nothing of the developer's ~/.kube is read or written
        cmd = [
            str(exe if exe.exists() else "kubectl"),
            f"--kubeconfig={kubeconfig}",
            f"--cache-dir={self._tmp / 'cache'}",
        ]
        return subprocess.run(cmd + list(args), input=input, capture_output=True, text=True, timeout=timeout, env=env)

    # -- the store -----------------------------------------------------------------------------------
    def put(self, api_path: str, namespace: str | None, name: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Store (create or replace) an object as the server would hold it: a new resourceVersion, a uid
        and creationTimestamp if it has none. Watches see ADDED or MODIFIED. Returns what is stored."""
        r = to_resource(api_path)
        data = _copy(dict(obj))

        def put() -> dict[str, Any]:
            new = self.emulator.fresh(r, namespace, name, data, from_api=False)
            self.emulator.store(r, namespace, name, new)
            return _copy(new)

        return self.call(put)

    def add(self, *objs: Mapping[str, Any]) -> None:
        """Store objects (the builders' dicts), their resource told by apiVersion and kind: one trip to
        the server's thread. From FREEZE_AT objects on, everything alive is then gc.freeze()d."""

        def add(data: list[dict[str, Any]]) -> None:
            emu = self.emulator
            for obj in data:
                r = emu.resource_of(obj)
                ns, name = (obj.get("metadata") or {}).get("namespace"), obj["metadata"]["name"]
                emu.store(r, ns, name, emu.fresh(r, ns, name, obj, from_api=False))

        with _gc_paused():
            self.call(add, _copy(list(objs)))
            if len(objs) >= FREEZE_AT:
                # what was stored lives as long as the emulator: out of the collector's reach, a later
                # collection no longer walks it (it is still freed by reference counting: JSON has no cycles)
                gc.freeze()

    def patch(self, api_path: str, namespace: str | None, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Merge-patch a stored object (as a controller or the kubelet would write it); watches see it."""
        r = to_resource(api_path)
        data = _copy(dict(changes))

        def patch() -> dict[str, Any]:
            old = self.emulator.current(r, namespace, name)
            if old is None:
                raise KeyError(f"{api_path} {namespace}/{name}: not stored")
            return _copy(self.emulator.commit(Target(r, namespace, name, None), old, merge_patch(old, data)))

        return self.call(patch)

    def get(self, api_path: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        r = to_resource(api_path)
        return self.call(lambda: _copy(self.emulator.current(r, namespace, name)))

    def delete(self, api_path: str, namespace: str | None, name: str) -> bool:
        """Delete a stored object (at once, finalizers or not); watches see DELETED. False if absent."""
        r = to_resource(api_path)

        def delete() -> bool:
            if self.emulator.current(r, namespace, name) is None:
                return False
            self.emulator.remove(r, namespace, name)
            return True

        return self.call(delete)

    def objects(self, api_path: str | None = None) -> dict[tuple[str, str | None, str], dict[str, Any]]:
        """{(api_path, namespace, name): object} of what is stored now (of one resource)."""
        wanted = to_resource(api_path) if api_path else None

        def objects() -> list[tuple[str, str | None, str, dict[str, Any]]]:
            emu = self.emulator
            rs = [r for r in emu.keys if wanted is None or wanted == r]
            return [(path_of(r), ns or None, name, obj) for r in rs for (ns, name), obj in emu.each(r)]

        with _gc_paused():
            found = _copy(self.call(objects))  # copied here: the stored versions are never changed in place
        return {(r, ns, name): obj for r, ns, name, obj in found}

    def set_log(
        self, namespace: str, pod: str, text: str, container: str | None = None, previous: bool = False
    ) -> None:
        """What GET pods/POD/log answers (for one container, or any; `previous`: ?previous=true)."""
        self.call(self.emulator.logs.__setitem__, (namespace, pod, container, previous), text)

    # -- faults --------------------------------------------------------------------------------------
    def fail(
        self,
        verb: str,
        api_path: str,
        name: str | None = None,
        status: int = 500,
        times: int | None = 1,
        retry_after: int | None = None,
        *,
        namespace: str | None = None,
        subresource: str | None = None,
        message: str | None = None,
    ) -> Fault:
        """The next `times` requests (None: every one) with this RBAC verb (get, list, watch, create,
        update, patch, delete; "*" any) on this resource ("v1/nodes"; "nodes" for any group) get
        `status` and a Status body, and change nothing. `subresource`: e.g. "eviction", "log", "status"
        (None: the resource itself). `retry_after` adds the Retry-After header. The Fault counts hits."""
        fault = Fault(verb, kmock.resource(api_path), name, namespace, subresource, status, times, retry_after, message)
        with self.emulator.lock:
            self.emulator.faults.append(fault)
        return fault

    def stall(
        self, verb: str, api_path: str, name: str | None = None, seconds: float = 1.0, times: int | None = 1
    ) -> Fault:
        """The next `times` matching requests are served only after `seconds`: a server too slow for the
        client's timeout, whose writes still take effect (the client cannot know)."""
        fault = Fault(verb, kmock.resource(api_path), name, None, None, 0, times, delay=seconds)
        with self.emulator.lock:
            self.emulator.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.emulator.lock:
            self.emulator.faults.clear()
            self.emulator.expiries.clear()

    def expire_watches(self, api_path: str | None = None, times: int = 1) -> None:
        """The next `times` watch requests (of a resource) answer as for a too old resourceVersion: one
        ERROR event with a 410 Status, then the end. (The official client retries once on its own.)"""
        with self.emulator.lock:
            self.emulator.expiries.append([kmock.resource(api_path) if api_path else None, times])

    def drop_watches(self, api_path: str | None = None, gone: bool = False) -> int:
        """End the open watch streams (of a resource), as an apiserver restart would; `gone`: with an
        ERROR 410 event first. How many were ended."""
        r = kmock.resource(api_path) if api_path else None
        return self.call(self.emulator.drop, r, gone)

    def wait_watching(self, api_path: str | None = None, count: int = 1, timeout: float = 10.0) -> None:
        """Block until `count` watches (of a resource) are open: a change made after this is seen live."""
        r = kmock.resource(api_path) if api_path else None
        emu = self.emulator
        with emu.watch_changed:
            if not emu.watch_changed.wait_for(lambda: _open_watches(emu, r) >= count, timeout):
                raise TimeoutError(f"{count} watch(es) of {api_path or 'anything'} not open in {timeout}s")

    # -- what happened -------------------------------------------------------------------------------
    def requests(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        """(method, path, query) of the requests received, oldest first (of one method, path)."""
        with self.emulator.lock:
            seen = [s for s, _ in self.emulator.seen]
        return [s for s in seen if method in (None, s.method) and path in (None, s.path)]

    def bodies(self, method: str, path: str) -> list[Any]:
        """The JSON bodies of the requests with this method and path (None where not JSON)."""
        with self.emulator.lock:
            raw = [b for s, b in self.emulator.seen if s.method == method and s.path == path]
        out = []
        for body in raw:
            try:
                out.append(json.loads(body) if body else None)
            except ValueError:
                out.append(None)
        return out

    def clear_requests(self) -> None:
        with self.emulator.lock:
            self.emulator.seen.clear()

    def errors(self) -> list[str]:
        """Tracebacks of the emulator's own failures (answered 500): empty unless this module has a bug."""
        return list(self.emulator.failures)


def _open_watches(emu: _Emulator, r: kmock.resource | None) -> int:
    # called with emu.watch_changed held
    return sum(1 for w in emu.watchers if not w.closed and (r is None or r.check(w.resource)))


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Without the cyclic collector: bulk loads make few cycles, but each collection walks every object
    stored so far (a hundred thousand pods load ten times faster)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _copy(obj: Any) -> Any:
    """A deep copy of JSON data (ten times faster than copy.deepcopy)."""
    return orjson.loads(orjson.dumps(obj))
