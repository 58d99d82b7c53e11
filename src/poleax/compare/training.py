"""Training each (env, algorithm) pair to the budget, kept pair by pair so that an interrupted
comparison resumes where it stopped."""

from __future__ import annotations

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
from poleax.files import write_json
from poleax.progress import Progress


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
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder")
    if not resume and (out / "compare.json").exists():
        raise ConfigError(f"{out} already holds a comparison; use --resume {out} or another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot write to {out}: {error.strerror or error}") from None
    lock = RunLock(out)
    signals = Signals()
    signals.install()
    try:
        if not resume:
            write_json(out / "compare.json", settings.to_dict())
        pairs = [(env, algo) for env in settings.envs for algo in settings.algos]
        done: dict[tuple[str, str], PairResult] = {}
        for env, algo in pairs:
            path = _pair_path(out, algo, env)
            if path.exists():
                done[env, algo] = load_pair(path)
        budgets = {p: settings.seeds * settings.budget_for(p[0]) for p in pairs}
        finished = sum(budgets[p] for p in done)
        with Progress("compare", sum(budgets.values()), "env steps", progress) as bar:
            for env, algo in pairs:
                if (env, algo) in done:
                    continue
                bar.label = f"{algo} on {env}"
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
