"""poleax's JAX Pendulum against gymnasium's PendulumEnv, the reference.

Bit for bit under x64 for float64 and float32 action arrays alike (numpy computes a float32
torque's terms in float32; poleax follows), and within float32 rounding in JAX's default
float32 configuration.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gym_equivalence import (
    CASES,
    assert_bits_equal,
    assert_resets_one_by_one_as_gymnasium,
    assert_visited_states_round_trip,
    drawing_pair,
    gymnasium_steps,
    once,
    pendulum_pumping,
    reset_many,
)
from gym_equivalence import poleax_steps as shared_poleax_steps
from gym_equivalence import visited_states as shared_visited_states
from gymnasium.envs.classic_control.pendulum import PendulumEnv
from gymnasium.envs.classic_control.pendulum import angle_normalize as gym_angle_normalize

from poleax.envs.pendulum import EnvParams, EnvState, Pendulum, angle_normalize

N_VISITED = 12_000
ENV = Pendulum()
PARAMS = EnvParams()


def visited_states(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """States gymnasium visits and torques in [-6, 6], two thirds outside the bounds: random
    episodes and episodes that pump the swing (spinning: large angles, the speed limit)."""
    states, actions = shared_visited_states(
        PendulumEnv(),
        n,
        seed,
        pendulum_pumping,
        lambda rng: rng.uniform(-6, 6),
        lambda pumping: PARAMS.max_steps_in_episode,
    )
    return np.array(states), actions


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
    assert_resets_one_by_one_as_gymnasium(ENV, PARAMS, PendulumEnv, range(150))


def test_reset_is_uniform_in_its_box_and_vmaps():
    _, physics = reset_many(ENV, PARAMS)
    assert np.all(np.abs(physics) <= [np.pi, 1.0])
    assert np.all(np.abs(physics).max(0) > [np.pi - 0.01, 0.99])


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
    assert_visited_states_round_trip(ENV, PARAMS, "Pendulum-v1", cases["visited"], every=13)


def test_gymnasium_renders_a_poleax_state():
    """A frame drawn from poleax's state (and the clipped torque, for the arrow) is the frame
    gymnasium draws of its own."""
    rng = np.random.default_rng(5)
    step = jax.jit(ENV.step_env)
    with drawing_pair("Pendulum-v1") as (reference, canvas):
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
