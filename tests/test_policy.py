"""``Policy``: SB3's ``predict`` signature (and SB3's ``evaluate_policy``), non-finite input."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

from poleax.networks import NORM_CLIP, NORM_EPS, NetworkSpec, param_shapes
from poleax.policy import Policy


def controller() -> Policy:
    """A policy whose greedy action is a balancing controller: push right iff
    ``theta + 0.5 theta_dot + 0.01 x_dot > 0`` (logits ``[0, s]`` through a 2-unit relu trunk).
    """
    spec = NetworkSpec(hidden=(2,), activation="relu", shared=True, init="glorot")
    s = np.array([0.0, 0.01, 1.0, 0.5])
    params = {
        "trunk_0": {"w": np.stack([s, -s], axis=1), "b": np.zeros(2)},
        "actor_out": {"w": np.array([[0.0, 1.0], [0.0, -1.0]]), "b": np.zeros(2)},
        "critic_out": {"w": np.zeros((2, 1)), "b": np.zeros(1)},
    }
    return Policy(params, spec, "CartPole-v1", "test")


def episode_returns_with_act(policy: Policy, seeds: list[int]) -> list[float]:
    """One episode per seed, on gymnasium's CartPole-v1, greedy ``act``."""
    returns = []
    for seed in seeds:
        env = gym.make("CartPole-v1")
        obs, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy.act(obs))
            total += reward
            done = terminated or truncated
        returns.append(total)
    return returns


def test_predict_works_the_way_sb3_evaluate_policy_calls_it():
    """evaluate_policy's loop, on a gymnasium vector env: keywords, batched, state passed back."""
    policy = controller()
    n = 4
    envs = gym.make_vec("CartPole-v1", num_envs=n, vectorization_mode="sync")
    observations, _ = envs.reset(seed=100)  # env i is seeded 100 + i
    states = None
    episode_starts = np.ones((n,), dtype=bool)
    current = np.zeros(n)
    finished: list[float | None] = [None] * n
    steps = 0
    while any(r is None for r in finished):
        actions, states = policy.predict(
            observations, state=states, episode_start=episode_starts, deterministic=True
        )
        assert states is None
        assert actions.shape == (n,) and actions.dtype == np.int64
        np.testing.assert_array_equal(actions, policy.act(observations))
        observations, rewards, terminated, truncated, _ = envs.step(actions)
        current += rewards
        episode_starts = terminated | truncated
        for i in np.flatnonzero(episode_starts):
            if finished[i] is None:
                finished[i] = current[i]
        steps += 1
        assert steps <= 500
    envs.close()
    assert finished == episode_returns_with_act(policy, [100 + i for i in range(n)])
    assert max(finished) > 100  # the controller balances: long episodes were compared


def test_predict_on_one_observation_and_sampling():
    policy = controller()
    obs = np.array([0.0, 0.0, 0.02, 0.0])
    action, state = policy.predict(obs, deterministic=True)
    assert isinstance(action, np.ndarray) and action.shape == () and int(action) == 1
    assert state is None
    marker = object()
    assert policy.predict(obs, state=marker)[1] is marker  # no recurrent state: passed back
    # deterministic=False (SB3's default) samples from the policy's own generator.
    policy.rng = np.random.default_rng(0)
    batch = np.zeros((20_000, 4))  # logits [0, 0]: each action with probability 1/2
    sampled, _ = policy.predict(batch)
    assert 0.48 < sampled.mean() < 0.52
    policy.rng = np.random.default_rng(0)
    again, _ = policy.predict(batch)
    np.testing.assert_array_equal(sampled, again)


def test_sb3_evaluate_policy_runs_a_poleax_policy():
    evaluation = pytest.importorskip("stable_baselines3.common.evaluation")
    policy = controller()
    env = gym.make("CartPole-v1")
    mean, std = evaluation.evaluate_policy(policy, env, n_eval_episodes=5, deterministic=True)
    assert 1.0 <= mean <= 500.0 and np.isfinite(std)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_observations_raise_and_name_the_observation(bad):
    policy = controller()
    obs = np.array([0.01, bad, 0.02, 0.0])
    for call in (
        lambda o: policy.act(o),
        lambda o: policy.act(o, greedy=False, rng=np.random.default_rng(0)),
        lambda o: policy.predict(o, deterministic=True),
    ):
        with pytest.raises(ValueError, match=r"not finite.*0\.01"):
            call(obs)
    batch = np.zeros((5, 4))
    batch[3] = obs
    with pytest.raises(ValueError, match=r"1 of 5 observations.*index 3.*0\.01"):
        policy.act(batch)
    with pytest.raises(ValueError, match=r"index 3"):
        policy.predict(batch, deterministic=True)
    # finite observations still act
    assert policy.act(np.zeros(4)) in (0, 1)


def test_the_forward_pass_is_float64_on_the_float32_weights():
    """What report.html's JavaScript reproduces: the float32 weights as trained, the arithmetic
    (normalisation, layers, tanh) in float64, as plain Python floats compute it."""
    spec = NetworkSpec(3, 1, (16, 16), continuous=True, normalize_obs=True)
    rng = np.random.default_rng(0)
    params = {
        layer: {name: rng.normal(0, 0.3, shape) for name, shape in names.items()}
        for layer, names in param_shapes(spec).items()
    }
    params["obs_norm"]["var"] = np.abs(params["obs_norm"]["var"]) + 0.5
    policy = Policy(params, spec, "Pendulum-v1")
    stored = {a.dtype for layer in policy.params.values() for a in layer.values()}
    assert stored == {np.dtype(np.float32)}  # as trained
    # the float32 values, exactly, as Python floats
    weights = {k: {n: v.tolist() for n, v in d.items()} for k, d in policy.params.items()}

    def by_hand(o: list[float], side: str) -> float:
        stats = weights["obs_norm"]
        x = [
            min(max((v - m) / math.sqrt(s + NORM_EPS), -NORM_CLIP), NORM_CLIP)
            for v, m, s in zip(o, stats["mean"], stats["var"], strict=True)
        ]
        for name in [f"{side}_0", f"{side}_1", f"{side}_out"]:
            w, b = weights[name]["w"], weights[name]["b"]
            x = [sum(x[i] * w[i][j] for i in range(len(x))) + b[j] for j in range(len(b))]
            x = x if name.endswith("out") else [math.tanh(v) for v in x]
        return x[0]

    obs = rng.normal(0, 1, (50, 3)).astype(np.float32)
    (mean, log_std), value = policy.logits_and_value(obs)
    assert np.ptp(mean) > 0.1 and np.ptp(value) > 0.1  # not saturated
    assert mean.dtype == value.dtype == log_std.dtype == np.float64
    np.testing.assert_array_equal(log_std[0], policy.params["log_std"]["value"])
    close = {"rtol": 1e-13, "atol": 1e-13}
    np.testing.assert_allclose(mean[:, 0], [by_hand(o, "actor") for o in obs.tolist()], **close)
    np.testing.assert_allclose(value, [by_hand(o, "critic") for o in obs.tolist()], **close)
    actions = policy.act(obs)  # the mean clipped in float64, then float32
    assert actions.dtype == np.float32
    np.testing.assert_array_equal(actions, np.clip(mean, -2.0, 2.0).astype(np.float32))
    # new parameters, new arithmetic (nothing stale is kept)
    policy.params = {**policy.params, "actor_out": {"w": np.zeros((16, 1)), "b": np.ones(1)}}
    np.testing.assert_array_equal(policy.act(obs), np.ones((50, 1), np.float32))
