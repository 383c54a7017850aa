"""Small pieces the screens share."""

from __future__ import annotations

from rich.text import Text
from textual.worker import Worker, WorkerState

from core.sanitize import strip_control, visible_control

SPARK_BARS = "▁▂▃▄▅▆▇█"


def safe_text(value: object, style: str = "") -> Text:
    """Cluster data as a Rich Text: never parsed as markup; control characters shown, never sent."""
    text = visible_control("-" if value is None else str(value))
    return Text(text.replace("\n", " ").replace("\t", " "), style=style)


def counted(n: int, noun: str) -> str:
    """`1 audit event`, `2 audit events`: a count with its noun in the number it takes."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def safe_markup(text: str) -> str:
    """Text made safe to embed in Rich markup: control sequences stripped, markup escaped."""
    from rich.markup import escape

    return escape(strip_control(text))


def sparkline(values: list[float]) -> str:
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    return "".join(SPARK_BARS[min(7, int((v - lo) / span * 7.999))] for v in values)


STATUS_STYLES = {
    "Ready": "green",
    "Healthy": "green",
    "succeeded": "green",
    "production": "green",
    "NotReady": "bold red",
    "Degraded": "bold red",
    "failed": "red",
    "Failed": "red",
    "Progressing": "yellow",
    "staging": "yellow",
    "SchedulingDisabled": "yellow",
}


# a symbol before the status, so that it reads without colour too; the first that applies wins, and
# gives the colour (a cordoned Ready node reads ⊘, in SchedulingDisabled's colour)
STATUS_SYMBOLS = {
    "NotReady": "✗",
    "Degraded": "✗",
    "failed": "✗",
    "Failed": "✗",
    "SchedulingDisabled": "⊘",
    "Progressing": "◐",
    "staging": "◐",
    "Ready": "●",
    "Healthy": "●",
    "succeeded": "●",
    "production": "●",
}


def _status_key(status: str) -> str | None:
    words = set(status.replace(":", ",").replace(" ", ",").split(","))
    return next((k for k in STATUS_SYMBOLS if k in words), None)


def status_style(status: str) -> str:
    """The colour a status reads in (a grid column's style; the label's symbol does not change it)."""
    key = _status_key(status)
    return STATUS_STYLES[key] if key else ""


def status_label(status: str) -> str:
    """`● Ready`, `✗ NotReady`, `⊘ Ready,SchedulingDisabled`: the state readable without colour."""
    key = _status_key(status)
    return f"{STATUS_SYMBOLS[key]} {status}" if key else status


def status_text(status: str) -> Text:
    return safe_text(status_label(status), status_style(status))


class ForwardWorkerErrors:
    """Worker.StateChanged does not bubble: each screen hands failures to the app's one handler."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.app.report_worker_error(event.worker)
