"""Long model work (training, compression) in a worker process: the TUI's event loop never waits on
torch, and a cancel is a flag the training reads between batches. The child opens its own engine on the
same settings (its own store connection: the registration and its audit record are one transaction
there as anywhere)."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from console.settings import Settings

# what a job may run: the engine's methods, by name
METHODS = ("model_train", "model_compress", "model_retrain")


@dataclass
class Event:
    kind: str  # progress | note (what a cluster's Job is doing) | done | error
    epoch: int = 0
    epochs: int = 0
    loss: float = 0.0
    eta_seconds: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)
    message: str = ""


class ModelJob:
    """One training or compression in its own process. `events()` drains what it reported so far."""

    def __init__(self, target: Callable[..., None], settings: Settings, method: str, *args: Any, **kwargs: Any):
        """`target(settings, method, args, kwargs, events, cancel)` runs in the child: it opens an engine
        and calls `method` on it (console.engine.run_model_job)."""
        if method not in METHODS:
            raise ValueError(f"not a model job: {method}")
        ctx = mp.get_context("spawn")  # no fork of a process with threads (the TUI's, torch's)
        with _real_stdio():  # the queue's semaphore starts multiprocessing's resource tracker, a child too
            self._events = ctx.Queue()
            self._cancel = ctx.Event()
            self.process = ctx.Process(
                target=target, args=(settings, method, args, kwargs, self._events, self._cancel), daemon=True
            )
            self.process.start()
        self.finished: Event | None = None

    def events(self, wait: float = 0.0) -> list[Event]:
        out = []
        try:
            out.append(self._events.get(timeout=wait) if wait else self._events.get_nowait())
            while True:
                out.append(self._events.get_nowait())
        except queue.Empty:
            pass
        if not out and self.finished is None and not self.process.is_alive():
            # what it put just before it ended may still be on its way through the pipe
            try:
                out.append(self._events.get(timeout=2.0))
            except queue.Empty:
                code = self.process.exitcode
                self.finished = Event("error", message=f"the worker process ended without a word (exit code {code})")
        for e in out:
            if e.kind in ("done", "error"):
                self.finished = e
        return out

    def cancel(self) -> None:
        self._cancel.set()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.terminate()


@contextlib.contextmanager
def _real_stdio() -> Iterator[None]:
    """The process's own stdout and stderr while a child starts: under a TUI (Textual replaces them) they
    have no file descriptor, and multiprocessing hands stderr's to the children it starts."""
    saved = sys.stdout, sys.stderr
    try:
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            try:
                ok = stream.fileno() >= 0
            except (AttributeError, OSError, ValueError):
                ok = False
            if not ok:
                setattr(sys, name, getattr(sys, f"__{name}__"))
        yield
    finally:
        sys.stdout, sys.stderr = saved
