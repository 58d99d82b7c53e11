"""The tutorial's Monte-Carlo advantage actor-critic (REINFORCE with a learned baseline).

Each update plays ``num_envs`` whole episodes from a reset, as one fixed-length ``lax.scan`` of
the env's step cap with the steps after an episode's end masked out. Returns
``G[t] = r[t] + gamma * G[t + 1]`` (the time limit counts as an end, as in the tutorial) are
normalised per episode, then one step of Keras' Adam (``poleax.optim``: epsilon added before
the bias correction, as the tutorial's optimizer does) on

    sum_t -log pi(a_t | s_t) * (G_t - V(s_t))  +  sum_t Huber(V(s_t), G_t)

averaged over the episodes. As posted, ``G - V`` is not detached, so the actor loss also
trains the critic; ``detach_advantage`` gives the textbook gradient. A running reward
``r = 0.05 * episode_return + 0.95 * r`` follows the episodes; under the running-reward stop
rule, updates stop (parameters frozen) at the first episode where it passes the threshold.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from poleax.algos.base import (
    Algorithm,
    Task,
    TrainState,
    UpdateMetrics,
    apply_step,
    critic_loss,
    idle_metrics,
    learning_rate,
    network_spec,
)
from poleax.config import TrainConfig
from poleax.distributions import Categorical
from poleax.draws import split
from poleax.networks import apply, init_params
from poleax.optim import scale_by_keras_adam
from poleax.returns import discounted_returns, normalize
from poleax.rollout import draw_rollout, rollout, start
from poleax.stop_rules import make_stop_rule

#: The tutorial's eps: float32 machine epsilon.
RETURN_EPS = float(np.finfo(np.float32).eps)


def episode_mask(dones: jax.Array) -> jax.Array:
    """True on the steps of each column's first episode, its last step included."""
    ended_before = jnp.cumsum(dones, axis=0) - dones > 0
    return ~ended_before


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """Keras' Adam direction (the config's epsilon, Keras' 1e-7 by default), after global-norm
    clipping if set; over all parameters as one flat vector, like ``algos.base``'s Adam."""
    adam = scale_by_keras_adam(epsilon=config.adam_eps)
    if config.max_grad_norm > 0:
        adam = optax.chain(optax.clip_by_global_norm(config.max_grad_norm), adam)
    return optax.flatten(adam)


def loss(params, spec, obs, actions, returns, mask, config: TrainConfig):
    """The tutorial's loss, summed over each episode's steps, averaged over episodes.

    Arrays are ``[T, episodes, ...]``; ``mask`` is 1 on the steps of each episode. Returns
    ``(loss, (policy loss, value loss))``.
    """
    inputs, values = apply(params, obs, spec)
    log_prob = Categorical(spec.num_actions).log_prob(inputs, actions)
    baseline = jax.lax.stop_gradient(values) if config.detach_advantage else values
    actor = -(log_prob * (returns - baseline) * mask).sum(0)
    critic = (critic_loss(values, returns, config.critic_loss) * mask).sum(0)
    return (actor + critic).mean(), (actor.mean(), critic.mean())


class TutorialLosses(NamedTuple):
    """An update's losses and the running reward after it (a chart, not a loss)."""

    policy_loss: jax.Array
    value_loss: jax.Array
    running_reward: jax.Array

    CHARTS = ("running_reward",)


class RunningReward(NamedTuple):
    """The tutorial's control data: the running reward, episodes played, whether the
    running-reward rule has stopped training, and the env steps played (an update past the
    budget is skipped: episodes vary in length, so no count of updates keeps it)."""

    running_reward: jax.Array
    episodes: jax.Array
    stopped: jax.Array
    env_steps: jax.Array


def make_algorithm(config: TrainConfig, task: Task) -> Algorithm:
    """Build the Monte-Carlo actor-critic of ``config``."""
    env, env_params = task.env, task.params
    spec = network_spec(config, task.spec)
    dist = Categorical(spec.num_actions)  # the tutorial's softmax actor
    cap = env_params.max_steps_in_episode
    rule = make_stop_rule(config)
    episodes_per_chunk = rule.chunk_episodes() or max(1, config.eval_every // cap)
    # A chunk stays within the budget even when every episode runs to the cap.
    budget_updates = -(-config.total_steps // (config.num_envs * cap))
    updates_per_chunk = max(1, min(episodes_per_chunk // config.num_envs, budget_updates))
    max_updates = -(-config.total_steps // config.num_envs)  # every episode is >= 1 step
    optimizer = make_optimizer(config)
    # The running-reward rule freezes a seed once it passes, unless told to train on.
    stop_on_running_reward = rule.freeze_threshold() is not None

    def init(key: jax.Array) -> TrainState:
        params_key, train_key = jax.random.split(key)
        params = init_params(params_key, spec)
        extra = RunningReward(jnp.float32(0.0), jnp.int32(0), jnp.bool_(False), jnp.int32(0))
        return TrainState(params, optimizer.init(params), None, train_key, jnp.int32(0), extra)

    def loss_fn(params, obs, actions, returns, mask):
        return loss(params, spec, obs, actions, returns, mask, config)

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def play_and_learn(state: TrainState):
        key, reset_key, rollout_key = split(state.key, 3)
        envs = start(env, env_params, reset_key, config.num_envs)
        draws = draw_rollout(rollout_key, env, dist, config.num_envs, cap)
        _, traj = rollout(env, env_params, spec, dist, state.params, envs, draws)
        dones = traj.terminated | traj.truncated
        mask = episode_mask(dones).astype(traj.reward.dtype)
        returns = discounted_returns(traj.reward, dones, config.gamma)
        if config.normalize_returns:
            returns = normalize(returns, mask, eps=RETURN_EPS)
        (_, losses), grads = grad_fn(state.params, traj.obs, traj.action, returns, mask)
        policy_loss, value_loss = losses
        direction, opt_state = optimizer.update(grads, state.opt_state, state.params)
        lr = learning_rate(config, config.lr, state.update, max_updates)
        params = apply_step(state.params, direction, lr)

        episode_returns = (traj.reward * mask).sum(0)
        env_steps = mask.sum().astype(jnp.int32)

        def follow(running, episode_return):
            running = 0.05 * episode_return + 0.95 * running
            return running, running

        running, _ = jax.lax.scan(follow, state.extra.running_reward, episode_returns)
        extra = RunningReward(
            running_reward=running,
            episodes=state.extra.episodes + config.num_envs,
            stopped=stop_on_running_reward & (running > config.running_reward_threshold),
            env_steps=state.extra.env_steps + env_steps,
        )
        metrics = UpdateMetrics(
            env_steps,
            jnp.int32(config.num_envs),
            episode_returns.mean(),
            TutorialLosses(policy_loss, value_loss, running),
        )
        return TrainState(params, opt_state, None, key, state.update + 1, extra), metrics

    def update(state: TrainState):
        spent = state.extra.env_steps >= config.total_steps
        return jax.lax.cond(state.extra.stopped | spent, _frozen, play_and_learn, state)

    return Algorithm(
        config, task, dist, spec, init, update, updates_per_chunk, max_updates, stopped=_stopped
    )


def _frozen(state: TrainState):
    """A seed stopped by the running-reward rule, or past its budget: nothing changes."""
    zero = jnp.float32(0.0)
    return state, idle_metrics(TutorialLosses(zero, zero, state.extra.running_reward))


def _stopped(state: TrainState) -> jax.Array:
    """The running-reward rule's verdict, per seed."""
    return state.extra.stopped
