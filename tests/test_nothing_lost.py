"""Issue 13's broken promises, kept: signals at every stage of a run, one process per run
folder, no hang in init, one-line errors instead of tracebacks, and results that do not
depend on thread timing. Processes here are real; racing ones start at one instant."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from run_checks import OLD_CARTPOLE, assert_ends_alike, poleax_cmd, resume

from poleax.cli import main

SHORT = ["--env", "CartPole-v1", "--total-steps", "2048", "--no-stop-when-solved", "--no-progress"]
SHORT += OLD_CARTPOLE  # the fingerprint case's run: trained once per session

# Runs `poleax.cli.main(ARGS)` after wrapping `poleax.run.<MODULE>.<NAME>` so that the process sends
# itself SIGNAL as that stage begins: the signal lands inside the stage, every time.
SIGNAL_AT_STAGE = """
import os, signal, sys
import poleax.run as run
from poleax.cli import main
stage, sig = sys.argv[1], getattr(signal, sys.argv[2])
*owner_path, name = stage.split(".")
owner = run
for part in owner_path:
    owner = getattr(owner, part)
original = getattr(owner, name)
def signalled(*args, **kwargs):
    os.kill(os.getpid(), sig)
    return original(*args, **kwargs)
setattr(owner, name, signalled)
sys.exit(main(sys.argv[3:]))
"""

# Waits for the file GO, then runs `poleax.cli.main(ARGS)`: started together, several of
# these begin within a millisecond of each other.
AT_ONCE = """
import os, sys, time
from poleax.cli import main
ready, go = sys.argv[1], sys.argv[2]
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.0002)
sys.exit(main(sys.argv[3:]))
"""


def exit_status(argv: list[str]) -> int:
    """``main(argv)``'s status, whether it returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return int(exit_.code)


def policy_params(run: Path) -> dict[str, np.ndarray]:
    from poleax import load

    params = load(run).params
    return {
        f"{layer}/{name}": np.asarray(v) for layer, d in params.items() for name, v in d.items()
    }


def start_at_once(tmp_path: Path, argvs: list[list[str]]) -> list[subprocess.CompletedProcess]:
    """Run ``poleax`` with each argv in its own process, all released at the same instant."""
    go = tmp_path / "go"
    procs, readies = [], []
    for i, argv in enumerate(argvs):
        ready = tmp_path / f"ready{i}"
        readies.append(ready)
        cmd = [sys.executable, "-c", AT_ONCE, str(ready), str(go), *argv]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in readies):
        assert time.monotonic() < deadline, "the racing processes did not start"
        time.sleep(0.01)
    go.touch()
    results = []
    for argv, proc in zip(argvs, procs, strict=True):
        out, err = proc.communicate(timeout=300)
        results.append(
            subprocess.CompletedProcess(argv, proc.returncode, out.decode(), err.decode())
        )
    return results


@pytest.fixture(scope="module")
def reference_run(train_once) -> Path:
    return train_once(*SHORT, "--no-gifs")


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_signal_during_the_final_evaluation_leaves_a_run_that_resumes(
    sig, reference_run, tmp_path
):
    out = tmp_path / "run"
    argv = ["train", *SHORT, "--no-gifs", "--out", str(out)]
    cmd = [sys.executable, "-c", SIGNAL_AT_STAGE, "training.final_evaluations", sig, *argv]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 128 + int(getattr(signal, sig)), done.stderr
    assert "--resume" in done.stderr and "Traceback" not in done.stderr
    assert not (out / "summary.json").exists()  # trained, not yet judged: not complete
    resume(out, "--no-gifs", "--no-progress")
    a, b = assert_ends_alike(out, reference_run, policy_params)
    assert a["per_seed"] == b["per_seed"]


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_signal_while_drawing_keeps_the_saved_run_complete(sig, tmp_path):
    out = tmp_path / "run"
    argv = ["train", *SHORT, "--out", str(out)]
    cmd = [sys.executable, "-c", SIGNAL_AT_STAGE, "training.draw_pictures", sig, *argv]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 128 + int(getattr(signal, sig)), done.stderr
    assert "Traceback" not in done.stderr and "poleax report" in done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["env_steps"] == [2048]
    assert json.loads((out / "checkpoint" / "meta.json").read_text())["complete"] is True
    assert main(["report", str(out)]) == 0
    assert main(["evaluate", str(out), "--episodes", "2"]) == 0


