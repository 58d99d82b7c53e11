"""Random numbers for a whole rollout or evaluation from one threefry draw, and the sampler.

Every ``jax.random`` call site compiles into a threefry kernel of its own, and XLA's CPU
compiler spends 50-170 ms on each (rolled into a loop that LLVM unrolls and vectorises): they
were half of a training program's compile time. So a program draws all the bits a rollout or
an evaluation needs in one call, before its loop, and cuts them into pieces.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp


def bits(key: jax.Array, shapes: Sequence[tuple[int, ...]]) -> list[jax.Array]:
    """Random ``uint32`` arrays of the given shapes, from one threefry draw."""
    sizes = [math.prod(shape) for shape in shapes]
    flat = jax.random.bits(key, (sum(sizes),), jnp.uint32)
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


def sample_actions(logits: jax.Array, u: jax.Array) -> jax.Array:
    """Actions drawn from ``softmax(logits)`` by inverting its CDF at ``u`` (``logits[..., A]``,
    ``u`` shaped like ``logits[..., 0]``): the rule of the numpy ``Policy.act``.

    The CDF is an associative scan: it fuses with its neighbours, where ``jnp.cumsum``
    compiles into kernels of its own.
    """
    cdf = jax.lax.associative_scan(jnp.add, jax.nn.softmax(logits, axis=-1), axis=-1)
    count = (u[..., None] > cdf).sum(-1)
    return jnp.minimum(count, logits.shape[-1] - 1).astype(jnp.int32)
