"""MountainCarContinuous-v0 as a pure JAX function, step for step gymnasium's
``Continuous_MountainCarEnv``.

The same API as poleax's CartPole, with a continuous action: ``action`` is ``[1]`` floats, the
force, clipped to ``[-1, 1]`` for the physics while the reward's action cost
``0.1 * action**2`` takes the action as given. An episode ends when the car reaches the flag
(``terminated``, +100) or at ``max_steps_in_episode`` (999, truncated).

The state and the observation are ``(position, velocity)``. ``reset``, ``step`` (auto-reset)
and the gymnasium bridge come from ``ClassicEnv`` (``poleax.envs.base``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from poleax.envs.base import ClassicEnv, exact_with, runtime_zero
from poleax.envs.mountain_car import EnvState  # the same car: position and velocity

# Exact arithmetic. Bit-for-bit agreement with gymnasium under float64 needs numpy's
# arithmetic in numpy's order, and numpy's *types*:
# - products that feed a sum go through `exact` (no fused multiply-add: poleax.envs.base).
# - gymnasium stores the state as float32 after every step (the reset's state stays float64),
#   and its step mixes numpy scalars with Python floats, so under NumPy 2's promotion some of
#   its operations run in float32: with a float32 state, `3 * position`; the velocity update
#   when the force was clipped (a Python float) or the action is float32; the position update
#   when the velocity is float32 or was clipped; and each comparison with a Python constant
#   (0.07, 0.6, -1.2, 0.45) made on a float32 value, which compares against the constant
#   rounded to float32. `step_env` follows each of these, rounding to float32 (`r32`) where
#   numpy does: a float32 operation on float32 values is the float64 operation rounded once to
#   float32 (float64's 53 bits are more than 2 * 24 + 2). Which state type gymnasium would be
#   holding is read off the state: float32 iff both numbers are float32 values (a reset's
#   position is one with odds 2**-29; that start alone takes the other path, off by a rounding).
# - `math.pow(action, 2)` is libm's pow, not always the correctly rounded `a * a`;
#   `jnp.power` with a *run-time* exponent calls the same `pow` on CPU (under x64 only: in a
#   float32 configuration the square is `a * a`).
# With the default float32 JAX config every rounding to float32 is a no-op and the step is
# plain float32 arithmetic.


class EnvParams(NamedTuple):
    """Physical constants (gymnasium's), the reset's bounds, and the episode's step cap."""

    min_action: float = -1.0
    max_action: float = 1.0
    min_position: float = -1.2
    max_position: float = 0.6
    max_speed: float = 0.07
    goal_position: float = 0.45
    goal_velocity: float = 0.0
    power: float = 0.0015
    init_low: float = -0.6  # reset draws the position from [init_low, init_high]
    init_high: float = -0.4
    max_steps_in_episode: int = 999


class MountainCarContinuous(ClassicEnv[EnvState]):
    """Gymnasium's continuous MountainCar dynamics as pure, jit- and vmap-able functions.

    Starts at rest, the position uniform in [-0.6, -0.4]."""

    state_type = EnvState
    observation_size: int = 2
    action_size: int = 1
    action_low: float = -1.0
    action_high: float = 1.0
    reset_draws: int = 1

    def reset_from(self, u: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        """The start state that a uniform ``u`` in [0, 1) (``[reset_draws]``) picks, as
        gymnasium's ``np_random.uniform(low, high)`` does: ``low + (high - low) * u``, ``u``
        being its generator's ``random()`` draw. The velocity is 0."""
        dtype = jnp.zeros(()).dtype  # float64 when x64 is on, like gymnasium
        u = u.astype(dtype)[..., 0]
        low, high = params.init_low, params.init_high
        position = low + ((high - low) * u + runtime_zero(u))
        state = EnvState(jnp.stack([position, jnp.zeros_like(position)], -1), jnp.int32(0))
        return observation(state), state

    def step_env(
        self, state: EnvState, action: jax.Array, params: EnvParams
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array]:
        """One step of the physics, without reset: (obs, state, reward, terminated, truncated)."""
        p = params
        dtype = state.physics.dtype
        pos, vel = state.position, state.velocity
        exact = exact_with(runtime_zero(pos))

        def r32(value: jax.Array | float) -> jax.Array:
            """Rounded to float32 and back (a no-op in a float32 config)."""
            return jnp.asarray(value, dtype).astype(jnp.float32).astype(dtype)

        # numpy's `x < c` and `x > c` for a numpy scalar x (float32 where `f32`), a Python c
        def below(x: jax.Array, c: float, f32: jax.Array | bool) -> jax.Array:
            return jnp.where(f32, x < r32(c), x < c)

        def above(x: jax.Array, c: float, f32: jax.Array | bool) -> jax.Array:
            return jnp.where(f32, x > r32(c), x > c)

        action = jnp.asarray(action)
        f32_action = action.dtype == jnp.float32  # numpy computes a float32 force in float32
        a = action[..., 0].astype(dtype)  # exact: float32 values are float64 values
        s32 = (pos == r32(pos)) & (vel == r32(vel))  # gymnasium's state array is float32

        # force = min(max(a, min_action), max_action): a Python float where clipped
        clip_low = below(a, p.min_action, f32_action)
        clip_high = ~clip_low & above(a, p.max_action, f32_action)
        clipped = clip_low | clip_high
        force = jnp.where(clip_low, p.min_action, jnp.where(clip_high, p.max_action, a))

        # velocity += force * power - 0.0025 * math.cos(3 * position)
        three_pos = jnp.where(s32, r32(3 * pos), 3 * pos)
        slope = exact(0.0025 * jnp.cos(three_pos))
        if f32_action:
            push = jnp.where(clipped, exact(force * p.power), r32(exact(a * r32(p.power))))
            dv = jnp.where(clipped, push - slope, r32(push - r32(slope)))
        else:
            dv = exact(force * p.power) - slope
        v32 = s32 & (clipped | f32_action)  # numpy's velocity is float32
        vel = jnp.where(v32, r32(vel + r32(dv)), vel + dv)
        vclip_high = above(vel, p.max_speed, v32)
        vclip_low = ~vclip_high & below(vel, -p.max_speed, v32)
        vclipped = vclip_high | vclip_low  # now a Python float
        vel = jnp.where(vclip_high, p.max_speed, jnp.where(vclip_low, -p.max_speed, vel))

        # position += velocity, clipped; the left wall stops the car
        p32 = (s32 & vclipped) | v32  # numpy's position is float32
        pos = jnp.where(p32, r32(pos + r32(vel)), pos + vel)
        pclip_high = above(pos, p.max_position, p32)
        pclip_low = ~pclip_high & below(pos, p.min_position, p32)
        pclipped = pclip_high | pclip_low  # now a Python float
        pos = jnp.where(pclip_high, p.max_position, jnp.where(pclip_low, p.min_position, pos))
        at_wall = jnp.where(p32 & ~pclipped, pos == r32(p.min_position), pos == p.min_position)
        stopped = at_wall & (vel < 0)
        vel = jnp.where(stopped, 0.0, vel)
        v32 = v32 & ~vclipped & ~stopped
        p32 = p32 & ~pclipped

        terminated = ~below(pos, p.goal_position, p32) & ~below(vel, p.goal_velocity, v32)
        # math.pow(action[0], 2) * 0.1
        squared = jnp.power(a, exact(2.0)) if dtype == jnp.float64 else a * a
        action_cost = exact(squared * 0.1)
        reward = jnp.where(terminated, 100.0, 0.0).astype(dtype) - action_cost

        new = EnvState(r32(jnp.stack([pos, vel], axis=-1)), state.time + 1)
        truncated = new.time >= p.max_steps_in_episode
        return observation(new), new, reward, terminated, truncated

    @classmethod
    def state_to_gymnasium(cls, state: EnvState, gym_env: Any, action: Any = None) -> None:
        """``ClassicEnv.state_to_gymnasium``, but the state goes in as float32 when both numbers
        are float32 values (as gymnasium holds it after a step), else as float64 (as after its
        reset), so gymnasium steps on from it exactly as poleax does."""
        super().state_to_gymnasium(state, gym_env, action)
        physics = gym_env.unwrapped.state
        single = physics.astype(np.float32)
        if np.array_equal(single, physics):
            gym_env.unwrapped.state = single


def observation(state: EnvState) -> jax.Array:
    """The observation the agent sees: (position, velocity)."""
    return state.physics
