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
