"""A training run end to end: folder, GIFs, training with progress, checkpoints, evaluation,
curve, summary and report. The CLI's ``train`` and the Python ``poleax.train`` both call
``run_training``.
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from poleax.config import ConfigError, TrainConfig, solve_criterion
from poleax.envs.registry import env_spec

TUTORIAL_GIFS = {"before": "未训练前的样子.gif", "after": "训练后的样子.gif"}
PLAIN_GIFS = {"before": "before.gif", "after": "after.gif"}
CHECKPOINT_EVERY_CHUNKS = 5

LOG_LINES = {
    "zh": ("在第 {n} 轮游戏中获得奖励: {r:.2f} 分", "奖励超过 {t:g} ,训练结束"),
    "en": ("episode {n}: running reward {r:.2f}", "running reward above {t:g}, training finished"),
}


class RunInterrupted(RuntimeError):
    """The run was stopped by a signal; what it had done is saved (the message says how to
    go on)."""

    def __init__(self, run_dir: Path, signum: int, complete: bool = False):
        if complete:
            message = (
                f"interrupted while drawing the run's pictures; its policy, checkpoint and "
                f"summary are saved; redraw the report with: poleax report {run_dir}"
            )
        else:
            message = f"interrupted; checkpoint saved, resume with: poleax train --resume {run_dir}"
        super().__init__(message)
        self.run_dir = run_dir
        self.signum = signum
        self.complete = complete


@dataclass
class Run:
    """What a finished run produced: its folder, summary and trained policies."""

    path: Path
    config: TrainConfig
    summary: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)

    def policy(self, seed_index: int = 0):
        from poleax.api import load

        return load(self.path, seed_index=seed_index)


def default_run_dir(config: TrainConfig, root: str | Path = "runs") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{config.env}__{config.algo}__{config.seed}__{stamp}"


#: Room kept under the file system's path limit for the longest name a run writes inside
#: its folder (``checkpoint/<version>/history.json.tmp`` and the like).
LONGEST_INNER_PATH = 96


def prepare_run_dir(path: str | Path, resume: bool = False) -> tuple[Path, RunLock]:
    """Create (or, resuming, reuse) a writable run folder and lock it for this process.

    Raises ``ConfigError`` (nothing written) for a file, an unwritable place, a path too long
    for the files a run writes, a folder that already holds a run, or one that another
    process is using.
    """
    if not str(path):
        raise ConfigError("--out must name a folder; got an empty path")
    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            raise ConfigError(f"--out {path} is a file, not a folder")
        _check_path_length(path)
        path.mkdir(parents=True, exist_ok=True)
        lock = RunLock(path)
    except OSError as error:
        raise ConfigError(f"cannot write to --out {path}: {error.strerror or error}") from None
    try:
        from poleax.checkpoint import has_checkpoint

        if not resume and has_checkpoint(path):
            raise ConfigError(
                f"--out {path} already holds a run; use --resume {path} or another --out"
            )
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        lock.release()
        raise ConfigError(f"cannot write to --out {path}: {error.strerror or error}") from None
    except BaseException:
        lock.release()
        raise
    return path, lock


def _check_path_length(path: Path) -> None:
    """Refuse a folder whose name, or whose inner files' paths, the file system cannot hold."""
    full = path.absolute()
    existing = next((p for p in (full, *full.parents) if p.exists()), Path("/"))
    try:
        name_max = os.pathconf(existing, "PC_NAME_MAX")
        path_max = os.pathconf(existing, "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    for part in full.parts:
        if len(os.fsencode(part)) > name_max:
            raise ConfigError(f"--out has a name longer than {name_max} bytes: {part[:40]}…")
    if len(os.fsencode(str(full))) + LONGEST_INNER_PATH > path_max:
        raise ConfigError(
            f"--out is too long ({len(str(full))} characters): a run writes files up to "
            f"{LONGEST_INNER_PATH} characters deeper, and paths are limited to {path_max}"
        )


class RunLock:
    """An exclusive ``flock`` on ``RUN/.lock`` held while a process writes the run, so two
    processes never train (or resume) into one folder; the second gets a clear error."""

    def __init__(self, run_dir: Path) -> None:
        import fcntl

        self.path = run_dir / ".lock"
        self._file = open(self.path, "a+")  # noqa: SIM115 (held until release)
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().strip() or "?"
            self._file.close()
            raise ConfigError(
                f"run folder {run_dir} is in use by another poleax process (pid {holder}); "
                "wait for it or choose another --out"
            ) from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"{os.getpid()}\n")
        self._file.flush()

    def release(self) -> None:
        if not self._file.closed:
            self._file.close()  # closing drops the flock


