"""Algorithms: ``make_algorithm(config)`` and the whole-budget ``make_train(config)``."""

from __future__ import annotations

from collections.abc import Callable

import jax

from poleax.algos.base import Algorithm, Task, TrainState, UpdateMetrics, task_of
from poleax.config import TrainConfig


def make_algorithm(config: TrainConfig) -> Algorithm:
    """The learner ``config.algo`` names, on ``config.env`` (looked up here, once)."""
    task = task_of(config)
    if config.algo == "mc-ac":
        from poleax.algos import mc_ac

        return mc_ac.make_algorithm(config, task)
    if config.algo in ("sac", "td3", "ddpg"):
        from poleax.algos import offpolicy

        return offpolicy.make_algorithm(config, task)
    from poleax.algos import onpolicy

    return onpolicy.make_algorithm(config, task)


def make_train(config: TrainConfig) -> Callable[[jax.Array], tuple[TrainState, UpdateMetrics]]:
    """PureJaxRL style: one pure ``train(key)`` that runs the whole budget; jit and vmap it.

    ``jax.jit(jax.vmap(make_train(config)))(jax.random.split(key, n))`` trains n seeds and
    returns metrics shaped ``[seed, update]``. The CLI runs the same updates in chunks so it
    can show progress, evaluate and stop when solved.
    """
    algo = make_algorithm(config)

    def train(key: jax.Array) -> tuple[TrainState, UpdateMetrics]:
        def body(state, _):
            return algo.update(state)

        return jax.lax.scan(body, algo.init(key), None, length=algo.max_updates)

    return train


__all__ = ["Algorithm", "Task", "TrainState", "UpdateMetrics", "make_algorithm", "make_train"]
