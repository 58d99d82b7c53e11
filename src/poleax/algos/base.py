"""What every algorithm gives the trainer: ``init(key)`` and a pure ``update(state)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from poleax.config import TrainConfig
from poleax.distributions import Distribution, make_distribution
from poleax.envs import EnvSpec, SolveCriterion, env_spec
from poleax.history import ENV_STEPS, EPISODES, EPISODIC_RETURN
from poleax.networks import NetworkSpec
from poleax.stop_rules import StopRule, make_stop_rule


class UpdateMetrics(NamedTuple):
    """What one update reports of one seed; a chunk returns them stacked ``[update]`` (and
    ``[seed, update]`` over rows). ``losses`` is the algorithm's own NamedTuple of scalars,
    each named ``losses/{field}`` in the record (``charts/{field}`` for the fields its class
    lists in ``CHARTS``)."""

    env_steps: Any  # int32: env steps the update took (0: the seed did not train)
    episodes: Any  # int32: episodes that ended during it
    episodic_return: Any  # float32: their mean return (NaN where none ended)
    losses: Any

    def named(self) -> dict[str, np.ndarray]:
        """The metrics by their names in the run's record (``metrics.csv``, TensorBoard),
        in the order of their names."""
        charts = getattr(type(self.losses), "CHARTS", ())
        named = {
            ENV_STEPS: self.env_steps,
            EPISODES: self.episodes,
            EPISODIC_RETURN: self.episodic_return,
            **{
                f"{'charts' if name in charts else 'losses'}/{name}": value
                for name, value in zip(self.losses._fields, self.losses, strict=True)
            },
        }
        return {name: np.asarray(named[name]) for name in sorted(named)}


class TrainState(NamedTuple):
    """All a run carries between updates; saving it and loading it back resumes the run."""

    params: Any
    opt_state: Any
    rollout: Any  # RolloutState of the vectorised envs (or None)
    key: jax.Array
    update: jax.Array  # updates done so far
    extra: Any  # the algorithm's own typed part (its hyperparameters, its counters)


class Task(NamedTuple):
    """The env a config names, looked up once: its spec, its JAX env and its parameters."""

    spec: EnvSpec
    env: Any
    params: Any


def task_of(config: TrainConfig) -> Task:
    """``config.env``'s spec, env and env parameters: the one lookup by id of a training."""
    spec = env_spec(config.env)
    env, params = spec.make()
    return Task(spec, env, params)


class Algorithm(NamedTuple):
    """A trainable algorithm: the trainer scans ``update`` and reads ``metrics``.

    It carries its task (spec, env, env parameters) and its action distribution, so programs
    and policies take those from it rather than looking ``config.env`` up again.
    """

    config: TrainConfig
    task: Task
    dist: Distribution
    spec: NetworkSpec
    init: Callable[[jax.Array], TrainState]
    update: Callable[[TrainState], tuple[TrainState, UpdateMetrics]]
    updates_per_chunk: int
    max_updates: int
    stopped: Callable[[TrainState], jax.Array] | None = None
    """The algorithm's own stop rule, if it has one (the tutorial's running reward): whether
    a seed's state says it is done."""
    with_hparams: Callable[[TrainState, list[dict[str, float]]], TrainState] | None = None
    """``with_hparams(state, rows)``: the host's state of several rows, each row given its own
    traced hyperparameters (``config.fields_with_role("traced")``, and ``log_std_init``);
    a value a row does not name stays the config's. None where the algorithm has no traced
    hyperparameters."""

    @property
    def stop_rule(self) -> StopRule:
        """The rule that says when a seed is done (``poleax.stop_rules``)."""
        return make_stop_rule(self.config)

    @property
    def env_spec(self) -> EnvSpec:
        return self.task.spec

    @property
    def criterion(self) -> SolveCriterion:
        """The task's solved criterion over the config's number of evaluation episodes."""
        return self.task.spec.solve.with_episodes(self.config.eval_episodes)


def idle_metrics(losses: Any) -> UpdateMetrics:
    """What an update that did not run reports: no env steps, no episodes, ``losses``."""
    return UpdateMetrics(jnp.int32(0), jnp.int32(0), jnp.float32(jnp.nan), losses)


def within_budget(
    update: Callable[[TrainState], tuple[TrainState, UpdateMetrics]],
    max_updates: int,
    idle_losses: Any,
) -> Callable[[TrainState], tuple[TrainState, UpdateMetrics]]:
    """``update``, skipped once ``max_updates`` are done: the state stays as it was and the
    update reports no env steps, no episodes and ``idle_losses`` (zero losses, NaN for the
    diagnostics that have no value without data)."""

    def skipped(state: TrainState) -> tuple[TrainState, UpdateMetrics]:
        return state, idle_metrics(idle_losses)

    def bounded(state: TrainState) -> tuple[TrainState, UpdateMetrics]:
        return jax.lax.cond(state.update < max_updates, update, skipped, state)

    return bounded


def distribution_of(task: Task, spec: NetworkSpec) -> Distribution:
    """The action distribution of ``task``'s action space for an actor head of ``spec``."""
    return make_distribution(task.spec.action_space, spec.actor_head)


def network_spec(config: TrainConfig, task: EnvSpec | str | None = None) -> NetworkSpec:
    """The network a config asks for, sized from its task's spec (``task``: a spec, or an
    id; else ``config.env``'s)."""
    task = env_spec(config.env if task is None else task)
    return NetworkSpec(
        observation_size=task.observation_size,
        num_actions=task.action_size,
        continuous=not task.discrete,
        log_std_init=config.log_std_init if not task.discrete else 0.0,
        normalize_obs=config.normalize_obs,
        hidden=tuple(config.hidden),
        activation=config.activation,
        shared=config.shared_trunk,
        init=config.init,
    )


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """Adam's update direction (with the config's epsilon), after global-norm clipping if set.

    The learning rate is applied by ``apply_step``, so it can live in the training state as
    an array: a sweep then trains trials with different rates with one program. Adam
    runs on all parameters as one flat vector: per layer, its few element-wise operations
    became ~70 kernels that took XLA's CPU compiler 0.4-0.6 s; flat, 18 kernels and 0.2 s.
    """
    adam = optax.scale_by_adam(eps=config.adam_eps)
    if config.max_grad_norm > 0:
        adam = optax.chain(optax.clip_by_global_norm(config.max_grad_norm), adam)
    return optax.flatten(adam)


def learning_rate(config: TrainConfig, base_lr: jax.Array, step: jax.Array, total: int):
    """The rate at optimizer step ``step`` of ``total``: constant, or linear decay to 0."""
    if config.lr_schedule == "linear":
        return base_lr * (1.0 - jnp.minimum(step / max(total, 1), 1.0))
    return base_lr


def apply_step(params, direction, lr: jax.Array):
    """``params - lr * direction``, leaf by leaf."""
    return jax.tree.map(lambda p, d: p - lr * d, params, direction)


def critic_loss(values: jax.Array, targets: jax.Array, kind: str) -> jax.Array:
    """Per-sample critic loss: half squared error, or Huber with delta 1 (Keras' default)."""
    if kind == "huber":
        return optax.huber_loss(values, targets, delta=1.0)
    return 0.5 * (values - targets) ** 2
