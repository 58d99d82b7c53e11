"""The tasks poleax knows: one ``EnvSpec`` per id (no jax here)."""

from __future__ import annotations

from poleax.envs.spec import Box, Discrete, EnvSpec, SolveCriterion

_CLASSIC = "gymnasium.envs.classic_control"

ENV_SPECS: dict[str, EnvSpec] = {
    spec.id: spec
    for spec in (
        EnvSpec(
            id="CartPole-v0",
            name="CartPole",
            observation_size=4,
            action_space=Discrete(2),
            max_steps=200,
            solve=SolveCriterion(195.0),
            env_class="poleax.envs.cartpole:CartPole",
            gymnasium_class=f"{_CLASSIC}.cartpole:CartPoleEnv",
            render_fps=50,
            random_return=22.3,
        ),
        EnvSpec(
            id="CartPole-v1",
            name="CartPole",
            observation_size=4,
            action_space=Discrete(2),
            max_steps=500,
            solve=SolveCriterion(475.0),
            env_class="poleax.envs.cartpole:CartPole",
            gymnasium_class=f"{_CLASSIC}.cartpole:CartPoleEnv",
            render_fps=50,
            random_return=22.3,
        ),
        EnvSpec(
            id="Acrobot-v1",
            name="Acrobot",
            observation_size=6,
            action_space=Discrete(3),
            max_steps=500,
            solve=SolveCriterion(-100.0),
            env_class="poleax.envs.acrobot:Acrobot",
            gymnasium_class=f"{_CLASSIC}.acrobot:AcrobotEnv",
            render_fps=15,
            random_return=-499.0,
        ),
        EnvSpec(
            id="MountainCar-v0",
            name="MountainCar",
            observation_size=2,
            action_space=Discrete(3),
            max_steps=200,
            solve=SolveCriterion(-110.0),
            env_class="poleax.envs.mountain_car:MountainCar",
            gymnasium_class=f"{_CLASSIC}.mountain_car:MountainCarEnv",
            render_fps=30,
            random_return=-200.0,
        ),
        EnvSpec(
            id="Pendulum-v1",
            name="Pendulum",
            observation_size=3,
            action_space=Box(low=(-2.0,), high=(2.0,)),
            max_steps=200,
            solve=SolveCriterion(
                -200.0, source="SLM-Lab's convention (gymnasium registers no threshold)"
            ),
            env_class="poleax.envs.pendulum:Pendulum",
            gymnasium_class=f"{_CLASSIC}.pendulum:PendulumEnv",
            render_fps=30,
            random_return=-1230.7,
        ),
        EnvSpec(
            id="MountainCarContinuous-v0",
            name="MountainCarContinuous",
            observation_size=2,
            action_space=Box(low=(-1.0,), high=(1.0,)),
            max_steps=999,
            solve=SolveCriterion(90.0),
            env_class="poleax.envs.mountain_car_continuous:MountainCarContinuous",
            gymnasium_class=f"{_CLASSIC}.continuous_mountain_car:Continuous_MountainCarEnv",
            render_fps=30,
            random_return=-33.3,
        ),
    )
}

#: Known ids, in the order ``--help`` lists them.
ENV_IDS: tuple[str, ...] = tuple(ENV_SPECS)


class UnknownEnvError(ValueError):
    """An environment id poleax does not know."""


def register(spec: EnvSpec) -> EnvSpec:
    """Add a task (say a probe env, or your own JAX env) to the registry; return its spec.

    The command line offers the built-in ids only; the Python API trains on any registered
    one (``poleax.train(env=spec.id)``).
    """
    ENV_SPECS[spec.id] = spec
    return spec


def env_spec(env_id: str) -> EnvSpec:
    """The ``EnvSpec`` of ``env_id``, or ``UnknownEnvError`` listing the known ids."""
    try:
        return ENV_SPECS[env_id]
    except (KeyError, TypeError):
        known = ", ".join(ENV_SPECS)
        raise UnknownEnvError(f"unknown env {env_id!r}; known envs: {known}") from None


def check_env_id(env_id: str) -> str:
    """Return ``env_id`` if known, else raise an error that lists the known ids."""
    return env_spec(env_id).id


__all__ = [
    "ENV_IDS",
    "ENV_SPECS",
    "Box",
    "Discrete",
    "UnknownEnvError",
    "check_env_id",
    "env_spec",
    "register",
]
