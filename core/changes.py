"""Audited changes to cluster objects, their rollback, and recovery after a crash.

Every change is `Changes.apply`: snapshot the object, write the intent, make the change, write the
outcome with the new snapshot. A rollback writes the `before` snapshot back — itself a change, linked to
the original by annotation — and refuses when the object is no longer what the change left
(someone changed it since), unless forced.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core import validation
from core.audit import WRITER, AlreadySettled, AuditLog, writer_alive
from core.cluster import SNAPSHOT_RESOURCES, Cluster
from core.errors import BadInput, ClusterError, Conflict, NotFound, TooManyRequests

Snapshot = Callable[[str, str | None], Any]
Restore = Callable[[str, Any, str | None], None]


@dataclass
class DrainOptions:
    grace_seconds: int = 30
    ignore_daemonsets: bool = False
    delete_emptydir_data: bool = False
    timeout_seconds: float = 120.0
    backoff_seconds: float = 0.5  # first wait after a 429; doubles, capped at 8 s


def _handlers(cluster: Cluster, r: str) -> tuple[Snapshot, Restore]:
    """The cluster's snapshot and restore of one kind of resource."""

    def snapshot(name: str, ns: str | None) -> Any:
        return cluster.snapshot(r, name, ns)

    def restore(name: str, snap: Any, ns: str | None) -> None:
        cluster.restore(r, name, snap, ns)

    return snapshot, restore


