"""Evaluation inside JAX: many episodes at once, greedy or sampled, no auto-reset."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from poleax.networks import NetworkSpec, Params, apply


def episode_returns(
    env,
    env_params,
    spec: NetworkSpec,
    params: Params,
    key: jax.Array,
    episodes: int,
    greedy: bool,
) -> jax.Array:
    """Return of each of ``episodes`` fresh episodes under the policy, shape ``[episodes]``."""
    reset_key, act_key = jax.random.split(key)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(reset_key, episodes), env_params
    )
    step = jax.vmap(env.step_env, in_axes=(0, 0, None))

    def cond(carry):
        return jnp.any(carry[2])

    def body(carry):
        obs, state, alive, total, t = carry
        logits, _ = apply(params, obs, spec)
        if greedy:
            action = jnp.argmax(logits, axis=-1)
        else:
            action = jax.random.categorical(jax.random.fold_in(act_key, t), logits)
        obs, state, reward, terminated, truncated = step(state, action, env_params)
        total = total + jnp.where(alive, reward, 0.0)
        alive = alive & ~(terminated | truncated)
        return obs, state, alive, total, t + 1

    alive = jnp.ones((episodes,), bool)
    total = jnp.zeros((episodes,), obs.dtype)
    carry = jax.lax.while_loop(cond, body, (obs, state, alive, total, jnp.int32(0)))
    return carry[3]
