"""PPO, A2C and the one-step TD actor-critic: one update, three configurations.

Each update collects ``num_steps`` steps of ``num_envs`` envs, computes GAE (bootstrapping at
truncation from the final observation, never at termination), then takes ``epochs`` passes of
``minibatches`` gradient steps. PPO clips the probability ratio; A2C and TD-AC use the plain
policy gradient with one pass and one minibatch. TD-AC is A2C with one-step rollouts,
``gae_lambda = 0`` (the TD error is the advantage) and separate actor and critic networks.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import poleax.draws as draws
from poleax.algos.base import (
    Algorithm,
    Task,
    TrainState,
    UpdateMetrics,
    apply_step,
    critic_loss,
    distribution_of,
    learning_rate,
    make_optimizer,
    network_spec,
    within_budget,
)
from poleax.config import TrainConfig
from poleax.networks import apply, init_params, update_obs_norm
from poleax.returns import gae, normalize
from poleax.rollout import rollout, rollout_draw_shapes, rollout_draws, start


class HParams(NamedTuple):
    """Continuous hyperparameters kept as arrays in the state (``state.extra.hparams``), so
    one compiled program trains trials that differ in them (a sweep's rows)."""

    lr: jax.Array
    gamma: jax.Array
    gae_lambda: jax.Array
    clip_eps: jax.Array
    ent_coef: jax.Array
    vf_coef: jax.Array


class OnPolicyExtra(NamedTuple):
    """The on-policy learners' own part of the training state."""

    hparams: HParams


HPARAMS = HParams._fields


class OnPolicyLosses(NamedTuple):
    """An update's losses, each of its last minibatch (as CleanRL logs them), and how much of
    the rollout's returns the critic explained before the update."""

    policy_loss: jax.Array
    value_loss: jax.Array
    entropy: jax.Array
    approx_kl: jax.Array
    clipfrac: jax.Array
    explained_variance: jax.Array


_ZERO, _NAN = np.float32(0.0), np.float32(np.nan)
#: What an update past the budget reports: zero losses, no explained variance.
IDLE_LOSSES = OnPolicyLosses(_ZERO, _ZERO, _ZERO, _ZERO, _ZERO, _NAN)


def make_algorithm(config: TrainConfig, task: Task) -> Algorithm:
    """Build the on-policy learner ``config.algo`` (ppo, a2c or td-ac) describes."""
    env, env_params = task.env, task.params
    spec = network_spec(config, task.spec)
    batch_size, updates_per_chunk, max_updates = chunking(config)
    minibatch_size = batch_size // config.minibatches
    optimizer = make_optimizer(config)
    steps_per_update = config.epochs * config.minibatches
    # The learning-rate schedule spans whole chunks, as it always has (the updates past the
    # budget in the last chunk are skipped, so it never quite reaches its end).
    total_steps = -(-max_updates // updates_per_chunk) * updates_per_chunk * steps_per_update
    clipped = config.algo == "ppo"
    dist = distribution_of(task, spec)
    action_width = math.prod(dist.action_shape)
    action_dtype = jnp.dtype(dist.action_kind)
    draw_shapes = [
        (2,),
        *rollout_draw_shapes(env, dist, config.num_envs, config.num_steps),
        (config.epochs, batch_size),
    ]

    init = functools.partial(
        _init, config=config, spec=spec, env=env, env_params=env_params, optimizer=optimizer
    )

    loss_fn = functools.partial(_loss, spec=spec, dist=dist, config=config, clipped=clipped)
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def update(state: TrainState):
        hp = state.extra.hparams
        # One draw of random bits per update: the next key, the rollout's, the epochs' orders.
        key, *rollout_bits, shuffle_bits = draws.bits(state.key, draw_shapes)
        envs, traj = rollout(
            env, env_params, spec, dist, state.params, state.rollout, rollout_draws(rollout_bits)
        )
        advantages, targets = gae(
            traj.reward,
            traj.value,
            traj.next_value,
            traj.terminated,
            traj.truncated,
            hp.gamma,
            hp.gae_lambda,
        )
        columns = _columns(traj, advantages, targets, batch_size, action_width)

        def minibatch_step(carry, indices):
            params, opt_state, step, _ = carry
            batch = columns[indices]
            obs, actions = batch[:, : -3 - action_width], batch[:, -3 - action_width : -3]
            old_log_prob, adv, target = batch[:, -3:].T
            action = actions.reshape(-1, *dist.action_shape).astype(action_dtype)
            (_, aux), grads = grad_fn(params, obs, action, old_log_prob, adv, target, hp)
            direction, opt_state = optimizer.update(grads, opt_state, params)
            lr = learning_rate(config, hp.lr, step, total_steps)
            losses = jax.tree.map(lambda x: x.astype(jnp.float32), aux)
            return (apply_step(params, direction, lr), opt_state, step + 1, losses), None

        # Every epoch orders the samples by random bits; the minibatches of all epochs then
        # run as one loop, whose carry keeps the last minibatch's losses (the metrics).
        orders = jnp.argsort(shuffle_bits, axis=-1).astype(jnp.int32)
        first_step = state.update * steps_per_update
        no_losses = OnPolicyLosses(*[_NAN] * len(OnPolicyLosses._fields))
        (params, opt_state, _, losses), _ = jax.lax.scan(
            minibatch_step,
            (state.params, state.opt_state, first_step, no_losses),
            orders.reshape(steps_per_update, minibatch_size),
        )
        params = update_obs_norm(params, traj.obs, spec)  # the next rollout's statistics
        losses = losses._replace(explained_variance=explained_variance(traj.value, targets))
        returns, episodes = episode_metrics(traj.episode_return, traj.terminated | traj.truncated)
        metrics = UpdateMetrics(jnp.int32(batch_size), episodes, returns, losses)
        new_state = TrainState(params, opt_state, envs, key, state.update + 1, state.extra)
        return new_state, metrics

    with_hparams = functools.partial(_with_hparams, config)
    if -(-max_updates // updates_per_chunk) * updates_per_chunk > max_updates:  # skip the rest
        update = within_budget(update, max_updates, IDLE_LOSSES)
    steps = (init, update, updates_per_chunk, max_updates)
    return Algorithm(config, task, dist, spec, *steps, with_hparams=with_hparams)


def chunking(config: TrainConfig) -> tuple[int, int, int]:
    """``(env steps per update, updates per chunk, updates in the budget)``.

    A chunk never exceeds the budget (an ``--eval-every`` beyond it evaluates at the end
    only). There are as many chunks as chunks of ``eval_every``'s updates need to cover the
    budget, each then just long enough that they do; where that overruns the budget, the
    last chunk's extra updates are skipped (``within_budget``), so a run never trains more
    than its budget rounded up to a whole update.
    """
    batch_size = config.num_envs * config.num_steps
    budget_updates = -(-config.total_steps // batch_size)
    wanted = max(1, min(round(config.eval_every / batch_size), budget_updates))
    chunks = -(-budget_updates // wanted)
    return batch_size, -(-budget_updates // chunks), budget_updates


def _init(key: jax.Array, *, config, spec, env, env_params, optimizer) -> TrainState:
    """A seed's initial state: parameters, optimizer, envs reset, the config's hparams."""
    params_key, env_key, train_key = jax.random.split(key, 3)
    params = init_params(params_key, spec)
    envs = start(env, env_params, env_key, config.num_envs)
    hparams = HParams(*(jnp.float32(getattr(config, name)) for name in HPARAMS))
    extra = OnPolicyExtra(hparams)
    return TrainState(params, optimizer.init(params), envs, train_key, jnp.int32(0), extra)


def _columns(traj, advantages, targets, batch_size: int, action_width: int) -> jax.Array:
    """What a minibatch needs, as the columns of one array: one gather per minibatch."""
    return jnp.concatenate(
        [
            traj.obs.reshape(batch_size, -1),
            traj.action.astype(traj.obs.dtype).reshape(batch_size, action_width),
            jnp.stack([traj.log_prob, advantages, targets], -1).reshape(batch_size, 3),
        ],
        axis=1,
    )


def _loss(
    params, obs, action, old_log_prob, advantages, targets, hp, *, spec, dist, config, clipped
):
    """The update's loss of one minibatch and its metrics (PPO's clipped surrogate, or the
    plain policy gradient of a2c and td-ac)."""
    inputs, values = apply(params, obs, spec)
    log_prob, entropy = dist.log_prob_and_entropy(inputs, action)
    entropy = entropy.mean()
    if config.normalize_advantages:
        advantages = normalize(advantages)
    log_ratio = log_prob - old_log_prob
    ratio = jnp.exp(log_ratio)
    if clipped:
        clipped_ratio = jnp.clip(ratio, 1.0 - hp.clip_eps, 1.0 + hp.clip_eps)
        policy_loss = -jnp.minimum(ratio * advantages, clipped_ratio * advantages).mean()
    else:
        policy_loss = -(log_prob * advantages).mean()
    value_loss = critic_loss(values, targets, config.critic_loss).mean()
    total = policy_loss + hp.vf_coef * value_loss - hp.ent_coef * entropy
    approx_kl = ((ratio - 1.0) - log_ratio).mean()
    clipfrac = (jnp.abs(ratio - 1.0) > hp.clip_eps).mean()
    return total, OnPolicyLosses(policy_loss, value_loss, entropy, approx_kl, clipfrac, _NAN)


def _with_hparams(
    config: TrainConfig, state: TrainState, rows: list[dict[str, float]]
) -> TrainState:
    """``Algorithm.with_hparams``: each row's own traced hyperparameters and log-std."""
    table = {
        name: jnp.array([row.get(name, getattr(config, name)) for row in rows], jnp.float32)
        for name in HPARAMS
    }
    state = state._replace(extra=state.extra._replace(hparams=HParams(**table)))
    if "log_std" in state.params:  # each row starts from its own log-std
        log_std = np.array([row.get("log_std_init", config.log_std_init) for row in rows])
        state.params["log_std"]["value"][:] = log_std.astype(np.float32)[:, None]
    return state


def episode_metrics(episode_return: jax.Array, ended: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(mean return, count)`` of the episodes that ended in a rollout (NaN mean if none)."""
    count = ended.sum()
    mean = jnp.where(count > 0, (episode_return * ended).sum() / jnp.maximum(count, 1), jnp.nan)
    return mean, count.astype(jnp.int32)


def explained_variance(values: jax.Array, targets: jax.Array) -> jax.Array:
    """``1 - Var(targets - values) / Var(targets)``: 1 is a perfect critic, 0 a constant one."""
    var = jnp.var(targets)
    return jnp.where(var > 0, 1.0 - jnp.var(targets - values) / var, jnp.nan)
