"""Hyperparameter sweeps on Optuna, a batch of trials trained together by the host loop.

A worker asks Optuna for ``batch`` trials (by default as many as fill the CPU cores with
their seeds), groups them by the settings that change array shapes
(envs, rollout length, minibatches, epochs), and trains each group's trials and seeds together
as rows of one compiled program (on every core; a row stops when solved or pruned): the
continuous settings (learning rate, gamma, GAE lambda, clip range, entropy
and value coefficients) sit in each row's training state as arrays. It then tells Optuna each
trial's score: the mean over seeds of env steps to solve, an unsolved seed counted at the
budget. Hopeless trials are pruned between chunks with Optuna's pruner (the shortfall of the
trial's mean greedy evaluation from the threshold, reported as the intermediate value).

Any Optuna storage shares one study between workers: start the same command on each machine.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from poleax.config import ConfigError, TrainConfig, build_config
from poleax.envs.registry import SOLVED_THRESHOLD

SWEEP_ALGOS = ("ppo", "a2c")
SHAPE_KEYS = ("num_envs", "num_steps", "minibatches", "epochs")


@dataclass(frozen=True)
class SweepSettings:
    """What ``poleax sweep`` was asked to do."""

    algo: str = "ppo"
    env: str = "CartPole-v1"
    trials: int = 20
    batch: int | None = None  # trials trained together; None: as many as fill the cores
    seeds: int = 2
    study: str = "poleax"
    storage: str | None = None
    out: Path = Path("sweeps/poleax")
    total_steps: int = 50_000
    seed: int = 0
    search_shapes: bool = False
    sampler_seed: int | None = None


def suggest(trial, algo: str, search_shapes: bool = False) -> dict[str, Any]:
    """The search space: continuous settings, and with ``search_shapes`` the shape-changing
    ones too (trials that differ in shape train in separate programs)."""
    values = {
        "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
        "gamma": trial.suggest_float("gamma", 0.95, 0.999),
        "gae_lambda": trial.suggest_float("gae_lambda", 0.8, 1.0),
        "ent_coef": trial.suggest_float("ent_coef", 1e-6, 1e-2, log=True),
        "vf_coef": trial.suggest_float("vf_coef", 0.25, 1.0),
    }
    if algo == "ppo":
        values["clip_eps"] = trial.suggest_float("clip_eps", 0.1, 0.3)
    if search_shapes:
        values["num_envs"] = trial.suggest_categorical("num_envs", [4, 8, 16])
        values["num_steps"] = trial.suggest_categorical("num_steps", [16, 32, 64])
        if algo == "ppo":
            values["minibatches"] = trial.suggest_categorical("minibatches", [1, 2, 4])
            values["epochs"] = trial.suggest_categorical("epochs", [5, 10, 20])
    return values


def trials_per_batch(settings: SweepSettings) -> int:
    """``--batch``, else as many trials as fill the CPU cores with their seeds (at least one).

    A seed is a row and a core trains one row at a time, so more trials than that gain no
    speed and lose pruning: a trial is judged against the trials finished before it.
    """
    if settings.batch is not None:
        return settings.batch
    from poleax.trainer import worker_count

    return max(1, worker_count() // settings.seeds)


def validate_settings(settings: SweepSettings) -> None:
    if settings.algo not in SWEEP_ALGOS:
        raise ConfigError(
            f"sweep supports algorithms {', '.join(SWEEP_ALGOS)}; got {settings.algo!r}"
        )
    for name in ("trials", "batch", "seeds", "total_steps"):
        value = getattr(settings, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1; got {value}")
    build_config(settings.algo, settings.env)  # checks the env id


def open_study(settings: SweepSettings):
    """Create or join the study (SQLite in the sweep folder unless ``--storage`` is given)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = settings.storage or f"sqlite:///{(settings.out / 'study.db').resolve()}"
    if storage.startswith("journal:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        storage = JournalStorage(JournalFileBackend(storage[len("journal:") :]))
    try:
        return optuna.create_study(
            study_name=settings.study,
            storage=storage,
            direction="minimize",
            load_if_exists=True,
            sampler=optuna.samplers.TPESampler(seed=settings.sampler_seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=2),
        )
    except Exception as error:  # unreachable database, bad URL, missing driver
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"cannot open study storage {settings.storage!r}: {reason}") from None


def _finished(study) -> int:
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


def _claimed(study) -> int:
    import optuna

    states = (
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
        optuna.trial.TrialState.RUNNING,
    )
    return len(study.get_trials(deepcopy=False, states=states))


