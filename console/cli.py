"""Command line: `mlops-console` opens the TUI; subcommands print tables or JSON.

Exit codes: 0 ok, 2 bad input, 1 anything else (130 on Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from console.cli_models import MODEL_COMMANDS
from console.cli_monitoring import MONITORING_COMMANDS
from console.columns import (
    ATTEMPT_COLUMNS,
    AUDIT_COLUMNS,
    CLASSIFY_COLUMNS,
    DRIFT_COLUMNS,
    HISTORY_COLUMNS,
    HISTORY_SOURCE_COLUMNS,
    NODE_COLUMNS,
    OP_COLUMNS,
    POD_COLUMNS,
    ROLLOUT_COLUMNS,
    RULE_COLUMNS,
    SIGNATURE_COLUMNS,
    SUGGESTION_COLUMNS,
)
from console.output import emit
from console.output import show as _show
from console.parser import build_parser, parse_tui
from core import clock
from core.errors import BadInput, ConsoleError, Forbidden
from core.sanitize import strip_control
from core.types import to_dict
from screens.describe import describe


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
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_tui(argv) or build_parser().parse_args(argv)
    try:
        return run(args)
    except ConsoleError as e:
        print(f"mlops-console: error: {strip_control(str(e))}", file=sys.stderr)
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
        print(
            f"mlops-console: internal error: {type(e).__name__}: {e} (set MLOPS_CONSOLE_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 1


def _settings(args: argparse.Namespace):
    from console import settings

    return settings.load(
        {
            k: getattr(args, k, None)
            for k in (
                "home",
                "config",
                "demo",
                "read_only",
                "seed",
                "scale",
                "user",
                "kubeconfig",
                "context",
                "namespace",
                "all_namespaces",
                "metrics_port",
            )
        }
    )


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    command = args.command or "tui"
    if command == "tui":
        from console.app import run_tui

        return run_tui(settings)

    from console.engine import Engine

    engine = Engine(settings)
    for op in engine.interrupted_operations():
        print(
            f"mlops-console: warning: operation {op['id']} ({op['kind']} {op['target']}) was interrupted "
            f"at step {op['position'] + 1} of {len(op['steps'])}: `ops show {op['id']}`, then "
            f"`ops resume` or `ops rollback`",
            file=sys.stderr,
        )
    handler = COMMANDS[(command, getattr(args, "action", None))]
    handler(engine, args, getattr(args, "format", "table"))
    return 0


# -- one handler per subcommand; COMMANDS below maps (command, action) to it ----------------------------
def _version(engine, args, fmt: str) -> None:
    info = engine.version_info()
    if fmt == "table":
        for k, v in info.items():
            print(f"{k}: {v}")


def _nodes_list(engine, args, fmt: str) -> None:
    emit((to_dict(n) | {"status": n.status} for n in engine.iter_nodes(args.pool)), fmt, NODE_COLUMNS)


def _cordon(engine, args, fmt: str) -> None:
    action = args.action
    changed = engine.cordon(args.names, on=action == "cordon")
    for n in args.names:
        print(f"node/{n} {action + 'ed' if n in changed else 'already ' + action + 'ed'}")


def _drain(engine, args, fmt: str) -> None:
    if len(args.names) > 1:
        _confirm(f"drain {len(args.names)} nodes", str(len(args.names)), args.yes)
    opts = engine.drain_options(
        {
            "grace_seconds": args.grace_period,
            "ignore_daemonsets": args.ignore_daemonsets,
            "delete_emptydir_data": args.delete_emptydir_data,
            "timeout": clock.parse_duration(args.timeout, "--timeout"),
        }
    )
    for r in engine.drain(args.names, opts, _progress):
        print(f"node/{r['node']} drained ({len(r['evicted'])} pods evicted, {r['retries']} retries)")


def _label(engine, args, fmt: str) -> None:
    engine.label_words(args.name, args.changes)
    print(f"node/{args.name} labeled")


def _taint(engine, args, fmt: str) -> None:
    engine.taint_words(args.name, args.changes)
    print(f"node/{args.name} tainted")


def _apply_config(engine, args, fmt: str) -> None:
    _confirm(f"change every node of pool {args.pool} to {args.version}", args.pool, args.yes)
    op = engine.apply_config(args.pool, args.version, args.max_unavailable, not args.no_drain, _progress)
    _show(op, fmt)
    if op["state"] == "failed":
        raise ConsoleError(
            f"operation {op['id']} stopped: {op['error']} (`ops resume {op['id']}` or `ops rollback {op['id']}`)"
        )


def _drift(engine, args, fmt: str) -> None:
    emit(engine.drift(), fmt, DRIFT_COLUMNS)


def _rollouts_list(engine, args, fmt: str) -> None:
    emit([to_dict(d) for d in engine.deployments()], fmt, ROLLOUT_COLUMNS)


def _rollout_op(op: dict, fmt: str) -> None:
    _show(op, fmt)
    if op["state"] == "failed":
        raise ConsoleError(f"rollout aborted: {op['error']}")


def _rollout_start(engine, args, fmt: str) -> None:
    steps, pause = engine.parse_rollout(args.steps, args.pause)
    _rollout_op(
        engine.rollout_start(
            args.deployment,
            args.model,
            args.version,
            steps,
            pause,
            {
                "max_error_rate": args.max_error_rate,
                "max_p99_ms": args.max_p99_ms,
                "window_minutes": args.window,
                "failure_limit": args.failure_limit,
            },
            _progress,
            force=args.force,
        ),
        fmt,
    )


def _ops_list(engine, args, fmt: str) -> None:
    emit(engine.operations(args.unfinished), fmt, OP_COLUMNS)


def _op(verb):
    def handler(engine, args, fmt: str) -> None:
        op = {
            "show": engine.operation,
            "pause": engine.op_pause,
            "resume": lambda i: engine.op_resume(i, _progress),
            "rollback": lambda i: engine.op_rollback(i, _progress),
        }[verb](args.op_id)
        _show(op, fmt)
        if verb != "show" and op["state"] == "failed":
            raise ConsoleError(f"operation {op['id']} stopped: {op['error']}")

    return handler


def _jobs_list(engine, args, fmt: str) -> None:
    since = parse_since(args.since) if args.since else None
    if args.limit is not None and args.limit < 1:
        raise BadInput(f"--limit must be at least 1, got {args.limit}")
    _warn_rules(engine)
    emit(
        engine.iter_attempt_records(
            failed=True if args.failed else None, job_id=args.job, since=since, limit=args.limit
        ),
        fmt,
        ATTEMPT_COLUMNS,
    )


def _jobs_show(engine, args, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(engine.attempt_record(engine.attempt(args.run_id)), indent=2))
    else:
        sys.stdout.write(strip_control(describe(engine.attempt_details(args.run_id))))


def _jobs_logs(engine, args, fmt: str) -> None:
    text = engine.attempt_log(args.run_id)
    if args.tail is not None:
        text = "\n".join(text.splitlines()[-args.tail :]) + "\n" if args.tail > 0 else ""
    sys.stdout.write(text if args.raw else strip_control(text))


def _signatures(engine, args, fmt: str) -> None:
    _warn_rules(engine)
    emit([{**g, "rank": i} for i, g in enumerate(engine.signatures(), start=1)], fmt, SIGNATURE_COLUMNS)


def _classify(engine, args, fmt: str) -> None:
    _warn_rules(engine)
    emit(engine.classify_paths(args.paths, args.rules), fmt, CLASSIFY_COLUMNS)


def _rules_list(engine, args, fmt: str) -> None:
    _warn_rules(engine)
    emit(
        [r.to_dict() | {"n": n, "source": r.source, "fields": r.fields} for n, r in enumerate(engine.rules(), start=1)],
        fmt,
        RULE_COLUMNS,
    )


def _rules_check(engine, args, fmt: str) -> None:
    problems = engine.check_rules(args.file)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        raise BadInput(f"{args.file}: {len(problems)} example check(s) failed")
    print(f"{args.file}: ok")


def _rules_test(engine, args, fmt: str) -> None:
    result = engine.test_rules(args.file, args.log)
    if fmt == "json":
        print(json.dumps(result, indent=2))
        return
    print(f"category: {result['category']}\nrule: {result['rule_id'] or '-'}\naction: {result['action'] or '-'}")
    print(f"evidence (line {result['evidence_line']}): {strip_control(result['evidence'] or '-')}")
    print(f"fields: {json.dumps(result['fields'])}\nmatching rules: {', '.join(result['matching_rules']) or '-'}")


def _audit_show(engine, args, fmt: str) -> None:
    events = [to_dict(e) for e in engine.audit_show(args.key)]
    if fmt == "json":
        print(json.dumps(events, indent=2))
    else:
        sys.stdout.write(strip_control(describe_events(events)))


def _audit_verify(engine, args, fmt: str) -> None:
    v = engine.audit_verify()
    if fmt == "json":
        print(json.dumps(v.to_dict(), indent=2))
    elif v.ok:
        print(f"audit chain ok: {v.events} events")
    if not v.ok:
        raise ConsoleError(
            f"audit chain broken at seq {v.first_bad}"
            f"{' (auditID ' + v.audit_id + ')' if v.audit_id else ''}: {v.reason}"
        )


def _audit_list(engine, args, fmt: str) -> None:
    emit((to_dict(e) for e in engine.iter_audit_events(args.limit)), fmt, AUDIT_COLUMNS)


def _import(engine, args, fmt: str) -> None:
    report = engine.import_history(args.file, args.strict)
    for e in report["errors"]:
        print(f"{args.file}:{e['line']}: {e['error']} (skipped)", file=sys.stderr)
    if fmt == "json":
        print(json.dumps(report, indent=2))
    else:
        replaced = (
            f" ({report['replaced']} replaced earlier records of the same job and run_id)" if report["replaced"] else ""
        )
        print(f"imported {report['imported']} records from {args.file}{replaced}; skipped {report['skipped']}")


def _history(engine, args, fmt: str) -> None:
    if args.job:
        emit(engine.history(args.job, args.limit), fmt, HISTORY_COLUMNS)
    else:
        emit(engine.history_sources(), fmt, HISTORY_SOURCE_COLUMNS)


def _train(engine, args, fmt: str) -> None:
    result = engine.train_recommender(args.history, args.train_seed)
    gate = result["metrics"].get("gate") or {}
    if gate and not gate["passed"]:
        print(
            f"# version {result['version']} did not take production — {gate['detail']}; "
            f"`models alias {result['model']} production {result['version']} --force` overrides",
            file=sys.stderr,
        )
    print(json.dumps(result, indent=2) if fmt == "json" else _trained_table(result))


def _recommend(engine, args, fmt: str) -> None:
    out = engine.recommend(args.file)
    if fmt == "json":
        print(json.dumps(out, indent=2))
    else:
        sys.stdout.write("".join(json.dumps(o) + "\n" for o in out))


def _evaluate(engine, args, fmt: str) -> None:
    result = engine.evaluate_recommender(args.world_seed, args.jobs, args.days, args.estate)
    print(json.dumps(result, indent=2) if fmt == "json" else _evaluation_table(result))


def _world(engine, args, fmt: str) -> None:
    for r in engine.world_history(args.world_seed, args.jobs, args.days, args.estate, args.before_held_out):
        sys.stdout.write(json.dumps(r) + "\n")


def _queue(engine, args, fmt: str) -> None:
    if engine.read_only:
        print("# read-only: showing what is queued", file=sys.stderr)
    new, waiting = engine.failures_to_queue()
    if new - waiting:
        print(
            f"# {new - waiting} new failure(s) not queued yet: `mlops-console autofix reconcile` queues them",
            file=sys.stderr,
        )
    if waiting:
        print(
            f"# {waiting} failures need a config change and wait for a trained recommender: "
            "`mlops-console autofix train --history FILE.jsonl`",
            file=sys.stderr,
        )
    emit([s.to_dict() for s in engine.autofix_queue(args.everything)], fmt, SUGGESTION_COLUMNS)


def _reconcile(engine, args, fmt: str) -> None:
    report = engine.autofix_reconcile()
    if fmt == "json":
        print(json.dumps(report, indent=2))
    else:
        print(
            f"queued {report['queued']} suggestion(s); recorded {report['outcomes']} outcome(s); "
            f"applied {len(report['auto_applied'])} by policy"
        )
    if report["waiting_for_model"]:
        print(
            f"# {report['waiting_for_model']} failures need a config change and wait for a trained recommender: "
            "`mlops-console autofix train --history FILE.jsonl`",
            file=sys.stderr,
        )
    for a in report["auto_applied"]:
        print(f"# suggestion {a['id']} ({a['run_id']}) applied by policy {a['policy']}", file=sys.stderr)


def _approve(engine, args, fmt: str) -> None:
    s = engine.approve(args.id)
    print(f"# suggestion {s.id}: retry {s.retry_run_id} submitted for {s.run_id}", file=sys.stderr)
    _show(s.to_dict(), fmt)


COMMANDS: dict[tuple[str, str | None], Callable[[Any, argparse.Namespace, str], None]] = {
    ("version", None): _version,
    ("nodes", "list"): _nodes_list,
    ("nodes", "show"): lambda e, a, f: _show(e.node_details(a.name), f),
    ("pods", "list"): lambda e, a, f: emit((to_dict(p) for p in e.pods(a.node)), f, POD_COLUMNS),
    ("nodes", "cordon"): _cordon,
    ("nodes", "uncordon"): _cordon,
    ("nodes", "drain"): _drain,
    ("nodes", "label"): _label,
    ("nodes", "taint"): _taint,
    ("nodes", "apply-config"): _apply_config,
    ("nodes", "drift"): _drift,
    ("rollouts", "list"): _rollouts_list,
    ("rollouts", "start"): _rollout_start,
    ("rollouts", "promote"): lambda e, a, f: _rollout_op(e.rollout_promote(a.deployment, _progress), f),
    ("rollouts", "abort"): lambda e, a, f: _rollout_op(e.rollout_abort(a.deployment), f),
    ("rollouts", "rollback"): lambda e, a, f: _show(e.rollout_rollback(a.deployment, a.to_revision), f),
    ("rollouts", "scale"): lambda e, a, f: _show(e.scale(a.deployment, a.replicas), f),
    ("rollouts", "status"): lambda e, a, f: _show(e.rollout_status(a.deployment), f),
    ("ops", "list"): _ops_list,
    **{("ops", verb): _op(verb) for verb in ("show", "pause", "resume", "rollback")},
    ("jobs", "list"): _jobs_list,
    ("jobs", "show"): _jobs_show,
    ("jobs", "logs"): _jobs_logs,
    ("jobs", "signatures"): _signatures,
    ("classify", None): _classify,
    ("rules", "list"): _rules_list,
    ("rules", "check"): _rules_check,
    ("rules", "test"): _rules_test,
    ("rules", "new"): lambda e, a, f: _new_rule(e, a, f),
    ("autofix", "import"): _import,
    ("autofix", "history"): _history,
    ("autofix", "train"): _train,
    ("autofix", "recommend"): _recommend,
    ("autofix", "evaluate"): _evaluate,
    ("autofix", "world"): _world,
    ("autofix", "queue"): _queue,
    ("autofix", "reconcile"): _reconcile,
    ("autofix", "show"): lambda e, a, f: _show(json.loads(json.dumps(e.suggestion(a.id).to_dict())), f),
    ("autofix", "approve"): _approve,
    ("autofix", "reject"): lambda e, a, f: _show(e.reject(a.id, a.reason).to_dict(), f),
    ("autofix", "edit"): lambda e, a, f: _show(e.edit_suggestion(a.id, a.changes).to_dict(), f),
    **MODEL_COMMANDS,
    **MONITORING_COMMANDS,
    ("audit", "list"): _audit_list,
    ("audit", "show"): _audit_show,
    ("audit", "verify"): _audit_verify,
    ("audit", "rollback"): lambda e, a, f: _show(e.audit_rollback(a.key, a.force), f),
}


def _trained_table(result: dict[str, Any]) -> str:
    """`autofix train --format table`: the version registered and how its family won the validation."""
    m = result["metrics"]
    lines = [
        f"{result['model']} version {result['version']}: {m['chosen']} chosen, {m['rows']} rows "
        f"({m['train_rows']} older to train, {m['val_rows']} newer to validate)"
    ]
    for family, v in m["validation"].items():
        lines.append(f"  {family:15s} val log-loss {v['val_logloss']:.4f}  accuracy {v['val_accuracy']:.4f}")
    return "\n".join(lines)


def _evaluation_table(result: dict[str, Any]) -> str:
    """`autofix evaluate --format table`: the README's table, from the same numbers as the JSON."""
    names = {
        "recommender": f"recommender ({result['model']})",
        "vpa_bump": "VPA-style bump",
        "double_memory": "double all memory",
    }
    lines = [
        f"world seed {result['seed']} ({result.get('estate', 'default')} estate): "
        f"{result['fixable_memory_failures']} memory failures some config fixes "
        f"within the SLA, {result['other_failures']} other failures",
        f"{'policy':34s} {'first-retry fix':>15s} {'spend ÷ cheapest':>17s} {'decisions right':>16s}",
    ]

    def num(v, width: int) -> str:  # None: no case of that kind in the judged period
        return f"{'-':>{width}s}" if v is None else f"{v:{width}.2f}"

    for key, p in result["policies"].items():
        lines.append(
            f"{names.get(key, key):34s} {num(p['first_retry_fix_rate'], 15)} "
            f"{num(p['episode_spend_vs_cheapest'], 17)} {num(p['decision_accuracy'], 16)}"
        )
    lines.append(
        f"(decisions: on the {result['other_failures']} other failures — retry the transient ones, stop the "
        f"{result['memory_failures_nothing_fixes']} memory failures nothing fixes)"
    )
    if result.get("floor_retries"):
        lines.append(f"({result['floor_retries']} of the retries were the floor: the model unsure, the memory raised)")
    if result.get("past_sla_retries"):
        lines.append(
            f"({result['past_sla_retries']} of the retries were planned past the SLA: every config likely to fit "
            "in memory was, by the model's runtime)"
        )
    if result.get("reliability"):
        lines.append(f"calibration of the recommended retries (ECE {num(result.get('ece'), 4).strip()}):")
        lines += [
            f"  P {b['bin']}: {b['n']:4d} retries, predicted {b['predicted']:.2f}, succeeded {b['observed']:.2f}"
            for b in result["reliability"]
        ]
    return "\n".join(lines)


