"""The run folder: its default name, the checks before anything is written, and its lock."""

from __future__ import annotations

import os
import time
from pathlib import Path

from poleax.config import ConfigError, TrainConfig
from poleax.files import check_kind, write_marker


def default_run_dir(config: TrainConfig, root: str | Path = "runs") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{config.env}__{config.algo}__{config.seed}__{stamp}"


#: Room kept under the file system's path limit for the longest name a run writes inside
#: its folder (``checkpoint/<version>/history.json.tmp`` and the like).
LONGEST_INNER_PATH = 96


def prepare_run_dir(path: str | Path, resume: bool = False) -> tuple[Path, RunLock]:
    """Create (or, resuming, reuse) a writable run folder, lock it for this process and mark
    it as a run (``.poleax-folder.json``, before anything else is written in it).

    Raises ``ConfigError`` (nothing written) for a file, an unwritable place, a path too long
    for the files a run writes, a folder of another kind (a comparison, a sweep), a folder
    that already holds a run (unless resuming it), or one that another process is using.
    """
    if not str(path):
        raise ConfigError("--out must name a folder; got an empty path")
    path = Path(path)
    flag = "--resume" if resume else "--out"
    try:
        if path.exists() and not path.is_dir():
            raise ConfigError(f"{flag} {path} is a file, not a folder")
        check_kind(path, "run", flag)
        check_path_length(path)
        path.mkdir(parents=True, exist_ok=True)
        lock = RunLock(path)
    except OSError as error:
        raise ConfigError(f"cannot write to --out {path}: {error.strerror or error}") from None
    try:
        from poleax.checkpoint import has_checkpoint

        kind = check_kind(path, "run", flag)  # again, under the lock
        # A run may be started again in its folder only where it saved nothing yet (stopped
        # before its first checkpoint: "rerun the command").
        if not resume and (has_checkpoint(path) or (kind and (path / "summary.json").exists())):
            raise ConfigError(
                f"--out {path} already holds a run; use --resume {path} or another --out"
            )
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
        write_marker(path, "run")
    except OSError as error:
        lock.release()
        raise ConfigError(f"cannot write to --out {path}: {error.strerror or error}") from None
    except BaseException:
        lock.release()
        raise
    return path, lock


def check_path_length(path: Path, inner: int = LONGEST_INNER_PATH, what: str = "a run") -> None:
    """Refuse a folder whose name, or whose inner files' paths (up to ``inner`` characters
    below it), the file system cannot hold."""
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
    if len(os.fsencode(str(full))) + inner > path_max:
        raise ConfigError(
            f"--out is too long ({len(str(full))} characters): {what} writes files up to "
            f"{inner} characters deeper, and paths are limited to {path_max}"
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


def _run_meta(run_dir: Path, flag: str) -> dict:
    """The checkpoint metadata of the run in ``run_dir``; ``ConfigError`` (one line) where it is
    another kind of poleax folder (the message names it after ``flag``) or holds no readable
    checkpoint."""
    from poleax.checkpoint import CheckpointError, read_meta

    try:
        check_kind(run_dir, "run", flag)
        return read_meta(run_dir)
    except CheckpointError as error:
        raise ConfigError(str(error)) from None


def check_finished_run(run_dir: str | Path) -> dict:
    """Raise ``ConfigError`` (one line) unless ``run_dir`` is a finished run (its delivered
    policies saved and its ``summary.json`` written); return its checkpoint metadata."""
    run_dir = Path(run_dir)
    meta = _run_meta(run_dir, "")
    if not meta.get("complete", True) or not (run_dir / "summary.json").is_file():
        raise ConfigError(
            f"run {run_dir} is not complete (no summary.json); finish it first with: "
            f"poleax train --resume {run_dir}"
        )
    return meta


def resume_config(run_dir: str | Path) -> TrainConfig:
    """The config a run resumes with: its ``config.json``, which must agree with the whole
    configuration its checkpoint recorded (``ConfigError`` naming the fields that differ)."""
    from poleax.config import load_config

    run_dir = Path(run_dir)
    meta = _run_meta(run_dir, "--resume")
    config = load_config(run_dir / "config.json")
    recorded = meta.get("config")
    if not isinstance(recorded, dict):  # poleax 0.1: only the env, algorithm and seeds
        recorded = {k: meta[k] for k in ("env", "algo", "seeds") if k in meta}
    now = config.to_dict()
    differ = sorted(
        name
        for name, value in recorded.items()
        if name in now and _as_json(value) != _as_json(now[name])
    )
    if differ:
        raise ConfigError(
            f"{run_dir}/config.json differs from the configuration the run's checkpoint "
            f"recorded in {', '.join(differ)}; a run resumes only with its own settings "
            "(put config.json back, or start a new run with --config)"
        )
    return config


def _as_json(value):
    """``value`` as JSON reads it back (a tuple is a list), so recorded and current compare."""
    import json

    return json.loads(json.dumps(value))
