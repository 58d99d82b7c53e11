"""A run's pictures: GIFs drawn on threads, the curve and the maps by a matplotlib worker
process that loads while the run trains; each written once the policy is saved."""

from __future__ import annotations

import functools
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, wait
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np

from poleax.config import TrainConfig
from poleax.files import write_bytes
from poleax.history import ENV_STEPS, EPISODES, EPISODIC_RETURN


def draw_pictures(pictures: Pictures, result, per_seed: list[dict]) -> dict[str, Path]:
    """The learning curve, the before/after GIFs and the policy and value maps, written once
    the policy is saved (most of them were drawn while it was being judged and saved). The
    curve marks each seed's verdict (``per_seed``, the summary's) and, apart, the stops of a
    rule whose stop is not a solve."""
    pictures.start_after(result)
    pictures.start_curve(result, per_seed)
    return pictures.write()


class Pictures:
    """A run's pictures, each begun as soon as what it shows exists, none written before the
    policy is saved.

    The untrained policy's GIF is drawn on a thread while training runs; the thread then
    prepares the next GIF's drawing. Once training ends, while the run is judged and saved,
    the trained policy's GIF is drawn on a thread here, the maps and then the learning curve
    (matplotlib) by a ``PictureWorker`` process that loaded matplotlib while the run trained
    (one process, not one per picture: a second costs every run half a core-second to load
    matplotlib again, for a few tenths of a second of wall time at its end). ``write`` waits
    for them and writes the files.
    """

    def __init__(
        self, config: TrainConfig, algo, run_dir: Path, names, gifs: bool, worker, before
    ) -> None:
        self.config, self.algo, self.run_dir, self.names = config, algo, run_dir, names
        self.gifs, self.worker, self.before = gifs, worker, before
        self.jobs: dict[str, Future] = {}
        self.drawing = threading.Lock()  # one GIF at a time: pygame, and the player's cache

    def start_early(self) -> None:
        if self.gifs and "before" not in self.jobs:
            self.jobs["before"] = _in_thread(self._before_gif)

    def start_after(self, result) -> None:
        if "maps" in self.jobs:
            return
        from poleax.envs.registry import REGISTERED_BY
        from poleax.run.judging import policy_of

        config = self.config
        trained = policy_of(self.algo, result.delivered_params[0])

        module = REGISTERED_BY.get(config.env, "")
        self.jobs["maps"] = self.worker.submit(_maps, module, trained, config.seed)
        if self.gifs:
            self.start_early()
            self.jobs["after"] = _in_thread(self._gif, result.delivered_params[0])

    def start_curve(self, result, per_seed: list[dict]) -> None:
        """The learning curve, drawn by its worker once the seeds' verdicts are known."""
        import poleax.plots as plots

        if "curve" in self.jobs:
            return
        config, task = self.config, self.algo.task.spec
        curve = functools.partial(
            plots.curve_png,
            episodes=result.metrics.get(EPISODES),
            # Before every env could have played a whole capped episode, only short ones end.
            start_step=config.num_envs * task.max_steps,
        )
        self.jobs["curve"] = self.worker.submit(
            curve,
            np.cumsum(result.metrics[ENV_STEPS], axis=1),
            result.metrics[EPISODIC_RETURN],
            task.solve.threshold,
            [s["steps_to_solve"] for s in per_seed],
            f"{config.algo} on {config.env}",
            result.evaluations,
            [s.get("steps_to_stop") for s in per_seed],
        )

    def _before_gif(self) -> bytes:
        from poleax.render import prepare
        from poleax.trainer import untrained_params

        data = self._gif(untrained_params(self.config))  # the trainer's, made again
        with self.drawing:
            prepare(self.algo.task.spec)  # the trained policy's GIF draws faster
        return data

    def _gif(self, params) -> bytes:
        from poleax.render import episode_gif

        self.before()  # gymnasium imported (by one thread at a time)
        with self.drawing:
            task = self.algo.task.spec
            data, _ = episode_gif(task, params, self.algo.spec, self.config.seed)
        return data

    def write(self) -> dict[str, Path]:
        """Wait for every picture and write it; the files in the order a user reads them."""
        files = {"curve": write_bytes(self.run_dir / "curve.png", _wait(self.jobs["curve"]))}
        if self.gifs:
            for name in ("before", "after"):
                files[name] = write_bytes(self.run_dir / self.names[name], _wait(self.jobs[name]))
        for name, data in _wait(self.jobs["maps"]).items():
            files[name] = write_bytes(self.run_dir / f"{name}.png", data)
        return files


def _maps(task_module: str, policy, seed: int) -> dict[str, bytes]:
    """``maps.map_images`` in a picture worker: a task registered from user code is known
    there once the module that registered it is imported (none for a script's own
    ``__main__``: then no maps, as before)."""
    import importlib

    import poleax.maps as maps

    if policy.known_task() is None and task_module not in ("", "__main__"):
        with suppress(Exception):  # e.g. a class defined in a script: no maps, as before
            importlib.import_module(task_module)
    return maps.map_images(policy, seed)


def _wait(job: Future):
    """``job.result()``, polled, so that the main thread takes signals while it waits."""
    while not job.done():
        wait([job], timeout=0.1)
    return job.result()


