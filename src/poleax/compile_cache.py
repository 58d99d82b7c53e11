"""JAX's persistent compilation cache in a per-user folder, so a second run skips compiling."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$POLEAX_CACHE_DIR``, else ``$XDG_CACHE_HOME/poleax/jax``, else ``~/.cache/poleax/jax``."""
    if os.environ.get("POLEAX_CACHE_DIR"):
        return Path(os.environ["POLEAX_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "poleax" / "jax"


def enable_compile_cache() -> Path | None:
    """Turn the cache on (every compiled program, however quick); None if it cannot be."""
    if os.environ.get("POLEAX_NO_COMPILE_CACHE"):
        return None
    import jax

    path = cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
