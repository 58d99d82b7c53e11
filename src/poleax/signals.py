"""SIGINT and SIGTERM for a command (train, compare, sweep): one ``Signals`` for them all.

A signal sets a flag that the long loops poll (training saves a checkpoint, a comparison keeps
its finished pairs, a sweep marks its trials). Inside ``interruptible()`` it raises ``Stop`` at
once instead; anywhere else (writing a checkpoint or a summary) the write ends first. Python
takes handlers only on the main thread; elsewhere the flag never rises.

``catch_early()`` is called first thing by the CLI: a signal that arrives while the process is
still importing JAX or compiling is held and handed to the first ``Signals`` installed, so a
Ctrl-C counts from the first instant of the process.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

HANDLED = (signal.SIGINT, signal.SIGTERM)

_early: list[int] = []  # signals caught before any Signals was installed
_before_early: dict[int, Any] = {}  # the handlers catch_early replaced


class Stop(BaseException):
    """Raised by the handler inside ``Signals.interruptible()``."""


def _hold(signum: int, frame: Any) -> None:
    _early.append(signum)


def catch_early() -> None:
    """Hold SIGINT/SIGTERM until a ``Signals`` is installed (main thread only)."""
    if threading.current_thread() is threading.main_thread():
        for s in HANDLED:
            current = signal.getsignal(s)
            if current in (signal.default_int_handler, signal.SIG_DFL):
                _before_early[s] = current
                signal.signal(s, _hold)


def release_early() -> int | None:
    """Put back the handlers ``catch_early`` replaced; the signal still held, if any."""
    for s, handler in _before_early.items():
        if signal.getsignal(s) is _hold:
            signal.signal(s, handler)
    _before_early.clear()
    held = _early[0] if _early else None
    _early.clear()
    return held


class Signals:
    """The flag a command's loops poll, set by SIGINT/SIGTERM.

    ``exit_message``: if given, a second signal ends the process at once after writing
    ``exit_message`` on stderr (a sweep worker whose training calls do not return).
    """

    def __init__(self, exit_message: str | None = None) -> None:
        self.signum: int | None = None
        self.event = threading.Event()
        self.exit_message = exit_message
        self._raising = False
        self._previous: dict[int, Any] = {}

    def __call__(self) -> bool:
        return self.signum is not None

    def install(self) -> Signals:
        if threading.current_thread() is threading.main_thread():
            for s in HANDLED:
                previous = signal.signal(s, self._handler)
                if previous is _hold:
                    previous = _before_early.get(s, signal.SIG_DFL)
                self._previous[s] = previous
            if _early:
                self._set(_early.pop(0))
                _early.clear()
        return self

    def restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}

    def __enter__(self) -> Signals:
        return self.install()

    def __exit__(self, *exc: Any) -> None:
        self.restore()

    def _set(self, signum: int) -> None:
        self.signum = signum
        self.event.set()

    def _handler(self, signum: int, frame: Any) -> None:
        if self.signum is not None and self.exit_message is not None:
            os.write(2, self.exit_message.encode() + b"\n")
            os._exit(128 + signum)
        self._set(signum)
        if self._raising:
            self._raising = False
            raise Stop

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        """Within this block a signal raises ``Stop`` at once."""
        if self.signum is not None:
            raise Stop
        self._raising = True
        try:
            yield
        finally:
            self._raising = False
