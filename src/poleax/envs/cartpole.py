"""CartPole as a pure JAX function, step for step the physics of gymnasium's ``CartPoleEnv``.

The state is a pytree, ``step`` auto-resets and keeps the pre-reset observation in
``info["final_obs"]``, and ``terminated`` and ``truncated`` come back separately, so a learner
bootstraps at the time limit and not when the pole falls.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

# Exact arithmetic. Bit-for-bit agreement with gymnasium under float64 needs numpy's
# arithmetic in numpy's order. XLA's CPU backend departs from it in two ways: it contracts
# `a * b + c` into one fused multiply-add (one rounding where numpy rounds twice), and it
# rewrites `x / const` as `x * (1 / const)`. Both need a literal constant or a bare product;
# routing them through `exact(v) = v + zero`, with a zero computed at run time, prevents
# both and changes no value.


class EnvState(NamedTuple):
    """Cart position and velocity, pole angle and angular velocity (one array: also the
    observation), and steps taken.

    One array rather than four lets XLA fuse a step into a few kernels (six fewer per step
    in every compiled program) and hands the policy its observation without a copy.
    """

    physics: jax.Array  # [..., 4]: x, x_dot, theta, theta_dot
    time: jax.Array

    @property
    def x(self) -> jax.Array:
        return self.physics[..., 0]

    @property
    def x_dot(self) -> jax.Array:
        return self.physics[..., 1]

    @property
    def theta(self) -> jax.Array:
        return self.physics[..., 2]

    @property
    def theta_dot(self) -> jax.Array:
        return self.physics[..., 3]


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


class CartPole:
    """Gymnasium's CartPole dynamics (Euler integration) as pure, jit- and vmap-able functions."""

    num_actions: int = 2
    observation_size: int = 4
    reset_draws: int = 4
    """Uniform draws in [0, 1) that one reset turns into a start state."""

    def reset(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        """Start an episode from a state drawn uniformly from [-0.05, 0.05]^4."""
        return self.reset_from(jax.random.uniform(key, (self.reset_draws,)), params)

    def reset_from(self, u: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        """The start state that uniforms ``u`` in [0, 1) (``[reset_draws]``) pick from
        [-0.05, 0.05]^4, as gymnasium's ``reset`` does with its own generator.

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

    @staticmethod
    def state_from_gymnasium(gym_env: Any) -> EnvState:
        """The poleax state a gymnasium CartPole is in: its ``state`` array and the steps taken.

        ``gym_env`` is what ``gymnasium.make("CartPole-v1")`` returns, or any wrapper chain
        around a ``CartPoleEnv``, or the ``CartPoleEnv`` itself. The steps come from the
        chain's ``TimeLimit`` (its elapsed steps since the last reset); a bare ``CartPoleEnv``
        does not count them, so its time is 0. The physics is float64 when x64 is on (then
        exactly gymnasium's), float32 otherwise. Raises ``ValueError`` before the first reset.
        """
        time = 0
        env = gym_env
        while True:
            elapsed = getattr(env, "_elapsed_steps", None)  # gymnasium's TimeLimit
            if elapsed is not None:
                time = int(elapsed)
                break
            inner = getattr(env, "env", None)
            if inner is None or inner is env:
                break
            env = inner
        unwrapped = getattr(gym_env, "unwrapped", gym_env)
        physics = getattr(unwrapped, "state", None)
        if physics is None:
            raise ValueError("the gymnasium env has no state yet: reset it first")
        physics = jnp.asarray(physics, jnp.zeros(()).dtype)
        if physics.shape != (4,):
            raise ValueError(f"expected CartPole's 4 state variables, got shape {physics.shape}")
        return EnvState(physics, jnp.asarray(time, jnp.int32))

    def step_env(
        self, state: EnvState, action: jax.Array, params: EnvParams
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array]:
        """One step of the physics, without reset: (obs, state, reward, terminated, truncated)."""
        p = params
        # `exact(v)` is v plus a zero known only at run time (see "Exact arithmetic" above).
        zero = state.x * 0.0

        def exact(value: jax.Array | float) -> jax.Array:
            return value + zero

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
        next_state = jax.tree.map(lambda r, s: jnp.where(done, r, s), reset_state, new)
        next_obs = jnp.where(done, reset_obs, obs)
        return next_obs, next_state, reward, terminated, truncated, {"final_obs": obs}


def observation(state: EnvState) -> jax.Array:
    """The observation the agent sees: (x, x_dot, theta, theta_dot)."""
    return state.physics
