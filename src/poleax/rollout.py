"""The one rollout every algorithm collects with: ``num_steps`` steps of ``num_envs`` envs."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from poleax.networks import NetworkSpec, Params, apply


class RolloutState(NamedTuple):
    """Where the vectorised envs are between rollouts."""

    env_state: object
    obs: jax.Array  # [num_envs, obs]
    episode_return: jax.Array  # [num_envs], return so far of the running episode
    episode_length: jax.Array  # [num_envs]


class Transition(NamedTuple):
    """One step of every env, stacked by ``lax.scan`` into ``[T, num_envs, ...]``."""

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    log_prob: jax.Array
    value: jax.Array
    next_value: jax.Array  # value of the observation after the step (pre-reset at an end)
    episode_return: jax.Array  # the finished episode's return where it ended, else 0


def start(env, env_params, key: jax.Array, num_envs: int) -> RolloutState:
    """Reset ``num_envs`` envs."""
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(key, num_envs), env_params
    )
    zeros = jnp.zeros((num_envs,), obs.dtype)
    return RolloutState(env_state, obs, zeros, jnp.zeros((num_envs,), jnp.int32))


def rollout(
    env,
    env_params,
    spec: NetworkSpec,
    params: Params,
    state: RolloutState,
    key: jax.Array,
    num_steps: int,
) -> tuple[RolloutState, Transition]:
    """Sample actions from the policy for ``num_steps`` steps; envs reset on their own."""
    num_envs = state.obs.shape[0]
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def body(carry: RolloutState, step_key: jax.Array):
        action_key, env_key = jax.random.split(step_key)
        logits, value = apply(params, carry.obs, spec)
        action = jax.random.categorical(action_key, logits)
        log_prob = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], 1)[:, 0]
        obs, env_state, reward, terminated, truncated, info = step(
            jax.random.split(env_key, num_envs), carry.env_state, action, env_params
        )
        _, next_value = apply(params, info["final_obs"], spec)
        done = terminated | truncated
        episode_return = carry.episode_return + reward
        transition = Transition(
            obs=carry.obs,
            action=action,
            reward=reward,
            terminated=terminated,
            truncated=truncated,
            log_prob=log_prob,
            value=value,
            next_value=next_value,
            episode_return=jnp.where(done, episode_return, 0.0),
        )
        carry = RolloutState(
            env_state,
            obs,
            jnp.where(done, 0.0, episode_return),
            jnp.where(done, 0, carry.episode_length + 1),
        )
        return carry, transition

    return jax.lax.scan(body, state, jax.random.split(key, num_steps))
