"""Keys as the operator meets them: remapped in config.toml's [keys], listed by `?` as they are bound now,
offered once in the command palette, the `:` line's completion and history, footers that fit."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from conftest import REPO
from rich.console import Console
from test_tui import PINNED, goto, settle, wait_rows
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from console.app import VIEWS, ConsoleApp
from console.engine import Engine
from console.settings import load
from screens.overlays import HelpScreen


@pytest.fixture(scope="module")
def keys_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("keys-home")


@pytest.fixture
def make_app(keys_home, tmp_path, monkeypatch):
    """An app whose config file holds `config` (e.g. a [keys] table)."""
    monkeypatch.setenv("MLOPS_CONSOLE_NOW", PINNED)

    def make(config: str = "", **cli) -> ConsoleApp:
        path = tmp_path / "config.toml"
        path.write_text(config, encoding="utf-8")
        monkeypatch.setenv("MLOPS_CONSOLE_CONFIG", str(path))
        settings = load({"home": str(keys_home), "user": "alice", **cli})
        return ConsoleApp(Engine(settings), settings)

    return make


def rendered(widget: Static) -> list[str]:
    """A Static's lines as it shows them at its own width."""
    console = Console(width=widget.content_region.width, file=io.StringIO(), record=True)
    console.print(widget.content)
    return console.export_text().splitlines()


async def open_help(pilot) -> list[str]:
    await pilot.press("question_mark")
    await pilot.pause()
    assert isinstance(pilot.app.screen, HelpScreen)
    return [line for w in pilot.app.screen.query(".help-section").results(Static) for line in rendered(w)]


# -- [keys]: remapping by binding id ------------------------------------------------------------------
async def test_keys_remapped_in_the_config_file_are_the_keys_that_work(make_app):
    app = make_app('[keys]\nfilter = "ctrl+f"\nhelp = "h,f1"\n')
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "nodes")
        await wait_rows(pilot, 40)
        await pilot.press("slash")  # no longer the filter's
        await pilot.pause()
        assert not app.screen.query_one("#filter", Input).has_class("visible")
        await pilot.press("ctrl+f")
        await pilot.pause()
        assert app.focused is app.screen.query_one("#filter", Input)
        await pilot.press("escape", "escape")
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


async def test_a_remap_onto_a_key_the_view_uses_is_said(make_app):
    """cordon = "u" takes u from Uncordon in the nodes view: the TUI says so as it starts."""
    app = make_app('[keys]\ncordon = "u"\n')
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        warnings = [str(n.message) for n in app._notifications if n.severity == "warning"]
        assert any("[keys]" in w and "u is cordon and uncordon in Nodes" in w for w in warnings), warnings
    quiet = make_app('[keys]\ncordon = "C"\n')
    async with quiet.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert not [n for n in quiet._notifications if n.severity == "warning"]


async def test_unknown_binding_id_stops_the_tui_with_one_line_naming_the_file_and_field(cli, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[keys]\ncordn = "C"\n')
    r = cli("--config", str(config), "--home", str(tmp_path / "home"), "tui", cwd=REPO)  # this checkout's code
    assert r.rc == 2, r.err
    line = r.err.strip()
    assert "\n" not in line and "Traceback" not in line
    assert str(config) in line and "[keys]" in line and "cordn" in line and "cordon" in line  # known ids listed


# -- `?`: the keys as bound now, each once, nothing cut -----------------------------------------------
def _keys_listed(app: ConsoleApp) -> list[str]:
    return [k for _, rows in app.help_sections() for key, _ in rows if not key.startswith(":") for k in key.split()]


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_help_lists_each_key_once_as_bound_now_and_cuts_nothing(make_app, size):
    app = make_app('[keys]\ncordon = "C"\n')
    async with app.run_test(size=size) as pilot:
        for view in VIEWS:
            await goto(pilot, view)
            await settle(pilot)
            keys = _keys_listed(app)
            assert len(keys) == len(set(keys)), (view, keys)
            lines = await open_help(pilot)
            words = {w for line in lines for w in line.split()}
            for v, aliases in VIEWS.items():  # every view and every alias, whole
                assert {f":{v}", *(f":{a}" for a in aliases)} <= words, (view, v)
            for key in keys:
                assert key in words, (view, key)
            if view == "nodes":
                row = next(line for line in lines if "Cordon" in line.split())
                assert row.split()[0] == "C"  # the remapped key, not the declared `c`
                assert "c" not in words
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, ModalScreen)


