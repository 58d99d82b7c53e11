"""poleax's JAX MountainCar against gymnasium's MountainCarEnv, the reference."""

from __future__ import annotations

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gym_equivalence import (
    CASES,
    assert_gymnasium_draws,
    assert_reset_from_is_gymnasiums,
    assert_state_round_trip,
    gymnasium_uniforms,
    mountain_car_pumping,
    once,
    reset_many,
    visited_and_edge_steps,
)
from gym_equivalence import gymnasium_visits as shared_gymnasium_visits
from gym_equivalence import poleax_steps as shared_poleax_steps
from gymnasium.envs.classic_control.mountain_car import MountainCarEnv
from gymnasium.utils import seeding

from poleax.envs import mountain_car as poleax_mountain_car
from poleax.envs.mountain_car import (
    EnvParams,
    EnvState,
    MountainCar,
)

CAP = 200
MIN_POSITION, MAX_POSITION, MAX_SPEED, GOAL = -1.2, 0.6, 0.07, 0.5


def gymnasium_visits() -> dict[str, np.ndarray]:
    """Transitions of gymnasium's own episodes: 50 of random actions (10,000 steps, all
    truncated), and 30 of pumping actions (5% random) that reach the flag."""
    return shared_gymnasium_visits(
        MountainCarEnv(), CAP, 80, 50, lambda episode, state: mountain_car_pumping(state)
    )


