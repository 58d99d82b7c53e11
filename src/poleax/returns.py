"""Returns and advantages as pure functions over time-major arrays ``[T, ...]``.

Termination and truncation stay apart: a terminated step has no value after it; a truncated
step bootstraps from the value of its final observation (``next_values``) but, like a
terminated one, ends the sum, since the next row belongs to a new episode.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def reverse_discounted_sum(values: jax.Array, factors: jax.Array) -> jax.Array:
    """``y[t] = values[t] + factors[t] * y[t + 1]`` with ``y[T] = 0``, over axis 0."""

    def body(carry, xs):
        value, factor = xs
        carry = value + factor * carry
        return carry, carry

    _, out = jax.lax.scan(body, jnp.zeros_like(values[0]), (values, factors), reverse=True)
    return out


def discounted_returns(rewards: jax.Array, dones: jax.Array, gamma: float) -> jax.Array:
    """Monte-Carlo returns ``G[t] = r[t] + gamma * G[t + 1]``, restarting where ``dones``."""
    return reverse_discounted_sum(rewards, gamma * (1.0 - dones.astype(rewards.dtype)))


def normalize(x: jax.Array, mask: jax.Array | None = None, eps: float = 1e-8) -> jax.Array:
    """``(x - mean) / (std + eps)`` over axis 0, counting only rows where ``mask``."""
    if mask is None:
        mask = jnp.ones_like(x)
    mask = mask.astype(x.dtype)
    count = jnp.maximum(mask.sum(axis=0), 1.0)
    mean = (x * mask).sum(axis=0) / count
    std = jnp.sqrt((jnp.square(x - mean) * mask).sum(axis=0) / count)
    return (x - mean) / (std + eps) * mask


def gae(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminated: jax.Array,
    truncated: jax.Array,
    gamma: float,
    gae_lambda: float,
) -> tuple[jax.Array, jax.Array]:
    """Generalised advantage estimation; returns ``(advantages, value_targets)``.

    ``next_values[t]`` is the value of the observation after step ``t`` (the final one where
    the episode ended): it counts at truncation and not at termination.
    """
    dtype = rewards.dtype
    not_terminated = 1.0 - terminated.astype(dtype)
    not_done = not_terminated * (1.0 - truncated.astype(dtype))
    deltas = rewards + gamma * not_terminated * next_values - values
    advantages = reverse_discounted_sum(deltas, gamma * gae_lambda * not_done)
    return advantages, advantages + values
