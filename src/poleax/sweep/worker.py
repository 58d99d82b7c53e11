"""A sweep worker's loop: claim trials, train them, write the outputs, leave cleanly on a
signal."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import defaultdict
from typing import Any

from poleax.config import ConfigError
from poleax.files import write_json
from poleax.lang import tr, translate
from poleax.progress import Progress
from poleax.signals import Signals
from poleax.sweep.outputs import write_outputs
from poleax.sweep.settings import (
    SHAPE_KEYS,
    WAIT_S,
    SweepInterrupted,
    SweepSettings,
    _base,
    trials_per_batch,
    validate_settings,
)
from poleax.sweep.storage import (
    _quiet_optuna,
    _storage_target,
    _Study,
)
from poleax.sweep.training import (
    _prepare_out,
    _remove_made,
    _Stopped,
    propose,
    train_group,
)


def run_sweep(settings: SweepSettings, progress: bool = True) -> dict[str, Any]:
    """Work on the study until it has ``trials`` finished trials; write the outputs.

    Raises ``ConfigError`` (nothing written) for bad settings or an unusable storage, and
    ``SweepInterrupted`` after SIGINT/SIGTERM (having printed one line on stderr).
    """
    with Signals(exit_message=tr("poleax sweep: stopped at once (second signal)")) as stop:
        validate_settings(settings)
        target = _storage_target(settings)
        if stop():  # a signal while checking: leave before writing anything
            _interrupted(stop.signum, f"interrupted by {signal.Signals(stop.signum).name}")
        quiet = _quiet_optuna()
        opened = _Study(settings, target)
        try:
            if settings.storage is None:  # the study lives in the out folder
                made = _prepare_out(settings.out)
                try:
                    opened.open()
                except ConfigError:
                    _remove_made(made, target)
                    raise
            else:
                opened.open()
                _prepare_out(settings.out)
            return _work(settings, opened, stop, progress)
        finally:
            opened.close()
            quiet.__exit__(None, None, None)


def _interrupted(signum: int, message: str):
    """Print the one line and raise ``SweepInterrupted``."""
    _say(message)
    sys.stdout.flush()
    raise SweepInterrupted(signum, message)


def _say(message: str) -> None:
    """``poleax sweep: MESSAGE`` on stderr, in the language in force."""
    line = tr("{prog}: {message}", prog="poleax sweep", message=translate(message))
    print(line, file=sys.stderr, flush=True)


def _leave_if_busy(signum: int, before: set, opened: _Study) -> None:
    """Exit the process now if training calls still run on worker threads.

    The trainer's threads go on with their queued calls (a compilation, a chunk) after an
    interrupt; Python's teardown would wait for them or abort inside XLA ("FATAL: exception
    not rethrown"). They get half a second to end; past that the process leaves at once, with
    the trials already marked and the line already printed.
    """
    busy = [
        t
        for t in threading.enumerate()
        if t.daemon and t.is_alive() and t not in before and t is not opened._thread
    ]
    deadline = time.monotonic() + 0.5
    for thread in busy:
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in busy):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(128 + signum)


def _work(settings: SweepSettings, opened: _Study, stop: Signals, progress: bool):
    before = set(threading.enumerate())  # threads that are not training calls
    start = time.perf_counter()
    ran = 0
    bar = Progress(tr("sweep {study}", study=settings.study), settings.trials, "trials", progress)
    asked: list = []
    try:
        with bar:
            while not stop():
                asked = opened.claim(trials_per_batch(settings))
                if not asked:
                    if opened.counts()["finished"] >= settings.trials:
                        break
                    bar.update(min(opened.counts()["finished"], settings.trials))
                    stop.event.wait(WAIT_S)  # other workers' trials run (or go stale)
                    continue
                values = [propose(opened.study, trial, settings) for trial in asked]
                base = _base(settings)
                groups: dict[tuple, list[int]] = defaultdict(list)
                for i, v in enumerate(values):
                    groups[tuple(v.get(k, getattr(base, k)) for k in SHAPE_KEYS)].append(i)
                for key, members in groups.items():
                    if stop():
                        raise _Stopped
                    shape = dict(zip(SHAPE_KEYS, key, strict=True))
                    train_group(
                        settings,
                        [asked[i] for i in members],
                        [values[i] for i in members],
                        shape,
                        opened,
                        stop,
                    )
                ran += len(asked)
                asked = []
                bar.update(min(opened.counts()["finished"], settings.trials))
    except _Stopped:
        pass
    except BaseException:
        # Nothing of this batch may stay RUNNING: mark what was not told failed, then raise.
        opened.fail([t for t in asked if t._trial_id in opened.mine], "error")
        raise
    if stop():
        name = signal.Signals(stop.signum).name
        unfinished = [t for t in asked if t._trial_id in opened.mine]
        opened.fail(unfinished, name)
        parts = [f"interrupted by {name}"]
        if unfinished:
            numbers = ", ".join(str(t.number) for t in unfinished)
            if len(unfinished) > 1:
                parts.append(f"trials {numbers} marked failed")
            else:
                parts.append(f"trial {numbers} marked failed")
        finished = opened.counts()["finished"]
        parts.append(
            f"the study has {finished} of {settings.trials} trials finished "
            "(run the same command to go on)"
        )
        message = "; ".join(parts)
        _say(message)
        sys.stdout.flush()
        _leave_if_busy(stop.signum, before, opened)
        raise SweepInterrupted(stop.signum, message)
    summary = write_outputs(opened.study, settings)
    summary["trials_run_here"] = ran
    summary["seconds"] = time.perf_counter() - start
    write_json(settings.out / "summary.json", summary)
    return summary
