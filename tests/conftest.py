"""Shared test fixtures: one compiled-program cache for the whole session, away from the
user's own, and small trained runs, each trained once per session."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

# Helper modules whose asserts should explain themselves as a test's do.
pytest.register_assert_rewrite("gym_equivalence")


@pytest.fixture(scope="session", autouse=True)
def session_program_cache(tmp_path_factory):
    """``POLEAX_CACHE_DIR`` as given, else one cache for the session (shared by its xdist
    workers, whose temporary folders sit side by side; poleax's cache writes are atomic)."""
    if "POLEAX_CACHE_DIR" not in os.environ:
        base = tmp_path_factory.getbasetemp()
        if os.environ.get("PYTEST_XDIST_WORKER"):
            base = base.parent
        cache = base / "program-cache"
        cache.mkdir(exist_ok=True)
        os.environ["POLEAX_CACHE_DIR"] = str(cache)
    yield


def settings_key(args: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """``poleax train`` arguments as a key that does not depend on their order: each flag with
    the values after it, sorted (``--no-progress`` left out: the factory always adds it)."""
    groups: list[tuple[str, ...]] = []
    for arg in args:
        if arg.startswith("--") or not groups:
            groups.append((arg,))
        else:
            groups[-1] = (*groups[-1], arg)
    return tuple(sorted(g for g in groups if g != ("--no-progress",)))


@pytest.fixture(scope="session")
def train_once(tmp_path_factory) -> Callable[..., Path]:
    """``train_once(*args)``: the run folder of ``poleax train *args``, trained once per
    session for the same arguments (in any order) and shared by every test that asks for it:
    read it, or copy it before changing it."""
    from poleax.cli import main

    runs: dict[tuple, Path] = {}

    def train(*args: str) -> Path:
        key = settings_key(args)
        if key not in runs:
            out = tmp_path_factory.mktemp("trained") / "run"
            assert main(["train", *args, "--no-progress", "--out", str(out)]) == 0
            runs[key] = out
        return runs[key]

    return train
