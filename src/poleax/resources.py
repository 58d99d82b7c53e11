"""What a run or an evaluation will need of this machine's memory, estimated before anything is
written, and the one-line refusal when it is more than the machine has (no jax import).

The estimates count the big arrays only (parameters and optimizer state per seed, the
rollout, the shuffled minibatch orders, activations, the episodes of an evaluation played side
by side) and are rounded up; a run they pass can still be short of memory on a busy machine,
but one they refuse could never have fitted: XLA would fail with ``RESOURCE_EXHAUSTED`` (after
writing the run's files) or the process would be killed.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from poleax.errors import ConfigError

#: A ``poleax.config.TrainConfig`` (not imported: the config module asks this one).
TrainConfig = Any

FLOAT = 4  # bytes of a float32 / int32
DOUBLE = 8  # the numpy policy and gymnasium's envs compute in float64


def available_memory() -> int | None:
    """Bytes of memory this machine can give a new process: ``MemAvailable`` of
    ``/proc/meminfo``, else the physical memory; ``None`` where neither can be read."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return None


def shown(size: float) -> str:
    """``size`` bytes for a person: 512 MB, 1.6 TB."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if size < 1000 or unit == "PB":
            return f"{size:.0f} {unit}" if unit in ("B", "KB", "MB") else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def param_count(observation_size: int, action_size: int, hidden: tuple[int, ...], shared: bool):
    """Weights and biases of an actor-critic: one trunk (shared) or two, and the heads."""
    sizes = (observation_size, *hidden)
    trunk = sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    heads = (hidden[-1] + 1) * action_size + (hidden[-1] + 1) + action_size  # + log-std
    return trunk * (1 if shared else 2) + heads


def rows_at_once(config: TrainConfig) -> int:
    """Seeds whose training calls hold their working memory at the same time."""
    cores = os.cpu_count() or 1
    if config.executor == "rows-per-core":
        return min(config.seeds, cores)
    width = config.vmap_width or max(16, cores)
    return min(config.seeds, width)


def train_bytes(config: TrainConfig) -> int:
    """About how many bytes training ``config`` needs at its peak."""
    from poleax.envs.registry import env_spec

    spec = env_spec(config.env)
    hidden = tuple(config.hidden)
    params = param_count(spec.observation_size, spec.action_size, hidden, config.shared_trunk)
    # Per seed, kept all run long: parameters, Adam's two moments, the solve snapshot and the
    # delivered policy, and the copy a checkpoint writes.
    per_seed = 6 * params * FLOAT + config.num_envs * (3 * spec.observation_size + 16) * FLOAT
    steps = config.num_steps if config.algo != "mc-ac" else spec.max_steps
    batch = config.num_envs * steps
    sample = spec.observation_size + spec.action_size + 8  # obs, action, log-prob, values ...
    minibatch = batch // max(1, config.minibatches) if config.algo != "mc-ac" else batch
    # Per seed while its call runs: the rollout and its minibatch columns, every epoch's
    # random order (bits and indices), the activations and gradients of a minibatch.
    working = (
        2 * batch * sample * FLOAT
        + 2 * config.epochs * batch * FLOAT
        + 4 * minibatch * sum(hidden) * FLOAT * (1 if config.shared_trunk else 2)
        + 2 * params * FLOAT
    )
    # The judging on gymnasium plays every seed's evaluation episodes side by side.
    judging = evaluation_bytes(spec.observation_size, hidden, config.seeds * config.eval_episodes)
    return config.seeds * per_seed + rows_at_once(config) * working + judging


def evaluation_bytes(
    observation_size: int, hidden: tuple[int, ...], episodes: int, bare: bool = False
) -> int:
    """About how many bytes an evaluation of ``episodes`` greedy and as many sampled
    episodes needs: every episode is played side by side (float64 activations, the env's
    state; an env object each where gymnasium has no vector env)."""
    per_episode = (4 * sum(hidden) + 6 * observation_size + 16) * DOUBLE
    if bare:
        per_episode += 8_000  # a gymnasium env object
    return 2 * episodes * per_episode


def check_fits(needed: int, what: str, advice: str) -> None:
    """Raise ``ConfigError`` when ``needed`` bytes are more than this machine has."""
    have = available_memory()
    if have is not None and needed > have:
        raise ConfigError(
            f"{what} would need about {shown(needed)} of memory; this machine has "
            f"{shown(have)} available ({advice})"
        )
