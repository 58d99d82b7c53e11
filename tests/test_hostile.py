"""Issue 26: what a hostile test of 0.2 broke, each case kept as a test.

1 folders overwritten by another command, 2 compare --resume ignoring settings, 3 stale
compare results, 4 compare's path length, 6 config types, 7 unbounded work, 8 resume trusting
an edited config.json, 9 the small ones, 10 the budget overshoot, 11 a Ctrl-C in the first
instant. (Item 5, a task registered from user code, is tests/test_user_env.py; its CLI side,
``--import``, is here.)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import poleax
from poleax.cli import main
from poleax.config import ConfigError, TrainConfig, build_config

MARKER = ".poleax-folder.json"


def write_marker(folder: Path, kind: str) -> None:
    from poleax.files import write_marker as write

    write(folder, kind)


def folder_kind(folder: Path):
    from poleax.files import folder_kind as kind

    return kind(folder)


TESTS = Path(__file__).parent
SRC = TESTS.parent / "src"


def one_line_error(capsys, code: int, *needles: str) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (links as their targets), to see that nothing changed."""
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else os.readlink(p).encode()
        for p in sorted(folder.rglob("*"))
        if p.is_file() or p.is_symlink()
    }


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A small finished run (trained here, once)."""
    out = tmp_path_factory.mktemp("hostile") / "run"
    args = ["train", "--env", "CartPole-v0", "--total-steps", "1024", "--no-stop-when-solved"]
    assert main([*args, "--no-gifs", "--no-progress", "--out", str(out)]) == 0
    return out


@pytest.fixture
def run_copy(finished_run, tmp_path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(finished_run, out, symlinks=True)
    (out / ".lock").unlink(missing_ok=True)
    return out


def fake_comparison(folder: Path, **changes) -> Path:
    """A comparison folder as ``compare`` leaves it after its settings (before training)."""
    from poleax.compare import CompareSettings

    folder.mkdir(parents=True)
    write_marker(folder, "comparison")
    settings = CompareSettings(envs=("CartPole-v1",), algos=("ppo",), seeds=3, **changes)
    (folder / "compare.json").write_text(json.dumps(settings.to_dict()))
    return folder


# --- 1: every folder says what it is; no command writes into another's ---------------------


def test_a_run_says_it_is_a_run_and_old_runs_still_count_as_runs(finished_run, run_copy):
    marker = json.loads((finished_run / MARKER).read_text())
    assert marker["kind"] == "run" and marker["format"] == 1
    (run_copy / MARKER).unlink()  # a 0.1/0.2 run: recognised by its checkpoint
    assert folder_kind(run_copy) == "run"
    assert main(["report", str(run_copy)]) == 0
    assert main(["evaluate", str(run_copy), "--episodes", "3"]) == 0
    assert main(["export", str(run_copy), "--format", "json"]) == 0
    assert poleax.load(run_copy).env_id == "CartPole-v0"


def test_compare_refuses_a_run_folder(run_copy, capsys):
    before = snapshot(run_copy)
    code = main(["compare", "--out", str(run_copy), "--algos", "ppo", "--seeds", "3"])
    one_line_error(capsys, code, "holds a run, not a comparison")
    assert snapshot(run_copy) == before


def test_train_refuses_a_comparison_folder(tmp_path, capsys):
    folder = fake_comparison(tmp_path / "cmp")
    (folder / "summary.json").write_text("{}")
    before = snapshot(folder)
    code = main(["train", "--out", str(folder), "--total-steps", "512", "--no-gifs"])
    one_line_error(capsys, code, "holds a comparison, not a run")
    assert snapshot(folder) == before
    (folder / MARKER).unlink()  # an 0.2 comparison: recognised by its compare.json
    code = main(["train", "--out", str(folder), "--total-steps", "512", "--no-gifs"])
    one_line_error(capsys, code, "holds a comparison, not a run")


def test_sweep_refuses_a_run_folder_and_report_still_sees_the_run(run_copy, capsys):
    pytest.importorskip("optuna")
    before = snapshot(run_copy)
    code = main(["sweep", "--out", str(run_copy), "--trials", "1", "--total-steps", "512"])
    one_line_error(capsys, code, "holds a run, not a sweep")
    assert snapshot(run_copy) == before


def test_report_evaluate_and_export_take_only_a_finished_run(run_copy, tmp_path, capsys):
    (run_copy / "summary.json").unlink()
    for command in (["evaluate"], ["export", "--format", "json"], ["report"]):
        code = main([command[0], str(run_copy), *command[1:]])
        one_line_error(capsys, code, "not complete", "--resume")
    assert not (run_copy / "policy.json").exists()
    folder = fake_comparison(tmp_path / "cmp")
    for command in (["report"], ["evaluate"], ["export", "--format", "json"]):
        code = main([command[0], str(folder), *command[1:]])
        one_line_error(capsys, code, "holds a comparison, not a run")


# --- 2, 3, 4: compare's resume, stale results and path ---------------------------------------


@pytest.mark.parametrize(
    "flags,named",
    [
        (["--seed", "7"], "--seed 7"),
        (["--eval-episodes", "5"], "--eval-episodes 5"),
        (["--budget", "0"], "--budget 0"),
        (["--seeds", "20"], "--seeds 20"),
        (["--algos", "ppo,a2c"], "--algos ppo,a2c"),
    ],
)
def test_compare_resume_refuses_any_setting_that_differs(flags, named, tmp_path, capsys):
    folder = fake_comparison(tmp_path / "cmp")
    before = snapshot(folder)
    code = main(["compare", "--resume", str(folder), *flags])
    one_line_error(capsys, code, named, "differ")
    assert snapshot(folder) == before


def test_compare_resume_takes_the_same_settings_given_again(tmp_path):
    from poleax.compare import differences, read_settings

    folder = fake_comparison(tmp_path / "cmp")
    recorded = read_settings(folder)
    assert differences({"seeds": 3, "algos": ("ppo",), "seed": 0}, recorded) == []


def test_a_new_comparison_never_takes_an_earlier_ones_results(tmp_path, capsys):
    folder = tmp_path / "cmp"
    (folder / "runs").mkdir(parents=True)
    stale = {
        "algo": "ppo", "env": "CartPole-v1", "seeds": [0, 1, 2], "grid": [512],
        "returns": [[20.0], [21.0], [22.0]], "steps_to_solve": [None] * 3, "seconds": 1.0,
        "format": 1,
    }  # fmt: skip
    (folder / "runs" / "CartPole-v1__ppo.json").write_text(json.dumps(stale))
    before = snapshot(folder)
    code = main(["compare", "--out", str(folder), "--algos", "ppo", "--seeds", "5"])
    one_line_error(capsys, code, "already holds a comparison")
    assert snapshot(folder) == before


def test_compare_resume_refuses_a_pair_file_of_another_comparison(tmp_path, capsys):
    from poleax.compare.pairs import PairResult, save_pair

    folder = fake_comparison(tmp_path / "cmp", budget=2048)
    other = PairResult("ppo", "CartPole-v1", [0, 1, 2], [512], np.zeros((3, 1)), [None] * 3, 1.0)
    save_pair(folder, other)
    code = main(["compare", "--resume", str(folder), "--no-progress"])
    one_line_error(capsys, code, "not this comparison's", "delete it")


def test_compare_checks_its_path_length_before_training(tmp_path, capsys):
    deep = tmp_path
    while len(str(deep)) < 4000:
        deep = deep / ("d" * 200)
    code = main(["compare", "--out", str(deep), "--algos", "ppo", "--seeds", "3"])
    one_line_error(capsys, code, "too long")
    assert not (tmp_path / ("d" * 200)).exists()


# --- 6: one strict validation, whatever the source ------------------------------------------

BAD_VALUES = [
    ("normalize_obs", "no", "true or false"),
    ("stop_when_solved", "false", "true or false"),
    ("preset", "bogus", "unknown preset"),
    ("running_reward_threshold", "abc", "must be a number"),
    ("seed", True, "whole number"),
    ("num_envs", 4.0, "whole number"),
    ("hidden", 64, "hidden"),
]


@pytest.mark.parametrize("name,value,needle", BAD_VALUES)
def test_a_config_file_with_a_wrong_type_is_refused(name, value, needle, tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**TrainConfig().to_dict(), name: value}))
    out = tmp_path / "run"
    code = main(["train", "--config", str(path), "--out", str(out), "--no-gifs"])
    one_line_error(capsys, code, needle)
    assert not out.exists()


@pytest.mark.parametrize("name,value,needle", BAD_VALUES)
def test_the_python_api_refuses_the_same_values(name, value, needle, tmp_path):
    with pytest.raises(ConfigError, match=needle):
        poleax.train(**{name: value}, out=tmp_path / "run", gifs=False)
    assert not (tmp_path / "run").exists()


def test_the_python_api_checks_its_own_flags(tmp_path):
    for name in ("gifs", "progress"):
        with pytest.raises(ConfigError, match=f"{name} must be True or False"):
            poleax.train(**{name: "no"}, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


# --- 7: counts bounded together, memory estimated first --------------------------------------


@pytest.fixture
def eight_gigabytes(monkeypatch):
    """This machine, as the issue's: 8 GB free."""
    import poleax.resources

    monkeypatch.setattr(poleax.resources, "available_memory", lambda: 8 * 10**9)


