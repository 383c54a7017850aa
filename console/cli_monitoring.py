"""The `monitoring` subcommands (serving metrics, drift, alerts, the exporters, the Prometheus config, the
embedded estate's fault drills) and `models retrain` (the drift → retrain pipeline)."""

from __future__ import annotations

import math
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from console.cli_models import _epochs_bar
from console.output import emit, show
from core.errors import BadInput
from core.sanitize import strip_control


def _get(key: str) -> Any:
    return lambda r: r.get(key)


MODEL_DRIFT_COLUMNS = [
    ("DEPLOYMENT", _get("deployment")),
    ("MODEL", _get("model")),
    ("VERSION", _get("version")),
    ("LEVEL", _get("level")),
    ("PSI", _get("psi")),
    ("INPUT PSI", _get("input_psi")),
    ("SCORE PSI", _get("score_psi")),
    ("KS", _get("ks")),
    ("ACCURACY", _get("accuracy")),
    ("REFERENCE", _get("reference_accuracy")),
    ("NOTE", lambda r: r.get("error") or r.get("note") or ""),
]
ALERT_COLUMNS = [
    ("ALERT", _get("alertname")),
    ("SEVERITY", _get("severity")),
    ("DEPLOYMENT", _get("deployment")),
    ("SINCE", _get("since")),
    ("FINGERPRINT", _get("fingerprint")),
    ("SUMMARY", _get("summary")),
]
# shares, a factor, shifts in training standard deviations (inputs) and in score units
FAULT_RANGES = {
    "errors": (0.0, 1.0),
    "latency": (0.0, 100.0),
    "covariate": (-5.0, 5.0),
    "prior": (-1.0, 1.0),
    "concept": (0.0, 1.0),
}
FAULT_KEYS = tuple(FAULT_RANGES)


def _drift(engine, args, fmt: str) -> None:
    rows = []
    for d in engine.model_drift(args.deployment):
        by = {s["signal"]: s for s in d.get("signals", [])}
        rows.append(
            {
                **d,
                "input_psi": by.get("input", {}).get("psi"),
                "score_psi": by.get("score", {}).get("psi"),
                "ks": max((s["ks"] for s in by.values()), default=None),
            }
        )
    emit(rows, fmt, MODEL_DRIFT_COLUMNS)


def _alerts(engine, args, fmt: str) -> None:
    if not engine.alerts_configured():
        raise BadInput("no alertmanager_url is set (config file, or MLOPS_CONSOLE_ALERTMANAGER_URL)")
    emit(engine.alerts(), fmt, ALERT_COLUMNS)


def _silence(engine, args, fmt: str) -> None:
    show(engine.silence_alert(args.alert, args.hours, args.comment or ""), fmt)


def _inject(engine, args, fmt: str) -> None:
    faults: dict[str, float] = {}
    for word in args.faults:
        key, eq, value = word.partition("=")
        if not eq or key not in FAULT_KEYS:
            raise BadInput(f"fault {word!r}: expected KEY=NUMBER with KEY one of {', '.join(FAULT_KEYS)}")
        try:
            faults[key] = float(value)
        except ValueError:
            raise BadInput(f"fault {word!r}: {value!r} is not a number") from None
    if args.clear == bool(faults):
        raise BadInput("give faults (e.g. errors=0.3 covariate=0.8) or --clear, not both or neither")
    for key, value in faults.items():
        low, high = FAULT_RANGES[key]
        if not (math.isfinite(value) and low <= value <= high):
            raise BadInput(f"fault {key}={value}: must lie in {low:g}..{high:g}")
    if faults.get("latency", 1.0) == 0:
        raise BadInput("fault latency=0: a factor above 0")
    show(engine.inject_faults(args.deployment, None if args.clear else faults), fmt)


def _config(engine, args, fmt: str) -> None:
    from console import monitoring_config

    written = monitoring_config.write(
        Path(args.directory),
        args.estate_target,
        args.console_target,
        args.alertmanager_target or "",
        args.scrape_interval,
        args.hold,
        args.window,
    )
    for p in written:
        print(p)


