"""The model registry view: versions, aliases, metrics and lineage; train (`t`) and compress (`c`) in a worker
process with a progress bar, move an alias (`a`) through the gate."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from screens.base import Page, Row, ViewScreen
from screens.describe import describe
from screens.grid import Column, Grid
from screens.widgets import sparkline, status_label, status_style


class ModelsScreen(ViewScreen):
    VIEW = "models"
    TITLE = "Model registry"
    BINDINGS = [
        Binding("t", "train", "Train", id="train"),
        Binding("c", "compress", "Compress", id="compress"),
        Binding("a", "alias", "Alias", id="alias"),
        Binding("r", "rollout", "Canary", id="rollout"),
        Binding("d", "compare", "Compare", id="compare"),
        Binding("R", "retrain", "Retrain", id="retrain"),
    ]
    ROLE_ACTIONS = {
        "train": "model-train",
        "retrain": "model-retrain",
        "compress": "model-compress",
        "alias": "model-alias",
        "rollout": "rollout-start",
    }
    COLUMNS = (
        Column("MODEL", 1, min=10, max=32, shorten="middle"),
        Column("VERSION", 1, align="right"),
        Column("ALIASES", 2, style=status_style),
        Column("FRAMEWORK", 4),
        Column("PARENT", 3, max=32, shorten="middle"),
        Column("METRIC", 2, align="right"),
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
                    status_label(",".join(m.aliases)) if m.aliases else "-",
                    m.framework,
                    m.parent or "-",
                    _metric(m.metrics),
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

    def action_compare(self) -> None:
        """The selected version beside its model's production version (production itself: beside its
        parent): params, metrics, lineage, data, code and environment, differences marked *."""
        picked = self._selected()
        if picked is None:
            return
        model, version = picked
        versions = {m.version: m for m in self.app.engine.models(model)}
        prod = next((v for v, m in versions.items() if "production" in m.aliases), None)
        parent = versions[version].parent if version in versions else None
        other = prod if prod not in (None, version) else int(parent.rpartition(":")[2]) if parent else None
        if other is None:
            self.app.notify(f"{model}:{version} has no production version or parent to compare with", markup=False)
            return

        def text() -> str:
            from core.lifecycle.comparison import lines

            return "\n".join(lines(self.app.engine.model_compare(model, str(other), str(version))))

        self.app.open_describe(f"models: {model} v{other} beside v{version}", text)

    # -- actions -----------------------------------------------------------------------------------------
    def _selected(self) -> tuple[str, int] | None:
        key = self.selected_key()
        if not key:
            return None
        model, _, version = key.rpartition(":")
        return model, int(version)

    def action_train(self) -> None:
        from screens.dialogs import FormScreen

        trainable = self.app.engine.trainable_models()
        picked = self._selected()
        model = picked[0] if picked and picked[0] in trainable else trainable[0]

        def check(values: dict) -> str | None:
            if str(values["model"]).strip() not in trainable:
                return f"model: one of {', '.join(trainable)}"
            for k in ("epochs", "seed"):
                if not str(values[k]).strip().isdigit():
                    return f"{k}: a whole number, not {values[k]!r}"
            return None

        def go(values: dict | None) -> None:
            if values is None:
                return
            name = str(values["model"]).strip()
            job = self.app.engine.start_model_job(
                "model_train", name, params={"epochs": str(values["epochs"]).strip()}, seed=int(str(values["seed"]))
            )
            self._follow(
                f"Training {name}",
                job,
                lambda r: f"{name} version {r['version']} registered, accuracy {r['metrics'].get('accuracy')}",
            )

        self.app.push_screen(
            FormScreen(
                "Train a model",
                [
                    ("model", f"model ({', '.join(trainable)})", model),
                    ("epochs", "epochs", "15"),
                    ("seed", "seed", "0"),
                ],
                note="in a worker process; the new version is a candidate: gate it, then move an alias (a)",
                check=check,
            ),
            go,
        )

    def action_compress(self) -> None:
        picked = self._selected()
        if not picked:
            return
        model, version = picked
        if model not in self.app.engine.trainable_models():
            self.app.notify(
                f"{model}:{version} has no artifact in this console to compress "
                f"(these do: {', '.join(self.app.engine.trainable_models())})",
                severity="warning",
                markup=False,
            )
            return
        from screens.dialogs import FormScreen

        def check(values: dict) -> str | None:
            try:
                ratio = float(str(values["prune"]))
            except ValueError:
                return f"prune: a share between 0 and 1, not {values['prune']!r}"
            return None if 0 <= ratio < 1 else "prune: between 0 and 1"

        def go(values: dict | None) -> None:
            if values is None:
                return
            job = self.app.engine.start_model_job(
                "model_compress",
                model,
                str(version),
                prune=float(str(values["prune"])),
                quantize="int8" if values["int8"] else None,
            )
            self._follow(
                f"Compressing {model}:{version}",
                job,
                lambda r: (
                    f"{model} version {r['version']}: {r['size_bytes']['before'] / max(1, r['size_bytes']['after']):.1f}x smaller, "
                    f"accuracy {r['accuracy']['before']} → {r['accuracy']['after']}"
                ),
            )

        self.app.push_screen(
            FormScreen(
                f"Compress {model}:{version}",
                [
                    ("prune", "share of each layer's channels to remove", "0.6"),
                    ("int8", "int8 (dynamic, Linear layers)", True),
                ],
                note="prune, fine-tune 10 epochs, quantize; registers a child version",
                check=check,
            ),
            go,
        )

    def _follow(self, title: str, job: Any, summary: Any) -> None:
        from screens.job_dialog import JobScreen

        def finished(result: dict | None) -> None:
            if result is not None:
                self.app.notify(summary(result), markup=False)
            self.refresh_data(force=True)

        self.app.push_screen(JobScreen(title, job), finished)

    def action_alias(self) -> None:
        picked = self._selected()
        if not picked:
            return
        model, version = picked
        from screens.dialogs import FormScreen

        def go(values: dict | None) -> None:
            if values is None:
                return
            alias = str(values["alias"]).strip()

            def move() -> str:
                r = self.app.engine.model_alias(
                    model, alias, str(version), reason=str(values["reason"]).strip() or None
                )
                return f"{alias} → v{r['version']}" + (f" (was v{r['was']})" if r["was"] else "")

            self.perform(f"{model} {alias}", move)

        self.app.push_screen(
            FormScreen(
                f"Point an alias of {model} at version {version}",
                [("alias", "alias (production, canary or your own)", "production"), ("reason", "reason (audited)", "")],
                note="production and canary take a version only when it passes the gate; audit rollback undoes the move",
            ),
            go,
        )

    def action_retrain(self) -> None:
        """The drift → retrain pipeline for the deployment that serves the selected model: recent data,
        validate, train, gate, register, canary (screens/alerts.py runs it)."""
        picked = self._selected()
        if not picked:
            return
        model = picked[0]
        engine = self.app.engine
        self.gather(
            lambda: [d.name for d in engine.deployments() if d.model == model],
            lambda deps: self._retrain(model, deps),
        )

    def _retrain(self, model: str, deployments: list[str]) -> None:
        if not deployments:
            self.app.notify(f"no deployment serves {model}: nothing to retrain for", severity="warning", markup=False)
            return
        from screens.alerts import AlertsScreen

        def go(deployment: str | None) -> None:
            if deployment:
                screen = AlertsScreen()
                self.app.push_screen(screen)
                screen.call_after_refresh(screen.retrain, deployment)

        if len(deployments) == 1:
            go(deployments[0])
            return
        from screens.overlays import Picker

        self.app.push_screen(
            Picker(f"Retrain {model} for which deployment?", [(d, d) for d in deployments], deployments[0]), go
        )

    def action_rollout(self) -> None:
        """A canary rollout of the selected version on a deployment that serves its model."""
        picked = self._selected()
        if not picked:
            return
        model, version = picked
        engine = self.app.engine
        self.gather(
            lambda: [d.name for d in engine.deployments() if d.model == model],
            lambda deps: self._rollout_form(model, version, deps),
        )

    def _rollout_form(self, model: str, version: int, deployments: list[str]) -> None:
        if not deployments:
            self.app.notify(
                f"no deployment serves {model}: nothing to roll {model}:{version} out on",
                severity="warning",
                markup=False,
            )
            return
        from screens.dialogs import FormScreen
        from screens.views.common import op_summary

        engine = self.app.engine

        def check(values: dict) -> str | None:
            dep = str(values["deployment"]).strip()
            return None if dep in deployments else f"deployment: one of {', '.join(deployments)}"

        def go(values: dict | None) -> None:
            if values is None:
                return
            dep = str(values["deployment"]).strip()

            def start() -> str:
                steps, pause = engine.parse_rollout(str(values["steps"]), str(values["pause"]))
                return op_summary(
                    engine.rollout_start(dep, model, version, steps, pause, {"window_minutes": 10, "failure_limit": 2})
                )

            self.perform(f"rollout {model}:{version} on {dep}", start)

        self.app.push_screen(
            FormScreen(
                f"Canary rollout of {model}:{version}",
                [
                    ("deployment", f"deployment ({', '.join(deployments)})", deployments[0]),
                    ("steps", "canary weights", "10,30,60,100"),
                    ("pause", "after each step: manual or a duration", "manual"),
                ],
                note="after each step the canary's error rate and p99 are analysed; a failure aborts (:rollouts follows it)",
                check=check,
            ),
            go,
        )

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


def _metric(metrics: dict[str, Any]) -> str:
    """accuracy for the lifecycle's models, AUC for the estate's."""
    for name in ("accuracy", "auc"):
        if isinstance(metrics.get(name), int | float):
            return f"{name[:3]} {metrics[name]:.4f}"
    return "-"


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
