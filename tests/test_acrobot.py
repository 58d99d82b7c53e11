"""poleax's JAX Acrobot against gymnasium's AcrobotEnv, the reference."""

from __future__ import annotations

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gym_equivalence import (
    CASES,
    acrobot_pumping,
    assert_gymnasium_draws,
    assert_reset_from_is_gymnasiums,
    assert_state_round_trip,
    gymnasium_uniforms,
    once,
    reset_many,
    visited_and_edge_steps,
)
from gym_equivalence import gymnasium_visits as shared_gymnasium_visits
from gym_equivalence import poleax_steps as shared_poleax_steps
from gymnasium.envs.classic_control import acrobot as gym_acrobot
from gymnasium.envs.classic_control.acrobot import AcrobotEnv
from gymnasium.utils import seeding

from poleax.envs import acrobot as poleax_acrobot
from poleax.envs.acrobot import (
    Acrobot,
    EnvParams,
    EnvState,
    bound,
    wrap,
)

PI = np.pi
MAX_VEL = np.array([4 * PI, 9 * PI])
CAP = 500


def gymnasium_visits() -> dict[str, np.ndarray]:
    """Transitions of gymnasium's own episodes: 20 of random actions (10,000 steps, all
    truncated), 10 of pumping actions (5% random) that end at the goal (~1,000 steps), and
    10 that pump on past the goal for 500 steps, up to the velocity bounds (5,000 steps)."""
    return shared_gymnasium_visits(
        AcrobotEnv(),
        CAP,
        40,
        20,
        lambda episode, state: acrobot_pumping(state, int(episode >= 30)),
        goes_on=lambda episode: episode >= 30,
    )


