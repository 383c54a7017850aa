"""The Textual application: views as modes, k9s keys, one place for worker errors, a refresh loop, and the
approval queue's reconcile on a schedule of its own."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from functools import partial

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from console.engine import Engine
from console.settings import Settings
from core.errors import ConsoleError
from screens import STYLES
from screens.dashboard import DashboardScreen

# view -> aliases accepted on the `:` command line (k9s style)
VIEWS: dict[str, tuple[str, ...]] = {
    "dashboard": ("dash", "d", "home"),
    "nodes": ("node", "no"),
    "rollouts": ("rollout", "ro", "deployments", "deploy", "dp"),
    "jobs": ("job", "j", "attempts"),
    "autofix": ("af", "approvals", "queue"),
    "models": ("model", "mo", "registry"),
    "audit": ("au", "events"),
    "ops": ("operations", "op"),
}
VIEW_HELP = {
    "dashboard": "cluster health, failing jobs, approvals, rollouts, drift",
    "nodes": "cluster nodes by pool, conditions, config versions",
    "rollouts": "model deployments, revisions, canaries, live metrics",
    "jobs": "job attempts (failed first), evidence, logs",
    "autofix": "the approval queue of suggested retries",
    "models": "model registry: versions, stages, lineage",
    "audit": "the audit trail of every change: verify, diff, roll back",
    "ops": "multi-step operations (pool config, rollouts): resume, roll back, pause",
}


def _view(module: str, name: str) -> Screen:
    import importlib

    return getattr(importlib.import_module(f"screens.views.{module}"), name)()


class ConsoleApp(App):
    TITLE = "mlops-console"
    CSS_PATH = STYLES
    # The dashboard is the first frame; the other views are imported when first visited.
    MODES = {
        "dashboard": DashboardScreen,
        "nodes": partial(_view, "nodes", "NodesScreen"),
        "rollouts": partial(_view, "rollouts", "RolloutsScreen"),
        "jobs": partial(_view, "jobs", "JobsScreen"),
        "autofix": partial(_view, "autofix", "AutofixScreen"),
        "models": partial(_view, "models", "ModelsScreen"),
        "audit": partial(_view, "audit", "AuditScreen"),
        "ops": partial(_view, "ops", "OpsScreen"),
    }
    DEFAULT_MODE = "dashboard"
    BINDINGS = [
        # priority: taken before the focused widget, so that the keys typed right after it reach the
        # command line rather than the view below (where a letter may be a binding); not inside a text box
        Binding("colon", "command_line", "Command", key_display=":", id="command", priority=True),
        Binding("question_mark", "help", "Help", key_display="?", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="quit_ctrl_c"),
    ]

    def __init__(self, engine: Engine, settings: Settings):
        super().__init__()
        self.engine = engine
        self.settings = settings
        self.history: list[str] = []
        self._reconciled_once = False
        self.first_frame_shown = False  # set by on_ready
        self.theme = settings.theme if settings.theme in self.available_themes else "textual-dark"

    def on_ready(self) -> None:
        """The DOM is ready; once its first frame is on the terminal the dashboard starts loading its data
        (a loading thread started before holds the GIL while that frame is drawn, and the user waits for
        both). Ready can come before the first refresh has run: the load waits for the next one."""
        self.call_after_refresh(self._first_frame)

    def _first_frame(self) -> None:
        self.first_frame_shown = True
        if isinstance(self.screen, DashboardScreen) and not self.screen.panels:
            self.screen.refresh_data()

    def on_mount(self) -> None:
        self.sub_title = " · ".join(
            filter(
                None,
                [
                    self.engine.backend_name,
                    f"{self.settings.actor} ({self.engine.role})",
                    "READ-ONLY" if self.engine.read_only else "",
                ],
            )
        )
        self.set_interval(self.settings.refresh_seconds, self.refresh_active)
        if self.engine.can("autofix-reconcile"):
            self.set_interval(self.settings.reconcile_seconds, self.reconcile)
        if not self.is_headless and sys.stdin.isatty():
            self.set_interval(1.0, self._exit_if_terminal_gone)
        for op in self.engine.interrupted:
            self.notify(
                f"operation {op['id']} ({op['kind']} {op['target']}) was interrupted at step "
                f"{op['position'] + 1} of {len(op['steps'])}: :ops to resume or roll it back",
                title="interrupted",
                severity="warning",
                timeout=30,
                markup=False,
            )
        if self.engine.recovered:
            self.notify(
                f"settled {len(self.engine.recovered)} change(s) a killed process left half-recorded",
                title="recovered",
                markup=False,
            )

    def _exit_if_terminal_gone(self) -> None:
        """Quit once the terminal has hung up (a dropped SSH connection, a closed tmux). SIGHUP does not
        always arrive: under `make run`, make leads the session and takes it. Left running, the app would
        refresh forever and Textual's input thread would spin on the dead terminal at a core's worth of CPU."""
        import select

        poll = select.poll()
        poll.register(sys.stdin.fileno(), select.POLLIN)
        if any(mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _, mask in poll.poll(0)):
            self.exit(return_code=129)  # as a process ended by SIGHUP reports itself to a shell (128 + 1)

    # -- navigation ------------------------------------------------------------------------
    def switch_view(self, view: str) -> None:
        if view == self.current_mode:
            return
        self.history.append(self.current_mode)
        self.switch_mode(view)

    def action_back(self) -> None:
        if self.history:
            self.switch_mode(self.history.pop())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "command_line" and _is_text_box(self.focused):
            return False  # a `:` typed into a text box is text
        return True

    def action_command_line(self) -> None:
        from screens.overlays import CommandLine

        self.push_screen(CommandLine(VIEWS), self.run_command)

    def run_command(self, command: str | None) -> None:
        if not command:
            return
        word = command.split()[0].lower()
        if word in ("q", "q!", "quit", "exit"):
            self.exit()
            return
        for view, aliases in VIEWS.items():
            if word == view or word in aliases:
                self.switch_view(view)
                return
        self.notify(
            f"unknown command :{command} — try :nodes, :jobs, :rollouts, :autofix, :models, :audit",
            severity="error",
            markup=False,
        )

    def action_help(self) -> None:
        from screens.overlays import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.help_sections()))

    def help_sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        def rows(bindings: Iterable[Binding]) -> list[tuple[str, str]]:
            return [(b.key_display or b.key, b.description or b.action) for b in bindings if b.description]

        active = [b for b in self._screen_bindings(self.screen) if self.screen.check_action(b.action, ()) is not False]
        return [
            (
                "Everywhere",
                rows(self.BINDINGS)
                + [
                    ("ctrl+p", "command palette: every view and action"),
                    ("esc", "back: close a pane, clear a filter, previous view"),
                ],
            ),
            (f"This view ({self.current_mode})", rows(active)),
            (
                "Tables",
                [
                    ("↑ ↓ / k j", "move"),
                    ("pgup pgdn home end", "page, first, last"),
                    ("enter", "describe the selected row"),
                ],
            ),
            ("Views (type : then the name)", [(f":{v} ({', '.join(a[:2])})", VIEW_HELP[v]) for v, a in VIEWS.items()]),
        ]

    # -- drill-down ------------------------------------------------------------------------
    def open_describe(self, title: str, load: Callable[[], str]) -> None:
        from screens.detail import DescribeScreen

        self.push_screen(DescribeScreen(title, load))

    def open_log(self, run_id: str) -> None:
        def load() -> tuple[str, str | None]:
            c = self.engine.classification(run_id)
            return self.engine.attempt_log(run_id), c.evidence if c else None

        from screens.detail import LogScreen

        self.push_screen(LogScreen(run_id, load))

    # -- the command palette -----------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for view in VIEWS:
            yield SystemCommand(f"Go to {view.capitalize()}", VIEW_HELP[view], partial(self.switch_view, view))
        yield SystemCommand("Help", "List every key", self.action_help)
        yield SystemCommand("Refresh", "Reload the current view now", self.refresh_active)
        for binding in self._screen_bindings(screen):
            allowed = screen.check_action(binding.action, ()) if hasattr(screen, "check_action") else True
            if binding.description and binding.action not in ("back",) and allowed is not False:
                yield SystemCommand(
                    f"{binding.description} ({screen.__class__.__name__.removesuffix('Screen')})",
                    f"key {binding.key_display or binding.key}",
                    partial(self._run_screen_action, screen, binding.action),
                )

    @staticmethod
    def _screen_bindings(screen: Screen) -> list[Binding]:
        """The screen's own bindings and those it inherits from our base views (not Textual's)."""
        found: list[Binding] = []
        for cls in type(screen).__mro__:
            if cls in (Screen, ModalScreen):
                break
            found += [b for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding) and b not in found]
        return found

    def _run_screen_action(self, screen: Screen, action: str) -> None:
        self.call_later(screen.run_action, action)

    # -- refresh loop and errors ------------------------------------------------------------
    def refresh_active(self) -> None:
        """Re-poll the visible view; skipped under a modal or a drill-down pane (dolphie's habit)."""
        screen = self.screen
        if isinstance(screen, ModalScreen) or not hasattr(screen, "refresh_data"):
            return
        busy = any(
            w.group == "refresh" and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
            for w in self.workers
            if w.node is screen
        )
        if not busy:
            screen.refresh_data()

    def data_shown(self) -> None:
        """A view has shown its data. The first one starts the first reconcile: its imports (the triage's
        regex database, torch) would otherwise compete with the first screen for the CPU."""
        if not self._reconciled_once:
            self._reconciled_once = True
            self.reconcile()

    def reconcile(self) -> None:
        """The approval queue's write step (record outcomes, queue new failures, apply the policies), in a
        worker of its own: the Autofix view only reads. Skipped while the last one still runs; only for
        an operator who may reconcile (never in read-only mode)."""
        if not self.engine.can("autofix-reconcile") or any(
            w.group == "reconcile" and not w.is_finished for w in self.workers
        ):
            return
        self._reconcile()

    @work(thread=True, group="reconcile", exit_on_error=False)
    def _reconcile(self) -> None:
        report = self.engine.autofix_reconcile()
        self.call_from_thread(self._reconciled, report)

    def _reconciled(self, report: dict) -> None:
        for a in report["auto_applied"]:
            self.notify(f"suggestion {a['id']} ({a['run_id']}) applied by policy {a['policy']}", markup=False)
        if report["queued"] or report["outcomes"] or report["auto_applied"]:
            self.refresh_active()  # the view shows what changed now, not at its next refresh

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.report_worker_error(event.worker)

    def report_worker_error(self, worker: Worker) -> None:
        """The one place worker failures surface: a notification, and the app stays up."""
        err = worker.error
        msg = str(err) if isinstance(err, ConsoleError) else f"{type(err).__name__}: {err}"
        self.notify(msg, title="error", severity="error", timeout=8, markup=False)


def _is_text_box(widget: object) -> bool:
    """An Input or a TextArea. TextArea is not imported to ask (its document model and themes, ~25 ms of the
    first frame): an app that never imported it has none."""
    text_area = getattr(sys.modules.get("textual.widgets._text_area"), "TextArea", None)
    return isinstance(widget, Input) or (text_area is not None and isinstance(widget, text_area))


def run_tui(settings: Settings) -> int:
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        raise ConsoleError("the TUI needs a terminal; use a subcommand (e.g. `mlops-console jobs list`) in scripts")
    engine = Engine(settings)
    app = ConsoleApp(engine, settings)
    # What is loaded by now (the modules, the engine) lives as long as the process: kept out of the cyclic
    # collector's full passes, which otherwise walk it all again every few refreshes of a big table.
    import gc

    gc.freeze()
    app.run()
    return app.return_code or 0
