"""MountainCar as a pure JAX function, step for step the physics of gymnasium's
``MountainCarEnv`` (MountainCar-v0: discrete actions).

An underpowered car in a valley between two hills must rock back and forth to reach the flag
on the right hilltop. Actions 0, 1, 2 push left, not at all, right; the reward is -1 per step.
Under ``jax.enable_x64`` the states are gymnasium's, bit for bit.

As in poleax's CartPole, the state is a pytree, ``step`` auto-resets and keeps the pre-reset
observation in ``info["final_obs"]``, and ``terminated`` and ``truncated`` come back
separately. The observation is the state, (position, velocity), in the state's dtype
(gymnasium casts it to float32).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

# Exact arithmetic (as in cartpole.py). Bit-for-bit agreement with gymnasium under float64
# needs numpy's arithmetic in numpy's order. XLA's CPU backend contracts `a * b + c` into one
# fused multiply-add (one rounding where numpy rounds twice), so the products that feed a sum
# go through `exact(v) = v + zero`, with a zero computed at run time; the zero is -0.0, and
# `v + -0.0` is `v` for every v, the sign of a zero included. (With gymnasium's constants
# only the reset needs it; the step's products are guarded for other parameters.) The cos is
# XLA's, which on the CPU backend equals libm's (`math.cos`) bit for bit.

RESET_LOW = -0.6
RESET_HIGH = -0.4
"""gymnasium's default reset bounds: the start position is uniform in them (velocity 0)."""


def _runtime_zero(x: jax.Array) -> jax.Array:
    """-0.0, known only at run time (see "Exact arithmetic" above)."""
    return -jnp.abs(x * 0.0)


class EnvState(NamedTuple):
    """The car's position and velocity (one array: also the observation), and steps taken."""

    physics: jax.Array  # [..., 2]: position, velocity
    time: jax.Array

    @property
    def position(self) -> jax.Array:
        return self.physics[..., 0]

    @property
    def velocity(self) -> jax.Array:
        return self.physics[..., 1]


class EnvParams(NamedTuple):
    """Physical constants (gymnasium's ``MountainCarEnv``'s) and the step cap."""

    min_position: float = -1.2
    max_position: float = 0.6
    max_speed: float = 0.07
    goal_position: float = 0.5
    goal_velocity: float = 0.0
    force: float = 0.001
    gravity: float = 0.0025
    max_steps_in_episode: int = 200