def train_group(settings: SweepSettings, trials: list, values: list[dict], shape: dict) -> None:
    """Train trials that share array shapes, all their seeds as rows of one run; tell Optuna."""
    import jax.numpy as jnp
    import optuna

    from poleax.algos import make_algorithm
    from poleax.algos.onpolicy import HPARAMS
    from poleax.trainer import init_state, train

    rows = len(trials) * settings.seeds
    config = build_config(
        settings.algo,
        settings.env,
        seed=settings.seed + 1000 * trials[0].number,
        seeds=rows,
        total_steps=settings.total_steps,
        **shape,
    )
    algo = make_algorithm(config)
    state = init_state(algo)
    per_row = [v for v in values for _ in range(settings.seeds)]
    table = {
        name: jnp.array([v.get(name, getattr(config, name)) for v in per_row], jnp.float32)
        for name in HPARAMS
    }
    state = state._replace(extra={**state.extra, "hparams": table})
    threshold = SOLVED_THRESHOLD[settings.env]
    budget = settings.total_steps
    pruned = np.zeros(len(trials), bool)
    told = np.zeros(len(trials), bool)
    greedy = np.zeros(rows)  # each row's latest greedy evaluation

    def tell(i: int, steps: np.ndarray) -> None:
        """A trial is told as soon as its seeds are done, so it counts for pruning the rest."""
        told[i] = True
        if pruned[i]:
            trials[i].study.tell(trials[i], state=optuna.trial.TrialState.PRUNED)
        else:
            trials[i].study.tell(trials[i], float(np.minimum(steps, budget).mean()))

    def on_chunk(report) -> None:
        greedy[report.active] = report.greedy[report.active]
        trial_greedy = greedy.reshape(len(trials), settings.seeds).mean(axis=1)
        done = (report.solved | (report.env_steps >= budget)).reshape(len(trials), -1)
        env_steps = report.env_steps.reshape(len(trials), -1)
        for i, trial in enumerate(trials):
            if told[i]:
                continue
            if done[i].all():  # a solved seed stopped at its solve, an unsolved one at the budget
                tell(i, env_steps[i])
                continue
            trial.report(float(threshold - trial_greedy[i]), step=int(env_steps[i].max()))
            if trial.should_prune():
                pruned[i] = True
                tell(i, env_steps[i])

    def pruned_rows() -> list[int]:
        return [r for r in range(rows) if pruned[r // settings.seeds]]

    result = train(config, on_chunk=on_chunk, state=state, drop_rows=pruned_rows)
    steps = np.array(
        [s if s is not None else budget for s in result.steps_to_solve], float
    ).reshape(len(trials), settings.seeds)
    for i in np.flatnonzero(~told):
        tell(int(i), steps[i])


def run_sweep(settings: SweepSettings, progress: bool = True) -> dict[str, Any]:
    """Work on the study until it has ``trials`` finished trials; write the outputs."""
    validate_settings(settings)
    try:
        settings.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot write to --out {settings.out}: {error}") from None
    import optuna

    study = open_study(settings)
    start = time.perf_counter()
    ran = 0
    bar = _progress(settings, progress)
    with bar:
        while _claimed(study) < settings.trials:
            asked = []
            for _ in range(trials_per_batch(settings)):
                trial = study.ask()
                if trial.number >= settings.trials:
                    # Another worker claimed the last places first: hand this one back.
                    trial.set_user_attr("over_budget", True)
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    break
                asked.append(trial)
            if not asked:
                break
            values = [suggest(trial, settings.algo, settings.search_shapes) for trial in asked]
            base = _base(settings)
            groups: dict[tuple, list[int]] = defaultdict(list)
            for i, v in enumerate(values):
                groups[tuple(v.get(k, getattr(base, k)) for k in SHAPE_KEYS)].append(i)
            for key, members in groups.items():
                shape = dict(zip(SHAPE_KEYS, key, strict=True))
                train_group(
                    settings, [asked[i] for i in members], [values[i] for i in members], shape
                )
            ran += len(asked)
            bar.advance(_finished(study))
    summary = write_outputs(study, settings)
    summary["trials_run_here"] = ran
    summary["seconds"] = time.perf_counter() - start
    (settings.out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _base(settings: SweepSettings) -> TrainConfig:
    return build_config(settings.algo, settings.env)


def write_outputs(study, settings: SweepSettings) -> dict[str, Any]:
    """``best_config.json`` (for ``poleax train --config``) and the study's plots."""
    import optuna

    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    summary: dict[str, Any] = {
        "study": settings.study,
        "finished_trials": _finished(study),
        "complete_trials": len(done),
    }
    if not done:
        return summary
    best = study.best_trial
    config = build_config(
        settings.algo, settings.env, total_steps=max(settings.total_steps, 100_000), **best.params
    )
    (settings.out / "best_config.json").write_text(json.dumps(config.to_dict(), indent=2))
    summary.update(best_value=best.value, best_params=best.params, best_trial=best.number)
    _plots(study, settings.out)
    return summary


def _plots(study, out: Path) -> None:
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optuna marks its matplotlib plots experimental
        ax = optuna_plots.plot_optimization_history(study)
        ax.figure.tight_layout()
        ax.figure.savefig(out / "history.png")
        plt.close(ax.figure)
        try:
            ax = optuna_plots.plot_param_importances(study)
            ax.figure.tight_layout()
            ax.figure.savefig(out / "importances.png")
            plt.close(ax.figure)
        except (RuntimeError, ValueError, ZeroDivisionError):
            pass  # too few distinct trials to rank parameters


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def advance(self, finished: int) -> None:
        return None


def _progress(settings: SweepSettings, enabled: bool):
    if not enabled:
        return _NoBar()
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    class _Bar:
        def __enter__(self):
            self.progress = Progress(
                TextColumn(f"sweep {settings.study}"),
                BarColumn(),
                TextColumn("{task.completed:.0f}/{task.total:.0f} trials"),
                TimeElapsedColumn(),
            )
            self.progress.__enter__()
            self.task = self.progress.add_task("", total=settings.trials)
            return self

        def __exit__(self, *exc) -> None:
            self.progress.__exit__(*exc)

        def advance(self, finished: int) -> None:
            self.progress.update(self.task, completed=min(finished, settings.trials))

    return _Bar()


__all__ = ["SweepSettings", "run_sweep"]
