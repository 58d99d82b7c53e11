"""What poleax's classic-control envs share: ``ClassicEnv``, the time limit and exact sums.

An env is a class of pure, jit- and vmap-able functions of its state, an
``EnvState(physics, time)`` pytree whose ``physics`` is gymnasium's state vector (``[..., n]``)
and ``time`` the steps taken. It provides (the Env protocol):

- ``observation_size``: the observation's length;
- ``reset_draws``: the uniforms in [0, 1) that one reset turns into a start state;
- ``num_actions`` (actions ``0 .. n - 1``) or ``action_size`` with ``action_low`` and
  ``action_high`` (``[action_size]`` floats);
- ``reset_from(u, params) -> (obs, state)``: the start state that uniforms ``u``
  (``[..., reset_draws]``) pick, as gymnasium's ``reset`` does with its own generator;
- ``step_env(state, action, params) -> (obs, state, reward, terminated, truncated)``: one step
  of the physics, without reset;
- ``state_type``: its ``EnvState`` class.

``ClassicEnv`` builds the rest on these: ``reset``, ``step`` and ``step_or_reset`` (which
auto-reset, keep the pre-reset observation in ``info["final_obs"]`` and return ``terminated``
and ``truncated`` apart, so a learner bootstraps at the time limit and not at a failure), and
the bridge to gymnasium, ``state_from_gymnasium`` and ``state_to_gymnasium``.

Exact arithmetic. Bit-for-bit agreement with gymnasium under float64 needs numpy's arithmetic
in numpy's order. XLA's CPU backend departs from it in two ways: it contracts ``a * b + c``
into one fused multiply-add (one rounding where numpy rounds twice), and it rewrites
``x / const`` as ``x * (1 / const)``. Both need a literal constant or a bare product; routing
them through ``exact(v) = v + zero`` (``exact_with(zero)``), with a zero computed at run time
(``runtime_zero``), prevents both and changes no value. Each env's module says what else its
step needs (libm's ``pow`` for numpy's squares, numpy's float32 promotions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import jax
import jax.numpy as jnp
import numpy as np


class _State(Protocol):
    physics: jax.Array
    time: jax.Array


S = TypeVar("S", bound=_State)

StepResult = tuple[jax.Array, Any, jax.Array, jax.Array, jax.Array, dict[str, Any]]


def runtime_zero(like: jax.Array) -> jax.Array:
    """-0.0, known only at run time: ``v + -0.0`` is ``v`` for every v, a zero's sign included."""
    return -jnp.abs(like * 0.0)


def columns(count: int) -> tuple[property, ...]:
    """``count`` read-only properties, the i-th viewing column i of the state's packed
    ``physics`` (``physics[..., i]``): ``x, x_dot = columns(2)`` in an ``EnvState`` body."""

    def column(i: int) -> property:
        return property(lambda self: self.physics[..., i], doc=f"``physics[..., {i}]``")

    return tuple(column(i) for i in range(count))


def exact_with(zero: jax.Array) -> Callable[[jax.Array | float], jax.Array]:
    """``exact(v) = v + zero``: ``v`` rounded on its own (no FMA, no division rewritten)."""

    def exact(value: jax.Array | float) -> jax.Array:
        return value + zero

    return exact


class ClassicEnv(Generic[S]):
    """The shared half of an env: resets, auto-resetting steps, gymnasium's state in and out."""

    state_type: type[S]
    observation_size: int
    reset_draws: int
    """Uniform draws in [0, 1) that one reset turns into a start state."""

    def reset_from(self, u: jax.Array, params: Any) -> tuple[jax.Array, S]:
        """The start state that uniforms ``u`` in [0, 1) (``[..., reset_draws]``) pick, as
        gymnasium's ``reset`` does with its own generator: (obs, state)."""
        raise NotImplementedError

    def step_env(
        self, state: S, action: jax.Array, params: Any
    ) -> tuple[jax.Array, S, jax.Array, jax.Array, jax.Array]:
        raise NotImplementedError

    def reset(self, key: jax.Array, params: Any) -> tuple[jax.Array, S]:
        """Start an episode from ``reset_draws`` uniforms drawn with ``key``."""
        return self.reset_from(jax.random.uniform(key, (self.reset_draws,)), params)

    def step(self, key: jax.Array, state: S, action: jax.Array, params: Any) -> StepResult:
        """Step, and reset where the episode ended; ``info["final_obs"]`` is the pre-reset obs."""
        u = jax.random.uniform(key, (self.reset_draws,))
        return self.step_or_reset(u, state, action, params)

    def step_or_reset(
        self, reset_u: jax.Array, state: S, action: jax.Array, params: Any
    ) -> StepResult:
        """``step`` with the reset's uniforms given (``reset_from``) instead of a key; also on
        a batch of states (``[..., n]`` physics, ``[...]`` time)."""
        obs, new, reward, terminated, truncated = self.step_env(state, action, params)
        reset_obs, reset_state = self.reset_from(reset_u, params)
        done = terminated | truncated
        next_state = jax.tree.map(
            lambda r, s: jnp.where(done[..., None] if jnp.ndim(s) > done.ndim else done, r, s),
            reset_state,
            new,
        )
        next_obs = jnp.where(done[..., None], reset_obs, obs)
        return next_obs, next_state, reward, terminated, truncated, {"final_obs": obs}

    @classmethod
    def state_from_gymnasium(cls, gym_env: Any) -> S:
        """The poleax state a gymnasium env is in: ``gym_env`` is what ``gymnasium.make``
        returns, any wrapper chain around the env, or the env itself.

        The physics is the unwrapped env's ``state`` in the default dtype: under x64 exactly
        gymnasium's. The time is the elapsed steps of the chain's ``TimeLimit`` wrapper; an
        unwrapped env does not count its steps, so its time is 0. Raises ``ValueError`` before
        the first reset.
        """
        physics = getattr(gym_env.unwrapped, "state", None)
        if physics is None:
            raise ValueError("the gymnasium env has no state yet: reset it first")
        physics = np.asarray(physics, np.float64)
        if physics.ndim != 1:
            raise ValueError(f"expected a vector of state variables, got shape {physics.shape}")
        time = jnp.asarray(elapsed_steps(gym_env), jnp.int32)
        return cls.state_type(jnp.asarray(physics, jnp.zeros(()).dtype), time)

    @classmethod
    def state_to_gymnasium(cls, state: S, gym_env: Any, action: Any = None) -> None:
        """Put a gymnasium env (wrapped or not) into a single poleax ``state``, e.g. to
        ``render()`` it: the unwrapped env's ``state`` becomes the physics in float64, from
        which gymnasium steps on exactly as poleax does, and a ``TimeLimit`` wrapper's count
        becomes ``state.time``. ``action``, the one that led here, is for renderers that draw
        it (Pendulum's torque arrow)."""
        gym_env.unwrapped.state = np.array(state.physics, np.float64)
        limit = time_limit(gym_env)
        if limit is not None:
            limit._elapsed_steps = int(state.time)


def time_limit(gym_env: Any) -> Any:
    """The ``TimeLimit`` wrapper in ``gym_env``'s chain of wrappers, or None."""
    from gymnasium.wrappers import TimeLimit

    env = gym_env
    while env is not None:
        if isinstance(env, TimeLimit):
            return env
        inner = getattr(env, "env", None)
        env = None if inner is env else inner
    return None


def elapsed_steps(gym_env: Any) -> int:
    """The steps the chain's ``TimeLimit`` counted since its last reset (0 without one)."""
    limit = time_limit(gym_env)
    return 0 if limit is None else int(limit._elapsed_steps or 0)
