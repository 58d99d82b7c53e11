"""Acrobot as a pure JAX function, step for step the physics of gymnasium's ``AcrobotEnv``.

Two links hang from a fixed pivot; the agent applies a torque of -1, 0 or +1 at the joint
between them and must swing the free end above the height of one link over the pivot. The
step is gymnasium's: one fourth-order Runge-Kutta step of 0.2 s of the book's dynamics
(``book_or_nips="book"``, no torque noise: gymnasium's default ``torque_noise_max = 0``), the
angles wrapped into [-pi, pi] and the angular velocities clipped to +-4 pi and +-9 pi. Under
``jax.enable_x64`` the states are gymnasium's, bit for bit.

``reset``, ``step`` (auto-reset) and the gymnasium bridge come from ``ClassicEnv``
(``poleax.envs.base``). The observation is gymnasium's, (cos t1, sin t1, cos t2, sin t2, dt1,
dt2), in the state's dtype (gymnasium casts it to float32).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from poleax.envs.base import ClassicEnv, columns, exact_with, runtime_zero

# Exact arithmetic (see poleax.envs.base). Three things stand between XLA and numpy here:
# - fused multiply-adds: without a guard nine steps in ten differ in some last bit. Every
#   product that feeds a sum goes through `exact`; products known to be exact (a halving, a
#   doubling) are guarded all the same: the parameters are not fixed.
# - XLA rewrites `x / const` as `x * (1 / const)`: the one division by a literal (RK4's
#   `dt / 6.0`) divides by `exact(6.0)`.
# - numpy's `x**2` on a float64 scalar (and Python's on a float) calls libm's `pow`, which is
#   not always the correctly rounded `x * x` (about 1 in 1,000 doubles differ in the last
#   bit). `jnp.power` with a *run-time* exponent calls the same `pow` on XLA's CPU backend; a
#   literal 2 would become `x * x`. So every square is `sq(x) = jnp.power(x, exact(2.0))`,
#   under x64; a float32 step squares with `x * x`, which is cheaper.
# Bit-for-bit agreement is with XLA's CPU backend; other backends have their own cos, sin
# and pow.

RESET_LOW = -0.1
RESET_HIGH = 0.1
"""gymnasium's default reset bounds: each of the four state variables is uniform in them."""


class EnvState(NamedTuple):
    """The two joint angles and their angular velocities (one array), and steps taken.

    ``theta1`` is the first link's angle from hanging straight down, ``theta2`` the second
    link's angle relative to the first; both lie in [-pi, pi]. This is gymnasium's
    ``AcrobotEnv.state``; the observation is computed from it (``observation``).
    """

    physics: jax.Array  # [..., 4]: theta1, theta2, dtheta1, dtheta2
    time: jax.Array
    theta1, theta2, dtheta1, dtheta2 = columns(4)


class EnvParams(NamedTuple):
    """Physical constants (gymnasium's ``AcrobotEnv`` class attributes) and the step cap."""

    dt: float = 0.2  # seconds integrated per step (one RK4 step)
    link_length_1: float = 1.0
    link_length_2: float = 1.0  # unused by the dynamics (as in gymnasium); drawn by render
    link_mass_1: float = 1.0
    link_mass_2: float = 1.0
    link_com_pos_1: float = 0.5  # position of each link's centre of mass
    link_com_pos_2: float = 0.5
    link_moi: float = 1.0  # moment of inertia of each link
    gravity: float = 9.8
    max_vel_1: float = 4 * math.pi
    max_vel_2: float = 9 * math.pi
    max_steps_in_episode: int = 500


