"""The resource views: Nodes, Rollouts, Jobs, Autofix queue, Models, Audit."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from core import clock
from core.types import object_name
from screens.base import Row, ViewScreen
from screens.widgets import safe_text, sparkline, status_text

JOB_ROWS_SHOWN = 5000  # newest attempts listed; the filter and the CLI reach the rest
EVIDENCE_SHOWN = 140  # characters of the evidence line in the table; `enter` and `l` show it whole


class NodesScreen(ViewScreen):
    VIEW = "nodes"
    TITLE = "Nodes"
    COLUMNS = ("NAME", "POOL", "STATUS", "PRESSURE", "CPU", "MEM GiB", "GPU", "PODS", "KUBELET", "CONFIG", "AGE")

    def fetch(self) -> list[Row]:
        engine = self.app.engine
        desired = {p["name"]: p["desired_config"] for p in engine.cluster.list_pools()}
        rows = []
        for n in engine.nodes():
            drift = n.config_version != desired.get(n.pool, n.config_version)
            rows.append((n.name, [
                safe_text(n.name), safe_text(n.pool), status_text(n.status),
                Text(",".join(n.pressure), "red") if n.pressure else Text("-", "dim"),
                f"{n.cpu_used:g}/{n.cpu}", f"{n.memory_used_gib:g}/{n.memory_gib}", n.gpus, n.pods,
                safe_text(n.kubelet_version),
                safe_text(n.config_version + (" ≠ pool" if drift else ""), "yellow" if drift else ""),
                clock.age(n.created_at)]))
        return rows

    def describe(self, key: str) -> str:
        return self.app.engine.describe_node(key)


class RolloutsScreen(ViewScreen):
    VIEW = "rollouts"
    TITLE = "Rollouts"
    COLUMNS = ("DEPLOYMENT", "MODEL", "REV", "VERSION", "CANARY", "READY", "STATUS", "REQ/S", "P99 ms", "ERR %")

    def compose_extra(self) -> ComposeResult:
        yield Static("", id="metrics")

    def fetch(self) -> list[Row]:
        engine = self.app.engine
        self.series = {}
        rows = []
        for d in engine.deployments():
            pts = engine.metrics(d.name, minutes=60)
            self.series[d.name] = pts
            last = pts[-1]
            active, canary = d.active, d.canary
            rows.append((d.name, [
                safe_text(f"{d.namespace}/{d.name}"), safe_text(d.model), d.current_revision,
                active.model_version if active else "-",
                Text(f"r{canary.number} v{canary.model_version} {canary.weight}%", "yellow") if canary else Text("-", "dim"),
                f"{d.ready_replicas}/{d.replicas}", status_text(d.status), f"{last.request_rate:.0f}",
                f"{last.p99_ms:.1f}", Text(f"{last.error_rate * 100:.2f}", "red" if last.error_rate > 0.01 else "")]))
        return rows

    def show_rows(self, rows: list[Row]) -> None:
        super().show_rows(rows)
        self._show_metrics()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_metrics()

    def _show_metrics(self) -> None:
        key = self.selected_key()
        pts = getattr(self, "series", {}).get(key or "")
        if not pts:
            return
        lines = Text()
        for label, values, fmt in (("req/s ", [p.request_rate for p in pts], "{:.0f}"),
                                   ("p99 ms", [p.p99_ms for p in pts], "{:.1f}"),
                                   ("err % ", [p.error_rate * 100 for p in pts], "{:.2f}")):
            lines.append(f"{label} ", "bold")
            lines.append(sparkline(values), "cyan")
            lines.append(f"  now {fmt.format(values[-1])}  min {fmt.format(min(values))}  max {fmt.format(max(values))}\n")
        lines.append(f"last 60 min of {key}", "dim")
        self.query_one("#metrics", Static).update(lines)

    def describe(self, key: str) -> str:
        return self.app.engine.describe_deployment(key)


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
        return self.app.engine.describe_attempt(key)

    def action_log(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.app.open_log(key)


CATEGORY_STYLES = {"memory_exceeded": "magenta", "unclassified": "bold yellow", "user_code_error": "cyan",
                   "permission_denied": "red", "gpu_failure": "bright_red", "node_lost": "blue"}


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

    def fetch(self) -> list[Row]:
        engine = self.app.engine
        records = engine.attempt_records(failed=True if self.failed_only else None, limit=JOB_ROWS_SHOWN)
        self.TITLE = "Failed job attempts" if self.failed_only else "Job attempts"
        if engine.rules_warning:
            self.app.call_from_thread(self.app.notify, engine.rules_warning, title="rules", severity="warning",
                                      markup=False)
        rows = []
        for r in records:
            cat = r.get("category")
            evidence = (r.get("evidence") or _last_line(r.get("log_tail")))[:EVIDENCE_SHOWN]
            rows.append((r["run_id"], [
                r["submitted_at"][5:16].replace("T", " "), safe_text(r["job_id"]), safe_text(r["run_id"]),
                safe_text(cat, CATEGORY_STYLES.get(cat or "", "")) if cat else Text("-", "dim"),
                safe_text(r.get("action") or "-"), safe_text(evidence), safe_text(r.get("rule_id") or "-", "dim"),
                r["attempt"], status_text(r["status"])]))
        return rows

    def action_signatures(self) -> None:
        self.app.push_screen(SignaturesScreen())

    def action_toggle_failed(self) -> None:
        self.failed_only = not self.failed_only
        self.refresh_data()


class AutofixScreen(AttemptsView):
    VIEW = "autofix"
    TITLE = "Autofix queue"
    COLUMNS = ("SUBMITTED", "JOB", "RUN", "REASON", "EXIT", "STATE", "LAST LOG LINE")

    def fetch(self) -> list[Row]:
        candidates = self.app.engine.retry_candidates()
        self.TITLE = f"Autofix queue: 0 suggestions; {len(candidates)} failed attempts (24h) not retried"
        return [(a.run_id, [
            a.submitted_at[:16].replace("T", " "), safe_text(a.job_id), safe_text(a.run_id), safe_text(a.reason),
            a.exit_code, Text("awaiting triage", "yellow"), safe_text(_last_line(a.log_tail), "dim")])
            for a in candidates]


class SignaturesScreen(ViewScreen):
    """Unclassified failures grouped by normalised signature; `n` turns one into a rule."""

    VIEW = "signatures"
    TITLE = "Unclassified signatures"
    COLUMNS = ("#", "COUNT", "LAST SEEN", "JOBS", "SIGNATURE")
    BINDINGS = [Binding("n", "new_rule", "New rule", id="new_rule")]

    def fetch(self) -> list[Row]:
        self.groups = {g["signature"]: g for g in self.app.engine.signatures()}
        self.TITLE = f"Unclassified signatures ({sum(g['count'] for g in self.groups.values())} failures)"
        return [(sig, [n, g["count"], g["last_seen"][:16].replace("T", " "),
                       safe_text(", ".join(g["jobs"][:3]) + (" …" if len(g["jobs"]) > 3 else "")), safe_text(sig)])
                for n, (sig, g) in enumerate(self.groups.items(), start=1)]

    def describe(self, key: str) -> str:
        from core.describe import describe
        g = self.groups[key]
        return describe({k: g[k] for k in ("signature", "count", "jobs", "last_seen", "example", "regex")}
                        | {"run_ids": g["run_ids"][:20]})

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
        return [(f"{m.model}:{m.version}", [
            safe_text(m.model), m.version, status_text(m.stage), safe_text(m.framework), safe_text(m.parent),
            m.metrics.get("auc", "-"), m.sha256[:12], m.created_at[:16].replace("T", " ")])
            for m in self.app.engine.models()]

    def describe(self, key: str) -> str:
        model, _, version = key.rpartition(":")
        return self.app.engine.describe_model(model, int(version))


class AuditScreen(ViewScreen):
    VIEW = "audit"
    TITLE = "Audit trail"
    COLUMNS = ("SEQ", "TIME", "USER", "VERB", "OBJECT", "STAGE", "AUDIT ID")

    def fetch(self) -> list[Row]:
        return [(str(e.seq), [
            e.seq, e.timestamp.replace("T", " ")[:19], safe_text(e.user), safe_text(e.verb),
            safe_text(object_name(e.object_ref)), safe_text(e.stage), e.audit_id[:8]])
            for e in self.app.engine.audit_events(limit=5000)]

    def describe(self, key: str) -> str:
        return self.app.engine.describe_audit(int(key))
