"""The demo estate's own models: the version its deployments serve of each demo model, trained as
`models train NAME --seed 0` trains it, so that the console holds what the estate serves and a new version
can be gated against it and rolled out in its place.

Training is deterministic, so it is done once per machine and kept in the cache (core.cache), keyed by what
decides it: the model, its params, the seed, the versions of torch, scikit-learn and numpy, and the code
that trains. A cached artifact is used only when its sha256 is the one recorded beside it; reading the
cache imports neither torch nor scikit-learn, so a new demo estate starts as fast as before."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from core.cache import cache_dir

RECORD, ARTIFACT = "record.json", "model.pt"
# the code whose change changes what a training makes
_SOURCES = ("nets.py", "train.py", "data.py", "demo.py", "provenance.py", "../artifacts.py")
#: what a record must hold to be used (ModelService reads each)
_KEYS = ("sha256", "framework", "params", "metrics", "data_digest", "environment", "code_version")


def trained(model: str, seed: int = 0) -> tuple[Path, dict[str, Any]]:
    """(the artifact, its record: sha256, framework, params, metrics, data_digest, environment,
    code_version) of `model` trained with its default params and `seed`: the cache's, else trained now."""
    where = cache_dir() / "models" / f"{model}-{_key(model, seed)}"
    found = _read(where)
    if found is not None:
        return where / ARTIFACT, found
    with _lock(where):  # one process trains, the others wait for its result rather than train too
        return _trained_under_lock(model, seed, where)


@contextlib.contextmanager
def _lock(where: Path) -> Iterator[None]:
    import fcntl

    try:
        where.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the user's own: what it holds is trusted
        f = open(where.with_name(where.name + ".lock"), "a")  # noqa: SIM115 (held for the block)
    except OSError:  # a cache that cannot be written: no lock to take
        yield
        return
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX)
        except OSError:  # a file system without locks (some NFS): two processes may both train, no harm
            pass
        yield


def _trained_under_lock(model: str, seed: int, where: Path) -> tuple[Path, dict[str, Any]]:
    found = _read(where)
    if found is not None:
        return where / ARTIFACT, found
    staging = where.with_name(f".{where.name}-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    try:
        staging.mkdir(parents=True)
    except OSError:  # a cache that cannot be written: trained for this start only
        staging = Path(tempfile.mkdtemp(prefix=f"mlops-console-{model}-"))
        return staging / ARTIFACT, _train(model, seed, staging)
    record = _train(model, seed, staging)
    for _ in range(2):
        try:
            staging.rename(where)  # whole or not at all
            return where / ARTIFACT, record
        except OSError:
            found = _read(where)
            if found is not None:  # another process put its own first
                shutil.rmtree(staging, ignore_errors=True)
                return where / ARTIFACT, found
            shutil.rmtree(where, ignore_errors=True)  # a damaged entry: this training takes its place
    return staging / ARTIFACT, record  # (the cache would not take it: used from where it was made)


def _key(model: str, seed: int) -> str:
    from core.lifecycle import nets

    here = Path(__file__).parent
    parts: list[Any] = [model, nets.spec(model).defaults, seed]
    for dist in ("torch", "scikit-learn", "numpy"):
        try:
            parts.append(version(dist))
        except PackageNotFoundError:
            parts.append(None)
    parts += [hashlib.sha256((here / s).read_bytes()).hexdigest() for s in _SOURCES]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _read(where: Path) -> dict[str, Any] | None:
    try:
        record: dict[str, Any] = json.loads((where / RECORD).read_text())
        if (
            all(k in record for k in _KEYS)
            and hashlib.sha256((where / ARTIFACT).read_bytes()).hexdigest() == record["sha256"]
        ):
            return record
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None  # none, cut short or changed: trained again


def _train(model: str, seed: int, out: Path) -> dict[str, Any]:
    from core import artifacts
    from core.lifecycle import data, nets, provenance, train

    spec = nets.spec(model)
    chosen = train.params_for(spec, {})
    d = data.bundled(spec.dataset)
    fitted, metrics = train.fit(spec, d, chosen, seed, device="cpu")
    metrics["data_validation"] = {"passed": True, "problems": [], "reference": None}
    tensors, meta = fitted.to_artifact()
    sha256 = artifacts.save(out / ARTIFACT, tensors, meta)
    record = {
        "sha256": sha256,
        "framework": f"torch-{meta['arch']}",
        "params": train.kept_params(chosen, seed, d),
        "metrics": metrics,
        "data_digest": d.digest(),
        "environment": provenance.environment(),
        "code_version": provenance.code_version(),
    }
    (out / RECORD).write_text(json.dumps(record, sort_keys=True))
    return record
