"""Command line: `mlops-console` opens the TUI; subcommands print tables or JSON.

Exit codes: 0 ok, 2 bad input, 1 anything else (130 on Ctrl-C).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import timedelta
from typing import Any, Sequence

from console import __version__
from console.output import emit
from core import clock
from core.errors import BadInput, ConsoleError
from core.sanitize import strip_control
from core.types import to_dict

FORMATS = ("table", "json", "jsonl")


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Global options, accepted before or after the subcommand. Under a subcommand their defaults are
    SUPPRESS so that an option given before the subcommand is not reset by the subparser."""
    d = argparse.SUPPRESS if suppress else None
    g = parser.add_argument_group("global options")
    g.add_argument("--home", metavar="DIR", default=d,
                   help="where the store lives (env MLOPS_CONSOLE_HOME; default: the XDG data dir)")
    g.add_argument("--config", metavar="FILE", default=d,
                   help="config file (env MLOPS_CONSOLE_CONFIG; default: the XDG config dir's config.toml)")
    g.add_argument("--demo", action="store_true", default=d,
                   help="run on the embedded demo estate (the simulator)")
    g.add_argument("--read-only", action="store_true", default=d, help="view only: no action can change anything")
    g.add_argument("--seed", type=int, metavar="N", default=d, help="simulator seed for a new estate (default 42)")
    g.add_argument("--scale", metavar="nodes=N,jobs=M", default=d,
                   help="size of a new simulated estate, e.g. nodes=10000,jobs=100000")
    g.add_argument("--as", dest="user", metavar="USER", default=d, help="act as USER in the audit record")


def _fmt(parser: argparse.ArgumentParser, choices: Sequence[str] = FORMATS, default: str = "table") -> None:
    parser.add_argument("--format", "-o", choices=choices, default=default, help=f"output format (default {default})")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlops-console", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _global_options(p, suppress=False)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def leaf(parent, name: str, help: str) -> argparse.ArgumentParser:
        sp = parent.add_parser(name, help=help, description=help)
        _global_options(sp, suppress=True)
        return sp

    leaf(sub, "tui", "open the terminal UI (the default)")
    leaf(sub, "version", "print versions, store schema, backend and home")

    nodes = sub.add_parser("nodes", help="cluster nodes").add_subparsers(dest="action", metavar="ACTION", required=True)
    sp = leaf(nodes, "list", "list nodes")
    sp.add_argument("--pool", help="only this node pool")
    _fmt(sp)

    ro = sub.add_parser("rollouts", help="model deployments and their rollouts").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    _fmt(leaf(ro, "list", "list model deployments with their revisions"))

    jobs = sub.add_parser("jobs", help="job attempts").add_subparsers(dest="action", metavar="ACTION", required=True)
    sp = leaf(jobs, "list", "list job attempts, newest first")
    sp.add_argument("--failed", action="store_true", help="only failed attempts")
    sp.add_argument("--job", metavar="JOB_ID", help="only attempts of this job")
    sp.add_argument("--since", metavar="AGE|TIME", help="only attempts submitted since, e.g. 24h, 7d or an ISO time")
    sp.add_argument("--limit", type=int, metavar="N", help="at most N attempts")
    _fmt(sp)
    sp = leaf(jobs, "show", "show one attempt (history-record fields)")
    sp.add_argument("run_id", metavar="RUN_ID")
    _fmt(sp, ("yaml", "json"), "yaml")
    sp = leaf(jobs, "logs", "print an attempt's log (control sequences stripped)")
    sp.add_argument("run_id", metavar="RUN_ID")
    sp.add_argument("--tail", type=int, metavar="N", help="only the last N lines")
    sp.add_argument("--raw", action="store_true", help="keep terminal control sequences (unsafe on a terminal)")

    models = sub.add_parser("models", help="model registry").add_subparsers(dest="action", metavar="ACTION", required=True)
    sp = leaf(models, "list", "list registered model versions")
    sp.add_argument("--model", help="only this model")
    _fmt(sp)

    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(dest="action", metavar="ACTION", required=True)
    sp = leaf(audit, "list", "list audit events, newest first")
    sp.add_argument("--limit", type=int, metavar="N", help="at most N events")
    _fmt(sp)
    return p


