"""Sweeps on Optuna: end to end on SQLite, two workers sharing one study, PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from poleax.cli import main  # noqa: E402

SMALL = ["--env", "CartPole-v0", "--seeds", "2", "--total-steps", "4096", "--no-progress"]


def trials_of(storage: str, study: str):
    loaded = optuna.load_study(study_name=study, storage=storage)
    return loaded.get_trials(deepcopy=False)


def assert_exactly(trials, n: int) -> None:
    done = [
        t
        for t in trials
        if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    ]
    assert sorted(t.number for t in done) == list(range(n))  # none lost, none twice
    for t in trials:
        if t.number >= n:  # a place another worker took first, handed back
            assert t.state == optuna.trial.TrialState.FAIL and t.user_attrs["over_budget"]
    assert not [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]


def test_sweep_end_to_end_on_sqlite(tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["sweep", *SMALL, "--trials", "4", "--batch", "2", "--study", "e2e", "--out", str(out)]
    assert main(args) == 0
    assert "best config" in capsys.readouterr().out
    assert_exactly(trials_of(f"sqlite:///{out / 'study.db'}", "e2e"), 4)
    for name in ("best_config.json", "history.png", "summary.json"):
        assert (out / name).exists(), name
    rerun = tmp_path / "rerun"
    train_args = ["train", "--config", str(out / "best_config.json"), "--total-steps", "2048"]
    assert main([*train_args, "--no-gifs", "--no-progress", "--out", str(rerun)]) == 0
    best = json.loads((out / "best_config.json").read_text())
    assert json.loads((rerun / "config.json").read_text())["lr"] == best["lr"]


def run_workers(storage: str, study: str, trials: int, tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "poleax",
        "sweep",
        *SMALL,
        "--trials",
        str(trials),
        "--batch",
        "2",
        "--study",
        study,
        "--storage",
        storage,
    ]
    workers = [
        subprocess.Popen(
            [*cmd, "--out", str(tmp_path / f"w{i}"), "--seed", str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err


def test_two_workers_share_one_study(tmp_path):
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    optuna.create_study(study_name="pair", storage=storage)  # created once, joined by both
    run_workers(storage, "pair", 6, tmp_path)
    assert_exactly(trials_of(storage, "pair"), 6)


@pytest.mark.skipif(
    not os.environ.get("POLEAX_TEST_POSTGRES_URL") and not os.environ.get("CI"),
    reason="no PostgreSQL server (CI starts one and sets POLEAX_TEST_POSTGRES_URL)",
)
def test_two_workers_on_postgresql(tmp_path):
    url = os.environ.get("POLEAX_TEST_POSTGRES_URL")
    assert url, "CI must start PostgreSQL and set POLEAX_TEST_POSTGRES_URL"
    study = f"pg-{uuid.uuid4().hex[:8]}"
    optuna.create_study(study_name=study, storage=url)
    run_workers(url, study, 4, tmp_path)
    assert_exactly(trials_of(url, study), 4)


def test_bad_sweep_input_is_one_line(tmp_path, capsys):
    for args, needle in (
        (["--algo", "mc-ac"], "sweep supports"),
        (["--trials", "0"], "--trials must be >= 1"),
        (["--env", "Pong-v5"], "unknown env"),
        (["--storage", "postgresql://nobody@127.0.0.1:1/none"], "cannot open study storage"),
    ):
        assert main(["sweep", "--out", str(tmp_path / "s"), *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err


def test_default_batch_fills_the_cores_with_seeds(monkeypatch):
    from poleax import trainer
    from poleax.sweep import SweepSettings, trials_per_batch

    monkeypatch.setattr(trainer, "worker_count", lambda: 16)
    assert trials_per_batch(SweepSettings(seeds=2)) == 8
    assert trials_per_batch(SweepSettings(seeds=3)) == 5
    assert trials_per_batch(SweepSettings(seeds=32)) == 1
    assert trials_per_batch(SweepSettings(seeds=2, batch=3)) == 3
