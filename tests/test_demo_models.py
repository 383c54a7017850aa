"""The demo estate's own models (core.lifecycle.demo): trained once per machine and kept in the cache; a
cached artifact whose bytes are not the recorded sha256 is trained again, never used."""

from __future__ import annotations

import hashlib
import json

from core.lifecycle import demo


def test_a_cached_demo_model_is_reused_and_a_changed_one_trained_again(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_CONSOLE_CACHE", str(tmp_path / "cache"))
    trainings = []

    def fake_train(model, seed, out):  # what _train leaves, without torch: an artifact and its record
        trainings.append((model, seed))
        blob = f"weights of {model} #{len(trainings)}".encode()
        (out / demo.ARTIFACT).write_bytes(blob)
        record = {k: {} for k in ("params", "metrics", "environment")}
        record |= {
            "sha256": hashlib.sha256(blob).hexdigest(),
            "framework": "f",
            "data_digest": "d",
            "code_version": None,
        }
        (out / demo.RECORD).write_text(json.dumps(record))
        return record

    monkeypatch.setattr(demo, "_train", fake_train)
    path, first = demo.trained("cancer-mlp")
    again, second = demo.trained("cancer-mlp")
    assert trainings == [("cancer-mlp", 0)] and (again, second) == (path, first)
    path.write_bytes(path.read_bytes() + b"!")  # cut, changed or replaced in the cache
    _, third = demo.trained("cancer-mlp")
    assert trainings == [("cancer-mlp", 0), ("cancer-mlp", 0)]
    assert third["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() != first["sha256"]
    demo.trained("cancer-mlp", seed=1)  # another seed is another model
    assert trainings[-1] == ("cancer-mlp", 1)
