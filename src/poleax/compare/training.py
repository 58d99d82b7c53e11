"""Training each (env, algorithm) pair to the budget, kept pair by pair so that an interrupted
comparison resumes where it stopped."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from poleax.compare.outputs import write_outputs
from poleax.compare.pairs import PairResult, _pair_path, load_pair, returns_on_grid, save_pair
from poleax.compare.settings import (
    CompareInterrupted,
    CompareSettings,
    check_settings,
    default_out,
    grid_for,
    pair_config,
)
from poleax.config import ConfigError
from poleax.files import check_kind, write_json, write_marker
from poleax.lang import tr
from poleax.progress import Progress
from poleax.run.folder import LONGEST_INNER_PATH, check_path_length


def train_pair(
    settings: CompareSettings,
    algo: str,
    env: str,
    on_steps: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_compiling: Callable[[], None] | None = None,
) -> PairResult | None:
    """Train one pair's seeds; ``None`` if stopped first. ``on_steps(n)`` reports the env
    steps done so far over all seeds (each capped at the budget)."""
    from poleax.trainer import train

    config = pair_config(settings, algo, env)
    budget = config.total_steps

    def on_chunk(report) -> None:
        if on_steps is not None:
            on_steps(int(np.minimum(report.env_steps, budget).sum()))

    start = time.perf_counter()
    result = train(config, on_chunk=on_chunk, on_compiling=on_compiling, should_stop=should_stop)
    if result.interrupted:
        return None
    grid = grid_for(budget)
    history = result.history
    return PairResult(
        algo=algo,
        env=env,
        seeds=result.seeds,
        grid=grid,
        returns=returns_on_grid(history.evaluations, config.seeds, grid),
        steps_to_solve=[None if s is None else int(s) for s in history.steps_to_solve],
        seconds=time.perf_counter() - start,
    )


def run_compare(
    settings: CompareSettings, resume: bool = False, progress: bool = False
) -> tuple[Path, dict[str, Any]]:
    """Train every pair not already finished in the folder, then write the results.

    Returns the folder and the summary. Raises ``CompareInterrupted`` on SIGINT/SIGTERM
    (finished pairs kept) and ``ConfigError`` for bad input or a folder in use.
    """
    from poleax.run.folder import RunLock
    from poleax.signals import Signals

    check_settings(settings)
    out = settings.out or default_out(settings)
    flag = "--resume" if resume else "--out"
    _check_folder(out, flag, resume)
    check_path_length(out, _deepest(settings), "a comparison")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot write to {out}: {error.strerror or error}") from None
    lock = RunLock(out)
    signals = Signals()
    signals.install()
    try:
        _check_folder(out, flag, resume)  # again, under the lock
        pairs = [(env, algo) for env in settings.envs for algo in settings.algos]
        done: dict[tuple[str, str], PairResult] = {}
        if resume:
            for env, algo in pairs:
                path = _pair_path(out, algo, env)
                if path.exists():
                    done[env, algo] = _checked(load_pair(path), path, settings)
        else:
            write_marker(out, "comparison")
            write_json(out / "compare.json", settings.to_dict())
        budgets = {p: settings.seeds * settings.budget_for(p[0]) for p in pairs}
        finished = sum(budgets[p] for p in done)
        with Progress(tr("compare"), sum(budgets.values()), "env steps", progress) as bar:
            for env, algo in pairs:
                if (env, algo) in done:
                    continue
                bar.label = tr("{algo} on {env}", algo=algo, env=env)
                base = finished

                def on_steps(steps: int, base: int = base) -> None:
                    bar.update(base + steps)

                pair = train_pair(settings, algo, env, on_steps, signals, bar.compiling)
                if pair is None or signals():
                    raise CompareInterrupted(out, signals.signum or 2, len(done), len(pairs))
                save_pair(out, pair)
                done[env, algo] = pair
                finished += budgets[env, algo]
        results = [done[p] for p in pairs]
        summary = write_outputs(out, settings, results)
    finally:
        signals.restore()
        lock.release()
    return out, summary


def _check_folder(out: Path, flag: str, resume: bool) -> None:
    """Refuse (one line, nothing written) a file, a folder of another kind, or, for a new
    comparison, a folder that holds one already (finished or not, with or without its
    ``compare.json``: its ``runs/`` would be taken for this one's)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{flag} {out} is a file, not a folder")
    kind = check_kind(out, "comparison", flag)
    if resume:
        if kind is None or not (out / "compare.json").is_file():
            raise ConfigError(f"{out} holds no comparison (no compare.json) to resume")
    elif kind is not None and any((out / name).exists() for name in ("compare.json", "runs")):
        # (a folder marked but with nothing saved yet was stopped at once: it starts again)
        raise ConfigError(f"{out} already holds a comparison; use --resume {out} or another --out")


def _deepest(settings: CompareSettings) -> int:
    """The longest path a comparison writes below its folder: a pair's file being written
    (``runs/.<env>__<algo>.json.<pid>-<host>.tmp``), or the plots and the report."""
    names = [f"{env}__{algo}.json" for env in settings.envs for algo in settings.algos]
    pair_file = (
        len("runs/.") + max(len(os.fsencode(n)) for n in names) + len(".4194304-0a1b2c3d.tmp")
    )
    return max(pair_file, LONGEST_INNER_PATH)


def _checked(pair: PairResult, path: Path, settings: CompareSettings) -> PairResult:
    """A kept pair, if it is this comparison's (its seeds and grid); ``ConfigError`` if not."""
    seeds = [settings.seed + i for i in range(settings.seeds)]
    grid = grid_for(settings.budget_for(pair.env))
    if list(pair.seeds) != seeds or list(pair.grid) != grid:
        raise ConfigError(
            f"{path} is not this comparison's ({len(pair.seeds)} seeds from "
            f"{pair.seeds[0] if pair.seeds else '-'}, grid to {pair.grid[-1] if pair.grid else 0} "
            f"env steps); delete it to train that pair again"
        )
    return pair
