"""Keras' Adam as an optax transformation (the tutorial's optimizer, step for step).

Keras (``tf.keras.optimizers.Adam``, TF 2.x and Keras 3 alike) adds epsilon to ``sqrt(v)``
*before* the bias correction; its paper calls that epsilon "epsilon hat". At step ``t``
(counting from 1), for a gradient ``g``:

    m     = m + (g - m) * (1 - b1)
    v     = v + (g * g - v) * (1 - b2)
    alpha = lr * sqrt(1 - b2**t) / (1 - b1**t)
    param = param - m * alpha / (sqrt(v) + eps)

optax's ``scale_by_adam(eps=...)`` adds epsilon after the correction,
``m_hat / (sqrt(v_hat) + eps)``: the same step with ``eps`` scaled by ``sqrt(1 - b2**t)``.
With Keras' ``eps = 1e-7`` and small gradients the first steps differ by up to a factor of
four (one step at lr 0.01 on ``g = 1e-6``: Keras moves 0.0024, optax 0.0091).

The constants ``1 - b1`` and ``1 - b2`` are rounded to the parameters' dtype, as TF 2.10's
Adam kernel (the tutorial's version) does; Keras 3 rounds them from float64, which moves a
float32 step by about 1e-5 of its size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

#: Keras' defaults.
B1 = 0.9
B2 = 0.999
EPSILON = 1e-7


class KerasAdamState(NamedTuple):
    """Steps taken and the two moments (field names as optax's ``ScaleByAdamState``)."""

    count: jax.Array
    mu: Any
    nu: Any


def _keras_adam(
    learning_rate: float | jax.Array | Callable[[jax.Array], jax.Array] | None,
    b1: float,
    b2: float,
    epsilon: float,
) -> optax.GradientTransformation:
    """Keras' step; ``learning_rate=None`` leaves it out and returns the direction
    ``sqrt(1 - b2**t) / (1 - b1**t) * m / (sqrt(v) + eps)`` (to be subtracted, times the
    rate)."""

    def init_fn(params) -> KerasAdamState:
        zeros = jax.tree.map(jnp.zeros_like, params)
        return KerasAdamState(jnp.zeros([], jnp.int32), zeros, zeros)

    def update_fn(updates, state: KerasAdamState, params=None):
        del params
        count = optax.safe_increment(state.count)

        def moment(decay: float, g, m):
            # m + (g - m) * (1 - decay), the constants in the parameters' dtype, as in the
            # Adam kernel of TF 2.10 (the tutorial's version).
            one, decay = jnp.asarray(1.0, m.dtype), jnp.asarray(decay, m.dtype)
            return m + (g - m) * (one - decay)

        mu = jax.tree.map(lambda g, m: moment(b1, g, m), updates, state.mu)
        nu = jax.tree.map(lambda g, v: moment(b2, jnp.square(g), v), updates, state.nu)

        def step(m, v):
            t = count.astype(m.dtype)
            # Keras' order: alpha = lr * sqrt(1 - b2**t) / (1 - b1**t), then m * alpha / denom.
            alpha = jnp.sqrt(1 - jnp.power(jnp.asarray(b2, m.dtype), t))
            if learning_rate is not None:
                lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
                alpha = lr * alpha
            alpha = alpha / (1 - jnp.power(jnp.asarray(b1, m.dtype), t))
            direction = m * alpha / (jnp.sqrt(v) + epsilon)
            return direction if learning_rate is None else -direction

        return jax.tree.map(step, mu, nu), KerasAdamState(count, mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)


def keras_adam(
    learning_rate: float | jax.Array | Callable[[jax.Array], jax.Array],
    epsilon: float = EPSILON,
    b1: float = B1,
    b2: float = B2,
) -> optax.GradientTransformation:
    """Keras' Adam: updates that, added to the parameters, take Keras' steps.

    ``learning_rate`` is a number or an optax schedule of the step count (from 0).
    """
    return _keras_adam(learning_rate, b1, b2, epsilon)


def scale_by_keras_adam(
    epsilon: float = EPSILON, b1: float = B1, b2: float = B2
) -> optax.GradientTransformation:
    """Keras' Adam without the learning rate: the direction ``d`` of the step
    ``param - lr * d`` (poleax applies the rate itself, so that it can be an array)."""
    return _keras_adam(None, b1, b2, epsilon)
