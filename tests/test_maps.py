"""policy_map.png and value_map.png: the actor's choice and the critic's value on a grid."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from run_checks import OLD_CARTPOLE

import poleax
from poleax.maps import MAP_AXES, map_grid
from poleax.report import write_report

#: Short runs, with the settings of test_nothing_lost's and test_saved_policies' runs: one
#: training each per session.
SHORT = {
    "CartPole-v1": ["--total-steps", "2048", "--no-stop-when-solved", *OLD_CARTPOLE],
    "Pendulum-v1": ["--total-steps", "4096", "--no-stop-when-solved", "--normalize-obs"],
}
SHORT["Pendulum-v1"] += ["--algo", "ppo"]  # sac is its default; these runs are ppo's
SHORT["Pendulum-v1"] += ["--eval-episodes", "5"]


@pytest.fixture(scope="module", params=list(SHORT))
def short_run(request, train_once):
    return train_once("--env", request.param, *SHORT[request.param], "--no-gifs")


def test_every_run_folder_has_both_maps(short_run):
    for name in ("policy_map.png", "value_map.png"):
        with Image.open(short_run / name) as image:
            assert image.format == "PNG"
            assert 300 <= image.size[0] <= 800 and 200 <= image.size[1] <= 600
            pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
            assert len(np.unique(pixels, axis=0)) > 20  # a picture, not a blank
    page = (short_run / "report.html").read_text()
    assert "What it learned" in page and page.count("data:image/png") == 3


def test_the_map_is_the_policy(short_run):
    policy = poleax.load(short_run)
    grid = map_grid(policy, size=21)
    rows, cols = np.meshgrid([0, 7, 13, 20], [0, 5, 10, 20])
    for i, j in zip(rows.ravel(), cols.ravel(), strict=True):
        action = np.asarray(policy.act(grid.observations[i, j])).ravel()[0]
        if policy.spec.continuous:  # one observation's matmul rounds as the batch's, or near
            np.testing.assert_allclose(grid.actions[i, j], action, rtol=1e-5, atol=1e-6)
        else:
            assert grid.actions[i, j] == action
        _, value = policy.logits_and_value(grid.observations[i, j])
        np.testing.assert_allclose(grid.values[i, j], value, rtol=1e-5, atol=1e-5)
    axes = MAP_AXES[policy.env_id]
    assert grid.xs[0] == axes.x_range[0] and grid.ys[-1] == axes.y_range[1]


def test_map_axes_give_observations_of_the_right_size():
    for env_id, axes in MAP_AXES.items():
        physics = axes.physics(np.zeros(3), np.ones(3))
        obs = axes.observation(physics)
        assert obs.shape == (3, poleax.envs.registry.env_spec(env_id).observation_size)
        assert physics[0, axes.y] == 1.0


def test_report_without_maps_still_renders(short_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(short_run, copy)
    (copy / "policy_map.png").unlink()
    (copy / "value_map.png").unlink()
    page = write_report(copy).read_text()
    assert "What it learned" not in page
    assert json.loads((copy / "summary.json").read_text())
