"""poleax's JAX CartPole against gymnasium's CartPoleEnv, the reference."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

from poleax.envs import make
from poleax.envs.cartpole import EnvState

N_STATES = 10_000


def random_states(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """States spread over (and past) the termination bounds, and random actions."""
    rng = np.random.default_rng(seed)
    states = rng.uniform(-1, 1, (n, 4)) * np.array([2.6, 3.0, 0.25, 3.5])
    return states, rng.integers(0, 2, n)


def gymnasium_steps(states: np.ndarray, actions: np.ndarray):
    env = CartPoleEnv()
    out_states, rewards, terminated = [], [], []
    for state, action in zip(states, actions, strict=True):
        env.reset(seed=0)
        env.state = state.copy()
        _, reward, term, _, _ = env.step(int(action))
        out_states.append(np.array(env.state))
        rewards.append(reward)
        terminated.append(term)
    return np.array(out_states), np.array(rewards), np.array(terminated)


def poleax_steps(states: np.ndarray, actions: np.ndarray):
    env, params = make("CartPole-v1")
    dtype = jnp.zeros(()).dtype
    batch = EnvState(jnp.asarray(states, dtype), jnp.zeros(len(states), jnp.int32))
    step = jax.jit(jax.vmap(env.step_env, in_axes=(0, 0, None)))
    obs, new, reward, terminated, _truncated = step(batch, jnp.asarray(actions), params)
    out = np.stack([np.asarray(v) for v in (new.x, new.x_dot, new.theta, new.theta_dot)], 1)
    return out, np.asarray(obs), np.asarray(reward), np.asarray(terminated)


@pytest.fixture(scope="module")
def reference():
    states, actions = random_states(N_STATES)
    return states, actions, gymnasium_steps(states, actions)


def test_one_step_is_bit_identical_in_float64(reference):
    states, actions, (ref_states, ref_rewards, ref_terminated) = reference
    with jax.enable_x64(True):
        ours, obs, rewards, terminated = poleax_steps(states, actions)
    assert ours.dtype == np.float64
    np.testing.assert_array_equal(ours, ref_states)
    np.testing.assert_array_equal(obs, ref_states)
    np.testing.assert_array_equal(rewards, ref_rewards)
    np.testing.assert_array_equal(terminated, ref_terminated)
    assert 0.2 < ref_terminated.mean() < 0.8  # both outcomes are really exercised


def test_one_step_agrees_in_float32(reference):
    states, actions, (ref_states, ref_rewards, ref_terminated) = reference
    ours, _, rewards, terminated = poleax_steps(states.astype(np.float32), actions)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref_states, atol=1e-5, rtol=1e-5)
    np.testing.assert_array_equal(rewards, ref_rewards)
    # A flag may differ only for a state within float32 rounding of a threshold.
    differ = terminated != ref_terminated
    margin = np.minimum(
        np.abs(np.abs(ref_states[:, 0]) - 2.4), np.abs(np.abs(ref_states[:, 2]) - 12 * np.pi / 180)
    )
    assert np.all(margin[differ] < 1e-5)


def balancing_action(obs: np.ndarray) -> int:
    """A simple controller that keeps the pole up for hundreds of steps."""
    return int(obs[2] + 0.5 * obs[3] + 0.01 * obs[1] > 0)


def run_episode_pair(env_id: str, seed: int, policy) -> tuple[list, list]:
    """The same episode in gymnasium and in poleax (float64): per-step (reward, term, trunc)."""
    import gymnasium as gym

    gym_env = gym.make(env_id)
    obs, _ = gym_env.reset(seed=seed)
    env, params = make(env_id)
    step = jax.jit(env.step, static_argnums=())
    state = EnvState(jnp.asarray(gym_env.unwrapped.state, jnp.float64), jnp.int32(0))
    ref, ours = [], []
    key = jax.random.PRNGKey(0)
    rng = np.random.default_rng(seed)
    done = False
    while not done:
        action = policy(obs, rng)
        obs, reward, terminated, truncated, _ = gym_env.step(action)
        ref.append((reward, terminated, truncated))
        _our_obs, state, r, term, trunc, info = step(key, state, jnp.int32(action), params)
        np.testing.assert_array_equal(np.asarray(info["final_obs"]), gym_env.unwrapped.state)
        ours.append((float(r), bool(term), bool(trunc)))
        done = terminated or truncated
    return ref, ours


@pytest.mark.parametrize("env_id,cap", [("CartPole-v0", 200), ("CartPole-v1", 500)])
def test_truncation_fires_at_the_cap(env_id, cap):
    with jax.enable_x64(True):
        ref, ours = run_episode_pair(env_id, 3, lambda obs, rng: balancing_action(obs))
    assert ref == ours
    assert len(ours) == cap
    assert ours[-1][2] and not any(t for _, _, t in ours[:-1])


def test_whole_random_episodes_agree():
    with jax.enable_x64(True):
        for seed in range(20):
            ref, ours = run_episode_pair("CartPole-v1", seed, lambda obs, rng: int(rng.integers(2)))
            assert ref == ours
            assert ours[-1][1]  # a random policy ends by falling


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
        obs, *_ = gym_env.step(balancing_action(obs))
    with jax.enable_x64(True):
        state = CartPole.state_from_gymnasium(gym_env)
        env, params = make("CartPole-v0")
        _, _, _, terminated, truncated = env.step_env(state, balancing_action(obs), params)
    _, _, gym_terminated, gym_truncated, _ = gym_env.step(balancing_action(obs))
    assert int(state.time) == 199
    assert (bool(terminated), bool(truncated)) == (gym_terminated, gym_truncated) == (False, True)
