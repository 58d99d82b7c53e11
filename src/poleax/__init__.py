"""poleax: actor-critic agents for the classic control tasks, fast, in jit-compiled JAX.

``poleax.train(...)``, ``poleax.load(path)`` and ``poleax.evaluate(policy, ...)`` are the
Python API; the heavy modules load on first use, so ``import poleax`` is quick.
"""

from __future__ import annotations

from typing import Any

from poleax._version import __version__


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
