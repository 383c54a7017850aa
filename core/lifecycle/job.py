"""A training as a process of its own: what a training Job's container runs on the cluster
(`python -m core.lifecycle.job --model digits-cnn --seed 3 --out /mlops/artifacts/jobs/NAME`).

It trains as `models train` does here (core.lifecycle.train.fit: deterministic for a seed), prints one JSON
line per epoch on stdout ({"progress": {...}}: the console reads them from the pod's log) and leaves in
--out the artifact (model.pt) and result.json (its sha256, the metrics, the data's digest, the
environment), result.json last: its presence means the artifact is whole. The console registers the
version; this process has no registry, store or audit of its own."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConsoleError


@dataclass
class TrainingSpec:
    """A training to run on a cluster: the console's settings and the one training's arguments."""

    name: str
    namespace: str
    image: str
    model: str
    seed: int
    params: dict[str, Any]
    claim: str
    user: str
    data: str | None = None  # a path inside the shared artifact storage, or None: the data the image bundles
    cpu: str = "2"
    memory: str = "4Gi"
    gpus: int = 0
    deadline_seconds: int = 3600
    extra_labels: dict[str, str] = field(default_factory=dict)


PROGRESS = "progress"
RESULT = "result.json"
ARTIFACT = "model.pt"


def progress_line(epoch: int, epochs: int, loss: float, eta: float) -> str:
    return json.dumps({PROGRESS: {"epoch": epoch, "epochs": epochs, "loss": loss, "eta": eta}})


def last_progress(log: str) -> tuple[int, int, float, float] | None:
    """The newest progress line of a training's log (epoch, epochs, loss, eta); None before the first."""
    for line in reversed(log.splitlines()):
        if line.startswith('{"' + PROGRESS):
            try:
                p = json.loads(line)[PROGRESS]
                return int(p["epoch"]), int(p["epochs"]), float(p["loss"]), float(p["eta"])
            except (ValueError, KeyError, TypeError):
                continue
    return None


def run(model: str, params: dict[str, str], seed: int, data_path: str | None, out: Path, device: str) -> dict[str, Any]:
    from core import artifacts
    from core.lifecycle import data, nets, provenance, train

    spec = nets.spec(model)
    chosen = train.params_for(spec, params)
    bundled = data.bundled(spec.dataset)
    d = data.read_csv(Path(data_path), bundled.names) if data_path else bundled

    def report(epoch: int, epochs: int, loss: float, eta: float) -> None:
        print(progress_line(epoch, epochs, loss, eta), flush=True)

    trained, metrics = train.fit(spec, d, chosen, seed, report, None, device)
    tensors, meta = trained.to_artifact()
    sha256 = artifacts.save(out / ARTIFACT, tensors, meta)
    result = {
        "model": model,
        "params": chosen,
        "seed": seed,
        "data": d.source,
        "data_digest": d.digest(),
        "sha256": sha256,
        "metrics": metrics,
        "environment": provenance.environment(),
        "code_version": provenance.code_version(),
    }
    tmp = out / (RESULT + ".tmp")
    tmp.write_text(json.dumps(result, sort_keys=True))
    tmp.replace(out / RESULT)
    print(json.dumps({"done": {"sha256": sha256, "accuracy": metrics["accuracy"]}}), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m core.lifecycle.job", description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--data", metavar="FILE.csv")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = ap.parse_args(argv)
    params = dict(p.partition("=")[::2] for p in args.param)
    try:
        run(args.model, params, args.seed, args.data, args.out, args.device)
    except ConsoleError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
