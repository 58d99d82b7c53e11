"""A training run end to end: folder, GIFs, training with progress, checkpoints, evaluation,
curve, summary and report. The CLI's ``train`` and the Python ``poleax.train`` both call
``run_training``.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from poleax.config import ConfigError, TrainConfig
from poleax.envs.registry import SOLVED_THRESHOLD

EVAL_SEED = 10_000
TUTORIAL_GIFS = {"before": "未训练前的样子.gif", "after": "训练后的样子.gif"}
PLAIN_GIFS = {"before": "before.gif", "after": "after.gif"}
CHECKPOINT_EVERY_CHUNKS = 5

LOG_LINES = {
    "zh": ("在第 {n} 轮游戏中获得奖励: {r:.2f} 分", "奖励超过 {t:g} ,训练结束"),
    "en": ("episode {n}: running reward {r:.2f}", "running reward above {t:g}, training finished"),
}


class RunInterrupted(RuntimeError):
    """Training was stopped by a signal; the last checkpoint was written."""

    def __init__(self, run_dir: Path, signum: int):
        super().__init__(
            f"interrupted; checkpoint saved, resume with: poleax train --resume {run_dir}"
        )
        self.run_dir = run_dir
        self.signum = signum


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


def prepare_run_dir(path: str | Path, resume: bool = False) -> Path:
    """Create (or, resuming, reuse) a writable run folder; raise ``ConfigError`` otherwise."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {path} is a file, not a folder")
    if not resume and path.exists() and (path / "checkpoint").exists():
        raise ConfigError(f"--out {path} already holds a run; use --resume {path} or another --out")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise ConfigError(f"cannot write to --out {path}: {error.strerror or error}") from None
    return path


class _StopFlag:
    """Set by SIGINT/SIGTERM; training polls it between chunks."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self) -> bool:
        return self.signum is not None

    def handler(self, signum, frame) -> None:
        self.signum = signum


def run_training(
    config: TrainConfig,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    gifs: bool = True,
    progress: bool = True,
    tensorboard: bool = False,
    console=None,
) -> Run:
    """Train ``config`` into a run folder and write every artifact; return the ``Run``."""
    from poleax import checkpoint

    process_start = time.perf_counter()
    run_dir = prepare_run_dir(resume or out or default_run_dir(config), resume=bool(resume))
    names = TUTORIAL_GIFS if config.preset == "tutorial" else PLAIN_GIFS
    files: dict[str, Path] = {}

    import jax

    from poleax.algos import make_algorithm
    from poleax.trainer import TrainingError, train

    algo = make_algorithm(config)
    state = history = None
    if resume and checkpoint.read_meta(run_dir).get("trained", True):
        template = jax.eval_shape(jax.vmap(algo.init), _keys(config))
        state = checkpoint.load_state(run_dir, template)
        history = checkpoint.load_history(run_dir, config.seeds)
    elif not resume:
        _write_json(run_dir / "config.json", config.to_dict())
    files["config"] = run_dir / "config.json"

    meta = {
        "env": config.env,
        "algo": config.algo,
        "seeds": config.seeds,
        "network": algo.spec.to_dict(),
        "config": config.to_dict(),
    }
    stop = _StopFlag()
    previous = {s: signal.signal(s, stop.handler) for s in (signal.SIGINT, signal.SIGTERM)}
    reporter = _Reporter(config, progress, console)
    writer = _tensorboard_writers(run_dir, config) if tensorboard else None

    preload = _GymnasiumPreload()

    def on_chunk(report) -> None:
        if report.chunk == 1:
            preload.start()
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
                should_stop=stop,
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
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    history = result.extra["history"]
    if result.interrupted:
        if result.state is None:  # stopped while compiling: resuming starts afresh
            checkpoint.save(run_dir, {**meta, "complete": False, "trained": False}, [])
        else:
            save_checkpoint(result.state, history)
        raise RunInterrupted(run_dir, stop.signum or signal.SIGINT)
    initial_params = result.extra["initial_params"]
    reporter.finish(result)

    from poleax.policy import Policy
    from poleax.reference import evaluate_many

    preload.wait()
    todo = [i for i in range(config.seeds) if i not in gymnasium.accepted]
    policies = [
        Policy(result.delivered_params[i], algo.spec, config.env, config.algo) for i in todo
    ]
    evaluations = dict(gymnasium.accepted)
    if todo:
        found = evaluate_many(policies, config.env, config.eval_episodes, EVAL_SEED)
        evaluations.update(zip(todo, found, strict=True))
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
    reporter.truth(summary)
    from poleax.plots import learning_curve

    steps = np.cumsum(result.metrics["charts/env_steps"], axis=1)
    files["curve"] = learning_curve(
        run_dir / "curve.png",
        steps,
        result.metrics["charts/episodic_return"],
        SOLVED_THRESHOLD[config.env],
        result.steps_to_solve,
        f"{config.algo} on {config.env}",
        result.evaluations,
    )
    if gifs:
        if initial_params is not None:
            files["before"] = _gif(config, initial_params, algo.spec, run_dir / names["before"])
        files["after"] = _gif(
            config, result.delivered_params[0], algo.spec, run_dir / names["after"]
        )
    summary["seconds_to_saved_policy"] = seconds_to_saved_policy
    summary["seconds"] = time.perf_counter() - process_start
    _write_json(run_dir / "summary.json", summary)
    files["summary"] = run_dir / "summary.json"
    from poleax.report import write_report

    files["report"] = write_report(run_dir)
    return Run(run_dir, config, summary, files)


class _GymnasiumCheck:
    """The stop rule's last word: a policy that passed the evaluation inside JAX also has to
    pass on gymnasium's CartPole (other initial states) before its seed counts as solved."""

    def __init__(self, config: TrainConfig, spec, before=lambda: None) -> None:
        self.config, self.spec, self.before = config, spec, before
        self.accepted: dict[int, dict] = {}  # seed index -> its evaluation
        self.rejected: dict[int, int] = {}  # seed index -> passes rejected

    def confirm(self, row: int, params: dict) -> bool:
        from poleax.policy import Policy
        from poleax.reference import evaluate_both

        self.before()

        policy = Policy(params, self.spec, self.config.env, self.config.algo)
        evaluation = evaluate_both(policy, self.config.env, self.config.eval_episodes, EVAL_SEED)
        if evaluation["solved"]:
            self.accepted[row] = evaluation
        else:
            self.rejected[row] = self.rejected.get(row, 0) + 1
        return evaluation["solved"]