def _progress(msg: str) -> None:
    print(strip_control(msg), file=sys.stderr, flush=True)


def _confirm(what: str, name: str, yes: bool) -> None:
    """Destructive batch actions: type the target's name (k9s habit), or --yes where nobody can type."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise BadInput(f"{what} needs --yes when there is no terminal to confirm on")
    typed = input(f"{what}: type {name!r} to confirm: ").strip()
    if typed != name:
        raise BadInput(f"confirmation did not match {name!r}: nothing done")


def describe_events(events: list[dict]) -> str:
    return describe(
        {
            "auditID": events[0]["audit_id"],
            "verb": events[0]["verb"],
            "user": events[0]["user"],
            "objectRef": events[0]["object_ref"],
            "stages": [
                {"seq": e["seq"], "stage": e["stage"], "timestamp": e["timestamp"], "annotations": e["annotations"]}
                for e in events
            ],
            "before": events[-1]["before"],
            "after": events[-1]["after"],
        }
    )


def _warn_rules(engine) -> None:
    if engine.rules_warning:
        print(f"mlops-console: warning: {engine.rules_warning}", file=sys.stderr)


def _new_rule(engine, args: argparse.Namespace, fmt: str) -> None:
    sigs = engine.signatures()
    key = args.from_signature
    if key.isdigit():
        if not 1 <= int(key) <= len(sigs):
            raise BadInput(f"--from-signature: there are {len(sigs)} unclassified signatures, not {key}")
        sig = sigs[int(key) - 1]["signature"]
    else:
        sig = key
    rule = engine.draft_rule(
        sig, rule_id=args.rule_id, category=args.category, action=args.rule_action, pattern=args.pattern
    )
    preview = engine.preview_rule(rule)
    out = {"rule": rule.to_dict(), "preview": preview, "saved": False, "file": engine.rules_file()}
    if args.yes:
        if engine.read_only:
            raise Forbidden("read-only: saving a rule changes the user rule file (run without --read-only)")
        engine.add_rule(rule)
        out["saved"] = True
    if fmt == "json":
        print(json.dumps(out, indent=2))
        return
    from autofix.rules import rule_to_toml

    sys.stdout.write(strip_control(rule_to_toml(rule)))
    shadows = ", ".join(f"{k} ({v})" for k, v in preview["shadows"].items()) or "none"
    print(f"# would classify {preview['matches']} of {preview['failures']} past failures; shadows: {shadows}")
    print(f"# saved to {out['file']}" if out["saved"] else "# not saved: add --yes to append it to " + out["file"])
