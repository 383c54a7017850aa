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
    "Ready": "green", "Healthy": "green", "succeeded": "green", "production": "green",
    "NotReady": "bold red", "Degraded": "bold red", "failed": "red", "Failed": "red",
    "Progressing": "yellow", "staging": "yellow", "SchedulingDisabled": "yellow",
}


def status_text(status: str) -> Text:
    style = next((s for key, s in STATUS_STYLES.items() if key in status.split(",")), "")
    if "NotReady" in status:
        style = "bold red"
    return safe_text(status, style)


class ForwardWorkerErrors:
    """Worker.StateChanged does not bubble: each screen hands failures to the app's one handler."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.app.report_worker_error(event.worker)
