"""Every surface on every classic-control task, with short budgets: train (several seeds,
TensorBoard, resume), evaluate, render, report, play, sweep and the Python API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import poleax
from poleax.cli import main
from poleax.envs import env_spec as poleax_env_spec

pytestmark = pytest.mark.slow  # every env end to end, with subprocesses and sweeps: minutes

ENVS = ["Acrobot-v1", "MountainCar-v0", "Pendulum-v1", "MountainCarContinuous-v0"]
SHORT = ["--total-steps", "2048", "--no-stop-when-solved", "--eval-episodes", "5"]

# Runs `poleax.cli.main(ARGS)`, the process signalling itself (SIGTERM) at its first chunk.
STOP_AT_FIRST_CHUNK = """
import os, signal, sys
import poleax.run.log as log
from poleax.cli import main
original = log.Reporter.update
def update(self, report):
    os.kill(os.getpid(), signal.SIGTERM)
    return original(self, report)
log.Reporter.update = update
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module", params=ENVS)
def env_run(request, train_once) -> tuple[str, Path]:
    pytest.importorskip("tensorboardX")
    env = request.param
    return env, train_once("--env", env, *SHORT, "--seeds", "2", "--tensorboard")


def test_train_writes_every_artifact(env_run):
    env, run = env_run
    summary = json.loads((run / "summary.json").read_text())
    assert summary["env"] == env and summary["env_steps"] == [2048, 2048]
    assert env.split("-")[0] in summary["verdict"]
    for name in ("before.gif", "after.gif", "curve.png", "report.html", "metrics.csv"):
        assert (run / name).stat().st_size > 0, name
    assert list((run / "tensorboard").rglob("events.out.tfevents.*"))
    policy = poleax.load(run, seed_index=1)
    assert policy.env_id == env
    obs = np.zeros((3, policy.spec.observation_size), np.float32)
    space = poleax_env_spec(env).action_space
    assert policy.act(obs).shape == (3, *space.shape)
    assert np.asarray(policy.act(obs[0])).shape == space.shape


def test_evaluate_render_report_and_play(env_run, tmp_path, capsys, monkeypatch):
    env, run = env_run
    assert main(["evaluate", str(run), "--episodes", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["env"] == env and result["episodes"] == 3
    gif = tmp_path / "episode.gif"
    assert main(["render", str(run), "--out", str(gif), "--seed-index", "1"]) == 0
    assert gif.stat().st_size > 0
    assert main(["report", str(run)]) == 0
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    capsys.readouterr()
    assert main(["play", str(run)]) == 2
    assert "no display" in capsys.readouterr().err


@pytest.mark.parametrize("env", ENVS)
def test_an_interrupted_run_resumes(env, tmp_path):
    out = tmp_path / "run"
    argv = ["train", "--env", env, *SHORT, "--no-gifs", "--no-progress", "--out", str(out)]
    first = subprocess.run(
        [sys.executable, "-c", STOP_AT_FIRST_CHUNK, *argv], capture_output=True, text=True
    )
    assert first.returncode == 143, first.stderr
    assert not (out / "summary.json").exists()
    resumed = subprocess.run(
        [sys.executable, "-m", "poleax", "train", "--resume", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "summary.json").read_text())["env_steps"] == [2048]


@pytest.mark.parametrize("env", ENVS)
def test_the_python_api(env, tmp_path):
    run = poleax.train(
        env=env, total_steps=1024, stop_when_solved=False, eval_episodes=3, gifs=False,
        out=tmp_path / "run",
    )  # fmt: skip
    assert run.summary["env"] == env
    result = poleax.evaluate(run.policy(), episodes=3)
    assert result["env"] == env and set(result) >= {"greedy", "sampled", "solved"}


def test_a_sweep_on_acrobot(tmp_path, capsys):
    pytest.importorskip("optuna")
    out = tmp_path / "sweep"
    argv = ["sweep", "--env", "Acrobot-v1", "--trials", "2", "--seeds", "1", "--batch", "1"]
    argv += ["--total-steps", "2048", "--no-progress", "--study", "acro", "--out", str(out)]
    assert main(argv) == 0
    assert "2 trials finished" in capsys.readouterr().out


@pytest.mark.parametrize("env", ENVS)
def test_the_tutorial_preset_is_cartpole_only(env, capsys):
    assert main(["train", "--preset", "tutorial", "--env", env]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tutorial" in err[0] and "CartPole-v0" in err[0]


@pytest.mark.parametrize("env", ["Pendulum-v1", "MountainCarContinuous-v0"])
def test_mc_ac_refuses_continuous_actions(env, capsys):
    assert main(["train", "--algo", "mc-ac", "--env", env]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "discrete actions" in err[0]


def test_a_sweep_on_pendulum_searches_the_log_std_initialisation(tmp_path, capsys):
    optuna = pytest.importorskip("optuna")
    out = tmp_path / "sweep"
    argv = ["sweep", "--algo", "ppo", "--env", "Pendulum-v1", "--trials", "2", "--seeds", "1"]
    argv += ["--batch", "2"]
    argv += ["--total-steps", "2048", "--no-progress", "--study", "pend", "--out", str(out)]
    assert main(argv) == 0
    assert "2 trials finished" in capsys.readouterr().out
    study = optuna.load_study(study_name="pend", storage=f"sqlite:///{out / 'study.db'}")
    values = [t.params["log_std_init"] for t in study.trials]
    assert len(values) == 2 and all(-2.0 <= v <= 0.5 for v in values)
    # 2,048 steps solve no Pendulum seed: no trial is the best, and no best_config.json
    # claims one.
    assert not (out / "best_config.json").exists()


def test_rows_of_a_sweep_start_from_their_trials_log_std(monkeypatch):
    """Each trial's rows start from its own log-std (not the config's)."""
    import poleax.sweep as sweep
    import poleax.trainer

    seen = {}

    def spy(config, **kwargs):
        seen["log_std"] = np.asarray(kwargs["state"].params["log_std"]["value"]).copy()
        raise KeyboardInterrupt  # enough: the state handed to training is what we check

    monkeypatch.setattr(poleax.trainer, "train", spy)
    settings = sweep.SweepSettings(
        algo="ppo", env="Pendulum-v1", trials=2, batch=2, seeds=2, study="s", storage=None,
        out=Path("unused"), total_steps=2048, seed=0, search_shapes=False, sampler_seed=None,
    )  # fmt: skip

    class Trial:
        def __init__(self, number):
            self.number = number

    with pytest.raises(KeyboardInterrupt):
        sweep.train_group(
            settings, [Trial(0), Trial(1)], [{"log_std_init": -1.5}, {"log_std_init": 0.25}], {}
        )
    np.testing.assert_array_equal(seen["log_std"][:, 0], [-1.5, -1.5, 0.25, 0.25])
