"""Policies acting together (one forward pass for many seeds) act bit for bit as alone."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from poleax.algos.base import network_spec
from poleax.config import build_config
from poleax.networks import init_params
from poleax.policy import Policy, act_together
from poleax.reference import evaluate_both, evaluate_many

NETWORKS = [
    ("CartPole-v1", {}),
    ("Acrobot-v1", {"shared_trunk": True, "activation": "relu"}),
    ("Pendulum-v1", {"normalize_obs": True}),
    ("MountainCarContinuous-v0", {}),
]


def policies(env: str, settings: dict, count: int) -> list[Policy]:
    spec = network_spec(build_config("ppo", env, **settings))
    made = []
    for i in range(count):
        params = jax.device_get(init_params(jax.random.PRNGKey(i), spec))
        if "obs_norm" in params:  # statistics that change the inputs
            rng = np.random.default_rng(i)
            params["obs_norm"]["mean"] = rng.normal(size=spec.observation_size).astype(np.float32)
            params["obs_norm"]["var"] = rng.uniform(0.5, 2, spec.observation_size).astype(
                np.float32
            )
        made.append(Policy(params, spec, env, "ppo"))
    return made


@pytest.mark.slow
@pytest.mark.parametrize("env, settings", NETWORKS)
def test_acting_together_is_acting_alone(env, settings):
    team = policies(env, settings, 5)
    obs = np.random.default_rng(0).normal(size=(5, 100, team[0].spec.observation_size)) * 3
    greedy = [True, False, True, False, False]
    alone = np.stack(
        [
            p.act(o, g, np.random.default_rng(i))
            for i, (p, o, g) in enumerate(zip(team, obs, greedy, strict=True))
        ]
    )
    rngs = [np.random.default_rng(i) for i in range(5)]
    together = act_together(team, obs, greedy, rngs)
    assert together.dtype == alone.dtype
    np.testing.assert_array_equal(together, alone)


@pytest.mark.slow
@pytest.mark.parametrize("env, settings", NETWORKS)
def test_judging_many_seeds_at_once_is_judging_each(env, settings):
    team = policies(env, settings, 3)
    assert evaluate_many(team, env, episodes=8) == [evaluate_both(p, env, episodes=8) for p in team]


def test_policies_of_other_networks_cannot_act_together():
    mixed = policies("CartPole-v1", {}, 1) + policies("CartPole-v1", {"shared_trunk": True}, 1)
    with pytest.raises(ValueError, match="one network"):
        act_together(mixed, np.zeros((2, 3, 4)), [True, True], [None, None])
