"""Random numbers for a whole rollout or evaluation from one threefry draw.

Every random-number call site costs XLA's CPU compiler kernels of its own, so a program draws
all the bits a rollout or an evaluation needs in one call, before its loop, and cuts them into
pieces. The draws are JAX's own numbers (threefry-2x32, as ``jax.random`` makes them with its
default ``jax_threefry_partitionable``), but computed by ``threefry2x32`` below, written out
round by round: JAX's CPU lowering keeps the 20 rounds in a 5-step loop, which XLA compiles
into several kernels (about 0.12 s of compile time per call site here) and runs 5x slower.
Written out, a draw is one fused kernel. The run-once init programs, compiled without LLVM's
optimisation and with XLA's older emitters, keep ``jax.random``: there the loop compiles
cheaper (0.36 against 0.45 CPU-s for PPO's init, measured).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KEY_PARITY = 0x1BD11BDA


def threefry2x32(key: jax.Array, x1: jax.Array, x2: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Threefry-2x32 (20 rounds) of the counter words ``(x1, x2)`` under ``key`` (uint32[2]).

    The same function as JAX's ``threefry2x32_p``, in plain array operations.
    """
    k1, k2 = key[0], key[1]
    schedule = (k1, k2, k1 ^ k2 ^ jnp.uint32(_KEY_PARITY))
    x1, x2 = x1 + schedule[0], x2 + schedule[1]
    for block in range(5):
        for rotation in _ROTATIONS[block % 2]:
            x1 = x1 + x2
            x2 = x1 ^ ((x2 << jnp.uint32(rotation)) | (x2 >> jnp.uint32(32 - rotation)))
        x1 = x1 + schedule[(block + 1) % 3]
        x2 = x2 + schedule[(block + 2) % 3] + jnp.uint32(block + 1)
    return x1, x2


def _counter_words(n: int) -> tuple[jax.Array, jax.Array]:
    """Counters ``0 .. n - 1`` as (high, low) 32-bit words (``n < 2**32``)."""
    return jnp.zeros((n,), jnp.uint32), jnp.arange(n, dtype=jnp.uint32)


def split(key: jax.Array, num: int = 2) -> jax.Array:
    """``jax.random.split(key, num)`` for a raw threefry key: ``uint32[num, 2]``."""
    high, low = threefry2x32(key, *_counter_words(num))
    return jnp.stack([high, low], axis=1)


def fold_in(key: jax.Array, data: jax.Array | int) -> jax.Array:
    """``jax.random.fold_in(key, data)`` for a raw threefry key and 32-bit ``data``."""
    data = jnp.asarray(data, jnp.uint32).reshape(1)
    high, low = threefry2x32(key, jnp.zeros((1,), jnp.uint32), data)
    return jnp.concatenate([high, low])


def bits(key: jax.Array, shapes: Sequence[tuple[int, ...]]) -> list[jax.Array]:
    """Random ``uint32`` arrays of the given shapes, from one threefry draw: the pieces of
    ``jax.random.bits(key, (total,))``."""
    sizes = [math.prod(shape) for shape in shapes]
    high, low = threefry2x32(key, *_counter_words(sum(sizes)))
    flat = high ^ low
    out, offset = [], 0
    for shape, size in zip(shapes, sizes, strict=True):
        out.append(flat[offset : offset + size].reshape(shape))
        offset += size
    return out


def to_unit(raw: jax.Array) -> jax.Array:
    """``uint32`` bits to float32 uniforms in [0, 1): the top 23 bits as the mantissa."""
    one = jnp.uint32(0x3F800000)  # 1.0f
    return jax.lax.bitcast_convert_type((raw >> 9) | one, jnp.float32) - 1.0


def uniforms(key: jax.Array, shapes: Sequence[tuple[int, ...]]) -> list[jax.Array]:
    """Float32 uniforms in [0, 1) of the given shapes, from one threefry draw."""
    return [to_unit(raw) for raw in bits(key, shapes)]
