"""One harness for holding poleax's envs to gymnasium's, the reference, and the table of env
cases it runs over (``test_gym_equivalence.py`` parametrizes over ``CASES``).

Each env's test file keeps what only it knows: the states to step from
(``one_step_reference``: kind and action dtype -> gymnasium's transitions), the numpy
observation of a state (``numpy_observation``) and what those states must exercise
(``assert_exercised``). Here: stepping gymnasium and poleax from the same states, whole
episodes side by side, bit-for-bit comparison, and the action rules that drive episodes.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.utils import seeding

from poleax.envs import make

# --- comparisons -----------------------------------------------------------------------------


def assert_bits_equal(ours: Any, ref: Any) -> None:
    """``ours`` is float64 and equal to ``ref`` (taken as float64) to the bit: the sign of a
    zero included."""
    ours = np.ascontiguousarray(ours)
    ref = np.ascontiguousarray(ref, np.float64)
    assert ours.dtype == np.float64, f"float64 expected, got {ours.dtype}"
    assert ours.shape == ref.shape, f"shape {ours.shape}, expected {ref.shape}"
    rows = ours.shape[0] if ours.ndim else 1
    same = ours.view(np.uint64) == ref.view(np.uint64)
    differ = np.nonzero(~same.reshape(rows, -1).all(axis=1))[0]
    assert differ.size == 0, (
        f"{differ.size} differ, first at {differ[0]}: "
        f"{ours.reshape(rows, -1)[differ[0]]} != {ref.reshape(rows, -1)[differ[0]]}"
    )


def gymnasium_uniforms(seed: int, n: int) -> np.ndarray:
    """The uniforms gymnasium's ``reset(seed=seed)`` turns into its start state."""
    rng, _ = seeding.np_random(seed)
    return rng.random(n)


