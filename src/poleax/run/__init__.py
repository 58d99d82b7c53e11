"""A training run end to end, in rooms by job: the folder and its lock (``folder``), training
and the order of the stages (``training``), judging on gymnasium (``judging``), the pictures
(``pictures``), the summary and metrics (``summary``), and what it prints (``log``).

The CLI's ``train`` and the Python ``poleax.train`` both call ``run_training``.
"""

from poleax.run.folder import RunLock, default_run_dir, prepare_run_dir
from poleax.run.log import print_files
from poleax.run.training import Run, RunInterrupted, run_training

__all__ = [
    "Run",
    "RunInterrupted",
    "RunLock",
    "default_run_dir",
    "prepare_run_dir",
    "print_files",
    "run_training",
]
