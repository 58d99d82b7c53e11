"""What a comparison is asked to do, checked, and the training config of each pair."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poleax.config import ALGOS, ConfigError, TrainConfig, build_config, load_config
from poleax.envs.registry import STANDARD_ENV, check_env_id, env_spec

#: Points on the evaluation grid (about; the spacing is rounded to a power of two).
GRID_POINTS = 24
#: Evaluation episodes per grid point (greedy and sampled each); the trainer's 100 would
#: make evaluation most of the work.
EVAL_EPISODES = 20
MIN_SEEDS = 3
FORMAT = 1


class CompareInterrupted(RuntimeError):
    """Stopped by a signal; the finished pairs are kept (the message says how to go on)."""

    def __init__(self, out: Path, signum: int, done: int, total: int) -> None:
        super().__init__(
            f"interrupted; {done}/{total} algorithm-env pairs finished and kept; "
            f"continue with: poleax compare --resume {out}"
        )
        self.out, self.signum = out, signum


@dataclass(frozen=True)
class CompareSettings:
    """What to compare. ``configs`` maps an algorithm to a ``config.json`` to start from."""

    envs: tuple[str, ...] = (STANDARD_ENV,)
    algos: tuple[str, ...] = ("ppo", "a2c", "td-ac", "mc-ac")
    seeds: int = 20
    budget: int | None = None
    seed: int = 0
    eval_episodes: int = EVAL_EPISODES
    configs: dict[str, str] = field(default_factory=dict)
    out: Path | None = None

    def budget_for(self, env: str) -> int:
        return self.budget or env_spec(env).compare_budget  # when --budget is not given

    def to_dict(self) -> dict[str, Any]:
        return {
            "envs": list(self.envs),
            "algos": list(self.algos),
            "seeds": self.seeds,
            "budget": self.budget,
            "seed": self.seed,
            "eval_episodes": self.eval_episodes,
            "configs": dict(self.configs),
        }


def grid_for(budget: int, points: int = GRID_POINTS) -> list[int]:
    """Evaluation grid in env steps: multiples of a power of two, about ``points`` of them,
    up to the budget (e.g. 2048, 4096, ..., 49152 for 50,000)."""
    spacing = 2 ** max(0, round(math.log2(max(budget / points, 1))))
    return [spacing * i for i in range(1, budget // spacing + 1)]


def pair_config(settings: CompareSettings, algo: str, env: str) -> TrainConfig:
    """The training config of one pair: the algorithm's defaults (or its ``--config``), all
    seeds, the budget, no early stop, an evaluation per grid point."""
    grid = grid_for(settings.budget_for(env))
    forced = {
        "env": env,
        "algo": algo,
        "seed": settings.seed,
        "seeds": settings.seeds,
        "total_steps": settings.budget_for(env),
        "stop_when_solved": False,
        "stop_rule": "eval",
        "eval_every": grid[0],
        "eval_episodes": settings.eval_episodes,
        "eval_screen": 0,  # every grid point is scored by the full evaluation
        "preset": None,
    }
    if algo in settings.configs:
        base = load_config(settings.configs[algo]).to_dict()
        if base["algo"] != algo:
            raise ConfigError(
                f"--config {algo}={settings.configs[algo]} is a {base['algo']} config"
            )
        return TrainConfig.from_dict({**base, **forced})
    return build_config(**forced)


def check_settings(settings: CompareSettings) -> None:
    """Raise ``ConfigError`` (one line) for anything that cannot run; build every config."""
    if not settings.envs:
        raise ConfigError("--env needs at least one environment id")
    if not settings.algos:
        raise ConfigError("--algos needs at least one algorithm, like ppo,a2c")
    for env in settings.envs:
        try:
            check_env_id(env)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    for algo in settings.algos:
        if algo not in ALGOS:
            raise ConfigError(f"unknown algorithm {algo!r}; known algorithms: {', '.join(ALGOS)}")
    for name in (settings.envs, settings.algos):
        if len(set(name)) != len(name):
            raise ConfigError(f"each name once, please; got {','.join(name)}")
    unused = sorted(set(settings.configs) - set(settings.algos))
    if unused:
        raise ConfigError(f"--config for {', '.join(unused)}, which --algos does not name")
    for name in ("seeds", "seed", "eval_episodes", "budget"):
        value = getattr(settings, name)
        if name == "budget" and value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"--{name.replace('_', '-')} must be a whole number; got {value!r}")
    if settings.budget is not None and not 1 <= settings.budget < 2**31:
        raise ConfigError(
            f"--budget must be a whole number of env steps in [1, 2^31); got {settings.budget}"
        )
    if settings.seeds < MIN_SEEDS:
        raise ConfigError(
            f"--seeds must be at least {MIN_SEEDS} for intervals over seeds; got {settings.seeds}"
        )
    if settings.eval_episodes < 2:
        raise ConfigError(f"--eval-episodes must be at least 2; got {settings.eval_episodes}")
    for env in settings.envs:
        for algo in settings.algos:
            config = pair_config(settings, algo, env)  # raises for mc-ac on continuous envs
            update = config.num_envs * config.num_steps
            if algo != "mc-ac" and settings.budget_for(env) < update:
                raise ConfigError(
                    f"--budget {settings.budget_for(env):,} is below one update of {algo} on "
                    f"{env} ({config.num_envs} envs x {config.num_steps} steps = {update:,} "
                    f"env steps): no seed would be evaluated; give at least {update:,}"
                )


def differences(given: dict[str, Any], recorded: CompareSettings) -> list[str]:
    """The flags of ``given`` (settings named as in ``CompareSettings``, only those given on
    the command line) whose values differ from the recorded comparison's."""
    flags = {
        "envs": "--env",
        "algos": "--algos",
        "seeds": "--seeds",
        "budget": "--budget",
        "seed": "--seed",
        "eval_episodes": "--eval-episodes",
        "configs": "--config",
    }
    now = recorded.to_dict()
    differ = []
    for name, value in given.items():
        value = list(value) if isinstance(value, tuple) else value
        if value != now[name]:
            shown = ",".join(map(str, value)) if isinstance(value, list) else value
            was = now[name]
            was = ",".join(map(str, was)) if isinstance(was, list) else was
            differ.append(f"{flags[name]} {shown} (recorded: {was})")
    return differ


def read_settings(out: Path) -> CompareSettings:
    """The settings of the comparison in ``out`` (for ``--resume``)."""
    path = out / "compare.json"
    if not path.is_file():
        raise ConfigError(f"{out} holds no comparison (no compare.json) to resume")
    try:
        data = json.loads(path.read_text())
        data["envs"], data["algos"] = tuple(data["envs"]), tuple(data["algos"])
        return CompareSettings(**data, out=out)
    except (OSError, ValueError, TypeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None


def default_out(settings: CompareSettings) -> Path:
    name = "+".join(settings.envs) if len(settings.envs) < 3 else f"{len(settings.envs)}-envs"
    return Path("compare") / name
