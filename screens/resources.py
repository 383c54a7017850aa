"""The resource views: Nodes, Rollouts, Jobs, Autofix queue, Models, Audit."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from core import clock
from core.errors import ConsoleError
from core.types import object_name
from screens.base import Page, Row, ViewScreen
from screens.describe import describe, describe_change
from screens.widgets import counted, safe_text, sparkline, status_text

JOB_ROWS_SHOWN = 5000  # newest attempts listed; the filter and the CLI reach the rest
CHANGE_SHOWN = 48  # characters of a suggestion's change in the table; `enter` and `a` show it whole
EVIDENCE_SHOWN = 140  # characters of the evidence line in the table; `enter` and `l` show it whole


class NodesScreen(ViewScreen):
    VIEW = "nodes"
    TITLE = "Nodes"
    COLUMNS = ("NAME", "POOL", "STATUS", "PRESSURE", "CPU", "MEM GiB", "GPU", "PODS", "KUBELET", "CONFIG", "AGE")
    MARKABLE = True
    BINDINGS = [
        Binding("c", "cordon", "Cordon", id="cordon"),
        Binding("u", "uncordon", "Uncordon", id="uncordon"),
        Binding("r", "drain", "Drain", id="drain"),
        Binding("l", "labels", "Labels", id="labels"),
        Binding("t", "taints", "Taints", id="taints"),
        Binding("a", "apply_config", "Pool config", id="apply_config"),
        Binding("d", "toggle_drift", "Drift", id="toggle_drift"),
    ]
    ROLE_ACTIONS = {
        "cordon": "cordon",
        "uncordon": "uncordon",
        "drain": "drain",
        "labels": "label",
        "taints": "taint",
        "apply_config": "apply-config",
    }

    def __init__(self) -> None:
        super().__init__()
        self.drift_only = False
        self.pools: dict[str, str] = {}  # node -> its pool
        self.desired: dict[str, str] = {}  # pool -> its desired node config

    def fetch(self) -> Page:
        engine = self.app.engine
        desired = {p.name: p.desired_config for p in engine.pools()}
        pools = {}
        rows = []
        for n in engine.nodes():
            pools[n.name] = n.pool
            drift = n.config_version != desired.get(n.pool, n.config_version)
            if self.drift_only and not drift:
                continue
            rows.append(
                (
                    n.name,
                    [
                        safe_text(n.name),
                        safe_text(n.pool),
                        status_text(n.status),
                        Text(",".join(n.pressure), "red") if n.pressure else Text("-", "dim"),
                        f"{n.cpu_used:g}/{n.cpu}",
                        f"{n.memory_used_gib:g}/{n.memory_gib}",
                        n.gpus,
                        n.pods,
                        safe_text(n.kubelet_version),
                        safe_text(
                            n.config_version + (f" ≠ {desired[n.pool]}" if drift else ""), "yellow" if drift else ""
                        ),
                        clock.age(n.created_at),
                    ],
                )
            )
        return Page(
            rows,
            "Nodes whose config differs from their pool's (drift)" if self.drift_only else "Nodes",
            {"pools": pools, "desired": desired},
        )

    def describe(self, key: str) -> str:
        return describe(self.app.engine.node_details(key))

    def action_cordon(self, on: bool = True) -> None:
        names = self.targets()
        if not names:
            return
        from screens.dialogs import ConfirmScreen

        verb = "cordon" if on else "uncordon"
        # the nodes by name: marks made under a filter since cleared are off screen, and a cordon of many
        # nodes takes capacity away
        shown = names[:8] + ([f"… and {len(names) - 8} more"] if len(names) > 8 else [])
        what = "no new pods will be scheduled on them" if on else "they take new pods again"
        self.app.push_screen(
            ConfirmScreen(f"{verb.capitalize()} {_count(names)}?", "\n".join([*shown, what]), danger=on),
            lambda ok: (
                ok
                and self.perform(f"{verb} {_count(names)}", lambda: f"{len(self.app.engine.cordon(names, on))} changed")
            ),
        )

    def action_uncordon(self) -> None:
        self.action_cordon(on=False)

    def action_drain(self) -> None:
        names = self.targets()
        if not names:
            return
        from screens.dialogs import FormScreen

        def go(values: dict | None) -> None:
            if values is None:
                return
            engine = self.app.engine
            # a bad number is refused before anything changes, and said by the app's one error handler
            self.perform(
                f"drain {_count(names)}",
                lambda: ", ".join(
                    f"{len(r['evicted'])} pods evicted" for r in engine.drain(names, engine.drain_options(values))
                ),
            )

        self.app.push_screen(
            FormScreen(
                f"Drain {_count(names)}",
                [
                    ("grace_seconds", "grace period (s)", "30"),
                    ("timeout", "timeout (s)", "120"),
                    ("ignore_daemonsets", "ignore DaemonSet pods", True),
                    ("delete_emptydir_data", "delete emptyDir data", False),
                ],
                note="cordons, then evicts every pod through the Eviction API (disruption budgets honoured)"
                + ("" if len(names) == 1 else ": " + ", ".join(names[:8]) + (" …" if len(names) > 8 else "")),
                type_to_confirm=str(len(names)) if len(names) > 1 else None,
            ),
            go,
        )

    def _edit(self, what: str, example: str, apply) -> None:
        names = self.targets()
        if not names:
            return
        from screens.dialogs import FormScreen

        def go(values: dict | None) -> None:
            if values and str(values["changes"]).strip():
                words = str(values["changes"]).split()
                self.perform(f"{what} {_count(names)}", lambda: [apply(n, words) for n in names] and "done")

        self.app.push_screen(
            FormScreen(f"{what.capitalize()} on {_count(names)}", [("changes", f"kubectl syntax, e.g. {example}", "")]),
            go,
        )

    def action_labels(self) -> None:
        self._edit("labels", "team=ml env-", self.app.engine.label_words)

    def action_taints(self) -> None:
        self._edit("taints", "dedicated=ml:NoSchedule gpu-", self.app.engine.taint_words)

    def action_apply_config(self) -> None:
        key = self.selected_key()
        if key is None:
            return
        pool = self.pools.get(key, "")
        desired = self.desired.get(pool, "")  # as of the last refresh: the form's default, which the operator checks
        from screens.dialogs import FormScreen

        def go(values: dict | None) -> None:
            if values is None:
                return
            try:
                batch = int(str(values["max_unavailable"]))
            except ValueError:
                self.app.notify("max unavailable must be a whole number", severity="error")
                return
            self.perform(
                f"pool {pool} → {values['version']}",
                lambda: _op_summary(
                    self.app.engine.apply_config(pool, str(values["version"]).strip(), batch, bool(values["drain"]))
                ),
            )

        self.app.push_screen(
            FormScreen(
                f"Change the node config of pool {pool}",
                [
                    ("version", "node-config version (the pool's desired one converges drifted nodes)", desired),
                    ("max_unavailable", "nodes at a time (max unavailable)", "1"),
                    ("drain", "drain each node first", True),
                ],
                note="in batches; stops on the first failure; `:ops` shows it, to resume or roll back",
                type_to_confirm=pool,
            ),
            go,
        )

    def action_toggle_drift(self) -> None:
        self.drift_only = not self.drift_only
        self.refresh_data()


def _count(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{len(names)} nodes"


def _op_summary(op: dict) -> str:
    return f"operation {op['id']} {op['state']}" + (f": {op['error']}" if op.get("error") else "")


class RolloutsScreen(ViewScreen):
    VIEW = "rollouts"
    TITLE = "Rollouts"
    BINDINGS = [
        Binding("n", "start", "New rollout", id="start"),
        Binding("p", "promote", "Promote", id="promote"),
        Binding("a", "abort", "Abort", id="abort"),
        Binding("b", "rollback", "Rollback", id="rollback"),
    ]
    ROLE_ACTIONS = {
        "start": "rollout-start",
        "promote": "rollout-promote",
        "abort": "rollout-abort",
        "rollback": "rollout-rollback",
    }
    COLUMNS = ("DEPLOYMENT", "MODEL", "REV", "VERSION", "CANARY", "READY", "STATUS", "REQ/S", "P99 ms", "ERR %")

    def __init__(self) -> None:
        super().__init__()
        self.series: dict[str, list] = {}  # deployment -> its last hour of metrics
        self.analyses: dict[str, dict] = {}  # deployment -> its latest rollout's analysis

    def compose_extra(self) -> ComposeResult:
        yield Static("", id="metrics")

    def fetch(self) -> Page:
        engine = self.app.engine
        series = {}
        analyses = {}
        for op in engine.operations():
            dep_name = op["target"].removeprefix("deployment/")
            if op["kind"] == "rollout" and dep_name not in analyses:
                analyses[dep_name] = {"state": op["state"], "results": op.get("results") or []}
        rows = []
        for d in engine.deployments():
            pts = engine.metrics(d.name, minutes=60)
            series[d.name] = pts
            last = pts[-1]
            active, canary = d.active, d.canary
            rows.append(
                (
                    d.name,
                    [
                        safe_text(f"{d.namespace}/{d.name}"),
                        safe_text(d.model),
                        d.current_revision,
                        active.model_version if active else "-",
                        Text(f"r{canary.number} v{canary.model_version} {canary.weight}%", "yellow")
                        if canary
                        else Text("-", "dim"),
                        f"{d.ready_replicas}/{d.replicas}",
                        status_text(d.status),
                        f"{last.request_rate:.0f}",
                        f"{last.p99_ms:.1f}",
                        Text(f"{last.error_rate * 100:.2f}", "red" if last.error_rate > 0.01 else ""),
                    ],
                )
            )
        return Page(rows, keep={"series": series, "analyses": analyses})

    def rows_shown(self) -> None:
        self._show_metrics()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_metrics()

    def _show_metrics(self) -> None:
        key = self.selected_key()
        pts = self.series.get(key or "")
        if not pts:
            return
        lines = Text()
        span = max(10, min(len(pts), self.size.width - 44))  # as many minutes as fit on one line
        pts = pts[-span:]
        for label, values, fmt in (
            ("req/s ", [p.request_rate for p in pts], "{:.0f}"),
            ("p99 ms", [p.p99_ms for p in pts], "{:.1f}"),
            ("err % ", [p.error_rate * 100 for p in pts], "{:.2f}"),
        ):
            lines.append(f"{label} ", "bold")
            lines.append(sparkline(values), "cyan")
            lines.append(
                f"  now {fmt.format(values[-1])}  min {fmt.format(min(values))}  max {fmt.format(max(values))}\n"
            )
        lines.append(f"last {len(pts)} min of {key}", "dim")
        analysis = self.analyses.get(key or "")
        if analysis:
            lines.append("\n")
            lines.append(f"rollout {analysis['state']}: ", "bold")
            for r in analysis["results"][-3:]:
                lines.append(
                    f"{r['weight']}% {'pass' if r['passed'] else 'FAIL'} ({r['summary']})  ",
                    "green" if r["passed"] else "bold red",
                )
        self.query_one("#metrics", Static).update(lines)

    def describe(self, key: str) -> str:
        return describe(self.app.engine.deployment_details(key))

    def action_promote(self) -> None:
        key = self.selected_key()
        if key:
            self.perform(f"promote {key}", lambda: _op_summary(self.app.engine.rollout_promote(key)))

    def action_abort(self) -> None:
        key = self.selected_key()
        if not key:
            return
        from screens.dialogs import ConfirmScreen

        self.app.push_screen(
            ConfirmScreen(
                f"Abort the rollout of {key}?",
                "all traffic goes back to the stable revision; the deployment is marked degraded",
            ),
            lambda ok: ok and self.perform(f"abort {key}", lambda: _op_summary(self.app.engine.rollout_abort(key))),
        )

    def action_rollback(self) -> None:
        key = self.selected_key()
        if not key:
            return
        from screens.dialogs import FormScreen

        def go(values: dict | None) -> None:
            if values is None:
                return
            text = str(values["revision"]).strip()
            rev = int(text) if text.isdigit() else None
            self.perform(
                f"rollback {key}",
                lambda: "revision {revision} serves {serves}".format(**self.app.engine.rollout_rollback(key, rev)),
            )

        self.app.push_screen(
            FormScreen(
                f"Roll {key} back",
                [("revision", "to revision (empty: the previous)", "")],
                note="a new revision serving what the old one served",
                type_to_confirm=key,
            ),
            go,
        )

    def action_start(self) -> None:
        key = self.selected_key()
        if not key:
            return
        engine = self.app.engine

        def read():
            dep = engine.deployment(key)
            return dep, [m.version for m in engine.models(dep.model)]

        self.gather(read, lambda found: self._start_form(key, *found))

    def _start_form(self, key: str, dep, versions: list[int]) -> None:
        engine = self.app.engine
        served = {r.model_version for r in dep.revisions}
        candidates = [v for v in versions if v not in served]
        from screens.dialogs import FormScreen

        def go(values: dict | None) -> None:
            if values is None:
                return
            text = str(values["version"]).strip()
            if not text.isdigit():
                self.app.notify(f"model version must be a whole number, got {text!r}", severity="error", markup=False)
                return
            version = int(text)

            def start() -> str:
                steps, pause = engine.parse_rollout(str(values["steps"]), str(values["pause"]))
                return _op_summary(
                    engine.rollout_start(
                        key, dep.model, version, steps, pause, {"window_minutes": 10, "failure_limit": 2}
                    )
                )

            self.perform(f"rollout {dep.model}:{version} on {key}", start)

        self.app.push_screen(
            FormScreen(
                f"Roll a version of {dep.model} out on {key}",
                [
                    (
                        "version",
                        f"model version (not yet served: {', '.join(map(str, candidates)) or 'none'})",
                        str(candidates[0]) if candidates else "",
                    ),
                    ("steps", "canary weights", "10,30,60,100"),
                    ("pause", "after each step: manual or a duration", "manual"),
                ],
                note="after each step the canary's error rate and p99 are analysed; a failure aborts",
            ),
            go,
        )


def _last_line(tail: str | None) -> str:
    if not tail:
        return ""
    # The last line that says something: skip JVM frames ("at …", "... 12 more") and blanks.
    lines = [ln.strip() for ln in tail.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith(("at ", "... "))]
    return lines[-1] if lines else ""


class AttemptsView(ViewScreen):
    """A table keyed by run id: `enter` describes the attempt, `l` opens its log."""

    BINDINGS = [Binding("l", "log", "Log", id="log")]

    def describe(self, key: str) -> str:
        return describe(self.app.engine.attempt_details(key))

    def action_log(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.app.open_log(key)


CATEGORY_STYLES = {
    "memory_exceeded": "magenta",
    "unclassified": "bold yellow",
    "user_code_error": "cyan",
    "permission_denied": "red",
    "gpu_failure": "bright_red",
    "node_lost": "blue",
}


class JobsScreen(AttemptsView):
    VIEW = "jobs"
    TITLE = "Job attempts"
    COLUMNS = ("WHEN", "JOB", "RUN", "CATEGORY", "ACTION", "EVIDENCE", "RULE", "ATT", "STATUS")
    BINDINGS = [
        Binding("f", "toggle_failed", "Failed/all", id="toggle_failed"),
        Binding("s", "signatures", "Signatures", id="signatures"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.failed_only = True
        self.built: dict[str, tuple[tuple, list]] = {}  # run id -> (what its row was built from, the row)

    def fetch(self) -> Page:
        engine = self.app.engine
        records = engine.attempt_records(failed=True if self.failed_only else None, limit=JOB_ROWS_SHOWN)
        if engine.rules_warning:
            self.app.call_from_thread(
                self.app.notify, engine.rules_warning, title="rules", severity="warning", markup=False
            )
        rows, built = [], {}
        for r in records:
            cat = r.get("category")
            source = (
                r["submitted_at"],
                r["job_id"],
                r["run_id"],
                cat,
                r.get("action"),
                r.get("evidence"),
                r.get("log_tail"),
                r.get("rule_id"),
                r["attempt"],
                r["status"],
            )
            last = self.built.get(r["run_id"])
            if last is not None and last[0] == source:
                cells = last[1]  # an attempt that has not changed keeps its row: a refresh of thousands is cheap
            else:
                evidence = (r.get("evidence") or _last_line(r.get("log_tail")))[:EVIDENCE_SHOWN]
                cells = [
                    r["submitted_at"][5:16].replace("T", " "),
                    safe_text(r["job_id"]),
                    safe_text(r["run_id"]),
                    safe_text(cat, CATEGORY_STYLES.get(cat or "", "")) if cat else Text("-", "dim"),
                    safe_text(r.get("action") or "-"),
                    safe_text(evidence),
                    safe_text(r.get("rule_id") or "-", "dim"),
                    r["attempt"],
                    status_text(r["status"]),
                ]
            built[r["run_id"]] = (source, cells)
            rows.append((r["run_id"], cells))
        # the cluster's own attempts: imported history is training data, listed by `autofix history`
        what = "Failed job attempts" if self.failed_only else "Job attempts"
        return Page(rows, f"{what} on {engine.backend_name}", {"built": built})

    def action_signatures(self) -> None:
        self.app.push_screen(SignaturesScreen())

    def action_toggle_failed(self) -> None:
        self.failed_only = not self.failed_only
        self.refresh_data()


class AutofixScreen(AttemptsView):
    """The approval queue: `a` approves (the retry goes to the backend, audited), `e` edits its config,
    `x` rejects with a reason; `enter` shows the failure, evidence, diff, alternatives and model."""

    VIEW = "autofix"
    TITLE = "Autofix queue"
    # the change last: it is the long one, and P(OK), cost and status must stay in view at 120 columns
    COLUMNS = ("ID", "JOB", "RUN", "CATEGORY", "ACTION", "P(OK)", "COST", "STATUS", "MODEL", "CHANGE")
    BINDINGS = [
        Binding("a", "approve", "Approve", id="approve"),
        Binding("e", "edit", "Edit", id="edit"),
        Binding("x", "reject", "Reject", id="reject"),
        Binding("h", "toggle_history", "Decided", id="toggle_history"),
        Binding("T", "train", "Train on sim", id="train"),
    ]
    ROLE_ACTIONS = {"approve": "approve", "edit": "edit", "reject": "reject", "train": "recommender-train"}

    def __init__(self) -> None:
        super().__init__()
        self.everything = False
        self.items: dict[str, object] = {}

    def fetch(self) -> Page:
        # a read: the app's reconcile (console/app.py) is what fills the queue, on its own schedule
        engine = self.app.engine
        items = engine.autofix_queue(self.everything)
        new, waiting = engine.failures_to_queue()
        pending = sum(s.status == "pending" for s in items)
        notes = [f"{pending} pending"]
        if waiting:
            notes.append(f"{waiting} wait for a trained recommender (T trains one)")
        if new - waiting:
            notes.append(f"{counted(new - waiting, 'new failure')} queued at the next reconcile")
        if engine.read_only:
            notes.append("read-only")
        title = "Autofix queue" + (" (with decided)" if self.everything else "") + ": " + ", ".join(notes)
        return Page(
            [
                (
                    str(s.id),
                    [
                        s.id,
                        safe_text(s.job_id),
                        safe_text(s.run_id),
                        safe_text(s.category, CATEGORY_STYLES.get(s.category, "")),
                        safe_text(s.action),
                        "-" if s.p_success is None else f"{s.p_success:.2f}",
                        "-" if s.cost_increase is None else f"{s.cost_increase:+.0%}",
                        status_text(s.status if not s.outcome else f"{s.status}: {s.outcome}"),
                        safe_text("v" + s.model.rsplit(":", 1)[-1] if s.model else "-", "dim"),
                        safe_text(_clip(s.change, CHANGE_SHOWN) or "-"),
                    ],
                )
                for s in items
            ],
            title,
            {"items": {str(s.id): s for s in items}},
        )

    def describe(self, key: str) -> str:
        return describe(self.app.engine.suggestion(key).to_dict())

    def action_log(self) -> None:
        s = self.items.get(self.selected_key() or "")
        if s is not None:
            self.app.open_log(s.run_id)

    def action_train(self) -> None:
        self.perform(
            "train the recommender on the simulator's Spark world (about 20 s)",
            lambda: f"retry-recommender v{self.app.engine.train_on_world()['version']} registered",
        )

    def action_toggle_history(self) -> None:
        self.everything = not self.everything
        self.refresh_data()

    def _pending(self):
        s = self.items.get(self.selected_key() or "")
        if s is None:
            return None
        if s.status != "pending":
            self.app.notify(f"suggestion {s.id} is already {s.status}", severity="warning", markup=False)
            return None
        return s

    def action_approve(self) -> None:
        s = self._pending()
        if s is None:
            return
        if s.action == "no_retry" or s.needs_an_edit:
            # the engine refuses these and says why (doomed; a config change nobody suggested): no dialog to
            # confirm what will not run
            self.perform(f"approve {s.id}", lambda: self.app.engine.approve(s.id))
            return
        from screens.dialogs import ConfirmScreen

        p = "" if s.p_success is None else f"P(success) {s.p_success:.2f}"
        cost = "" if s.cost_increase is None else f", cost {s.cost_increase:+.0%} vs. the failed config"
        body = (
            f"{s.job_id}: retry {s.run_id} ({s.category})\n"
            + (
                "\n".join(f"  {k}: {old or '(default)'} → {new or '(default)'}" for k, old, new in s.diff())
                or "  same config"
            )
            + (f"\n{p}{cost}" if p else "")
            + (f"\n{s.note}" if s.note else "")
        )

        def go(yes: bool | None) -> None:
            if yes:
                self.perform(f"approve {s.id}", lambda: f"retry {self.app.engine.approve(s.id).retry_run_id} submitted")

        self.app.push_screen(ConfirmScreen(f"Approve suggestion {s.id}?", body, danger=False), go)

    def action_edit(self) -> None:
        s = self._pending()
        if s is None:
            return
        from screens.dialogs import FormScreen

        current = " ".join(f"{k}={v}" for k, v in sorted(s.conf.items()) if v is not None)

        def go(values: dict | None) -> None:
            if values is None:
                return
            words = str(values["changes"]).split()
            self.perform(f"edit {s.id}", lambda: _edited(self.app.engine.edit_suggestion(s.id, words)))

        def problem(values: dict) -> str | None:
            try:
                self.app.engine.check_edit(s.id, str(values["changes"]).split())
            except ConsoleError as e:
                return str(e)
            return None

        self.app.push_screen(
            FormScreen(
                f"Edit the retry config of suggestion {s.id}",
                [("changes", "key=value … (key- drops a key)", current)],
                note=f"now: {s.change or 'same config'}; the edit is re-scored and stays pending",
                check=problem,
            ),
            go,
        )

    def action_reject(self) -> None:
        s = self._pending()
        if s is None:
            return
        from screens.dialogs import FormScreen

        def go(values: dict | None) -> None:
            if values is None:
                return
            reason = str(values["reason"])
            self.perform(f"reject {s.id}", lambda: self.app.engine.reject(s.id, reason).status)

        self.app.push_screen(
            FormScreen(
                f"Reject suggestion {s.id} ({s.run_id})",
                [("reason", "why (kept with the decision)", "")],
                check=lambda v: None if str(v["reason"]).strip() else "a rejection needs a reason",
            ),
            go,
        )


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _edited(s) -> str:
    p = "" if s.p_success is None else f"; P(success) {s.p_success:.2f}"
    return f"{s.change or 'same config'}{p}"


class SignaturesScreen(ViewScreen):
    """Unclassified failures grouped by normalised signature; `n` turns one into a rule."""

    VIEW = "signatures"
    TITLE = "Unclassified signatures"
    COLUMNS = ("#", "COUNT", "LAST SEEN", "JOBS", "SIGNATURE")
    BINDINGS = [Binding("n", "new_rule", "New rule", id="new_rule")]

    def __init__(self) -> None:
        super().__init__()
        self.groups: dict[str, dict] = {}

    def fetch(self) -> Page:
        groups = {g["signature"]: g for g in self.app.engine.signatures()}
        return Page(
            [
                (
                    sig,
                    [
                        n,
                        g["count"],
                        g["last_seen"][:16].replace("T", " "),
                        safe_text(", ".join(g["jobs"][:3]) + (" …" if len(g["jobs"]) > 3 else "")),
                        safe_text(sig),
                    ],
                )
                for n, (sig, g) in enumerate(groups.items(), start=1)
            ],
            f"Unclassified signatures ({sum(g['count'] for g in groups.values())} failures)",
            {"groups": groups},
        )

    def describe(self, key: str) -> str:
        g = self.groups[key]
        return describe(
            {k: g[k] for k in ("signature", "count", "jobs", "last_seen", "example", "regex")}
            | {"run_ids": g["run_ids"][:20]}
        )

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "new_rule" and self.app.engine.read_only:
            return False  # read-only: the action is not offered at all
        return True

    def action_new_rule(self) -> None:
        key = self.selected_key()
        if key is None or self.app.engine.read_only:
            return
        from screens.rule_editor import NewRuleScreen

        def saved(rule_id: str | None) -> None:
            if rule_id:
                self.refresh_data()

        self.app.push_screen(NewRuleScreen(key), saved)


class ModelsScreen(ViewScreen):
    VIEW = "models"
    TITLE = "Model registry"
    COLUMNS = ("MODEL", "VERSION", "STAGE", "FRAMEWORK", "PARENT", "AUC", "SHA256", "CREATED")

    def fetch(self) -> list[Row]:
        return [
            (
                f"{m.model}:{m.version}",
                [
                    safe_text(m.model),
                    m.version,
                    status_text(m.stage),
                    safe_text(m.framework),
                    safe_text(m.parent),
                    m.metrics.get("auc", "-"),
                    m.sha256[:12],
                    m.created_at[:16].replace("T", " "),
                ],
            )
            for m in self.app.engine.models()
        ]

    def describe(self, key: str) -> str:
        model, _, version = key.rpartition(":")
        return describe(self.app.engine.model_details(model, int(version)))


class AuditScreen(ViewScreen):
    VIEW = "audit"
    TITLE = "Audit trail"
    COLUMNS = ("SEQ", "TIME", "USER", "VERB", "OBJECT", "STAGE", "AUDIT ID")
    BINDINGS = [Binding("b", "rollback", "Rollback", id="rollback"), Binding("v", "verify", "Verify", id="verify")]
    ROLE_ACTIONS = {"rollback": "audit-rollback"}

    def fetch(self) -> Page:
        engine = self.app.engine
        v = engine.audit_verify()
        styles = {"Failed": "red", "RequestReceived": "dim"}
        return Page(
            [
                (
                    str(e.seq),
                    [
                        e.seq,
                        e.timestamp.replace("T", " ")[:19],
                        safe_text(e.user),
                        safe_text(e.verb),
                        safe_text(object_name(e.object_ref)),
                        safe_text(e.stage, styles.get(e.stage, "")),
                        e.audit_id[:8],
                    ],
                )
                for e in engine.audit_events(limit=5000)
            ],
            f"Audit trail — chain verified: {v.events} events"
            if v.ok
            else f"Audit trail — CHAIN BROKEN at seq {v.first_bad}: {v.reason}",
        )

    def describe(self, key: str) -> str:
        return describe_change(self.app.engine.change_details(key))

    def action_verify(self) -> None:
        """Verify the chain now and say what it found (the title says it too, after the refresh)."""
        self.gather(self.app.engine.audit_verify, self._verified)

    def _verified(self, v) -> None:  # a core.audit.Verdict
        if v.ok:
            self.app.notify(f"audit chain verified: {v.events} events", title="verify", markup=False)
        else:
            self.app.notify(
                f"CHAIN BROKEN at seq {v.first_bad}: {v.reason}",
                title="verify",
                severity="error",
                timeout=15,
                markup=False,
            )
        self.refresh_data()

    def action_rollback(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.gather(lambda: self.app.engine.audit_show(key), lambda events: self._ask_rollback(key, events))

    def _ask_rollback(self, key: str, events: list) -> None:
        what = f"{events[0].verb} of {object_name(events[0].object_ref)}"
        from screens.dialogs import ConfirmScreen

        def go(ok: bool, force: bool = False) -> None:
            if ok:
                self.perform(f"rollback of {what}", lambda: self._rollback(key, force, what))

        self.app.push_screen(
            ConfirmScreen(
                f"Roll back the {what}?", "writes the object back as it was before this change (itself audited)"
            ),
            go,
        )

    def _rollback(self, key: str, force: bool, what: str) -> str:
        from core.errors import Conflict

        try:
            r = self.app.engine.audit_rollback(key, force=force)
        except Conflict as e:
            self.app.call_from_thread(self._offer_force, key, str(e), what)
            return "refused"
        return f"restored {r['resource']} {r['name']}"

    def _offer_force(self, key: str, reason: str, what: str) -> None:
        from screens.dialogs import ConfirmScreen

        self.app.push_screen(
            ConfirmScreen("Roll back anyway?", reason, type_to_confirm="force"),
            lambda ok: ok and self.perform(f"forced rollback of {what}", lambda: self._rollback(key, True, what)),
        )


class OpsScreen(ViewScreen):
    """Multi-step operations (pool config changes, rollouts): their exact state, resume, roll back, pause."""

    VIEW = "ops"
    TITLE = "Operations"
    COLUMNS = ("ID", "KIND", "TARGET", "STATE", "PROGRESS", "USER", "UPDATED", "ERROR")
    BINDINGS = [
        Binding("R", "resume", "Resume", key_display="R", id="resume"),
        Binding("b", "rollback", "Rollback", id="rollback"),
        Binding("p", "pause", "Pause", id="pause"),
    ]
    ROLE_ACTIONS = {"resume": "op-resume-rollout", "rollback": "op-rollback", "pause": "op-pause"}
    STATES = {
        "interrupted": "bold yellow",
        "failed": "bold red",
        "running": "cyan",
        "paused": "yellow",
        "done": "green",
        "rolled_back": "dim",
    }

    def fetch(self) -> list[Row]:
        ops = self.app.engine.operations()
        return [
            (
                o["id"],
                [
                    o["id"],
                    o["kind"],
                    safe_text(o["target"]),
                    safe_text(o["state"], self.STATES.get(o["state"], "")),
                    ", ".join(f"{k} {v}" for k, v in o["progress"].items()),
                    safe_text(o["user"]),
                    o["updated_at"].replace("T", " ")[:19],
                    safe_text((o["error"] or "")[:80]),
                ],
            )
            for o in ops
        ]

    def describe(self, key: str) -> str:
        return describe(self.app.engine.operation(key))

    def action_resume(self) -> None:
        key = self.selected_key()
        if key:
            self.perform(f"resume {key}", lambda: _op_summary(self.app.engine.op_resume(key)))

    def action_pause(self) -> None:
        key = self.selected_key()
        if key:
            self.perform(f"pause {key}", lambda: _op_summary(self.app.engine.op_pause(key)))

    def action_rollback(self) -> None:
        key = self.selected_key()
        if key:
            self.gather(
                lambda: self.app.engine.operation(key)["target"], lambda target: self._ask_rollback(key, target)
            )

    def _ask_rollback(self, key: str, target: str) -> None:
        from screens.dialogs import ConfirmScreen

        self.app.push_screen(
            ConfirmScreen(
                f"Roll back operation {key} on {target}?",
                "every step it made is undone, newest first (each audited)",
                type_to_confirm=target.split("/", 1)[-1],
            ),
            lambda ok: ok and self.perform(f"rollback {key}", lambda: _op_summary(self.app.engine.op_rollback(key))),
        )
