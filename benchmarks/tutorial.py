"""The tutorial preset (program 1, as posted) over several seeds, beside the tutorial's figures.

    python benchmarks/tutorial.py [--seeds 5]

Each seed runs as its own process, ``poleax train --preset tutorial --seed S --no-gifs``, timed
from launch to the stop rule's line (``奖励超过 195 ,训练结束``) and to exit. The program cache
is warmed once first, so times are the warm-cache ones; the first, cold run is printed too.
Episodes, env steps and the evaluation (100 episodes of gymnasium's CartPole-v0, greedy and
sampled) come from each run's ``summary.json``. Writes a markdown table to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TUTORIAL = {"process_s": 158.0, "train_s": "89-217", "episodes": "250-490", "steps": "26k-59k"}
STOP_LINE = "奖励超过 195 ,训练结束"


def run(seed: int, out: Path, env: dict[str, str]) -> dict:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "poleax",
            "train",
            "--preset",
            "tutorial",
            "--seed",
            str(seed),
            "--no-gifs",
            "--no-progress",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    to_stop = None
    for line in proc.stdout:
        if line.strip() == STOP_LINE and to_stop is None:
            to_stop = time.perf_counter() - start
    proc.wait()
    total = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.read())
    summary = json.loads((out / "summary.json").read_text())
    seed_result = summary["per_seed"][0]
    return {
        "seed": seed,
        "episodes": summary["episodes"][0],
        "steps": summary["env_steps"][0],
        "to_stop_s": to_stop,
        "process_s": total,
        "greedy": seed_result["evaluation"]["greedy"]["mean"],
        "sampled": seed_result["evaluation"]["sampled"]["mean"],
        "solved": seed_result["solved"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "POLEAX_CACHE_DIR": str(Path(tmp) / "cache")}
        cold = run(42, Path(tmp) / "cold", env)
        rows = [run(42 + i, Path(tmp) / f"s{i}", env) for i in range(args.seeds)]
    print(f"# tutorial preset, {args.seeds} seeds (42..{41 + args.seeds}), warm program cache\n")
    print(
        "| seed | episodes | env steps | s to stop rule | s whole process | greedy | sampled "
        "| solved |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|:---:|")
    for r in rows:
        print(
            f"| {r['seed']} | {r['episodes']} | {r['steps']:,} | {r['to_stop_s']:.2f} | "
            f"{r['process_s']:.2f} | {r['greedy']:.1f} | {r['sampled']:.1f} | "
            f"{'yes' if r['solved'] else 'no'} |"
        )
    stop = statistics.median(r["to_stop_s"] for r in rows)
    whole = statistics.median(r["process_s"] for r in rows)
    print(
        f"\nmedian: {stop:.2f} s to the stop rule, {whole:.2f} s whole process "
        f"(cold cache, seed 42: {cold['to_stop_s']:.2f} s / {cold['process_s']:.2f} s); "
        f"{sum(r['solved'] for r in rows)}/{len(rows)} pass the solved criterion."
    )
    print(
        f"tutorial as posted (TensorFlow, measured): {TUTORIAL['process_s']:.0f} s whole "
        f"process (median of 3), {TUTORIAL['train_s']} s training, {TUTORIAL['episodes']} "
        f"episodes, {TUTORIAL['steps']} env steps."
    )
    print(
        f"speed-up, whole process: {TUTORIAL['process_s'] / whole:.0f}x "
        f"(to the stop rule: {TUTORIAL['process_s'] / stop:.0f}x)"
    )


if __name__ == "__main__":
    main()