@pytest.mark.parametrize(
    "flags,needle",
    [
        (["--num-envs", "65536", "--num-steps", "16384"], "env steps per update"),
        (["--num-envs", "65536", "--num-steps", "65536"], "env steps per update"),
        (["--num-envs", "65536", "--num-steps", "256"], "of memory"),
        (
            [
                "--seeds",
                "100000",
                "--hidden",
                "4096,4096",
                "--executor",
                "vmapped",
                "--vmap-width",
                "65536",
            ],
            "of memory",
        ),
    ],
)
def test_work_too_big_for_the_machine_is_refused_before_anything_is_written(
    flags, needle, eight_gigabytes, tmp_path, capsys
):
    out = tmp_path / "run"
    code = main(["train", *flags, "--out", str(out), "--no-gifs"])
    one_line_error(capsys, code, needle)
    assert not out.exists()


def test_an_evaluation_too_big_for_the_machine_is_refused(finished_run, monkeypatch, capsys):
    import poleax.resources

    code = main(["evaluate", str(finished_run), "--episodes", "100000000"])
    one_line_error(capsys, code, "episodes")
    monkeypatch.setattr(poleax.resources, "available_memory", lambda: 10**9)
    code = main(["evaluate", str(finished_run), "--episodes", "900000"])
    one_line_error(capsys, code, "of memory")