def edge_states(n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """States over the whole box, a third with both velocities at their bounds and a tenth
    past them: fast states that wrap an angle up to five times in one step."""
    rng = np.random.default_rng(1)
    states = rng.uniform(-1, 1, (n, 4)) * np.array([PI, PI, *MAX_VEL])
    states[::3, 2:] = np.sign(states[::3, 2:]) * MAX_VEL
    states[1::10, 2:] *= 1.2
    states[2::50, :2] = [PI, -PI]
    return states, rng.integers(0, 3, n)


def numpy_observation(states: np.ndarray) -> np.ndarray:
    """gymnasium's ``_get_ob`` before its float32 cast."""
    return np.array(
        [[np.cos(s[0]), np.sin(s[0]), np.cos(s[1]), np.sin(s[1]), s[2], s[3]] for s in states]
    )


ONE_STEP_KINDS = ("visited+edges",)


def one_step_reference(kind: str, action_dtype=None) -> dict[str, np.ndarray]:
    """The visited transitions, then the edge states' steps, as one batch (``visited``
    tells them apart)."""
    return visited_and_edge_steps(CASES["Acrobot-v1"], gymnasium_visits(), edge_states())


def assert_exercised(kind: str, data: dict[str, np.ndarray], action_dtype=None) -> None:
    visited = data["visited"]
    assert visited.sum() >= 15_000 and len(visited) >= 18_000
    # The clipped velocities, and both outcomes, are really exercised.
    for part in (visited, ~visited):
        assert np.any(np.abs(data["next"][part, 2:]) == MAX_VEL)
        assert 0.001 < data["term"][part].mean() < 0.9


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    """The one-step batch, with the float64 observations of the next states."""
    data = dict(once(one_step_reference, ONE_STEP_KINDS[0], None))
    data["next_obs"] = numpy_observation(data["next"])
    return data


def poleax_steps(data: dict[str, np.ndarray], dtype):
    ours = shared_poleax_steps(CASES["Acrobot-v1"], data["state"], data["action"], dtype)
    return [ours[k] for k in ("next", "obs", "reward", "term", "trunc", "time")]


def test_edge_states_wrap_more_than_once(reference):
    """Among the edge states some angles wrap two to five times in one step (gymnasium's
    ``wrap`` loops), which a single add or subtract of 2 pi would get wrong."""
    env = AcrobotEnv()
    edges = ~reference["visited"]
    wraps = []
    for state, action in zip(reference["state"][edges], reference["action"][edges], strict=True):
        raw = gym_acrobot.rk4(env._dsdt, np.append(state, env.AVAIL_TORQUE[action]), [0, env.dt])
        wraps.append(np.ceil(np.maximum(np.abs(raw[:2]) - PI, 0) / (2 * PI)))
    wraps = np.array(wraps)
    assert wraps.max() >= 3 and (wraps >= 2).sum() >= 50


def wrapped(delta: np.ndarray) -> np.ndarray:
    return (delta + PI) % (2 * PI) - PI


def test_one_step_agrees_in_float32(reference):
    ours, obs, rewards, terminated, _, _ = poleax_steps(reference, jnp.float32)
    assert ours.dtype == np.float32
    visited = reference["visited"]
    ref = reference["next"]
    error = np.abs(ours - ref)
    error[:, :2] = np.abs(wrapped(ours[:, :2] - ref[:, :2]))  # +-pi may wrap either way
    assert error[visited].max() < 1e-5, error[visited].max()
    obs_error = np.abs(obs - reference["next_obs"])
    assert obs_error[visited].max() < 1e-5, obs_error[visited].max()
    np.testing.assert_array_equal(rewards[visited], reference["reward"][visited])
    # A flag may differ only for a state within float32 rounding of the goal height.
    height = -np.cos(ref[:, 0]) - np.cos(ref[:, 1] + ref[:, 0])
    differ = (terminated != reference["term"]) & visited
    assert np.all(np.abs(height[differ] - 1.0) < 1e-5)
    # The edge states' fast RK4 steps (never visited by these episodes) amplify float32's
    # rounding up to a thousandfold: only rough agreement there.
    assert obs_error[~visited].max() < 1e-2


def test_wrap_and_bound_are_gymnasium_s():
    rng = np.random.default_rng(2)
    ulps = np.arange(-3, 4)
    edges = [k * PI + ulps * np.spacing(k * PI) for k in (-5, -3, -1, 1, 3, 5)]
    xs = np.concatenate([rng.uniform(-40, 40, 5000), *edges, [0.0, -0.0, 1e3, -1e3]])
    with jax.enable_x64(True):
        ours = np.asarray(jax.jit(lambda x: wrap(x, -PI, PI))(jnp.asarray(xs)))
        clipped = np.asarray(jax.jit(lambda x: bound(x, -PI, PI))(jnp.asarray(xs)))
    np.testing.assert_array_equal(ours, [gym_acrobot.wrap(x, -PI, PI) for x in xs])
    np.testing.assert_array_equal(clipped, [gym_acrobot.bound(x, -PI, PI) for x in xs])
    with jax.enable_x64(True):  # where gymnasium's loop never ends, poleax's stops
        inf = np.asarray(wrap(jnp.array([np.inf, -np.inf, np.nan]), -PI, PI))
    assert np.isinf(inf[:2]).all() and np.isnan(inf[2])


def test_reset_from_is_bit_identical_to_gymnasium_reset():
    env, params = Acrobot(), EnvParams()
    seeds = range(200)
    gym_env = AcrobotEnv()
    starts = []
    for seed in seeds:
        gym_env.reset(seed=seed)
        assert gym_env.state.dtype == np.float32  # gymnasium keeps its start state in float32
        starts.append(np.asarray(gym_env.state, np.float64))
        # numpy's uniform(low, high, n) is low + (high - low) * random(n), in that order
        rng, _ = seeding.np_random(seed)
        np.testing.assert_array_equal(
            rng.uniform(-0.1, 0.1, 4), -0.1 + (0.1 - -0.1) * gymnasium_uniforms(seed, 4)
        )
    obs, physics = assert_reset_from_is_gymnasiums(env, params, starts, seeds)
    np.testing.assert_array_equal(obs, numpy_observation(physics))


def test_state_from_gymnasium_round_trip():
    assert_state_round_trip("Acrobot-v1", poleax_acrobot, Acrobot)


def test_gymnasium_renders_a_poleax_state():
    assert_gymnasium_draws(poleax_acrobot, Acrobot, AcrobotEnv, 2, (500, 500))


def test_step_auto_resets_and_keeps_final_observation():
    env, params = Acrobot(), EnvParams()
    # Both links straight up: past the goal height at once.
    state = EnvState(jnp.array([PI - 0.1, 0.0, 0.0, 0.0], jnp.float32), jnp.int32(7))
    obs, new_state, reward, terminated, truncated, info = env.step(
        jax.random.PRNGKey(1), state, 1, params
    )
    assert bool(terminated) and not bool(truncated) and float(reward) == 0.0
    final = np.asarray(info["final_obs"])
    assert -final[0] - (final[0] * final[2] - final[1] * final[3]) > 1.0  # goal height
    assert np.all(np.abs(np.asarray(new_state.physics)) <= 0.1)
    np.testing.assert_allclose(np.asarray(obs)[[0, 2]], 1.0, atol=0.01)  # hanging down
    assert int(new_state.time) == 0
    # Truncation at the cap, with the pre-reset observation kept.
    state = EnvState(jnp.zeros(4, jnp.float32), jnp.int32(CAP - 1))
    _, new_state, reward, terminated, truncated, info = env.step(
        jax.random.PRNGKey(1), state, 1, params
    )
    assert bool(truncated) and not bool(terminated) and float(reward) == -1.0
    assert int(new_state.time) == 0


def test_reset_is_uniform_in_the_small_box_and_vmaps():
    _, physics = reset_many(Acrobot(), EnvParams())
    assert np.all(np.abs(physics) <= 0.1) and physics.min() < -0.099 and physics.max() > 0.099


def test_sizes_match_gymnasium():
    gym_env = gym.make("Acrobot-v1")
    assert Acrobot.num_actions == gym_env.action_space.n
    assert (Acrobot.observation_size,) == gym_env.observation_space.shape
    assert EnvParams().max_steps_in_episode == gym_env.spec.max_episode_steps == CAP
    assert gym_env.spec.reward_threshold == -100.0
    assert AcrobotEnv.metadata["render_fps"] == 15