class _Stop(BaseException):
    """Raised by the signal handler where a run can stop at once (see ``Signals``)."""


class Signals:
    """SIGINT/SIGTERM for the whole run, from its folder's creation to its last artifact.

    While training, a signal sets a flag the trainer polls (it then saves a checkpoint).
    Inside ``interruptible()`` (the final evaluation, the pictures) it raises ``_Stop`` at
    once; anywhere else (writing a checkpoint or the summary) it waits for the write to end.
    Installed only on the main thread (Python allows handlers nowhere else); elsewhere the
    flag simply never rises.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._raising = False
        self._previous: dict[int, Any] = {}

    def __call__(self) -> bool:
        return self.signum is not None

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._previous[s] = signal.signal(s, self._handler)

    def restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}

    def _handler(self, signum, frame) -> None:
        self.signum = signum
        if self._raising:
            self._raising = False
            raise _Stop

    @contextmanager
    def interruptible(self):
        if self.signum is not None:
            raise _Stop
        self._raising = True
        try:
            yield
        finally:
            self._raising = False


def run_training(
    config: TrainConfig,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    gifs: bool = True,
    progress: bool = True,
    tensorboard: bool = False,
    console=None,
) -> Run:
    """Train ``config`` into a run folder and write every artifact; return the ``Run``.

    The folder is locked for the whole run, and SIGINT/SIGTERM at any moment leave it
    resumable or complete (``RunInterrupted`` says which).
    """
    process_start = time.perf_counter()
    if resume is not None and out is not None and Path(out) != Path(resume):
        raise ConfigError("--resume continues a run in its own folder; drop --out")
    run_dir, lock = prepare_run_dir(resume or out or default_run_dir(config), resume=bool(resume))
    signals = Signals()
    signals.install()
    workers = _PictureWorkers.start()  # matplotlib's pictures, beside the main process
    try:
        return _run(
            config, run_dir, bool(resume), gifs, progress, tensorboard, console, signals,
            process_start, workers,
        )  # fmt: skip
    finally:
        workers.close()
        signals.restore()
        lock.release()


def _run(
    config: TrainConfig,
    run_dir: Path,
    resume: bool,
    gifs: bool,
    progress: bool,
    tensorboard: bool,
    console,
    signals: Signals,
    process_start: float,
    workers: _PictureWorkers,
) -> Run:
    from poleax import checkpoint

    names = TUTORIAL_GIFS if config.preset == "tutorial" else PLAIN_GIFS
    files: dict[str, Path] = {}

    import jax

    from poleax.algos import make_algorithm
    from poleax.trainer import TrainingError, train

    algo = make_algorithm(config)
    state = history = None
    if resume and checkpoint.read_meta(run_dir).get("trained", True):
        template = jax.eval_shape(jax.vmap(algo.init), _keys(config))
        _, state, history = checkpoint.load_resume(run_dir, template, config.seeds)
    elif not resume:
        write_json(run_dir / "config.json", config.to_dict())
    files["config"] = run_dir / "config.json"

    meta = {
        "env": config.env,
        "algo": config.algo,
        "seeds": config.seeds,
        "network": algo.spec.to_dict(),
        "config": config.to_dict(),
    }
    reporter = _Reporter(config, progress, console, history)
    writer = _tensorboard_writers(run_dir, config) if tensorboard else None

    preload = _GymnasiumPreload()
    pictures = _Pictures(config, algo, run_dir, names, gifs, workers, preload.wait)

    def on_chunk(report) -> None:
        if report.chunk == 1:
            preload.start()
            pictures.start_early()  # the untrained policy's GIF, beside the training
        reporter.update(report)
        if writer is not None:
            writer(report)

    gymnasium = _GymnasiumCheck(config, algo.spec, preload.wait)

    def save_checkpoint(state, history) -> None:
        policies = [_seed(state.params, i) for i in range(config.seeds)]
        checkpoint.save(run_dir, {**meta, "complete": False}, policies, state, history)

    try:
        with reporter:
            result = train(
                config,
                on_chunk=on_chunk,
                should_stop=signals,
                state=state,
                history=history,
                on_checkpoint=save_checkpoint,
                checkpoint_every=CHECKPOINT_EVERY_CHUNKS,
                confirm=gymnasium.confirm,
            )
    except TrainingError as error:
        if getattr(error, "state", None) is not None:  # the last good state
            save_checkpoint(error.state, error.history)
        raise
    history = result.history
    if result.interrupted:
        if result.state is None:  # stopped while compiling: resuming starts afresh
            checkpoint.save(run_dir, {**meta, "complete": False, "trained": False}, [])
        else:
            save_checkpoint(result.state, history)
        raise RunInterrupted(run_dir, signals.signum or signal.SIGINT)
    reporter.finish(result)
    pictures.start_after(result)  # drawn in memory while the run is judged and saved

    try:
        with signals.interruptible():
            evaluations = _final_evaluations(config, algo.spec, result, gymnasium, preload)
    except _Stop:  # trained but not judged: the checkpoint resumes into the judging
        save_checkpoint(result.state, history)
        raise RunInterrupted(run_dir, signals.signum or signal.SIGINT) from None
    per_seed = []
    for i in range(config.seeds):
        evaluation = evaluations[i]
        per_seed.append(
            {
                "seed": config.seed + i,
                "solved": evaluation["solved"],
                "solved_in_training": result.steps_to_solve[i] is not None,
                "steps_to_solve": result.steps_to_solve[i],
                "seconds_to_solve": result.seconds_to_solve[i],
                "passes_rejected_by_gymnasium": gymnasium.rejected.get(i, 0),
                "evaluation": evaluation,
            }
        )
    checkpoint.save(
        run_dir, {**meta, "complete": True}, result.delivered_params, result.state, history
    )
    files["checkpoint"] = run_dir / "checkpoint"
    seconds_to_saved_policy = time.perf_counter() - process_start
    files["metrics"] = _write_metrics(run_dir / "metrics.csv", result)
    summary = _summary(config, result, per_seed, names, time.perf_counter() - process_start)
    summary["seconds_to_saved_policy"] = seconds_to_saved_policy
    write_json(run_dir / "summary.json", summary)  # the run is complete from here on
    files["summary"] = run_dir / "summary.json"
    reporter.truth(summary)
    try:
        with signals.interruptible():
            files.update(_pictures(pictures, result))
    except _Stop:
        raise RunInterrupted(run_dir, signals.signum or signal.SIGINT, complete=True) from None
    summary["seconds"] = time.perf_counter() - process_start
    write_json(run_dir / "summary.json", summary)
    try:
        with signals.interruptible():
            from poleax.report import write_report

            files["report"] = write_report(run_dir)
    except _Stop:
        raise RunInterrupted(run_dir, signals.signum or signal.SIGINT, complete=True) from None
    files["summary"] = files.pop("summary")  # listed after the pictures, as before
    files["report"] = files.pop("report")
    return Run(run_dir, config, summary, files)


def _final_evaluations(config, spec, result, gymnasium, preload) -> dict[int, dict]:
    """Every seed's evaluation on gymnasium: the confirmation's where there was one."""
    from poleax.policy import Policy
    from poleax.reference import evaluate_many

    preload.wait()
    todo = [i for i in range(config.seeds) if i not in gymnasium.accepted]
    policies = [Policy(result.delivered_params[i], spec, config.env, config.algo) for i in todo]
    evaluations = dict(gymnasium.accepted)
    if todo:
        criterion = solve_criterion(config)
        found = evaluate_many(policies, config.env, criterion.episodes, criterion.eval_seed)
        evaluations.update(zip(todo, found, strict=True))
    return evaluations


def _pictures(pictures: _Pictures, result) -> dict[str, Path]:
    """The learning curve, the before/after GIFs and the policy and value maps, written once
    the policy is saved (most of them were drawn while it was being judged and saved)."""
    pictures.start_after(result)
    return pictures.write()


class _Pictures:
    """A run's pictures, each begun as soon as what it shows exists, none written before the
    policy is saved.

    The untrained policy's GIF is drawn on a thread while training runs; the thread then
    prepares the next GIF's drawing. Once training ends, while the run is judged and saved,
    the trained policy's GIF is drawn on a thread here, the learning curve and the maps
    (matplotlib) by two ``_PictureWorkers`` processes that loaded matplotlib while the run
    trained. ``write`` waits for them and writes the files.
    """

    def __init__(
        self, config: TrainConfig, algo, run_dir: Path, names, gifs: bool, workers, before
    ) -> None:
        self.config, self.algo, self.run_dir, self.names = config, algo, run_dir, names
        self.gifs, self.workers, self.before = gifs, workers, before
        self.jobs: dict[str, Future] = {}
        self.drawing = threading.Lock()  # one GIF at a time: pygame, and the player's cache

    def start_early(self) -> None:
        if self.gifs and "before" not in self.jobs:
            self.jobs["before"] = _in_thread(self._before_gif)

    def start_after(self, result) -> None:
        if "maps" in self.jobs:
            return
        from poleax import maps, plots
        from poleax.policy import Policy

        config = self.config
        trained = Policy(result.delivered_params[0], self.algo.spec, config.env, config.algo)
        self.jobs["maps"] = self.workers.maps.submit(maps.map_images, trained, config.seed)
        self.jobs["curve"] = self.workers.curve.submit(
            plots.curve_png,
            np.cumsum(result.metrics["charts/env_steps"], axis=1),
            result.metrics["charts/episodic_return"],
            env_spec(config.env).solve.threshold,
            result.steps_to_solve,
            f"{config.algo} on {config.env}",
            result.evaluations,
        )
        if self.gifs:
            self.start_early()
            self.jobs["after"] = _in_thread(self._gif, result.delivered_params[0])

    def _before_gif(self) -> bytes:
        from poleax.render import prepare
        from poleax.trainer import untrained_params

        data = self._gif(untrained_params(self.config))  # the trainer's, made again
        with self.drawing:
            prepare(self.config.env)  # the trained policy's GIF draws faster
        return data

    def _gif(self, params) -> bytes:
        from poleax.render import episode_gif

        self.before()  # gymnasium imported (by one thread at a time)
        with self.drawing:
            data, _ = episode_gif(self.config.env, params, self.algo.spec, self.config.seed)
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


class _PictureWorker:
    """A second Python process that draws pictures with matplotlib beside the main process.

    Started with the run, it imports matplotlib (and gymnasium, for the maps) and warms
    matplotlib's fonts while the main process trains. ``submit(fn, *args)`` runs a
    module-level function there and returns a future of its (pickled) result. It never
    writes a file and takes no terminal's signals (the run decides what an interrupt stops);
    it ends when the run closes it, or when the main process is gone. Where it cannot start
    or dies, the work runs on a thread here.
    """

    #: Imports the loop quietly: a worker that cannot start leaves its work to this process.
    COMMAND = "try:\n from poleax.run import _serve_pictures\nexcept BaseException:\n exit(1)\n"

    def __init__(self, for_maps: bool) -> None:
        self.jobs: dict[int, tuple[Future, Callable, tuple]] = {}
        self.lock = threading.Lock()
        self.count = 0
        self.alive = False
        self.closing = False
        self.process: subprocess.Popen | None = None
        root = str(Path(__file__).resolve().parent.parent)  # this poleax, there too
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
        self.submit(_warm_worker, for_maps)

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


class _PictureWorkers(NamedTuple):
    """The two picture workers: one draws the learning curve, the other the maps."""

    curve: _PictureWorker
    maps: _PictureWorker

    @classmethod
    def start(cls) -> _PictureWorkers:
        return cls(_PictureWorker(for_maps=False), _PictureWorker(for_maps=True))

    def close(self) -> None:
        for worker in self:
            worker.close()


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


def _warm_worker(for_maps: bool) -> None:
    """What a picture worker imports and loads before it is asked for anything."""
    from poleax.plots import warm_up

    warm_up()
    if for_maps:
        from gymnasium.envs import classic_control  # noqa: F401 (the maps' greedy episode)

        from poleax import maps  # noqa: F401


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


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` in one atomic step (as ``write_json``); return ``path``."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


class _GymnasiumCheck:
    """The stop rule's last word: a policy that passed the evaluation inside JAX also has to
    pass on gymnasium's env (other initial states), by the same margin of standard errors
    (``SolveCriterion.passes_confidently``), before its seed counts as solved."""

    def __init__(self, config: TrainConfig, spec, before=lambda: None) -> None:
        self.config, self.spec, self.before = config, spec, before
        self.accepted: dict[int, dict] = {}  # seed index -> its evaluation
        self.rejected: dict[int, int] = {}  # seed index -> passes rejected

    def confirm(self, rows: list[int], params: list[dict]) -> list[bool]:
        """A verdict per row: its policy passes on gymnasium's env by the margin. The
        policies play side by side (one forward pass for all, ``reference.act_together``)."""
        from poleax.policy import Policy
        from poleax.reference import evaluate_many

        self.before()
        criterion = solve_criterion(self.config)
        policies = [Policy(p, self.spec, self.config.env, self.config.algo) for p in params]
        found = evaluate_many(policies, self.config.env, criterion.episodes, criterion.eval_seed)
        verdicts = []
        for row, evaluation in zip(rows, found, strict=True):
            n = max(evaluation["episodes"] - 1, 1)  # standard errors from population stds
            confident = evaluation["solved"] and criterion.passes_confidently(
                evaluation["greedy"]["mean"],
                evaluation["sampled"]["mean"],
                evaluation["greedy"]["std"] / n**0.5,
                evaluation["sampled"]["std"] / n**0.5,
            )
            if confident:
                self.accepted[row] = evaluation
            else:
                self.rejected[row] = self.rejected.get(row, 0) + 1
            verdicts.append(bool(confident))
        return verdicts


class _GymnasiumPreload:
    """Imports gymnasium's envs (for the confirming evaluation) on a thread while training
    runs: XLA releases the GIL while it trains, so the import overlaps with training instead
    of following it. Started only once the programs are loaded (earlier, it would compete for
    the GIL with loading them).

    Whatever uses gymnasium calls ``wait`` first, which imports under one lock: the first
    caller (the preload thread, the confirming thread or the main thread, in whatever order
    they come) imports, the others wait for it. Two threads importing one package at once can
    fail (``KeyError`` or a partially initialised module in the import system).
    """

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._loaded = False

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self.wait, daemon=True)
            self.thread.start()

    def wait(self) -> None:
        with self._lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    @staticmethod
    def _load() -> None:
        from gymnasium.envs import classic_control  # noqa: F401


def _keys(config: TrainConfig):
    from poleax.trainer import seed_keys

    return seed_keys(config)


def _seed(tree, i: int):
    import jax

    return jax.tree.map(lambda x: np.asarray(x[i]), tree)


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON in one atomic step; a failed write leaves no partial file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_metrics(path: Path, result) -> Path:
    """One row per (seed, update): env steps so far and every metric."""
    metrics = result.metrics
    names = sorted(metrics)
    steps = np.cumsum(metrics["charts/env_steps"], axis=1)
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["seed", "update", "global_step", *names])
        for i in range(steps.shape[0]):
            for u in range(steps.shape[1]):
                if metrics["charts/env_steps"][i, u] == 0:
                    continue  # the seed had stopped (solved) by then
                row = [float(metrics[n][i, u]) for n in names]
                out.writerow([result.config.seed + i, u + 1, int(steps[i, u]), *row])
    return path


def _summary(config, result, per_seed, names, seconds) -> dict[str, Any]:
    solved = [s["solved"] for s in per_seed]
    steps = [s["steps_to_solve"] for s in per_seed if s["steps_to_solve"] is not None]
    greedy = [s["evaluation"]["greedy"]["mean"] for s in per_seed]
    sampled = [s["evaluation"]["sampled"]["mean"] for s in per_seed]
    criterion = solve_criterion(config)
    verdict = (
        f"{sum(solved)}/{len(solved)} seed(s) solved {config.env}: "
        f"{env_spec(config.env).describe_solve(criterion)} "
        f"(greedy {np.median(greedy):.1f}, sampled {np.median(sampled):.1f}"
        f"{', medians' if len(solved) > 1 else ''})."
    )
    out = {
        "env": config.env,
        "algo": config.algo,
        "seeds": [s["seed"] for s in per_seed],
        "solved": all(solved),
        "solved_count": int(sum(solved)),
        "steps_to_solve": int(np.median(steps)) if len(steps) == len(per_seed) else None,
        "seconds": seconds,
        "train_seconds": result.train_seconds,
        "env_steps": [int(s) for s in result.history.env_steps],
        "greedy_mean": float(np.median(greedy)),
        "sampled_mean": float(np.median(sampled)),
        "threshold": criterion.threshold,
        "eval_episodes": config.eval_episodes,
        "eval_seed": criterion.eval_seed,
        "stop_rule": config.stop_rule,
        "per_seed": per_seed,
        "gif_names": names,
        "verdict": verdict,
    }
    if config.stop_rule == "running-reward":
        running = result.metrics["charts/running_reward"]
        out["running_reward"] = [float(r[np.isfinite(r)][-1]) for r in running]
        out["episodes"] = [int(e) for e in result.metrics["charts/episodes"].sum(axis=1)]
    return out


def _tensorboard_writers(run_dir: Path, config: TrainConfig):
    from poleax.tensorboard import ChunkWriter

    return ChunkWriter(run_dir / "tensorboard", config)


class _Reporter:
    """Progress bar (rich) and the tutorial's log lines."""

    def __init__(self, config: TrainConfig, enabled: bool, console=None, history=None) -> None:
        self.config = config
        self.console = console
        self.enabled = enabled
        self.progress = None
        self.task = None
        self.logged_episodes = 0  # a resumed run goes on counting from its checkpoint's
        if history is not None and "charts/episodes" in history.metrics:
            self.logged_episodes = int(history.metric("charts/episodes")[0].sum())
        self.stop_printed = False

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                console=self.console or Console(stderr=True),
                transient=False,
            )
            self.progress.__enter__()
            self.task = self.progress.add_task(
                f"{self.config.algo} {self.config.env}", total=self.config.total_steps, info=""
            )
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def update(self, report) -> None:
        if self.config.stop_rule == "running-reward" and self.config.seeds == 1:
            self._log_running_reward(report)
        if self.progress is None:
            return
        steps = float(np.median(report.env_steps))
        sps = steps / max(report.seconds, 1e-9)
        parts = [f"{sps:,.0f} steps/s"]
        recent = report.episodic_return
        if np.isfinite(recent).any():
            parts.append(f"return {np.nanmedian(recent):.1f}")
        if report.greedy is not None and report.active.any():
            greedy, sampled = report.greedy[report.active], report.sampled[report.active]
            parts.append(f"eval {np.median(greedy):.0f}/{np.median(sampled):.0f}")
        parts.append(f"solved {int(report.solved.sum())}/{len(report.solved)}")
        self.progress.update(self.task, completed=steps, info="  ".join(parts))

    def _log_running_reward(self, report) -> None:
        line, done_line = LOG_LINES[self.config.lang]
        episodes = np.cumsum(report.metrics["charts/episodes"][0]) + self.logged_episodes
        running = report.metrics["charts/running_reward"][0]
        every = self.config.log_every_episodes
        start = self.logged_episodes
        for n, r, count in zip(
            episodes, running, report.metrics["charts/episodes"][0], strict=True
        ):
            if count and (n // every) > ((n - count) // every):
                _say(line.format(n=int(n // every * every), r=float(r)))
        self.logged_episodes = int(episodes[-1]) if len(episodes) else start
        if report.solved[0] and not self.stop_printed:
            _say(done_line.format(t=self.config.running_reward_threshold))
            self.stop_printed = True

    def finish(self, result) -> None:
        if self.progress is not None:
            self.progress.stop()

    def truth(self, summary: dict[str, Any]) -> None:
        """The solved criterion's verdict, printed next to the stop rule's."""
        _say(summary["verdict"])


def _say(line: str) -> None:
    """Print a line of the run's log; an unusable stdout (a full disk, ``/dev/full``) never
    stops the run (the CLI reports it once the run is saved)."""
    with suppress(OSError):
        print(line, flush=True)


def print_files(run: Run, stream=None) -> None:
    stream = stream or sys.stdout
    print(f"run folder: {run.path}", file=stream)
    for name, path in run.files.items():
        print(f"  {name:<10} {path}", file=stream)
