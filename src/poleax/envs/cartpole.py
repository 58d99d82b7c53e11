"""CartPole as a pure JAX function, step for step the physics of gymnasium's ``CartPoleEnv``.

``reset``, ``step`` (auto-reset) and the gymnasium bridge come from ``ClassicEnv``
(``poleax.envs.base``); this module holds the physics.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from poleax.envs.base import ClassicEnv, columns, exact_with

# Exact arithmetic: see poleax.envs.base. CartPole's run-time zero is `x * 0.0` (the sign of
# x), not base's -0.0: a switch could flip the sign of a zero result.


class EnvState(NamedTuple):
    """Cart position and velocity, pole angle and angular velocity (one array: also the
    observation), and steps taken.

    One array rather than four lets XLA fuse a step into a few kernels (six fewer per step
    in every compiled program) and hands the policy its observation without a copy.
    """

    physics: jax.Array  # [..., 4]: x, x_dot, theta, theta_dot
    time: jax.Array
    x, x_dot, theta, theta_dot = columns(4)


class EnvParams(NamedTuple):
    """Physical constants (gymnasium's) and the episode's step cap."""

    gravity: float = 9.8
    masscart: float = 1.0
    masspole: float = 0.1
    length: float = 0.5  # half the pole's length
    force_mag: float = 10.0
    tau: float = 0.02  # seconds between state updates
    theta_threshold_radians: float = 12 * 2 * math.pi / 360
    x_threshold: float = 2.4
    max_steps_in_episode: int = 500


class CartPole(ClassicEnv[EnvState]):
    """Gymnasium's CartPole dynamics (Euler integration) as pure, jit- and vmap-able functions.

    Starts from a state drawn uniformly from [-0.05, 0.05]^4."""

    state_type = EnvState
    num_actions: int = 2
    observation_size: int = 4
    reset_draws: int = 4

    def reset_from(self, u: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        """Uniform in [-0.05, 0.05]^4 (``ClassicEnv.reset_from``).

        gymnasium draws ``np_random.uniform(-0.05, 0.05, 4)``: numpy computes
        ``low + (high - low) * u`` with ``high - low == 0.1`` exactly, two roundings. Under
        float64, given those ``u``, this is gymnasium's start state bit for bit.
        """
        dtype = jnp.zeros(()).dtype  # float64 when x64 is on, like gymnasium
        u = u.astype(dtype)
        scaled = u * 0.1
        if dtype == jnp.float64:
            # Round the product on its own, as numpy does (see "Exact arithmetic" above).
            # float32 keeps XLA's fused multiply-add, as every run so far had it: its
            # uniforms are JAX's own and cannot be gymnasium's anyway.
            scaled = scaled + u * 0.0
        state = EnvState(-0.05 + scaled, jnp.zeros((), jnp.int32))
        return observation(state), state

    def step_env(
        self, state: EnvState, action: jax.Array, params: EnvParams
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array]:
        """One step of the physics, without reset: (obs, state, reward, terminated, truncated)."""
        p = params
        exact = exact_with(state.x * 0.0)  # see "Exact arithmetic" above

        total_mass = exact(p.masspole + p.masscart)
        polemass_length = p.masspole * p.length
        force = jnp.where(action == 1, p.force_mag, -p.force_mag).astype(state.x.dtype)
        costheta = jnp.cos(state.theta)
        sintheta = jnp.sin(state.theta)
        temp = (
            force + exact(polemass_length * jnp.square(state.theta_dot) * sintheta)
        ) / total_mass
        thetaacc = (exact(p.gravity * sintheta) - exact(costheta * temp)) / (
            p.length * (4.0 / 3.0 - p.masspole * jnp.square(costheta) / total_mass)
        )
        xacc = temp - polemass_length * thetaacc * costheta / total_mass
        physics = [
            state.x + exact(p.tau * state.x_dot),
            state.x_dot + exact(p.tau * xacc),
            state.theta + exact(p.tau * state.theta_dot),
            state.theta_dot + exact(p.tau * thetaacc),
        ]
        new = EnvState(jnp.stack(physics, axis=-1), state.time + 1)
        terminated = (
            (new.x < -p.x_threshold)
            | (new.x > p.x_threshold)
            | (new.theta < -p.theta_threshold_radians)
            | (new.theta > p.theta_threshold_radians)
        )
        truncated = new.time >= p.max_steps_in_episode
        reward = jnp.ones((), state.x.dtype)
        return observation(new), new, reward, terminated, truncated


def observation(state: EnvState) -> jax.Array:
    """The observation the agent sees: (x, x_dot, theta, theta_dot)."""
    return state.physics
