"""Returns, GAE and normalisation against hand-computed cases."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from poleax.returns import discounted_returns, gae, normalize


def test_discounted_returns_closed_form():
    rewards = jnp.array([1.0, 1.0, 1.0])
    dones = jnp.array([False, False, True])
    np.testing.assert_allclose(discounted_returns(rewards, dones, 0.5), [1.75, 1.5, 1.0])


def test_discounted_returns_restart_after_an_episode_end():
    rewards = jnp.array([1.0, 2.0, 3.0, 4.0])
    dones = jnp.array([False, True, False, True])
    np.testing.assert_allclose(discounted_returns(rewards, dones, 0.9), [2.8, 2.0, 6.6, 4.0])


def test_normalize_uses_population_std_and_mask():
    x = jnp.array([1.0, 2.0, 3.0, 100.0])
    mask = jnp.array([1.0, 1.0, 1.0, 0.0])
    out = np.asarray(normalize(x, mask, eps=0.0))
    np.testing.assert_allclose(out[:3], np.array([-1.0, 0.0, 1.0]) / np.sqrt(2 / 3), rtol=1e-6)
    assert out[3] == 0.0


def test_gae_by_hand():
    gamma, lam = 0.9, 0.5
    rewards = jnp.array([1.0, 1.0, 1.0])
    values = jnp.array([0.5, 0.4, 0.3])
    next_values = jnp.array([0.4, 0.3, 0.2])
    no = jnp.zeros(3, bool)
    adv, targets = gae(rewards, values, next_values, no, no, gamma, lam)
    d = [1 + 0.9 * 0.4 - 0.5, 1 + 0.9 * 0.3 - 0.4, 1 + 0.9 * 0.2 - 0.3]
    a2 = d[2]
    a1 = d[1] + gamma * lam * a2
    a0 = d[0] + gamma * lam * a1
    np.testing.assert_allclose(adv, [a0, a1, a2], rtol=1e-6)
    np.testing.assert_allclose(targets, np.array([a0, a1, a2]) + values, rtol=1e-6)


def test_gae_lambda_one_is_the_bootstrapped_return():
    rewards = jnp.ones(4)
    values = jnp.zeros(4)
    next_values = jnp.array([0.0, 0.0, 0.0, 10.0])
    no = jnp.zeros(4, bool)
    _, targets = gae(rewards, values, next_values, no, no, 0.5, 1.0)
    np.testing.assert_allclose(targets, [1.875 + 0.0625 * 10, 1.75 + 0.125 * 10, 1.5 + 2.5, 6.0])


def test_termination_does_not_bootstrap_but_truncation_does():
    rewards = jnp.ones(1)
    values = jnp.zeros(1)
    final_value = jnp.array([7.0])
    yes, no = jnp.ones(1, bool), jnp.zeros(1, bool)
    _, at_termination = gae(rewards, values, final_value, yes, no, 0.9, 0.95)
    _, at_truncation = gae(rewards, values, final_value, no, yes, 0.9, 0.95)
    np.testing.assert_allclose(at_termination, [1.0])
    np.testing.assert_allclose(at_truncation, [1.0 + 0.9 * 7.0])


def test_truncation_cuts_the_lambda_sum():
    """After a truncated step the next row is a new episode: its advantage must not leak back."""
    rewards = jnp.array([1.0, 5.0])
    values = jnp.zeros(2)
    next_values = jnp.array([2.0, 0.0])
    terminated = jnp.array([False, True])
    truncated = jnp.array([True, False])
    adv, _ = gae(rewards, values, next_values, terminated, truncated, 0.9, 1.0)
    np.testing.assert_allclose(adv, [1.0 + 0.9 * 2.0, 5.0])
