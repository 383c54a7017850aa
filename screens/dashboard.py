"""Dashboard: cluster health, failing jobs, approvals, rollouts in flight, drift alerts — one glance."""

from __future__ import annotations

from rich.console import RenderableType
from rich.panel import Panel as RichPanel
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from core.types import Summary
from screens.widgets import ForwardWorkerErrors, counted, safe_text, sparkline, status_text


class DashboardScreen(ForwardWorkerErrors, Screen):
    """One widget holding a Rich grid of panels: six bordered widgets cost the first frame ~100 ms more
    (measured with bench/startup.py), for nothing a grid of Rich panels does not show as well."""

    VIEW = "dashboard"
    BINDINGS = [
        Binding("escape", "app.back", "Back", id="back"),
        Binding("ctrl+r", "refresh_now", "Refresh", show=False, id="refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.panels: list[tuple[str, RenderableType]] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="grid"):
            yield Static("loading…", id="board")
        yield Footer()

    def on_mount(self) -> None:
        # After the first frame is on the terminal (the app starts the load then, ConsoleApp.on_ready): a
        # loading thread started before holds the GIL while that frame is drawn.
        if getattr(self.app, "first_frame_shown", True):
            self.refresh_data()

    def on_screen_resume(self) -> None:
        if self.panels:  # the first load is on_mount's, or the first frame's
            self.refresh_data()

    def on_resize(self) -> None:
        narrow = self.size.width < 100
        if narrow != self.has_class("narrow"):  # restyling the whole screen costs ~50 ms: only on change
            self.set_class(narrow, "narrow")
            self._layout()

    def _layout(self) -> None:
        """Two columns of panels, or one on a narrow terminal."""
        if not self.panels:
            return
        cols = 1 if self.has_class("narrow") else 2
        grid = Table.grid(expand=True, padding=(0, 1))
        for _ in range(cols):
            grid.add_column(ratio=1)
        boxes = [
            RichPanel(body, title=title, title_align="left", border_style="blue", expand=True)
            for title, body in self.panels
        ]
        for i in range(0, len(boxes), cols):
            grid.add_row(*boxes[i : i + cols])
        self.query_one("#board", Static).update(grid)

    def action_refresh_now(self) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="refresh", exit_on_error=False)
    def _load(self) -> None:
        engine = self.app.engine
        summary = engine.summary()
        serving = []
        for d in engine.deployments():
            pts = engine.metrics(d.name, minutes=30)
            serving.append((d, pts))
        candidates = engine.failures_to_queue()
        self.app.call_from_thread(self.show, summary, serving, candidates)

    def show(self, s: Summary, serving: list, candidates: tuple[int, int]) -> None:
        # Cluster
        t = Table(box=None, expand=True, padding=(0, 1))
        for col in ("pool", "nodes", "ready", "cordoned", "gpus"):
            t.add_column(col, justify="left" if col == "pool" else "right")
        for name, p in sorted(s.pools.items()):
            t.add_row(
                safe_text(name),
                str(p["nodes"]),
                Text(str(p["ready"]), "green" if p["ready"] == p["nodes"] else "red"),
                str(p["cordoned"]),
                str(p["gpus"]),
            )
        head = Text.assemble(
            (
                f"{s.nodes_ready}/{s.nodes_total} nodes ready",
                "bold green" if s.nodes_ready == s.nodes_total else "bold yellow",
            ),
            f"  ·  {s.nodes_cordoned} cordoned  ·  {s.nodes_pressure} under pressure  ·  {s.gpus_total} GPUs\n",
            f"backend {s.backend}  ·  {counted(s.audit_events, 'audit event')}",
        )
        panels: list[tuple[str, RenderableType]] = [("Cluster", _group(head, t))]
        # Failing jobs
        ft = Table(box=None, expand=True, padding=(0, 1), show_header=True)
        for col in ("job", "run", "reason", "when"):
            ft.add_column(col, no_wrap=True, overflow="ellipsis")
        for f in s.failing_jobs[:8]:
            ft.add_row(safe_text(f["job_id"]), safe_text(f["run_id"]), safe_text(f["reason"]), f["submitted_at"][5:16])
        head = Text(
            f"{s.failed_24h} of {s.attempts_24h} attempts failed in 24h; "
            f"{len(s.failing_jobs)} job{'' if len(s.failing_jobs) == 1 else 's'} failing now",
            "bold red" if s.failing_jobs else "green",
        )
        panels.append(("Failing jobs (24h)", _group(head, ft)))
        # Serving
        st = Table(box=None, expand=True, padding=(0, 1))
        for col in ("deployment", "status", "req/s", "p99 ms", "err %"):
            st.add_column(col, no_wrap=True, overflow="ellipsis", min_width=len(col))
        st.add_column("req/s 20m", no_wrap=True, overflow="crop", max_width=20)
        for d, pts in serving:
            last = pts[-1]
            st.add_row(
                safe_text(d.name),
                status_text(d.status),
                f"{last.request_rate:.0f}",
                f"{last.p99_ms:.0f}",
                Text(f"{last.error_rate * 100:.2f}", "red" if last.error_rate > 0.01 else ""),
                Text(sparkline([p.request_rate for p in pts[-20:]]), "cyan"),
            )
        panels.append(("Serving", st))
        # Approvals
        panels.append(
            (
                "Approvals",
                Text.assemble(
                    (f"{s.pending_approvals} suggestions awaiting approval\n", "bold"), _to_queue(*candidates)
                ),
            )
        )
        # Rollouts
        panels.append(
            (
                "Rollouts in flight",
                Text("\n".join(s.rollouts_in_flight), "yellow") if s.rollouts_in_flight else Text("none", "dim"),
            )
        )
        # Drift
        panels.append(
            (
                "Drift alerts",
                Text("\n".join(f"▲ {a}" for a in s.drift_alerts), "yellow") if s.drift_alerts else Text("none", "dim"),
            )
        )
        self.panels = panels
        self._layout()
        self.app.data_shown()  # type: ignore[attr-defined]  # ConsoleApp's: the first view's data is up


def _group(*parts):
    from rich.console import Group

    return Group(*parts)


def _to_queue(new: int, waiting: int) -> str:
    """The Approvals panel's second line: what the next reconcile will queue, and what waits for a model."""
    failures = f"{new} new failure{'s' if new != 1 else ''} of the last 24h a retry may fix"
    if not new:
        return failures
    if waiting == new:
        return f"{failures}: memory failures, waiting for a trained recommender (:autofix, then T)"
    if waiting:
        return f"{failures} (the next reconcile queues {new - waiting}; {waiting} wait for a trained recommender)"
    return f"{failures} (the next reconcile queues them)"
