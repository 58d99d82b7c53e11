"""Bad input: one line on stderr naming the problem, exit 2, no traceback, nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from poleax.cli import main


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(args)
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    "args,needles",
    [
        (["--env", "Humanoid-v4"], ["--env", "CartPole-v0", "Acrobot-v1"]),
        (["--algo", "dqn"], ["--algo", "ppo"]),
        (["--preset", "fast"], ["--preset", "tutorial"]),
        (["--lr", "abc"], ["--lr", "number"]),
        (["--lr", "-0.1"], ["lr", "(0, 10]"]),
        (["--lr", "0"], ["lr"]),
        (["--gamma", "1.5"], ["gamma", "(0, 1]"]),
        (["--gamma", "0"], ["gamma"]),
        (["--num-envs", "0"], ["num_envs", "in [1, "]),
        (["--num-envs", "2.5"], ["--num-envs", "whole number"]),
        (["--total-steps", "-5"], ["total_steps"]),
        (["--seeds", "0"], ["seeds"]),
        (["--gae-lambda", "2"], ["gae_lambda"]),
        (["--minibatches", "3"], ["minibatches (3) must divide", "128"]),
        (["--hidden", "64,x"], ["--hidden"]),
        (["--lr", "nan"], ["--lr"]),
    ],
)
def test_bad_train_flags(args, needles, capsys, tmp_path):
    out_dir = tmp_path / "run"
    code, _, err = run_cli(["train", "--out", str(out_dir), *args], capsys)
    assert_one_line_error(code, err, *needles)
    assert not out_dir.exists()


def test_out_that_is_a_file(capsys, tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x")
    code, _, err = run_cli(["train", "--out", str(target), "--total-steps", "1000"], capsys)
    assert_one_line_error(code, err, "is a file")


def test_out_not_writable(capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        probe = locked / "probe"
        try:
            probe.write_text("")
            pytest.skip("running as a user who can write anywhere (root)")
        except OSError:
            pass
        code, _, err = run_cli(["train", "--out", str(locked / "run")], capsys)
        assert_one_line_error(code, err, "cannot write")
    finally:
        locked.chmod(0o700)


def test_out_under_a_file_is_not_writable(capsys, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    code, _, err = run_cli(["train", "--out", str(blocker / "run")], capsys)
    assert_one_line_error(code, err, "cannot write")


@pytest.mark.parametrize("command", ["evaluate", "render", "report"])
def test_commands_on_missing_or_non_run_folders(command, capsys, tmp_path):
    extra = ["--out", str(tmp_path / "x.gif")] if command == "render" else []
    code, _, err = run_cli([command, str(tmp_path / "nope"), *extra], capsys)
    assert_one_line_error(code, err, "not found")
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_cli([command, str(empty), *extra], capsys)
    assert_one_line_error(code, err, "not a poleax run")


def test_resume_of_a_missing_run(capsys, tmp_path):
    code, _, err = run_cli(["train", "--resume", str(tmp_path / "nope")], capsys)
    assert_one_line_error(code, err, "not found")


def test_config_file_errors(capsys, tmp_path):
    code, _, err = run_cli(["train", "--config", str(tmp_path / "none.json")], capsys)
    assert_one_line_error(code, err, "not found")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = run_cli(["train", "--config", str(bad)], capsys)
    assert_one_line_error(code, err, "cannot read config")
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"learning_rate": 3}))
    code, _, err = run_cli(["train", "--config", str(unknown)], capsys)
    assert_one_line_error(code, err, "unknown config keys: learning_rate")


def test_help_and_version_import_no_jax():
    code = (
        "import sys; from poleax.cli import build_parser; "
        "p = build_parser(); p.format_help(); "
        "assert 'jax' not in sys.modules, 'jax imported'; print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    version = subprocess.run(
        [sys.executable, "-m", "poleax", "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("poleax ")


def test_train_help_documents_every_flag_with_its_default(capsys):
    code, out, _ = run_cli(["train", "--help"], capsys)
    assert code == 0
    for flag in (
        "--env",
        "--algo",
        "--seed",
        "--seeds",
        "--total-steps",
        "--num-envs",
        "--lr",
        "--gamma",
        "--detach-advantage",
        "--stop-when-solved",
    ):
        assert flag in out
    assert out.count("default:") >= 30
    assert "Path" not in out and Path is not None
