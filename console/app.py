"""The Textual application: views as modes, k9s keys, one place for worker errors, a refresh loop, and the
approval queue's reconcile on a schedule of its own."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from console.engine import Engine
from console.settings import Settings, check_binding_ids
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
        self.history: list[str] = []  # the views visited, for esc
        self.commands: list[str] = []  # the `:` commands typed this session, for up/down
        self._reconciled_once = False
        self.first_frame_shown = False  # set by on_ready
        self._problem: tuple[str, float] | None = None  # the cluster's connection, as last checked
        self.theme = settings.theme if settings.theme in self.available_themes else "textual-dark"
        self.keymap = dict(settings.keys)  # binding id -> keys ([keys] in config.toml)
        self.set_keymap(self.keymap)
        self._clashes_told: set[frozenset[str]] = set()

    def on_ready(self) -> None:
        """The DOM is ready; once its first frame is on the terminal the dashboard starts loading its data
        (a loading thread started before holds the GIL while that frame is drawn, and the user waits for
        both). Ready can come before the first refresh has run: the load waits for the next one."""
        self.call_after_refresh(self._first_frame)

    def _first_frame(self) -> None:
        self.first_frame_shown = True
        if isinstance(self.screen, DashboardScreen) and not self.screen.board.panels:
            self.screen.refresh_data()

    def _set_sub_title(self) -> None:
        # the warnings first: a narrow terminal cuts the header's end, and they are what must be seen
        self.sub_title = " · ".join(
            filter(
                None,
                [
                    f"⚠ STALE since {time.strftime('%H:%M:%S', time.localtime(self._problem[1]))}"
                    if self._problem
                    else "",
                    "READ-ONLY" if self.engine.read_only else "",
                    self.engine.backend_name,
                    f"{self.settings.actor} ({self.engine.role})",
                ],
            )
        )

    def on_mount(self) -> None:
        self._set_sub_title()
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
        if self.keymap and (clashes := keymap_clashes(self.keymap)):
            self.notify(
                f"[keys] in {self.settings.config_path}: {'; '.join(clashes)} — the remapped binding takes the key",
                title="keys",
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

    def handle_bindings_clash(self, clashed_bindings: set[Binding], node: object) -> None:
        """A [keys] remap gave a key that another binding of the same view had: the remap wins. Said once."""
        what = frozenset(f"{b.key} ({b.id or b.action})" for b in clashed_bindings)
        if what not in self._clashes_told:
            self._clashes_told.add(what)
            self.notify(
                f"[keys] in {self.settings.config_path}: {', '.join(sorted(what))} taken by a remapped binding",
                title="keys",
                severity="warning",
                markup=False,
            )

    # -- navigation ------------------------------------------------------------------------
    def switch_view(self, view: str) -> None:
        """`:view` lands on the view's own table: a pane it had pushed (signatures, a log, a describe) is
        closed, whether the view is the current one or was left with the pane open. (esc back through
        the views visited leaves them as they were.)"""
        if view != self.current_mode:
            self.history.append(self.current_mode)
            self.switch_mode(view)
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def action_back(self) -> None:
        if self.history:
            self.switch_mode(self.history.pop())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "command_line" and _is_text_box(self.focused):
            return False  # a `:` typed into a text box is text
        return True

    def action_command_line(self) -> None:
        from screens.overlays import CommandLine

        self.push_screen(CommandLine(VIEWS, self.commands), self.run_command)

    def run_command(self, command: str | None) -> None:
        if not command:
            return
        if not self.commands or self.commands[-1] != command:
            self.commands.append(command)
        word = command.split()[0].lower()
        if word in ("q", "q!", "quit", "exit"):
            self.exit()
            return
        for view, aliases in VIEWS.items():
            if word == view or word in aliases:
                self.switch_view(view)
                return
        arg = command.split(maxsplit=1)[1].strip() if len(command.split()) > 1 else ""
        if word in ("ctx", "context", "contexts"):
            self.pick_context(arg)
            return
        if word in ("ns", "namespace", "namespaces"):
            self.pick_namespace(arg)
            return
        self.notify(
            f"unknown command :{command} — try {', '.join(':' + v for v in VIEWS)}, :ctx, :ns (tab completes)",
            severity="error",
            markup=False,
        )

    # -- contexts and namespaces (k9s's :ctx and :ns) -----------------------------------------------
    def pick_context(self, name: str = "") -> None:
        from screens.overlays import Picker

        try:
            rows, current = self.engine.contexts()
        except ConsoleError as e:
            self.notify(str(e), severity="error", markup=False)
            return
        if not rows:
            self.notify("not on a Kubernetes cluster (the demo estate): no contexts", markup=False)
            return
        if name:
            self.retarget(context=name, namespace="")
            return
        items = [(r["name"], f"{r['name']}  cluster {r['cluster']}, namespace {r['namespace']}") for r in rows]
        self.push_screen(
            Picker("contexts (enter switches)", items, current), lambda v: v and self.retarget(context=v, namespace="")
        )

    def pick_namespace(self, name: str = "") -> None:
        from screens.overlays import Picker

        if name:
            self._to_namespace(name)
            return
        try:
            names = self.engine.namespaces()
        except ConsoleError as e:  # often a user allowed in some namespaces, not to list them all
            self.notify(f"cannot list the namespaces: {e}; :ns NAME switches to one", severity="error", markup=False)
            return
        if not names:
            self.notify("no namespaces here (the demo estate has none)", markup=False)
            return
        current = self.engine.namespace()
        items = [("all", "all namespaces"), *((n, n) for n in names)]
        self.push_screen(Picker("namespaces (enter switches)", items, current), lambda v: v and self._to_namespace(v))

    def _to_namespace(self, name: str) -> None:
        if name == "all":
            self.retarget(all_namespaces=True)
        else:
            self.retarget(namespace=name, all_namespaces=False)

    def retarget(self, **change: Any) -> None:
        """Connect to another context or namespace: a new engine on the same home; every view reads again.
        When it cannot connect, the console stays where it was and says why."""
        try:
            engine = self.engine.retargeted(**change)
        except ConsoleError as e:
            self.notify(f"{e} (still on {self.engine.backend_name})", severity="error", markup=False)
            return
        self.engine, self.settings = engine, engine.settings
        self._set_sub_title()
        for mode in list(self.MODES):
            if mode != self.current_mode:
                self.remove_mode(mode)
                self.add_mode(mode, self.MODES[mode])
        refresh = getattr(self.screen, "refresh_data", None)
        if refresh is not None:
            refresh(force=True)
        self.notify(f"now on {engine.backend_name}", markup=False)

    def action_help(self) -> None:
        from screens.overlays import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.help_sections()))

    def keys_of(self, binding: Binding) -> list[str]:
        """The keys a binding answers to now ([keys] remaps included), as the footer shows them."""
        keys = self.keymap.get(binding.id) if binding.id else None
        if keys is None:
            if binding.key_display:
                return [binding.key_display]
            keys = binding.key
        return [self.get_key_display(Binding(k.strip(), binding.action)) for k in keys.split(",")]

    def offered(self, screen: Screen, binding: Binding) -> bool:
        """Whether the screen offers the binding's action now (its role, its kind of table)."""
        from textual.actions import parse

        target, name, params = parse(binding.action)
        node = self if target == "app" else screen
        return node.check_action(name, params) is not False

    def help_sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """What `?` lists: each key once, as it is bound now. The view's own bindings come first (where a
        view binds a key the app binds too, the view's wins: `q` is Back in a log, not Quit)."""
        screen = self.screen
        taken: set[str] = set()

        def rows(bindings: Iterable[Binding]) -> list[tuple[str, str]]:
            by_action: dict[str, tuple[list[str], str]] = {}
            for b in bindings:
                if not b.description:
                    continue
                keys, _ = by_action.setdefault(b.action, ([], b.description))
                for key in self.keys_of(b):
                    if key not in taken:  # the first binding of a key is the one it runs
                        taken.add(key)
                        keys.append(key)
            return [(" ".join(keys), what) for keys, what in by_action.values() if keys]

        here = rows(b for b in self._screen_bindings(screen) if self.offered(screen, b))
        everywhere = rows(self.BINDINGS)
        palette = self.get_key_display(Binding(self.COMMAND_PALETTE_BINDING, "command_palette"))
        if palette not in taken:
            everywhere.append((palette, "command palette: every view and action"))
        sections = [("Everywhere", everywhere), (f"This view ({self.current_mode})", here)]
        if screen.query("DataTable"):
            moves = [k for k in ("↑", "↓", "pgup", "pgdn") if k not in taken]
            if moves:
                sections.append(("Tables", [(" ".join(moves), "move the cursor, a page at a time")]))
        sections.append(
            (
                "Views (: then the name or an alias)",
                [(f":{v}", f"{VIEW_HELP[v]}; also {' '.join(':' + a for a in VIEWS[v])}") for v in VIEWS],
            )
        )
        if self.engine.backend_name.startswith("kube:"):  # where it reads, switched as in k9s
            sections.append(
                (
                    "Cluster",
                    [
                        (":ctx [NAME]", "switch the kubeconfig context (a list without NAME)"),
                        (":ns [NAME]", "switch the namespace; :ns all for every one (a list without NAME)"),
                    ],
                )
            )
        return sections

    # -- drill-down ------------------------------------------------------------------------
    def open_describe(self, title: str, load: Callable[[], str]) -> None:
        from screens.detail import DescribeScreen

        self.push_screen(DescribeScreen(title, load))

    def open_log(self, run_id: str) -> None:
        from autofix.collect import log_evidence
        from screens.logscreen import LogScreen
        from screens.logsource import LineSource, TextSource

        def load() -> tuple[LineSource, str | None]:
            c = self.engine.classification(run_id)
            return TextSource(self.engine.attempt_log(run_id), run_id), log_evidence(c.evidence if c else None)

        self.push_screen(LogScreen(f"log of {run_id}", load))

    # -- the command palette -----------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Each command once: Textual's own, less its "Keys" panel (our Help lists the keys, remaps
        included); the views; then the view's actions, less those already here (Refresh, Back) and the
        cursor's moves."""
        for command in super().get_system_commands(screen):
            if command.title != "Keys":
                yield command
        for view in VIEWS:
            yield SystemCommand(f"Go to {view.capitalize()}", VIEW_HELP[view], partial(self.switch_view, view))
        help_keys = " ".join(self.keys_of(next(b for b in self.BINDINGS if b.id == "help")))
        yield SystemCommand(
            "Help", f"Every key of this view and the app, as bound now (key {help_keys})", self.action_help
        )
        yield SystemCommand("Refresh", "Reload the current view now", self.refresh_active)
        for binding in self._screen_bindings(screen):
            action = binding.action
            if (
                not binding.description
                or action in ("back", "app.back", "app.pop_screen", "refresh_now")
                or action.startswith("cursor(")
                or not self.offered(screen, binding)
            ):
                continue
            yield SystemCommand(
                f"{binding.description} ({screen.__class__.__name__.removesuffix('Screen')})",
                f"key {' '.join(self.keys_of(binding))}",
                partial(self._run_screen_action, screen, action),
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
    def check_connection(self) -> None:
        """While the cluster cannot be reached, the header says so and since when (what the views show is
        what was last seen); a toast when it is lost and when it is back."""
        problem = self.engine.connection_problem()
        was, self._problem = self._problem, problem
        if (problem is None) == (was is None):
            return
        self._set_sub_title()
        if problem is not None:
            self.notify(
                f"{problem[0]}; showing what was last seen, retrying",
                title="disconnected",
                severity="warning",
                timeout=10,
                markup=False,
            )
        else:
            self.notify(f"reconnected to {self.engine.backend_name}", markup=False)

    def refresh_active(self) -> None:
        """Re-poll the visible view; skipped under a modal or a drill-down pane (dolphie's habit)."""
        if not self.screen_stack:  # the app is closing: a last tick of the timer finds no screen
            return
        self.check_connection()
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
            # after the frame that shows the data is drawn: started now, its thread's imports would hold the
            # GIL while that frame is painted
            self.call_after_refresh(self.reconcile)

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


def _screen_classes() -> list[type[Screen]]:
    """Every screen class of the TUI; the views are imported for it, so only when there is a keymap."""
    import importlib
    import pkgutil

    import screens
    import screens.views

    for package in (screens, screens.views):
        for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
    found, classes = [], [Screen]
    while classes:
        cls = classes.pop()
        classes += cls.__subclasses__()
        if cls.__module__.startswith("screens."):
            found.append(cls)
    return found


def _declared(cls: type) -> list[Binding]:
    """The bindings a class of ours declares and inherits from ours (not Textual's own)."""
    return [
        b
        for c in reversed(cls.__mro__)
        if c.__module__.startswith(("screens.", "console."))
        for b in c.__dict__.get("BINDINGS", [])
        if isinstance(b, Binding)
    ]


def binding_ids() -> set[str]:
    """Every binding id the TUI declares: what [keys] may remap."""
    return {b.id for cls in [ConsoleApp, *_screen_classes()] for b in _declared(cls) if b.id}


def keymap_clashes(keymap: dict[str, str]) -> list[str]:
    """Keys a remap gives to a binding while another of the same screen (or the app, below a view) keeps
    it: Textual lets the remapped one have it, and the other has none there."""
    app_bindings = _declared(ConsoleApp)
    clashes: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for cls in _screen_classes():
        if cls.__subclasses__():  # a base (ViewScreen, AttemptsView): its own views say it
            continue
        scope = _declared(cls) + ([] if issubclass(cls, ModalScreen) else app_bindings)
        by_key: dict[str, dict[str, Binding]] = {}
        for b in scope:
            keys = keymap.get(b.id, b.key) if b.id else b.key
            for key in keys.split(","):
                by_key.setdefault(key.strip(), {})[b.action] = b
        for key, bindings in by_key.items():
            if len(bindings) > 1 and any(b.id in keymap for b in bindings.values()):
                names = tuple(sorted(b.id or b.action for b in bindings.values()))
                clashes.setdefault((key, names), []).append(cls.__name__.removesuffix("Screen"))
    return [f"{key} is {' and '.join(names)} in {', '.join(sorted(where))}" for (key, names), where in clashes.items()]


def _is_text_box(widget: object) -> bool:
    """An Input or a TextArea. TextArea is not imported to ask (its document model and themes, ~25 ms of the
    first frame): an app that never imported it has none."""
    text_area = getattr(sys.modules.get("textual.widgets._text_area"), "TextArea", None)
    return isinstance(widget, Input) or (text_area is not None and isinstance(widget, text_area))


def run_tui(settings: Settings) -> int:
    if settings.keys:
        check_binding_ids(settings, binding_ids())
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        raise ConsoleError("the TUI needs a terminal; use a subcommand (e.g. `mlops-console jobs list`) in scripts")
    engine = Engine(settings, watch=True)
    if settings.metrics_port:  # the console's own metrics, for the Prometheus that watches it
        engine.serve_metrics(settings.metrics_port, None)
    app = ConsoleApp(engine, settings)
    # What is loaded by now (the modules, the engine) lives as long as the process: kept out of the cyclic
    # collector's full passes, which otherwise walk it all again every few refreshes of a big table.
    import gc

    gc.freeze()
    app.run()
    return app.return_code or 0
