"""Pendulum-v1 as a pure JAX function, step for step the physics of gymnasium's ``PendulumEnv``.

The same API as poleax's CartPole, with a continuous action: ``action`` is ``[1]`` floats, the
torque, clipped to ``[-max_torque, max_torque]``. The pendulum never falls, so ``terminated`` is
always false and every episode ends by truncation at ``max_steps_in_episode`` (200).

The state is ``(theta, theta_dot)``; the observation is ``(cos theta, sin theta, theta_dot)``
at the state's dtype (gymnasium hands out the same three numbers rounded to float32).
``reset``, ``step`` (auto-reset) and the gymnasium bridge come from ``ClassicEnv``
(``poleax.envs.base``).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from poleax.envs.base import ClassicEnv, columns, exact_with, runtime_zero

# Exact arithmetic. Bit-for-bit agreement with gymnasium under float64 needs numpy's
# arithmetic in numpy's order, and three things stand in its way:
# - fused multiply-adds and divisions by a constant: products and divisors go through `exact`
#   (poleax.envs.base).
# - numpy's `x ** 2` on a float scalar calls libm's `pow`, which is not always the correctly
#   rounded `x * x` (about 1 in 1,000 doubles differ in the last bit). `jnp.power` with a
#   *run-time* exponent calls the same `pow` on CPU; a literal 2 would become `x * x`. Only
#   the x64 step pays for `pow`: in a float32 configuration a square is `x * x`.
# - With a float32 action array, numpy computes the torque's terms in float32 (NumPy 2's
#   promotion keeps a float32 scalar float32 against Python floats); `step_env` does the same,
#   choosing by the action's dtype, so float32 and float64 actions each match gymnasium.


class EnvState(NamedTuple):
    """Pole angle and angular velocity (one array), and steps taken."""

    physics: jax.Array  # [..., 2]: theta (0 is upright), theta_dot
    time: jax.Array
    theta, theta_dot = columns(2)


class EnvParams(NamedTuple):
    """Physical constants (gymnasium's), the reset's bounds, and the episode's step cap."""

    max_speed: float = 8.0
    max_torque: float = 2.0
    dt: float = 0.05
    g: float = 10.0
    m: float = 1.0
    l: float = 1.0  # noqa: E741 (gymnasium's name)
    init_theta: float = math.pi  # reset draws theta from [-init_theta, init_theta] (DEFAULT_X)
    init_theta_dot: float = 1.0  # and theta_dot from [-init_theta_dot, init_theta_dot] (DEFAULT_Y)
    max_steps_in_episode: int = 200


class Pendulum(ClassicEnv[EnvState]):
    """Gymnasium's Pendulum dynamics as pure, jit- and vmap-able functions.

    Starts with theta uniform in [-pi, pi] and theta_dot uniform in [-1, 1]."""

    state_type = EnvState
    observation_size: int = 3
    action_size: int = 1
    action_low: float = -2.0  # -max_torque
    action_high: float = 2.0  # max_torque
    reset_draws: int = 2

    def reset_from(self, u: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        """The start state that uniforms ``u`` in [0, 1) (``[reset_draws]``) pick, as
        gymnasium's ``np_random.uniform(low=-high, high=high)`` does: ``low + (high - low) * u``,
        ``u`` being its generator's ``random()`` draws."""
        dtype = jnp.zeros(()).dtype  # float64 when x64 is on, like gymnasium
        u = u.astype(dtype)
        high = jnp.stack(
            [jnp.asarray(params.init_theta, dtype), jnp.asarray(params.init_theta_dot, dtype)]
        )
        low = -high
        physics = low + ((high - low) * u + runtime_zero(u))
        state = EnvState(physics, jnp.zeros((), jnp.int32))
        return observation(state), state

    def step_env(
        self, state: EnvState, action: jax.Array, params: EnvParams
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array]:
        """One step of the physics, without reset: (obs, state, reward, terminated, truncated).

        ``action`` is ``[1]``: the torque, clipped to ``[-max_torque, max_torque]``. The reward
        is minus gymnasium's cost, of the state *before* the step and the *clipped* torque.
        """
        p = params
        dtype = state.physics.dtype
        th, thdot = state.theta, state.theta_dot
        zero = runtime_zero(th)
        exact = exact_with(zero)

        def square(x: jax.Array) -> jax.Array:
            """numpy's `x**2`: libm's pow(x, 2), through a run-time exponent, under x64."""
            if dtype != jnp.float64:
                return x * x
            return jnp.power(x, exact(2.0).astype(x.dtype))

        action = jnp.asarray(action)
        # numpy keeps a float32 torque float32 in `3.0 * u` and `0.001 * u**2`; so do we.
        wide = action.dtype != jnp.float32 or dtype == jnp.float32
        work = dtype if wide else jnp.float32
        zero_w = zero.astype(work)
        u = jnp.clip(action[..., 0].astype(work), -p.max_torque, p.max_torque)
        torque = (jnp.asarray(3.0 / (p.m * p.l**2), work) * u + zero_w).astype(dtype)
        torque_cost = (0.001 * square(u) + zero_w).astype(dtype)

        costs = (square(angle_normalize(th)) + exact(0.1 * square(thdot))) + torque_cost
        gravity = exact((3 * p.g / exact(2 * p.l)) * jnp.sin(th))
        newthdot = thdot + exact((gravity + torque) * p.dt)
        newthdot = jnp.clip(newthdot, -p.max_speed, p.max_speed)
        newth = th + exact(newthdot * p.dt)

        new = EnvState(jnp.stack([newth, newthdot], axis=-1), state.time + 1)
        terminated = jnp.zeros(th.shape, bool)
        truncated = new.time >= p.max_steps_in_episode
        return observation(new), new, -costs, terminated, truncated

    @classmethod
    def state_to_gymnasium(cls, state: EnvState, gym_env: Any, action: Any = None) -> None:
        """``ClassicEnv.state_to_gymnasium``, and ``last_u``, from which gymnasium draws the
        torque arrow: ``action`` (the step's that led here) clipped to the torque bounds, as
        gymnasium's step stores it; ``None`` (as after a reset) draws no arrow."""
        super().state_to_gymnasium(state, gym_env, action)
        last_u = None if action is None else np.ravel(action)[0]
        gym_env.unwrapped.last_u = (
            None if last_u is None else float(np.clip(last_u, cls.action_low, cls.action_high))
        )


def angle_normalize(x: jax.Array) -> jax.Array:
    """``((x + pi) % (2 pi)) - pi`` with numpy's float ``%`` (the sign of the divisor):
    ``jnp.remainder`` is numpy's ``fmod`` plus the divisor when the signs differ."""
    return jnp.remainder(x + math.pi, 2 * math.pi) - math.pi


def observation(state: EnvState) -> jax.Array:
    """The observation the agent sees: (cos theta, sin theta, theta_dot)."""
    th, thdot = state.theta, state.theta_dot
    return jnp.stack([jnp.cos(th), jnp.sin(th), thdot], axis=-1)
