"""How many CPU cores this process may use (no JAX needed to ask)."""

from __future__ import annotations

import os


def worker_count() -> int:
    """Calls run at once: one per CPU core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
