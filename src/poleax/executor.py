"""Executors: how the host's rows (one per seed) are laid onto calls of the compiled programs.

The trainer asks an executor for the calls that init, train, screen or evaluate some rows,
and runs them on worker threads, one per CPU core (``run_calls``, this module's pool). Every call
returns a ``Part``: the rows it computed and their outputs, stacked on a leading row axis.
The trainer knows nothing else of how the work was split.

* ``rows-per-core`` (the default on a CPU): one call per row, with the single-seed
  programs. A core runs a seed's chunk and moves on, a stopped seed costs nothing, and seed
  i of any batch equals the lone run of seed i.
* ``vmapped`` (the default on a GPU or TPU): calls of ``width`` rows, with the vmapped
  programs and an ``active`` mask inside them. Each chunk the rows still training are packed
  into as few full-width calls as they fill (the last one padded with inactive slots), so a
  finished seed gives up its slot. Every call has the same width, so seed i equals seed i
  of any vmapped run of that width; XLA rounds a vmapped program differently at different
  widths (and differently from the single-seed program), so runs of other widths, or
  rows-per-core, agree only in what they decide (tested), not bit for bit.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax
import numpy as np

from poleax.algos import Algorithm, TrainState
from poleax.config import TrainConfig
from poleax.programs import Programs, compile_jobs

#: Rows per vmapped call unless ``--vmap-width`` says otherwise: on a CPU, narrow enough that
#: a few dozen seeds still make a call per core (a vmapped chunk of CartPole-v1 costs about
#: as much per seed from 16 to 64 rows, and more again at 512); on an accelerator, every
#: seed up to this cap.
CPU_VMAP_WIDTH = 16
ACCELERATOR_VMAP_WIDTH = 4096
#: Seconds without any finished call before declaring the device stuck.
CHUNK_TIMEOUT_S = 600.0


class TrainingError(RuntimeError):
    """Training could not go on (stuck device, non-finite values); the message says why.

    ``state`` and ``history`` hold the last good training state, when there is one.
    """

    state: Any = None
    history: Any = None


class Interrupted(Exception):
    """``should_stop`` said stop while calls were running; their results are dropped."""


class Part(NamedTuple):
    """What one call computed: its rows and their outputs, stacked along a leading axis."""

    rows: np.ndarray
    value: Any


Call = Callable[[], Part]


class Executor(Protocol):
    """Makes the calls for a set of rows; each call's result is a ``Part``."""

    name: str
    programs: Programs

    def compile_jobs(self, need_init: bool) -> list[Callable[[], None]]: ...

    def init_calls(self, keys: np.ndarray, rows: np.ndarray) -> list[Call]: ...

    def train_calls(self, state: TrainState, rows: np.ndarray) -> list[Call]: ...

    def screen_calls(
        self, params, keys: np.ndarray, rows: np.ndarray, chunk: int
    ) -> list[Call]: ...

    def evaluate_calls(
        self, params, keys: np.ndarray, rows: np.ndarray, chunk: int
    ) -> list[Call]: ...


def take(tree, index):
    """Rows ``index`` (an int, or an index array) of every leaf."""
    return jax.tree.map(lambda x: x[index], tree)


class RowsPerCore:
    """One call per row, with the single-seed programs."""

    name = "rows-per-core"

    def __init__(self, programs: Programs) -> None:
        self.programs = programs

    def compile_jobs(self, need_init: bool) -> list[Callable[[], None]]:
        return compile_jobs([self.programs.loader(n) for n in self.programs.needed(need_init)])

    def _calls(self, rows: np.ndarray, run: Callable[[int], Any]) -> list[Call]:
        def call(row: int) -> Part:
            value = jax.device_get(run(row))
            return Part(np.array([row]), jax.tree.map(lambda x: np.asarray(x)[None], value))

        return [lambda row=int(row): call(row) for row in rows]

    def init_calls(self, keys: np.ndarray, rows: np.ndarray) -> list[Call]:
        return self._calls(rows, lambda r: self.programs.init(keys[r]))

    def train_calls(self, state: TrainState, rows: np.ndarray) -> list[Call]:
        return self._calls(rows, lambda r: self.programs.train(take(state, r)))

    def screen_calls(self, params, keys: np.ndarray, rows: np.ndarray, chunk: int) -> list[Call]:
        return self._calls(rows, lambda r: self.programs.screen(take(params, r), keys[r], chunk))

    def evaluate_calls(self, params, keys: np.ndarray, rows: np.ndarray, chunk: int) -> list[Call]:
        return self._calls(rows, lambda r: self.programs.evaluate(take(params, r), keys[r], chunk))


