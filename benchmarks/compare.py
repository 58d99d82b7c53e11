"""The README's comparison: ppo, a2c, td-ac and mc-ac, 20 seeds each, on CartPole-v1.

    python benchmarks/compare.py [--env CartPole-v1] [--seeds 20] [--budget 50000]
                                 [--cold] [--out compare/bench] [--png docs/compare-cartpole-v1.png]

Runs ``poleax compare`` as its own process, timed from launch to exit (``--cold``: with an
empty program cache, so compiling is included), copies ``curves.png`` to ``--png`` and prints
the summary as a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--algos", default="ppo,a2c,td-ac,mc-ac")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=50_000)
    parser.add_argument("--cold", action="store_true", help="start from an empty program cache")
    parser.add_argument("--out", type=Path, default=Path("compare/bench"))
    parser.add_argument("--png", type=Path, default=Path("docs/compare-cartpole-v1.png"))
    args = parser.parse_args()

    if args.out.exists():
        shutil.rmtree(args.out)
    env = dict(os.environ)
    cache = tempfile.mkdtemp(prefix="poleax-cache-") if args.cold else None
    if cache:
        env["POLEAX_CACHE_DIR"] = cache
    command = [
        sys.executable, "-m", "poleax", "compare", "--env", args.env, "--algos", args.algos,
        "--seeds", str(args.seeds), "--budget", str(args.budget), "--out", str(args.out),
        "--no-progress",
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, env=env)
    seconds = time.perf_counter() - start
    if cache:
        shutil.rmtree(cache, ignore_errors=True)
    if done.returncode:
        return done.returncode
    summary = json.loads((args.out / "summary.json").read_text())
    args.png.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.out / "curves.png", args.png)
    print()
    print("| algorithm | IQM final score [95% CI] | solved | median env steps to solve |")
    print("|---|---|---|---|")
    for algo, s in summary["algorithms"].items():
        median = s["median_steps_to_solve"]
        print(
            f"| {algo} | {s['iqm']:.2f} [{s['ci_low']:.2f}, {s['ci_high']:.2f}] "
            f"| {s['success_rate']:.0%} | {'-' if median is None else f'{median:,.0f}'} |"
        )
    train = ", ".join(f"{k.split('/')[1]} {v:.1f} s" for k, v in summary["train_seconds"].items())
    print()
    print(
        f"whole process {seconds:.1f} s ({'cold' if args.cold else 'warm'} program cache); "
        f"training per algorithm: {train}"
    )
    print(f"curves: {args.png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
