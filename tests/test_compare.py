"""poleax compare: the grid, the files, --resume after an interruption, and bad input."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from browser import images_loaded

import poleax.compare as compare
from poleax.cli import main
from poleax.compare import CompareSettings, grid_for, returns_on_grid
from poleax.history import ChunkEvaluation

TINY = ["--seeds", "3", "--budget", "1024", "--eval-episodes", "4", "--no-progress"]


def test_grid_is_power_of_two_multiples_up_to_the_budget():
    grid = grid_for(50_000)
    assert grid[0] == 2048 and grid[1] == 4096 and grid[-1] == 49_152 and len(grid) == 24
    assert grid_for(1024) == [32 * i for i in range(1, 33)]
    assert grid_for(5) == [1, 2, 3, 4, 5]


def test_returns_on_grid_take_each_seeds_latest_evaluation_at_or_before_a_point():
    evaluations = [
        ChunkEvaluation([100, 150], [10.0, 20.0], [30.0, 40.0]),
        ChunkEvaluation([200, 300], [50.0, 60.0], [70.0, 80.0]),
        ChunkEvaluation([300, 300], [90.0, float("nan")], [90.0, float("nan")]),  # 1 stopped
    ]
    out = returns_on_grid(evaluations, 2, [50, 100, 200, 300])
    assert np.isnan(out[0, 0]) and np.isnan(out[1, 0]) and np.isnan(out[1, 1])
    assert out[0].tolist()[1:] == [20.0, 60.0, 90.0]
    assert out[1].tolist()[2:] == [30.0, 70.0]


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "cartpole"
    status = main(["compare", "--algos", "ppo,mc-ac", *TINY, "--out", str(out)])
    assert status == 0
    return out


def test_compare_writes_every_file(compared):
    for name in (
        "results.csv",
        "summary.json",
        "report.html",
        "curves.png",
        "steps_to_solve.png",
        "profiles.png",
        "probability_of_improvement.png",
    ):
        assert (compared / name).stat().st_size > 0, name
    with open(compared / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["algo"], r["seed"]) for r in rows] == [
        (a, str(s)) for a in ("ppo", "mc-ac") for s in range(3)
    ]
    assert {"algo", "env", "seed", "solved", "steps_to_solve", "return@32", "return@1024"} <= set(
        rows[0]
    )
    assert all(r["env"] == "CartPole-v1" for r in rows)
    assert all(float(r["return@1024"]) > 0 for r in rows)  # every seed evaluated by then
    summary = json.loads((compared / "summary.json").read_text())
    for algo in ("ppo", "mc-ac"):
        entry = summary["algorithms"][algo]
        assert entry["ci_low"] <= entry["iqm"] <= entry["ci_high"]
        assert 0.0 <= entry["success_rate"] <= 1.0
        assert "median_steps_to_solve" in entry
        assert set(entry["envs"]) == {"CartPole-v1"}


@pytest.mark.slow
def test_report_is_offline_and_shows_every_image(compared, tmp_path):
    page = (compared / "report.html").read_text()
    assert "http://" not in page and "https://" not in page
    assert page.count("data:image/png;base64,") == 4
    assert images_loaded(compared / "report.html", tmp_path / "profile") == (4, 4)


@pytest.mark.slow
def test_an_interrupted_comparison_keeps_finished_pairs_and_resumes(tmp_path, monkeypatch):
    out = tmp_path / "cmp"
    real = compare.train_pair
    trained: list[str] = []

    def stopped_at_second(settings, algo, env, *hooks):
        if trained:
            return None  # as train_pair answers a signal
        trained.append(algo)
        return real(settings, algo, env, *hooks)

    monkeypatch.setattr(compare.training, "train_pair", stopped_at_second)
    settings = CompareSettings(
        algos=("a2c", "td-ac"), seeds=3, budget=512, eval_episodes=4, out=out
    )
    with pytest.raises(compare.CompareInterrupted, match=r"1/2 .* --resume"):
        compare.run_compare(settings)
    assert (out / "runs" / "CartPole-v1__a2c.json").exists()
    assert not (out / "results.csv").exists()

    def counted(settings, algo, env, *hooks):
        trained.append(algo)
        return real(settings, algo, env, *hooks)

    monkeypatch.setattr(compare.training, "train_pair", counted)
    assert main(["compare", "--resume", str(out), "--no-progress"]) == 0
    assert trained == ["a2c", "td-ac"]  # a2c was not trained again
    with open(out / "results.csv") as handle:
        assert [r["algo"] for r in csv.DictReader(handle)] == ["a2c"] * 3 + ["td-ac"] * 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--algos", "ppo,dqn"], "unknown algorithm 'dqn'"),
        (["--env", "Pendulum-v1", "--algos", "ppo,mc-ac"], "mc-ac"),
        (["--seeds", "2"], "--seeds must be at least 3"),
        (["--env", "Pong-v5"], "Pong-v5"),
        (["--config", "ppo"], "ALGO=FILE"),
        (["--config", "a2c=x.json", "--algos", "ppo"], "--config for a2c"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, capsys):
    assert main(["compare", *args, "--no-progress", "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "c" / "compare.json").exists()


def test_resume_needs_a_comparison_and_a_new_run_needs_a_new_folder(tmp_path, capsys):
    assert main(["compare", "--resume", str(tmp_path)]) == 2
    assert "no compare.json" in capsys.readouterr().err
    (tmp_path / "compare.json").write_text("{}")
    assert main(["compare", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "--resume" in capsys.readouterr().err
