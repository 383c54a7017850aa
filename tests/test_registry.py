"""The model registry: a version, its number and its audit record are written together or not at all."""

from __future__ import annotations

import threading

import pytest

from core.audit import AuditLog, AuditTampered
from core.registry import Registry
from core.store import Store

VERSION = dict(
    framework="torch-mlp", sha256="0" * 64, params={}, metrics={}, data_digest="d", created_at="2026-11-20T12:00:00Z"
)


def test_a_registration_and_its_audit_record_are_one_transaction(tmp_path):
    store = Store(tmp_path)
    registry = Registry(store, AuditLog(store))
    mv = registry.register("m", user="dana", **VERSION)
    [event] = registry.audit.list()
    assert (mv.version, event.verb, event.user, event.after["version"]) == (1, "register", "dana", 1)
    # the trail's newest record removed: the audit path refuses, and no version is left without its record
    store.conn.execute("DELETE FROM audit WHERE seq = 1")
    with pytest.raises(AuditTampered):
        registry.register("m", user="dana", **VERSION)
    assert [m.version for m in registry.list("m")] == [1]
    store.close()


def test_registrations_at_once_get_distinct_numbers_each_with_its_record(tmp_path):
    Store(tmp_path).close()
    barrier = threading.Barrier(4)
    got: list[int] = []
    errors: list[BaseException] = []

    def register() -> None:
        store = Store(tmp_path)  # a connection of its own, as another process has
        try:
            barrier.wait()
            got.append(Registry(store, AuditLog(store)).register("m", user="u", **VERSION).version)
        except BaseException as e:
            errors.append(e)
        finally:
            store.close()

    threads = [threading.Thread(target=register) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sorted(got) == [1, 2, 3, 4]
    store = Store(tmp_path)
    assert sorted(e.after["version"] for e in AuditLog(store).list()) == [1, 2, 3, 4]
    assert AuditLog(store).verify().ok
    store.close()
