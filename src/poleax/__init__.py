"""poleax: actor-critic agents that balance CartPole, fast, in jit-compiled JAX.

``poleax.train(...)``, ``poleax.load(path)`` and ``poleax.evaluate(policy, ...)`` are the
Python API; the heavy modules load on first use, so ``import poleax`` is quick.
"""

from __future__ import annotations

import os
from typing import Any

from poleax._version import __version__

# XLA's CPU backend can wedge its multi-threaded Eigen pool on vmapped programs: every thread
# parks and the next dispatch waits forever (seen here with vmapped PPO, and reported by
# others). Single-threaded Eigen avoids it at no cost for networks this small. Set before
# JAX starts its backend; an explicit setting in XLA_FLAGS wins.
if "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
    ).strip()


def train(*args: Any, **kwargs: Any):
    """See ``poleax.api.train``."""
    from poleax.api import train as _train

    return _train(*args, **kwargs)


def load(*args: Any, **kwargs: Any):
    """See ``poleax.api.load``."""
    from poleax.api import load as _load

    return _load(*args, **kwargs)


def evaluate(*args: Any, **kwargs: Any):
    """See ``poleax.api.evaluate``."""
    from poleax.api import evaluate as _evaluate

    return _evaluate(*args, **kwargs)


__all__ = ["__version__", "evaluate", "load", "train"]
