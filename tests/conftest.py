"""One compiled-program cache for the whole test session, away from the user's own."""

from __future__ import annotations

import os

import pytest

# Helper modules whose asserts should explain themselves as a test's do.
pytest.register_assert_rewrite("gym_equivalence")


@pytest.fixture(scope="session", autouse=True)
def session_program_cache(tmp_path_factory):
    if "POLEAX_CACHE_DIR" not in os.environ:
        os.environ["POLEAX_CACHE_DIR"] = str(tmp_path_factory.mktemp("program-cache"))
    yield
