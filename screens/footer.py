"""The footer every screen shows: Textual's, fitted to the terminal's width."""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

HELP_ACTIONS = ("help", "app.help")


class KeyFooter(Footer):
    """Textual's Footer cuts what does not fit mid-word ("q Qui" at 80 columns). This one shows whole
    keys only: in Textual's roomy style when all fit, else in its compact style, dropping keys from the
    end (the app's own `:` and `q` go first, then the view's last ones) until the rest fit. The help key
    always stays: `?` lists every key."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._fitted_to = 0
        self._composed: tuple | None = None  # what the keys now mounted show (`_signature`)

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        app = self.app
        self._fitted_to = self.size.width or app.size.width
        shown, compact, palette = plan = self._plan(self._fitted_to)
        self._composed = _signature(plan)
        self.compact = compact
        # born with the class the compact style adds: added after mounting, each key's styles would be
        # worked out again (~1.4 ms a key, each time the footer is composed)
        classes = "-compact" if compact else ""
        for binding, key, enabled, tooltip, _node in shown:
            yield FooterKey(
                binding.key,
                key,
                binding.description,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip,
                classes=classes,
            ).data_bind(compact=Footer.compact)
        if palette is not None:
            _node, binding, enabled, _tooltip = palette
            yield FooterKey(
                binding.key,
                app.get_key_display(binding),
                binding.description,
                binding.action,
                classes="-command-palette",
                disabled=not enabled,
                tooltip=binding.tooltip or binding.description,
            )  # compact always, as Textual's footer shows it

    def _plan(self, width: int) -> tuple[list, bool, tuple | None]:
        """The keys to show (binding, key shown, enabled, tooltip, node), whether compact, the palette's."""
        app = self.app
        active = self.screen.active_bindings
        by_action: dict[str, tuple] = {}
        for node, binding, enabled, tooltip in active.values():
            if binding.show:
                by_action.setdefault(binding.action, (binding, app.get_key_display(binding), enabled, tooltip, node))
        # in the order declared (a remapped binding comes last in Textual's map, and would go first here)
        order = {node: self._declared(node) for node, *_ in active.values()}
        items = sorted(by_action.values(), key=lambda i: (i[4] is app, order[i[4]].get((i[0].id, i[0].action), 999)))
        palette = None
        if self.show_command_palette and app.ENABLE_COMMAND_PALETTE:
            palette = active.get(app.COMMAND_PALETTE_BINDING)
        shown, compact = self.fit(items, palette, width)
        return shown, compact, palette

    def bindings_changed(self, screen) -> None:
        """Textual's footer composes itself again on every change of focus; this one only when what it
        shows changes (at start-up the same keys were composed five times, ~15 ms each)."""
        if self._bindings_ready and self.is_attached and screen is self.screen:
            if _signature(self._plan(self._fitted_to or self.app.size.width)) == self._composed:
                return
        super().bindings_changed(screen)

    @staticmethod
    def _declared(node) -> dict[tuple[str | None, str], int]:
        """A node's bindings, by (id, action), in the order its classes declare them, base classes first."""
        names: list[tuple[str | None, str]] = []
        for cls in reversed(type(node).__mro__):
            for b in cls.__dict__.get("BINDINGS", []):
                if isinstance(b, Binding) and (b.id, b.action) not in names:
                    names.append((b.id, b.action))
        return {n: i for i, n in enumerate(names)}

    def fit(self, items: list, palette, width: int) -> tuple[list, bool]:
        """The items that fit in `width` whole, and whether in the compact style."""

        def used(chosen: list, compact: bool) -> int:
            pad = 2 if compact else 3  # a FooterKey: " key description " roomy, "key description " compact
            total = sum(cell_len(key) + cell_len(b.description) + pad for b, key, *_ in chosen)
            if palette is not None:  # docked right, after a border, compact always: "▏key description "
                _node, b, _e, _t = palette
                total += cell_len(self.app.get_key_display(b)) + cell_len(b.description) + 3
            return total

        if used(items, compact=False) <= width:
            return items, False
        chosen = list(items)
        # the app's own keys first (the same in every view), then the view's from the last; never help
        app = self.app
        droppable = [i for i in chosen[::-1] if i[4] is app and i[0].action not in HELP_ACTIONS]
        droppable += [i for i in chosen[::-1] if i[4] is not app and i[0].action not in HELP_ACTIONS]
        while droppable and used(chosen, compact=True) > width:
            chosen.remove(droppable.pop(0))
        return chosen, True

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._fitted_to:
            self._fitted_to = event.size.width
            self.call_after_refresh(self.recompose)


def _signature(plan: tuple[list, bool, tuple | None]) -> tuple:
    shown, compact, palette = plan
    keys = tuple((b.key, key, b.description, b.action, enabled, tooltip) for b, key, enabled, tooltip, _ in shown)
    return keys, compact, None if palette is None else (palette[1].key, palette[2])
