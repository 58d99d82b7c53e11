"""Checks shared by the tests that stop a training run and resume it, and the settings of the
short runs several test files share."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

#: c46da14's CartPole PPO, networks of 64x64 and an evaluation every 512 env steps (one
#: layer of 32 and every 1,024 since issue 25): the fingerprint cases' CartPole runs name them
#: so that their numbers still compare, and the tests that share those runs (``train_once``)
#: name them too.
OLD_CARTPOLE = ["--hidden", "64,64", "--eval-every", "512"]


def poleax_cmd(*args: str) -> list[str]:
    """The command line of ``poleax ARGS`` in a fresh interpreter."""
    return [sys.executable, "-m", "poleax", *args]


def resume(run: Path, *flags: str) -> subprocess.CompletedProcess:
    """``poleax train --resume RUN FLAGS`` in a subprocess, which must succeed."""
    resumed = subprocess.run(
        poleax_cmd("train", "--resume", str(run), *flags), capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    return resumed


def assert_ends_alike(
    run: Path, reference: Path, arrays: Callable[[Path], dict[str, np.ndarray]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``run`` ended where ``reference`` did: every array of ``arrays(folder)`` equal, and the
    same env steps. Returns both summaries, for more checks."""
    ours, theirs = arrays(run), arrays(reference)
    assert ours.keys() == theirs.keys()
    for key in ours:
        np.testing.assert_array_equal(ours[key], theirs[key])
    a = json.loads((run / "summary.json").read_text())
    b = json.loads((reference / "summary.json").read_text())
    assert a["env_steps"] == b["env_steps"]
    return a, b
