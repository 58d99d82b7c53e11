"""The one rollout every algorithm collects with: ``num_steps`` steps of ``num_envs`` envs."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from poleax.distributions import Distribution
from poleax.draws import bits, to_unit, uniforms
from poleax.networks import NetworkSpec, Params, actor_inputs, critic_value


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


class RolloutDraws(NamedTuple):
    """The random numbers of a rollout, uniform in [0, 1)."""

    action: jax.Array  # [T, num_envs, *dist.draw_shape]: what one sampled action takes
    reset: jax.Array  # [T, num_envs, env.reset_draws]: a reset's, used where an episode ends


def rollout_draw_shapes(
    env, dist: Distribution, num_envs: int, num_steps: int
) -> list[tuple[int, ...]]:
    """Shapes of ``RolloutDraws``' fields, for ``draws.bits``."""
    return [(num_steps, num_envs, *dist.draw_shape), (num_steps, num_envs, env.reset_draws)]


def rollout_draws(raw: list[jax.Array]) -> RolloutDraws:
    """``RolloutDraws`` from the bits drawn for ``rollout_draw_shapes``."""
    return RolloutDraws(*[to_unit(bits) for bits in raw])


def draw_rollout(
    key: jax.Array, env, dist: Distribution, num_envs: int, num_steps: int
) -> RolloutDraws:
    """``RolloutDraws`` of one rollout from its own key."""
    return rollout_draws(bits(key, rollout_draw_shapes(env, dist, num_envs, num_steps)))


def start(env, env_params, key: jax.Array, num_envs: int) -> RolloutState:
    """Reset ``num_envs`` envs."""
    (reset_u,) = uniforms(key, [(num_envs, env.reset_draws)])
    obs, env_state = jax.vmap(env.reset_from, in_axes=(0, None))(reset_u, env_params)
    zeros = jnp.zeros((num_envs,), obs.dtype)
    return RolloutState(env_state, obs, zeros, jnp.zeros((num_envs,), jnp.int32))


def rollout(
    env,
    env_params,
    spec: NetworkSpec,
    dist: Distribution,
    params: Params,
    state: RolloutState,
    draws: RolloutDraws,
) -> tuple[RolloutState, Transition]:
    """Sample actions from the policy for ``T`` steps (``draws``' length); envs reset on their
    own. The random numbers of every step are drawn before the loop (``draw_rollout``), and
    the critic values every observation after it, in one batch."""
    step = jax.vmap(env.step_or_reset, in_axes=(0, 0, 0, None))

    def body(carry: RolloutState, step_draws: tuple[jax.Array, jax.Array]):
        action_u, reset_u = step_draws
        inputs = actor_inputs(params, carry.obs, spec)
        action = dist.sample(inputs, action_u)
        log_prob = dist.log_prob(inputs, action)
        obs, env_state, reward, terminated, truncated, info = step(
            reset_u, carry.env_state, dist.to_env(action), env_params
        )
        done = terminated | truncated
        episode_return = carry.episode_return + reward
        transition = Transition(
            obs=carry.obs,
            action=action,
            reward=reward,
            terminated=terminated,
            truncated=truncated,
            log_prob=log_prob,
            value=None,  # filled in after the loop
            next_value=None,
            episode_return=jnp.where(done, episode_return, 0.0),
        )
        carry = RolloutState(
            env_state,
            obs,
            jnp.where(done, 0.0, episode_return),
            jnp.where(done, 0, carry.episode_length + 1),
        )
        return carry, (transition, info["final_obs"])

    state, (traj, final_obs) = jax.lax.scan(body, state, tuple(draws))
    value, next_value = critic_value(params, jnp.stack([traj.obs, final_obs]), spec)
    return state, traj._replace(value=value, next_value=next_value)