class _GymnasiumPreload:
    """Imports gymnasium's CartPole (for the confirming evaluation) on a thread while training
    runs: XLA releases the GIL while it trains, so the import overlaps with training instead
    of following it. Started only once the programs are loaded (earlier, it would compete for
    the GIL with loading them). Whatever uses gymnasium waits for it first: two threads
    importing one package at once can fail (``KeyError`` in the import system, seen when a
    short run ended while the import was still going on).
    """

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._load, daemon=True)
            self.thread.start()

    def wait(self) -> None:
        if self.thread is not None:
            self.thread.join()

    @staticmethod
    def _load() -> None:
        from gymnasium.envs.classic_control import cartpole  # noqa: F401


def _keys(config: TrainConfig):
    from poleax.trainer import seed_keys

    return seed_keys(config)


def _seed(tree, i: int):
    import jax

    return jax.tree.map(lambda x: np.asarray(x[i]), tree)


def _gif(config: TrainConfig, params, spec, path: Path) -> Path:
    from poleax.render import render_episode

    render_episode(config.env, params, spec, path, seed=config.seed, greedy=True)
    return path


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    os.replace(tmp, path)


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
    threshold = SOLVED_THRESHOLD[config.env]
    verdict = (
        f"{sum(solved)}/{len(solved)} seed(s) solved {config.env}: mean return over "
        f"{config.eval_episodes} episodes of gymnasium's CartPole >= {threshold:g}, greedy and "
        f"sampled (greedy {np.median(greedy):.1f}, sampled {np.median(sampled):.1f}"
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
        "env_steps": [int(s) for s in result.extra["history"]["env_steps"]],
        "greedy_mean": float(np.median(greedy)),
        "sampled_mean": float(np.median(sampled)),
        "threshold": threshold,
        "eval_episodes": config.eval_episodes,
        "eval_seed": EVAL_SEED,
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

    def __init__(self, config: TrainConfig, enabled: bool, console=None) -> None:
        self.config = config
        self.console = console
        self.enabled = enabled
        self.progress = None
        self.task = None
        self.logged_episodes = 0
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
                print(line.format(n=int(n // every * every), r=float(r)), flush=True)
        self.logged_episodes = int(episodes[-1]) if len(episodes) else start
        if report.solved[0] and not self.stop_printed:
            print(done_line.format(t=self.config.running_reward_threshold), flush=True)
            self.stop_printed = True

    def finish(self, result) -> None:
        if self.progress is not None:
            self.progress.stop()

    def truth(self, summary: dict[str, Any]) -> None:
        """The solved criterion's verdict, printed next to the stop rule's."""
        print(summary["verdict"], flush=True)


def print_files(run: Run, stream=None) -> None:
    stream = stream or sys.stdout
    print(f"run folder: {run.path}", file=stream)
    for name, path in run.files.items():
        print(f"  {name:<10} {path}", file=stream)
