"""Environments: ``make(env_id) -> (env, params)`` and their ``EnvSpec`` registry.

Re-exports the registry's public names (``poleax.envs.registry.__all__``) and the spec types.
"""

from __future__ import annotations

from poleax.envs import registry
from poleax.envs.registry import *  # noqa: F403 (its __all__, re-exported below)
from poleax.envs.spec import EnvSpec, MapAxes, SolveCriterion


def make(env_id: str):
    """Return ``(env, params)`` for a known environment id, else raise ``UnknownEnvError``."""
    return registry.env_spec(env_id).make()


__all__ = [*registry.__all__, "EnvSpec", "MapAxes", "SolveCriterion", "make"]