class Changes:
    def __init__(self, cluster: Cluster, audit: AuditLog):
        self.cluster = cluster
        self.audit = audit
        # resource -> (snapshot, restore); the cluster's objects, plus any the engine registers (rules)
        self.handlers: dict[str, tuple[Snapshot, Restore | None]] = {
            r: _handlers(cluster, r) for r in SNAPSHOT_RESOURCES
        }

    def register(self, resource: str, snapshot: Snapshot, restore: Restore | None) -> None:
        """`restore` None: changes to it are audited and recovered, but cannot be rolled back."""
        self.handlers[resource] = (snapshot, restore)

    def snapshot(self, resource: str, name: str, namespace: str | None = None) -> Any:
        return self.handlers[resource][0](name, namespace)

    # -- the one path ----------------------------------------------------------------------------
    def apply(
        self,
        *,
        verb: str,
        user: str,
        resource: str,
        name: str,
        change: Callable[[], Any],
        namespace: str | None = None,
        annotations: dict[str, Any] | None = None,
    ) -> Any:
        ref = {"resource": resource, "name": name} | ({"namespace": namespace} if namespace else {})
        before = self.snapshot(resource, name, namespace)
        return self.audit.change(
            verb=verb,
            user=user,
            object_ref=ref,
            before=before,
            apply=change,
            after=lambda: self.snapshot(resource, name, namespace),
            annotations=annotations,
        )

    # -- deployments ---------------------------------------------------------------------------------
    def scale(self, deployment: str, replicas: int, user: str, **notes: Any) -> None:
        if replicas < 0:
            raise BadInput(f"replicas must not be negative, got {replicas}")
        self.apply(
            verb="scale",
            user=user,
            resource="deployment",
            name=deployment,
            change=lambda: self.cluster.scale_deployment(deployment, replicas),
            annotations={**notes, "replicas": replicas},
        )

    # -- nodes -------------------------------------------------------------------------------------
    def cordon(self, node: str, user: str, on: bool = True, **notes: Any) -> bool:
        """Mark (un)schedulable, as `kubectl cordon` does: the flag and its taint. False when already so."""
        n = self.cluster.get_node(node)
        if n.unschedulable == on:
            return False
        taints = [t for t in n.taints if t["key"] != "node.kubernetes.io/unschedulable"]
        if on:
            taints.append({"key": "node.kubernetes.io/unschedulable", "value": "", "effect": "NoSchedule"})
        self.apply(
            verb="cordon" if on else "uncordon",
            user=user,
            resource="node",
            name=node,
            change=lambda: self.cluster.patch_node(node, unschedulable=on, taints=taints),
            annotations=notes,
        )
        return True

    def label(self, node: str, user: str, set_: dict[str, str], remove: list[str], **notes: Any) -> None:
        labels = dict(self.cluster.get_node(node).labels)
        missing = [k for k in remove if k not in labels]
        if missing:
            raise BadInput(f"node {node}: label {missing[0]!r} not found")
        for k in remove:
            labels.pop(k)
        labels.update(set_)
        self.apply(
            verb="label",
            user=user,
            resource="node",
            name=node,
            change=lambda: self.cluster.patch_node(node, labels=labels),
            annotations=notes,
        )

    def taint(
        self, node: str, user: str, add: list[dict[str, str]], remove: list[tuple[str, str | None]], **notes: Any
    ) -> None:
        taints = list(self.cluster.get_node(node).taints)
        for key, effect in remove:
            keep = [t for t in taints if not (t["key"] == key and (effect is None or t["effect"] == effect))]
            if len(keep) == len(taints):
                raise BadInput(f"node {node}: taint {key}{':' + effect if effect else ''} not found")
            taints = keep
        for t in add:  # same key and effect: replaced, as kubectl does
            taints = [x for x in taints if not (x["key"] == t["key"] and x["effect"] == t["effect"])] + [t]
        self.apply(
            verb="taint",
            user=user,
            resource="node",
            name=node,
            change=lambda: self.cluster.patch_node(node, taints=taints),
            annotations=notes,
        )

    def drain(
        self, node: str, user: str, opts: DrainOptions, progress: Callable[[str], None] = lambda m: None, **notes: Any
    ) -> dict[str, Any]:
        """Cordon, then evict every pod through the Eviction API (429 → back off and retry) until the node
        is empty or the timeout passes. Each eviction is an audited change of its own."""
        self.cordon(node, user, **notes)
        # a mirror (static) pod is the kubelet's, from a file on the node: the API cannot evict it (kubectl
        # drain leaves it too)
        # A finished pod (Succeeded, Failed) holds nothing on the node, and a failed one carries what its
        # triage reads (termination, log): it is left, where kubectl drain would delete it.
        pods = [
            p
            for p in self.cluster.list_pods(node)
            if not p.owner.startswith("Node/") and p.phase not in ("Succeeded", "Failed")
        ]
        blockers = []
        if not opts.ignore_daemonsets:
            blockers += [p for p in pods if p.owner.startswith("DaemonSet/")]
        if blockers:
            raise BadInput(
                f"node {node}: cannot delete DaemonSet-managed pods ({_some(blockers)}): allow it with "
                "--ignore-daemonsets (the node stays cordoned)"
            )
        local = [p for p in pods if p.emptydir]
        if local and not opts.delete_emptydir_data:
            raise BadInput(
                f"node {node}: cannot delete pods with local storage ({_some(local)}): allow it with "
                "--delete-emptydir-data (the node stays cordoned)"
            )
        todo = [p for p in pods if not p.owner.startswith("DaemonSet/")]
        deadline = time.monotonic() + opts.timeout_seconds
        evicted, retries = [], 0
        while todo:
            waits = []
            for p in list(todo):
                try:
                    self.apply(
                        verb="evict",
                        user=user,
                        resource="pod",
                        name=p.name,
                        namespace=p.namespace,
                        change=functools.partial(self.cluster.evict, p.namespace, p.name, opts.grace_seconds),
                        annotations={**notes, "drain": node, "grace_seconds": opts.grace_seconds},
                    )
                    todo.remove(p)
                    evicted.append(f"{p.namespace}/{p.name}")
                    progress(f"evicted {p.namespace}/{p.name}")
                except TooManyRequests as e:
                    waits.append(str(e))
            if not todo:
                break
            retries += 1
            wait = min(8.0, opts.backoff_seconds * 2 ** (retries - 1))
            if time.monotonic() + wait > deadline:
                raise ClusterError(
                    f"drain {node}: timed out after {opts.timeout_seconds:g}s with {len(todo)} pod(s) left "
                    f"({_some(todo)}: {waits[0] if waits else 'evictions pending'}); the node stays cordoned"
                )
            progress(f"{len(todo)} pod(s) blocked by disruption budgets; retrying in {wait:g}s")
            time.sleep(wait)
        return {"node": node, "evicted": evicted, "retries": retries}

    # -- rollback and recovery ------------------------------------------------------------------------
    def rollback(self, key: str, user: str, force: bool = False) -> dict[str, Any]:
        events = self.audit.get(key)
        if not events:
            raise NotFound(f"no audit event {key!r} (give a seq or an auditID)")
        done = next((e for e in events if e.stage == "ResponseComplete"), None)
        if done is None:
            stage = events[-1].stage
            raise Conflict(f"change {events[0].audit_id} has no completed outcome ({stage}): nothing to roll back")
        ref = done.object_ref
        resource, name, ns = ref["resource"], ref["name"], ref.get("namespace")
        restore = self.handlers[resource][1] if resource in self.handlers else None
        if restore is None:
            raise BadInput(
                f"changes to {resource!r} cannot be rolled back"
                + (": a submitted retry runs on its own; stop it on the cluster" if resource == "run" else "")
            )
        current = self.snapshot(resource, name, ns)
        if current != done.after and not force:
            raise Conflict(
                f"{resource} {name} has changed since change {done.audit_id[:8]} (seq {done.seq}): "
                f"{_first_difference(done.after, current)}; rollback would undo that too (use --force)"
            )
        self.apply(
            verb="rollback",
            user=user,
            resource=resource,
            name=name,
            namespace=ns,
            change=lambda: restore(name, done.before, ns),
            annotations={"rollback_of": done.audit_id, "rolled_back_verb": done.verb, "forced": force},
        )
        return {"rolled_back": done.audit_id, "resource": resource, "name": name, "restored": done.before}

    def recover(self) -> list[dict[str, Any]]:
        """Settle intents left without an outcome by a process that died: applied, or not. An intent whose
        writer is still running is its writer's to finish."""
        settled = []
        pending = self.audit.pending()
        if pending and not self.audit.head_ok():
            return []  # a tampered trail is not written to; `audit verify` names the problem
        for intent in pending:
            ref = intent.object_ref
            resource, name, ns = ref["resource"], ref["name"], ref.get("namespace")
            if resource not in self.handlers or writer_alive(intent.annotations.get(WRITER)):
                continue
            try:
                current = self.snapshot(resource, name, ns)
            except (NotFound, ClusterError):
                current = None
            applied = current != intent.before
            try:
                self.audit.settle(intent, applied, current)
            except AlreadySettled:
                continue  # another process settled it first
            settled.append({"audit_id": intent.audit_id, "applied": applied})
        return settled


