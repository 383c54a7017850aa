"""Dashboard: cluster health, failing jobs, approvals, rollouts in flight, drift alerts — one glance, and a way
in: a panel is selected (tab, arrows, a click) and `enter` opens its view."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel as RichPanel
from rich.table import Table
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.screen import Screen
from textual.widgets import Header, Static

from core import clock
from core.errors import MetricsUnavailable
from core.types import Summary
from screens.footer import KeyFooter
from screens.widgets import ForwardWorkerErrors, counted, safe_text, sparkline, status_text

NARROW = 100  # below this many columns, one column of panels (scrolled); from it, two
FAILING_SHOWN = 8  # failing jobs listed when the screen has no room to spare; more when it has
SPARK_MIN = 8  # a trend narrower than this is left out rather than squeezing the names


@dataclass(eq=False)
class Panel:
    """One panel of the board: what it shows, and the view `enter` opens from it."""

    key: str
    title: str
    view: str
    hint: str  # what `enter` opens, said in the selected panel's border
    body: Callable[[int, int], RenderableType]  # (inner width, list rows it may show) -> what it shows
    wide: bool = False  # a row of its own on a wide screen (tables whose names must not be cut)
    then: Callable[[Screen], None] | None = None  # what to do on the view once it is open
    rows: int = FAILING_SHOWN  # list rows it shows when the screen has no room to spare
    more: int = 0  # list rows it could show beyond `rows`, given the room


@dataclass
class _Placed:
    panel: Panel
    region: Region  # where it is drawn, in the board's coordinates
    row: int
    col: int


@dataclass
class _Layout:
    placed: list[_Placed] = field(default_factory=list)


class Board(Static, can_focus=True):
    """The panels, drawn as one Rich renderable (six bordered widgets cost the first frame ~100 ms more,
    measured with bench/startup.py), with one of them selected: the screen's keys move the selection
    and open the selected panel's view; a click selects, a double click opens. On a wide screen the
    panels share its height; on a narrow one they keep theirs and the board scrolls to the selected one."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.panels: list[Panel] = []
        self.selected = 0
        self.column = 0  # the column up and down keep to
        self.layout_ = _Layout()
        self.available_height = 0  # the rows the board may fill without scrolling (0: unknown)
        self._drawn_width = 0

    # -- what it shows ---------------------------------------------------------------------------------
    def show(self, panels: list[Panel]) -> None:
        keep = self.panels[self.selected].key if self.panels else None
        self.panels = panels
        self.selected = next((i for i, p in enumerate(panels) if p.key == keep), min(self.selected, len(panels) - 1))
        self.draw()

    @property
    def narrow(self) -> bool:
        return self.size.width < NARROW

    def draw(self) -> None:
        if not self.panels or not self.size.width:
            return
        width = self._drawn_width = self.size.width
        rows = self._rows(width)
        console = self.app.console

        shown = {p.key: p.rows for p in self.panels}  # list rows each shows, grown below if there is room

        def natural(p: Panel, w: int) -> int:
            lines = console.render_lines(self._box(p, w, None, shown[p.key], False), console.options.update_width(w))
            return len(lines)

        heights = [max(natural(p, w) for p, w in row) for row in rows]
        spare = self.available_height - sum(heights)
        # room to spare: first the lists that were cut short show more, then every row takes a share
        for r, row in enumerate(rows):
            for p, w in row:
                if spare > 0 and p.more:
                    shown[p.key] += min(spare, p.more)
                    before = heights[r]
                    heights[r] = max(heights[r], natural(p, w))
                    spare -= heights[r] - before
        if spare > 0:
            for r in range(len(heights)):
                heights[r] += spare // len(heights) + (1 if r < spare % len(heights) else 0)
        placed, parts, y = [], [], 0
        for r, row in enumerate(rows):
            x, boxes = 0, []
            for c, (p, w) in enumerate(row):
                boxes.append(self._box(p, w, heights[r], shown[p.key], p is self.panels[self.selected]))
                placed.append(_Placed(p, Region(x, y, w, heights[r]), r, c))
                x += w + 1
            if len(boxes) == 1:
                parts.append(boxes[0])
            else:
                grid = Table.grid(padding=(0, 1, 0, 0))
                for _p, w in row:
                    grid.add_column(width=w)
                grid.add_row(*boxes)
                parts.append(grid)
            y += heights[r]
        self.layout_ = _Layout(placed)
        self.update(Group(*parts))

    def _rows(self, width: int) -> list[list[tuple[Panel, int]]]:
        """The panels in rows, each with its width: one a row on a narrow screen; on a wide one two a row,
        except the wide ones, which take a row of their own."""
        if self.narrow:
            return [[(p, width)] for p in self.panels]
        half = (width - 1) // 2
        rows: list[list[tuple[Panel, int]]] = []
        pending: list[Panel] = []
        for p in self.panels:
            if p.wide:
                if pending:
                    rows.append([(pending[0], width)])
                    pending = []
                rows.append([(p, width)])
                continue
            pending.append(p)
            if len(pending) == 2:
                rows.append([(pending[0], half), (pending[1], width - 1 - half)])
                pending = []
        if pending:
            rows.append([(pending[0], width)])
        return rows

    @staticmethod
    def _box(p: Panel, width: int, height: int | None, rows: int, selected: bool) -> RichPanel:
        inner = max(1, width - 4)  # border and padding
        return RichPanel(
            p.body(inner, rows),
            title=Text(("▸ " if selected else "") + p.title, "bold" if selected else ""),
            title_align="left",
            subtitle=Text(f"enter: {p.hint}", "bold") if selected else None,
            subtitle_align="right",
            border_style="bold cyan" if selected else "blue",
            box=box.HEAVY if selected else box.ROUNDED,
            width=width,
            height=height,
        )

    # -- moving and opening ----------------------------------------------------------------------------
    def select(self, index: int, keep_column: bool = False) -> None:
        """Select the panel at `index` and scroll it into view. Up and down keep the column the selection
        was last put in (through the full-width rows); any other move sets it."""
        if not self.panels:
            return
        self.selected = max(0, min(len(self.panels) - 1, index))
        self.draw()
        here = next((pl for pl in self.layout_.placed if pl.panel is self.panels[self.selected]), None)
        if here is None:
            return
        if not keep_column:
            self.column = here.col
        if isinstance(self.parent, VerticalScroll):
            self.parent.scroll_to_region(here.region, animate=False, immediate=True)

    def action_move(self, direction: str) -> None:
        placed = self.layout_.placed
        if not placed:
            return
        now = next(pl for pl in placed if pl.panel is self.panels[self.selected])
        at = placed.index(now)
        if direction in ("next", "previous"):  # tab goes round, in reading order
            step = 1 if direction == "next" else -1
            self.select(self.panels.index(placed[(at + step) % len(placed)].panel))
        elif direction in ("left", "right"):  # within the row
            beside = [
                pl for pl in placed if pl.row == now.row and pl.col == now.col + (1 if direction == "right" else -1)
            ]
            if beside:
                self.select(self.panels.index(beside[0].panel))
        else:
            row = [pl for pl in placed if pl.row == now.row + (1 if direction == "down" else -1)]
            if row:
                best = next((pl for pl in row if pl.col == self.column), row[0])
                self.select(self.panels.index(best.panel), keep_column=True)

    def action_open(self) -> None:
        if not self.panels:
            return
        p = self.panels[self.selected]
        self.app.switch_view(p.view)  # type: ignore[attr-defined]  # ConsoleApp's
        if p.then is not None:
            p.then(self.app.screen)

    def on_click(self, event: events.Click) -> None:
        hit = next((pl for pl in self.layout_.placed if pl.region.contains(event.x, event.y)), None)
        if hit is None:
            return
        self.select(self.panels.index(hit.panel))
        if event.chain >= 2:
            self.action_open()

    def on_resize(self, event: events.Resize) -> None:
        # The board's height is its content's: drawing it resizes it. Only a new width changes the drawing
        # (the height it may fill is the screen's, which redraws on its own resize).
        if event.size.width != self._drawn_width:
            self.draw()