@pytest.mark.slow
def test_two_runs_into_one_folder_at_once_one_wins_whole(tmp_path):
    out = tmp_path / "shared"
    argvs = [
        ["train", *SHORT, "--no-gifs", "--algo", algo, "--out", str(out)] for algo in ("ppo", "a2c")
    ]
    results = start_at_once(tmp_path, argvs)
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 2], [r.stderr for r in results]
    winner = next(r for r in results if r.returncode == 0)
    loser = next(r for r in results if r.returncode == 2)
    lines = loser.stderr.strip().splitlines()
    assert len(lines) == 1 and ("in use by another" in lines[0] or "already holds" in lines[0])
    algo = winner.args[winner.args.index("--algo") + 1]
    assert json.loads((out / "config.json").read_text())["algo"] == algo
    assert json.loads((out / "summary.json").read_text())["algo"] == algo
    assert main(["evaluate", str(out), "--episodes", "2"]) == 0


@pytest.mark.slow
def test_two_resumes_of_one_run_at_once_one_goes_on(reference_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(reference_run, run)
    argv = ["train", "--resume", str(run), "--no-gifs", "--no-progress"]
    results = start_at_once(tmp_path, [argv, argv])
    assert sorted(r.returncode for r in results) == [0, 2], [r.stderr for r in results]
    loser = next(r for r in results if r.returncode == 2)
    assert "in use by another poleax process" in loser.stderr
    assert main(["evaluate", str(run), "--episodes", "2"]) == 0


def test_a_signal_during_init_of_many_seeds_exits_within_two_seconds(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        poleax_cmd("train", "--seeds", "3000", "--no-gifs", "--no-progress", "--out", str(out)),
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3.0)
    assert proc.poll() is None
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    # The promise (2 s) is measured by benchmarks/checkpoint.py; here, on a machine as loaded
    # as a parallel test run makes it, only that the signal does not wait for the whole init.
    assert time.monotonic() - sent < 10.0
    assert proc.returncode == 143, err
    assert "Traceback" not in err and (out / "checkpoint").exists()


def test_training_from_a_worker_thread(tmp_path):
    import poleax

    outcome: dict = {}

    def work() -> None:
        try:
            outcome["run"] = poleax.train(
                env="CartPole-v1", total_steps=1024, stop_when_solved=False, gifs=False,
                out=tmp_path / "run",
            )  # fmt: skip
        except BaseException as error:  # reported to the test thread
            outcome["error"] = error

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=300)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["run"].summary["env_steps"] == [1024]