class Vmapped:
    """Calls of ``programs.width`` rows, the last one padded with inactive slots.

    Behind a screen, the full evaluation is rare (a seed needs one or two), so it runs per
    row with the single-seed program (``single``) instead of paying a whole batch's slots
    for the one row that asked: its numbers then equal rows-per-core's for the same policy.
    """

    name = "vmapped"

    def __init__(self, programs: Programs, single: Programs) -> None:
        if programs.width is None or single.width is not None:
            raise ValueError("vmapped calls need programs of a fixed width, and single ones")
        self.programs = programs
        self.width = programs.width
        #: Behind a screen, full evaluations go through these one-seed calls.
        self.per_row = RowsPerCore(single) if programs.screen_episodes else None

    def compile_jobs(self, need_init: bool) -> list[Callable[[], None]]:
        names = self.programs.needed(need_init)
        if self.per_row is None:
            return compile_jobs([self.programs.loader(n) for n in names])
        loaders = [self.programs.loader(n) for n in names if n != "evaluate"]
        return compile_jobs([*loaders, self.per_row.programs.loader("evaluate")])

    def _calls(self, rows: np.ndarray, run: Callable[[np.ndarray, np.ndarray], Any]) -> list[Call]:
        def call(group: np.ndarray) -> Part:
            padding = np.repeat(group[:1], self.width - len(group))
            slots = np.concatenate([group, padding])  # a padded slot copies a real row
            active = np.arange(self.width) < len(group)
            value = jax.device_get(run(slots, active))
            return Part(group, jax.tree.map(lambda x: np.asarray(x)[: len(group)], value))

        groups = [rows[i : i + self.width] for i in range(0, len(rows), self.width)]
        return [lambda group=group: call(group) for group in groups]

    def init_calls(self, keys: np.ndarray, rows: np.ndarray) -> list[Call]:
        return self._calls(rows, lambda slots, active: self.programs.init(keys[slots]))

    def train_calls(self, state: TrainState, rows: np.ndarray) -> list[Call]:
        return self._calls(
            rows, lambda slots, active: self.programs.train(take(state, slots), active)
        )

    def screen_calls(self, params, keys: np.ndarray, rows: np.ndarray, chunk: int) -> list[Call]:
        return self._calls(
            rows,
            lambda slots, active: self.programs.screen(
                take(params, slots), keys[slots], chunk, active
            ),
        )

    def evaluate_calls(self, params, keys: np.ndarray, rows: np.ndarray, chunk: int) -> list[Call]:
        if self.per_row is not None:
            return self.per_row.evaluate_calls(params, keys, rows, chunk)
        return self._calls(
            rows,
            lambda slots, active: self.programs.evaluate(
                take(params, slots), keys[slots], chunk, active
            ),
        )


def executor_kind(config: TrainConfig) -> str:
    """``config.executor``, with ``auto`` resolved by the default JAX backend."""
    if config.executor != "auto":
        return config.executor
    return "rows-per-core" if jax.default_backend() == "cpu" else "vmapped"


def vmap_width(config: TrainConfig) -> int:
    """Rows per vmapped call: ``--vmap-width`` (or the backend's default), at most the seeds."""
    width = config.vmap_width or (
        CPU_VMAP_WIDTH if jax.default_backend() == "cpu" else ACCELERATOR_VMAP_WIDTH
    )
    return min(width, config.seeds)


def make_executor(algo: Algorithm) -> Executor:
    """The executor ``algo.config`` asks for, with its compiled programs."""
    config = algo.config
    screen = algo.stop_rule.screen_episodes()
    if executor_kind(config) == "rows-per-core":
        return RowsPerCore(Programs(algo, None, screen))
    return Vmapped(Programs(algo, vmap_width(config), screen), Programs(algo, None, screen))


# --- The pool: calls on worker threads, one per core ---------------------------------------


def worker_count() -> int:
    """Calls run at once: one per CPU core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def run_calls(
    calls: list[Callable[[], Any]],
    timeout: float = CHUNK_TIMEOUT_S,
    should_stop: Callable[[], bool] | None = None,
) -> list[Any]:
    """Run the thunks on a thread per core; return their results in order.

    The main thread stays free to take signals (compilation and device waits happen on the
    workers), raises ``Interrupted`` as soon as ``should_stop()`` and ``TrainingError`` when
    no call finished for ``timeout`` seconds, so a stuck device never hangs the process. A
    call's error is raised once the calls already running have ended (none starts after it):
    a process that exits on the error then has no compilation running beside its teardown,
    which XLA answers with an abort.
    """
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []
    lock = threading.Lock()
    finished = threading.Semaphore(0)
    queue = iter(range(len(calls)))
    started = 0
    abandoned = False  # the main thread left (interrupted, timed out): start nothing more

    def worker() -> None:
        nonlocal started
        while True:
            with lock:
                index = None if errors or abandoned else next(queue, None)
                started += index is not None
            if index is None:
                return
            try:
                results[index] = jax.device_get(calls[index]())
            except BaseException as error:  # handed to the main thread
                errors.append(error)
            finally:
                finished.release()

    for _ in range(min(worker_count(), len(calls))):
        threading.Thread(target=worker, daemon=True).start()
    deadline = time.monotonic() + timeout
    done = 0
    try:
        while done < len(calls):
            if errors:
                with lock:
                    if done >= started:  # the calls running when it failed have ended
                        break
            if should_stop is not None and should_stop():  # between any two calls, too
                raise Interrupted
            if finished.acquire(timeout=0.1):  # wakes at once when a call is done
                done += 1
                deadline = time.monotonic() + timeout
                continue
            if time.monotonic() > deadline:
                raise TrainingError(f"a training chunk did not finish within {timeout:.0f} s")
    except BaseException:
        with lock:
            abandoned = True
        raise
    if errors:
        raise errors[0]
    return results
