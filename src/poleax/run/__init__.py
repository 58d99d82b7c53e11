"""A training run end to end, in rooms by job: the folder and its lock (``folder``), training
and the order of the stages (``training``), judging on gymnasium (``judging``), the pictures
(``pictures``), the summary and metrics (``summary``), and what it prints (``log``).

The CLI's ``train`` and the Python ``poleax.train`` both call ``run_training``.

The names below are imported when first used, not with the package: the picture worker
process imports ``poleax.run.pictures`` and needs neither JAX nor the trainer (importing
them cost each of its two processes a second of CPU).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from poleax.run.folder import RunLock, default_run_dir, prepare_run_dir
    from poleax.run.log import print_files
    from poleax.run.training import Run, RunInterrupted, run_training

#: Each public name, and the room it lives in.
_ROOMS = {
    "Run": "training",
    "RunInterrupted": "training",
    "run_training": "training",
    "RunLock": "folder",
    "default_run_dir": "folder",
    "prepare_run_dir": "folder",
    "print_files": "log",
}

__all__ = [
    "Run",
    "RunInterrupted",
    "RunLock",
    "default_run_dir",
    "prepare_run_dir",
    "print_files",
    "run_training",
]


def __getattr__(name: str) -> Any:
    room = _ROOMS.get(name)
    if room is not None:
        value = getattr(importlib.import_module(f"poleax.run.{room}"), name)
        globals()[name] = value
        return value
    if importlib.util.find_spec(f"poleax.run.{name}") is not None:  # a room itself
        return importlib.import_module(f"poleax.run.{name}")
    raise AttributeError(name)
