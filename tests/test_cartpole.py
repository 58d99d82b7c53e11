"""poleax's JAX CartPole against gymnasium's CartPoleEnv, the reference: its states to step
from, and its own tests (the shared ones are in ``test_gym_equivalence.py``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gym_equivalence import CASES, cartpole_balancing, gymnasium_steps, once, poleax_steps
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

from poleax.envs import make
from poleax.envs.cartpole import EnvState

N_STATES = 10_000


def random_states(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """States spread over (and past) the termination bounds, and random actions."""
    rng = np.random.default_rng(seed)
    states = rng.uniform(-1, 1, (n, 4)) * np.array([2.6, 3.0, 0.25, 3.5])
    return states, rng.integers(0, 2, n)


ONE_STEP_KINDS = ("random",)


def one_step_reference(kind: str, action_dtype=None) -> dict[str, np.ndarray]:
    """gymnasium's steps from the random states (the only kind)."""
    states, actions = random_states(N_STATES)
    return gymnasium_steps(CASES["CartPole-v1"], states, actions)


def numpy_observation(states: np.ndarray) -> np.ndarray:
    return states  # the state is the observation


def assert_exercised(kind: str, data: dict[str, np.ndarray], action_dtype=None) -> None:
    assert 0.2 < data["term"].mean() < 0.8  # both outcomes are really exercised


@pytest.fixture(scope="module")
def reference():
    return once(one_step_reference, "random", None)


def test_one_step_agrees_in_float32(reference):
    ref_states, ref_rewards, ref_terminated = (reference[k] for k in ("next", "reward", "term"))
    case = CASES["CartPole-v1"]
    states = reference["state"].astype(np.float32)
    ours = poleax_steps(case, states, reference["action"], jnp.zeros(()).dtype)
    assert ours["next"].dtype == np.float32
    np.testing.assert_allclose(ours["next"], ref_states, atol=1e-5, rtol=1e-5)
    np.testing.assert_array_equal(ours["reward"], ref_rewards)
    # A flag may differ only for a state within float32 rounding of a threshold.
    differ = ours["term"] != ref_terminated
    margin = np.minimum(
        np.abs(np.abs(ref_states[:, 0]) - 2.4), np.abs(np.abs(ref_states[:, 2]) - 12 * np.pi / 180)
    )
    assert np.all(margin[differ] < 1e-5)


def test_step_auto_resets_and_keeps_final_observation():
    env, params = make("CartPole-v0")
    state = EnvState(jnp.array([2.39, 1.0, 0.0, 0.0], jnp.float32), 7)
    obs, new_state, reward, terminated, truncated, info = env.step(
        jax.random.PRNGKey(1), state, 1, params
    )
    assert bool(terminated) and not bool(truncated) and float(reward) == 1.0
    assert float(info["final_obs"][0]) > 2.4
    assert np.all(np.abs(np.asarray(obs)) <= 0.05)
    assert int(new_state.time) == 0


def test_reset_is_uniform_in_the_small_box_and_vmaps():
    env, params = make("CartPole-v1")
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(jax.random.PRNGKey(0), 4096), params
    )
    obs = np.asarray(obs)
    assert obs.shape == (4096, 4)
    assert np.all(np.abs(obs) <= 0.05) and obs.min() < -0.049 and obs.max() > 0.049
    assert np.all(np.asarray(state.time) == 0)


def test_unknown_env_lists_the_known_ones():
    with pytest.raises(ValueError, match="CartPole-v0, CartPole-v1"):
        make("NoSuchEnv-v0")  # not MountainCar-v0: other envs join the registry


