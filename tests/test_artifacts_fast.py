"""Issue 16's fast artifacts: CartPole frames drawn without gymnasium's per-frame overhead are
gymnasium's frames, pixel for pixel; the GIFs hold the frames the old writer held; the
untrained policy drawn during training is the trainer's; the picture worker computes what
this process would, falls back to it, and leaves nothing behind, signals included."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from poleax import plots, render
from poleax.envs import env_spec
from poleax.envs.cartpole_canvas import CartPoleCanvas
from poleax.run import pictures


def gymnasium_frames(env_id: str, states: np.ndarray, shrink: int) -> list[np.ndarray]:
    """What poleax drew before issue 16: gymnasium's ``render()`` per state, shrunk, with the
    step counter drawn by ``ImageDraw`` with its default font."""
    env = env_spec(env_id).gymnasium_env(render_mode="rgb_array")
    env.reset(seed=0)
    frames = []
    try:
        for step, physics in enumerate(states):
            env.unwrapped.state = np.asarray(physics, np.float64)
            image = Image.fromarray(env.render()).reduce(shrink)
            ImageDraw.Draw(image).text((6, 4), f"step {step}", fill=(0, 0, 0))
            frames.append(np.asarray(image))
    finally:
        env.close()
    return frames


def cartpole_states(n: int = 160, seed: int = 0) -> np.ndarray:
    """Random states, the edges of the track and beyond, and poles at every angle."""
    rng = np.random.default_rng(seed)
    states = np.zeros((n, 4))
    states[:, 0] = rng.uniform(-3.2, 3.2, n)
    states[:, 2] = rng.uniform(-np.pi, np.pi, n)
    edges = [(-2.4, 0.0), (2.4, 0.0), (-2.6, 1.5), (2.6, -1.5), (-2.9, 3.1), (2.9, -3.1)]
    edges += [(0.0, np.pi / 2), (0.0, -np.pi), (5.0, 0.0), (-5.0, 0.0), (0.0, 0.21), (0, 0)]
    states[: len(edges), [0, 2]] = edges
    return states


@pytest.mark.parametrize("env_id", ["CartPole-v0", "CartPole-v1"])
@pytest.mark.parametrize("shrink", [1, 2, 3])
def test_cartpole_frames_are_gymnasiums_pixel_for_pixel(env_id, shrink):
    states = cartpole_states(60 if shrink != 2 else 160)
    ours = render.draw_frames(env_id, states, shrink=shrink)
    theirs = gymnasium_frames(env_id, states, shrink)
    assert len(ours) == len(theirs)
    for step, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_array_equal(a, b, err_msg=f"state {states[step]}")


def test_step_counters_drawn_in_place_where_a_patch_cannot_go(monkeypatch):
    monkeypatch.setattr(CartPoleCanvas, "LABEL_AREA", (1, 1))  # no patch fits
    states = cartpole_states(20, seed=1)
    for a, b in zip(render.draw_frames("CartPole-v1", states), gymnasium_frames(
        "CartPole-v1", states, 2
    ), strict=True):  # fmt: skip
        np.testing.assert_array_equal(a, b)


def decode(gif: bytes) -> list[np.ndarray]:
    with Image.open(io.BytesIO(gif)) as image:
        frames = []
        for i in range(image.n_frames):
            image.seek(i)
            frames.append(np.asarray(image.convert("RGB")))
    return frames


def quantized_as_before(frames: list[np.ndarray]) -> list[np.ndarray]:
    """The old GIF writer's frames: the first frame's 32-colour median cut, no dithering."""
    palette = Image.fromarray(frames[0]).quantize(32, method=Image.Quantize.MEDIANCUT)
    return [
        np.asarray(
            Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE).convert("RGB")
        )
        for f in frames
    ]


@pytest.mark.parametrize("label_area", [CartPoleCanvas.LABEL_AREA, (1, 1)])
def test_gif_frames_are_gymnasiums_frames_in_the_old_palette(label_area, monkeypatch):
    monkeypatch.setattr(CartPoleCanvas, "LABEL_AREA", label_area)
    states = cartpole_states(120, seed=2)
    gif = render._gif_bytes(render._indexed_frames(env_spec("CartPole-v1"), states, None, 2), 50)
    expected = quantized_as_before(gymnasium_frames("CartPole-v1", states, 2))
    ours = decode(gif)
    assert len(ours) == len(expected)
    for a, b in zip(ours, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    assert decode(render.encode_gif(gymnasium_frames("CartPole-v1", states[:5], 2), 50))


def test_an_episode_gif_is_the_played_episode_drawn(tmp_path):
    import jax

    from poleax.algos.base import network_spec
    from poleax.config import build_config
    from poleax.networks import init_params

    spec = network_spec(build_config(env="CartPole-v1"))
    params = jax.device_get(init_params(jax.random.PRNGKey(3), spec))
    gif, length = render.episode_gif("CartPole-v1", params, spec, seed=1)
    states, _ = render.play_episode("CartPole-v1", params, spec, 1, True)
    assert length == len(states) - 1
    expected = quantized_as_before(gymnasium_frames("CartPole-v1", states, 2))
    for a, b in zip(decode(gif), expected, strict=True):
        np.testing.assert_array_equal(a, b)
    path, n = render.render_episode("CartPole-v1", params, spec, tmp_path / "x.gif", seed=1)
    assert n == length and path.read_bytes() == gif


def test_the_untrained_gif_shows_the_trainers_initial_params():
    from poleax.config import build_config
    from poleax.trainer import train, untrained_params

    config = build_config(env="CartPole-v1", total_steps=512, stop_when_solved=False)
    result = train(config)
    ours = untrained_params(config)  # what the run draws while it trains
    assert ours.keys() == result.initial_params.keys()
    for layer, values in ours.items():
        for name, value in values.items():
            np.testing.assert_array_equal(value, result.initial_params[layer][name])


def curve_args() -> tuple:
    steps = np.cumsum(np.full((2, 30), 256), axis=1)
    returns = np.random.default_rng(0).uniform(0, 500, (2, 30))
    return steps, returns, 475.0, [5120, None], "ppo on CartPole-v1", None


def test_a_picture_worker_draws_what_this_process_draws_and_stands_in_when_gone():
    worker = pictures.PictureWorker.start()
    try:
        assert worker.process is not None
        here = plots.curve_png(*curve_args())
        assert pictures._wait(worker.submit(plots.curve_png, *curve_args())) == here
        failed = worker.submit(plots.curve_png, *curve_args()[:3])  # arguments missing
        with pytest.raises(TypeError):
            pictures._wait(failed)
        worker.process.kill()
        worker.process.wait()
        deadline = time.monotonic() + 10
        while worker.alive and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pictures._wait(worker.submit(plots.curve_png, *curve_args())) == here
    finally:
        worker.close()


def test_a_picture_worker_imports_neither_jax_nor_the_trainer():
    """The worker's import (its ``COMMAND``) in a fresh interpreter: matplotlib and gymnasium
    are its job, JAX is not (it cost each worker a second of CPU when ``poleax.run`` imported
    the trainer)."""
    probe = (
        "import sys\n"
        + pictures.PictureWorker.COMMAND
        + "print(sorted(m for m in sys.modules if m == 'jax' or m.startswith('poleax.')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.strip()
    assert "poleax.run.pictures" in loaded
    for heavy in ("'jax'", "poleax.run.training", "poleax.trainer", "poleax.algos"):
        assert heavy not in loaded, loaded


def test_a_run_leaves_no_worker_behind(tmp_path, monkeypatch):
    import poleax

    started: list[pictures.PictureWorker] = []
    original = pictures.PictureWorker.start

    def start():
        started.append(original())
        return started[-1]

    monkeypatch.setattr(pictures.PictureWorker, "start", staticmethod(start))
    out = tmp_path / "run"
    poleax.train(env="CartPole-v1", total_steps=1024, stop_when_solved=False, out=out)
    assert len(started) == 1  # one worker draws the curve and the maps
    assert started[0].process.poll() is not None
    for name in ("curve.png", "before.gif", "after.gif", "policy_map.png", "value_map.png"):
        assert (out / name).stat().st_size > 0
    assert not list(out.glob("*.tmp"))


def tagged_processes(tag: str) -> list[int]:
    """Processes whose environment holds ``tag`` (this test's runs and their workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if tag.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_signal_to_the_whole_group_while_training_is_one_line_and_ends_every_process(
    sig, tmp_path
):
    tag = f"POLEAX_TEST_TAG={uuid.uuid4().hex}"
    env = {**os.environ, tag.split("=")[0]: tag.split("=")[1]}
    argv = ["train", "--env", "CartPole-v1", "--total-steps", "1000000", "--no-stop-when-solved"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "poleax", *argv, "--no-progress", "--out", str(tmp_path / "r")],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal would give it
    )
    deadline = time.monotonic() + 120
    while len(tagged_processes(tag)) < 2 and time.monotonic() < deadline:  # run + its worker
        time.sleep(0.05)
    time.sleep(2.0)  # into the training
    os.killpg(proc.pid, getattr(signal, sig))  # what Ctrl-C does: the whole group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + int(getattr(signal, sig)), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    deadline = time.monotonic() + 10
    while tagged_processes(tag) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tagged_processes(tag) == []
