"""The executable cache: a loaded program computes what a compiled one does, a broken entry
is compiled anew, and keys follow exactly the settings the programs see."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from poleax import compile_cache
from poleax.compile_cache import HOST_ONLY_FIELDS, program_key
from poleax.config import build_config
from poleax.keys import prng_key
from poleax.trainer import train


def short(**kw):
    values = {"total_steps": 1024, "eval_every": 512, "stop_when_solved": False, **kw}
    return build_config("ppo", "CartPole-v1", **values)


def final_arrays(result):
    return jax.tree.leaves(result.state)


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("POLEAX_CACHE_DIR", str(tmp_path))
    return tmp_path / "executables"


@pytest.mark.slow
def test_loaded_programs_train_exactly_like_compiled_ones(private_cache, monkeypatch):
    compiled = train(short())
    entries = sorted(p.name.split("-")[0] for p in private_cache.glob("*.bin"))
    assert entries == ["evaluate", "init", "screen", "train"]
    compiles = []
    real = compile_cache._compile
    monkeypatch.setattr(compile_cache, "_compile", lambda *a: compiles.append(1) or real(*a))
    loaded = train(short())
    assert not compiles  # every program loaded: their trees (named tuples too) rebuilt
    for a, b in zip(final_arrays(compiled), final_arrays(loaded), strict=True):
        np.testing.assert_array_equal(a, b)
    monkeypatch.setenv("POLEAX_NO_COMPILE_CACHE", "1")
    uncached = train(short())
    for a, b in zip(final_arrays(compiled), final_arrays(uncached), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_a_corrupt_entry_is_compiled_anew(private_cache):
    first = train(short())
    for entry in private_cache.glob("*.bin"):
        entry.write_bytes(b"not an executable")
    second = train(short())
    for a, b in zip(final_arrays(first), final_arrays(second), strict=True):
        np.testing.assert_array_equal(a, b)
    assert all(entry.stat().st_size > 1000 for entry in private_cache.glob("*.bin"))


def test_keys_change_with_program_settings_only():
    base = short().to_dict()
    settings = {k: v for k, v in base.items() if k not in HOST_ONLY_FIELDS}
    key = program_key("train", settings)
    assert key == program_key("train", dict(settings))
    assert key != program_key("evaluate", settings)
    assert key != program_key("train", {**settings, "epochs": 10})
    assert key != program_key("train", {**settings, "total_steps": 2048})  # lr schedule


@pytest.mark.parametrize("seed", [0, 1, 42, 2**31 - 1, 2**32 - 1])
def test_numpy_keys_are_jax_keys(seed):
    np.testing.assert_array_equal(prng_key(seed), np.asarray(jax.random.PRNGKey(seed)))
