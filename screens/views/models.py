"""The model registry view."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from screens.base import Page, Row, ViewScreen
from screens.describe import describe
from screens.grid import Column, Grid
from screens.widgets import sparkline, status_label, status_style


class ModelsScreen(ViewScreen):
    VIEW = "models"
    TITLE = "Model registry"
    COLUMNS = (
        Column("MODEL", 1, min=10, max=32, shorten="middle"),
        Column("VERSION", 1, align="right"),
        Column("STAGE", 1, style=status_style),
        Column("FRAMEWORK", 4),
        Column("PARENT", 3, max=32, shorten="middle"),
        Column("AUC", 2, align="right"),
        Column("SHA256", 5),
        Column("CREATED", 2),
    )

    def __init__(self) -> None:
        super().__init__()
        self.metrics: dict[str, dict] = {}  # row key -> the version's metrics

    def compose_extra(self) -> ComposeResult:
        yield Static("", id="plot")

    def fetch(self) -> Page:
        models = self.app.engine.models()
        rows: list[Row] = [
            (
                f"{m.model}:{m.version}",
                [
                    m.model,
                    str(m.version),
                    status_label(m.stage),
                    m.framework,
                    m.parent or "-",
                    f"{m.metrics['auc']:.4f}" if isinstance(m.metrics.get("auc"), int | float) else "-",
                    m.sha256[:12],
                    m.created_at[:16].replace("T", " "),
                ],
            )
            for m in models
        ]
        return Page(rows, keep={"metrics": {f"{m.model}:{m.version}": m.metrics for m in models}})

    def describe(self, key: str) -> str:
        model, _, version = key.rpartition(":")
        return describe(self.app.engine.model_details(model, int(version)))

    def rows_shown(self) -> None:
        self._plot()

    def on_grid_highlighted(self, event: Grid.Highlighted) -> None:
        self._plot()

    def _plot(self) -> None:
        """A recommender's reliability on its validation split, as bars: does P(success) mean what it says?
        Other models: their metrics on one line."""
        metrics = self.metrics.get(self.selected_key() or "") or {}
        chosen = (metrics.get("validation") or {}).get(metrics.get("chosen")) or {}  # a recommender's pick
        bins = metrics.get("reliability") or chosen.get("reliability") or []
        # the network's loss per epoch: of the final fit when it was chosen, else of its fit on the training split
        loss = metrics.get("train_loss") or []
        loss_of = "final fit"
        if not loss:
            loss = ((metrics.get("validation") or {}).get("torch-mlp") or {}).get("train_loss") or []
            loss_of = "torch-mlp, training split"
        plot = self.query_one("#plot", Static)
        if not bins and not loss:
            scalar = [f"{k} {v}" for k, v in {**metrics, **chosen}.items() if isinstance(v, int | float)]
            plot.update(Text("  ".join(scalar) or "no metrics", style="dim"))
            return
        width = max(10, min(40, (self.size.width - 40) // 2))
        text = Text()
        if loss:
            label, ends = f"training loss per epoch ({loss_of}, {len(loss)}) ", f" {loss[0]:.3f} → {loss[-1]:.3f}"
            room = max(8, self.size.width - len(label) - len(ends) - 4)  # the pane's border and padding
            text.append("training loss", "bold")
            text.append(label.removeprefix("training loss"))
            text.append(sparkline(_buckets(loss, room)), "cyan")
            text.append(ends + "\n")
        if bins:
            text.append("reliability", "bold")
            text.append(" on the validation split (predicted P(success) → observed)\n")
        for b in bins:
            text.append(f"{b['bin']:>8} ", "dim")
            text.append(_bar(b["predicted"], width), "cyan")
            text.append(f" {b['predicted']:.2f} ")
            text.append(_bar(b["observed"], width), "green" if abs(b["observed"] - b["predicted"]) <= 0.1 else "yellow")
            text.append(f" {b['observed']:.2f}  n={b['n']}\n")
        plot.update(text)


def _bar(share: float, width: int) -> str:
    """`share` of `width` cells in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, share)) * width * 8)
    return ("█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]).ljust(width)


def _buckets(values: list[float], n: int) -> list[float]:
    """At most `n` values: the means of `n` runs of consecutive ones, in order."""
    if len(values) <= n:
        return values
    return [
        sum(part) / len(part) for i in range(n) if (part := values[i * len(values) // n : (i + 1) * len(values) // n])
    ]
