"""JAX PRNG keys built in numpy, so the host never calls JAX just to make one."""

from __future__ import annotations

import numpy as np


def prng_key(seed: int) -> np.ndarray:
    """``jax.random.PRNGKey(seed)`` (threefry, 32-bit JAX): ``[0, seed mod 2**32]``."""
    return np.array([0, seed & 0xFFFFFFFF], np.uint32)
