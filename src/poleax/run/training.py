"""A training run end to end: the folder, training with progress, checkpoints, the judging on
gymnasium, then the summary, the pictures and the report, each stage safe to interrupt."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poleax.config import ConfigError, TrainConfig
from poleax.files import write_json
from poleax.run.folder import default_run_dir, prepare_run_dir
from poleax.run.judging import GymnasiumCheck, GymnasiumPreload, final_evaluations
from poleax.run.log import Reporter
from poleax.run.pictures import Pictures, PictureWorker, draw_pictures
from poleax.run.summary import per_seed_results, summarise, write_metrics
from poleax.signals import Signals, Stop

TUTORIAL_GIFS = {"before": "未训练前的样子.gif", "after": "训练后的样子.gif"}
PLAIN_GIFS = {"before": "before.gif", "after": "after.gif"}
CHECKPOINT_EVERY_CHUNKS = 5


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
        from poleax.checkpoint import load_policy

        return load_policy(self.path, seed_index=seed_index)


@dataclass
class _Session:
    """What the stages of one run share: its settings, folder, signals and helpers."""

    config: TrainConfig
    run_dir: Path
    signals: Signals
    process_start: float
    algo: Any
    meta: dict[str, Any]
    names: dict[str, str]
    files: dict[str, Path] = field(default_factory=dict)

    def interrupted(self, complete: bool = False) -> RunInterrupted:
        return RunInterrupted(self.run_dir, self.signals.signum or signal.SIGINT, complete)

    def save_checkpoint(self, state, history, complete: bool = False) -> None:
        import poleax.checkpoint as checkpoint

        # each seed's delivered policy: its snapshot, else its parameters in the state (as
        # TrainResult.delivered_params), each stored once
        checkpoint.save(self.run_dir, {**self.meta, "complete": complete}, None, state, history)


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
    signals = Signals().install()
    worker = PictureWorker.start()  # matplotlib's pictures, beside the main process
    try:
        session = _open(config, run_dir, bool(resume), signals, process_start)
        result, gymnasium, preload, pictures = _train(
            session, bool(resume), gifs, progress, tensorboard, console, worker
        )
        return _finish(session, result, gymnasium, preload, pictures)
    finally:
        worker.close()
        signals.restore()
        lock.release()


def _open(config, run_dir: Path, resume: bool, signals: Signals, process_start: float):
    """The run's session; a new run writes its ``config.json`` first."""
    from poleax.algos import make_algorithm

    algo = make_algorithm(config)
    if not resume:
        write_json(run_dir / "config.json", config.to_dict())
    meta = {
        "env": config.env,
        "algo": config.algo,
        "seeds": config.seeds,
        "network": algo.spec.to_dict(),
        "config": config.to_dict(),
    }
    names = TUTORIAL_GIFS if config.preset == "tutorial" else PLAIN_GIFS
    session = _Session(config, run_dir, signals, process_start, algo, meta, names)
    session.files["config"] = run_dir / "config.json"
    return session


def _resumed(session: _Session):
    """The state and history a resumed run goes on from (None, None when it starts afresh)."""
    import jax

    import poleax.checkpoint as checkpoint
    from poleax.trainer import seed_keys

    if not checkpoint.read_meta(session.run_dir).get("trained", True):
        return None, None  # stopped while compiling: nothing was trained
    template = jax.eval_shape(jax.vmap(session.algo.init), seed_keys(session.config))
    _, state, history = checkpoint.load_resume(session.run_dir, template, session.config.seeds)
    return state, history


def _train(session: _Session, resume, gifs, progress, tensorboard, console, worker):
    """Train to the stop rule or the budget, checkpointing; raise ``RunInterrupted`` on a
    signal (the checkpoint written first)."""
    import poleax.checkpoint as checkpoint
    from poleax.trainer import TrainingError, train

    config = session.config
    state, history = _resumed(session) if resume else (None, None)
    reporter = Reporter(config, progress, console, history)
    writer = _tensorboard_writer(session.run_dir, config) if tensorboard else None
    preload = GymnasiumPreload()
    pictures = Pictures(
        config, session.algo, session.run_dir, session.names, gifs, worker, preload.wait
    )

    def on_chunk(report) -> None:
        if report.chunk == 1:
            preload.start()
            pictures.start_early()  # the untrained policy's GIF, beside the training
        reporter.update(report)
        if writer is not None:
            writer(report)

    gymnasium = GymnasiumCheck(session.algo, preload.wait)
    try:
        with reporter:
            result = train(
                config,
                algo=session.algo,
                on_chunk=on_chunk,
                on_compiling=reporter.compiling,
                should_stop=session.signals,
                state=state,
                history=history,
                on_checkpoint=session.save_checkpoint,
                checkpoint_every=CHECKPOINT_EVERY_CHUNKS,
                confirm=gymnasium.confirm,
            )
    except TrainingError as error:
        if getattr(error, "state", None) is not None:  # the last good state
            session.save_checkpoint(error.state, error.history)
        raise
    if result.interrupted:
        if result.state is None:  # stopped while compiling: resuming starts afresh
            meta = {**session.meta, "complete": False, "trained": False}
            checkpoint.save(session.run_dir, meta, [])
        else:
            session.save_checkpoint(result.state, result.history)
        raise session.interrupted()
    return result, gymnasium, preload, pictures


def _finish(session: _Session, result, gymnasium, preload, pictures) -> Run:
    """Judge every seed on gymnasium, save the delivered policies, then write the summary,
    the pictures and the report."""
    config, run_dir, signals = session.config, session.run_dir, session.signals
    files = session.files
    pictures.start_after(result)  # drawn in memory while the run is judged and saved
    try:
        with signals.interruptible():
            evaluations = final_evaluations(session.algo, result, gymnasium, preload)
    except Stop:  # trained but not judged: the checkpoint resumes into the judging
        session.save_checkpoint(result.state, result.history)
        raise session.interrupted() from None
    per_seed = per_seed_results(session.algo, result, evaluations, gymnasium.rejected)
    session.save_checkpoint(result.state, result.history, complete=True)
    files["checkpoint"] = run_dir / "checkpoint"
    seconds_to_saved_policy = time.perf_counter() - session.process_start
    files["metrics"] = write_metrics(run_dir / "metrics.csv", result)
    summary = summarise(
        session.algo, result, per_seed, session.names, time.perf_counter() - session.process_start
    )
    summary["seconds_to_saved_policy"] = seconds_to_saved_policy
    files["summary"] = write_json(run_dir / "summary.json", summary)  # complete from here on
    Reporter.truth(session.algo, summary)
    try:
        with signals.interruptible():
            files.update(draw_pictures(pictures, result, per_seed))
        summary["seconds"] = time.perf_counter() - session.process_start
        write_json(run_dir / "summary.json", summary)
        with signals.interruptible():
            from poleax.report import write_report

            files["report"] = write_report(run_dir)
    except Stop:
        raise session.interrupted(complete=True) from None
    files["summary"] = files.pop("summary")  # listed after the pictures
    files["report"] = files.pop("report")
    return Run(run_dir, config, summary, files)


def _tensorboard_writer(run_dir: Path, config: TrainConfig):
    from poleax.tensorboard import ChunkWriter

    return ChunkWriter(run_dir / "tensorboard", config)
