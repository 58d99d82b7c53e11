"""What a user gets: the main job end to end, its files, evaluate/render/report/play, the API."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from browser import images_loaded
from PIL import Image

import poleax
from poleax.cli import main

RUN_FILES = (
    "config.json",
    "checkpoint/meta.json",
    "checkpoint/policy.npz",
    "checkpoint/state.npz",
    "metrics.csv",
    "curve.png",
    "before.gif",
    "after.gif",
    "summary.json",
    "report.html",
)


@pytest.fixture(scope="module")
def run_dir(train_once):
    """The main job with its defaults (PPO on CartPole-v0), as a user runs it."""
    return train_once()


def test_main_job_writes_every_artifact(run_dir):
    for name in RUN_FILES:
        assert (run_dir / name).exists(), name
    config = json.loads((run_dir / "config.json").read_text())
    assert config["algo"] == "ppo" and config["env"] == "CartPole-v0"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["solved"], summary["verdict"]
    seed = summary["per_seed"][0]
    assert seed["evaluation"]["greedy"]["mean"] >= 195
    assert seed["evaluation"]["sampled"]["mean"] >= 195
    assert seed["steps_to_solve"] == summary["env_steps"][0]
    meta = json.loads((run_dir / "checkpoint/meta.json").read_text())
    assert meta["format_version"] == 2 and meta["poleax_version"] == poleax.__version__
    assert meta["network"]["hidden"] == [32]  # CartPole-v0 ppo's default
    with Image.open(run_dir / "curve.png") as image:
        assert image.size[0] > 300
    header = (run_dir / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["seed", "update", "global_step"]
    assert "losses/approx_kl" in header and "charts/episodic_return" in header


def test_evaluate_command_repeats_the_recorded_evaluation(run_dir, capsys):
    assert main(["evaluate", str(run_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    recorded = json.loads((run_dir / "summary.json").read_text())["per_seed"][0]["evaluation"]
    assert result == recorded
    assert main(["evaluate", str(run_dir), "--episodes", "10", "--seed", "3"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"greedy\s+mean\s+\d+\.\d\d", text)


def test_loaded_policy_acts_like_the_trained_one(run_dir):
    import jax

    from poleax.networks import apply

    policy = poleax.load(run_dir)
    again = poleax.load(run_dir)
    obs = np.random.default_rng(0).normal(scale=0.1, size=(256, 4)).astype(np.float32)
    np.testing.assert_array_equal(policy.act(obs), again.act(obs))
    logits, _ = apply(jax.device_put(policy.params), obs, policy.spec)
    np.testing.assert_array_equal(policy.act(obs), np.argmax(np.asarray(logits), -1))
    assert isinstance(policy.act(obs[0]), int)
    result = poleax.evaluate(policy, "CartPole-v0", episodes=100, seed=10_000)
    recorded = json.loads((run_dir / "summary.json").read_text())["per_seed"][0]["evaluation"]
    assert result["greedy"]["mean"] == recorded["greedy"]["mean"]
    assert result["sampled"]["mean"] == recorded["sampled"]["mean"]


def test_policy_works_in_a_plain_gymnasium_loop(run_dir):
    import gymnasium as gym

    policy = poleax.load(run_dir)
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=123)
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(policy.act(obs))
        total += reward
        done = terminated or truncated
    assert total >= 150


def test_config_json_reruns_the_same_run(run_dir, tmp_path):
    rerun = tmp_path / "rerun"
    args = ["train", "--config", str(run_dir / "config.json"), "--out", str(rerun)]
    assert main([*args, "--no-progress", "--no-gifs"]) == 0
    with (
        np.load(run_dir / "checkpoint/policy.npz") as a,
        np.load(rerun / "checkpoint/policy.npz") as b,
    ):
        assert a.files == b.files
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])
    first = json.loads((run_dir / "summary.json").read_text())
    second = json.loads((rerun / "summary.json").read_text())
    assert first["steps_to_solve"] == second["steps_to_solve"]
    assert first["per_seed"][0]["evaluation"] == second["per_seed"][0]["evaluation"]


def test_render_and_report_commands(run_dir, tmp_path, capsys):
    gif = tmp_path / "episode.gif"
    assert main(["render", str(run_dir), "--out", str(gif)]) == 0
    frames = int(re.search(r"\((\d+) steps\)", capsys.readouterr().out).group(1))
    with Image.open(gif) as image:
        assert image.n_frames == frames + 1
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "report.html").unlink()
    assert main(["report", str(copy)]) == 0
    assert (copy / "report.html").stat().st_size > 10_000


def test_play_without_a_display_says_so(run_dir, capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["play", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "no display" in err and "poleax render" in err


@pytest.mark.slow
def test_report_shows_every_image_in_a_real_browser(run_dir, tmp_path):
    shown, total = images_loaded(run_dir / "report.html", tmp_path / "profile")
    assert total == 5 and shown == total  # GIFs, curve, policy and value maps


def test_gymnasium_is_used_only_once_its_preload_thread_is_done(tmp_path, monkeypatch):
    """Two threads importing gymnasium at once can fail (a KeyError inside the import system,
    seen when a short run ended during the preload): the final evaluation waits for it."""
    import threading
    import time

    import poleax.reference
    import poleax.run.judging

    loaded = threading.Event()

    def slow_preload() -> None:
        time.sleep(1.0)
        loaded.set()

    def evaluate_many(*args, **kwargs):
        assert loaded.is_set(), "gymnasium used while the preload thread was importing it"
        return original(*args, **kwargs)

    original = poleax.reference.evaluate_many
    monkeypatch.setattr(poleax.run.judging.GymnasiumPreload, "_load", staticmethod(slow_preload))
    monkeypatch.setattr(poleax.reference, "evaluate_many", evaluate_many)
    short = ["--env", "CartPole-v1", "--total-steps", "1024", "--no-stop-when-solved"]
    out = tmp_path / "run"
    assert main(["train", *short, "--no-gifs", "--no-progress", "--out", str(out)]) == 0
    assert loaded.is_set()
