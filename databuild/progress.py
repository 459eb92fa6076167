"""Progress a person can follow, on stderr: done/total, items per second and the time left.

One rule for every command: on a terminal, one line redrawn in place (a bar); anywhere else (pipes, CI logs) a plain
line every `interval` seconds and one when the work ends, so a log shows that the work moves without filling up.

    with Progress("evaluating epoch 2/10", total=len(intents)) as progress:
        for done in ...:
            progress.update(done)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 24
REDRAW_SECONDS = 0.1  # a terminal line is redrawn at most this often
LINE_SECONDS = 10.0  # a plain line at most this often


def duration(seconds: float) -> str:
    """`m:ss`, or `h:mm:ss` from an hour on."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Progress over `total` items (`unit`), written to `stream` (stderr); `enabled=False` writes nothing."""

    def __init__(
        self,
        description: str,
        total: int,
        unit: str = "intents",
        *,
        stream: TextIO | None = None,
        interactive: bool | None = None,
        interval: float = LINE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        enabled: bool = True,
    ) -> None:
        self.description = description
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.interval = REDRAW_SECONDS if self.interactive else interval
        self.clock = clock
        self.started = clock()
        self.last_shown = self.started
        self.done = 0
        self.note = ""  # e.g. the running loss, shown after the counts
        self.closed = not enabled  # a disabled progress writes nothing at all
        if self.interactive and enabled:
            self._show(self.status())

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def advance(self, count: int = 1) -> None:
        self.update(self.done + count)

    def update(self, done: int, note: str | None = None) -> None:
        """`done` items finished so far (and a `note`); shown when the last line is at least `interval` old."""
        self.done = min(done, self.total)
        self.note = self.note if note is None else note
        now = self.clock()
        if now - self.last_shown >= self.interval and not self.closed:
            self.last_shown = now
            self._show(self.status())

    def close(self) -> None:
        """The final line (always written, also when nothing was shown before)."""
        if self.closed:
            return
        self.closed = True
        self._show(self.status(final=True))
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()

    def status(self, final: bool = False) -> str:
        elapsed = self.clock() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        counts = f"{self.done}/{self.total} {self.unit}"
        note = f", {self.note}" if self.note else ""
        if final:
            return f"{self.description}: {counts} in {duration(elapsed)} ({rate:.1f} {self.unit}/s){note}"
        share = self.done / self.total if self.total else 1.0
        left = f"ETA {duration((self.total - self.done) / rate)}" if rate > 0 else "ETA ?"
        text = f"{counts} ({share:.0%}), {rate:.1f} {self.unit}/s, {left}{note}"
        if self.interactive:
            filled = int(share * BAR_WIDTH)
            return f"{self.description} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {text}"
        return f"{self.description}: {text}"

    def _show(self, line: str) -> None:
        if self.interactive:
            self.stream.write("\r\x1b[K" + line)  # back to the line's start, clear it, redraw
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
