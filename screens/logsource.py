"""What the log view reads: the lines of a file of any size or of a text in memory, indexed as they are
needed. No Textual here: the widget (screens/logview.py) reads lines and asks for matches; the indexing
and the searching run in its worker threads.

The index is an array of line starts (8 bytes a line), grown chunk by chunk from the top: the first
chunk is small, so that the first screen shows while the rest of a gigabyte is still being indexed.
Lines are read back by offset. A file is read with pread, not through mmap: a followed log truncated
under a mapping (logrotate's copytruncate) kills the process with SIGBUS on the next read of a page past
the new end, where pread just reads less.
"""

from __future__ import annotations

import bisect
import os
import re
import threading
from array import array
from collections.abc import Callable
from pathlib import Path

MAX_LINE_BYTES = 16 * 1024  # what is read and shown of one line; a longer one says how much more there is
FIRST_CHUNK = 64 * 1024  # the first screen's worth, and more
CHUNK = 16 * 1024 * 1024
SEARCH_WINDOW = 16 * 1024 * 1024  # a search reads this much at a time, and can be stopped between reads

Stop = Callable[[], bool]


class LineSource:
    """Lines of a byte buffer: `line(i)` for any line indexed so far, `find()` for a match's offset,
    `line_of()` for its line. `index_more()` (a worker's) extends the index; `grown()` notices new bytes."""

    def __init__(self, name: str):
        self.name = name
        self._lock = threading.Lock()
        self._indexed = threading.Condition(self._lock)  # notified each time the index grows
        self._reset(0)

    def _reset(self, size: int) -> None:
        self._starts = array("q", [0])  # where each line begins; the last entry is where the next line would
        self._scanned = 0  # bytes looked through for newlines
        self._size = size  # bytes there are to index (what `grown()` last found)
        self.longest = 0  # bytes in the longest line seen
        self.generation = getattr(self, "generation", 0) + 1  # changes when the index starts over

    # -- what subclasses provide ---------------------------------------------------------------
    def _read(self, start: int, end: int) -> bytes:
        raise NotImplementedError

    def current_size(self) -> int:
        """The size of the source now: cheap (a stat for a file), called every second while following."""
        return self._size

    def _replaced(self) -> bool:
        """True when the source is no longer what was indexed (a file rotated or truncated)."""
        return False

    def close(self) -> None:
        """Let go of what the source holds open; nothing reads it afterwards."""

    # -- the index ---------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return self._size

    @property
    def complete(self) -> bool:
        """The index covers every byte known."""
        return self._scanned >= self._size

    @property
    def indexed_fraction(self) -> float:
        return 1.0 if not self._size else min(1.0, self._scanned / self._size)

    @property
    def line_count(self) -> int:
        """Lines ended by a newline, and the unended last one once the index has reached the end."""
        with self._lock:
            return self._count()

    def _count(self) -> int:
        n = len(self._starts) - 1
        if self._scanned >= self._size and self._starts[-1] < self._size:
            n += 1
        return n

    def grown(self) -> bool:
        """Take in what was added (or start over when the source was replaced). True if anything changed."""
        size = self.current_size()
        with self._lock:
            if self._replaced() or size < self._size:
                self._reset(size)
                return True
            if size == self._size:
                return False
            self._size = size
            return True

    def index_more(self, limit: int) -> int:
        """Look through up to `limit` more bytes for line ends; the number looked through (0: done)."""
        with self._lock:
            start, generation = self._scanned, self.generation
            end = min(self._size, start + limit)
            last_start = self._starts[-1]
        if end <= start:
            return 0
        data = self._read(start, end)
        if not data:  # a file that shrank meanwhile: the next grown() starts over
            return 0
        end = start + len(data)
        if len(data) <= FIRST_CHUNK:  # the first screen's chunk, a small log: not worth importing numpy for
            starts = array("q")
            i = data.find(b"\n")
            while i >= 0:
                starts.append(start + i + 1)
                i = data.find(b"\n", i + 1)
            longest, prev = 0, last_start
            for at in starts:
                longest, prev = max(longest, at - 1 - prev), at
            new = starts.tobytes()
        else:
            import numpy as np  # heavy imports are lazy: only for a big log, in a worker

            ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
            found = ends.astype(np.int64) + (start + 1)
            longest = int(max(found[0] - 1 - last_start, np.diff(found).max(initial=0) - 1)) if len(found) else 0
            new = found.tobytes()
        if not new:  # no line end in the chunk: the line it is in goes on
            longest = end - last_start
        with self._indexed:
            if generation != self.generation or self._scanned != start:  # started over meanwhile: stale
                return 1
            self._starts.frombytes(new)
            self._scanned = end
            self.longest = max(self.longest, longest)
            self._indexed.notify_all()
        return max(1, end - start)

    def line(self, i: int) -> tuple[bytes, int] | None:
        """Line `i` without its line end, at most MAX_LINE_BYTES of it, and its whole length in bytes."""
        with self._lock:
            if not 0 <= i < self._count():
                return None
            start = self._starts[i]
            end = self._starts[i + 1] - 1 if i + 1 < len(self._starts) else self._size
            data = self._read(start, min(end, start + MAX_LINE_BYTES))
        if data.endswith(b"\r") and len(data) == end - start:  # CRLF: the CR is part of the line end
            data = data[:-1]
            end -= 1
        return data, end - start

    def offset_of(self, i: int) -> int:
        """Where line `i` starts (the end of the source past the last line)."""
        with self._lock:
            if i < len(self._starts):
                return self._starts[max(0, i)]
            return self._size

    def line_of(self, offset: int, stop: Stop | None = None) -> int | None:
        """The line holding byte `offset`, waiting for the index to reach it (None if stopped first)."""
        with self._indexed:
            while self._scanned <= offset and self._scanned < self._size:
                if stop is not None and stop():
                    return None
                self._indexed.wait(0.1)
            return max(0, min(bisect.bisect_right(self._starts, offset) - 1, self._count() - 1))

    # -- search ------------------------------------------------------------------------------------
    def find(
        self,
        needle: bytes,
        start: int,
        *,
        backward: bool = False,
        ignore_case: bool = False,
        stop: Stop | None = None,
    ) -> int | None:
        """The offset of the first match at or after `start` (backward: the last match that begins before
        `start`), or None. Reads SEARCH_WINDOW bytes at a time, overlapping by the needle's length."""
        if not needle:
            return None
        rx = re.compile(re.escape(needle), re.IGNORECASE) if ignore_case else None
        size, k = self._size, len(needle)
        if not backward:
            pos = max(0, start)
            while pos < size:
                if stop is not None and stop():
                    return None
                window = self._read(pos, min(size, pos + SEARCH_WINDOW + k - 1))
                if rx is not None:
                    m = rx.search(window)
                    hit = m.start() if m else -1
                else:
                    hit = window.find(needle)
                if hit >= 0:
                    return pos + hit
                pos += SEARCH_WINDOW
            return None
        end = min(start, size)
        while end > 0:
            if stop is not None and stop():
                return None
            lo = max(0, end - SEARCH_WINDOW)
            window = self._read(lo, min(size, end + k - 1))  # a match beginning before `end` ends by here
            if rx is not None:
                hit = -1
                for m in rx.finditer(window):
                    if lo + m.start() >= end:
                        break
                    hit = m.start()
            else:
                hit = window.rfind(needle)
            if hit >= 0:
                return lo + hit
            end = lo
        return None


