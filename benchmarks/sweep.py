"""Batched sweep trials against one trial at a time, same study size, same machine, one run.

    python benchmarks/sweep.py [--trials 8] [--seeds 2] [--repeats 2]

Times ``poleax sweep --trials T --batch T`` (all trials trained together) and ``--batch 1``
(one trial after another), each a fresh study in its own process with a warm program cache.
Repeat r seeds Optuna's sampler with r in both modes, so both train the same trials. Prints
the medians and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def sweep_seconds(
    batch: int, args, tmp: Path, tag: str, env: dict[str, str], sampler_seed: int = 0
) -> float:
    out = tmp / f"{tag}-{batch}-{time.monotonic_ns()}"
    cmd = [
        sys.executable,
        "-m",
        "poleax",
        "sweep",
        "--env",
        "CartPole-v1",
        "--trials",
        str(args.trials),
        "--batch",
        str(batch),
        "--seeds",
        str(args.seeds),
        "--total-steps",
        str(args.total_steps),
        "--study",
        out.name,
        "--out",
        str(out),
        "--sampler-seed",
        str(sampler_seed),
        "--no-progress",
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--total-steps", type=int, default=30_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env = {**os.environ, "POLEAX_CACHE_DIR": str(tmp / "cache")}
        sweep_seconds(args.trials, args, tmp, "warm", env)  # fill the program cache
        sweep_seconds(1, args, tmp, "warm", env)
        batched, single = [], []
        for repeat in range(args.repeats):  # both modes train the same trials
            batched.append(sweep_seconds(args.trials, args, tmp, "b", env, repeat))
            single.append(sweep_seconds(1, args, tmp, "s", env, repeat))
    b, s = statistics.median(batched), statistics.median(single)
    print(
        f"{args.trials} PPO trials x {args.seeds} seeds on CartPole-v1, budget "
        f"{args.total_steps:,} steps, median of {args.repeats}: batched (--batch "
        f"{args.trials}) {b:.1f} s, one at a time (--batch 1) {s:.1f} s: {s / b:.1f}x faster"
    )


if __name__ == "__main__":
    main()