class MountainCar:
    """Gymnasium's MountainCar-v0 dynamics as pure, jit- and vmap-able functions."""

    num_actions: int = 3
    observation_size: int = 2
    reset_draws: int = 1
    """Uniform draws in [0, 1) that one reset turns into a start state."""

    def reset(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        """Start an episode at rest, at a position drawn uniformly from [-0.6, -0.4]."""
        return self.reset_from(jax.random.uniform(key, (self.reset_draws,)), params)

    def reset_from(self, u: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        """The start state that uniforms ``u`` in [0, 1) (``[..., reset_draws]``) pick, as
        gymnasium's ``reset`` does with its own generator: ``np_random.uniform(-0.6, -0.4)``,
        i.e. ``low + (high - low) * u`` in float64, and velocity 0."""
        dtype = jnp.zeros(()).dtype  # float64 when x64 is on, like gymnasium
        u = u.astype(dtype)[..., 0]
        zero = _runtime_zero(u)
        position = RESET_LOW + (((RESET_HIGH - RESET_LOW) * u) + zero)  # exact(): no FMA
        physics = jnp.stack([position, jnp.zeros_like(position)], axis=-1)
        state = EnvState(physics, jnp.zeros((), jnp.int32))
        return observation(state), state

    def step_env(
        self, state: EnvState, action: jax.Array, params: EnvParams
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array]:
        """One step of the physics, without reset: (obs, state, reward, terminated, truncated)."""
        p = params
        position, velocity = state.position, state.velocity
        # `exact(v)` is v plus a zero known only at run time (see "Exact arithmetic" above).
        zero = _runtime_zero(position)

        def exact(value: jax.Array | float) -> jax.Array:
            return value + zero

        push = (jnp.asarray(action) - 1).astype(position.dtype)
        velocity = velocity + (exact(push * p.force) + exact(jnp.cos(3 * position) * (-p.gravity)))
        velocity = _clip(velocity, -p.max_speed, p.max_speed)
        position = _clip(position + velocity, p.min_position, p.max_position)
        velocity = jnp.where((position == p.min_position) & (velocity < 0), 0.0, velocity)
        new = EnvState(jnp.stack([position, velocity], axis=-1), state.time + 1)
        terminated = (position >= p.goal_position) & (velocity >= p.goal_velocity)
        truncated = new.time >= p.max_steps_in_episode
        reward = jnp.full(position.shape, -1.0, position.dtype)
        return observation(new), new, reward, terminated, truncated

    def step(
        self, key: jax.Array, state: EnvState, action: jax.Array, params: EnvParams
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array, dict[str, Any]]:
        """Step, and reset where the episode ended; ``info["final_obs"]`` is the pre-reset obs."""
        u = jax.random.uniform(key, (self.reset_draws,))
        return self.step_or_reset(u, state, action, params)

    def step_or_reset(
        self, reset_u: jax.Array, state: EnvState, action: jax.Array, params: EnvParams
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array, dict[str, Any]]:
        """``step`` with the reset's uniforms given (``reset_from``) instead of a key."""
        obs, new, reward, terminated, truncated = self.step_env(state, action, params)
        reset_obs, reset_state = self.reset_from(reset_u, params)
        done = terminated | truncated
        next_state = jax.tree.map(
            lambda r, s: jnp.where(done[..., None] if s.ndim > done.ndim else done, r, s),
            reset_state,
            new,
        )
        next_obs = jnp.where(done[..., None], reset_obs, obs)
        return next_obs, next_state, reward, terminated, truncated, {"final_obs": obs}

    @staticmethod
    def state_from_gymnasium(gym_env: Any) -> EnvState:
        """The poleax state a gymnasium MountainCar is in. ``gym_env`` is what
        ``gymnasium.make("MountainCar-v0")`` returns, any wrapper chain around the env, or the
        env itself.

        The physics is the unwrapped env's ``state`` (an array after a reset, a tuple after
        a step), in the default dtype: under x64 exactly gymnasium's.
        The time is the elapsed steps of the chain's ``TimeLimit`` wrapper; an unwrapped env
        does not count its steps, so its time is 0. Raises ``ValueError`` before the first
        reset.
        """
        physics = getattr(gym_env.unwrapped, "state", None)
        if physics is None:
            raise ValueError("the gymnasium env has no state yet: reset it first")
        physics = jnp.asarray(np.asarray(physics, np.float64), jnp.zeros(()).dtype)
        limit = _time_limit(gym_env)
        time = 0 if limit is None else int(limit._elapsed_steps or 0)
        return EnvState(physics, jnp.asarray(time, jnp.int32))

    @staticmethod
    def state_to_gymnasium(state: EnvState, gym_env: Any) -> None:
        """Put a gymnasium MountainCar (wrapped or not) into a single poleax ``state``, e.g. to
        ``render()`` it: the unwrapped env's ``state`` becomes the physics in float64, from
        which gymnasium steps on exactly as poleax does, and a ``TimeLimit`` wrapper's count
        becomes ``state.time``.
        """
        gym_env.unwrapped.state = np.array(state.physics, np.float64)
        limit = _time_limit(gym_env)
        if limit is not None:
            limit._elapsed_steps = int(state.time)


def _clip(x: jax.Array, low: float | jax.Array, high: float | jax.Array) -> jax.Array:
    """numpy's ``np.clip(x, low, high)`` on a float64 scalar: ``min(max(x, low), high)``."""
    return jnp.minimum(jnp.maximum(x, low), high)


def observation(state: EnvState) -> jax.Array:
    """The observation the agent sees: (position, velocity)."""
    return state.physics


state_from_gymnasium = MountainCar.state_from_gymnasium
state_to_gymnasium = MountainCar.state_to_gymnasium


def _time_limit(gym_env: Any) -> Any:
    """The ``TimeLimit`` wrapper in ``gym_env``'s chain of wrappers, or None."""
    from gymnasium.wrappers import TimeLimit

    env = gym_env
    while env is not None:
        if isinstance(env, TimeLimit):
            return env
        inner = getattr(env, "env", None)
        env = None if inner is env else inner
    return None
