"""The `models` subcommands: the registry, training with a progress bar, the gate as a CI step, aliases,
compression, packaging and side-by-side comparison."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from typing import Any

from console.columns import MODEL_COLUMNS
from console.output import emit, show
from core.errors import BadInput
from core.sanitize import strip_control
from core.types import to_dict


def _models_list(engine, args, fmt: str) -> None:
    def row(m: Any) -> dict[str, Any]:  # the environment's full lock is for `models show`
        d = to_dict(m)
        return {"name": m.model, **d, "environment": {k: v for k, v in d["environment"].items() if k != "lock"}}

    emit([row(m) for m in engine.models(args.model)], fmt, MODEL_COLUMNS)


def _model_train(engine, args, fmt: str) -> None:
    if args.name == "retry-recommender":
        if args.param or args.data or args.device or args.here:
            raise BadInput("retry-recommender takes --data-window DAYS and --seed (its history is the console's)")
        result = engine.model_train_recommender(45 if args.data_window is None else args.data_window, args.train_seed)
        gate = result["metrics"].get("gate") or {}
        taken = "took production" if gate.get("passed") else "stays a candidate"
        print(f"# retry-recommender version {result['version']} {taken}: {gate.get('detail', '')}", file=sys.stderr)
        show({k: v for k, v in result.items() if k != "metrics"} | {"gate": gate}, fmt)
        return
    if args.data_window is not None:
        raise BadInput(f"--data-window is for retry-recommender; {args.name} trains on its dataset (--data)")
    params = {}
    for word in args.param:
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise BadInput(f"--param {word!r}: expected KEY=VALUE")
        params[key] = value
    import signal

    from console.engine import interrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):  # as Ctrl-C: a training Job on a cluster is deleted
        signal.signal(sig, interrupt)
    with _epochs_bar(f"training {args.name}") as progress:
        result = engine.model_train(
            args.name,
            params=params,
            seed=args.train_seed,
            data_path=args.data,
            progress=progress,
            device=args.device,
            here=args.here,
            note=lambda text: print(f"# {strip_control(text)}", file=sys.stderr, flush=True),
        )
    print(
        f"# {args.name} version {result['version']} registered as a candidate: `models gate {args.name} {result['version']}`, then `models alias {args.name} production {result['version']}`",
        file=sys.stderr,
    )
    show(result, fmt)


@contextlib.contextmanager
def _epochs_bar(what: str):
    """A rich progress bar on stderr (epoch, loss, ETA) where a person watches; plain lines otherwise."""
    if not sys.stderr.isatty():
        yield lambda epoch, epochs, loss, eta: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("epoch {task.completed:.0f}/{task.total:.0f}"),
        TextColumn("loss {task.fields[loss]}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(what, total=None, loss="-")

        def update(epoch: int, epochs: int, loss: float, eta: float) -> None:
            bar.update(task, completed=epoch, total=epochs, loss=f"{loss:.4f}")

        yield update


def _model_alias(engine, args, fmt: str) -> None:
    if args.remove == (args.version is not None):
        raise BadInput("give a VERSION, or --remove to take the alias off")
    show(engine.model_alias(args.name, args.alias, args.version, args.force, args.reason), fmt)


def _model_gate(engine, args, fmt: str) -> None:
    report = engine.model_gate(args.name, args.version, args.tolerance, args.package)
    show(report, fmt)
    if not report["passed"]:
        failed = "; ".join(f"{c['name']}: {c['detail']}" for c in report["checks"] if not c["passed"])
        print(f"error: {report['ref']} did not pass the gate — {failed}", file=sys.stderr)
        raise SystemExit(1)


def _model_compare(engine, args, fmt: str) -> None:
    c = engine.model_compare(args.name, args.a, args.b)
    if fmt == "json":
        print(json.dumps(c, indent=2, default=str))
        return
    from core.lifecycle.comparison import lines

    print("\n".join(lines(c)))


MODEL_COMMANDS: dict[tuple[str, str | None], Callable[[Any, Any, str], None]] = {
    ("models", "list"): _models_list,
    ("models", "show"): lambda e, a, f: show(e.model_show(a.name, a.version), f),
    ("models", "evaluate"): lambda e, a, f: show(e.model_evaluate(a.name, a.version), f),
    ("models", "gate"): _model_gate,
    ("models", "train"): _model_train,
    ("models", "validate"): lambda e, a, f: show(e.model_validate(a.name, a.data), f),
    ("models", "compress"): lambda e, a, f: show(
        e.model_compress(a.name, a.version, prune=a.prune, quantize=a.quantize, target_latency_ms=a.target_latency), f
    ),
    ("models", "alias"): _model_alias,
    ("models", "package"): lambda e, a, f: show(
        e.model_package(a.name, a.version, a.directory, a.image, a.deploy_namespace), f
    ),
    ("models", "compare"): _model_compare,
}
