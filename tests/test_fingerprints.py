"""Behaviour must not move: fixed configurations trained to a fixed budget end bit for bit
where they ended at the commit the fingerprints were recorded from (``fingerprints.json``).

A fingerprint of a run is, per seed, the sha256 of its delivered policy's parameters (read
back with ``poleax.load``), the means of its final evaluation on gymnasium, its env steps
and, where the eval stop rule solved it, its steps to solve; the tutorial's running reward
and episode count besides. Floats are compared exactly.

``tests/data/run-0.2`` is a run folder written at that commit and stopped (SIGTERM) at its
first chunk: it must still load, resume to the recorded end, and its ``config.json`` must
still train (``poleax train --config``) to the same end.

Bit for bit holds for one toolchain (jax, jaxlib, numpy, gymnasium, CPU backend): with
another, the tests skip and say so. To record them again, check out the commit whose numbers
are the reference (``recorded_at`` in the file; or a later one, when a change of numbers is
intended: say so in its commit message) and run

    python tests/test_fingerprints.py --record

which retrains every case and rewrites ``tests/fingerprints.json`` (and ``tests/data/run-0.2``
when it is missing: delete it to make it again).
The cases marked slow (``pytest -m slow``) train to a solve or a longer budget.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from run_checks import OLD_CARTPOLE
from test_envs_surfaces import STOP_AT_FIRST_CHUNK  # runs `poleax train`, stopped at a chunk

import poleax

HERE = Path(__file__).parent
FINGERPRINTS = HERE / "fingerprints.json"
OLD_RUN = HERE / "data" / "run-0.2"

#: A fixed budget: no stop at a solve, few evaluation episodes.
TINY = ["--no-stop-when-solved", "--eval-episodes", "10"]
#: The short runs other tests train too (the same settings: one training per session).
SHARED = ["--total-steps", "2048", "--no-stop-when-solved"]


def tiny(env: str, steps: int = 2048, algo: str = "", executor: str = "") -> list[str]:
    """``poleax train`` arguments of a fixed budget (``TINY``) of ``steps`` on ``env``, with
    ``algo`` if given, and ``executor`` with two seeds if given."""
    more = ["--algo", algo] if algo else []
    more += ["--executor", executor, "--seeds", "2"] if executor else []
    return ["--env", env, *more, "--total-steps", str(steps), *TINY]


#: name -> (arguments of ``poleax train`` (always with --no-gifs), slow). Every task with ppo
#: (its default but on Pendulum-v1 and MountainCarContinuous-v0, named there), the other
#: on-policy algorithms, the tutorial preset and both executors.
#: The CartPoles' PPO runs name c46da14's settings (``OLD_CARTPOLE``), so that their numbers
#: still compare; likewise Acrobot-v1's evaluations every 512 env steps and 64x64 networks
#: and MountainCar-v0's PPO of c46da14 (issue 25 gave them 4,096 and one layer of 64, 8,192,
#: 64 envs and 32x32 networks).
OLD_MOUNTAIN_CAR = ["--num-envs", "16", "--hidden", "64,64", "--eval-every", "512"]
CASES: dict[str, tuple[list[str], bool]] = {
    "CartPole-v0/ppo": (["--env", "CartPole-v0", *SHARED, *OLD_CARTPOLE], False),
    "CartPole-v1/ppo": (["--env", "CartPole-v1", *SHARED, *OLD_CARTPOLE], False),
    "Acrobot-v1/ppo": ([*tiny("Acrobot-v1"), "--eval-every", "512", "--hidden", "64,64"], True),
    "MountainCar-v0/ppo": ([*tiny("MountainCar-v0"), *OLD_MOUNTAIN_CAR], True),
    "Pendulum-v1/ppo": (tiny("Pendulum-v1", algo="ppo"), False),
    "MountainCarContinuous-v0/ppo": (tiny("MountainCarContinuous-v0", 4096, algo="ppo"), True),
    "CartPole-v1/a2c": (tiny("CartPole-v1", algo="a2c"), True),
    "CartPole-v1/td-ac": (tiny("CartPole-v1", algo="td-ac"), True),
    # 3,500 steps: the chunk that crosses the budget ends at its crossing update, so the
    # budget rule (no update after the budget is spent) moves nothing. At 3,000, c46da14
    # trained on to the chunk's end, 3,177 steps; now 3,121, the update that crosses it.
    "CartPole-v1/mc-ac": (tiny("CartPole-v1", 3500, algo="mc-ac"), True),
    "Pendulum-v1/a2c": (tiny("Pendulum-v1", algo="a2c"), True),
    "MountainCarContinuous-v0/td-ac": (tiny("MountainCarContinuous-v0", algo="td-ac"), True),
    # 3,304 steps: where c46da14's run with a budget of 3,000 ended (its last chunk's end),
    # which the budget rule now reaches exactly, its crossing update being that chunk's last.
    "tutorial": (["--preset", "tutorial", "--total-steps", "3304", *TINY], False),
    "CartPole-v1/ppo/vmapped": ([*tiny("CartPole-v1", executor="vmapped"), *OLD_CARTPOLE], False),
    "Pendulum-v1/ppo/vmapped": (tiny("Pendulum-v1", algo="ppo", executor="vmapped"), True),
    "CartPole-v1/ppo/rows-per-core": (
        [*tiny("CartPole-v1", executor="rows-per-core"), *OLD_CARTPOLE],
        True,
    ),
    # Trained until solved: the steps to solve, and the tutorial's running-reward stop.
    "CartPole-v0/ppo/solved": (["--env", "CartPole-v0", "--seed", "1", *OLD_CARTPOLE], True),
    "tutorial/stopped": (["--preset", "tutorial"], True),
}

#: The run folder of ``tests/data``: small enough to keep in the repository.
OLD_RUN_ARGS = ["--env", "CartPole-v1", "--hidden", "16", "--total-steps", "2048"]
OLD_RUN_ARGS += ["--no-stop-when-solved", "--eval-episodes", "5", "--no-gifs", "--no-progress"]


def params_sha256(params: dict[str, dict[str, np.ndarray]]) -> str:
    """One hash of every layer's arrays: names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for layer in sorted(params):
        for name in sorted(params[layer]):
            value = np.ascontiguousarray(params[layer][name])
            digest.update(f"{layer}/{name}:{value.dtype.str}:{value.shape}|".encode())
            digest.update(value.tobytes())
    return digest.hexdigest()


