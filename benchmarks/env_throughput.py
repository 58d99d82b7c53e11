"""Env-only steps per second with a random policy: poleax's JAX CartPole against gymnasium's.

    python benchmarks/env_throughput.py [--repeats 5] [--steps 1000]

poleax: ``lax.scan`` of ``steps`` auto-resetting steps of N vmapped envs, jitted, compile
excluded. gymnasium: ``CartPoleEnv`` in a plain Python loop, and ``SyncVectorEnv`` of N envs.
Prints a markdown table of medians over ``repeats`` runs, measured side by side in one process.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from poleax.envs import make


def poleax_rate(num_envs: int, steps: int, repeats: int) -> float:
    env, params = make("CartPole-v1")

    @jax.jit
    def run(key):
        keys = jax.random.split(key, num_envs)
        _, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)

        def body(carry, step_key):
            state, total = carry
            action_key, env_key = jax.random.split(step_key)
            actions = jax.random.bernoulli(action_key, 0.5, (num_envs,)).astype(jnp.int32)
            _, state, _, terminated, _, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(env_key, num_envs), state, actions, params
            )
            return (state, total + terminated.sum()), None

        # Episodes ended and the final state are outputs, so no step can be optimised away.
        (state, ended), _ = jax.lax.scan(body, (state, 0), jax.random.split(key, steps))
        return ended, state

    jax.block_until_ready(run(jax.random.PRNGKey(0)))  # compile
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(run(jax.random.PRNGKey(r + 1)))
        times.append(time.perf_counter() - start)
    return num_envs * steps / statistics.median(times)


def gymnasium_loop_rate(steps: int, repeats: int) -> float:
    from gymnasium.envs.classic_control.cartpole import CartPoleEnv

    env = CartPoleEnv()
    rng = np.random.default_rng(0)
    times = []
    for r in range(repeats):
        env.reset(seed=r)
        actions = rng.integers(0, 2, steps)
        start = time.perf_counter()
        for a in actions:
            _, _, terminated, _, _ = env.step(int(a))
            if terminated:
                env.reset()
        times.append(time.perf_counter() - start)
    return steps / statistics.median(times)


def gymnasium_sync_rate(num_envs: int, steps: int, repeats: int) -> float:
    import gymnasium as gym

    envs = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1") for _ in range(num_envs)])
    rng = np.random.default_rng(0)
    times = []
    for r in range(repeats):
        envs.reset(seed=r)
        start = time.perf_counter()
        for _ in range(steps):
            envs.step(rng.integers(0, 2, num_envs))
        times.append(time.perf_counter() - start)
    envs.close()
    return num_envs * steps / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    print(
        f"# env throughput ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, jax {jax.__version__}); median of {args.repeats} runs\n"
    )
    print("| envs | poleax (JAX) steps/s | gymnasium SyncVectorEnv steps/s | ratio |")
    print("|---:|---:|---:|---:|")
    loop = gymnasium_loop_rate(20_000, args.repeats)
    for n in (1, 16, 256, 4096):
        ours = poleax_rate(n, args.steps, args.repeats)
        sync_steps = max(20, min(args.steps, 20_000 // n))
        sync = gymnasium_sync_rate(n, sync_steps, args.repeats) if n <= 256 else float("nan")
        ratio = f"{ours / sync:,.0f}x" if sync == sync else "-"
        sync_text = f"{sync:,.0f}" if sync == sync else "- (too slow to run)"
        print(f"| {n} | {ours:,.0f} | {sync_text} | {ratio} |")
    print(f"\ngymnasium CartPoleEnv, plain Python loop, 1 env: {loop:,.0f} steps/s")


if __name__ == "__main__":
    main()
