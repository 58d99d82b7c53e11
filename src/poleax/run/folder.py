"""The run folder: its default name, the checks before anything is written, and its lock."""

from __future__ import annotations

import os
import time
from pathlib import Path

from poleax.config import ConfigError, TrainConfig


def default_run_dir(config: TrainConfig, root: str | Path = "runs") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{config.env}__{config.algo}__{config.seed}__{stamp}"


#: Room kept under the file system's path limit for the longest name a run writes inside
#: its folder (``checkpoint/<version>/history.json.tmp`` and the like).
LONGEST_INNER_PATH = 96


def prepare_run_dir(path: str | Path, resume: bool = False) -> tuple[Path, RunLock]:
    """Create (or, resuming, reuse) a writable run folder and lock it for this process.

    Raises ``ConfigError`` (nothing written) for a file, an unwritable place, a path too long
    for the files a run writes, a folder that already holds a run, or one that another
    process is using.
    """
    if not str(path):
        raise ConfigError("--out must name a folder; got an empty path")
    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            raise ConfigError(f"--out {path} is a file, not a folder")
        _check_path_length(path)
        path.mkdir(parents=True, exist_ok=True)
        lock = RunLock(path)
    except OSError as error:
        raise ConfigError(f"cannot write to --out {path}: {error.strerror or error}") from None
    try:
        from poleax.checkpoint import has_checkpoint

        if not resume and has_checkpoint(path):
            raise ConfigError(
                f"--out {path} already holds a run; use --resume {path} or another --out"
            )
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        lock.release()
        raise ConfigError(f"cannot write to --out {path}: {error.strerror or error}") from None
    except BaseException:
        lock.release()
        raise
    return path, lock


def _check_path_length(path: Path) -> None:
    """Refuse a folder whose name, or whose inner files' paths, the file system cannot hold."""
    full = path.absolute()
    existing = next((p for p in (full, *full.parents) if p.exists()), Path("/"))
    try:
        name_max = os.pathconf(existing, "PC_NAME_MAX")
        path_max = os.pathconf(existing, "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    for part in full.parts:
        if len(os.fsencode(part)) > name_max:
            raise ConfigError(f"--out has a name longer than {name_max} bytes: {part[:40]}…")
    if len(os.fsencode(str(full))) + LONGEST_INNER_PATH > path_max:
        raise ConfigError(
            f"--out is too long ({len(str(full))} characters): a run writes files up to "
            f"{LONGEST_INNER_PATH} characters deeper, and paths are limited to {path_max}"
        )


class RunLock:
    """An exclusive ``flock`` on ``RUN/.lock`` held while a process writes the run, so two
    processes never train (or resume) into one folder; the second gets a clear error."""

    def __init__(self, run_dir: Path) -> None:
        import fcntl

        self.path = run_dir / ".lock"
        self._file = open(self.path, "a+")  # noqa: SIM115 (held until release)
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().strip() or "?"
            self._file.close()
            raise ConfigError(
                f"run folder {run_dir} is in use by another poleax process (pid {holder}); "
                "wait for it or choose another --out"
            ) from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"{os.getpid()}\n")
        self._file.flush()

    def release(self) -> None:
        if not self._file.closed:
            self._file.close()  # closing drops the flock