async def open_log(pilot) -> None:
    from screens.logscreen import LogScreen

    await goto(pilot, "jobs")
    await wait_rows(pilot)
    await pilot.press("l")
    for _ in range(100):
        await pilot.pause(0.05)
        if isinstance(pilot.app.screen, LogScreen) and pilot.app.screen.has_evidence:
            return
    raise AssertionError("the log never opened")


async def test_help_gives_a_key_to_the_view_that_takes_it(make_app):
    """In a log, `q` is Back (the view's binding wins over the app's Quit): `?` says so, and lists it once."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_log(pilot)
        await open_help(pilot)
        sections = dict(app.screen.sections)
        assert ("esc q", "Back") in sections["This view (log)"]
        assert not any(re.fullmatch(r"q( .*)?", k) for k, _ in sections["Everywhere"])


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_help_in_a_log_names_it_and_says_how_to_scroll_and_how_to_close(make_app, size):
    """Over a log opened from :jobs, `?` is about the log (not "This view (jobs)"), lists the keys the log
    scrolls with (pgup/pgdn, ←/→ sideways), and says how to close it; each closing key closes it."""
    from screens.logscreen import LogScreen

    app = make_app()
    async with app.run_test(size=size) as pilot:
        await open_log(pilot)
        for close in ("escape", "q", "question_mark"):
            lines = await open_help(pilot)
            words = {w for line in lines for w in line.split()}
            assert "This view (log)" in [line.strip() for line in lines] and not any("(jobs)" in ln for ln in lines)
            assert {"pgup", "pgdn", "←", "→", "↑", "↓"} <= words
            hint = str(app.screen.query_one("#help-close", Static).content)
            assert hint == "esc q ? close this help" and app.screen.query_one("#help-close").region.height == 1
            await pilot.press(close)
            await pilot.pause()
            assert isinstance(app.screen, LogScreen), close  # the help closed, the log stays


# -- the command palette: each command once ----------------------------------------------------------
async def test_command_palette_offers_each_command_once(make_app):
    app = make_app('[keys]\nlog = "L"\n')
    async with app.run_test(size=(100, 30)) as pilot:
        for view in ("dashboard", "jobs", "nodes"):
            await goto(pilot, view)
            await settle(pilot)
            commands = list(app.get_system_commands(app.screen))
            bare = [c.title.split(" (")[0].lower() for c in commands]
            assert len(bare) == len(set(bare)), (view, bare)
            assert ("help" in bare) != ("keys" in bare), bare  # one way to the keys, not two
        await goto(pilot, "jobs")
        log = next(c for c in app.get_system_commands(app.screen) if c.title == "Log (Jobs)")
        assert log.help == "key L"  # as remapped


# -- the `:` line: completion, history, the hint for an unknown command --------------------------------
async def _typed(pilot, *keys: str) -> str:
    await pilot.press(*keys)
    await pilot.pause()
    return pilot.app.screen.query_one("#command", Input).value


async def test_tab_completes_view_names_and_aliases(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("colon")
        await pilot.pause()
        assert await _typed(pilot, "r", "o", "tab") == "rollouts"
        assert await _typed(pilot, *["backspace"] * 8, "d", "e", "p", "tab") == "rollouts"  # an alias's view
        assert await _typed(pilot, *["backspace"] * 8, "a", "tab") == "au"  # as far as autofix and audit agree
        hint, box = app.screen.query_one("#hint", Static), app.screen.query_one("#command", Input)
        assert ":autofix" in str(hint.content) and ":audit" in str(hint.content) and ":jobs" not in str(hint.content)
        assert hint.region.height and not hint.region.overlaps(box.region)  # shown, above the box
        assert await _typed(pilot, "tab") == "autofix"  # then each in turn
        assert await _typed(pilot, "tab") == "audit"
        assert await _typed(pilot, "tab") == "autofix"
        await pilot.press("enter")
        await pilot.pause()
        assert app.current_mode == "autofix" and not isinstance(app.screen, ModalScreen)


async def test_tab_typed_fast_completes_the_keys_typed_before_it(make_app):
    """`:no⇥⏎` as a burst (tmux send-keys, a paste): tab completes what came before it, in order."""
    from textual import events

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for key, ch in [("colon", ":"), ("n", "n"), ("o", "o"), ("tab", "\t"), ("enter", "\r")]:
            app.post_message(events.Key(key, ch))  # as the driver does: no pause between them
        for _ in range(100):
            await pilot.pause(0.05)
            if app.current_mode != "dashboard" or app._notifications:
                break
        await settle(pilot)
        assert app.current_mode == "nodes", [str(n.message) for n in app._notifications]


async def test_up_and_down_recall_the_commands_typed_before(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await goto(pilot, "nodes")
        await goto(pilot, "jobs")
        await pilot.press("colon")
        await pilot.pause()
        assert await _typed(pilot, "x") == "x"
        assert await _typed(pilot, "up") == "jobs"
        assert await _typed(pilot, "up") == "nodes"
        assert await _typed(pilot, "up") == "nodes"  # the oldest stays
        assert await _typed(pilot, "down") == "jobs"
        assert await _typed(pilot, "down") == "x"  # back to what was being typed
        assert await _typed(pilot, "up", "up") == "nodes"
        await pilot.press("enter")
        await pilot.pause()
        assert app.current_mode == "nodes"


async def test_unknown_command_names_every_view(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await goto(pilot, "no-such-view")
        hint = next(str(n.message) for n in app._notifications if "unknown command" in str(n.message))
        for view in VIEWS:
            assert f":{view}" in hint, view


# -- `:view` lands on the view's table ----------------------------------------------------------------
async def test_a_view_command_lands_on_its_table_not_on_a_pane_it_had_pushed(make_app):
    from screens.views.jobs import JobsScreen
    from screens.views.signatures import SignaturesScreen

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await goto(pilot, "jobs")
        await wait_rows(pilot)
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, SignaturesScreen)
        await goto(pilot, "autofix")
        assert app.current_mode == "autofix"
        await goto(pilot, "jobs")
        await settle(pilot)
        assert app.current_mode == "jobs" and type(app.screen) is JobsScreen
        await pilot.press("s")
        await pilot.pause()
        await goto(pilot, "jobs")  # from the pane, in the same view
        await settle(pilot)
        assert type(app.screen) is JobsScreen and len(app.screen_stack) == 1


# -- footers: whole keys only ---------------------------------------------------------------------------
def _footer_problems(app) -> list[str]:
    """What the footer cuts: a key not wholly inside it, or under the palette key docked on its right."""
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    footer = app.screen.query_one(Footer)
    keys = list(footer.query(FooterKey))
    palette = [k.region for k in keys if k.has_class("-command-palette")]
    right = min([footer.region.right, *(p.x for p in palette)])
    problems = []
    for key in keys:
        if key.has_class("-command-palette"):
            if key.region.right > footer.region.right or key.region.x < footer.region.x:
                problems.append(f"palette {key.region}")
        elif key.region.right > right or key.region.width < len(key.key_display) + len(key.description) + 1:
            problems.append(f"{key.key_display} {key.description} at {key.region} (room to {right})")
    if not any(k.description == "Help" for k in keys):
        problems.append("no help key")
    return problems


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_every_footer_shows_whole_keys_and_the_help_key(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        for view in VIEWS:
            await goto(pilot, view)
            await settle(pilot)
            await pilot.pause()
            assert not _footer_problems(app), (view, _footer_problems(app))
        await goto(pilot, "jobs")
        await wait_rows(pilot)
        await pilot.press("l")  # the log pane has a footer of its own
        await settle(pilot)
        await pilot.pause()
        assert not _footer_problems(app), ("log", _footer_problems(app))
        await pilot.resize_terminal(120, 30)  # wider: the footer fits itself again
        await settle(pilot)
        await pilot.pause()
        assert not _footer_problems(app)


async def test_the_footer_follows_the_focus(make_app):
    """The footer composes itself again only when what it shows changes; a change it must still show: in
    the filter box the table's keys are gone (Back leaves the box), and they come back when it is left."""
    from textual.widgets._footer import FooterKey

    async def footer(pilot) -> set[str]:
        for _ in range(50):  # the footer composes itself after the refresh that follows a change of focus
            await pilot.pause()
            shown = {k.description for k in app.screen.query(FooterKey)}
            if {"Filter", "Describe"} <= shown or "Filter" not in shown and isinstance(app.focused, Input):
                return shown
        return shown

    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await goto(pilot, "jobs")
        await wait_rows(pilot)
        await pilot.click("#table")
        assert {"Filter", "Describe", "Log"} <= await footer(pilot)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        shown = await footer(pilot)
        assert "Back" in shown and not {"Filter", "Describe", "Log"} & shown
        await pilot.press("escape")
        assert not isinstance(app.focused, Input)
        assert {"Filter", "Describe", "Log"} <= await footer(pilot)