@functools.cache
def once(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, computed once per session (gymnasium's reference steps are slow)."""
    return fn(*args)


# --- action rules that drive whole episodes --------------------------------------------------


def cartpole_balancing(obs: np.ndarray) -> int:
    """A simple controller that keeps the pole up for hundreds of steps."""
    return int(obs[2] + 0.5 * obs[3] + 0.01 * obs[1] > 0)


def acrobot_pumping(state: np.ndarray, kind: int) -> int:
    """Torque with a joint's velocity: swings up in ~100 steps (kind 0), or spins the links
    until both velocities reach their bounds (kind 1)."""
    speed = state[3] if kind == 0 else state[2] + state[3]
    return 2 if speed > 0 else 0


def mountain_car_pumping(state: np.ndarray) -> int:
    """Push with the velocity: rocks up to the flag in ~120 steps, touching the left wall."""
    return 2 if state[1] >= 0 else 0


def pendulum_pumping(theta_dot: float, rng: np.random.Generator) -> float:
    """Push along the swing (spins the pendulum up to the speed limit), sometimes at random."""
    if rng.random() < 0.1:
        return rng.uniform(-6, 6)
    return (np.sign(theta_dot) or 1.0) * rng.uniform(0.5, 6.0)


def mountain_car_continuous_pumping(velocity: float, rng: np.random.Generator) -> float:
    """Push along the velocity (reaches the flag in about 100 steps), sometimes at random."""
    if rng.random() < 0.1:
        return rng.uniform(-3, 3)
    return (np.sign(velocity) or 1.0) * rng.uniform(0.2, 3.0)


# --- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Episodes:
    """Whole episodes of one action rule, from gymnasium's ``reset(seed)`` for each seed."""

    name: str
    #: (what the rule sees: the observation or gymnasium's state, see ``EnvCase``, rng) ->
    #: an action (a number for a continuous env: it goes into a one-element array).
    policy: Callable[[np.ndarray, np.random.Generator], Any]
    seeds: Sequence[int]
    #: "cap": truncated at the time limit, never terminated; "goal": terminated before it.
    ends: str
    last_reward: float | None = None  # the final step's reward, where it is known
    last_reward_above: float | None = None
    every_reward: float | None = None  # every step's reward, where it is one number
    #: Continuous: float32 action arrays for odd seeds, float64 for even ones.
    float32_on_odd_seeds: bool = False


@dataclass(frozen=True)
class EnvCase:
    """One env id, how to compare it with gymnasium, and its episodes."""

    env_id: str
    #: The env's test file (holds ``one_step_reference``, ``ONE_STEP_KINDS``,
    #: ``numpy_observation`` and ``assert_exercised``).
    module: str
    gym_env: Callable[[], Any]  # gymnasium's env class, unwrapped
    continuous: bool
    #: "uniforms": poleax starts from ``reset_from`` with gymnasium's own uniforms and steps
    #: with ``step_or_reset`` (so the reset after the last step is checked too);
    #: "gymnasium": it starts from ``state_from_gymnasium`` and steps with ``step``.
    start: str
    #: What the episodes' action rule sees: gymnasium's observation or its (float64) state.
    policy_sees: str
    #: ``info["final_obs"]`` is gymnasium's observation to the bit (else in float32).
    final_obs_bits: bool = False
    #: ``info["final_obs"]`` is also gymnasium's state, in float64.
    final_obs_is_state: bool = False
    #: Tolerance of the start observation against gymnasium's (0: equal).
    start_obs_rtol: float = 0.0
    #: gymnasium's CartPole counts steps past a termination: reset before every step.
    reset_every_step: bool = False
    #: One-step comparisons run for this id (CartPole-v0 steps as CartPole-v1 does).
    one_step: bool = True
    episodes: tuple[Episodes, ...] = ()

    def tests(self) -> ModuleType:
        return importlib.import_module(self.module)

    @property
    def cap(self) -> int:
        return int(make(self.env_id)[1].max_steps_in_episode)


def _gym_class(module: str, name: str) -> Callable[[], Any]:
    def build() -> Any:
        return getattr(importlib.import_module(module), name)()

    return build


_CONTROL = "gymnasium.envs.classic_control."
_CARTPOLE = dict(
    module="test_cartpole",
    gym_env=_gym_class(_CONTROL + "cartpole", "CartPoleEnv"),
    continuous=False,
    start="gymnasium",
    policy_sees="obs",
    final_obs_is_state=True,
    reset_every_step=True,
)
_BALANCING = Episodes("balancing", lambda obs, rng: cartpole_balancing(obs), (3,), ends="cap")

CASES: dict[str, EnvCase] = {
    case.env_id: case
    for case in (
        EnvCase("CartPole-v0", **_CARTPOLE, one_step=False, episodes=(_BALANCING,)),
        EnvCase(
            "CartPole-v1",
            **_CARTPOLE,
            episodes=(
                _BALANCING,
                Episodes("random", lambda obs, rng: int(rng.integers(2)), range(20), "goal"),
            ),
        ),
        EnvCase(
            "Acrobot-v1",
            module="test_acrobot",
            gym_env=_gym_class(_CONTROL + "acrobot", "AcrobotEnv"),
            continuous=False,
            start="uniforms",
            policy_sees="state",
            start_obs_rtol=1e-6,
            episodes=(
                # random actions: the links never reach the goal height
                Episodes(
                    "random",
                    lambda s, rng: int(rng.integers(3)),
                    range(2),
                    "cap",
                    every_reward=-1.0,
                ),
                # pumping: reaches the goal, with reward 0 on that step
                Episodes(
                    "swinging up",
                    lambda s, rng: acrobot_pumping(s, 0),
                    (0, 2, 4),
                    "goal",
                    last_reward=0.0,
                ),
                Episodes(
                    "spinning",
                    lambda s, rng: acrobot_pumping(s, 1),
                    (1, 3, 5),
                    "goal",
                    last_reward=0.0,
                ),
            ),
        ),
        EnvCase(
            "MountainCar-v0",
            module="test_mountain_car",
            gym_env=_gym_class(_CONTROL + "mountain_car", "MountainCarEnv"),
            continuous=False,
            start="uniforms",
            policy_sees="state",
            final_obs_is_state=True,
            episodes=(
                # random actions: the car never reaches the flag
                Episodes("random", lambda s, rng: int(rng.integers(3)), range(5), "cap"),
                Episodes(
                    "pumping",
                    lambda s, rng: mountain_car_pumping(s),
                    range(5),
                    "goal",
                    last_reward=-1.0,
                ),
            ),
        ),
        EnvCase(
            "Pendulum-v1",
            module="test_pendulum",
            gym_env=_gym_class(_CONTROL + "pendulum", "PendulumEnv"),
            continuous=True,
            start="gymnasium",
            policy_sees="obs",
            episodes=(
                Episodes(
                    "random",
                    lambda obs, rng: rng.uniform(-6, 6),
                    (0, 1),
                    "cap",
                    float32_on_odd_seeds=True,
                ),
                Episodes(
                    "pumping",
                    lambda obs, rng: pendulum_pumping(float(obs[2]), rng),
                    (2, 3),
                    "cap",
                    float32_on_odd_seeds=True,
                ),
            ),
        ),
        EnvCase(
            "MountainCarContinuous-v0",
            module="test_mountain_car_continuous",
            gym_env=_gym_class(_CONTROL + "continuous_mountain_car", "Continuous_MountainCarEnv"),
            continuous=True,
            start="gymnasium",
            policy_sees="obs",
            final_obs_bits=True,
            episodes=(
                Episodes(
                    "pumping",
                    lambda obs, rng: mountain_car_continuous_pumping(float(obs[1]), rng),
                    range(6),
                    "goal",
                    last_reward_above=90.0,  # the flag, +100
                    float32_on_odd_seeds=True,
                ),
                Episodes("gentle", lambda obs, rng: rng.uniform(-0.5, 0.5), (3,), "cap"),
            ),
        ),
    )
}


# --- one step from given states --------------------------------------------------------------


def gymnasium_steps(
    case: EnvCase, states: Sequence[np.ndarray], actions: np.ndarray, action_dtype=None
) -> dict[str, np.ndarray]:
    """One gymnasium step from each state (kept at its dtype) with each action (a float
    action goes in as a one-element array of ``action_dtype``): the states and actions,
    ``next`` (float64), ``obs``, ``reward``, ``term``."""
    env = case.gym_env()
    env.reset(seed=0)
    rows: dict[str, list] = {k: [] for k in ("next", "obs", "reward", "term")}
    for state, action in zip(states, actions, strict=True):
        if case.reset_every_step:
            env.reset(seed=0)
        env.state = state.copy()
        act = np.array([action], action_dtype) if case.continuous else int(action)
        obs, reward, term, _, _ = env.step(act)
        for key, value in zip(
            rows, (np.array(env.state, np.float64), obs, reward, term), strict=True
        ):
            rows[key].append(value)
    out = {k: np.array(v) for k, v in rows.items()}
    return {"state": states, "action": actions, **out}


def poleax_steps(
    case: EnvCase,
    states: Sequence[np.ndarray],
    actions: np.ndarray,
    dtype,
    action_dtype=None,
    baked: bool = False,
) -> dict[str, np.ndarray]:
    """poleax's jitted, vmapped ``step_env`` from the same states (physics in ``dtype``):
    params as arguments, or baked into the program as constants (``baked``)."""
    env, params = make(case.env_id)
    physics = np.array([np.asarray(s, np.float64) for s in states])
    batch = env.state_type(jnp.asarray(physics, dtype), jnp.zeros(len(physics), jnp.int32))
    if case.continuous:
        acts = jnp.asarray(np.asarray(actions)[:, None], action_dtype)
    else:
        acts = jnp.asarray(actions)
    if baked:
        step = jax.jit(jax.vmap(lambda s, a: env.step_env(s, a, params)))
        obs, new, reward, term, trunc = step(batch, acts)
    else:
        step = jax.jit(jax.vmap(env.step_env, in_axes=(0, 0, None)))
        obs, new, reward, term, trunc = step(batch, acts, params)
    values = (new.physics, obs, reward, term, trunc, new.time)
    names = ("next", "obs", "reward", "term", "trunc", "time")
    return {k: np.asarray(v) for k, v in zip(names, values, strict=True)}


def gymnasium_visits(
    env: Any,
    cap: int,
    episodes: int,
    random_episodes: int,
    pump: Callable[[int, np.ndarray], int],
    goes_on: Callable[[int], bool] = lambda episode: False,
) -> dict[str, np.ndarray]:
    """Transitions of a discrete env's own episodes, from ``env.reset(seed=episode)``, each up
    to ``cap`` steps: the first ``random_episodes`` of uniformly random actions, the rest of
    ``pump(episode, state)`` (5% random), ending at a termination unless ``goes_on(episode)``.
    One generator (seed 0) draws the random actions. Returns ``state`` (float64), ``action``,
    ``next`` (gymnasium's state after the step), ``obs``, ``reward`` and ``term``."""
    rng = np.random.default_rng(0)
    rows: dict[str, list] = {k: [] for k in ("state", "action", "next", "obs", "reward", "term")}
    for episode in range(episodes):
        env.reset(seed=episode)
        for _ in range(cap):
            state = np.array(env.state, np.float64)  # (Acrobot's is float32 after a reset)
            if episode < random_episodes or rng.random() < 0.05:
                action = int(rng.integers(env.action_space.n))
            else:
                action = pump(episode, state)
            obs, reward, term, _, _ = env.step(action)
            step = (state, action, np.array(env.state), obs, reward, term)
            for key, value in zip(rows, step, strict=True):
                rows[key].append(value)
            if term and not goes_on(episode):
                break
    return {k: np.array(v) for k, v in rows.items()}


def visited_and_edge_steps(
    case: EnvCase, visits: dict[str, np.ndarray], edges: tuple[np.ndarray, np.ndarray]
) -> dict[str, np.ndarray]:
    """The visited transitions, then gymnasium's steps from the edge states and actions, as
    one batch (``visited`` tells them apart)."""
    parts = [visits, gymnasium_steps(case, *edges)]
    data = {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}
    data["visited"] = np.arange(len(data["state"])) < len(parts[0]["state"])
    return data


def visited_states(
    env: Any,
    n: int,
    seed: int,
    pump: Callable[[float, np.random.Generator], float],
    random_action: Callable[[np.random.Generator], float],
    steps: Callable[[bool], int],
) -> tuple[list[np.ndarray], np.ndarray]:
    """At least ``n`` states a continuous env visits, as gymnasium holds them, and the actions
    taken there: episodes from ``env.reset(seed=seed * 10_000 + episode)`` of random actions
    and of ``pump(speed, rng)`` (``speed`` the state's second number) alternately, each cut at
    ``steps(pumping)`` steps or at a termination."""
    rng = np.random.default_rng(seed)
    states, actions = [], []
    episode = 0
    while len(states) < n:
        env.reset(seed=seed * 10_000 + episode)
        pumping = episode % 2 == 1
        for _ in range(steps(pumping)):
            speed = float(env.state[1])
            action = pump(speed, rng) if pumping else random_action(rng)
            states.append(env.state.copy())
            actions.append(action)
            _, _, terminated, _, _ = env.step(np.array([action]))
            if terminated:
                break
        episode += 1
    return states, np.array(actions)


# --- whole episodes --------------------------------------------------------------------------


@functools.cache
def _step_or_reset(env_id: str):
    env, _ = make(env_id)
    return jax.jit(env.step_or_reset)


@functools.cache
def _step(env_id: str):
    env, _ = make(env_id)
    return jax.jit(env.step)


def run_episode_pair(case: EnvCase, seed: int, policy, action_dtype=np.float64):
    """The same episode in gymnasium (``gymnasium.make``: its TimeLimit) and in poleax (under
    x64), compared on the way: per step (reward, terminated, truncated) of each."""
    gym_env = gym.make(case.env_id)
    obs, _ = gym_env.reset(seed=seed)
    env, params = make(case.env_id)
    if case.start == "uniforms":
        our_obs, state = env.reset_from(
            jnp.asarray(gymnasium_uniforms(seed, env.reset_draws)), params
        )
        np.testing.assert_allclose(
            np.asarray(our_obs, np.float32), obs, rtol=case.start_obs_rtol, atol=0
        )
        next_u = jnp.asarray(gymnasium_uniforms(seed + 1000, env.reset_draws))

        def step(state, action):
            return _step_or_reset(case.env_id)(next_u, state, action, params)
    else:
        state = env.state_from_gymnasium(gym_env)
        key = jax.random.PRNGKey(0)

        def step(state, action):
            return _step(case.env_id)(key, state, action, params)

    assert_bits_equal(np.asarray(state.physics), gym_env.unwrapped.state)
    assert int(state.time) == 0
    ref, ours = [], []
    rng = np.random.default_rng(seed)
    done = False
    while not done:
        seen = obs if case.policy_sees == "obs" else np.asarray(gym_env.unwrapped.state)
        action = policy(seen, rng)
        if case.continuous:
            action = np.array([action], action_dtype)
            ours_action = jnp.asarray(action)
        else:
            ours_action = jnp.int32(action)
        obs, reward, terminated, truncated, _ = gym_env.step(action)
        ref.append((reward, terminated, truncated))
        _, state, r, term, trunc, info = step(state, ours_action)
        ours.append((float(r), bool(term), bool(trunc)))
        final = np.asarray(info["final_obs"])
        np.testing.assert_array_equal(final.astype(np.float32), obs)
        if case.final_obs_bits:
            assert_bits_equal(final, obs)
        if case.final_obs_is_state:
            np.testing.assert_array_equal(final, np.asarray(gym_env.unwrapped.state, np.float64))
        done = terminated or truncated
        if not done:  # poleax's state is gymnasium's, step count included
            assert_bits_equal(np.asarray(state.physics), gym_env.unwrapped.state)
            assert int(state.time) == len(ours) == int(env.state_from_gymnasium(gym_env).time)
    if case.start == "uniforms":  # after the last step: the next episode's start
        _, start = env.reset_from(next_u, params)
        np.testing.assert_array_equal(np.asarray(state.physics), np.asarray(start.physics))
        assert int(state.time) == 0
    return ref, ours


# --- the gymnasium bridge: resets, states in and out, rendering ------------------------------


def assert_reset_from_is_gymnasiums(
    env: Any, params: Any, starts: Sequence[np.ndarray], seeds: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """``reset_from`` (vmapped, jitted) with gymnasium's uniforms for ``seeds`` is gymnasium's
    start states ``starts`` to the bit under x64, at time 0, and within float32 rounding in
    float32; returns the float64 ``(obs, physics)`` for the env's own checks."""
    u = np.array([gymnasium_uniforms(seed, env.reset_draws) for seed in seeds])
    reset_from = jax.vmap(env.reset_from, in_axes=(0, None))
    with jax.enable_x64(True):
        obs, state = jax.jit(reset_from)(jnp.asarray(u), params)
        physics = np.asarray(state.physics)
    assert_bits_equal(physics, np.array(starts))
    assert np.all(np.asarray(state.time) == 0)
    # float32 (the default): the same start states, up to float32 arithmetic.
    _, state32 = reset_from(jnp.asarray(u, jnp.float32), params)
    np.testing.assert_allclose(np.asarray(state32.physics), np.array(starts), atol=1e-7)
    return np.asarray(obs), physics


def assert_resets_one_by_one_as_gymnasium(
    env: Any, params: Any, gym_class: Callable[[], Any], seeds: Sequence[int]
) -> None:
    """Under x64, ``reset_from`` with the uniforms of each seed's generator is a fresh
    ``gym_class()``'s ``reset(seed)``: the state to the bit, the observation in float32."""
    with jax.enable_x64(True):
        reset_from = jax.jit(env.reset_from)
        for seed in seeds:
            gym_env = gym_class()
            gym_obs, _ = gym_env.reset(seed=seed)
            obs, state = reset_from(jnp.asarray(gymnasium_uniforms(seed, env.reset_draws)), params)
            assert_bits_equal(np.asarray(state.physics)[None], gym_env.state[None])
            np.testing.assert_array_equal(np.asarray(obs, np.float32), gym_obs)
            assert int(state.time) == 0


def reset_many(env: Any, params: Any, n: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """``n`` resets from split keys under ``vmap``: ``(obs, physics)``, having checked the
    observations' shape and that every state starts at time 0."""
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(jax.random.PRNGKey(0), n), params
    )
    assert np.asarray(obs).shape == (n, env.observation_size)
    assert np.all(np.asarray(state.time) == 0)
    return np.asarray(obs), np.asarray(state.physics)


def assert_state_round_trip(env_id: str, module: ModuleType, env_class: Any) -> None:
    """A discrete env's ``state_from_gymnasium`` and ``state_to_gymnasium`` (its ``module``'s
    functions and ``env_class``'s methods): the state and the ``TimeLimit``'s step count come
    across to the bit both ways (0 steps without the wrapper; an error before the first
    reset), and gymnasium steps on from a poleax state as poleax and the original env do."""
    from_gymnasium = module.state_from_gymnasium
    gym_env = gym.make(env_id)
    with pytest.raises(ValueError, match="reset it first"):
        from_gymnasium(gym_env)
    gym_env.reset(seed=3)
    with jax.enable_x64(True):
        start = from_gymnasium(gym_env)
        assert int(start.time) == 0
        assert_bits_equal(np.asarray(start.physics), gym_env.unwrapped.state)
        for action in [0, 2, 2, 1, 0, 2, 0]:
            gym_env.step(action)
        state = env_class.state_from_gymnasium(gym_env)  # also a static method of the env
        assert state.physics.dtype == jnp.float64 and int(state.time) == 7
        assert_bits_equal(np.asarray(state.physics), gym_env.unwrapped.state)
        assert int(from_gymnasium(gym_env.unwrapped).time) == 0  # no TimeLimit
        # A fresh gymnasium env put into poleax's state steps as gymnasium and poleax do.
        other = gym.make(env_id)
        other.reset(seed=0)
        env_class().state_to_gymnasium(state, other)
        back = from_gymnasium(other)
        assert_bits_equal(np.asarray(back.physics), np.asarray(state.physics))
        assert int(back.time) == 7
        env, params = env_class(), module.EnvParams()
        for action in [2, 0, 1]:
            other.step(action)
            gym_env.step(action)
            _, state, *_ = env.step_env(state, jnp.int32(action), params)
            assert_bits_equal(np.asarray(state.physics), other.unwrapped.state)
            assert_bits_equal(np.asarray(other.unwrapped.state), gym_env.unwrapped.state)
        assert int(state.time) == int(from_gymnasium(gym_env).time) == 10
        assert int(from_gymnasium(other).time) == 10


def assert_visited_states_round_trip(
    env: Any,
    params: Any,
    env_id: str,
    visited: tuple[Sequence[np.ndarray], np.ndarray],
    every: int,
) -> None:
    """A continuous env's every ``every``-th visited state (and a time below the cap) goes
    into gymnasium and back unchanged, at its own dtype, and gymnasium steps on from it as
    poleax does; an unwrapped env counts no steps."""
    states, actions = visited
    gym_env = gym.make(env_id)
    gym_env.reset(seed=0)
    step = jax.jit(env.step_env)
    with jax.enable_x64(True):
        for i in range(0, 2000, every):
            time = jnp.int32(i % params.max_steps_in_episode)
            state = env.state_type(jnp.asarray(states[i], jnp.float64), time)
            env.state_to_gymnasium(state, gym_env)
            assert gym_env.unwrapped.state.dtype == states[i].dtype
            back = env.state_from_gymnasium(gym_env)
            assert_bits_equal(np.asarray(back.physics)[None], states[i][None])
            assert int(back.time) == int(state.time)
            _, ours, _, _, _ = step(state, jnp.array([actions[i]]), params)
            gym_env.step(np.array([actions[i]]))
            assert_bits_equal(np.asarray(ours.physics)[None], gym_env.unwrapped.state[None])
    unwrapped = gym.make(env_id).unwrapped
    unwrapped.reset(seed=1)
    assert int(env.state_from_gymnasium(unwrapped).time) == 0  # no TimeLimit: no step count


def _headless() -> None:
    """Let pygame draw without a display or a sound card."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")


def assert_gymnasium_draws(
    module: ModuleType, env_class: Any, gym_class: Any, action: int, shape: tuple[int, int]
) -> None:
    """``gym_class`` draws the state poleax reaches in 20 steps of ``action`` (put there by
    ``module.state_to_gymnasium``): a ``shape`` frame with something on it."""
    _headless()
    env, params = env_class(), module.EnvParams()
    _, state = env.reset(jax.random.PRNGKey(0), params)
    step = jax.jit(env.step_env)
    for _ in range(20):
        _, state, *_ = step(state, action, params)
    gym_env = gym_class(render_mode="rgb_array")
    try:
        module.state_to_gymnasium(state, gym_env)
        frame = gym_env.render()
    finally:
        gym_env.close()
    assert frame.shape == (*shape, 3) and frame.dtype == np.uint8
    assert frame.min() < 255  # something was drawn


@contextlib.contextmanager
def drawing_pair(env_id: str) -> Iterator[tuple[Any, Any]]:
    """``(reference, canvas)``: two gymnasium ``env_id`` envs that draw (rgb_array), reset
    with seeds 5 and 0; the canvas is for poleax's states. Both closed after."""
    _headless()
    reference = gym.make(env_id, render_mode="rgb_array")
    canvas = gym.make(env_id, render_mode="rgb_array")
    reference.reset(seed=5)
    canvas.reset(seed=0)
    try:
        yield reference, canvas
    finally:
        reference.close()
        canvas.close()