def fingerprint(run_dir: Path) -> dict[str, Any]:
    """What must not move in a finished run folder."""
    summary = json.loads((run_dir / "summary.json").read_text())
    seeds = []
    for i, seed in enumerate(summary["per_seed"]):
        params = poleax.load(run_dir, i).params
        entry = {
            "params_sha256": params_sha256(params),
            # Not compared: says how far apart two runs are when their hashes differ.
            "params_abs_sum": float(
                sum(
                    np.abs(v).sum(dtype=np.float64)
                    for layer in params.values()
                    for v in layer.values()
                )
            ),
            "env_steps": summary["env_steps"][i],
            "greedy_mean": seed["evaluation"]["greedy"]["mean"],
            "sampled_mean": seed["evaluation"]["sampled"]["mean"],
        }
        if summary["stop_rule"] == "eval":  # the tutorial's verdict may change (issue 22)
            entry["steps_to_solve"] = seed["steps_to_solve"]
        seeds.append(entry)
    out: dict[str, Any] = {"seeds": seeds}
    for key in ("running_reward", "episodes"):
        if key in summary:
            out[key] = summary[key]
    return out


def without_diagnostics(print_: dict[str, Any]) -> dict[str, Any]:
    seeds = [{k: v for k, v in s.items() if k != "params_abs_sum"} for s in print_["seeds"]]
    return {**print_, "seeds": seeds}


def train_case(name: str, out: Path) -> Path:
    from poleax.cli import main

    args, _slow = CASES[name]
    assert main(["train", *args, "--no-gifs", "--no-progress", "--out", str(out)]) == 0
    return out


def toolchain() -> dict[str, str]:
    """What the numbers depend on besides poleax: bit-for-bit holds within one of these."""
    import platform

    import gymnasium
    import jax
    import jaxlib

    return {
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "numpy": np.__version__,
        "gymnasium": gymnasium.__version__,
        "backend": jax.default_backend(),
        "machine": platform.machine(),
    }


