"""A saved policy acts as it did in training: observation statistics and continuous heads
travel in the checkpoint, and the numpy policy equals the JAX one (CleanRL #400, "saved model
performs like random", is the bug this guards against)."""

from __future__ import annotations

import dataclasses
import json

import jax
import numpy as np
import pytest

import poleax
from poleax.distributions import make_distribution
from poleax.envs import env_spec
from poleax.networks import actor_inputs
from poleax.policy import Policy


@pytest.fixture(scope="module", params=["MountainCar-v0", "Pendulum-v1"])
def normalized_run(request, train_once):
    env = request.param
    args = ["--total-steps", "4096", "--no-stop-when-solved", "--normalize-obs", "--algo", "ppo"]
    return env, train_once("--env", env, *args, "--eval-episodes", "5", "--no-gifs")


def test_the_statistics_are_saved_and_moved(normalized_run):
    _env, run = normalized_run
    stats = poleax.load(run).params["obs_norm"]
    assert float(stats["count"]) > 4000  # updated from the rollouts, not the initial 1e-4
    assert not np.allclose(stats["mean"], 0.0) and not np.allclose(stats["var"], 1.0)


def test_loaded_policy_evaluates_exactly_as_recorded_in_training(normalized_run):
    _env, run = normalized_run
    recorded = json.loads((run / "summary.json").read_text())["per_seed"][0]["evaluation"]
    again = poleax.evaluate(poleax.load(run), episodes=5)
    assert again["greedy"]["mean"] == recorded["greedy"]["mean"]
    assert again["sampled"]["mean"] == recorded["sampled"]["mean"]


def test_numpy_policy_acts_as_the_jax_one(normalized_run):
    env, run = normalized_run
    policy = poleax.load(run)
    spec = env_spec(env)
    dist = make_distribution(spec.action_space)
    obs = np.random.default_rng(0).normal(size=(256, spec.observation_size)).astype(np.float32)
    jax_actions = jax.jit(
        lambda params, obs: dist.to_env(dist.mode(actor_inputs(params, obs, policy.spec)))
    )(policy.params, obs)
    numpy_actions = policy.act(obs)
    if spec.discrete:
        np.testing.assert_array_equal(numpy_actions, np.asarray(jax_actions))
    else:
        np.testing.assert_allclose(numpy_actions, np.asarray(jax_actions), rtol=1e-5, atol=1e-6)
    # Without the statistics the policy would act otherwise: they really are applied.
    raw = Policy(
        {k: v for k, v in policy.params.items() if k != "obs_norm"},
        dataclasses.replace(policy.spec, normalize_obs=False),
        env,
    )
    assert not np.array_equal(raw.act(obs * 5), policy.act(obs * 5))