def _in_thread(fn: Callable[..., Any], *args: Any) -> Future:
    """``fn(*args)`` on a new thread; its future. Not a daemon: a process that ends normally
    waits for it rather than tearing JAX down beside it."""
    future: Future = Future()

    def work() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as error:  # handed to whoever waits on it
            future.set_exception(error)

    threading.Thread(target=work, name=f"poleax-{getattr(fn, '__name__', 'job')}").start()
    return future


class PictureWorker:
    """A second Python process that draws pictures with matplotlib beside the main process.

    Started with the run (``start``), it imports matplotlib (and gymnasium, for the maps)
    and warms matplotlib's fonts while the main process trains. ``submit(fn, *args)`` runs a
    module-level function there (one at a time, in order) and returns a future of its
    (pickled) result. It never writes a file and takes no terminal's signals (the run decides
    what an interrupt stops); it ends when the run closes it, or when the main process is
    gone. Where it cannot start or dies, the work runs on a thread here.
    """

    #: Imports the loop quietly: a worker that cannot start leaves its work to this process.
    COMMAND = (
        "try:\n from poleax.run.pictures import _serve_pictures\nexcept BaseException:\n exit(1)\n"
    )

    @classmethod
    def start(cls) -> PictureWorker:
        """The run's worker, its process started (the one place a run starts one)."""
        return cls()

    def __init__(self) -> None:
        self.jobs: dict[int, tuple[Future, Callable, tuple]] = {}
        self.lock = threading.Lock()
        self.count = 0
        self.alive = False
        self.closing = False
        self.process: subprocess.Popen | None = None
        root = str(Path(__file__).resolve().parents[2])  # this poleax, there too
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", self.COMMAND + "_serve_pictures()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": path},
                start_new_session=True,  # no terminal's Ctrl-C: the run decides
            )
        except OSError:
            return
        self.alive = True
        threading.Thread(target=self._read, name="poleax-picture-worker", daemon=True).start()
        self.submit(_warm_worker)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        with self.lock:
            ident, self.count = self.count, self.count + 1
            self.jobs[ident] = (future, fn, args)
            alive = self.alive
        try:
            if not alive:
                raise OSError("no picture worker")
            request = pickle.dumps((fn, args), pickle.HIGHEST_PROTOCOL)
            pickle.dump((ident, request), self.process.stdin, pickle.HIGHEST_PROTOCOL)
            self.process.stdin.flush()
        except Exception:  # gone, never there, or not picklable: here, then
            with self.lock:
                if self.jobs.pop(ident, None) is None:  # already handed on by _read
                    return future
            return _here(fn, *args)
        return future

    def _read(self) -> None:
        """Hand each reply to its future; if the worker dies, run what it left on threads."""
        try:
            while True:
                ident, ok, value = pickle.load(self.process.stdout)
                with self.lock:
                    future, _, _ = self.jobs.pop(ident)
                (future.set_result if ok else future.set_exception)(value)
        except Exception:  # EOF: closed, or the worker died
            pass
        with self.lock:
            self.alive = False
            left, self.jobs = list(self.jobs.values()), {}
        if not self.closing:
            for future, fn, args in left:
                _here(fn, *args).add_done_callback(
                    lambda done, future=future: _copy_outcome(done, future)
                )

    def close(self) -> None:
        """Stop the worker now (what it still draws is no longer wanted)."""
        self.closing = True
        if self.process is not None:
            with suppress(OSError):
                self.process.kill()
            with suppress(Exception):
                self.process.wait(timeout=5)
            for pipe in (self.process.stdin, self.process.stdout):
                with suppress(OSError):
                    pipe.close()


_HERE = threading.Lock()


def _here(fn: Callable[..., Any], *args: Any) -> Future:
    """A worker's job run on a thread of this process instead, one at a time (two threads
    must not import matplotlib at once)."""

    def serially() -> Any:
        with _HERE:
            return fn(*args)

    serially.__name__ = getattr(fn, "__name__", "job")
    return _in_thread(serially)


def _copy_outcome(source: Future, target: Future) -> None:
    if source.exception() is not None:
        target.set_exception(source.exception())
    else:
        target.set_result(source.result())


def _warm_worker() -> None:
    """What a picture worker imports and loads before it is asked for anything."""
    from gymnasium.envs import classic_control  # noqa: F401 (the maps' greedy episode)

    import poleax.maps as maps  # noqa: F401
    from poleax.plots import warm_up

    warm_up()


def _serve_pictures() -> None:
    """The picture worker's loop: requests ``(ident, pickled (fn, args))`` on stdin, replies
    ``(ident, ok, result or exception)`` on stdout, until stdin ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print goes to stderr, not into the replies
    requests = sys.stdin.buffer
    while True:
        try:
            ident, request = pickle.load(requests)
        except Exception:  # EOF: the run is over, or its process gone
            break
        try:
            fn, args = pickle.loads(request)
            reply = (ident, True, fn(*args))
        except Exception as error:
            reply = (ident, False, error)
        try:
            try:
                data = pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
            except Exception as error:  # an unpicklable result or exception
                data = pickle.dumps((ident, False, RuntimeError(repr(error))))
            replies.write(data)
            replies.flush()
        except OSError:
            break
    os._exit(0)