def edge_states(n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """States at the walls, the speed limit and the flag, and their neighbouring floats."""
    rng = np.random.default_rng(1)
    position = rng.uniform(MIN_POSITION, MAX_POSITION, n)
    velocity = rng.uniform(-MAX_SPEED, MAX_SPEED, n)
    quarter = n // 4
    position[:quarter] = MIN_POSITION + rng.uniform(0, 0.01, quarter)  # at the left wall,
    velocity[:quarter] = -rng.uniform(0, MAX_SPEED, quarter)  # heading into it
    position[quarter : 2 * quarter] = MAX_POSITION - rng.uniform(0, 0.1, quarter)  # right wall
    goal = slice(2 * quarter, 3 * quarter)  # just short of or past the flag, slow
    position[goal] = GOAL + rng.uniform(-0.01, 0.01, quarter)
    velocity[goal] = rng.uniform(-0.003, 0.003, quarter)
    velocity[3 * quarter :: 2] = np.sign(velocity[3 * quarter :: 2]) * MAX_SPEED  # speed limit
    ulps = np.arange(-2, 3)
    exact = [
        (p + k * np.spacing(p), v)
        for p in (MIN_POSITION, MAX_POSITION, GOAL)
        for v in (-0.01, 0.0, 0.01)
        for k in ulps
    ]
    exact += [
        (p, v + k * np.spacing(v))
        for p in (-1.0, 0.0)
        for v in (-MAX_SPEED, MAX_SPEED)
        for k in ulps
    ]
    states = np.concatenate([np.stack([position, velocity], 1), np.array(exact)])
    return states, rng.integers(0, 3, len(states))


def numpy_observation(states: np.ndarray) -> np.ndarray:
    return states  # the state is the observation


ONE_STEP_KINDS = ("visited+edges",)


def one_step_reference(kind: str, action_dtype=None) -> dict[str, np.ndarray]:
    """The visited transitions, then the edge states' steps, as one batch (``visited``
    tells them apart)."""
    return visited_and_edge_steps(CASES["MountainCar-v0"], gymnasium_visits(), edge_states())


def assert_exercised(kind: str, data: dict[str, np.ndarray], action_dtype=None) -> None:
    visited = data["visited"]
    assert visited.sum() >= 12_000 and len(visited) >= 16_000
    # The left wall's stop and both outcomes are really exercised, by both parts; the speed
    # limit and the right wall (which these episodes never reach) by the edge states.
    for part in (visited, ~visited):
        nxt, before = data["next"][part], data["state"][part]
        assert np.any((nxt[:, 0] == MIN_POSITION) & (before[:, 1] < 0) & (nxt[:, 1] == 0))
        assert 0.001 < data["term"][part].mean() < 0.5
    assert np.any(np.abs(data["next"][~visited, 1]) == MAX_SPEED)
    assert np.any(data["next"][~visited, 0] == MAX_POSITION)


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    return once(one_step_reference, ONE_STEP_KINDS[0], None)


def poleax_steps(data: dict[str, np.ndarray], dtype):
    ours = shared_poleax_steps(CASES["MountainCar-v0"], data["state"], data["action"], dtype)
    return [ours[k] for k in ("next", "obs", "reward", "term", "trunc", "time")]


def test_one_step_agrees_in_float32(reference):
    ours, obs, rewards, terminated, _, _ = poleax_steps(reference, jnp.float32)
    assert ours.dtype == np.float32
    ref = reference["next"]
    error = np.abs(ours - ref)
    assert error.max() < 1e-5, error.max()
    np.testing.assert_array_equal(obs, ours)
    np.testing.assert_array_equal(rewards, reference["reward"])
    # A flag may differ only for a state within float32 rounding of the flag or of rest.
    differ = terminated != reference["term"]
    margin = np.minimum(np.abs(ref[:, 0] - GOAL), np.abs(ref[:, 1]))
    assert np.all(margin[differ] < 1e-6)
    assert differ.mean() < 0.01


def test_reset_from_is_bit_identical_to_gymnasium_reset():
    env, params = MountainCar(), EnvParams()
    seeds = range(200)
    gym_env = MountainCarEnv()
    starts = []
    for seed in seeds:
        gym_env.reset(seed=seed)
        starts.append(np.asarray(gym_env.state, np.float64))
        # numpy's uniform(low, high) is low + (high - low) * random(), in that order
        rng, _ = seeding.np_random(seed)
        low, high = -0.6, -0.4
        assert rng.uniform(low, high) == low + (high - low) * gymnasium_uniforms(seed, 1)[0]
    obs, physics = assert_reset_from_is_gymnasiums(env, params, starts, seeds)
    np.testing.assert_array_equal(obs, physics)
    assert np.all(physics[:, 1] == 0)


def test_state_from_gymnasium_round_trip():
    assert_state_round_trip("MountainCar-v0", poleax_mountain_car, MountainCar)


def test_gymnasium_renders_a_poleax_state():
    assert_gymnasium_draws(poleax_mountain_car, MountainCar, MountainCarEnv, 2, (400, 600))


def test_step_auto_resets_and_keeps_final_observation():
    env, params = MountainCar(), EnvParams()
    state = EnvState(jnp.array([0.49, 0.05], jnp.float32), jnp.int32(7))
    obs, new_state, reward, terminated, truncated, info = env.step(
        jax.random.PRNGKey(1), state, 2, params
    )
    assert bool(terminated) and not bool(truncated) and float(reward) == -1.0
    assert float(info["final_obs"][0]) >= 0.5
    position, velocity = np.asarray(obs)
    assert -0.6 <= position <= -0.4 and velocity == 0
    assert int(new_state.time) == 0
    # Truncation at the cap, with the pre-reset observation kept.
    state = EnvState(jnp.array([-0.5, 0.0], jnp.float32), jnp.int32(CAP - 1))
    _, new_state, _, terminated, truncated, info = env.step(jax.random.PRNGKey(1), state, 1, params)
    assert bool(truncated) and not bool(terminated) and int(new_state.time) == 0
    assert float(info["final_obs"][1]) != 0  # the step itself, not the reset


def test_reset_is_uniform_and_vmaps():
    obs, _ = reset_many(MountainCar(), EnvParams())
    position, velocity = obs.T
    assert np.all((position >= -0.6) & (position <= -0.4))
    assert position.min() < -0.599 and position.max() > -0.401 and np.all(velocity == 0)


def test_sizes_match_gymnasium():
    gym_env = gym.make("MountainCar-v0")
    assert MountainCar.num_actions == gym_env.action_space.n
    assert (MountainCar.observation_size,) == gym_env.observation_space.shape
    assert EnvParams().max_steps_in_episode == gym_env.spec.max_episode_steps == CAP
    assert gym_env.spec.reward_threshold == -110.0
    assert MountainCarEnv.metadata["render_fps"] == 30
