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

from console.output import emit
from core import clock
from core.errors import BadInput, ConsoleError, Forbidden
from core.sanitize import strip_control
from core.types import object_name, to_dict
from screens.describe import describe

FORMATS = ("table", "json", "jsonl")


def _global_options(parser: argparse.ArgumentParser, suppress: bool, own_seed: bool = False) -> None:
    """Global options, accepted before or after the subcommand. Under a subcommand their defaults are
    SUPPRESS so that an option given before the subcommand is not reset by the subparser. `own_seed`:
    the subcommand's --seed is its own (autofix evaluate's world), the estate's goes before it."""
    d = argparse.SUPPRESS if suppress else None
    g = parser.add_argument_group("global options")
    g.add_argument(
        "--home",
        metavar="DIR",
        default=d,
        help="where the store lives (env MLOPS_CONSOLE_HOME; default: the XDG data dir)",
    )
    g.add_argument(
        "--config",
        metavar="FILE",
        default=d,
        help="config file (env MLOPS_CONSOLE_CONFIG; default: the XDG config dir's config.toml)",
    )
    g.add_argument("--demo", action="store_true", default=d, help="run on the embedded demo estate (the simulator)")
    g.add_argument("--read-only", action="store_true", default=d, help="view only: no action can change anything")
    if not own_seed:
        g.add_argument("--seed", type=int, metavar="N", default=d, help="simulator seed for a new estate (default 42)")
    g.add_argument(
        "--scale",
        metavar="nodes=N,jobs=M",
        default=d,
        help="size of a new simulated estate, e.g. nodes=10000,jobs=100000",
    )
    g.add_argument("--as", dest="user", metavar="USER", default=d, help="act as USER in the audit record")