def test_the_default_settings_fit_easily():
    from poleax.resources import train_bytes

    assert train_bytes(build_config()) < 50 * 10**6


# --- 8: resume compares the whole recorded configuration -------------------------------------


def test_resume_refuses_an_edited_config_json(run_copy, capsys):
    (run_copy / "summary.json").unlink()  # an interrupted run
    path = run_copy / "config.json"
    config = json.loads(path.read_text())
    path.write_text(json.dumps({**config, "env": "CartPole-v1", "lr": 0.001}))
    before = snapshot(run_copy)
    code = main(["train", "--resume", str(run_copy), "--no-gifs"])
    one_line_error(capsys, code, "env, lr")
    assert snapshot(run_copy) == before


# --- 9: the small ones -------------------------------------------------------------------------


def test_render_refuses_a_negative_seed(finished_run, tmp_path, capsys):
    out = tmp_path / "x.gif"
    code = main(["render", str(finished_run), "--out", str(out), "--seed", "-1"])
    one_line_error(capsys, code, "--seed")
    assert not out.exists()


@pytest.mark.parametrize("episodes", ["0", "-1"])
def test_play_refuses_no_episodes(episodes, finished_run, monkeypatch, capsys):
    monkeypatch.setenv("DISPLAY", ":99")
    code = main(["play", str(finished_run), "--episodes", episodes])
    one_line_error(capsys, code, "--episodes")