class Acrobot(ClassicEnv[EnvState]):
    """Gymnasium's Acrobot dynamics (RK4 integration) as pure, jit- and vmap-able functions.

    Actions 0, 1, 2 apply a torque of -1, 0, +1. The reward is -1 per step, 0 on the step
    that reaches the goal height (which terminates). Starts uniformly in [-0.1, 0.1]^4.
    """

    state_type = EnvState
    num_actions: int = 3
    observation_size: int = 6
    reset_draws: int = 4

    def reset_from(self, u: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        """Uniform in [-0.1, 0.1]^4 (``ClassicEnv.reset_from``).

        gymnasium draws ``np_random.uniform(-0.1, 0.1, 4)``, i.e. ``low + (high - low) * u``
        in float64, and stores the state as float32; so does this (then back to the dtype).
        """
        dtype = jnp.zeros(()).dtype  # float64 when x64 is on, like gymnasium
        u = u.astype(dtype)
        start = RESET_LOW + (((RESET_HIGH - RESET_LOW) * u) + runtime_zero(u))  # exact: no FMA
        state = EnvState(start.astype(jnp.float32).astype(dtype), jnp.zeros((), jnp.int32))
        return observation(state), state

    def step_env(
        self, state: EnvState, action: jax.Array, params: EnvParams
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array]:
        """One step of the physics, without reset: (obs, state, reward, terminated, truncated)."""
        p = params
        theta1, theta2, dtheta1, dtheta2 = (state.physics[..., i] for i in range(4))
        exact = exact_with(runtime_zero(theta1))  # see "Exact arithmetic" above

        torque = (jnp.asarray(action) - 1).astype(theta1.dtype)  # AVAIL_TORQUE[action]
        y0 = (theta1, theta2, dtheta1, dtheta2)

        def derivs(y: tuple[jax.Array, ...]) -> tuple[jax.Array, ...]:
            return _dsdt(p, exact, *y, torque)

        # gymnasium's rk4(derivs, y0, [0, dt]): one step; the torque's slot never changes.
        dt = p.dt
        dt2 = dt / 2.0
        k1 = derivs(y0)
        k2 = derivs(tuple(y + exact(dt2 * k) for y, k in zip(y0, k1, strict=True)))
        k3 = derivs(tuple(y + exact(dt2 * k) for y, k in zip(y0, k2, strict=True)))
        k4 = derivs(tuple(y + exact(dt * k) for y, k in zip(y0, k3, strict=True)))
        sixth = dt / exact(6.0)
        ns = [
            y + exact(sixth * (((a + exact(2 * b)) + exact(2 * c)) + d))
            for y, a, b, c, d in zip(y0, k1, k2, k3, k4, strict=True)
        ]
        physics = [
            wrap(ns[0], -math.pi, math.pi),
            wrap(ns[1], -math.pi, math.pi),
            bound(ns[2], -p.max_vel_1, p.max_vel_1),
            bound(ns[3], -p.max_vel_2, p.max_vel_2),
        ]
        new = EnvState(jnp.stack(physics, axis=-1), state.time + 1)
        terminated = -jnp.cos(physics[0]) - jnp.cos(physics[1] + physics[0]) > 1.0
        truncated = new.time >= p.max_steps_in_episode
        reward = jnp.where(terminated, 0.0, -1.0).astype(theta1.dtype)
        return observation(new), new, reward, terminated, truncated


def _dsdt(p: EnvParams, exact, theta1, theta2, dtheta1, dtheta2, a) -> tuple[jax.Array, ...]:
    """gymnasium's ``AcrobotEnv._dsdt`` (book dynamics): the state's time derivative, with
    numpy's operations in numpy's order."""
    m1, m2 = p.link_mass_1, p.link_mass_2
    l1, lc1, lc2 = p.link_length_1, p.link_com_pos_1, p.link_com_pos_2
    i1 = i2 = p.link_moi
    g = p.gravity

    def sq(v: jax.Array | float) -> jax.Array:
        if theta1.dtype != jnp.float64:
            return v * v  # float32 cannot match gymnasium bit for bit: skip pow's cost
        return jnp.power(v, exact(2.0))  # numpy's `v**2`: libm's pow (see "Exact arithmetic")

    cos2, sin2 = jnp.cos(theta2), jnp.sin(theta2)
    d1 = exact(m1 * sq(lc1)) + exact(m2 * (sq(l1) + sq(lc2) + exact(2 * l1 * lc2 * cos2))) + i1 + i2
    d2 = exact(m2 * (sq(lc2) + exact(l1 * lc2 * cos2))) + i2
    phi2 = exact(m2 * lc2 * g * jnp.cos(theta1 + theta2 - math.pi / 2.0))
    phi1 = (
        exact(-m2 * l1 * lc2 * sq(dtheta2) * sin2)
        - exact(2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2)
        + exact((exact(m1 * lc1) + exact(m2 * l1)) * g * jnp.cos(theta1 - math.pi / 2))
        + phi2
    )
    ddtheta2 = (a + exact(d2 / d1 * phi1) - exact(m2 * l1 * lc2 * sq(dtheta1) * sin2) - phi2) / (
        exact(m2 * sq(lc2)) + i2 - sq(d2) / d1
    )
    ddtheta1 = -(exact(d2 * ddtheta2) + phi1) / d1
    return dtheta1, dtheta2, ddtheta1, ddtheta2


def wrap(x: jax.Array, low: float, high: float) -> jax.Array:
    """gymnasium's ``wrap``: subtract ``high - low`` while above ``high``, then add it while
    below ``low``, one rounded step at a time.

    Repeated subtraction rounds at every step, so it is no ``x - n * diff`` (nor a modulo):
    a loop is the only exact copy. Most steps wrap at most once, but from fast states one
    RK4 step turns an angle by up to about 27 rad (five wraps). The loop stops at an infinite
    value, where gymnasium's would never end.
    """
    diff = high - low

    def above(v: jax.Array) -> jax.Array:
        return (v > high) & jnp.isfinite(v)

    def below(v: jax.Array) -> jax.Array:
        return (v < low) & jnp.isfinite(v)

    x = jax.lax.while_loop(
        lambda v: jnp.any(above(v)), lambda v: jnp.where(above(v), v - diff, v), x
    )
    return jax.lax.while_loop(
        lambda v: jnp.any(below(v)), lambda v: jnp.where(below(v), v + diff, v), x
    )


def bound(x: jax.Array, low: float | jax.Array, high: float | jax.Array) -> jax.Array:
    """gymnasium's ``bound``: ``min(max(x, low), high)``."""
    return jnp.minimum(jnp.maximum(x, low), high)


def observation(state: EnvState) -> jax.Array:
    """The observation the agent sees: (cos t1, sin t1, cos t2, sin t2, dt1, dt2)."""
    theta1, theta2 = state.physics[..., 0], state.physics[..., 1]
    parts = [jnp.cos(theta1), jnp.sin(theta1), jnp.cos(theta2), jnp.sin(theta2)]
    return jnp.concatenate([jnp.stack(parts, axis=-1), state.physics[..., 2:]], axis=-1)


state_from_gymnasium = Acrobot.state_from_gymnasium
state_to_gymnasium = Acrobot.state_to_gymnasium
