"""poleax's JAX Pendulum against gymnasium's PendulumEnv, the reference.

Bit for bit under x64 for float64 and float32 action arrays alike (numpy computes a float32
torque's terms in float32; poleax follows), and within float32 rounding in JAX's default
float32 configuration.
"""

from __future__ import annotations

import math
import os

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gym_equivalence import CASES, assert_bits_equal, gymnasium_steps, once, pendulum_pumping
from gym_equivalence import poleax_steps as shared_poleax_steps
from gymnasium.envs.classic_control.pendulum import PendulumEnv
from gymnasium.envs.classic_control.pendulum import angle_normalize as gym_angle_normalize
from gymnasium.utils.seeding import np_random

from poleax.envs.pendulum import EnvParams, EnvState, Pendulum, angle_normalize

N_VISITED = 12_000
ENV = Pendulum()
PARAMS = EnvParams()


def visited_states(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """States gymnasium visits and torques in [-6, 6], two thirds outside the bounds: random
    episodes and episodes that pump the swing (spinning: large angles, the speed limit)."""
    env = PendulumEnv()
    rng = np.random.default_rng(seed)
    states, actions = [], []
    episode = 0
    while len(states) < n:
        env.reset(seed=seed * 10_000 + episode)
        pumping = episode % 2 == 1
        for _ in range(PARAMS.max_steps_in_episode):
            theta_dot = float(env.state[1])
            action = pendulum_pumping(theta_dot, rng) if pumping else rng.uniform(-6, 6)
            states.append(env.state.copy())
            actions.append(action)
            env.step(np.array([action]))
        episode += 1
    return np.array(states), np.array(actions)


def edge_states() -> tuple[np.ndarray, np.ndarray]:
    """Angles at and around +-pi (a few ulps either side), its multiples, zeros of both signs
    and far-out angles; speeds at, by and past the limit; torques at and past the bounds."""
    angles = [0.0, -0.0, 1e-300, -1e-300, 1.0, -2.5, 50.25, -73.5, 1000.5]
    for k in (1, -1, 2, -2, 3, -3, 7, -7):
        angle = k * math.pi
        angles += [angle, np.nextafter(angle, 100), np.nextafter(angle, -100)]
        angles += [np.nextafter(np.nextafter(angle, 100), 100), angle + 1e-9, angle - 1e-9]
    speeds = [-9.0, -8.0, np.nextafter(-8.0, 0), -7.9, -1.0, -0.0, 0.0, 0.5, 7.9]
    speeds += [np.nextafter(8.0, 0), 8.0, 9.0]
    torques = [-6.0, np.nextafter(-2.0, -3), -2.0, -1.5, -0.0, 0.0, 0.7, 2.0]
    torques += [np.nextafter(2.0, 3), 6.0]
    grid = np.array(np.meshgrid(angles, speeds, torques, indexing="ij")).reshape(3, -1).T
    return grid[:, :2].copy(), grid[:, 2].copy()


ONE_STEP_KINDS = ("visited", "edges")


def one_step_reference(kind: str, action_dtype) -> dict[str, np.ndarray]:
    """gymnasium's steps from the visited or the edge states, with ``action_dtype`` actions."""
    states, actions = once(visited_states, N_VISITED) if kind == "visited" else once(edge_states)
    return gymnasium_steps(CASES["Pendulum-v1"], states, actions, action_dtype)


def numpy_observation(states: np.ndarray) -> np.ndarray:
    """numpy's cos, sin and speed of each state (gymnasium's, before its float32 cast)."""
    return np.stack([np.cos(states[:, 0]), np.sin(states[:, 0]), states[:, 1]], 1)


def assert_exercised(kind: str, data: dict[str, np.ndarray], action_dtype) -> None:
    assert not data["term"].any()  # a pendulum never terminates
    if kind == "visited":
        new, actions = data["next"], data["action"]
        assert len(data["state"]) >= 10_000
        assert 0.5 < np.mean(np.abs(actions) > 2) < 0.8  # torques clipped
        assert np.sum(np.abs(new[:, 1]) == 8.0) >= 500  # at the speed limit
        assert np.abs(new[:, 0]).max() > 30  # spinning: far-out angles


@pytest.fixture(scope="module")
def cases():
    return {"visited": once(visited_states, N_VISITED), "edges": once(edge_states)}


def poleax_steps(states: np.ndarray, actions: np.ndarray, action_dtype) -> dict:
    ours = shared_poleax_steps(
        CASES["Pendulum-v1"], states, actions, jnp.zeros(()).dtype, action_dtype
    )
    return {"state": ours["next"], "obs": ours["obs"], "reward": ours["reward"]}


def test_angle_normalize_is_numpys_float_modulo():
    """numpy's ``%`` takes the divisor's sign; ``jnp.remainder`` must, to the bit."""
    rng = np.random.default_rng(3)
    x = np.concatenate(
        [
            rng.uniform(-1e3, 1e3, 20_000),
            np.arange(-20, 21) * np.pi,
            np.arange(-20, 21) * np.pi + 1e-12,
            [0.0, -0.0, 5e-324, -5e-324, 1e300, -1e300],
        ]
    )
    with jax.enable_x64(True):
        ours = np.asarray(jax.jit(angle_normalize)(jnp.asarray(x)))
    ref = np.array([gym_angle_normalize(np.float64(v)) for v in x])
    assert_bits_equal(ours, ref)


def test_one_step_agrees_in_float32(cases):
    states, actions = cases["visited"]
    edges, edge_actions = cases["edges"]
    moderate = np.abs(edges[:, 0]) < 30  # float32 rounds an angle of 1000 by 3e-5
    states = np.concatenate([states, edges[moderate]])
    actions = np.concatenate([actions, edge_actions[moderate]])
    ref = gymnasium_steps(CASES["Pendulum-v1"], states, actions, np.float32)
    ref = {"state": ref["next"], "obs": ref["obs"], "reward": ref["reward"]}
    ours = poleax_steps(states.astype(np.float32), actions, np.float32)
    assert ours["state"].dtype == np.float32
    np.testing.assert_allclose(ours["state"], ref["state"], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(ours["reward"], ref["reward"], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(ours["obs"], ref["obs"], atol=1e-5, rtol=1e-5)


def test_reset_from_is_gymnasium_reset_bit_for_bit():
    """gymnasium's reset draws ``np_random.uniform(low=-high, high=high)`` with
    ``high = [pi, 1]``, that is ``-high + (high - -high) * u`` with ``u = np_random.random(2)``
    of the seeded generator."""
    with jax.enable_x64(True):
        reset_from = jax.jit(ENV.reset_from)
        for seed in range(150):
            gym_env = PendulumEnv()
            gym_obs, _ = gym_env.reset(seed=seed)
            generator, _ = np_random(seed)
            u = generator.random(ENV.reset_draws)
            obs, state = reset_from(jnp.asarray(u), PARAMS)
            assert_bits_equal(np.asarray(state.physics)[None], gym_env.state[None])
            np.testing.assert_array_equal(np.asarray(obs, np.float32), gym_obs)
            assert int(state.time) == 0


def test_reset_is_uniform_in_its_box_and_vmaps():
    obs, state = jax.vmap(ENV.reset, in_axes=(0, None))(
        jax.random.split(jax.random.PRNGKey(0), 4096), PARAMS
    )
    physics = np.asarray(state.physics)
    assert np.asarray(obs).shape == (4096, ENV.observation_size)
    assert np.all(np.abs(physics) <= [np.pi, 1.0])
    assert np.all(np.abs(physics).max(0) > [np.pi - 0.01, 0.99])
    assert np.all(np.asarray(state.time) == 0)


def test_step_truncates_auto_resets_and_keeps_final_observation():
    state = EnvState(jnp.array([0.3, -2.0], jnp.float32), jnp.int32(199))
    obs, new, reward, terminated, truncated, info = jax.jit(ENV.step)(
        jax.random.PRNGKey(1), state, jnp.array([5.0], jnp.float32), PARAMS
    )
    assert bool(truncated) and not bool(terminated)
    # cost of the state before the step, with the clipped torque
    assert float(reward) == pytest.approx(-(0.3**2 + 0.1 * 4.0 + 0.001 * 4.0), rel=1e-6)
    th, thdot = 0.3, -2.0 + (15 * np.sin(0.3) + 3 * 2.0) * 0.05
    expected = [np.cos(th + thdot * 0.05), np.sin(th + thdot * 0.05), thdot]
    np.testing.assert_allclose(np.asarray(info["final_obs"]), expected, rtol=1e-6)
    assert int(new.time) == 0 and np.all(np.abs(np.asarray(new.physics)) <= [np.pi, 1.0])
    np.testing.assert_allclose(np.asarray(obs)[:2] ** 2 @ [1, 1], 1, rtol=1e-6)


def test_state_round_trips_through_gymnasium(cases):
    states, actions = cases["visited"]
    gym_env = gym.make("Pendulum-v1")
    gym_env.reset(seed=0)
    step = jax.jit(ENV.step_env)
    with jax.enable_x64(True):
        for i in range(0, 2000, 13):
            state = EnvState(jnp.asarray(states[i], jnp.float64), jnp.int32(i % 200))
            ENV.state_to_gymnasium(state, gym_env)
            back = ENV.state_from_gymnasium(gym_env)
            assert_bits_equal(np.asarray(back.physics)[None], states[i][None])
            assert int(back.time) == int(state.time)
            _, ours, _, _, _ = step(state, jnp.array([actions[i]]), PARAMS)
            gym_env.step(np.array([actions[i]]))
            assert_bits_equal(np.asarray(ours.physics)[None], gym_env.unwrapped.state[None])
    unwrapped = PendulumEnv()
    unwrapped.reset(seed=1)
    assert int(ENV.state_from_gymnasium(unwrapped).time) == 0  # no TimeLimit: no step count


def test_gymnasium_renders_a_poleax_state():
    """A frame drawn from poleax's state (and the clipped torque, for the arrow) is the frame
    gymnasium draws of its own."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    reference = gym.make("Pendulum-v1", render_mode="rgb_array")
    canvas = gym.make("Pendulum-v1", render_mode="rgb_array")
    reference.reset(seed=5)
    canvas.reset(seed=0)
    rng = np.random.default_rng(5)
    step = jax.jit(ENV.step_env)
    try:
        with jax.enable_x64(True):
            state = ENV.state_from_gymnasium(reference)
            ENV.state_to_gymnasium(state, canvas)  # after a reset: no arrow
            np.testing.assert_array_equal(canvas.render(), reference.render())
            for _ in range(40):
                action = np.array([pendulum_pumping(float(state.theta_dot), rng)])
                reference.step(action)
                _, state, _, _, _ = step(state, jnp.asarray(action), PARAMS)
        ENV.state_to_gymnasium(state, canvas, action=action)  # last_u: the clipped torque
        frame = canvas.render()
        assert frame.shape == (500, 500, 3)
        np.testing.assert_array_equal(frame, reference.render())
        ENV.state_to_gymnasium(state, canvas)  # the arrow is drawn from last_u alone
        assert not np.array_equal(canvas.render(), frame)
    finally:
        reference.close()
        canvas.close()
