"""One SAC update (one env step and one gradient step) at batch 256 with 256x256 networks,
against what this CPU's XLA does with the same matrix multiplications.

    python benchmarks/sac_step.py [--updates 500] [--repeats 3] [--hidden 256]

The update is timed inside poleax's jitted chunk (compile excluded, the buffer warmed). The
matmul multiply-accumulates of a SAC gradient step (obs d, action k, width h, batch B):
actor forward A = d h + h^2 + 2 k h, critic forward C = (d + k) h + h^2 + h per sample;
the step runs the actor at s' and both target critics (A + 2C), both critics forward and
backward (6C), the actor at s, both critics at its action and back to it (A + 4C), and the
actor's backward (2A): 4A + 12C per sample. The reference rate is XLA's own on a chain of
[B, h] x [h, h] products, jitted the same way.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp

from poleax.algos import make_algorithm
from poleax.config import build_config


def matmul_rate(batch: int, width: int, count: int, repeats: int) -> float:
    """FLOP/s of XLA's ``[batch, width] @ [width, width]``, ``count`` in a dependent chain."""
    w = jax.random.normal(jax.random.PRNGKey(0), (width, width), jnp.float32) / width**0.5

    @jax.jit
    def chain(x):
        return jax.lax.fori_loop(0, count, lambda i, h: jnp.tanh(h @ w), x)

    x = jax.random.normal(jax.random.PRNGKey(1), (batch, width), jnp.float32)
    chain(x).block_until_ready()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        chain(x).block_until_ready()
        times.append(time.perf_counter() - start)
    return 2 * batch * width * width * count / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    h, b = args.hidden, args.batch
    config = build_config(
        "sac",
        "Pendulum-v1",
        hidden=(h, h),
        batch_size=b,
        learning_starts=0,
        total_steps=args.updates * (args.repeats + 2),
        eval_every=args.updates,
    )
    algo = make_algorithm(config)
    state = jax.jit(algo.init)(jax.random.PRNGKey(0))

    def chunk(state):
        return jax.lax.scan(lambda s, _: algo.update(s), state, None, length=args.updates)

    start = time.perf_counter()
    compiled = jax.jit(chunk).lower(state).compile()
    compile_s = time.perf_counter() - start
    state, _ = compiled(state)  # warm: the buffer fills
    jax.block_until_ready(state)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        state, _ = compiled(state)
        jax.block_until_ready(state)
        times.append((time.perf_counter() - start) / args.updates)
    step = statistics.median(times)
    d, k = algo.spec.observation_size, algo.spec.num_actions
    actor = d * h + h * h + 2 * k * h
    critic = (d + k) * h + h * h + h
    flops = 2 * b * (4 * actor + 12 * critic)
    rate = matmul_rate(b, h, 200, args.repeats)
    print(f"compile {compile_s:.1f} s; devices {jax.devices()}")
    print(f"one SAC update (env step + gradient step), batch {b}, {h}x{h}: {step * 1e3:.2f} ms")
    print(f"matmul FLOPs of the gradient step: {flops / 1e6:.0f} MFLOP")
    print(f"XLA [{b},{h}]x[{h},{h}] chain: {rate / 1e9:.1f} GFLOP/s")
    print(f"the step at that rate: {flops / rate * 1e3:.2f} ms ({flops / rate / step:.0%})")


if __name__ == "__main__":
    main()
