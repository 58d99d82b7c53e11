"""Keras' Adam (``poleax.optim``) against its closed form, TensorFlow, and optax's Adam."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from poleax.algos.base import apply_step
from poleax.optim import keras_adam, scale_by_keras_adam

# One step at lr 0.01 on these gradients: Keras moves the parameters by KERAS_STEP; optax's
# Adam with the same epsilon (added after the bias correction) by OPTAX_STEP.
GRADS = np.array([1e-6, 1e-5, 1e-3, 1.0])
KERAS_STEP = np.array([-0.0024, -0.0076, -0.00997, -0.01])
OPTAX_STEP = np.array([-0.0091, -0.0099, -0.01, -0.01])


def keras_closed_form(grads: np.ndarray, lr: float, eps: float = 1e-7, b1=0.9, b2=0.999):
    """Keras' Adam by hand in float64: the parameter (from 0) after each of ``grads``."""
    param = np.zeros_like(grads[0], np.float64)
    m = np.zeros_like(param)
    v = np.zeros_like(param)
    out = []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        param = param - alpha * m / (np.sqrt(v) + eps)
        out.append(param)
    return np.array(out)


def f32(x: float) -> float:
    return float(np.float32(x))


#: Keras' constants as float32 holds them (1 - b2 is 1.3e-5 off 0.001 there, in TF too).
F32 = {"eps": f32(1e-7), "b1": f32(0.9), "b2": f32(0.999)}


def run(transform: optax.GradientTransformation, grads: np.ndarray, dtype=jnp.float32):
    """Parameters (from 0) after each gradient of ``grads``, jitted."""
    params = jnp.zeros(grads.shape[1:], dtype)

    @jax.jit
    def step(carry, g):
        params, state = carry
        updates, state = transform.update(g, state, params)
        params = optax.apply_updates(params, updates)
        return (params, state), params

    _, out = jax.lax.scan(step, (params, transform.init(params)), jnp.asarray(grads, dtype))
    return np.asarray(out)


def tiny_gradients(steps: int = 12, seed: int = 0) -> np.ndarray:
    """Gradients over many scales (1e-8 .. 10) and both signs, where epsilon matters."""
    rng = np.random.default_rng(seed)
    scales = 10.0 ** rng.uniform(-8, 1, (1, 64))
    return rng.normal(size=(steps, 64)) * scales


def test_one_step_moves_as_keras_does_not_as_optax_adam():
    ours = run(keras_adam(0.01), GRADS[None])[0]
    np.testing.assert_allclose(ours, KERAS_STEP, atol=5e-5)
    np.testing.assert_allclose(ours, keras_closed_form(GRADS[None], 0.01)[0], rtol=1e-5)
    optax_adam = run(optax.adam(0.01, eps=1e-7), GRADS[None])[0]
    np.testing.assert_allclose(optax_adam, OPTAX_STEP, atol=5e-5)


def test_several_steps_follow_the_closed_form_in_float64():
    grads = tiny_gradients()
    with jax.enable_x64(True):
        ours = run(keras_adam(0.01), grads, jnp.float64)
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours, keras_closed_form(grads, 0.01), rtol=1e-12, atol=1e-15)


def test_several_steps_follow_the_closed_form_in_float32():
    grads = tiny_gradients(seed=1)
    ours = run(keras_adam(0.01, epsilon=1e-7), grads)
    expected = keras_closed_form(grads, f32(0.01), **F32)
    # float32 rounding: within 1e-5 of a step (lr 0.01) of the float64 closed form
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-7)


def test_epsilon_and_a_schedule_are_taken():
    grads = tiny_gradients(steps=5, seed=2)
    ours = run(keras_adam(0.03, epsilon=1e-4), grads)
    expected = keras_closed_form(grads, f32(0.03), **{**F32, "eps": f32(1e-4)})
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=3e-7)
    scheduled = run(keras_adam(optax.constant_schedule(0.03), epsilon=1e-4), grads)
    np.testing.assert_array_equal(scheduled, ours)


def test_flat_direction_times_the_rate_is_keras_adam_on_a_tree():
    """poleax's way (one flat vector, the rate applied by ``apply_step``) takes Keras' steps."""
    rng = np.random.default_rng(3)
    params = {"a": {"w": jnp.zeros((3, 2)), "b": jnp.zeros(2)}, "c": {"w": jnp.zeros((2, 1))}}
    flat = optax.flatten(scale_by_keras_adam())
    state = flat.init(params)
    history = []
    for _ in range(6):
        grads = jax.tree.map(
            lambda p: jnp.asarray(rng.normal(size=p.shape) * 1e-5, jnp.float32), params
        )
        history.append(grads)
        direction, state = flat.update(grads, state, params)
        params = apply_step(params, direction, jnp.float32(0.01))
    for path in (("a", "w"), ("a", "b"), ("c", "w")):
        grads = np.array([np.asarray(g[path[0]][path[1]]) for g in history], np.float64)
        expected = keras_closed_form(grads, 0.01)[-1]
        np.testing.assert_allclose(params[path[0]][path[1]], expected, rtol=2e-5, atol=2e-7)


def test_the_tutorial_algorithm_uses_keras_adam():
    from poleax.algos.mc_ac import make_optimizer
    from poleax.config import build_config

    config = build_config(preset="tutorial")
    assert config.adam_eps == 1e-7
    optimizer = make_optimizer(config)
    params = {"w": jnp.zeros(4)}
    direction, _ = optimizer.update({"w": jnp.asarray(GRADS, jnp.float32)}, optimizer.init(params))
    np.testing.assert_allclose(-config.lr * np.asarray(direction["w"]), KERAS_STEP, atol=5e-5)


def test_tensorflow_keras_adam_takes_the_same_steps():
    tf = pytest.importorskip("tensorflow")
    grads = tiny_gradients(steps=10, seed=4).astype(np.float32)
    var = tf.Variable(np.zeros(grads.shape[1], np.float32))
    adam = tf.keras.optimizers.Adam(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
    theirs = []
    for g in grads:
        adam.apply_gradients([(tf.constant(g), var)])
        theirs.append(var.numpy().copy())
    ours = run(keras_adam(0.01, epsilon=1e-7), grads)
    # Keras 3 rounds 1 - b2 from float64 (0.001), TF 2.10's kernel (the tutorial's, and
    # poleax's) computes it in float32 (1.3e-5 smaller): steps agree to ~1e-5 of their size.
    np.testing.assert_allclose(ours, np.array(theirs), rtol=2e-5, atol=1e-7)
    # and optax's Adam does not
    assert not np.allclose(run(optax.adam(0.01, eps=1e-7), grads), theirs, rtol=1e-3)
