"""The Python API: ``train``, ``load`` and ``evaluate``, in the manner of Stable-Baselines3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from poleax.envs.registry import DEFAULT_ENV
from poleax.envs.spec import EVAL_SEED
from poleax.policy import Policy


def train(
    env: str = DEFAULT_ENV,
    algo: str | None = None,
    seed: int = 0,
    preset: str | None = None,
    out: str | Path | None = None,
    gifs: bool = True,
    progress: bool = False,
    **overrides: Any,
):
    """Train and write a run folder; return the ``Run`` (``.path``, ``.summary``, ``.policy()``).

    ``algo`` None is the task's default (``ppo``; ``sac`` on Pendulum-v1 and
    MountainCarContinuous-v0). ``overrides`` are any ``TrainConfig`` fields, e.g.
    ``total_steps=50_000, lr=3e-4``.
    """
    from poleax.config import ConfigError, build_config
    from poleax.run import run_training

    for name, value in (("gifs", gifs), ("progress", progress)):
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be True or False; got {value!r}")
    config = build_config(algo=algo, env=env, preset=preset, seed=seed, **overrides)
    return run_training(config, out=out, gifs=gifs, progress=progress)


def load(path: str | Path, seed_index: int = 0) -> Policy:
    """The delivered policy of a run folder (seed ``seed_index`` of a multi-seed run)."""
    from poleax.checkpoint import load_policy

    return load_policy(path, seed_index)


def evaluate(
    policy: Policy,
    env_id: str | None = None,
    episodes: int = 100,
    seed: int = EVAL_SEED,
) -> dict[str, Any]:
    """Greedy and sampled mean returns on gymnasium's env, and whether each is solved."""
    from poleax.reference import evaluate_both

    return evaluate_both(policy, env_id or policy.env_spec, episodes, seed)
