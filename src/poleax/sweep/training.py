"""Training a group of trials that share array shapes as rows of one run, and telling Optuna."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from poleax.config import ConfigError, build_config
from poleax.envs.registry import EnvSpec, env_spec
from poleax.files import MARKER, check_kind, write_marker
from poleax.sweep.settings import (
    LOCK_SUFFIX,
    SweepSettings,
    _trial_seed,
    suggest,
)
from poleax.sweep.storage import (
    _Study,
    _Target,
)


class _Stopped(Exception):
    """Training stopped by a signal (internal)."""


def _sampler_for(settings: SweepSettings, number: int):
    """Trial ``number``'s own TPE sampler, seeded by (sampler seed, number)."""
    import optuna

    seed = int(np.random.SeedSequence([settings.sampler_seed, number]).generate_state(1)[0])
    return optuna.samplers.TPESampler(seed=seed)


def propose(study, trial, settings: SweepSettings) -> dict[str, Any]:
    """The trial's settings; with ``sampler_seed``, drawn from (sampler seed, trial number)."""
    if settings.sampler_seed is not None:
        study.sampler = _sampler_for(settings, trial.number)
    continuous = not env_spec(settings.env).discrete
    return suggest(trial, settings.algo, settings.search_shapes, continuous)


def train_group(
    settings: SweepSettings,
    trials: list,
    values: list[dict],
    shape: dict,
    opened: _Study | None = None,
    should_stop=None,
) -> None:
    """Train trials that share array shapes, all their seeds as rows of one run; tell Optuna.

    Raises ``_Stopped`` when ``should_stop()`` interrupted training; the trials not yet told
    are left to the caller.
    """
    from poleax.algos import make_algorithm
    from poleax.trainer import init_state, train

    rows = len(trials) * settings.seeds
    config = build_config(
        settings.algo,
        settings.env,
        seed=_trial_seed(settings, trials[0].number, rows),
        seeds=rows,
        total_steps=settings.total_steps,
        **shape,
    )
    algo = make_algorithm(config)
    state = init_state(algo)
    state = algo.with_hparams(state, [v for v in values for _ in range(settings.seeds)])
    group = _Group(settings, trials, opened, algo.task.spec)
    result = train(
        config,
        algo=algo,
        on_chunk=group.on_chunk,
        state=state,
        drop_rows=group.pruned_rows,
        should_stop=should_stop,
    )
    if result.interrupted:
        raise _Stopped
    budget = settings.total_steps
    solved = np.array([s is not None for s in result.steps_to_solve]).reshape(len(trials), -1)
    steps = np.array(
        [s if s is not None else budget for s in result.steps_to_solve], float
    ).reshape(len(trials), settings.seeds)
    for i in np.flatnonzero(~group.told):
        group.tell(int(i), steps[i], solved[i])


