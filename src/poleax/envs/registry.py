"""The environment ids poleax knows, with their step caps and solved thresholds (no jax here)."""

from __future__ import annotations

#: Step cap of each environment, as gymnasium registers it.
ENV_IDS: dict[str, int] = {"CartPole-v0": 200, "CartPole-v1": 500}

#: The classic solved criterion: mean return over 100 evaluation episodes at least this.
SOLVED_THRESHOLD: dict[str, float] = {"CartPole-v0": 195.0, "CartPole-v1": 475.0}


class UnknownEnvError(ValueError):
    """An environment id poleax does not know."""


def check_env_id(env_id: str) -> str:
    """Return ``env_id`` if known, else raise an error that lists the known ids."""
    if env_id not in ENV_IDS:
        known = ", ".join(ENV_IDS)
        raise UnknownEnvError(f"unknown env {env_id!r}; known envs: {known}")
    return env_id
