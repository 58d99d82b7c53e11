"""Environments: ``make(env_id) -> (env, params)`` and their ``EnvSpec`` registry."""

from __future__ import annotations

from poleax.envs.registry import (
    ENV_IDS,
    ENV_SPECS,
    UnknownEnvError,
    check_env_id,
    env_spec,
    register,
)
from poleax.envs.spec import Box, Discrete, EnvSpec, SolveCriterion


def make(env_id: str):
    """Return ``(env, params)`` for a known environment id, else raise ``UnknownEnvError``."""
    return env_spec(env_id).make()


__all__ = [
    "ENV_IDS",
    "ENV_SPECS",
    "Box",
    "Discrete",
    "EnvSpec",
    "SolveCriterion",
    "UnknownEnvError",
    "check_env_id",
    "env_spec",
    "make",
    "register",
]
