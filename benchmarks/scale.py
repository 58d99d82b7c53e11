"""Seeds solved per minute: many seeds of PPO on CartPole-v1 in one process, per executor.

    python benchmarks/scale.py [--seeds 32 256 1024] [--executors rows-per-core vmapped]
                               [--screen-seeds 64] [--env CartPole-v1] [--out bench-scale]

Each cell is one ``poleax train --seeds N --executor E --no-gifs`` process, timed from launch
to exit with the program cache warm (a short run of each executor fills it first), so the
figure is what a user waits for: training, the screen and full evaluations, gymnasium's
confirmations, checkpoints, final evaluations and the run folder. ``--screen-seeds K`` also
trains K seeds rows-per-core with and without the evaluation screen (``--eval-screen 0``):
rows-per-core seeds are exact, so per seed the two runs differ only where the screen turned
away a policy that the full evaluation would have passed, and the table says how often and
by how many steps that delayed a solve.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def train(env: str, seeds: int, out: Path, *flags: str) -> tuple[float, dict]:
    """Run ``poleax train`` in its own process; return its wall seconds and summary."""
    if out.exists():
        shutil.rmtree(out)
    command = [
        sys.executable, "-m", "poleax", "train", "--env", env, "--seeds", str(seeds),
        "--no-gifs", "--no-progress", "--out", str(out), *flags,
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    return seconds, json.loads((out / "summary.json").read_text())


def steps(summary: dict) -> list[int | None]:
    return [seed["steps_to_solve"] for seed in summary["per_seed"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--seeds", type=int, nargs="+", default=[32, 256, 1024])
    parser.add_argument("--executors", nargs="+", default=["rows-per-core", "vmapped"])
    parser.add_argument("--screen-seeds", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path("bench-scale"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    for executor in args.executors:  # fill the program cache
        flags = ("--executor", executor, "--total-steps", "1024")
        train(args.env, 2, args.out / "warm", *flags)
    rows = []
    for seeds in args.seeds:
        for executor in args.executors:
            out = args.out / f"{executor}-{seeds}"
            seconds, summary = train(args.env, seeds, out, "--executor", executor)
            solved = [s for s in steps(summary) if s is not None]
            rows.append((seeds, executor, seconds, len(solved), float(np.median(solved))))
            print(f"{seeds} seeds {executor}: {seconds:.1f} s, {len(solved)} solved", flush=True)
    print()
    print(f"`python benchmarks/scale.py {' '.join(sys.argv[1:])}`".replace(" `", "`"))
    print()
    print("| seeds | executor | whole process | solved | seeds solved / min | median steps |")
    print("|---|---|---|---|---|---|")
    for seeds, executor, seconds, solved, median in rows:
        rate = solved / seconds * 60
        print(f"| {seeds} | {executor} | {seconds:.1f} s | {solved}/{seeds} | {rate:.0f} | "
              f"{median:,.0f} |")  # fmt: skip
    if args.screen_seeds:
        n = args.screen_seeds
        flags = ("--executor", "rows-per-core")
        screened_s, screened = train(args.env, n, args.out / "screened", *flags)
        full_s, full = train(args.env, n, args.out / "unscreened", *flags, "--eval-screen", "0")
        a, b = steps(screened), steps(full)
        delays = [x - y for x, y in zip(a, b, strict=True) if x is not None and y is not None]
        delayed = [d for d in delays if d > 0]
        lost = sum(x is None and y is not None for x, y in zip(a, b, strict=True))
        print()
        print(f"Screen, {n} seeds rows-per-core: {screened_s:.1f} s with it, {full_s:.1f} s "
              f"without; solves delayed: {len(delayed)}/{len(delays)}"
              + (f" (by {', '.join(f'{d:,}' for d in sorted(delayed))} steps)" if delayed else "")
              + f"; earlier: {sum(d < 0 for d in delays)}; lost: {lost}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
