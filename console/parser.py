"""The command line's argument tree: every subcommand, its options and help (console/cli.py runs them)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import NoReturn

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
    g.add_argument(
        "--kubeconfig",
        metavar="FILE",
        default=d,
        help="a Kubernetes cluster's kubeconfig (env KUBECONFIG; default ~/.kube/config; none: the demo estate)",
    )
    g.add_argument("--context", metavar="NAME", default=d, help="the kubeconfig context (default: its current one)")
    g.add_argument(
        "--namespace", "-n", metavar="NS", default=d, help="the namespace (default: the context's, else 'default')"
    )
    g.add_argument(
        "--all-namespaces", "-A", action="store_true", default=d, help="pods, jobs and deployments of every namespace"
    )
    g.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        default=d,
        help="the TUI serves the console's own metrics for Prometheus on 127.0.0.1:PORT (setting metrics_port)",
    )


def _estate(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--estate",
        choices=("default", "other", "random"),
        default="default",
        help="the world's estate: the default one, the hungrier `other`, or `random` — ranges, physics "
        "(memory fraction, spilling, prices, …) and log dialect drawn from the world seed",
    )


def _fmt(parser: argparse.ArgumentParser, choices: Sequence[str] = FORMATS, default: str = "table") -> None:
    parser.add_argument("--format", "-o", choices=choices, default=default, help=f"output format (default {default})")


class _NotTheTui(Exception):
    pass


class _GlobalOnly(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _NotTheTui(message)


def parse_tui(argv: Sequence[str]) -> argparse.Namespace | None:
    """`mlops-console [global options]` (the TUI), read without building the whole tree of subcommands
    (~30 ms of the TUI's start). None when argv holds anything else — a subcommand, -h, a mistake — for
    build_parser() to read, and to explain."""
    p = _GlobalOnly(prog="mlops-console", add_help=False)
    _global_options(p, suppress=False)
    try:
        args, rest = p.parse_known_args(argv)
    except _NotTheTui:
        return None
    if rest:
        return None
    args.command = None
    return args


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mlops-console",
        description="Command line: `mlops-console` opens the TUI; subcommands print tables or JSON.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    sp = leaf(nodes, "show", "one node: conditions, capacity, labels, taints, its pods")
    sp.add_argument("name", metavar="NAME")
    _fmt(sp, ("yaml", "json"), "yaml")
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

    pods = sub.add_parser("pods", help="pods").add_subparsers(dest="action", metavar="ACTION", required=True)
    sp = leaf(pods, "list", "list pods (of every namespace the console reads), with their node and owner")
    sp.add_argument("--node", metavar="NODE", help="only the pods on this node")
    _fmt(sp)

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
    sp.add_argument("--force", action="store_true", help="roll out a version the gate refuses (admin; recorded)")
    _fmt(sp, ("table", "json"))
    for verb, text in (
        ("promote", "pass the current pause: analyse, then the next step"),
        ("abort", "send all traffic back to the stable revision; the deployment is marked degraded"),
        ("status", "the deployment's revisions and its rollout's steps and analyses"),
    ):
        sp = leaf(ro, verb, text)
        sp.add_argument("deployment", metavar="DEPLOYMENT")
        _fmt(sp, ("table", "json"))
    sp = leaf(ro, "scale", "run the deployment on N replicas (a canary keeps its share)")
    sp.add_argument("deployment", metavar="DEPLOYMENT")
    sp.add_argument("replicas", metavar="N", type=int)
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
    sp.add_argument("--jobs", type=int, default=200, metavar="N", help="the world's recurring jobs (default 200)")
    sp.add_argument("--days", type=int, default=40, metavar="N", help="days of its history (default 40)")
    _estate(sp)
    _fmt(sp, ("table", "json"), "json")

    sp = leaf(af, "world", "print a history of the simulator's Spark world (JSONL), to train or try the recommender on")
    sp.add_argument("--world-seed", dest="world_seed", type=int, default=11, metavar="N")
    sp.add_argument("--jobs", type=int, default=150, metavar="N", help="recurring jobs (default 150)")
    sp.add_argument("--days", type=int, default=40, metavar="N", help="days of daily runs (default 40)")
    sp.add_argument(
        "--before-held-out",
        action="store_true",
        help="only the runs before the period `autofix evaluate` judges on this world (same seed, --jobs, "
        "--days): the estate's own past, to train on",
    )
    _estate(sp)
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
    for name, what in (
        ("show", "one version: provenance, aliases, lineage (VERSION: a number or an alias)"),
        ("evaluate", "re-measure a version from its artifact: accuracy, size, CPU latency"),
        ("gate", "the evaluation gate as a CI/CD step: exit 0 only when every check passes"),
    ):
        sp = leaf(models, name, what)
        sp.add_argument("name", metavar="NAME")
        sp.add_argument("version", metavar="VERSION")
        if name == "gate":
            sp.add_argument("--tolerance", type=float, metavar="SHARE", help="accuracy it may lose (default 0.01)")
            sp.add_argument("--package", metavar="DIR", help="also check this package of it (models package)")
        _fmt(sp, ("yaml", "json"), "yaml")
    sp = leaf(models, "train", "train a model, register it as a candidate (deterministic for a seed)", own_seed=True)
    sp.add_argument("name", metavar="NAME", help="digits-cnn, cancer-mlp or retry-recommender")
    sp.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="e.g. epochs=20 lr=0.003")
    sp.add_argument(
        "--seed", dest="train_seed", type=int, default=0, metavar="N", help="the training's seed (default 0)"
    )
    sp.add_argument(
        "--data", metavar="FILE.csv", help="train on this CSV (its features and 'target') instead of the bundled data"
    )
    sp.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when torch sees one")
    sp.add_argument(
        "--here",
        action="store_true",
        help="on a Kubernetes backend, train on this machine rather than as a Job on the cluster",
    )
    sp.add_argument(
        "--data-window",
        dest="data_window",
        type=int,
        metavar="DAYS",
        help="retry-recommender: train on the last DAYS days of the console's history (default 45)",
    )
    _fmt(sp, ("yaml", "json"), "yaml")
    sp = leaf(models, "validate", "check training data against the production version's reference profile")
    sp.add_argument("name", metavar="NAME")
    sp.add_argument("--data", metavar="FILE.csv", help="default: the bundled data")
    _fmt(sp, ("yaml", "json"), "yaml")
    sp = leaf(models, "compress", "prune, fine-tune and int8-quantize a version into a child version")
    sp.add_argument("name", metavar="NAME")
    sp.add_argument("version", metavar="VERSION")
    sp.add_argument("--prune", type=float, metavar="RATIO", help="share of each layer's channels to remove (0..1)")
    sp.add_argument("--quantize", choices=("int8",), help="dynamic int8 of the Linear layers")
    sp.add_argument(
        "--target-latency",
        dest="target_latency",
        type=float,
        metavar="MS",
        help="the least pruning whose batch-64 latency, measured, is within MS",
    )
    _fmt(sp, ("yaml", "json"), "json")
    sp = leaf(models, "alias", "point an alias at a version (production and canary: through the gate)")
    sp.add_argument("name", metavar="NAME")
    sp.add_argument("alias", metavar="ALIAS")
    sp.add_argument("version", metavar="VERSION", nargs="?", help="omitted with --remove")
    sp.add_argument("--remove", action="store_true", help="remove the alias")
    sp.add_argument("--force", action="store_true", help="past a failing gate (admin; audited with the gate's report)")
    sp.add_argument("--reason", metavar="TEXT")
    _fmt(sp, ("yaml", "json"), "yaml")
    sp = leaf(models, "package", "write a container build context and Kubernetes manifests for a version")
    sp.add_argument("name", metavar="NAME")
    sp.add_argument("version", metavar="VERSION")
    sp.add_argument("directory", metavar="DIR", help="a new or empty directory")
    sp.add_argument(
        "--image", metavar="REF", help="the image the manifests run (default registry.local/models/NAME:VERSION)"
    )
    sp.add_argument(
        "--deploy-namespace",
        dest="deploy_namespace",
        default="default",
        metavar="NS",
        help="the manifests' namespace (default: default)",
    )
    _fmt(sp, ("yaml", "json"), "yaml")
    sp = leaf(models, "compare", "two versions side by side: params, metrics, lineage, data, code, environment")
    sp.add_argument("name", metavar="NAME")
    sp.add_argument("a", metavar="A")
    sp.add_argument("b", metavar="B")
    _fmt(sp, ("table", "json"), "table")

    from console.cli_monitoring import add_parsers, add_retrain_parser

    add_retrain_parser(models, leaf, _fmt)
    add_parsers(sub, leaf, _fmt)

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
