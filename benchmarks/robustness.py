"""Do the defaults solve every seed, and at what compute? Each task's default algorithm (or the
ones named), N seeds trained with its defaults in one ``poleax train --seeds N`` process.

    python benchmarks/robustness.py [--seeds 32] [--first-seed 500]
                                    [--envs CartPole-v0 ... MountainCarContinuous-v0]
                                    [--algos default | ppo sac ...] [--old OLD/src]
                                    [--train-args "--epochs 10 ..."]
                                    [--out FILE.md] [--keep DIR]

Each cell is one process, ``poleax train --env E [--algo A] --seeds N --seed S --no-gifs
--no-progress``, with the program cache warm (a run of two seeds on the cell's own budget
fills it first: a program's shapes follow the budget), so the figures are training, judging
and the run folder, not XLA's compile. Per cell:
- seeds solved by the margin: the delivered policy passes the env's criterion by two
  standard errors on gymnasium (``summary.json``'s per-seed ``solved``; a run of poleax
  before 0.3, which printed "solved" without the margin, counts its seeds with a confirmed
  ``steps_to_solve``);
- median and 90th-percentile env steps to solve, an unsolved seed counting as never (a
  percentile that falls on one reads "> budget");
- core-seconds per solved seed: the process's CPU time (user + system, all threads) over
  the seeds it solved;
- whole seconds, launch to exit.
``--old OLD/src`` runs every cell also with another source tree first on ``PYTHONPATH`` (a
worktree of an earlier commit), the two alternately, so their ratio is measured side by
side; without ``--algos`` each source runs its own defaults (the task's default algorithm
may differ between them).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poleax.envs import ENV_IDS


@dataclass
class Cell:
    """One process's figures."""

    source: str
    env: str
    asked: str  # the --algos entry ("default": the task's own)
    algo: str
    seeds: int
    solved: int
    steps: list[float]  # per seed; inf where unsolved
    budget: int
    core_seconds: float
    seconds: float

    def percentile(self, q: float) -> str:
        value = float(np.percentile(self.steps, q, method="higher"))
        return f"> {self.budget:,}" if math.isinf(value) else f"{value:,.0f}"

    @property
    def per_solve(self) -> float:
        return self.core_seconds / self.solved if self.solved else math.inf


def _solved(seed: dict) -> bool:
    if "passed_not_confidently" in seed:  # 0.3: one verdict, by the margin
        return bool(seed["solved"])
    return seed["steps_to_solve"] is not None  # before: confirmed during training


def train(src: str | None, env: str, algo: str | None, seeds: int, seed: int, out: Path,
          *flags: str) -> tuple[dict, dict, float, float]:  # fmt: skip
    """One ``poleax train`` process; its summary, config, CPU seconds and wall seconds."""
    shutil.rmtree(out, ignore_errors=True)
    command = [
        sys.executable, "-m", "poleax", "train", "--env", env, "--seeds", str(seeds),
        "--seed", str(seed), "--no-gifs", "--no-progress", "--out", str(out), *flags,
    ]  # fmt: skip
    if algo is not None:
        command += ["--algo", algo]
    environ = dict(os.environ)
    if src is not None:
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [src, environ.get("PYTHONPATH")]))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=environ)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = json.loads((out / "summary.json").read_text())
    config = json.loads((out / "config.json").read_text())
    return summary, config, cpu, seconds


def cell(source: str, src: str | None, env: str, algo: str | None, flags: list[str], args,
         work: Path) -> Cell:  # fmt: skip
    out = work / f"{source}-{env}-{algo or 'default'}"
    summary, config, cpu, seconds = train(src, env, algo, args.seeds, args.first_seed, out, *flags)
    per_seed = summary["per_seed"]
    solved = [_solved(s) for s in per_seed]
    budget = int(config["total_steps"])
    steps = [
        float(s["steps_to_solve"]) if ok and s["steps_to_solve"] is not None else math.inf
        for s, ok in zip(per_seed, solved, strict=True)
    ]
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    asked = algo or "default"
    return Cell(source, env, asked, config["algo"], len(per_seed), sum(solved), steps, budget,
                cpu, seconds)  # fmt: skip


def table(cells: list[Cell], old: bool) -> list[str]:
    lines = [
        "| env | source | algo | solved | median steps | p90 steps | core-s / solved seed | "
        "whole s |" + (" core-s per solve, new / old |" if old else ""),
        "|---|---|---|---:|---:|---:|---:|---:|" + ("---:|" if old else ""),
    ]
    pairs = {(c.env, c.asked, c.source): c for c in cells}
    for cell_ in cells:
        ratio = ""
        if old:
            base = pairs.get((cell_.env, cell_.asked, "old"))
            ratio = " |"
            if cell_.source == "new" and base is not None and math.isfinite(base.per_solve):
                ratio = f" {cell_.per_solve / base.per_solve:.2f} |"
        lines.append(
            f"| {cell_.env} | {cell_.source} | {cell_.algo} | {cell_.solved}/{cell_.seeds} | "
            f"{cell_.percentile(50)} | {cell_.percentile(90)} | {cell_.per_solve:.2f} | "
            f"{cell_.seconds:.1f} |" + ratio
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=32)
    parser.add_argument("--first-seed", type=int, default=500)
    parser.add_argument("--envs", nargs="+", default=list(ENV_IDS))
    parser.add_argument("--algos", nargs="+", default=["default"])
    parser.add_argument("--old", help="another source tree (OLD/src) run side by side")
    parser.add_argument("--out", type=Path, help="also write the table here (markdown)")
    parser.add_argument("--keep", type=Path, help="keep the run folders here")
    parser.add_argument("--train-args", default="", help="more flags for this source's runs")
    args = parser.parse_args()
    algos = [None if a == "default" else a for a in args.algos]
    sources = [("new", None)] + ([("old", str(Path(args.old).resolve()))] if args.old else [])
    work = args.keep or Path(tempfile.mkdtemp(prefix="poleax-robustness-"))
    work.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    cells: list[Cell] = []
    for env in args.envs:
        for algo in algos:
            for source, src in sources[::-1]:  # the old first: the cache warm-up is alike
                warm = work / "warm"
                flags = shlex.split(args.train_args) if src is None else []
                # Two seeds of the same budget: the programs' shapes (chunk lengths, the
                # schedule) follow the budget, so a shorter warm-up would compile others.
                train(src, env, algo, 2, args.first_seed, warm, *flags)
                shutil.rmtree(warm, ignore_errors=True)
                cells.append(cell(source, src, env, algo, flags, args, work))
                c = cells[-1]
                print(
                    f"{env} {c.algo} ({source}): {c.solved}/{c.seeds} solved, "
                    f"{c.per_solve:.2f} core-s per solve, {c.seconds:.1f} s",
                    flush=True,
                )
    lines = [
        f"`python benchmarks/robustness.py {' '.join(sys.argv[1:])}`".replace(" `", "`"),
        "",
        f"Started {started}, load average {load[0]:.2f} (1 min) on {os.cpu_count()} cores; "
        f"seeds {args.first_seed}..{args.first_seed + args.seeds - 1}.",
        "",
        *table(cells, bool(args.old)),
    ]
    print("\n" + "\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
