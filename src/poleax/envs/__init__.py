"""Environments: ``make(env_id) -> (env, params)`` and their ``EnvSpec`` registry."""

from __future__ import annotations

from poleax.envs.registry import (
    DEFAULT_ENV,
    ENV_IDS,
    ENV_SPECS,
    STANDARD_ENV,
    TUTORIAL_ENV,
    UnknownEnvError,
    check_env_id,
    env_spec,
    find_spec,
    import_tasks,
    register,
)
from poleax.envs.spec import Box, Discrete, EnvSpec, MapAxes, SolveCriterion


def make(env_id: str):
    """Return ``(env, params)`` for a known environment id, else raise ``UnknownEnvError``."""
    return env_spec(env_id).make()


__all__ = [
    "DEFAULT_ENV",
    "ENV_IDS",
    "ENV_SPECS",
    "STANDARD_ENV",
    "TUTORIAL_ENV",
    "Box",
    "Discrete",
    "EnvSpec",
    "MapAxes",
    "SolveCriterion",
    "UnknownEnvError",
    "check_env_id",
    "env_spec",
    "find_spec",
    "import_tasks",
    "make",
    "register",
]
