"""Everything per task hangs off its ``EnvSpec``; the tables others read are views of the specs."""

from __future__ import annotations

import re

import pytest

from poleax import live
from poleax.config import ENV_DEFAULTS, defaults_for
from poleax.envs import ENV_IDS, ENV_SPECS, Discrete, SolveCriterion, env_spec, register
from poleax.envs.probe import probe_spec
from poleax.maps import MAP_AXES


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_built_in_task_is_whole(env_id):
    import gymnasium as gym

    spec = env_spec(env_id)
    assert spec.judged_by_gymnasium and spec.judge == "gymnasium's"
    registered = gym.spec(spec.gymnasium_id)
    assert registered.entry_point == spec.gymnasium_class
    assert registered.max_episode_steps == spec.max_steps
    if isinstance(spec.action_space, Discrete):
        assert len(spec.action_names) == spec.action_space.n
    else:
        assert spec.action_names == ()
    assert spec.map_axes is not None and spec.live_physics
    assert spec.compare_budget >= 50_000


def test_the_live_page_knows_the_physics_each_spec_names():
    known = set(re.findall(r'^    "?([\w-]+)"?: ', _physics_table(), re.M))
    assert {env_spec(env_id).live_physics for env_id in ENV_IDS} == known


def _physics_table() -> str:
    script = live.script()
    start = script.index("const PHYSICS = {")
    return script[start : script.index("};", start)]


def test_the_live_page_names_actions_as_the_spec_does():
    from test_live_report import random_policy

    data = live.live_data(random_policy("Acrobot-v1", 0, 1.0))
    assert data["physics"] == "acrobot"
    assert data["action_names"] == ["torque -1", "torque 0", "torque +1"]
    assert env_spec("MountainCar-v0").action_name(2) == "right"
    assert env_spec("Pendulum-v1").action_name(0) == "0"  # continuous: no names


def test_per_task_tables_are_views_of_the_specs():
    assert set(ENV_DEFAULTS) == {
        "CartPole-v0",
        "CartPole-v1",
        "Acrobot-v1",
        "MountainCar-v0",
        "Pendulum-v1",
        "MountainCarContinuous-v0",
    }
    assert defaults_for("ppo", "Pendulum-v1")["gamma"] == 0.9
    assert set(MAP_AXES) == set(ENV_IDS)
    spec = probe_spec("Tiny-v0", solve=SolveCriterion(0.5), defaults={"a2c": {"lr": 0.5}})
    register(spec)
    try:
        assert ENV_DEFAULTS["Tiny-v0"] == {"a2c": {"lr": 0.5}}
        assert defaults_for("a2c", "Tiny-v0")["lr"] == 0.5
        assert "Tiny-v0" not in MAP_AXES and "Tiny-v0" not in live.LIVE_ENVS
        assert not spec.judged_by_gymnasium and spec.make_canvas(2) is None
        assert "judged by poleax's own evaluation" in spec.describe_solve()
    finally:
        ENV_SPECS.pop(spec.id)
    assert "Tiny-v0" not in ENV_DEFAULTS


def test_a_task_names_the_algorithm_a_run_gets_when_none_is_named():
    import inspect

    from poleax.api import train
    from poleax.config import build_config
    from poleax.sweep.settings import SweepSettings

    chosen = {env: build_config(env=env).algo for env in ENV_IDS}
    assert chosen == {env: env_spec(env).default_algo for env in ENV_IDS}
    assert chosen["Pendulum-v1"] == chosen["MountainCarContinuous-v0"] == "sac"
    assert chosen["CartPole-v1"] == chosen["MountainCar-v0"] == "ppo"
    assert build_config(algo="ppo", env="Pendulum-v1").total_steps == 300_000  # named wins
    assert build_config(env="Pendulum-v1").total_steps == 20_000  # sac's tuned budget
    assert SweepSettings(env="Pendulum-v1").algo == "sac"
    assert build_config(preset="tutorial").algo == "mc-ac"
    assert inspect.signature(train).parameters["algo"].default is None
