"""One (env, algorithm) pair's result: its returns on the grid, and its file in the
comparison's ``runs/`` folder (written atomically, read back on ``--resume``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from poleax.compare.settings import (
    FORMAT,
)
from poleax.config import ConfigError
from poleax.files import write_json


class PairResult(NamedTuple):
    """One algorithm on one env: per seed, the return at each grid point and the solve."""

    algo: str
    env: str
    seeds: list[int]
    grid: list[int]
    returns: np.ndarray  # [seed, point]; NaN where the seed had no evaluation yet
    steps_to_solve: list[int | None]
    seconds: float


def returns_on_grid(evaluations: Sequence, seeds: int, grid: Sequence[int]) -> np.ndarray:
    """``[seed, point]``: each seed's latest evaluation at or before each grid point (the
    mean of its greedy and sampled means), NaN where it had none yet."""
    out = np.full((seeds, len(grid)), np.nan)
    for ev in evaluations:
        steps = np.asarray(ev.env_steps[:seeds], float)
        value = (np.asarray(ev.greedy[:seeds], float) + np.asarray(ev.sampled[:seeds], float)) / 2
        for j, point in enumerate(grid):
            later = (steps <= point) & np.isfinite(value)
            out[later, j] = value[later]  # evaluations come in order: the last one wins
    return out


def _pair_path(out: Path, algo: str, env: str) -> Path:
    return out / "runs" / f"{env}__{algo}.json"


def save_pair(out: Path, pair: PairResult) -> Path:
    path = _pair_path(out, pair.algo, pair.env)
    path.parent.mkdir(parents=True, exist_ok=True)
    returns = [[None if not np.isfinite(v) else float(v) for v in row] for row in pair.returns]
    write_json(path, {**pair._asdict(), "returns": returns, "format": FORMAT})
    return path


def load_pair(path: Path) -> PairResult:
    try:
        data = json.loads(path.read_text())
        returns = np.array([[np.nan if v is None else v for v in r] for r in data["returns"]])
        return PairResult(
            data["algo"], data["env"], list(data["seeds"]), list(data["grid"]),
            returns.reshape(len(data["seeds"]), len(data["grid"])),
            list(data["steps_to_solve"]), float(data["seconds"]),
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(
            f"cannot read {path}: {error}; delete it to train that pair again"
        ) from None
