"""A model job in progress (training, compression): a progress bar with the epoch, loss and time left,
read from the worker process a few times a second; `escape` cancels (the job stops between batches and
registers nothing). Dismissed with the job's result, or None."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import ProgressBar, Static

from screens.widgets import safe_text

POLL_SECONDS = 0.2


class JobScreen(ModalScreen[dict | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel")]

    def __init__(self, title: str, job: Any):
        super().__init__()
        self.title_text, self.job = title, job
        self.cancelling = False
        self.epoch = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Text(self.title_text, "bold"))
            yield ProgressBar(total=None, show_eta=False, id="bar")
            yield Static("starting the worker process…", id="status")
            yield Static(Text.assemble(("esc", "bold"), " cancels: nothing is registered"), id="keys")

    def on_mount(self) -> None:
        self.set_interval(POLL_SECONDS, self.poll)

    def poll(self) -> None:
        for e in self.job.events():
            if e.kind == "progress":
                self.epoch = e.epoch
                self.query_one("#bar", ProgressBar).update(total=e.epochs, progress=e.epoch)
                if not self.cancelling:
                    self.query_one("#status", Static).update(
                        f"epoch {e.epoch}/{e.epochs} · loss {e.loss:.4f} · {_eta(e.eta_seconds)} left"
                    )
            elif e.kind == "note" and not self.cancelling:  # a cluster's Job: created, waiting for its pod
                self.query_one("#status", Static).update(safe_text(e.message))
        done = self.job.finished
        if done is None:
            return
        if done.kind == "done":
            self.dismiss(done.result)
            return
        severity = "warning" if self.cancelling else "error"
        self.app.notify(safe_text(done.message).plain, severity=severity, markup=False)
        self.dismiss(None)

    def action_cancel(self) -> None:
        if self.cancelling:  # a second escape: stop waiting for the job to notice
            self.job.kill()
            return
        self.cancelling = True
        self.job.cancel()
        self.query_one("#status", Static).update("cancelling… (esc again stops the process)")


def _eta(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
