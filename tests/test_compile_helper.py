"""The compile helper: a second process compiles ``init`` and ``evaluate`` into the executable
cache while a run starts. Its programs compute exactly what the run's own would, and a helper
that fails or hangs only leaves the compiling to the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from poleax import compile_helper
from poleax.compile_helper import CompileHelper, programs_to_help, start
from poleax.config import build_config
from poleax.trainer import train


def short(**kw):
    values = {"total_steps": 1024, "eval_every": 512, "stop_when_solved": False, **kw}
    return build_config("ppo", "CartPole-v1", **values)


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("POLEAX_CACHE_DIR", str(tmp_path))
    return tmp_path / "executables"


def cached_programs(folder) -> list[str]:
    return sorted(entry.name.split("-")[0] for entry in folder.glob("*.bin"))


def test_the_helper_compiles_what_a_run_needs_besides_its_chunk(private_cache):
    config = short()
    assert programs_to_help(config) == ["init", "evaluate"]
    assert programs_to_help(config, fresh=False) == ["evaluate"]  # a resumed run has its state
    assert programs_to_help(build_config(preset="tutorial")) == ["init"]  # no evaluation
    helper = start(config)
    assert helper is not None
    assert helper.ready("init") and helper.ready("evaluate")
    helper.stop()
    assert cached_programs(private_cache) == ["evaluate", "init"]
    assert programs_to_help(config) == [] and start(config) is None  # warm: nothing to help


def test_a_run_helped_trains_exactly_like_a_run_alone(private_cache, monkeypatch):
    config = short()
    helper = start(config)
    assert helper is not None
    helped = train(config, helper=helper)
    helper.stop()
    assert cached_programs(private_cache) == ["evaluate", "init", "train"]
    monkeypatch.setenv("POLEAX_NO_COMPILE_CACHE", "1")
    alone = train(config)
    for a, b in zip(jax.tree.leaves(helped.state), jax.tree.leaves(alone.state), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        helped.evaluations[-1]["sampled"], alone.evaluations[-1]["sampled"]
    )


def fake_helper(code: str, names: list[str]) -> CompileHelper:
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    return CompileHelper(process, names)


def test_a_failed_helper_leaves_the_compiling_to_the_run(private_cache):
    helper = fake_helper("print('compiled nothing'); raise SystemExit(3)", ["init", "evaluate"])
    assert not helper.ready("init", timeout=60)
    result = train(short(), helper=helper)
    assert result.metrics["charts/env_steps"].sum() == 1024
    assert cached_programs(private_cache) == ["evaluate", "init", "train"]


def test_a_stuck_helper_is_stopped_at_its_time_limit():
    helper = fake_helper("import time; time.sleep(120)", ["init"])
    started = time.monotonic()
    assert not helper.ready("init", timeout=0.5)
    assert time.monotonic() - started < 10
    assert helper.process.poll() is not None  # killed


def test_no_helper_without_a_cache_or_a_second_core(private_cache, monkeypatch):
    monkeypatch.setattr(compile_helper, "worker_count", lambda: 1)
    assert start(short()) is None
    monkeypatch.undo()
    monkeypatch.setenv("POLEAX_NO_COMPILE_CACHE", "1")
    assert start(short()) is None


def test_a_cold_cli_run_gives_what_an_uncached_one_gives(tmp_path):
    def run(name: str, **env: str) -> dict:
        out = tmp_path / name
        command = [sys.executable, "-m", "poleax", "train", "--env", "CartPole-v1"]
        command += ["--total-steps", "1024", "--no-stop-when-solved", "--no-gifs"]
        result = subprocess.run(
            [*command, "--out", str(out)],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
        )
        assert result.returncode == 0, result.stderr
        return json.loads((out / "summary.json").read_text())

    cold = run("cold", POLEAX_CACHE_DIR=str(tmp_path / "cache"))
    assert cached_programs(tmp_path / "cache" / "executables") == ["evaluate", "init", "train"]
    uncached = run("uncached", POLEAX_NO_COMPILE_CACHE="1")
    assert cold["per_seed"][0]["evaluation"] == uncached["per_seed"][0]["evaluation"]
    assert cold["env_steps"] == uncached["env_steps"]
