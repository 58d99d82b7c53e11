"""The gymnasium evaluation equals playing each episode in ``gym.make(env_id)`` by hand."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from poleax.reference import evaluate_policy


class Controller:
    """A deterministic policy that balances for a while, then drifts: varied episode lengths."""

    def act(self, obs, greedy=True, rng=None):
        obs = np.asarray(obs)
        return (obs[..., 2] + 0.02 * obs[..., 1] > 0).astype(np.int64)


@pytest.mark.parametrize("env_id", ["CartPole-v0", "CartPole-v1"])
def test_vectorised_evaluation_matches_per_episode_gym_make(env_id):
    episodes, seed = 30, 10_000
    ours = evaluate_policy(Controller(), env_id, episodes, seed, greedy=True)
    env = gym.make(env_id)
    expected = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(int(Controller().act(obs)))
            total += reward
            done = terminated or truncated
        expected.append(total)
    np.testing.assert_array_equal(ours.returns, expected)
    assert len(set(expected)) > 3  # the episodes really differ


def test_policies_and_modes_played_side_by_side_equal_each_alone():
    import jax
    import numpy as np

    from poleax.networks import NetworkSpec, init_params
    from poleax.policy import Policy
    from poleax.reference import evaluate_both, evaluate_many, evaluate_policy

    spec = NetworkSpec()
    policies = [
        Policy(jax.tree.map(np.asarray, init_params(jax.random.PRNGKey(k), spec)), spec)
        for k in (3, 4)
    ]
    together = evaluate_many(policies, "CartPole-v1", 20, 500)
    for policy, both in zip(policies, together, strict=True):
        assert both == evaluate_both(policy, "CartPole-v1", 20, 500)
        for mode, greedy in (("greedy", True), ("sampled", False)):
            alone = evaluate_policy(policy, "CartPole-v1", 20, 500, greedy)
            assert both[mode]["mean"] == alone.mean and both[mode]["std"] == alone.std
