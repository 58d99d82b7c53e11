"""The judge without gymnasium's wrappers gives the vector env's numbers bit for bit.

``old_play`` is ``poleax.reference._play`` as it was: every episode in ``gym.make_vec``'s
envs (TimeLimit, OrderEnforcing, PassiveEnvChecker, autoreset). The bare envs must give the
same returns for greedy and sampled players side by side, including blocks that finish early.
"""

from __future__ import annotations

import numpy as np
import pytest

from poleax import reference
from poleax.envs import env_spec
from poleax.networks import NetworkSpec, param_shapes
from poleax.policy import Policy
from poleax.reference import Evaluation, evaluate_many, initial_states, make_vector_env

ENVS = [
    "CartPole-v0",
    "CartPole-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "Pendulum-v1",
    "MountainCarContinuous-v0",
]


def old_play(players: list[tuple], env_id: str, episodes: int, seed: int) -> list[Evaluation]:
    """The vector-env implementation the bare envs replace."""
    n = len(players)
    venv = make_vector_env(env_id, episodes * n)
    if hasattr(venv.unwrapped, "state"):  # CartPole's numpy vector env
        venv.reset(seed=seed)
        venv.unwrapped.state = np.concatenate([initial_states(env_id, episodes, seed)] * n).T
        obs = venv.unwrapped.state.T.astype(np.float32)
    else:
        obs, _ = venv.reset(seed=[seed + i for i in range(episodes)] * n)
    space = venv.action_space
    rngs = [np.random.default_rng(seed) for _ in players]
    alive = np.ones(episodes * n, bool)
    totals = np.zeros(episodes * n)
    blocks = [slice(i * episodes, (i + 1) * episodes) for i in range(n)]
    while alive.any():
        actions = np.zeros(space.shape, space.dtype)
        for block, (policy, greedy), rng in zip(blocks, players, rngs, strict=True):
            if alive[block].any():
                actions[block] = policy.act(obs[block], greedy=greedy, rng=rng)
        obs, rewards, terminated, truncated, _ = venv.step(actions)
        totals += np.where(alive, rewards, 0.0)
        alive &= ~(terminated | truncated)
    venv.close()
    return [
        Evaluation(env_spec(env_id), g, totals[b])
        for b, (_, g) in zip(blocks, players, strict=True)
    ]


def _spec(env_id: str, hidden: tuple[int, ...] = (64, 64)) -> NetworkSpec:
    env = env_spec(env_id)
    return NetworkSpec(env.observation_size, env.action_size, hidden, continuous=not env.discrete)


def random_policy(env_id: str, seed: int = 0) -> Policy:
    """An untrained network: weights of about unit outputs."""
    spec, rng = _spec(env_id), np.random.default_rng(seed)
    params = {
        layer: {
            name: rng.normal(0, 1 / np.sqrt(shape[0]) if len(shape) == 2 else 0.3, shape)
            for name, shape in names.items()
        }
        for layer, names in param_shapes(spec).items()
    }
    return Policy(params, spec, env_id, "ppo")


#: Observation index of the velocity to push along, and the push's size, per env.
PUSH = {
    "Acrobot-v1": (5, 3.0),
    "MountainCar-v0": (1, 3.0),
    "MountainCarContinuous-v0": (1, 1.0),
}


def pushing_policy(env_id: str) -> Policy:
    """A network that pushes along a velocity: episodes end early and at varied steps."""
    spec = _spec(env_id, hidden=(1,))
    params = {
        layer: {name: np.zeros(shape) for name, shape in names.items()}
        for layer, names in param_shapes(spec).items()
    }
    index, size = PUSH[env_id]
    params["actor_0"]["w"][index, 0] = 100.0
    if spec.continuous:
        params["actor_out"]["w"][0, 0] = size
        params["log_std"]["value"][:] = -1.0
    else:  # logits -h, 0, h for push left, none, right
        params["actor_out"]["w"][0] = [-size, 0.0, size]
    return Policy(params, spec, env_id, "ppo")


def policies(env_id: str) -> list[Policy]:
    found = [random_policy(env_id)]
    if env_id in PUSH:
        found.append(pushing_policy(env_id))
    return found


@pytest.mark.parametrize("env_id", ENVS)
def test_bare_envs_give_the_vector_envs_returns(env_id):
    players = [(p, greedy) for p in policies(env_id) for greedy in (True, False)]
    ours = reference._play(players, env_spec(env_id), 12, 10_000)
    theirs = old_play(players, env_id, 12, 10_000)
    for new, old in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(new.returns, old.returns)
    if env_id in PUSH:  # the pushing policy ends its episodes early, each at its own step
        assert len(set(ours[-1].returns.tolist())) > 3


def test_hundred_episodes_of_two_policies_equal_the_old_judge(monkeypatch):
    env_id = "MountainCar-v0"
    together = [pushing_policy(env_id), random_policy(env_id, 1)]
    ours = evaluate_many(together, env_id)
    monkeypatch.setattr(reference, "_play", old_play)
    assert ours == evaluate_many(together, env_id)
    assert ours[0]["greedy"]["mean"] > -200  # episodes really ended before the limit
