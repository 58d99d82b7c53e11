"""Compiled programs kept between runs in a per-user folder, so a second run skips compiling.

poleax stores its programs (init, training chunk, evaluation, GIF player) as serialized XLA
executables keyed by their settings, poleax's source and the machine. Loading one skips
tracing, lowering and compiling; JAX's own persistent cache would skip only the last.
``POLEAX_CACHE_DIR`` moves the folder, ``POLEAX_NO_COMPILE_CACHE`` turns the cache off.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import platform
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    """``$POLEAX_CACHE_DIR``, else ``$XDG_CACHE_HOME/poleax/jax``, else ``~/.cache/poleax/jax``."""
    if os.environ.get("POLEAX_CACHE_DIR"):
        return Path(os.environ["POLEAX_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "poleax" / "jax"


#: Config fields the compiled programs never see (the host uses them between calls).
HOST_ONLY_FIELDS = ("preset", "seed", "seeds", "stop_when_solved", "log_every_episodes", "lang")


@cache
def _source_digest() -> str:
    """Hash of poleax's own source files: any edit makes new programs."""
    digest = hashlib.sha256()
    root = Path(__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@cache
def _cpu_features() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            return next((line for line in handle if line.startswith("flags")), "")
    except OSError:
        return platform.processor()


def _machine_digest() -> str:
    """What a compiled program depends on besides its source: JAX and its settings (read on
    every call: a process may switch x64 on), XLA flags, CPU features."""
    import jax
    import jaxlib

    parts = [
        jax.__version__,
        jaxlib.__version__,
        str(jax.config.jax_enable_x64),
        str(jax.config.jax_default_prng_impl),
        os.environ.get("XLA_FLAGS", ""),
        jax.devices()[0].device_kind,
        _cpu_features(),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def program_key(name: str, settings: dict[str, Any]) -> str:
    """Cache key of the compiled program ``name`` for these settings on this machine."""
    material = json.dumps(
        {"name": name, "settings": settings, "source": _source_digest()}, sort_keys=True
    )
    return hashlib.sha256((material + _machine_digest()).encode()).hexdigest()[:32]


def load_or_compile(
    name: str,
    settings: dict[str, Any],
    lower: Callable[[], Any],
    options: dict[str, Any] | None = None,
):
    """The compiled program ``name``: loaded from the executable cache, else compiled and stored.

    ``settings`` is everything the program depends on besides poleax's source and the machine
    (see ``program_key``); ``options`` are XLA compiler options (part of the key). JAX's
    persistent cache skips XLA's compilation but still traces and lowers the program; a
    serialized executable skips both. ``lower()`` returns the lowered program on a miss. A
    broken entry is recompiled and replaced.
    """
    from jax.experimental import serialize_executable

    options = options or {}
    folder = _executable_dir()
    if folder is None:  # POLEAX_NO_COMPILE_CACHE, or no writable folder
        return _compile(lower(), options)
    path = folder / f"{name}-{program_key(name, {**settings, 'xla_options': options})}.bin"
    if path.exists():
        try:
            payload, in_tree, out_tree = pickle.loads(path.read_bytes())
            compiled = serialize_executable.deserialize_and_load(payload, in_tree, out_tree)
            os.utime(path)  # recently used: kept by the eviction below
            return compiled
        except Exception:  # stale or corrupt entry: compile anew
            pass
    compiled = _compile(lower(), options)
    # An executable that JAX loaded from its own persistent cache serializes without its
    # kernels (loading it later fails with "Function ... not found"): store only programs
    # compiled for real, which is always so unless the user turned JAX's cache on.
    if not _jax_cache_on():
        try:
            blob = pickle.dumps(serialize_executable.serialize(compiled))
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(blob)
            os.replace(tmp, path)
            _evict(folder)
        except Exception:  # an unwritable cache only costs speed
            pass
    return compiled


def _compile(lowered, options: dict[str, Any]):
    """``lowered.compile`` with XLA ``options``; without them on an XLA that lacks one."""
    try:
        return lowered.compile(compiler_options=options)
    except Exception as error:
        if options and "compile option" in str(error):
            return lowered.compile()
        raise


#: Executables kept (about 1 MB each); the least recently used go first.
MAX_EXECUTABLES = 60


def _evict(folder: Path) -> None:
    entries = sorted(folder.glob("*.bin"), key=lambda f: f.stat().st_mtime, reverse=True)
    for old in entries[MAX_EXECUTABLES:]:
        old.unlink(missing_ok=True)


def _jax_cache_on() -> bool:
    import jax

    return bool(jax.config.jax_compilation_cache_dir)


def _executable_dir() -> Path | None:
    if os.environ.get("POLEAX_NO_COMPILE_CACHE"):
        return None
    path = cache_dir() / "executables"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path
