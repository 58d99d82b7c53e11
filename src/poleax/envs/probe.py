"""Probe envs: one-step tasks whose best action is known, for testing learners in seconds.

``ProbeDiscrete``: the observation is a sign, -1 or +1 (drawn at reset); action 1 earns 1
where the sign is +1 and action 0 earns 1 where it is -1, the wrong action 0. A learner that
reads its observation reaches a return of 1. ``ProbeContinuous``: the observation is a target
of -0.5 or +0.5 and the one action earns ``-(action - target)^2``. Neither has a gymnasium
twin: they are registered by whoever uses them (``register(probe_spec(...))``, as the tests
do) and judged inside JAX only.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from poleax.envs.base import ClassicEnv
from poleax.envs.spec import Box, Discrete, EnvSpec, SolveCriterion


class EnvState(NamedTuple):
    """The observation (one number) and steps taken."""

    physics: jax.Array  # [..., 1]
    time: jax.Array


class EnvParams(NamedTuple):
    """Step cap (one step ends every episode anyway)."""

    max_steps_in_episode: int = 1


class _Probe(ClassicEnv[EnvState]):
    """One-step tasks: every step ends the episode, so ``step_or_reset`` always resets."""

    state_type = EnvState
    observation_size: int = 1
    reset_draws: int = 1
    magnitude: float = 1.0

    def reset_from(self, u: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
        dtype = jnp.zeros(()).dtype
        sign = jnp.where(u[..., :1] < 0.5, -1.0, 1.0).astype(dtype)
        state = EnvState(sign * self.magnitude, jnp.zeros((), jnp.int32))
        return state.physics, state

    def step_env(
        self, state: EnvState, action: jax.Array, params: EnvParams
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array]:
        new = EnvState(state.physics, state.time + 1)
        reward = self.reward(state.physics[..., 0], action).astype(state.physics.dtype)
        return new.physics, new, reward, jnp.bool_(True), new.time >= params.max_steps_in_episode

    def step_or_reset(
        self, reset_u: jax.Array, state: EnvState, action: jax.Array, params: EnvParams
    ) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array, dict[str, Any]]:
        obs, _, reward, terminated, truncated = self.step_env(state, action, params)
        next_obs, next_state = self.reset_from(reset_u, params)  # every episode is one step
        return next_obs, next_state, reward, terminated, truncated, {"final_obs": obs}

    def reward(self, observation: jax.Array, action: jax.Array) -> jax.Array:
        raise NotImplementedError


class ProbeDiscrete(_Probe):
    """Two actions; the right one is the observation's sign (1 for +1, 0 for -1)."""

    num_actions: int = 2

    def reward(self, observation: jax.Array, action: jax.Array) -> jax.Array:
        return ((action == 1) == (observation > 0)).astype(jnp.float32)


class ProbeContinuous(_Probe):
    """One action in [-1, 1]; the best is the observation itself (-0.5 or +0.5)."""

    action_size: int = 1
    magnitude: float = 0.5

    def reward(self, observation: jax.Array, action: jax.Array) -> jax.Array:
        return -((action[..., 0] - observation) ** 2)


def probe_spec(id: str, continuous: bool = False, **fields: Any) -> EnvSpec:
    """An ``EnvSpec`` for a probe under ``id``, to ``poleax.envs.register``: ``ProbeDiscrete``,
    solved at a mean return of 0.95, or with ``continuous`` ``ProbeContinuous`` (actions in
    [-1, 1]), solved at -0.05; named after ``id`` (up to its version), one-step episodes
    drawn at 1 frame a second. ``fields`` set any other field, or override these."""
    spec: dict[str, Any] = dict(
        id=id,
        name=id.rsplit("-", 1)[0],
        observation_size=1,
        max_steps=1,
        render_fps=1,
    )
    if continuous:
        spec.update(
            action_space=Box(low=(-1.0,), high=(1.0,)),
            solve=SolveCriterion(-0.05, source="a probe: 0 is the best return"),
            env_class=f"{__name__}:ProbeContinuous",
        )
    else:
        spec.update(
            action_space=Discrete(2),
            solve=SolveCriterion(0.95, source="a probe: 1 is the best return"),
            env_class=f"{__name__}:ProbeDiscrete",
        )
    return EnvSpec(**{**spec, **fields})
