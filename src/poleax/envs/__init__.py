"""Environments: ``make(env_id) -> (env, params)``."""

from __future__ import annotations

from poleax.envs.registry import ENV_IDS, SOLVED_THRESHOLD, UnknownEnvError, check_env_id


def make(env_id: str):
    """Return ``(env, params)`` for a known environment id, else raise ``UnknownEnvError``."""
    check_env_id(env_id)
    from poleax.envs.cartpole import CartPole, EnvParams

    return CartPole(), EnvParams(max_steps_in_episode=ENV_IDS[env_id])


__all__ = ["ENV_IDS", "SOLVED_THRESHOLD", "UnknownEnvError", "check_env_id", "make"]