class DashboardScreen(ForwardWorkerErrors, Screen):
    VIEW = "dashboard"
    # priority: before the scrolling container's own arrows (the board is its only content)
    BINDINGS = [
        Binding("enter", "open", "Open view", id="open", priority=True),
        Binding("tab", "move('next')", "Next panel", show=False, id="next_panel", priority=True),
        Binding("shift+tab", "move('previous')", "Previous panel", show=False, id="previous_panel", priority=True),
        Binding("up,k", "move('up')", "Panel above", show=False, id="panel_up", priority=True),
        Binding("down,j", "move('down')", "Panel below", show=False, id="panel_down", priority=True),
        Binding("left,h", "move('left')", "Panel before", show=False, id="panel_left", priority=True),
        Binding("right,l", "move('right')", "Panel after", show=False, id="panel_right", priority=True),
        Binding("escape", "app.back", "Back", id="back"),
        Binding("ctrl+r", "refresh_now", "Refresh", show=False, id="refresh"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="grid"):
            yield Board("loading…", id="board")
        yield KeyFooter()

    @property
    def board(self) -> Board:
        return self.query_one(Board)

    def on_mount(self) -> None:
        self.board.focus()
        # After the first frame is on the terminal (the app starts the load then, ConsoleApp.on_ready): a
        # loading thread started before holds the GIL while that frame is drawn.
        if getattr(self.app, "first_frame_shown", True):
            self.refresh_data()

    def on_screen_resume(self) -> None:
        if self.board.panels:  # the first load is on_mount's, or the first frame's
            self.refresh_data()

    def on_resize(self) -> None:
        grid = self.query_one("#grid")
        self.board.available_height = grid.size.height
        narrow = self.size.width < NARROW
        if narrow != self.has_class("narrow"):  # restyling the whole screen costs ~50 ms: only on change
            self.set_class(narrow, "narrow")
        self.board.draw()

    def action_refresh_now(self) -> None:
        self.refresh_data()

    def action_move(self, direction: str) -> None:
        self.board.action_move(direction)

    def action_open(self) -> None:
        self.board.action_open()

    def refresh_data(self, force: bool = False) -> None:
        self._load()  # (always reads: the dashboard has no generation to compare)

    @work(thread=True, exclusive=True, group="refresh", exit_on_error=False)
    def _load(self) -> None:
        engine = self.app.engine
        summary = engine.summary()
        serving = []
        for d in engine.deployments():
            try:
                pts = engine.metrics(d.name, minutes=30)
            except MetricsUnavailable:  # the Alerts panel says why
                pts = []
            serving.append((d, pts))
        candidates = engine.failures_to_queue()
        self.app.call_from_thread(self.show, summary, serving, candidates)

    def show(self, s: Summary, serving: list, candidates: tuple[int, int]) -> None:
        board = self.board
        board.available_height = self.query_one("#grid").size.height
        board.show(panels(s, serving, candidates))
        self.app.data_shown()  # type: ignore[attr-defined]  # ConsoleApp's: the first view's data is up


def panels(s: Summary, serving: list, candidates: tuple[int, int]) -> list[Panel]:
    """The six panels, in reading order, each with the view it opens."""

    def cluster(width: int, _rows: int) -> RenderableType:
        t = Table(box=None, expand=True, padding=(0, 1))
        for col in ("pool", "nodes", "ready", "cordoned", "gpus"):
            t.add_column(col, justify="left" if col == "pool" else "right", no_wrap=col == "pool")
        for name, p in sorted(s.pools.items()):
            t.add_row(
                safe_text(name),
                str(p["nodes"]),
                Text(str(p["ready"]), "green" if p["ready"] == p["nodes"] else "red"),
                str(p["cordoned"]),
                f"{p['gpus_used']}/{p['gpus']}"
                if "gpus_used" in p and p["gpus"]
                else str(p["gpus"]),  # requested/alloc
            )
        head = Text.assemble(
            (
                f"{s.nodes_ready}/{s.nodes_total} nodes ready",
                "bold green" if s.nodes_ready == s.nodes_total else "bold yellow",
            ),
            f"  ·  {s.nodes_cordoned} cordoned  ·  {s.nodes_pressure} under pressure  ·  {s.gpus_total} GPUs\n",
            f"backend {s.backend}  ·  {counted(s.audit_events, 'audit event')}",
        )
        return Group(head, t)

    def failing(width: int, rows: int) -> RenderableType:
        ft = Table(box=None, expand=True, padding=(0, 1), show_header=True)
        shown = s.failing_jobs[:rows]
        for col, key in (("job", "job_id"), ("run", "run_id"), ("reason", "reason")):
            # whole where they fit: the job's name first, then the run's id
            longest = max([len(col)] + [len(f[key] or "") for f in shown])
            ft.add_column(col, no_wrap=True, overflow="ellipsis", min_width=longest if key != "reason" else None)
        ft.add_column("age", no_wrap=True, justify="right")
        for f in shown:
            ft.add_row(
                safe_text(f["job_id"]), safe_text(f["run_id"]), safe_text(f["reason"]), clock.age(f["submitted_at"])
            )
        head = Text(
            f"{s.failed_24h} of {s.attempts_24h} attempts failed in 24h; "
            f"{len(s.failing_jobs)} job{'' if len(s.failing_jobs) == 1 else 's'} failing now",
            "bold red" if s.failing_jobs else "green",
        )
        hidden = len(s.failing_jobs) - rows
        return Group(head, ft, *([Text(f"… {hidden} more in :jobs", "dim")] if hidden > 0 else []))

    def serving_(width: int, _rows: int) -> RenderableType:
        """Names whole; then the numbers; then, as room allows, the trend and the version each serves."""
        st = Table(box=None, padding=(0, 1))
        names = max([10] + [len(d.name) for d, _ in serving])
        serves = {d.name: f"{d.active.model} v{d.active.model_version}" if d.active else "-" for d, _ in serving}
        model_w = max([6] + [len(v) for v in serves.values()])
        states = {d.name: status_text(d.status) for d, _ in serving}
        status_w = max([6] + [t.cell_len for t in states.values()])
        st.add_column("deployment", no_wrap=True, min_width=names)
        room = width - (names + status_w + 5 + 6 + 5 + 2 * 5)  # the columns always shown, each padded by 2
        with_model = room >= model_w + 2 + SPARK_MIN + 2
        if with_model:
            st.add_column("serves", no_wrap=True, min_width=model_w)
            room -= model_w + 2
        st.add_column("status", no_wrap=True, min_width=status_w)
        for col in ("req/s", "p99 ms", "err %"):
            st.add_column(col, no_wrap=True, justify="right", min_width=len(col))
        spark = min(30, room - 2)
        if spark >= SPARK_MIN:
            st.add_column(f"req/s {spark}m", no_wrap=True, overflow="crop", width=spark)
        for d, pts in serving:
            cells = [safe_text(d.name)]
            if with_model:
                cells.append(safe_text(serves[d.name], "dim"))
            cells.append(states[d.name])
            if not pts:  # a backend whose serving metrics the console cannot read
                cells += ["-", "-", "-"]
                if spark >= SPARK_MIN:
                    cells.append(Text("no metrics", "dim"))
                st.add_row(*cells)
                continue
            last = pts[-1]
            cells += [
                f"{last.request_rate:.0f}",
                f"{last.p99_ms:.0f}",
                Text(f"{last.error_rate * 100:.2f}", "red" if last.error_rate > 0.01 else ""),
            ]
            if spark >= SPARK_MIN:
                cells.append(Text(sparkline([p.request_rate for p in pts[-spark:]]), "cyan"))
            st.add_row(*cells)
        return st

    def approvals(width: int, _rows: int) -> RenderableType:
        return Text.assemble((f"{s.pending_approvals} suggestions awaiting approval\n", "bold"), _to_queue(*candidates))

    def rollouts(width: int, _rows: int) -> RenderableType:
        if not s.rollouts_in_flight:
            return Text("none", "dim")
        return Text("\n".join(s.rollouts_in_flight), "yellow")

    def alerts(width: int, rows: int) -> RenderableType:
        lines = []
        if s.monitoring_problem:
            lines.append(safe_text(f"⚠ {s.monitoring_problem} (what shows may be stale)", "bold red"))
        for a in s.alerts[: max(1, rows)]:
            style = "bold red" if a["severity"] == "critical" else "yellow"
            lines.append(
                Text.assemble(
                    ("● ", style),
                    safe_text(a["alertname"], style),
                    " ",
                    safe_text(a["deployment"]),
                    "  ",
                    safe_text(a["summary"], "dim"),
                )
            )
        if len(s.alerts) > rows:
            lines.append(Text(f"… {len(s.alerts) - rows} more", "dim"))
        for line in s.model_drift:
            lines.append(Text.assemble(("▲ ", "yellow"), safe_text(line, "yellow")))
        if not lines:
            lines.append(
                Text("none firing", "dim")
                if s.alerts_configured
                else Text("no Alertmanager to read (alertmanager_url), no model drifting", "dim")
            )
        return Group(*lines)

    def drift(width: int, _rows: int) -> RenderableType:
        if not s.drift_alerts:
            return Text("none", "dim")
        return Text("\n".join(f"▲ {a}" for a in s.drift_alerts), "yellow")

    return [
        Panel("cluster", "Cluster", "nodes", ":nodes", cluster),
        Panel(
            "failing",
            "Failing jobs (24h)",
            "jobs",
            ":jobs",
            failing,
            rows=min(FAILING_SHOWN, len(s.failing_jobs)),
            more=max(0, len(s.failing_jobs) - FAILING_SHOWN),
        ),
        Panel("serving", "Serving", "rollouts", ":rollouts", serving_, wide=True),
        Panel("approvals", "Approvals", "autofix", ":autofix", approvals),
        Panel("rollouts", "Rollouts in flight", "rollouts", ":rollouts", rollouts),
        Panel("drift", "Node config drift", "nodes", ":nodes, drifted only", drift, wide=True, then=_drifted_nodes),
        Panel(
            "alerts",
            "Alerts and model drift",
            "dashboard",
            "alerts: silence, retrain",
            alerts,
            wide=True,
            then=_alert_list,
            rows=min(FAILING_SHOWN, max(1, len(s.alerts) + len(s.model_drift))),
            more=max(0, len(s.alerts) - FAILING_SHOWN),
        ),
    ]


def _alert_list(screen: Screen) -> None:
    from screens.alerts import AlertsScreen

    screen.app.push_screen(AlertsScreen())


def _drifted_nodes(screen: Screen) -> None:
    show = getattr(screen, "show_drift", None)
    if show is not None:
        show()


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