def _fmt(parser: argparse.ArgumentParser, choices: Sequence[str] = FORMATS, default: str = "table") -> None:
    parser.add_argument("--format", "-o", choices=choices, default=default, help=f"output format (default {default})")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mlops-console", description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _global_options(p, suppress=False)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def leaf(parent, name: str, help: str, own_seed: bool = False) -> argparse.ArgumentParser:
        sp = parent.add_parser(name, help=help, description=help)
        _global_options(sp, suppress=True, own_seed=own_seed)
        return sp

    leaf(sub, "tui", "open the terminal UI (the default)")
    leaf(sub, "version", "print versions, store schema, backend and home")

    nodes = sub.add_parser("nodes", help="cluster nodes").add_subparsers(dest="action", metavar="ACTION", required=True)
    sp = leaf(nodes, "list", "list nodes")
    sp.add_argument("--pool", help="only this node pool")
    _fmt(sp)
    for verb, text in (("cordon", "mark nodes unschedulable"), ("uncordon", "mark nodes schedulable again")):
        sp = leaf(nodes, verb, text)
        sp.add_argument("names", nargs="+", metavar="NAME")
    sp = leaf(nodes, "drain", "cordon nodes and evict their pods (honours disruption budgets, retries 429s)")
    sp.add_argument("names", nargs="+", metavar="NAME")
    sp.add_argument("--grace-period", type=int, default=30, metavar="SECONDS")
    sp.add_argument("--ignore-daemonsets", action="store_true")
    sp.add_argument("--delete-emptydir-data", action="store_true")
    sp.add_argument("--timeout", default="120s", metavar="DURATION", help="give up after this long (default 120s)")
    sp.add_argument("--yes", action="store_true", help="no confirmation for several nodes")
    sp = leaf(nodes, "label", "add (key=value) or remove (key-) labels, kubectl's syntax")
    sp.add_argument("name", metavar="NAME")
    sp.add_argument("changes", nargs="+", metavar="key=value|key-")
    sp = leaf(nodes, "taint", "add (key=value:Effect) or remove (key- or key:Effect-) taints, kubectl's syntax")
    sp.add_argument("name", metavar="NAME")
    sp.add_argument("changes", nargs="+", metavar="key=value:Effect|key-")
    sp = leaf(nodes, "apply-config", "move a pool to another node-config version, in batches")
    sp.add_argument("pool", metavar="POOL")
    sp.add_argument("version", metavar="VERSION")
    sp.add_argument("--max-unavailable", type=int, default=1, metavar="N", help="nodes changed at once (default 1)")
    sp.add_argument("--no-drain", action="store_true", help="do not drain before the change")
    sp.add_argument("--yes", action="store_true", help="no confirmation (required without a terminal)")
    _fmt(sp, ("table", "json"))
    _fmt(leaf(nodes, "drift", "nodes whose observed config differs from their pool's desired config"))

    ro = sub.add_parser("rollouts", help="model deployments and their rollouts").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    _fmt(leaf(ro, "list", "list model deployments with their revisions"))
    sp = leaf(ro, "start", "roll a model version out on a deployment in canary steps, with analysis")
    sp.add_argument("deployment", metavar="DEPLOYMENT")
    sp.add_argument("model", metavar="MODEL")
    sp.add_argument("version", type=int, metavar="VERSION")
    sp.add_argument("--steps", default="10,30,60,100", help="canary weights (default 10,30,60,100)")
    sp.add_argument("--pause", default="manual", help="after each step: manual (until promoted) or a duration like 5m")
    sp.add_argument(
        "--max-error-rate", type=float, help="success: error rate at most this (default max(1%%, 3x stable))"
    )
    sp.add_argument("--max-p99-ms", type=float, help="success: p99 latency at most this (default 1.5x stable)")
    sp.add_argument("--window", type=int, default=10, metavar="MINUTES", help="analysis window (default 10)")
    sp.add_argument("--failure-limit", type=int, default=2, help="bad measurements tolerated (default 2)")
    _fmt(sp, ("table", "json"))
    for verb, text in (
        ("promote", "pass the current pause: analyse, then the next step"),
        ("abort", "send all traffic back to the stable revision; the deployment is marked degraded"),
        ("status", "the deployment's revisions and its rollout's steps and analyses"),
    ):
        sp = leaf(ro, verb, text)
        sp.add_argument("deployment", metavar="DEPLOYMENT")
        _fmt(sp, ("table", "json"))
    sp = leaf(ro, "rollback", "a new revision serving what an earlier one served (kubectl rollout undo)")
    sp.add_argument("deployment", metavar="DEPLOYMENT")
    sp.add_argument("--to-revision", type=int, metavar="N")
    _fmt(sp, ("table", "json"))

    ops = sub.add_parser("ops", help="multi-step operations: pool config changes and rollouts").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    sp = leaf(ops, "list", "operations, newest first")
    sp.add_argument("--unfinished", action="store_true", help="only running, paused, interrupted or failed ones")
    _fmt(sp)
    for verb, text in (
        ("show", "an operation's exact state, step by step"),
        ("pause", "stop before the next batch"),
        ("resume", "carry on from where it stopped"),
        ("rollback", "undo every step it made"),
    ):
        sp = leaf(ops, verb, text)
        sp.add_argument("op_id", metavar="ID")
        _fmt(sp, ("table", "json"))

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

    sp = leaf(jobs, "signatures", "unclassified failures grouped by normalised signature, most frequent first")
    _fmt(sp)

    sp = leaf(sub, "classify", "classify log files with the rules: category, rule, action, evidence")
    sp.add_argument("paths", nargs="+", metavar="PATH", help="log files; - reads standard input")
    sp.add_argument(
        "--rules", metavar="FILE", help="use this rule file in place of the user's (built-in rules still apply)"
    )
    _fmt(sp)

    rules = sub.add_parser("rules", help="failure classification rules").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    _fmt(leaf(rules, "list", "the active rules in priority order (user's first, then built-in)"))
    sp = leaf(rules, "check", "run every rule's examples and counter-examples (exit 2 on any failure)")
    sp.add_argument("file", metavar="FILE")
    sp = leaf(rules, "test", "which rule of FILE classifies LOG, and which rules of FILE match it")
    sp.add_argument("file", metavar="FILE")
    sp.add_argument("log", metavar="LOG")
    _fmt(sp, ("table", "json"))
    sp = leaf(rules, "new", "propose a rule from an unclassified signature; --yes saves it to the user rule file")
    sp.add_argument(
        "--from-signature",
        required=True,
        metavar="N|TEXT",
        help="the signature: its rank in `jobs signatures` (1 = most frequent) or its exact text",
    )
    sp.add_argument("--id", dest="rule_id", metavar="ID", help="rule id (default: derived from the signature)")
    sp.add_argument("--category", default="user_code_error", help="taxonomy category (default user_code_error)")
    sp.add_argument(
        "--rule-action",
        dest="rule_action",
        choices=("retry", "retry_with_conf", "retry_later", "no_retry"),
        help="action (default: the category's)",
    )
    sp.add_argument("--pattern", metavar="REGEX", help="the regex (default: the one proposed from the signature)")
    sp.add_argument("--yes", action="store_true", help="save it (otherwise only show the preview)")
    _fmt(sp, ("table", "json"))

    af = sub.add_parser("autofix", help="auto-remediation: history, recommender, approvals").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    sp = leaf(af, "import", "keep history records (JSONL, one attempt per line) as the recommender's training data")
    sp.add_argument("file", metavar="FILE.jsonl")
    sp.add_argument("--strict", action="store_true", help="stop at the first bad line, importing nothing")
    _fmt(sp, ("table", "json"))
    sp = leaf(af, "history", "imported history: one line per imported file, or a job's records with --job")
    sp.add_argument("--job", metavar="JOB_ID", help="the imported records of this job, newest first")
    sp.add_argument("--limit", type=int, metavar="N", help="at most N records")
    _fmt(sp)
    sp = leaf(af, "train", "import history, train the retry recommender, register a new version")
    sp.add_argument("--history", required=True, metavar="FILE.jsonl")
    sp.add_argument("--train-seed", type=int, default=0, metavar="N")
    _fmt(sp, ("table", "json"), "json")
    sp = leaf(af, "recommend", "a decision for each failed attempt of FILE (history records)")
    sp.add_argument("file", metavar="FILE.jsonl")
    _fmt(sp, ("jsonl", "json"), "jsonl")
    sp = leaf(
        af, "evaluate", "judge the newest version on a held-out period of the simulator's Spark world", own_seed=True
    )
    sp.add_argument(
        "--seed",
        "--world-seed",
        dest="world_seed",
        type=int,
        default=7,
        metavar="N",
        help="the Spark world's seed (default 7); an estate seed goes before `autofix`",
    )
    _fmt(sp, ("table", "json"), "json")

    sp = leaf(af, "world", "print a history of the simulator's Spark world (JSONL), to train or try the recommender on")
    sp.add_argument("--world-seed", dest="world_seed", type=int, default=11, metavar="N")
    sp.add_argument("--jobs", type=int, default=150, metavar="N", help="recurring jobs (default 150)")
    sp.add_argument("--days", type=int, default=40, metavar="N", help="days of daily runs (default 40)")
    sp = leaf(af, "queue", "the approval queue: retry suggestions waiting for a decision (reads only)")
    sp.add_argument("--all", dest="everything", action="store_true", help="decided ones too, with their outcomes")
    _fmt(sp)
    _fmt(
        leaf(
            af, "reconcile", "queue suggestions for new failures, record finished retries' outcomes, apply the policies"
        ),
        ("table", "json"),
    )
    for name, what in (
        ("show", "one suggestion: failure, evidence, config diff, P(success), cost, alternatives, model"),
        ("approve", "submit the suggested retry to the backend (audited)"),
        ("reject", "decline a suggestion, with the reason"),
        ("edit", "change a suggestion's retry config before approving it (key=value, key- drops a key)"),
    ):
        sp = leaf(af, name, what)
        sp.add_argument("id", metavar="ID")
        _fmt(sp, ("yaml", "json"), "yaml")
        if name == "reject":
            sp.add_argument("--reason", required=True, metavar="TEXT")
        elif name == "edit":
            sp.add_argument("changes", nargs="+", metavar="KEY=VALUE|KEY-")

    models = sub.add_parser("models", help="model registry").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    sp = leaf(models, "list", "list registered model versions")
    sp.add_argument("--model", help="only this model")
    _fmt(sp)

    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    sp = leaf(audit, "list", "list audit events, newest first")
    sp.add_argument("--limit", type=int, metavar="N", help="at most N events")
    _fmt(sp)
    sp = leaf(audit, "show", "the events of one change (intent and outcome), with before and after")
    sp.add_argument("key", metavar="ID", help="seq or auditID (or a unique prefix)")
    _fmt(sp, ("yaml", "json"), "yaml")
    _fmt(leaf(audit, "verify", "check the hash chain; exit 1 naming the first bad record"), ("table", "json"))
    sp = leaf(audit, "rollback", "apply the inverse of a change (itself audited)")
    sp.add_argument("key", metavar="ID", help="seq or auditID of the change")
    sp.add_argument("--force", action="store_true", help="even if the object has changed since")
    _fmt(sp, ("table", "json"))
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
        print(
            f"mlops-console: internal error: {type(e).__name__}: {e} (set MLOPS_CONSOLE_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 1


def _settings(args: argparse.Namespace):
    from console import settings

    return settings.load(
        {k: getattr(args, k, None) for k in ("home", "config", "demo", "read_only", "seed", "scale", "user")}
    )


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    command = args.command or "tui"
    if command == "tui":
        from console.app import run_tui

        return run_tui(settings)

    from console.engine import Engine

    engine = Engine(settings)
    for op in engine.operations(unfinished=True):
        if op["state"] == "interrupted":
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
    emit([to_dict(n) | {"status": n.status} for n in engine.nodes(args.pool)], fmt, NODE_COLUMNS)


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
        engine.attempt_records(failed=True if args.failed else None, job_id=args.job, since=since, limit=args.limit),
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
    emit([to_dict(e) for e in engine.audit_events(args.limit)], fmt, AUDIT_COLUMNS)


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
    print(json.dumps(result, indent=2) if fmt == "json" else _trained_table(result))


def _recommend(engine, args, fmt: str) -> None:
    out = engine.recommend(args.file)
    if fmt == "json":
        print(json.dumps(out, indent=2))
    else:
        sys.stdout.write("".join(json.dumps(o) + "\n" for o in out))


def _evaluate(engine, args, fmt: str) -> None:
    result = engine.evaluate_recommender(args.world_seed)
    print(json.dumps(result, indent=2) if fmt == "json" else _evaluation_table(result))


def _world(engine, args, fmt: str) -> None:
    for r in engine.world_history(args.world_seed, args.jobs, args.days):
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


def _models_list(engine, args, fmt: str) -> None:
    emit([to_dict(m) for m in engine.models(args.model)], fmt, MODEL_COLUMNS)


COMMANDS: dict[tuple[str, str | None], Callable[[Any, argparse.Namespace, str], None]] = {
    ("version", None): _version,
    ("nodes", "list"): _nodes_list,
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
    ("models", "list"): _models_list,
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
        f"world seed {result['seed']}: {result['fixable_memory_failures']} memory failures some config fixes "
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
    return "\n".join(lines)


def _progress(msg: str) -> None:
    print(strip_control(msg), file=sys.stderr, flush=True)


def _show(obj: Any, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(obj, indent=2, default=str))
    else:
        sys.stdout.write(strip_control(describe(json.loads(json.dumps(obj, default=str)))))


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


def _age(ts: str) -> str:
    return clock.age(ts)


NODE_COLUMNS = [
    ("NAME", lambda r: r["name"]),
    ("POOL", lambda r: r["pool"]),
    ("STATUS", lambda r: r["status"]),
    ("CPU", lambda r: r["cpu"]),
    ("MEM(GiB)", lambda r: r["memory_gib"]),
    ("GPU", lambda r: r["gpus"]),
    ("PODS", lambda r: r["pods"]),
    ("KUBELET", lambda r: r["kubelet_version"]),
    ("CONFIG", lambda r: r["config_version"]),
    ("AGE", lambda r: _age(r["created_at"])),
]
ROLLOUT_COLUMNS = [
    ("DEPLOYMENT", lambda r: f"{r['namespace']}/{r['name']}"),
    ("MODEL", lambda r: r["model"]),
    ("REVISION", lambda r: r["current_revision"]),
    (
        "VERSION",
        lambda r: next((v["model_version"] for v in r["revisions"] if v["number"] == r["current_revision"]), "-"),
    ),
    (
        "CANARY",
        lambda r: next(
            (f"r{v['number']} v{v['model_version']} {v['weight']}%" for v in r["revisions"] if v["status"] == "canary"),
            "-",
        ),
    ),
    ("READY", lambda r: f"{r['ready_replicas']}/{r['replicas']}"),
    ("STATUS", lambda r: r["status"]),
]
ATTEMPT_COLUMNS = [
    ("SUBMITTED", lambda r: r["submitted_at"]),
    ("JOB", lambda r: r["job_id"]),
    ("RUN", lambda r: r["run_id"]),
    ("ATTEMPT", lambda r: r["attempt"]),
    ("STATUS", lambda r: r["status"]),
    ("REASON", lambda r: r.get("reason")),
    ("EXIT", lambda r: r.get("exit_code")),
    ("RUNTIME(s)", lambda r: r["runtime_seconds"]),
    ("COST", lambda r: r["cost"]),
    ("CATEGORY", lambda r: r.get("category")),
    ("ACTION", lambda r: r.get("action")),
    ("RULE", lambda r: r.get("rule_id")),
    ("EVIDENCE", lambda r: (r.get("evidence") or "")[:100] or None),
]
SIGNATURE_COLUMNS = [
    ("#", lambda r: r["rank"]),
    ("COUNT", lambda r: r["count"]),
    ("LAST SEEN", lambda r: r["last_seen"]),
    ("JOBS", lambda r: ",".join(r["jobs"][:3]) + ("…" if len(r["jobs"]) > 3 else "")),
    ("SIGNATURE", lambda r: r["signature"][:120]),
]
CLASSIFY_COLUMNS = [
    ("PATH", lambda r: r["path"]),
    ("CATEGORY", lambda r: r["category"]),
    ("ACTION", lambda r: r["action"]),
    ("RULE", lambda r: r["rule_id"]),
    ("LINE", lambda r: r["evidence_line"]),
    ("EVIDENCE", lambda r: (r["evidence"] or "")[:100] or None),
]
RULE_COLUMNS = [
    ("#", lambda r: r["n"]),
    ("ID", lambda r: r["id"]),
    ("CATEGORY", lambda r: r["category"]),
    ("ACTION", lambda r: r["action"]),
    ("SOURCE", lambda r: r["source"].rsplit("/", 1)[-1]),
    ("DESCRIPTION", lambda r: r["description"][:80]),
]
MODEL_COLUMNS = [
    ("MODEL", lambda r: r["model"]),
    ("VERSION", lambda r: r["version"]),
    ("STAGE", lambda r: r["stage"]),
    ("FRAMEWORK", lambda r: r["framework"]),
    ("PARENT", lambda r: r["parent"]),
    ("SHA256", lambda r: r["sha256"][:12]),
    ("CREATED", lambda r: r["created_at"]),
]
DRIFT_COLUMNS = [
    ("NODE", lambda r: r["node"]),
    ("POOL", lambda r: r["pool"]),
    ("OBSERVED", lambda r: r["observed"]),
    ("DESIRED", lambda r: r["desired"]),
    ("CORDONED", lambda r: r["unschedulable"]),
]
OP_COLUMNS = [
    ("ID", lambda r: r["id"]),
    ("KIND", lambda r: r["kind"]),
    ("TARGET", lambda r: r["target"]),
    ("STATE", lambda r: r["state"]),
    ("PROGRESS", lambda r: ",".join(f"{k}={v}" for k, v in r["progress"].items())),
    ("USER", lambda r: r["user"]),
    ("UPDATED", lambda r: r["updated_at"]),
    ("ERROR", lambda r: (r["error"] or "")[:60] or None),
]
AUDIT_COLUMNS = [
    ("SEQ", lambda r: r["seq"]),
    ("TIME", lambda r: r["timestamp"]),
    ("USER", lambda r: r["user"]),
    ("VERB", lambda r: r["verb"]),
    ("OBJECT", lambda r: object_name(r["object_ref"])),
    ("STAGE", lambda r: r["stage"]),
    ("AUDIT ID", lambda r: r["audit_id"][:8]),
]
HISTORY_SOURCE_COLUMNS = [
    ("SOURCE", lambda r: r["source"]),
    ("RECORDS", lambda r: r["records"]),
    ("JOBS", lambda r: r["jobs"]),
    ("FAILED", lambda r: r["failed"]),
    ("FIRST", lambda r: r["first"]),
    ("LAST", lambda r: r["last"]),
    ("IMPORTED", lambda r: r["imported_at"]),
]
HISTORY_COLUMNS = [
    ("SUBMITTED", lambda r: r["submitted_at"]),
    ("JOB", lambda r: r["job_id"]),
    ("RUN", lambda r: r["run_id"]),
    ("ATTEMPT", lambda r: r["attempt"]),
    ("STATUS", lambda r: r["status"]),
    ("RUNTIME(s)", lambda r: r["runtime_seconds"]),
    ("COST", lambda r: r["cost"]),
    ("SOURCE", lambda r: r["source"]),
]
SUGGESTION_COLUMNS = [
    ("ID", lambda r: r["id"]),
    ("JOB", lambda r: r["job_id"]),
    ("RUN", lambda r: r["run_id"]),
    ("CATEGORY", lambda r: r["category"]),
    ("ACTION", lambda r: r["action"]),
    ("CHANGE", lambda r: r["change"] or None),
    ("P(OK)", lambda r: None if r["p_success"] is None else f"{r['p_success']:.2f}"),
    ("COST", lambda r: None if r["cost_increase"] is None else f"{r['cost_increase']:+.0%}"),
    ("MODEL", lambda r: r["model"]),
    ("STATUS", lambda r: r["status"]),
    ("OUTCOME", lambda r: r["outcome"] or ("running" if r["retry_run_id"] else None)),
]