class TextSource(LineSource):
    """A text in memory (what the simulator's `attempt_log` returns)."""

    def __init__(self, text: str, name: str = "text"):
        self._data = text.encode("utf-8", "surrogateescape")
        super().__init__(name)
        self._size = len(self._data)

    def _read(self, start: int, end: int) -> bytes:
        return self._data[start:end]


class FileSource(LineSource):
    """A file of any size, open for as long as the view is; it may grow (followed) or be replaced."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_RDONLY)
        self._retired: list[int] = []
        st = os.fstat(self._fd)
        self._ino = (st.st_dev, st.st_ino)
        super().__init__(self.path.name)
        self._size = st.st_size

    def _read(self, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        return os.pread(self._fd, end - start, start)

    def current_size(self) -> int:
        try:
            return os.stat(self.path).st_size  # a file now at the path, rotated in, is taken by grown()
        except OSError:  # gone (rotated away, not yet recreated): what is open stays readable
            return os.fstat(self._fd).st_size

    def _replaced(self) -> bool:
        """A new file at the path (rotated): open it instead, from the top."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        if (st.st_dev, st.st_ino) == self._ino:
            return False
        # the old descriptor stays open until the source is closed: a search may still be reading it, and a
        # number closed now could be a new file's by the time it reads
        self._retired.append(self._fd)
        self._fd = os.open(self.path, os.O_RDONLY)
        self._ino = (st.st_dev, st.st_ino)
        return True

    def close(self) -> None:
        """Called once nothing reads the source any more (it is also closed when collected)."""
        fds, self._retired = [self._fd, *self._retired], []
        self._fd = -1
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            self.close()
