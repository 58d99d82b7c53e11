"""Networks: one forward pass for JAX and numpy; initialisation."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from poleax.networks import NetworkSpec, apply, init_params
from poleax.policy import Policy

SPECS = [
    NetworkSpec(),
    NetworkSpec(hidden=(128,), activation="relu", shared=True, init="glorot"),
]


@pytest.mark.parametrize("spec", SPECS, ids=["separate-tanh", "shared-relu"])
def test_numpy_forward_equals_jax_forward(spec):
    params = init_params(jax.random.PRNGKey(0), spec)
    obs = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    logits_j, value_j = apply(params, obs, spec)
    policy = Policy(jax.device_get(params), spec)
    logits_n, value_n = policy.logits_and_value(obs)
    np.testing.assert_allclose(logits_n, logits_j, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(value_n, value_j, rtol=1e-5, atol=1e-6)
    assert value_n.shape == (32,)


def test_orthogonal_init_is_orthogonal_with_gains():
    spec = NetworkSpec(hidden=(64, 64))
    params = jax.device_get(init_params(jax.random.PRNGKey(1), spec))
    w = params["actor_1"]["w"]
    np.testing.assert_allclose(w.T @ w, 2.0 * np.eye(64), atol=1e-4)  # gain sqrt(2)
    first = params["actor_0"]["w"]  # 4 x 64: orthonormal rows
    np.testing.assert_allclose(first @ first.T, 2.0 * np.eye(4), atol=1e-4)
    head = params["actor_out"]["w"]
    np.testing.assert_allclose(head.T @ head, 1e-4 * np.eye(2), atol=1e-7)
    assert all(np.all(layer["b"] == 0) for layer in params.values())


def test_glorot_init_bounds():
    spec = NetworkSpec(hidden=(128,), shared=True, init="glorot")
    params = jax.device_get(init_params(jax.random.PRNGKey(2), spec))
    limit = np.sqrt(6 / (4 + 128))
    w = params["trunk_0"]["w"]
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.9 * limit


def test_policy_acts_on_one_observation_and_on_a_batch():
    spec = NetworkSpec()
    policy = Policy(jax.device_get(init_params(jax.random.PRNGKey(3), spec)), spec)
    single = policy.act(np.zeros(4), greedy=True)
    assert isinstance(single, int) and single in (0, 1)
    batch = policy.act(np.zeros((5, 4)), greedy=False, rng=np.random.default_rng(0))
    assert batch.shape == (5,) and set(batch.tolist()) <= {0, 1}


def test_sampled_actions_follow_the_probabilities():
    spec = NetworkSpec(hidden=(8,))
    params = jax.device_get(init_params(jax.random.PRNGKey(4), spec))
    params["actor_out"]["b"] = np.array([0.0, np.log(3.0)], np.float32)  # p(1) ~ 0.75
    params["actor_out"]["w"] = np.zeros_like(params["actor_out"]["w"])
    policy = Policy(params, spec)
    actions = policy.act(np.zeros((20_000, 4)), greedy=False, rng=np.random.default_rng(0))
    assert abs(actions.mean() - 0.75) < 0.01