def test_reset_from_gymnasiums_uniforms_is_its_start_state_bit_for_bit():
    """gymnasium's reset draws ``np_random.uniform(-0.05, 0.05, 4)`` from
    ``default_rng(seed)``: ``-0.05 + 0.1 * u`` with ``u = default_rng(seed).random(4)``."""
    env, params = make("CartPole-v1")
    seeds = range(300)
    u = np.array([np.random.default_rng(seed).random(4) for seed in seeds])
    gym_env = CartPoleEnv()
    expected = []
    for seed in seeds:
        gym_env.reset(seed=seed)
        expected.append(np.array(gym_env.state))
    with jax.enable_x64(True):
        reset = jax.jit(jax.vmap(env.reset_from, in_axes=(0, None)))
        obs, state = reset(jnp.asarray(u), params)
        one = jax.jit(env.reset_from)(jnp.asarray(u[7]), params)[1]
    assert state.physics.dtype == jnp.float64
    np.testing.assert_array_equal(np.asarray(state.physics), np.array(expected))
    np.testing.assert_array_equal(np.asarray(obs), np.array(expected))
    np.testing.assert_array_equal(np.asarray(one.physics), expected[7])
    assert np.all(np.asarray(state.time) == 0)


def test_reset_from_in_float32_rounds_as_before():
    """float32 resets keep their values (XLA's one-rounding multiply-add): seeds' runs stand."""
    env, params = make("CartPole-v1")
    u = jax.random.uniform(jax.random.PRNGKey(0), (4096, 4))
    _, state = jax.jit(jax.vmap(env.reset_from, in_axes=(0, None)))(u, params)
    fused = np.asarray(jax.jit(lambda u: u * 0.1 - 0.05)(u))
    assert state.physics.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(state.physics), fused)


def test_state_from_gymnasium_reads_the_state_and_the_elapsed_steps():
    import gymnasium as gym

    from poleax.envs.cartpole import CartPole

    gym_env = gym.make("CartPole-v1")
    with pytest.raises(ValueError, match="reset it first"):
        CartPole.state_from_gymnasium(gym_env)
    gym_env.reset(seed=5)
    for action in (0, 1, 1):
        gym_env.step(action)
    with jax.enable_x64(True):
        state = CartPole.state_from_gymnasium(gym_env)
        bare = CartPole.state_from_gymnasium(gym_env.unwrapped)
        assert state.physics.dtype == jnp.float64
        np.testing.assert_array_equal(np.asarray(state.physics), gym_env.unwrapped.state)
        assert int(state.time) == 3
        np.testing.assert_array_equal(np.asarray(bare.physics), gym_env.unwrapped.state)
        assert int(bare.time) == 0  # a bare CartPoleEnv does not count its steps
        # poleax continues from it exactly as gymnasium does
        env, params = make("CartPole-v1")
        _, ours, _, _, _ = jax.jit(env.step_env)(state, jnp.int32(1), params)
    gym_env.step(1)
    np.testing.assert_array_equal(np.asarray(ours.physics), gym_env.unwrapped.state)
    assert int(ours.time) == 4
    state32 = CartPole.state_from_gymnasium(gym_env)
    assert state32.physics.dtype == jnp.float32 and int(state32.time) == 4
    other = gym.make("CartPole-v1")
    other.reset(seed=0)
    CartPole().state_to_gymnasium(state, other)  # and back into gymnasium, time included
    np.testing.assert_array_equal(other.unwrapped.state, np.asarray(state.physics))
    assert other.unwrapped.state.dtype == np.float64
    assert int(CartPole.state_from_gymnasium(other).time) == 3
    gym_env.reset(seed=6)
    assert int(CartPole.state_from_gymnasium(gym_env).time) == 0


def test_state_from_gymnasium_at_the_time_limit_truncates_in_poleax_too():
    import gymnasium as gym

    from poleax.envs.cartpole import CartPole

    gym_env = gym.make("CartPole-v0")
    obs, _ = gym_env.reset(seed=3)
    for _ in range(199):
        obs, *_ = gym_env.step(cartpole_balancing(obs))
    with jax.enable_x64(True):
        state = CartPole.state_from_gymnasium(gym_env)
        env, params = make("CartPole-v0")
        _, _, _, terminated, truncated = env.step_env(state, cartpole_balancing(obs), params)
    _, _, gym_terminated, gym_truncated, _ = gym_env.step(cartpole_balancing(obs))
    assert int(state.time) == 199
    assert (bool(terminated), bool(truncated)) == (gym_terminated, gym_truncated) == (False, True)