def test_gymnasium_is_imported_once_whoever_asks_first():
    """The confirming thread may ask for gymnasium before the preload thread is started (a
    seed solved at the first chunk): both wait on one import, and nothing fails."""
    import poleax.run.judging

    calls = []

    class Preload(poleax.run.judging.GymnasiumPreload):
        @staticmethod
        def _load() -> None:
            calls.append(threading.current_thread().name)
            time.sleep(0.3)

    preload = Preload()
    errors: list[BaseException] = []

    def confirm() -> None:
        try:
            preload.wait()
        except BaseException as error:
            errors.append(error)

    judges = [threading.Thread(target=confirm) for _ in range(3)]
    for judge in judges:
        judge.start()
    preload.start()  # after the judges: the old code raised "cannot join thread"
    preload.wait()
    for judge in judges:
        judge.join()
    assert not errors and len(calls) == 1


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--total-steps", "4000000000"], "total_steps must be"),
        (["--hidden", "1000000,1000000"], "hidden must be"),
        (["--hidden", ",".join(["8"] * 9)], "hidden must be"),
        (["--stop-rule", "running-reward"], "needs --algo mc-ac"),
        (["--algo", "td-ac", "--stop-rule", "running-reward"], "needs --algo mc-ac"),
        (["--eval-episodes", "100000000"], "eval_episodes must be"),
        (["--seeds", "10000000"], "seeds must be"),
        (["--out", ""], "empty"),
        (["--config", "/dev/zero"], "not a regular file"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(args, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert exit_status(["train", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert os.listdir(tmp_path) == []


def test_names_too_long_are_one_line(tmp_path, capsys, reference_run):
    long_name = tmp_path / ("x" * 256)
    deep = tmp_path.joinpath(*["d" * 200] * 20)  # ~4,000 characters
    for argv in (
        ["train", *SHORT, "--out", str(long_name)],
        ["train", *SHORT, "--out", str(deep)],
        ["evaluate", str(long_name)],
        ["render", str(reference_run), "--out", str(tmp_path / ("y" * 300 + ".gif"))],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "Traceback" not in err[0], err
    assert sorted(os.listdir(tmp_path)) == []


def test_render_into_a_folder_is_one_line(reference_run, tmp_path, capsys):
    assert main(["render", str(reference_run), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_resume_with_another_out_is_refused(reference_run, tmp_path, capsys):
    argv = ["train", "--resume", str(reference_run), "--out", str(tmp_path / "other")]
    assert main(argv) == 2
    assert "drop --out" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()


@pytest.mark.slow
def test_output_that_takes_nothing_is_one_line_and_the_run_is_saved(tmp_path):
    out = tmp_path / "run"
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            poleax_cmd("train", *SHORT, "--no-gifs", "--out", str(out)),
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
        )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "No space left" in lines[0]
    assert json.loads((out / "summary.json").read_text())["env_steps"] == [2048]
    assert (out / "report.html").exists()


@pytest.mark.slow
def test_eval_every_beyond_the_budget_stays_within_it(tmp_path):
    out = tmp_path / "run"
    args = ["--env", "CartPole-v1", "--total-steps", "2048", "--eval-every", "1000000"]
    assert main(["train", *args, "--no-gifs", "--no-progress", "--out", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["env_steps"][0] <= 2048 + 128


@pytest.mark.slow
def test_a_resumed_tutorial_counts_on_and_draws_both_gifs(tmp_path):
    out = tmp_path / "run"
    argv = ["train", "--preset", "tutorial", "--lang", "en", "--no-progress", "--out", str(out)]
    cmd = [sys.executable, "-c", SIGNAL_AT_STAGE, "log.Reporter.update", "SIGTERM", *argv]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert first.returncode == 143, first.stderr
    assert first.stdout.splitlines()[0].startswith("episode 10:")
    resumed = resume(out, "--no-progress")
    assert resumed.stdout.splitlines()[0].startswith("episode 20:"), resumed.stdout[:300]
    assert (out / "未训练前的样子.gif").exists() and (out / "训练后的样子.gif").exists()


def _unshare_works() -> bool:
    try:
        done = subprocess.run(["unshare", "-r", "-m", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="needs unshare (a private mount namespace)")
def test_a_full_disk_is_one_line_and_leaves_no_partial_file(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    train = " ".join(poleax_cmd("train", *SHORT, "--no-gifs", "--out", str(disk / "run")))
    script = f"mount -t tmpfs -o size=60k tmpfs {disk} && {train}; echo rc=$?; ls -aR {disk}"
    done = subprocess.run(
        ["unshare", "-r", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=300
    )
    assert "rc=2" in done.stdout, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left" in lines[0], done.stderr
    assert ".tmp" not in done.stdout and "tmp-" not in done.stdout  # no half-written file


@pytest.mark.slow
def test_the_tutorial_told_to_train_on_trains_to_its_budget(tmp_path):
    out = tmp_path / "run"
    argv = ["train", "--preset", "tutorial", "--no-stop-when-solved", "--total-steps", "20000"]
    assert main([*argv, "--no-gifs", "--no-progress", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert 20_000 <= summary["env_steps"][0] < 20_000 + 10 * 200  # one chunk past, at most
    rows = (out / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) - 1 <= summary["episodes"][0]  # no empty (frozen) updates
