"""What every algorithm gives the trainer: ``init(key)`` and a pure ``update(state)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import optax

from poleax.config import TrainConfig
from poleax.networks import NetworkSpec

Metrics = dict[str, jax.Array]


class TrainState(NamedTuple):
    """All a run carries between updates; saving it and loading it back resumes the run."""

    params: Any
    opt_state: Any
    rollout: Any  # RolloutState of the vectorised envs (or None)
    key: jax.Array
    update: jax.Array  # updates done so far
    extra: dict[str, jax.Array]  # algorithm-specific counters


class Algorithm(NamedTuple):
    """A trainable algorithm: the trainer scans ``update`` and reads ``metrics``."""

    config: TrainConfig
    spec: NetworkSpec
    init: Callable[[jax.Array], TrainState]
    update: Callable[[TrainState], tuple[TrainState, Metrics]]
    updates_per_chunk: int
    max_updates: int


def network_spec(config: TrainConfig) -> NetworkSpec:
    """The network a config asks for."""
    return NetworkSpec(
        hidden=tuple(config.hidden),
        activation=config.activation,
        shared=config.shared_trunk,
        init=config.init,
    )


def make_optimizer(config: TrainConfig, total_steps: int) -> optax.GradientTransformation:
    """Adam (with the config's epsilon and schedule), after global-norm clipping if set."""
    if config.lr_schedule == "linear":
        lr = optax.linear_schedule(config.lr, 0.0, max(total_steps, 1))
    else:
        lr = config.lr
    adam = optax.adam(lr, eps=config.adam_eps)
    if config.max_grad_norm > 0:
        return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), adam)
    return adam


def critic_loss(values: jax.Array, targets: jax.Array, kind: str) -> jax.Array:
    """Per-sample critic loss: half squared error, or Huber with delta 1 (Keras' default)."""
    if kind == "huber":
        return optax.huber_loss(values, targets, delta=1.0)
    return 0.5 * (values - targets) ** 2