def test_render_mp4_without_an_encoder_is_one_line_before_drawing(
    finished_run, tmp_path, monkeypatch, capsys
):
    import importlib.util

    if any(importlib.util.find_spec(n) for n in ("imageio_ffmpeg", "av")):
        pytest.skip("an MP4 encoder is installed")
    import poleax.render

    def never(*args, **kwargs):
        raise AssertionError("drew an episode it could not write")

    monkeypatch.setattr(poleax.render, "play_episode", never)
    out = tmp_path / "x.mp4"
    code = main(["render", str(finished_run), "--out", str(out)])
    one_line_error(capsys, code, "imageio-ffmpeg")
    assert not out.exists()


def test_compare_refuses_a_budget_below_one_update(tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main(["compare", "--algos", "ppo", "--seeds", "3", "--budget", "100", "--out", str(out)])
    one_line_error(capsys, code, "below one update", "128")
    assert not out.exists()


def test_rows_per_core_refuses_a_vmap_width(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--executor", "rows-per-core", "--vmap-width", "4", "--out", str(out)])
    one_line_error(capsys, code, "vmap_width")
    assert not out.exists()


@pytest.mark.parametrize("name", ["config.json", "summary.json", "checkpoint/meta.json", MARKER])
def test_export_never_replaces_a_runs_own_file(name, run_copy, capsys):
    before = snapshot(run_copy)
    code = main(["export", str(run_copy), "--format", "json", "--out", str(run_copy / name)])
    one_line_error(capsys, code, "would replace a file of run")
    assert snapshot(run_copy) == before


def test_export_may_write_beside_the_run_and_again(run_copy):
    assert main(["export", str(run_copy), "--format", "json"]) == 0
    assert main(["export", str(run_copy), "--format", "json"]) == 0  # its own earlier export
    out = run_copy / "a.json"
    assert main(["export", str(run_copy), "--format", "json", "--out", str(out)]) == 0


def test_evaluate_in_python_says_what_is_wrong(finished_run):
    policy = poleax.load(finished_run)
    with pytest.raises(ValueError, match=r"episodes must be in \[1, "):
        poleax.evaluate(policy, episodes=0)
    with pytest.raises(ValueError, match="seed must be a whole number"):
        poleax.evaluate(policy, seed=-1)


def test_a_run_before_its_first_checkpoint_says_so(tmp_path, capsys):
    from poleax.checkpoint import CheckpointError

    run = tmp_path / "run"
    run.mkdir()
    write_marker(run, "run")
    (run / "config.json").write_text(json.dumps(TrainConfig().to_dict()))
    with pytest.raises(CheckpointError, match="has not saved a checkpoint yet; rerun the command"):
        poleax.load(run)
    code = main(["train", "--resume", str(run)])
    one_line_error(capsys, code, "has not saved a checkpoint yet; rerun the command")


def test_a_sweep_that_solved_nothing_names_no_best_trial(tmp_path, monkeypatch, capsys):
    optuna = pytest.importorskip("optuna")
    import poleax.sweep
    from poleax.sweep import SweepSettings
    from poleax.sweep.outputs import write_outputs

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)

    def fresh(values):
        study = optuna.create_study()
        for value in values:
            study.add_trial(
                optuna.trial.create_trial(
                    params={"lr": 1e-3}, distributions={"lr": lr}, value=value
                )
            )
        return study

    out = tmp_path / "sweep"
    out.mkdir()
    settings_ = SweepSettings(algo="ppo", env="Pendulum-v1", total_steps=100_000, out=out)
    summary = write_outputs(fresh([100_000.0, 100_000.0]), settings_)
    assert summary["solved"] is False and "best_trial" not in summary
    assert not (out / "best_config.json").exists()
    summary = write_outputs(fresh([100_000.0, 60_000.0]), settings_)
    assert summary["solved"] is True and summary["best_trial"] == 1
    best = json.loads((out / "best_config.json").read_text())
    assert best["total_steps"] == 300_000  # Pendulum's own budget, not the sweep's

    monkeypatch.setattr(
        poleax.sweep,
        "run_sweep",
        lambda *a, **k: {"study": "s", "finished_trials": 2, "solved": False},
    )
    assert main(["sweep", "--out", str(tmp_path / "other"), "--trials", "2", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "best: trial" not in printed and "no trial solved" in printed


# --- 5: the CLI sees tasks registered from user code ---------------------------------------


def test_the_config_asks_the_registry_not_a_frozen_list(monkeypatch):
    import dataclasses

    from poleax.envs import ENV_SPECS, register

    spec = dataclasses.replace(ENV_SPECS["CartPole-v1"], id="LatePole-v1")
    register(spec)
    try:
        assert build_config(env="LatePole-v1").env == "LatePole-v1"
    finally:
        ENV_SPECS.pop("LatePole-v1")


def test_an_import_that_fails_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "broken_tasks.py").write_text("raise RuntimeError('no such physics')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code = main(["train", "--import", "broken_tasks", "--out", str(tmp_path / "run")])
    one_line_error(capsys, code, "no such physics")
    code = main(["train", "--import", "absent_tasks_module", "--out", str(tmp_path / "run")])
    one_line_error(capsys, code, "absent_tasks_module")
    assert not (tmp_path / "run").exists()


def subprocess_env(*paths: Path) -> dict[str, str]:
    path = os.pathsep.join([*(str(p) for p in paths), str(SRC), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


@pytest.mark.slow
def test_the_cli_trains_a_task_registered_by_an_imported_module(tmp_path):
    (tmp_path / "seek_tasks.py").write_text(
        "from poleax.envs import register\nfrom test_user_env import SEEK\nregister(SEEK)\n"
    )
    out = tmp_path / "run"
    command = [sys.executable, "-m", "poleax", "train", "--import", "seek_tasks"]
    command += ["--env", "Seek-v0", "--total-steps", "1024", "--no-gifs", "--out", str(out)]
    done = subprocess.run(
        command, capture_output=True, text=True, env=subprocess_env(tmp_path, TESTS), timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["env"] == "Seek-v0" and "poleax's own evaluation" in summary["verdict"]
    assert (out / "policy_map.png").stat().st_size > 0  # drawn by a worker that imported it
    evaluate = [sys.executable, "-m", "poleax", "evaluate", str(out), "--import", "seek_tasks"]
    done = subprocess.run(
        [*evaluate, "--episodes", "5"], capture_output=True, text=True,
        env=subprocess_env(tmp_path, TESTS), timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_play_refuses_a_task_with_no_gymnasium_env(tmp_path, monkeypatch, capsys):
    import dataclasses

    from poleax.envs import ENV_SPECS, register

    run = tmp_path / "run"
    monkeypatch.setenv("DISPLAY", ":99")
    spec = dataclasses.replace(ENV_SPECS["CartPole-v0"], id="NoWindow-v0", gymnasium_id="")
    register(spec)
    try:
        import poleax.cli

        class Fake:
            env_id = "NoWindow-v0"
            env_spec = spec

        monkeypatch.setattr(poleax.cli, "_load_policy", lambda *a, **k: Fake())
        code = main(["play", str(run)])
        one_line_error(capsys, code, "names no gymnasium env")
    finally:
        ENV_SPECS.pop("NoWindow-v0")


# --- 10: the budget is a budget --------------------------------------------------------------


def trained_steps(config: TrainConfig) -> tuple[int, int, int]:
    """Env steps the trainer runs for ``config`` with no early stop (as ``trainer.train``
    does: ``ceil(max_updates / updates_per_chunk)`` chunks of ``updates_per_chunk`` updates,
    a seed stopping at the first chunk end at or past ``total_steps``, the updates past
    ``max_updates`` skipped); the steps of one update; the chunks."""
    from poleax.algos import make_algorithm

    algo = make_algorithm(config)
    batch = config.num_envs * config.num_steps
    max_chunks = -(-algo.max_updates // algo.updates_per_chunk)
    per_chunk = algo.updates_per_chunk * batch
    chunks = min(max_chunks, -(-config.total_steps // per_chunk))
    updates = min(chunks * algo.updates_per_chunk, algo.max_updates)
    return updates * batch, batch, chunks


budget_settings = st.fixed_dictionaries(
    {
        "algo": st.sampled_from(["ppo", "a2c", "td-ac"]),
        "num_envs": st.sampled_from([1, 2, 4, 8, 16]),
        "num_steps": st.sampled_from([1, 5, 16, 32, 128]),
        "total_steps": st.integers(1, 2_000_000),
        "eval_every": st.integers(1, 3_000_000),
    }
)


def budget_config(values: dict) -> TrainConfig:
    return build_config(
        env="CartPole-v1",
        stop_when_solved=False,
        minibatches=1,
        epochs=1,
        normalize_advantages=False,
        **values,
    )


def test_the_issues_case_trains_its_budget_not_twice_it():
    config = budget_config(
        {"algo": "ppo", "num_envs": 4, "num_steps": 32, "total_steps": 100_000}
        | {"eval_every": 100_000}
    )
    steps, batch, _ = trained_steps(config)
    assert 100_000 <= steps < 100_000 + batch  # was 199,936


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(budget_settings)
def test_the_budget_is_spent_and_overrun_by_less_than_one_update_per_chunk(values):
    config = budget_config(values)
    steps, batch, chunks = trained_steps(config)
    assert steps >= config.total_steps
    assert steps - config.total_steps < chunks * batch


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(budget_settings)
def test_the_chunking_is_unchanged_where_it_already_kept_the_budget(values):
    """Same settings, same numbers: where the old chunking overran by less than a chunk
    count of updates, the chunks are as before."""
    from poleax.algos import make_algorithm

    config = budget_config(values)
    batch = config.num_envs * config.num_steps
    budget_updates = -(-config.total_steps // batch)
    old = max(1, min(round(config.eval_every / batch), budget_updates))
    old_chunks = -(-config.total_steps // (old * batch))
    algo = make_algorithm(config)
    if old_chunks * old - budget_updates < old_chunks:
        chunks = -(-algo.max_updates // algo.updates_per_chunk)
        assert (algo.updates_per_chunk, chunks) == (old, old_chunks)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(budget_settings)
def test_the_budget_is_never_overrun_by_more_than_one_update(values):
    config = budget_config(values)
    steps, batch, _ = trained_steps(config)
    assert config.total_steps <= steps <= config.total_steps + batch


def test_a_trained_run_stops_within_one_update_of_its_budget():
    """The last chunk's updates past the budget are skipped for real: 8 updates of 128 steps
    in chunks of 3 train 1,024 env steps, not 1,152, and every skipped update leaves the
    state as it was."""
    from poleax.trainer import train

    config = budget_config(
        {"algo": "ppo", "num_envs": 4, "num_steps": 32, "total_steps": 1000} | {"eval_every": 384}
    )
    result = train(config)
    assert int(result.history.env_steps[0]) == 1024
    assert int(result.state.update[0]) == 8
    assert result.metrics["charts/env_steps"].sum() == 1024


@pytest.mark.slow
@pytest.mark.parametrize("eval_every", [1, 2_000, 1_000_000])
def test_the_tutorials_algorithm_stops_within_one_update_of_its_budget(eval_every):
    """mc-ac's updates play whole episodes of any length, so no count of updates keeps its
    budget: its state counts env steps and the updates past the budget are skipped, whatever
    the chunking (an update is one episode here: at most 200 steps past the budget)."""
    from poleax.trainer import train

    config = build_config(
        env="CartPole-v0",
        algo="mc-ac",
        total_steps=1_500,
        eval_every=eval_every,
        stop_when_solved=False,
    )
    result = train(config)
    steps = int(result.history.env_steps[0])
    assert 1_500 <= steps < 1_500 + 200
    assert int(result.state.extra.env_steps[0]) == steps


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_an_off_policy_run_stops_within_one_update_of_its_budget(algo):
    """Chunks of 6 updates of 64 env steps (4 envs x 16 steps) would have run 1,536 steps
    for a budget of 1,200; the updates past it are skipped."""
    from poleax.trainer import train

    config = build_config(
        algo=algo,
        env="MountainCarContinuous-v0",
        total_steps=1_200,
        eval_every=400,
        num_envs=4,
        train_freq=16,
        hidden=(16, 16),
        learning_starts=200,
        stop_when_solved=False,
    )
    per_update = config.train_freq * config.num_envs
    result = train(config)
    steps = int(result.history.env_steps[0])
    assert 1_200 <= steps < 1_200 + per_update, (steps, per_update)
    assert result.metrics["charts/env_steps"].sum() == steps


def test_a_0_2_tutorial_checkpoint_resumes_within_its_budget(tmp_path, capsys):
    """A tutorial run stopped by SIGTERM at its first chunk under 0.2 (c46da14), whose state
    has no env-step counter yet: it resumes (the counter taken from its history) and ends
    within one update of its budget of 1,500 steps."""
    run = tmp_path / "old"
    shutil.copytree(Path(__file__).parent / "data" / "tutorial-0.2", run, symlinks=True)
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert 1_500 <= summary["env_steps"][0] < 1_500 + 200


# --- 11: a signal counts from the first instant, whatever the machine's speed -----------------


STAGE_MODULE = """
import os, time
from pathlib import Path

here = Path(os.environ["POLEAX_TEST_STAGE"])
(here / "importing").write_text(str(os.getpid()))  # the stage: before jax is imported
deadline = time.monotonic() + 120
while not (here / "go").exists() and time.monotonic() < deadline:
    time.sleep(0.01)
"""


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_before_jax_is_imported_stops_the_run_resumably(sig, tmp_path):
    stage = tmp_path / "stage"
    stage.mkdir()
    (tmp_path / "stage_marker.py").write_text(STAGE_MODULE)
    out = tmp_path / "run"
    env = {**subprocess_env(tmp_path), "POLEAX_TEST_STAGE": str(stage)}
    command = [sys.executable, "-m", "poleax", "train", "--import", "stage_marker"]
    command += ["--env", "CartPole-v0", "--total-steps", "2048", "--no-gifs", "--out", str(out)]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while not (stage / "importing").exists():
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the process never reached the stage"
            time.sleep(0.01)
        proc.send_signal(sig)
        (stage / "go").write_text("")
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + int(sig), err
    assert "Traceback" not in err and "--resume" in err
    assert not (out / "summary.json").exists()
    meta = json.loads((out / "checkpoint" / "meta.json").read_text())
    assert meta["trained"] is False
    resumed = subprocess.run(
        [sys.executable, "-m", "poleax", "train", "--resume", str(out), "--no-gifs"],
        capture_output=True, text=True, env=subprocess_env(), timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "summary.json").read_text())["env_steps"][0] > 0
