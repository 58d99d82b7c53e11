"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Every command that writes a folder (a run, a comparison, a sweep) writes through here. The
temporary file's name carries the process id and the host, so workers on several machines
sharing one folder never write into each other's temporary file; a failed write leaves none.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from functools import cache
from pathlib import Path
from typing import Any


@cache
def _host_tag() -> str:
    """A short, file-name-safe tag of this machine's name."""
    return hashlib.blake2b(socket.gethostname().encode(), digest_size=4).hexdigest()


def temporary_path(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place."""
    return path.with_name(f".{path.name}.{os.getpid()}-{_host_tag()}.tmp")


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` in one atomic step; return ``path``."""
    path = Path(path)
    tmp = temporary_path(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` in one atomic step; return ``path``."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON in one atomic step; return ``path``."""
    return write_text(path, json.dumps(data, indent=2, ensure_ascii=False))


# --- what a folder is ------------------------------------------------------------------------

#: The marker file every folder poleax writes holds first: what the folder is.
MARKER = ".poleax-folder.json"
MARKER_FORMAT = 1
KINDS = ("run", "comparison", "sweep")


def write_marker(folder: str | Path, kind: str) -> Path:
    """Say what ``folder`` is (``run``, ``comparison`` or ``sweep``), in one atomic write."""
    from poleax._version import __version__

    assert kind in KINDS, kind
    data = {"kind": kind, "format": MARKER_FORMAT, "poleax_version": __version__}
    return write_json(Path(folder) / MARKER, data)


def folder_kind(folder: str | Path) -> str | None:
    """What ``folder`` is: its marker's kind; for a folder written before markers (poleax 0.1
    and 0.2), what its files say (a run: ``checkpoint/meta.json``; a comparison:
    ``compare.json`` or ``runs/``; a sweep: ``best_config.json`` or ``study.db``); ``None``
    for a folder poleax did not write (or one that does not exist). A marker that cannot be
    read, or names no kind this poleax knows, is ``"unknown"``."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    marker = folder / MARKER
    if marker.exists():
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "unknown"
        kind = data.get("kind") if isinstance(data, dict) else None
        return kind if kind in KINDS else "unknown"
    if (
        (folder / "checkpoint" / "meta.json").is_file()
        or (folder / ".checkpoints").is_dir()
        or any(folder.glob(".checkpoint-*/meta.json"))
    ):
        return "run"
    if (folder / "compare.json").is_file() or (folder / "runs").is_dir():
        return "comparison"
    if (folder / "best_config.json").is_file() or (folder / "study.db").is_file():
        return "sweep"
    return None


_ARTICLE = {"run": "a run", "comparison": "a comparison", "sweep": "a sweep"}


def describe(kind: str) -> str:
    """``a run``, ``a comparison``, ``a sweep`` or ``a folder of an unknown kind``."""
    return _ARTICLE.get(kind, "a folder of an unknown kind (its marker is unreadable)")


def check_kind(folder: str | Path, kind: str, flag: str) -> str | None:
    """Raise ``ConfigError`` (one line) if ``folder`` is a poleax folder of another kind than
    ``kind``; return what it is (``kind`` or ``None``)."""
    from poleax.config import ConfigError

    found = folder_kind(folder)
    if found is not None and found != kind:
        where = f"{flag} {folder}".strip()
        raise ConfigError(
            f"{where} holds {describe(found)}, not {describe(kind)}; choose another folder"
        )
    return found