def _serve(engine, args, fmt: str) -> None:
    """Serve the exporters until SIGTERM, SIGHUP or Ctrl-C."""
    estate = None if args.no_estate else args.estate_port
    if estate is not None and not engine.faults_supported():
        estate = None  # a real cluster's model servers export their own
    ports = engine.serve_metrics(args.port, estate, args.bind)
    names = ["console"] + (["model servers"] if estate is not None else [])
    for name, port in zip(names, ports, strict=True):
        print(f"serving {name} metrics on http://{args.bind}:{port}/metrics", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass


def _retrain(engine, args, fmt: str) -> None:
    from console.engine import interrupt
    from core.rollouts import parse_steps

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)
    steps = parse_steps(args.steps) if args.steps else None
    with _epochs_bar(f"retraining for {args.deployment}") as progress:
        result = engine.model_retrain(
            args.deployment,
            data_path=args.data,
            compress=args.compress,
            steps=steps,
            seed=args.train_seed,
            progress=progress,
            note=lambda text: print(f"# {strip_control(text)}", file=sys.stderr, flush=True),
        )
    show(result, fmt)
    if not result["gate"]["passed"]:
        sys.exit(1)


def add_parsers(sub: Any, leaf: Any, fmt: Any) -> None:
    mon = sub.add_parser("monitoring", help="serving metrics, drift, alerts, exporters").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    sp = leaf(mon, "drift", "each deployment's inputs and scores against its training reference (PSI, KS)")
    sp.add_argument("deployment", metavar="DEPLOYMENT", nargs="?")
    fmt(sp)
    fmt(leaf(mon, "alerts", "the alerts firing in Alertmanager (alertmanager_url)"))
    sp = leaf(mon, "silence", "silence a firing alert in Alertmanager (audited)")
    sp.add_argument("alert", metavar="ALERT", help="its fingerprint (or a prefix), or its name if only one fires")
    sp.add_argument("--hours", type=float, default=2.0, help="how long (default 2)")
    sp.add_argument("--comment", metavar="TEXT", help="why (recorded in Alertmanager and the audit)")
    fmt(sp, ("yaml", "json"), "yaml")
    sp = leaf(mon, "inject", "drill: inject errors, latency or drift into the embedded estate's traffic (audited)")
    sp.add_argument("deployment", metavar="DEPLOYMENT")
    sp.add_argument(
        "faults",
        metavar="KEY=VALUE",
        nargs="*",
        help="errors=SHARE latency=FACTOR covariate=SD prior=SHIFT concept=SHARE",
    )
    sp.add_argument("--clear", action="store_true", help="take the deployment's injected faults away")
    fmt(sp, ("yaml", "json"), "yaml")
    sp = leaf(mon, "serve", "serve the console's metrics and the embedded estate's model servers' for Prometheus")
    sp.add_argument("--port", type=int, default=9464, help="the console's own metrics (default 9464; 0: any free)")
    sp.add_argument("--estate-port", type=int, default=9465, help="the model servers' metrics (default 9465)")
    sp.add_argument("--no-estate", action="store_true", help="only the console's own")
    sp.add_argument("--bind", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    sp = leaf(mon, "config", "write prometheus.yml, the alert rules and alertmanager.yml into DIR")
    sp.add_argument("directory", metavar="DIR")
    sp.add_argument("--estate-target", action="append", default=[], metavar="HOST:PORT", help="a model server")
    sp.add_argument("--console-target", action="append", default=[], metavar="HOST:PORT", help="the console")
    sp.add_argument("--alertmanager-target", metavar="HOST:PORT")
    sp.add_argument("--scrape-interval", default="15s")
    sp.add_argument("--hold", default="2m", help="how long a condition lasts before its alert fires (default 2m)")
    sp.add_argument("--window", default="5m", help="the alert rules' rate window (default 5m)")


def add_retrain_parser(models: Any, leaf: Any, fmt: Any) -> None:
    sp = leaf(
        models,
        "retrain",
        "retrain what a deployment serves on recent data: validate, train, gate, register, canary",
        own_seed=True,
    )
    sp.add_argument("deployment", metavar="DEPLOYMENT")
    sp.add_argument("--data", metavar="FILE.csv", help="the recent labelled data (default: the estate's own)")
    sp.add_argument("--compress", action="store_true", help="also prune and quantize, rolled out if it passes the gate")
    sp.add_argument("--steps", metavar="W,W,...", help="the canary's weights (default 10,50,100; paused at the first)")
    sp.add_argument("--seed", dest="train_seed", type=int, default=0, metavar="N")
    fmt(sp, ("yaml", "json"), "yaml")


MONITORING_COMMANDS = {
    ("monitoring", "drift"): _drift,
    ("monitoring", "alerts"): _alerts,
    ("monitoring", "silence"): _silence,
    ("monitoring", "inject"): _inject,
    ("monitoring", "serve"): _serve,
    ("monitoring", "config"): _config,
    ("models", "retrain"): _retrain,
}