class _Group:
    """The trials of one ``train_group``: each told as soon as its seeds are done (so it
    counts for pruning the rest), pruned by Optuna's pruner between chunks.

    A trial's score (``--objective``): ``steps``, its seeds' mean env steps to solve, an
    unsolved seed counting the budget; ``core-seconds``, the core-seconds its seeds cost over
    the seeds it solved, a seed costing its env steps to solve (an unsolved one the budget) at
    the group's rate, the process's CPU time over the env steps all its rows trained, counted
    from the end of the group's first chunk (so the programs' compile, paid once per shape,
    does not weigh on a short trial; a group told at its first chunk counts from its start).
    A trial that solved no seed scores its cost times seeds + 1. Trials of one group share
    array shapes and so a rate; trials that differ in shape (``--search-shapes``) train in
    groups of their own, where the work of a step differs.
    """

    def __init__(
        self, settings: SweepSettings, trials: list, opened: _Study | None, task: EnvSpec
    ) -> None:
        self.settings, self.trials, self.opened = settings, trials, opened
        self.threshold = task.solve.threshold  # the pruning signal's zero
        self.budget = settings.total_steps
        self.pruned = np.zeros(len(trials), bool)
        self.told = np.zeros(len(trials), bool)
        self.greedy = np.zeros(len(trials) * settings.seeds)  # each row's latest evaluation
        self.row_steps = np.zeros(len(trials) * settings.seeds)  # env steps each row trained
        self.cpu_start = time.process_time()
        self.first_chunk: tuple[float, float] | None = None  # CPU time, env steps at its end

    def score(self, steps: np.ndarray, solved: np.ndarray) -> float:
        """The trial's value under the sweep's objective (see the class)."""
        steps = np.minimum(steps, self.budget)
        if self.settings.objective == "steps":
            return float(steps.mean())
        now, trained = time.process_time(), float(self.row_steps.sum())
        if self.first_chunk is not None and trained > self.first_chunk[1]:
            rate = (now - self.first_chunk[0]) / (trained - self.first_chunk[1])
        else:
            rate = (now - self.cpu_start) / max(trained, 1.0)
        cost = float(rate * steps.sum())
        count = int(solved.sum())
        return cost / count if count else cost * (len(steps) + 1)

    def tell(self, i: int, steps: np.ndarray, solved: np.ndarray) -> None:
        import optuna

        self.told[i] = True
        trial = self.trials[i]
        state = optuna.trial.TrialState.PRUNED if self.pruned[i] else None
        value = None if self.pruned[i] else self.score(steps, solved)
        if value is not None:
            with contextlib.suppress(Exception):  # a trial another worker failed: not ours
                trial.set_user_attr("mean_steps", float(np.minimum(steps, self.budget).mean()))
                trial.set_user_attr("solved_seeds", int(solved.sum()))
        if self.opened is not None:
            self.opened.finish(trial, value, state)
        elif state is not None:
            trial.study.tell(trial, state=state, skip_if_finished=True)
        else:
            trial.study.tell(trial, value, skip_if_finished=True)

    def on_chunk(self, report) -> None:
        import optuna

        trials, seeds = self.trials, self.settings.seeds
        self.row_steps = np.asarray(report.env_steps, float).copy()
        if self.first_chunk is None:
            self.first_chunk = (time.process_time(), float(self.row_steps.sum()))
        self.greedy[report.active] = report.greedy[report.active]
        trial_greedy = self.greedy.reshape(len(trials), seeds).mean(axis=1)
        done = (report.solved | (report.env_steps >= self.budget)).reshape(len(trials), -1)
        env_steps = report.env_steps.reshape(len(trials), -1)
        solved = report.solved.reshape(len(trials), -1)
        for i, trial in enumerate(trials):
            if self.told[i]:
                continue
            if done[i].all():  # a solved seed stopped at its solve, an unsolved one at the budget
                self.tell(i, env_steps[i], solved[i])
                continue
            try:
                shortfall = float(self.threshold - trial_greedy[i])
                trial.report(shortfall, step=int(env_steps[i].max()))
                prune = trial.should_prune()
            except optuna.exceptions.UpdateFinishedTrialError:
                # Another worker failed it (no heartbeat for the grace period): not ours now.
                self.told[i] = self.pruned[i] = True
                if self.opened is not None:
                    self.opened.let_go(trial)
                continue
            if prune:
                self.pruned[i] = True
                self.tell(i, env_steps[i], solved[i])

    def pruned_rows(self) -> list[int]:
        seeds = self.settings.seeds
        return [r for r in range(len(self.trials) * seeds) if self.pruned[r // seeds]]


def _prepare_out(out: Path) -> list[Path]:
    """Make the out folder; return the folders made (innermost last)."""
    made = []
    folder = Path(out)
    while not folder.exists():
        made.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    try:
        Path(out).mkdir(parents=True, exist_ok=True)
        check_kind(out, "sweep", "--out")  # again, now that it is made
        if not (Path(out) / MARKER).exists():
            write_marker(out, "sweep")
    except OSError as error:
        raise ConfigError(f"cannot write to --out {out}: {error.strerror or error}") from None
    return made[::-1]


def _remove_made(made: list[Path], target: _Target) -> None:
    """Undo ``_prepare_out`` after the storage in it could not be opened."""
    if target.path is not None:
        with contextlib.suppress(OSError):
            Path(str(target.path) + LOCK_SUFFIX).unlink()
    for folder in reversed(made):
        with contextlib.suppress(OSError):
            (folder / MARKER).unlink(missing_ok=True)
            folder.rmdir()  # only if empty
