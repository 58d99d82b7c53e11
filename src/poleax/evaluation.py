"""Evaluation inside JAX: many episodes at once, greedy or sampled, no auto-reset."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from poleax.distributions import Distribution
from poleax.draws import uniforms
from poleax.networks import NetworkSpec, Params, actor_inputs


def episode_returns(
    env,
    env_params,
    spec: NetworkSpec,
    dist: Distribution,
    params: Params,
    key: jax.Array,
    episodes: int,
    greedy: bool | jax.Array,
    active: bool | jax.Array = True,
) -> jax.Array:
    """Return of each of ``episodes`` fresh episodes under the policy, shape ``[episodes]``.

    ``greedy`` is one mode for all episodes, or a ``[episodes]`` mask choosing per episode
    (one loop, one compilation, for a greedy and a sampled evaluation together). The random
    numbers of every reset and step come from one draw before the loop. An inactive row
    (``active`` false: an empty slot of a vmapped batch) plays no step, so under ``vmap`` it
    never lengthens the loop; its returns are 0.
    """
    greedy = jnp.broadcast_to(jnp.asarray(greedy), (episodes,))
    steps = env_params.max_steps_in_episode
    shapes = [(episodes, env.reset_draws), (steps, episodes, *dist.draw_shape)]
    reset_u, action_u = uniforms(key, shapes)
    obs, state = jax.vmap(env.reset_from, in_axes=(0, None))(reset_u, env_params)
    step = jax.vmap(env.step_env, in_axes=(0, 0, None))

    def cond(carry):
        return jnp.any(carry[2])

    def body(carry):
        obs, state, alive, total, t = carry
        inputs = actor_inputs(params, obs, spec)
        sampled = dist.sample(inputs, jax.lax.dynamic_index_in_dim(action_u, t, 0, False))
        mode = dist.mode(inputs)
        chosen = greedy.reshape(greedy.shape + (1,) * (mode.ndim - 1))
        action = dist.to_env(jnp.where(chosen, mode, sampled))
        obs, state, reward, terminated, truncated = step(state, action, env_params)
        total = total + jnp.where(alive, reward, 0.0)
        alive = alive & ~(terminated | truncated)
        return obs, state, alive, total, t + 1

    alive = jnp.full((episodes,), active, bool)
    total = jnp.zeros((episodes,), obs.dtype)
    carry = jax.lax.while_loop(cond, body, (obs, state, alive, total, jnp.int32(0)))
    return carry[3]


def greedy_and_sampled_means(
    env,
    env_params,
    spec: NetworkSpec,
    dist: Distribution,
    params: Params,
    key: jax.Array,
    episodes: int,
    active: bool | jax.Array = True,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Mean return of ``episodes`` greedy and ``episodes`` sampled episodes, in one loop, and
    the standard error of each mean: ``(greedy, sampled, greedy_se, sampled_se)``."""
    mask = jnp.arange(2 * episodes) < episodes
    returns = episode_returns(env, env_params, spec, dist, params, key, 2 * episodes, mask, active)
    greedy, sampled = returns[:episodes], returns[episodes:]
    return greedy.mean(), sampled.mean(), standard_error(greedy), standard_error(sampled)


def standard_error(returns: jax.Array) -> jax.Array:
    """The standard error of the mean of ``returns`` (sample standard deviation / sqrt n)."""
    n = returns.shape[0]
    return jnp.std(returns, ddof=1) / jnp.sqrt(n) if n > 1 else jnp.zeros((), returns.dtype)
