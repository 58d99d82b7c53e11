"""One progress reporter for every long command (train, compare, sweep).

On a terminal: a rich bar that fits 80 columns, with a "compiling" phase and its elapsed
time while programs compile or load, then the rate of work measured from the end of
compilation. When the output is not a terminal (a pipe, a log file, CI): a plain line every
``interval`` seconds, so a run never looks hung. Disabled, it prints nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import suppress
from typing import Any, TextIO

from poleax.lang import tr, translate

PLAIN_INTERVAL_S = 5.0
BAR_WIDTH = 10


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _compact(value: float) -> str:
    """``value`` in at most about five characters: 950, 12.3k, 1.5M."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            scaled = value / size
            return f"{scaled:.1f}{suffix}" if scaled < 100 else f"{scaled:.0f}{suffix}"
    return f"{value:.0f}"


class Progress:
    """Reports ``completed`` of ``total`` units of work, one status line at a time.

    ``compiling()`` marks the start of a compile phase (shown with its elapsed time);
    the first ``update`` after it ends the phase. ``rate()`` counts only work done after
    compilation, over the time since compilation ended.
    """

    def __init__(
        self,
        label: str,
        total: float,
        unit: str = "steps",
        enabled: bool = True,
        stream: TextIO | None = None,
        console: Any = None,
        interval: float = PLAIN_INTERVAL_S,
    ) -> None:
        self.label, self.total, self.unit, self.enabled = label, total, unit, enabled
        self.stream = stream or sys.stderr
        self.console, self.interval = console, interval
        self.start = time.perf_counter()
        self.completed = 0.0
        self.info = ""
        self.phase: str | None = None
        self.phase_start = self.start
        self._work_start: tuple[float, float] | None = None  # (time, completed) after compiling
        self._bar: Any = None
        self._task: Any = None
        self._ticker: threading.Thread | None = None
        self._closed = threading.Event()
        self._last_line = 0.0

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> Progress:
        if not self.enabled:
            return self
        if self._is_terminal():
            self._start_bar()
        else:
            self._ticker = threading.Thread(target=self._tick, daemon=True, name="poleax-progress")
            self._ticker.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stop reporting (idempotent); a plain reporter prints its last line."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self._bar is not None:
            self._bar.stop()
        elif self.enabled and self._last_line:
            self._print(self.line())

    def _is_terminal(self) -> bool:
        if self.console is not None:
            return bool(self.console.is_terminal)
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, TextColumn
        from rich.progress import Progress as RichProgress

        console = self.console or Console(file=self.stream)
        self._bar = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=BAR_WIDTH),
            TextColumn("{task.fields[status]}"),
            console=console,
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task(self.label, total=self.total, status=self._bar_status())
        threading.Thread(target=self._refresh_bar, daemon=True, name="poleax-bar").start()

    def _refresh_bar(self) -> None:
        while not self._closed.wait(0.5):  # the elapsed time moves while nothing else does
            self._show()

    def _tick(self) -> None:
        self._print(self.line())
        while not self._closed.wait(0.2):
            if time.perf_counter() - self._last_line >= self.interval:
                self._print(self.line())

    # -- what is reported ----------------------------------------------------------------

    def compiling(self, what: str = "compiling") -> None:
        """A compile (or cache load) phase begins; its elapsed time is shown."""
        self.phase, self.phase_start = what, time.perf_counter()
        self._show()

    def update(self, completed: float, info: str = "") -> None:
        """``completed`` units done so far; ``info`` a few short words (return, solved)."""
        if self.phase is not None or self._work_start is None:
            # The first report after compiling: its time was mostly compiling, so the rate
            # counts from here.
            self._work_start = (time.perf_counter(), float(completed))
        self.phase = None
        self.completed, self.info = float(completed), info
        self._show()

    def rate(self) -> float | None:
        """Units per second since compilation ended (None before any work was reported)."""
        if self._work_start is None:
            return None
        since, done = self._work_start
        elapsed = time.perf_counter() - since
        return (self.completed - done) / elapsed if elapsed > 0 else None

    def status(self, width: int | None = None) -> str:
        """What follows the label: the phase, or counts, elapsed time, rate and info.

        ``width`` (the terminal's room beside the label and the bar) writes counts as 12.3k
        and leaves out what does not fit, the rate first, then the info from its end, never
        the counts or the elapsed time.
        """
        compact = width is not None
        number = _compact if compact else "{:,.0f}".format
        elapsed = _clock(time.perf_counter() - self.start)
        if self.phase is not None:
            waited = time.perf_counter() - self.phase_start
            phase = translate(self.phase)
            return tr(
                "{phase}… {seconds:.0f} s  {elapsed}", phase=phase, seconds=waited, elapsed=elapsed
            )
        unit = "" if compact else f" {translate(self.unit)}"
        parts = [f"{number(self.completed)}/{number(self.total)}{unit}", elapsed]
        info = [part for part in self.info.split("  ") if part]
        rate = self.rate()
        rated = [tr("{rate}/s", rate=number(rate))] if rate is not None and rate > 0 else []
        if not compact:
            return "  ".join(parts + rated + info)
        for extra in (rated + info, info, info[:-1], info[:-2], []):
            line = "  ".join(parts + extra)
            if len(line) <= width:
                return line
        return line

    def _bar_status(self) -> str:
        """The status that fits beside the label and the bar on this terminal."""
        room = self._bar.console.width - len(self.label) - BAR_WIDTH - 3
        return self.status(width=max(room, 20))

    def line(self) -> str:
        return f"{self.label}: {self.status()}"

    def _show(self) -> None:
        if self._bar is not None and not self._closed.is_set():
            self._bar.update(self._task, completed=self.completed, status=self._bar_status())

    def _print(self, line: str) -> None:
        self._last_line = time.perf_counter()
        with suppress(OSError, ValueError):
            print(line, file=self.stream, flush=True)
