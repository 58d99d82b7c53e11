"""MountainCar as a pure JAX function, step for step the physics of gymnasium's
``MountainCarEnv`` (MountainCar-v0: discrete actions).

An underpowered car in a valley between two hills must rock back and forth to reach the flag
on the right hilltop. Actions 0, 1, 2 push left, not at all, right; the reward is -1 per step.
Under ``jax.enable_x64`` the states are gymnasium's, bit for bit.

``reset``, ``step`` (auto-reset) and the gymnasium bridge come from ``ClassicEnv``
(``poleax.envs.base``). The observation is the state, (position, velocity), in the state's dtype
(gymnasium casts it to float32).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from poleax.envs.base import ClassicEnv, columns, exact_with, runtime_zero

# Exact arithmetic (see poleax.envs.base): the products that feed a sum go through `exact`.
# (With gymnasium's constants only the reset needs it; the step's products are guarded for
# other parameters.) The cos is XLA's, which on the CPU backend equals libm's (`math.cos`) bit
# for bit.

RESET_LOW = -0.6
RESET_HIGH = -0.4
"""gymnasium's default reset bounds: the start position is uniform in them (velocity 0)."""


class EnvState(NamedTuple):
    """The car's position and velocity (one array: also the observation), and steps taken."""

    physics: jax.Array  # [..., 2]: position, velocity
    time: jax.Array
    position, velocity = columns(2)


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


class MountainCar(ClassicEnv[EnvState]):
    """Gymnasium's MountainCar-v0 dynamics as pure, jit- and vmap-able functions.

    Starts at rest, at a position drawn uniformly from [-0.6, -0.4]."""

    state_type = EnvState
    num_actions: int = 3
    observation_size: int = 2
    reset_draws: int = 1

    def reset_from(self, u: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        """The start state that uniforms ``u`` in [0, 1) (``[..., reset_draws]``) pick, as
        gymnasium's ``reset`` does with its own generator: ``np_random.uniform(-0.6, -0.4)``,
        i.e. ``low + (high - low) * u`` in float64, and velocity 0."""
        dtype = jnp.zeros(()).dtype  # float64 when x64 is on, like gymnasium
        u = u.astype(dtype)[..., 0]
        position = RESET_LOW + (((RESET_HIGH - RESET_LOW) * u) + runtime_zero(u))  # exact
        physics = jnp.stack([position, jnp.zeros_like(position)], axis=-1)
        state = EnvState(physics, jnp.zeros((), jnp.int32))
        return observation(state), state

    def step_env(
        self, state: EnvState, action: jax.Array, params: EnvParams
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array]:
        """One step of the physics, without reset: (obs, state, reward, terminated, truncated)."""
        p = params
        position, velocity = state.position, state.velocity
        exact = exact_with(runtime_zero(position))  # see "Exact arithmetic" above

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


def _clip(x: jax.Array, low: float | jax.Array, high: float | jax.Array) -> jax.Array:
    """numpy's ``np.clip(x, low, high)`` on a float64 scalar: ``min(max(x, low), high)``."""
    return jnp.minimum(jnp.maximum(x, low), high)


def observation(state: EnvState) -> jax.Array:
    """The observation the agent sees: (position, velocity)."""
    return state.physics


state_from_gymnasium = MountainCar.state_from_gymnasium
state_to_gymnasium = MountainCar.state_to_gymnasium
