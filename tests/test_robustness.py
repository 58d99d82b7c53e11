"""Nothing lost: interrupts and resume, non-finite values, corrupt checkpoints, fuzzed input."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from run_checks import OLD_CARTPOLE, assert_ends_alike, poleax_cmd, resume

from poleax.cli import _config_from_args, build_parser, main
from poleax.config import ConfigError, TrainConfig

# Long enough that a signal 1-3 s after launch lands mid-run (16x16 networks train 61,440
# steps in some 6 s here, more on a loaded machine), short enough to train three times.
TRAIN = ["--env", "CartPole-v0", "--total-steps", "61440", "--no-stop-when-solved", "--no-gifs"]


def policy_arrays(run: Path) -> dict[str, np.ndarray]:
    with np.load(run / "checkpoint" / "policy.npz") as data:
        return {k: data[k] for k in data.files}


def config_or_clean_error(build: Callable[[], TrainConfig]) -> TrainConfig | None:
    """``build()``'s config, or None where it raised a one-line ``ConfigError``."""
    try:
        config = build()
    except ConfigError as error:
        assert "\n" not in str(error)
        return None
    assert isinstance(config, TrainConfig)
    return config


@pytest.fixture(scope="module")
def uninterrupted(train_once) -> Path:
    return train_once(*TRAIN)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_killed_run_saves_exits_fast_and_resumes_to_the_same_parameters(
    sig, uninterrupted, tmp_path
):
    out = tmp_path / "run"
    rng = random.Random(int(sig))
    proc = subprocess.Popen(
        poleax_cmd("train", *TRAIN, "--out", str(out)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(rng.uniform(1.0, 3.0))
    if proc.poll() is not None:
        pytest.fail("training finished before the signal; raise the budget")
    sent = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 5.0  # the promise, 2 s, is a benchmark's; slack for load
    assert proc.returncode == 128 + int(sig), err
    assert "--resume" in err and "Traceback" not in err
    assert (out / "checkpoint" / "meta.json").exists()
    assert not (out / "summary.json").exists()  # an interrupted run never looks complete
    resume(out, "--no-gifs")
    assert_ends_alike(out, uninterrupted, policy_arrays)


@pytest.mark.slow
def test_a_run_stopped_while_compiling_resumes_from_the_start(tmp_path):
    out = tmp_path / "run"
    short = ["--env", "CartPole-v0", "--total-steps", "2048", "--no-gifs", "--out", str(out)]
    env = {**os.environ, "POLEAX_NO_COMPILE_CACHE": "1"}  # compiling takes seconds
    proc = subprocess.Popen(poleax_cmd("train", *short), stderr=subprocess.PIPE, text=True, env=env)
    # The stage, not a number of seconds: config.json is written just before the programs
    # compile (issue 26, item 11: 1.5 s was before compiling on a slower machine).
    deadline = time.monotonic() + 120
    while not (out / "config.json").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    meta = json.loads((out / "checkpoint" / "meta.json").read_text())
    assert meta["trained"] is False and not (out / "summary.json").exists()
    assert main(["evaluate", str(out)]) == 2  # one line: resume it first
    resume(out, "--no-gifs")
    assert json.loads((out / "summary.json").read_text())["env_steps"][0] > 0


@pytest.mark.slow
def test_non_finite_values_stop_training_and_keep_the_last_good_checkpoint(
    tmp_path, monkeypatch, capsys
):
    import jax
    import jax.numpy as jnp

    import poleax.algos
    import poleax.run.training
    import poleax.trainer
    from poleax.algos import make_algorithm

    def poisoned(config):
        algo = make_algorithm(config)

        def update(state):
            state, metrics = algo.update(state)
            bad = state.update >= 13  # update 13 leaves infinite parameters: loss 14 is NaN
            params = jax.tree.map(lambda p: jnp.where(bad, p * jnp.inf, p), state.params)
            return state._replace(params=params), metrics

        return algo._replace(update=update)

    monkeypatch.setattr(poleax.algos, "make_algorithm", poisoned)  # the run builds it
    monkeypatch.setattr(poleax.trainer, "make_algorithm", poisoned)
    monkeypatch.setenv("POLEAX_NO_COMPILE_CACHE", "1")  # keep the poisoned programs out of it
    monkeypatch.setattr(poleax.run.training, "CHECKPOINT_EVERY_CHUNKS", 1)
    out = tmp_path / "run"
    args = ["train", *TRAIN, "--eval-every", "256", "--out", str(out), "--no-progress"]
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "non-finite" in err[0] and "update 14" in err[0]
    with np.load(out / "checkpoint" / "state.npz") as state:
        assert all(np.all(np.isfinite(state[k])) for k in state.files if state[k].dtype.kind == "f")
    meta = json.loads((out / "checkpoint" / "meta.json").read_text())
    assert meta["complete"] is False
    assert not (out / "summary.json").exists()


@pytest.fixture(scope="module")
def small_run(train_once) -> Path:
    args = ["--env", "CartPole-v0", "--total-steps", "2048", "--no-stop-when-solved"]
    return train_once(*args, *OLD_CARTPOLE, "--no-gifs")  # the fingerprint case's run


def corrupt(run: Path, tmp_path: Path, how: str) -> Path:
    import shutil

    copy = tmp_path / how
    shutil.copytree(run, copy)
    meta_path = copy / "checkpoint" / "meta.json"
    policy = copy / "checkpoint" / "policy.npz"
    if how == "truncated":
        policy.write_bytes(policy.read_bytes()[:100])
    elif how == "garbage-meta":
        meta_path.write_text("{oops")
    elif how == "newer-format":
        meta = json.loads(meta_path.read_text())
        meta["format_version"] = 99
        meta_path.write_text(json.dumps(meta))
    elif how == "other-network":
        meta = json.loads(meta_path.read_text())
        meta["network"]["hidden"] = [32]  # the run trained 64x64
        meta_path.write_text(json.dumps(meta))
    elif how == "other-algo":
        config = json.loads((copy / "config.json").read_text())
        config.update(algo="mc-ac", hidden=[128], shared_trunk=True, activation="relu")
        (copy / "config.json").write_text(json.dumps(config))
    return copy


@pytest.mark.parametrize(
    "how,needle",
    [
        ("truncated", "corrupt checkpoint"),
        ("garbage-meta", "corrupt checkpoint metadata"),
        ("newer-format", "newer than this poleax"),
        ("other-network", "does not match"),
    ],
)
def test_bad_checkpoints_are_one_line_errors(small_run, tmp_path, capsys, how, needle):
    bad = corrupt(small_run, tmp_path, how)
    for args in (["evaluate", str(bad)], ["render", str(bad), "--out", str(tmp_path / "x.gif")]):
        assert main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err


def test_resume_with_a_checkpoint_of_another_algorithm(small_run, tmp_path, capsys):
    bad = corrupt(small_run, tmp_path, "other-algo")
    assert main(["train", "--resume", str(bad), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    # config.json names another algorithm than the checkpoint recorded (issue 26, item 8)
    assert len(err) == 1 and "differs from the configuration" in err[0] and "algo" in err[0]


def test_resume_refuses_other_settings(small_run, capsys):
    assert main(["train", "--resume", str(small_run), "--lr", "0.1"]) == 2
    assert "drop the other settings" in capsys.readouterr().err


def test_out_that_already_holds_a_run(small_run, capsys):
    assert main(["train", "--out", str(small_run)]) == 2
    assert "already holds a run" in capsys.readouterr().err


FLAG_VALUES = st.one_of(
    st.text(max_size=8),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "-1", "1e309", "nan", "inf", "", "64,", ",", "1,2,3"]),
)
FLAGS = st.sampled_from(
    [
        "--lr",
        "--gamma",
        "--num-envs",
        "--num-steps",
        "--total-steps",
        "--seeds",
        "--seed",
        "--minibatches",
        "--epochs",
        "--gae-lambda",
        "--clip-eps",
        "--hidden",
        "--env",
        "--algo",
        "--eval-every",
        "--max-grad-norm",
        "--ent-coef",
        "--preset",
        "--lang",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(FLAGS, FLAG_VALUES), max_size=4))
def test_fuzzed_train_flags_give_a_config_or_a_clean_error(pairs):
    argv = ["train"]
    for flag, value in pairs:
        argv += [flag, value] if not value.startswith("-") else [f"{flag}={value}"]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        assert exit_.code == 2
        return
    config = config_or_clean_error(lambda: _config_from_args(args))
    if config is None:
        return
    assert config.lr > 0 and 0 < config.gamma <= 1
    assert (config.num_envs * config.num_steps) % config.minibatches == 0


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([f.name for f in TrainConfig.__dataclass_fields__.values()] + ["bogus"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(),
            st.text(max_size=5),
            st.lists(st.integers(-3, 300), max_size=3),
        ),
        max_size=5,
    )
)
def test_fuzzed_config_files_give_a_config_or_a_clean_error(tmp_path_factory, data):
    from poleax.config import load_config

    path = tmp_path_factory.mktemp("cfg") / "config.json"
    path.write_text(json.dumps(data))
    config_or_clean_error(lambda: load_config(path))


def test_interrupted_run_folder_is_not_taken_for_a_complete_one(tmp_path, capsys):
    run = tmp_path / "partial"
    (run / "checkpoint").mkdir(parents=True)
    (run / "checkpoint" / "meta.json").write_text(json.dumps({"format_version": 1}))
    assert main(["report", str(run)]) == 2
    assert "not complete" in capsys.readouterr().err
    assert os.listdir(run) == ["checkpoint"]


def test_a_failing_call_is_raised_once_the_running_calls_have_ended():
    import threading

    from poleax.executor import run_calls

    running, ran = [0], []
    lock = threading.Lock()

    def call(fail: bool, seconds: float, name: str):
        def run():
            with lock:
                running[0] += 1
            try:
                time.sleep(seconds)
                if fail:
                    raise ValueError(name)
                ran.append(name)
            finally:
                with lock:
                    running[0] -= 1

        return run

    calls = [call(True, 0.05, "bad"), call(False, 0.6, "slow"), call(False, 0.0, "later")]
    with pytest.raises(ValueError, match="bad"):
        run_calls(calls)
    assert running[0] == 0  # nothing still runs beside the error (XLA aborts at exit if so)
    assert "later" not in ran  # and nothing starts after it