# -- theme and colour ---------------------------------------------------------------------------------
async def test_a_theme_change_restyles_the_help(make_app):
    from rich.color import Color as RichColor
    from textual.color import Color

    app = make_app('theme = "gruvbox"\n')
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.theme == "gruvbox"
        await open_help(pilot)

        def key_colour() -> RichColor:
            static = next(iter(app.screen.query(".help-section").results(Static)))
            return static.content.columns[0].style.color

        def is_accent(colour: RichColor) -> bool:  # the theme's accent, give or take the CSS's rounding
            want = Color.parse(app.current_theme.accent).rich_color.triplet
            return all(abs(a - b) <= 2 for a, b in zip(colour.triplet, want, strict=True))

        box = app.screen.query_one("HelpScreen > Vertical")
        assert box.styles.background.rich_color == Color.parse(app.current_theme.surface).rich_color
        assert is_accent(key_colour())
        app.theme = "nord"  # as ctrl+p "Change theme" does
        await settle(pilot)
        await pilot.pause()
        assert is_accent(key_colour()) and app.current_theme.name == "nord"
        assert box.styles.background.rich_color == Color.parse(app.current_theme.surface).rich_color


async def test_node_status_reads_without_colour(make_app):
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await goto(pilot, "nodes")
        table = await wait_rows(pilot, 40)
        column = [c.title for c in table.columns].index("STATUS")
        statuses = {table.get_row_at(i)[column] for i in range(table.row_count)}
        assert "● Ready" in statuses
        assert any(s.startswith("✗ NotReady") for s in statuses)  # the fixture estate has one NotReady node
        assert any(s.startswith("⊘ ") and "SchedulingDisabled" in s for s in statuses)  # and a cordoned one


async def test_the_footer_keeps_remapped_keys_in_their_place(make_app):
    """Textual lists a remapped binding last: the footer still shows the view's keys in their order, so a
    remapped Filter or Cordon is not the first dropped at 80 columns."""
    from textual.widgets._footer import FooterKey

    app = make_app('[keys]\ncordon = "C"\nfilter = "slash,ctrl+f"\n')
    async with app.run_test(size=(80, 24)) as pilot:
        await goto(pilot, "nodes")
        await wait_rows(pilot, 40)
        await settle(pilot)
        await pilot.pause()
        shown = [(k.key_display, k.description) for k in app.screen.query(FooterKey) if k.description != "palette"]
        assert shown[0] == ("/", "Filter") and ("C", "Cordon") in shown, shown
        assert not _footer_problems(app)