def parse_since(text: str) -> str:
    m = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if m:
        n, unit = int(m.group(1)), m.group(2)
        delta = timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: n})
        return clock.iso(clock.now() - delta)
    try:
        return clock.iso(clock.parse_ts(text))
    except ValueError:
        raise BadInput(f"--since: expected an age like 24h or 7d, or an ISO time; got {text!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ConsoleError as e:
        print(f"mlops-console: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:  # the last line of defence: one line, not a traceback
        if os.environ.get("MLOPS_CONSOLE_DEBUG"):
            raise
        print(f"mlops-console: internal error: {type(e).__name__}: {e} (set MLOPS_CONSOLE_DEBUG=1 for a traceback)",
              file=sys.stderr)
        return 1


def _settings(args: argparse.Namespace):
    from console import settings
    return settings.load({k: getattr(args, k, None) for k in
                          ("home", "config", "demo", "read_only", "seed", "scale", "user")})


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    command = args.command or "tui"
    if command == "tui":
        from console.app import run_tui
        return run_tui(settings)

    from console.engine import Engine
    engine = Engine(settings)
    action = getattr(args, "action", None)
    fmt = getattr(args, "format", "table")

    if command == "version":
        info = engine.version_info()
        if fmt == "table":
            for k, v in info.items():
                print(f"{k}: {v}")
        return 0
    if (command, action) == ("nodes", "list"):
        emit([to_dict(n) | {"status": n.status} for n in engine.nodes(args.pool)], fmt, NODE_COLUMNS)
    elif (command, action) == ("rollouts", "list"):
        emit([to_dict(d) for d in engine.deployments()], fmt, ROLLOUT_COLUMNS)
    elif (command, action) == ("jobs", "list"):
        since = parse_since(args.since) if args.since else None
        if args.limit is not None and args.limit < 1:
            raise BadInput(f"--limit must be at least 1, got {args.limit}")
        attempts = engine.attempts(failed=True if args.failed else None, job_id=args.job, since=since, limit=args.limit)
        emit([to_dict(a) for a in attempts], fmt, ATTEMPT_COLUMNS)
    elif (command, action) == ("jobs", "show"):
        if fmt == "json":
            print(json.dumps(to_dict(engine.attempt(args.run_id)), indent=2))
        else:
            sys.stdout.write(strip_control(engine.describe_attempt(args.run_id)))
    elif (command, action) == ("jobs", "logs"):
        text = engine.attempt_log(args.run_id)
        if args.tail is not None:
            text = "\n".join(text.splitlines()[-args.tail:]) + "\n" if args.tail > 0 else ""
        sys.stdout.write(text if args.raw else strip_control(text))
    elif (command, action) == ("models", "list"):
        emit([to_dict(m) for m in engine.models(args.model)], fmt, MODEL_COLUMNS)
    elif (command, action) == ("audit", "list"):
        emit([to_dict(e) for e in engine.audit_events(args.limit)], fmt, AUDIT_COLUMNS)
    return 0


def _age(ts: str) -> str:
    return clock.age(ts)


NODE_COLUMNS = [
    ("NAME", lambda r: r["name"]), ("POOL", lambda r: r["pool"]), ("STATUS", lambda r: r["status"]),
    ("CPU", lambda r: r["cpu"]), ("MEM(GiB)", lambda r: r["memory_gib"]), ("GPU", lambda r: r["gpus"]),
    ("PODS", lambda r: r["pods"]), ("KUBELET", lambda r: r["kubelet_version"]),
    ("CONFIG", lambda r: r["config_version"]), ("AGE", lambda r: _age(r["created_at"])),
]
ROLLOUT_COLUMNS = [
    ("DEPLOYMENT", lambda r: f"{r['namespace']}/{r['name']}"), ("MODEL", lambda r: r["model"]),
    ("REVISION", lambda r: r["current_revision"]),
    ("VERSION", lambda r: next((v["model_version"] for v in r["revisions"] if v["number"] == r["current_revision"]), "-")),
    ("CANARY", lambda r: next((f"r{v['number']} v{v['model_version']} {v['weight']}%" for v in r["revisions"]
                               if v["status"] == "canary"), "-")),
    ("READY", lambda r: f"{r['ready_replicas']}/{r['replicas']}"), ("STATUS", lambda r: r["status"]),
]
ATTEMPT_COLUMNS = [
    ("SUBMITTED", lambda r: r["submitted_at"]), ("JOB", lambda r: r["job_id"]), ("RUN", lambda r: r["run_id"]),
    ("ATTEMPT", lambda r: r["attempt"]), ("STATUS", lambda r: r["status"]), ("REASON", lambda r: r.get("reason")),
    ("EXIT", lambda r: r.get("exit_code")), ("RUNTIME(s)", lambda r: r["runtime_seconds"]), ("COST", lambda r: r["cost"]),
]
MODEL_COLUMNS = [
    ("MODEL", lambda r: r["model"]), ("VERSION", lambda r: r["version"]), ("STAGE", lambda r: r["stage"]),
    ("FRAMEWORK", lambda r: r["framework"]), ("PARENT", lambda r: r["parent"]),
    ("SHA256", lambda r: r["sha256"][:12]), ("CREATED", lambda r: r["created_at"]),
]
AUDIT_COLUMNS = [
    ("SEQ", lambda r: r["seq"]), ("TIME", lambda r: r["timestamp"]), ("USER", lambda r: r["user"]),
    ("VERB", lambda r: r["verb"]), ("OBJECT", lambda r: "/".join(str(v) for v in r["object_ref"].values())),
    ("STAGE", lambda r: r["stage"]), ("AUDIT ID", lambda r: r["audit_id"][:8]),
]
