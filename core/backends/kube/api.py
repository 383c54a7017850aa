"""The Kubernetes API as JSON, through the official client's ApiClient (its kubeconfig auth, TLS and exec
plugins) but not its models: a listing of 100,000 pods is parsed as plain dicts, not validated objects.

Every answer the console cannot use becomes one of core/errors' errors with a one-line message: 403 says
which verb on which resource in which namespace is missing; 404, 409 and 429 are NotFound, Conflict and
TooManyRequests; 5xx, 429 from the API's own flow control, timeouts and dropped connections are retried
with backoff and jitter, then reported. Every write the console sends is idempotent (merge patches of
absolute values, creates of a name chosen beforehand, evictions where 404 means done), so a retry never
applies a change twice."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

from kubernetes.client.exceptions import ApiException

from core.backends.kube.connection import Connection
from core.errors import ClusterError, Conflict, Forbidden, NotFound, TooManyRequests

MERGE_PATCH = "application/merge-patch+json"
RETRIED = {429, 500, 502, 503, 504}


class Expired(ClusterError):
    """410 Gone: a watch's resourceVersion is older than the server keeps; list again."""


class Api:
    def __init__(
        self,
        conn: Connection,
        attempts: int = 5,
        backoff: float = 0.2,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.conn, self.client = conn, conn.api
        self.attempts, self.backoff, self.timeout, self.sleep = attempts, backoff, timeout, sleep
        self.on_outcome: Callable[[str | None], None] = lambda problem: None  # the TUI's banner
        self.last_version = ""  # the resourceVersion of the last list read (`pages`)

    # -- verbs -----------------------------------------------------------------------------------------
    def get(self, path: str, **query: Any) -> dict[str, Any]:
        return _object(self._call("GET", path, query))

    def text(self, path: str, **query: Any) -> str:
        return self._call("GET", path, query, accept="text/plain").decode("utf-8", errors="replace")

    def pages(self, path: str, limit: int = 500, **query: Any) -> Iterator[list[dict[str, Any]]]:
        """A list, `limit` items a request (`continue` tokens), as pages; the list's resourceVersion is
        left in `self.last_version` (for a watch to start from)."""
        token = None
        while True:
            q = {**query, "limit": limit, **({"continue": token} if token else {})}
            body = json.loads(self._call("GET", path, q))
            self.last_version = (body.get("metadata") or {}).get("resourceVersion", "")
            yield body.get("items") or []
            token = (body.get("metadata") or {}).get("continue")
            if not token:
                return

    def items(self, path: str, limit: int = 500, **query: Any) -> Iterator[dict[str, Any]]:
        for page in self.pages(path, limit, **query):
            yield from page

    def patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return _object(self._call("PATCH", path, {}, body, MERGE_PATCH))

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return _object(self._call("POST", path, {}, body))

    def delete(self, path: str, **query: Any) -> None:
        self._call("DELETE", path, query)

    def watch(self, path: str, version: str, timeout_seconds: int = 240) -> Iterator[dict[str, Any]]:
        """A watch from `version`, opened now (raising what `_call` raises when it cannot be; Expired for
        410): its events (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) as dicts, until the server ends it."""
        from kubernetes.watch.watch import iter_resp_lines

        query = {
            "watch": "true",
            "resourceVersion": version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": timeout_seconds,
        }
        method, url, hdrs, _, _ = self.client.param_serialize(
            "GET",
            path,
            query_params=list(query.items()),
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        # the read timeout a little past the server's own end of the watch: a stream gone silent is dead
        resp = self.client.call_api(method, url, header_params=hdrs, _request_timeout=(10, timeout_seconds + 30))
        if resp.status == 410:
            raise Expired(_message(resp.read()) or "410 Gone")
        if resp.status >= 300:
            raise _error(resp.status, _message(resp.read()) or f"HTTP {resp.status}", "GET", path)

        def events() -> Iterator[dict[str, Any]]:
            try:
                for line in iter_resp_lines(resp.response):  # type: ignore[no-untyped-call]
                    if line:
                        yield json.loads(line)
            finally:
                resp.response.release_conn()

        return events()

    # -- the one way out -------------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        query: dict[str, Any],
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> bytes:
        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type
        problem = ""
        wait_at_least = 0.0  # what the server's Retry-After asked for (capped)
        for attempt in range(self.attempts):
            if attempt:
                # full jitter: many consoles retrying after one outage do not come back in step
                self.sleep(max(wait_at_least, random.uniform(0, min(5.0, self.backoff * 2**attempt))))
                wait_at_least = 0.0
            try:
                method_, url, hdrs, payload, _ = self.client.param_serialize(
                    method,
                    path,
                    query_params=[(k, v) for k, v in query.items() if v is not None],
                    header_params=dict(headers),
                    body=body,
                    auth_settings=["BearerToken"],
                )
                resp = self.client.call_api(
                    method_, url, header_params=hdrs, body=payload, _request_timeout=self.timeout
                )
                data = bytes(resp.read())
                status, answer_headers = int(resp.status), resp.headers
            except ApiException as e:  # an answer the client raised on rather than returned
                status, data, answer_headers = int(e.status or 0), str(e.body or "").encode(), e.headers
            except Exception as e:  # connection refused, reset, timed out: the API is unreachable now
                problem = f"{self.conn.context}: cannot reach {self.client.configuration.host}: {_unreachable(e)}"
                continue
            if status < 300:
                self.on_outcome(None)
                return data
            message = _message(data) or f"HTTP {status}"
            if status in RETRIED and not (status == 429 and path.endswith("/eviction")):
                problem = f"{self.conn.context}: {method} {path}: {status} {message}"
                wait_at_least = _retry_after(answer_headers)
                continue
            self.on_outcome(None)
            raise _error(status, message, method, path)
        self.on_outcome(problem)
        raise ClusterError(f"{problem} (gave up after {self.attempts} attempts)")


def _unreachable(e: Exception) -> str:
    """Why a request got no answer, in the words of its root cause: urllib3 wraps the OS error (refused,
    no such host, timed out) in layers of its own whose text is mostly the URL again."""
    cause: BaseException = getattr(e, "reason", None) or e
    text = str(cause).strip()
    if isinstance(cause, TimeoutError) or "timed out" in text.lower():
        return "timed out"
    # "<urllib3 ...HTTPConnection object at 0x..>: Failed to establish a new connection: [Errno 111] ..."
    return (text.rsplit(": ", 1)[-1] if ": " in text else text)[:200] or type(cause).__name__


def _retry_after(headers: Any) -> float:
    """Seconds a Retry-After header asks to wait (the seconds form; at most 10)."""
    try:
        return min(10.0, float((headers or {}).get("Retry-After") or 0))
    except (TypeError, ValueError):
        return 0.0


def _object(data: bytes) -> dict[str, Any]:
    value = json.loads(data)
    return value if isinstance(value, dict) else {}


def _message(data: bytes) -> str:
    try:
        return str(json.loads(data).get("message") or "")
    except (ValueError, AttributeError):
        return data.decode("utf-8", errors="replace")[:200]


def _error(status: int, message: str, method: str, path: str) -> Exception:
    verb, resource, namespace = describe(method, path)
    if status == 403:
        where = f" in namespace {namespace}" if namespace else " (cluster-wide)"
        return Forbidden(f"forbidden: needs {verb} on {resource}{where} ({message})")
    if status == 404:
        return NotFound(f"{resource} {path.rsplit('/', 1)[-1]}: not found ({message})")
    if status == 409:
        return Conflict(f"{verb} {resource}: conflict: {message}")
    if status == 429:
        return TooManyRequests(message)
    return ClusterError(f"{verb} {resource}: {status}: {message}")


def describe(method: str, path: str) -> tuple[str, str, str]:
    """The RBAC verb, resource (with its subresource) and namespace of a request, e.g. ("create",
    "pods/eviction", "jobs") for POST /api/v1/namespaces/jobs/pods/p/eviction."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    parts = parts[2:] if parts[:1] == ["api"] else parts[3:]  # /api/v1/… or /apis/GROUP/VERSION/…
    namespace = ""
    if parts[:1] == ["namespaces"] and len(parts) > 2:
        namespace, parts = parts[1], parts[2:]
    resource = parts[0] if parts else ""
    named = len(parts) > 1
    if len(parts) > 2:
        resource += "/" + parts[2]
    verb = {"GET": "get" if named else "list", "PATCH": "patch", "POST": "create", "DELETE": "delete", "PUT": "update"}[
        method
    ]
    if resource.endswith("/eviction") or resource.endswith("/log"):
        verb = "create" if method == "POST" else "get"
    return verb, resource, namespace


def ns_path(prefix: str, resource: str, namespace: str | None, name: str | None = None) -> str:
    """/api/v1/namespaces/NS/pods/NAME, or /api/v1/pods across namespaces (namespace None)."""
    path = prefix + (f"/namespaces/{quote(namespace, safe='')}" if namespace else "") + f"/{resource}"
    return path + (f"/{quote(name, safe='')}" if name else "")