def recorded() -> dict[str, Any]:
    data = json.loads(FINGERPRINTS.read_text())
    ours = toolchain()
    if data["recorded_with"] != ours:
        pytest.skip(
            f"fingerprints recorded with {data['recorded_with']}, this is {ours}: record them "
            f"again at commit {data['recorded_at']} (python tests/test_fingerprints.py --record)"
        )
    return data


def assert_same(name: str, found: dict[str, Any], expected: dict[str, Any]) -> None:
    assert without_diagnostics(found) == without_diagnostics(expected), (
        f"{name} moved from its recorded fingerprint:\n"
        f"found    {json.dumps(found, sort_keys=True)}\n"
        f"recorded {json.dumps(expected, sort_keys=True)}"
    )


def case_params():
    for name, (_kwargs, slow) in CASES.items():
        yield pytest.param(name, id=name, marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("name", list(case_params()))
def test_a_fixed_budget_ends_where_it_did(name, train_once):
    args, _slow = CASES[name]
    found = fingerprint(train_once(*args, "--no-gifs"))
    assert_same(name, found, recorded()["cases"][name])


def copy_old_run(tmp_path: Path) -> Path:
    copy = tmp_path / "old"
    shutil.copytree(OLD_RUN, copy, symlinks=True)
    return copy


def test_a_0_2_checkpoint_still_loads(tmp_path):
    run = copy_old_run(tmp_path)
    policy = poleax.load(run)
    assert params_sha256(policy.params) == recorded()["old_run"]["loaded_params_sha256"]
    obs = np.random.default_rng(0).normal(scale=0.1, size=(64, 4))
    assert policy.act(obs).tolist() == recorded()["old_run"]["actions"]


def test_a_0_2_checkpoint_resumes_to_the_recorded_end(tmp_path):
    from poleax.cli import main

    run = copy_old_run(tmp_path)
    assert main(["train", "--resume", str(run), "--no-progress", "--no-gifs"]) == 0
    assert_same("old run resumed", fingerprint(run), recorded()["old_run"]["finished"])


def test_a_0_2_config_json_still_trains_the_same_run(tmp_path):
    from poleax.cli import main

    out = tmp_path / "again"
    args = ["train", "--config", str(OLD_RUN / "config.json"), "--out", str(out)]
    assert main([*args, "--no-gifs", "--no-progress"]) == 0
    assert_same("old config rerun", fingerprint(out), recorded()["old_run"]["finished"])


def record(work: Path) -> None:
    """Retrain every case and the old run folder; rewrite the recorded files."""
    commit = subprocess.run(  # the last commit that changed the code (not only the tests)
        ["git", "log", "-1", "--format=%h", "--", "src"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    cases = {}
    for name in CASES:
        print("recording", name, flush=True)
        cases[name] = fingerprint(train_case(name, work / name.replace("/", "_")))
    if not OLD_RUN.exists():  # kept once made: its bytes are what an old version wrote
        OLD_RUN.parent.mkdir(exist_ok=True)
        argv = ["train", *OLD_RUN_ARGS, "--out", str(OLD_RUN)]
        stopped = subprocess.run([sys.executable, "-c", STOP_AT_FIRST_CHUNK, *argv])
        assert stopped.returncode == 143, stopped.returncode
        (OLD_RUN / ".lock").unlink(missing_ok=True)
    policy = poleax.load(OLD_RUN)
    obs = np.random.default_rng(0).normal(scale=0.1, size=(64, 4))
    finished = work / "old-finished"
    shutil.copytree(OLD_RUN, finished, symlinks=True)
    resumed = subprocess.run([sys.executable, "-m", "poleax", "train", "--resume", str(finished)])
    assert resumed.returncode == 0
    old_run = {
        "loaded_params_sha256": params_sha256(policy.params),
        "actions": policy.act(obs).tolist(),
        "finished": fingerprint(finished),
    }
    data = {"recorded_at": commit, "recorded_with": toolchain(), "cases": cases}
    data["old_run"] = old_run
    FINGERPRINTS.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print("wrote", FINGERPRINTS, "and", OLD_RUN)


if __name__ == "__main__":
    import tempfile

    if sys.argv[1:] != ["--record"]:
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory() as work:
        record(Path(work))
