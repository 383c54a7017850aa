"""Modal overlays: the `:` command line and the `?` help."""

from __future__ import annotations

import os

from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class CommandLine(ModalScreen[str | None]):
    """k9s's `:` prompt. Returns the typed command, or None on esc. `tab` completes a view's name (or the
    view an alias names); again, the next candidate. `up`/`down` recall the commands typed before."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel"),
        Binding("tab", "complete", "Complete", id="complete"),  # in turn with the keys before it
        Binding("up", "recall(-1)", "Previous", id="history_previous"),
        Binding("down", "recall(1)", "Next", id="history_next"),
    ]

    def __init__(self, views: dict[str, tuple[str, ...]], history: list[str] | None = None):
        super().__init__()
        self.views = views
        self.history = list(history or [])  # oldest first
        self._at = len(self.history)  # where up/down are in it; len: the line being typed
        self._draft = ""
        self._cycle: list[str] = []  # the candidates tab goes through, once the typed prefix is ambiguous

    def compose(self) -> ComposeResult:
        yield Static(self._hint(list(self.views)), id="hint")
        yield Input(placeholder=":", id="command", select_on_focus=False)

    @staticmethod
    def _hint(names: list[str]) -> Text:
        return Text(
            f"views: {'  '.join(':' + v for v in names)}   :ctx :ns cluster   :q quit   tab completes, ↑↓ history"
        )

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def candidates(self, typed: str) -> list[str]:
        """The views a prefix may mean: those whose name starts with it, else those with an alias that does."""
        typed = typed.lower()
        names = [v for v in self.views if v.startswith(typed)]
        return names or [v for v, aliases in self.views.items() if any(a.startswith(typed) for a in aliases)]

    def action_complete(self) -> None:
        box = self.query_one(Input)
        typed = box.value.strip().lstrip(":")
        if self._cycle and typed in self._cycle:  # tab again: the next candidate
            word = self._cycle[(self._cycle.index(typed) + 1) % len(self._cycle)]
        else:
            found = self.candidates(typed)
            if not found:
                self.app.bell()
                return
            common = os.path.commonprefix(found)
            self._cycle = found if len(found) > 1 else []
            word = found[0] if len(found) == 1 or len(common) <= len(typed) else common
            self.query_one("#hint", Static).update(self._hint(found))
        self._set(word)

    def action_recall(self, step: int) -> None:
        if not self.history:
            return
        if self._at == len(self.history):
            self._draft = self.query_one(Input).value
        self._at = max(0, min(len(self.history), self._at + step))
        self._set(self.history[self._at] if self._at < len(self.history) else self._draft)

    def _set(self, value: str) -> None:
        box = self.query_one(Input)
        box.value = value
        box.cursor_position = len(value)

    def on_key(self, event: events.Key) -> None:
        """Keys typed right after `:` (a fast typist, a paste, tmux send-keys) can arrive before the input
        has focus: they are the command all the same."""
        box = self.query_one(Input)
        if box.has_focus:
            return
        if event.character and event.is_printable:
            box.insert_text_at_cursor(event.character)
        elif event.key == "enter":
            self.dismiss(box.value.strip().lstrip(":"))
        else:
            return
        event.stop()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip().lstrip(":"))

    def action_cancel(self) -> None:
        self.dismiss(None)


Section = tuple[str, list[tuple[str, str]]]  # a title, and its (keys, what they do) rows


class HelpScreen(ModalScreen[None]):
    """`?`: every key of the app and of the view below, each once, as bound now; then the views; and, on
    a line of its own, how to close it.

    The screen below may name itself (HELP_NAME: "This view (log)", not the mode it was opened from) and add
    a section of keys its widgets take (HELP_SECTION: a log's scrolling keys), after its own."""

    DEFAULT_CSS = """
    HelpScreen #help-close { height: 1; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "dismiss_help", "Close", id="close_help")]
    COMPONENT_CLASSES = {"help--key", "help--title"}
    KEY_WIDTH = 16  # at most: a longer key list wraps in its column, never cut
    THIS_VIEW = "This view ("

    def __init__(self, sections: list[Section]):
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        self.sections = self._with_the_view_below(self.sections)
        with Vertical():
            with VerticalScroll():
                for _ in self.sections:
                    yield Static(classes="help-section")
            yield Static(id="help-close")

    def _with_the_view_below(self, sections: list[Section]) -> list[Section]:
        stack = self.app.screen_stack
        below = stack[stack.index(self) - 1] if self in stack and stack.index(self) > 0 else None
        name: str | None = getattr(below, "HELP_NAME", None)
        extra: Section | None = getattr(below, "HELP_SECTION", None)
        out: list[Section] = []
        for title, rows in sections:
            if title.startswith(self.THIS_VIEW):
                out.append((f"{self.THIS_VIEW}{name})" if name else title, rows))
                if extra is not None:
                    out.append(extra)
                    extra = None
            else:
                out.append((title, rows))
        return out if extra is None else [*out, extra]

    def close_keys(self) -> list[str]:
        """The keys that close the help, as bound now."""
        binding = self.BINDINGS[0]
        assert isinstance(binding, Binding)
        keys_of = getattr(self.app, "keys_of", None)  # the console's: [keys] remaps included
        if keys_of is not None:
            return keys_of(binding)
        return [self.app.get_key_display(Binding(k.strip(), binding.action)) for k in binding.key.split(",")]

    def on_mount(self) -> None:
        self.render_sections()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.render_sections())

    def render_sections(self) -> None:
        """Built with the theme's styles (help--key, help--title in the .tcss): a theme change restyles it."""
        key_style = self.get_component_rich_style("help--key")
        title_style = self.get_component_rich_style("help--title")
        width = min(self.KEY_WIDTH, max((len(k) for _, rows in self.sections for k, _ in rows), default=1))
        for (title, rows), static in zip(self.sections, self.query(".help-section").results(Static), strict=True):
            table = Table(
                title=Text(title, title_style), title_justify="left", show_header=False, box=None, expand=True
            )
            table.add_column("key", style=key_style, width=width, overflow="fold")
            table.add_column("what", ratio=1, overflow="fold")
            for key, what in rows:
                table.add_row(Text(key), Text(what))
            static.update(table)
        keys = " ".join(self.close_keys())
        self.query_one("#help-close", Static).update(Text.assemble((keys, key_style), " close this help"))

    def action_dismiss_help(self) -> None:
        self.dismiss(None)


class Picker(ModalScreen[str | None]):
    """A list to choose one from (k9s's :ctx and :ns): enter picks, esc cancels. `current` is marked."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel")]

    def __init__(self, title: str, items: list[tuple[str, str]], current: str = ""):
        super().__init__()
        self.title_, self.items, self.current = title, items, current  # (value, what it shows)

    def compose(self) -> ComposeResult:
        from textual.widgets import OptionList
        from textual.widgets.option_list import Option

        with Vertical(id="dialog", classes="dialog"):
            yield Static(Text(self.title_, "bold"), id="picker-title")
            yield OptionList(
                *(Option(Text(("● " if v == self.current else "  ") + shown), id=v) for v, shown in self.items),
                id="picker",
            )
            yield Static(Text("enter switches · esc cancels", "dim"))

    def on_mount(self) -> None:
        from textual.widgets import OptionList

        options = self.query_one(OptionList)
        options.focus()
        at = next((i for i, (v, _) in enumerate(self.items) if v == self.current), 0)
        options.highlighted = at

    def on_option_list_option_selected(self, event) -> None:  # OptionList.OptionSelected
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