def _first_difference(expected: Any, current: Any, path: str = "") -> str:
    if isinstance(expected, dict) and isinstance(current, dict):
        for k in sorted(set(expected) | set(current)):
            if expected.get(k) != current.get(k):
                return _first_difference(expected.get(k), current.get(k), f"{path}.{k}" if path else k)
    return f"{path or 'object'} is {current!r}, the change left {expected!r}"


def parse_labels(changes: list[str]) -> tuple[dict[str, str], list[str]]:
    """kubectl's key=value and key- words, keys and values checked as the API server checks them."""
    set_, remove = {}, []
    for c in changes:
        what = f"label {c!r}"
        if c.endswith("-") and "=" not in c:
            remove.append(validation.label_key(c[:-1], what))
        elif "=" in c and c.split("=", 1)[0]:
            k, v = c.split("=", 1)
            set_[validation.label_key(k, what)] = validation.label_value(v, what)
        else:
            raise BadInput(f"label {c!r}: expected key=value or key-")
    return set_, remove


def parse_taints(changes: list[str]) -> tuple[list[dict[str, str]], list[tuple[str, str | None]]]:
    """kubectl's key=value:Effect, key:Effect, key- and key:Effect- words; a taint's key and value follow the
    rules of a label's."""
    add, remove = [], []
    effects = validation.TAINT_EFFECTS
    for c in changes:
        what = f"taint {c!r}"
        if c.endswith("-"):
            key, _, effect = c[:-1].partition(":")
            validation.label_key(key, what)
            if effect:
                validation.taint_effect(effect, what)
            remove.append((key, effect or None))
            continue
        kv, sep, effect = c.rpartition(":")
        if not sep or not kv:
            raise BadInput(f"taint {c!r}: expected key=value:Effect (Effect one of {', '.join(effects)}) or key-")
        validation.taint_effect(effect, what)
        key, _, value = kv.partition("=")
        add.append(
            {"key": validation.label_key(key, what), "value": validation.label_value(value, what), "effect": effect}
        )
    return add, remove


def _some(pods: list[Any]) -> str:
    """namespace/name of the first pods, and how many more."""
    names = [f"{p.namespace}/{p.name}" for p in pods[:3]]
    return ", ".join(names) + (f" and {len(pods) - 3} more" if len(pods) > 3 else "")
