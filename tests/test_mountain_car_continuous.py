"""poleax's JAX MountainCarContinuous against gymnasium's Continuous_MountainCarEnv, the reference.

gymnasium holds the state as float64 after a reset and as float32 after every step, and under
NumPy 2's promotion parts of its step run in float32; poleax under x64 reproduces that (see the
module's "Exact arithmetic" note), and these tests hold it to every bit, for float64 and for
float32 action arrays alike.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gym_equivalence import (
    CASES,
    assert_resets_one_by_one_as_gymnasium,
    assert_visited_states_round_trip,
    drawing_pair,
    gymnasium_steps,
    once,
    reset_many,
)
from gym_equivalence import mountain_car_continuous_pumping as pumping_action
from gym_equivalence import poleax_steps as shared_poleax_steps
from gym_equivalence import visited_states as shared_visited_states
from gymnasium.envs.classic_control.continuous_mountain_car import Continuous_MountainCarEnv

from poleax.envs.mountain_car_continuous import EnvParams, EnvState, MountainCarContinuous

N_VISITED = 12_000
ENV = MountainCarContinuous()
PARAMS = EnvParams()


def visited_states(n: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """States gymnasium visits (float64 after its reset, float32 after a step) and actions in
    [-3, 3], two thirds of them outside the bounds: random episodes (cut at 400 steps) and
    episodes that push along the velocity and reach the flag, alternately."""
    return shared_visited_states(
        Continuous_MountainCarEnv(),
        n,
        seed,
        pumping_action,
        lambda rng: rng.uniform(-3, 3),
        lambda pumping: 999 if pumping else 400,
    )


def edge_states() -> tuple[list[np.ndarray], np.ndarray]:
    """States at the edges (the left wall, the speed limit, the flag, the right end) with
    actions at and past the bounds; as float32 (as after a step) and as float64 (as after a
    reset: not both numbers float32 values, else gymnasium would be holding them as float32)."""
    f32 = np.float32
    positions = [-1.2, float(f32(-1.2)), -1.1999, -1.19, -1.15, -0.5236, 0.0, 0.44, 0.449]
    positions += [float(f32(0.45)), 0.45, 0.4501, 0.5, 0.59, 0.5999, float(f32(0.6)), 0.6]
    velocities = [-0.07, float(f32(-0.07)), -0.0699, -0.068, -0.01, -1e-4, 0.0, 1e-4, 0.0015]
    velocities += [0.01, 0.068, 0.0699, float(f32(0.07)), 0.07]
    actions = [-3.0, -1.0000001, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 1.0000001, 3.0]
    rng = np.random.default_rng(1)
    states, out_actions = [], []
    for pos in positions:
        for vel in velocities:
            for action in actions:
                for dtype in (np.float32, np.float64):
                    state = np.array([pos, vel], dtype)
                    if dtype == np.float64 and np.array_equal(state, state.astype(f32)):
                        continue
                    states.append(state)
                    out_actions.append(action)
    # and near them: positions by the wall and the flag, velocities by the limit
    for _ in range(2000):
        pos = rng.choice([-1.2, 0.45, 0.6]) + rng.uniform(-0.08, 0.08)
        vel = rng.choice([-0.07, 0.0, 0.07]) * rng.uniform(0.9, 1.0) + rng.uniform(-2e-3, 2e-3)
        states.append(np.array([pos, vel], rng.choice([np.float32, np.float64])))
        out_actions.append(rng.uniform(-3, 3))
    # a float32 state whose clipped velocity numpy adds in float32: r32(p + r32(0.07))
    for pos in rng.uniform(-1.1, 0.4, 500):
        states.append(np.array([pos, rng.choice([-0.0699, 0.0699])], np.float32))
        out_actions.append(3.0 * np.sign(states[-1][1]))
    goal_states, goal_actions = goal_line_states(rng)
    return states + goal_states, np.concatenate([out_actions, goal_actions])


def goal_line_states(rng: np.random.Generator) -> tuple[list[np.ndarray], list[float]]:
    """States a step from the flag's line, found with gymnasium's own step:
    - float32 ones that land exactly on float32(0.45) (below 0.45), a float32 position
      that numpy compares in float32: the flag is reached;
    - float32 ones whose float64 action (inside the bounds) lands in [float32(0.45), 0.45),
      a float64 position: the flag is not reached."""
    env = Continuous_MountainCarEnv()
    env.reset(seed=0)
    line = np.float32(0.45)
    states, actions = [], []
    for velocity in rng.uniform(0.0, 0.03, 20).astype(np.float32):
        position = np.float32(line - velocity)
        for i in range(60):  # a few secant steps, then one float32 ulp at a time
            env.state = np.array([position, velocity], np.float32)
            env.step(np.array([3.0]))
            landed = env.state[0]
            if landed == line:
                states.append(np.array([position, velocity], np.float32))
                actions.append(3.0)
                break
            if i < 3:
                position = np.float32(position + (line - landed))
            else:
                position = np.nextafter(position, np.float32(1 if landed < line else -2))
    for velocity in rng.uniform(0.0, 0.03, 20).astype(np.float32):
        position = np.float32(0.45 - velocity - 0.0005)
        slope = 0.0025 * math.cos(3 * position)
        target = rng.uniform(float(line), 0.45)
        states.append(np.array([position, velocity], np.float32))
        actions.append(((target - float(position)) - float(velocity) + slope) / 0.0015)
    return states, actions


ONE_STEP_KINDS = ("visited", "edges")


def one_step_states(kind: str) -> tuple[list[np.ndarray], np.ndarray]:
    return once(visited_states, N_VISITED) if kind == "visited" else once(edge_states)


def one_step_reference(kind: str, action_dtype) -> dict:
    """gymnasium's steps from the visited or the edge states, with ``action_dtype`` actions."""
    states, actions = one_step_states(kind)
    return gymnasium_steps(CASES["MountainCarContinuous-v0"], states, actions, action_dtype)


