"""Action distributions against scipy's closed forms, in JAX and in numpy alike; the
continuous probe env (one step, reward -(a - target)^2) learned by PPO and A2C."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from poleax.distributions import Categorical, DiagGaussian, make_distribution
from poleax.envs import ENV_SPECS, Box, Discrete, register
from poleax.envs.probe import probe_spec

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("xp_name", ["jax", "numpy"])
def test_gaussian_log_prob_and_entropy_are_scipys(xp_name):
    import jax.numpy as jnp

    xp = jnp if xp_name == "jax" else np
    dist = DiagGaussian(low=(-2.0, -1.0, 0.0), high=(2.0, 1.0, 3.0))
    mean = RNG.normal(size=(50, 3))
    log_std = RNG.uniform(-2, 1, size=3)
    action = RNG.normal(size=(50, 3)) * 2
    inputs = (xp.asarray(mean), xp.broadcast_to(xp.asarray(log_std), (50, 3)))
    expected = stats.norm.logpdf(action, mean, np.exp(log_std)).sum(-1)
    got = np.asarray(dist.log_prob(inputs, xp.asarray(action), xp=xp))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    entropy = stats.norm.entropy(scale=np.exp(log_std)).sum()
    np.testing.assert_allclose(np.asarray(dist.entropy(inputs, xp=xp)), entropy, rtol=1e-6)


@pytest.mark.parametrize("xp_name", ["jax", "numpy"])
def test_gaussian_samples_are_normal_quantiles_and_env_actions_are_clipped(xp_name):
    import jax.numpy as jnp

    xp = jnp if xp_name == "jax" else np
    dist = DiagGaussian(low=(-1.0,), high=(1.0,))
    u = RNG.random((20_000, 1)).astype(np.float32)
    inputs = (xp.full((20_000, 1), 0.3), xp.full((20_000, 1), np.log(0.5)))
    sample = np.asarray(dist.sample(inputs, xp.asarray(u), xp=xp), np.float64)
    np.testing.assert_allclose(sample, 0.3 + 0.5 * stats.norm.ppf(u + 2.0**-25), atol=2e-5)
    assert stats.kstest(sample[:, 0], "norm", args=(0.3, 0.5)).pvalue > 1e-3
    clipped = np.asarray(dist.to_env(xp.asarray(sample), xp=xp))
    assert clipped.min() >= -1.0 and clipped.max() <= 1.0
    np.testing.assert_array_equal(np.asarray(dist.mode(inputs, xp=xp)), np.asarray(inputs[0]))
    assert np.isfinite(np.asarray(dist.sample(inputs, xp.zeros((20_000, 1)), xp=xp))).all()


@pytest.mark.parametrize("xp_name", ["jax", "numpy"])
def test_categorical_against_scipy(xp_name):
    import jax.numpy as jnp

    xp = jnp if xp_name == "jax" else np
    dist = Categorical(4)
    logits = RNG.normal(size=(30, 4)).astype(np.float32)
    probs = special.softmax(logits, axis=-1)
    actions = RNG.integers(0, 4, 30)
    log_prob = np.asarray(dist.log_prob(xp.asarray(logits), xp.asarray(actions), xp=xp))
    np.testing.assert_allclose(log_prob, np.log(probs[np.arange(30), actions]), rtol=1e-5)
    entropy = np.asarray(dist.entropy(xp.asarray(logits), xp=xp))
    np.testing.assert_allclose(entropy, stats.entropy(probs, axis=-1), rtol=1e-5)
    np.testing.assert_array_equal(
        np.asarray(dist.mode(xp.asarray(logits), xp=xp)), probs.argmax(-1)
    )
    # Inverse-CDF sampling: frequencies follow the probabilities.
    u = RNG.random(40_000).astype(np.float32)
    row = np.broadcast_to(logits[0], (40_000, 4))
    sampled = np.asarray(dist.sample(xp.asarray(row), xp.asarray(u), xp=xp))
    np.testing.assert_allclose(np.bincount(sampled, minlength=4) / 40_000, probs[0], atol=0.01)


def test_the_action_space_picks_the_distribution():
    assert make_distribution(Discrete(3)) == Categorical(3)
    assert make_distribution(Box((-2.0,), (2.0,))) == DiagGaussian((-2.0,), (2.0,))


CONTINUOUS = probe_spec("ProbeContinuous-v0", continuous=True)


@pytest.fixture(scope="module")
def continuous_probe():
    register(CONTINUOUS)
    yield CONTINUOUS
    ENV_SPECS.pop(CONTINUOUS.id)


@pytest.mark.slow
@pytest.mark.parametrize("algo,lr", [("ppo", 3e-3), ("a2c", 1e-2)])
def test_ppo_and_a2c_learn_the_continuous_probe(algo, lr, continuous_probe):
    from poleax.config import build_config
    from poleax.policy import Policy
    from poleax.trainer import train

    config = build_config(
        algo=algo, env=CONTINUOUS.id, total_steps=60_000, eval_every=1024, seed=5, lr=lr
    )
    result = train(config)
    assert result.steps_to_solve[0] is not None, f"{algo} did not learn the continuous probe"
    policy = Policy(result.delivered_params[0], result.algorithm.spec, CONTINUOUS.id, algo)
    actions = policy.act(np.array([[0.5], [-0.5]]))
    assert actions.shape == (2, 1) and actions.dtype == np.float32
    np.testing.assert_allclose(actions[:, 0], [0.5, -0.5], atol=0.15)
    one = policy.act(np.array([0.5]))
    assert one.shape == (1,)