def numpy_observation(states: np.ndarray) -> np.ndarray:
    return states  # the state is the observation


def assert_exercised(kind: str, data: dict, action_dtype) -> None:
    """Every branch is really taken."""
    states, actions, nxt, terminated = (data[k] for k in ("state", "action", "next", "term"))
    if kind == "visited":
        assert len(states) >= 10_000
        assert terminated.sum() >= 20  # reached the flag
        assert 0.5 < np.mean(np.abs(actions) > 1) < 0.8  # forces clipped
        assert np.sum(nxt[:, 0] == np.float32(-1.2)) >= 10  # hit the left wall
        assert sum(s.dtype == np.float64 for s in states) >= 40  # first steps from a reset
    else:
        assert np.sum(np.abs(nxt[:, 1]) == np.float32(0.07)) >= 200  # speed limit
        assert np.sum(nxt[:, 0] == np.float32(0.6)) >= 200  # right end
        assert 0.1 < terminated.mean() < 0.9
        on_the_line = nxt[:, 0] == np.float32(0.45)
        assert np.sum(on_the_line & terminated) >= 20


@pytest.fixture(scope="module")
def cases():
    return {kind: one_step_states(kind) for kind in ONE_STEP_KINDS}


def gymnasium_float32_steps(states: list[np.ndarray], actions: np.ndarray) -> dict:
    ref = gymnasium_steps(CASES["MountainCarContinuous-v0"], states, actions, np.float32)
    return {"state": ref["next"], "reward": ref["reward"], "terminated": ref["term"]}


def poleax_steps(states: list[np.ndarray], actions: np.ndarray, action_dtype) -> dict:
    case = CASES["MountainCarContinuous-v0"]
    ours = shared_poleax_steps(case, states, actions, jnp.zeros(()).dtype, action_dtype)
    return {"state": ours["next"], "reward": ours["reward"], "terminated": ours["term"]}


def test_one_step_agrees_in_float32(cases):
    states, actions = cases["visited"]
    edges, edge_actions = cases["edges"]
    states, actions = states + edges, np.concatenate([actions, edge_actions])
    ref = gymnasium_float32_steps(states, actions)
    ours = poleax_steps([s.astype(np.float32) for s in states], actions, np.float32)
    assert ours["state"].dtype == np.float32
    np.testing.assert_allclose(ours["state"], ref["state"], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(ours["reward"], ref["reward"], atol=1e-5, rtol=1e-5)
    # A flag may differ only for a state within float32 rounding of the flag.
    differ = ours["terminated"] != ref["terminated"]
    margin = np.minimum(np.abs(ref["state"][:, 0] - 0.45), np.abs(ref["state"][:, 1]))
    assert np.all(margin[differ] < 1e-5)
    assert differ.mean() < 0.01


def test_reset_from_is_gymnasium_reset_bit_for_bit():
    """gymnasium's reset draws ``np_random.uniform(-0.6, -0.4)``, that is
    ``-0.6 + (-0.4 - -0.6) * u`` with ``u = np_random.random()`` of the seeded generator."""
    assert_resets_one_by_one_as_gymnasium(ENV, PARAMS, Continuous_MountainCarEnv, range(150))


def test_reset_is_uniform_in_its_interval_and_vmaps():
    obs, _ = reset_many(ENV, PARAMS)
    assert np.all((obs[:, 0] >= -0.6) & (obs[:, 0] <= -0.4)) and np.all(obs[:, 1] == 0)
    assert obs[:, 0].min() < -0.599 and obs[:, 0].max() > -0.401


def test_step_auto_resets_and_keeps_final_observation():
    state = EnvState(jnp.array([0.449, 0.06], jnp.float32), jnp.int32(7))
    action = jnp.array([2.0], jnp.float32)
    obs, new, reward, terminated, truncated, info = jax.jit(ENV.step)(
        jax.random.PRNGKey(1), state, action, PARAMS
    )
    assert bool(terminated) and not bool(truncated)
    assert float(reward) == pytest.approx(100 - 0.4)  # the unclipped action's cost
    assert float(info["final_obs"][0]) >= 0.45
    assert -0.6 <= float(obs[0]) <= -0.4 and float(obs[1]) == 0 and int(new.time) == 0


def test_state_round_trips_through_gymnasium(cases):
    """poleax -> gymnasium -> poleax keeps the state (and gymnasium's dtype: float64 for a
    reset's state, float32 after a step), and gymnasium steps on from it as poleax does."""
    assert_visited_states_round_trip(
        ENV, PARAMS, "MountainCarContinuous-v0", cases["visited"], every=7
    )


def test_gymnasium_renders_a_poleax_state():
    """A frame drawn from poleax's state is the frame gymnasium draws of its own."""
    rng = np.random.default_rng(5)
    step = jax.jit(ENV.step_env)
    with drawing_pair("MountainCarContinuous-v0") as (reference, canvas):
        with jax.enable_x64(True):
            state = ENV.state_from_gymnasium(reference)
            for _ in range(60):
                action = np.array([pumping_action(float(state.velocity), rng)])
                reference.step(action)
                _, state, _, _, _ = step(state, jnp.asarray(action), PARAMS)
        ENV.state_to_gymnasium(state, canvas)
        frame = canvas.render()
        assert frame.shape == (400, 600, 3)
        np.testing.assert_array_equal(frame, reference.render())
