"""Time and env steps to solve: poleax beside Stable-Baselines3 with rl-zoo's settings (and
rejax, a JAX peer, with its own config).

    pip install ".[bench]"
    python benchmarks/solve.py [--seeds 5] [--sb3-seeds N] [--repeats 3]
                               [--envs CartPole-v0 CartPole-v1 Acrobot-v1 MountainCar-v0
                                       Pendulum-v1 MountainCarContinuous-v0] [--out FILE.md]
                               [--algos ppo a2c sac td3]
                               [--rejax-python VENV/bin/python] [--rejax-seeds 1]

Every run is its own process, timed from launch to exit. Seed by seed, every system runs
before the next seed, so the shared VM's slow spells fall on all of them; a poleax run that
takes seconds is timed ``--repeats`` times (median), one over ``--repeat-under`` seconds once.
Every system is judged alike, by poleax's gymnasium evaluation
(``poleax.reference.evaluate_both``) of the delivered policy, greedy and sampled, against the
env's own criterion (``poleax.envs.env_spec(env).solve``: threshold, episodes, reset seeds).
- poleax: ``poleax train --algo A --env E --seed S --total-steps B --no-gifs`` with its
  defaults. It evaluates inside JAX and stops when greedy and sampled both pass (and gymnasium
  agrees); its summary then holds the gymnasium evaluation. Cold runs start with an empty
  program cache, warm runs with the programs the cold run compiled.
- SB3 (``benchmarks/sb3_zoo.py``): PPO with rl-zoo's hyperparameters for the env (A2C too on
  CartPole; SAC and TD3 on Pendulum, SAC on MountainCarContinuous), VecNormalize where rl-zoo
  normalises, judged every few thousand env steps (off-policy: every 1,000 on Pendulum) by the
  same evaluation (observations normalised with the frozen statistics); it stops at the first
  pass and saves the model. Its training seconds exclude the time spent evaluating. One torch
  thread (``--sb3-threads``).
- rejax (``benchmarks/rejax_run.py``, Pendulum's SAC; only with ``--rejax-python``, the python
  of a venv holding rejax, which does not share poleax's ``bench`` extra): its own config's
  budget in one jitted program with its own in-loop evaluations, judged once at the end by
  the same evaluation. poleax's SAC and TD3 rows are divided by its whole-process time.
Budgets: poleax's PPO and A2C ones are the issues' targets (``BENCH``), its SAC and TD3 ones
rl-zoo's ``n_timesteps`` as SB3's (at most 1e6). Envs poleax does not know yet are skipped with
a message. Writes markdown tables, one per env, and a short headline table for the README, to
``--out`` (after each env) and prints them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sb3_zoo  # beside this file; its tables import neither torch nor SB3


@dataclass(frozen=True)
class Bench:
    """What runs on one env."""

    poleax_budget: int
    """``--total-steps`` of poleax's PPO and A2C runs (the issues' targets)."""
    poleax_algos: tuple[str, ...] = ("ppo",)
    sb3_algos: tuple[str, ...] = ("ppo",)
    rejax_algos: tuple[str, ...] = ()
    """Algorithms rejax runs with its own config for the env (``rejax_run.py``)."""

    def budget(self, algo: str, env_id: str) -> int:
        """poleax's budget for ``algo``: the off-policy algorithms train rl-zoo's
        ``n_timesteps`` for the env (SB3's budget, and poleax's own default there)."""
        if algo in sb3_zoo.OFF_POLICY:
            return sb3_zoo.zoo_budget(algo, env_id)
        return self.poleax_budget


BENCH: dict[str, Bench] = {
    "CartPole-v0": Bench(100_000, ("ppo", "a2c"), ("ppo", "a2c")),
    "CartPole-v1": Bench(100_000, ("ppo", "a2c"), ("ppo", "a2c")),
    "Acrobot-v1": Bench(100_000),
    "MountainCar-v0": Bench(1_000_000),
    "Pendulum-v1": Bench(200_000, ("ppo", "sac", "td3"), ("ppo", "sac", "td3"), ("sac",)),
    "MountainCarContinuous-v0": Bench(200_000, ("ppo", "sac"), ("ppo", "sac")),
}


def sb3_budget(algo: str, env_id: str) -> int:
    """SB3's budget for ``algo`` on ``env_id``: rl-zoo's ``n_timesteps``, at most 1e6. A2C on
    CartPole gets PPO's 100,000 (rl-zoo's a2c.yml trains 500,000), as this table always had."""
    return sb3_zoo.zoo_budget("ppo" if algo == "a2c" else algo, env_id)


def scaled(steps: int, scale: float) -> int:
    return max(1, round(steps * scale))


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``cmd``; return its wall seconds and the wall-clock time (``time.time``) it started."""
    launched = time.time()
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start, launched


def poleax_train_cmd(out: Path, budget: int, *settings: str) -> list[str]:
    """``poleax train``: ``budget`` env steps per seed, no GIFs or progress bar, into ``out``."""
    return [
        sys.executable,
        "-m",
        "poleax",
        "train",
        *settings,
        "--total-steps",
        str(budget),
        "--no-gifs",
        "--no-progress",
        "--out",
        str(out),
    ]


def poleax_run(algo: str, env_id: str, seed: int, budget: int, tmp: Path, cache: Path) -> dict:
    out = tmp / f"{algo}-{env_id}-{seed}-{time.monotonic_ns()}"
    cmd = poleax_train_cmd(out, budget, "--algo", algo, "--env", env_id, "--seed", str(seed))
    seconds, launched = timed(cmd, {**os.environ, "POLEAX_CACHE_DIR": str(cache)})
    summary = json.loads((out / "summary.json").read_text())
    seed_result = summary["per_seed"][0]
    steps = seed_result["steps_to_solve"]
    if steps is None and seed_result["solved"]:  # passed only when judged at the budget's end
        steps = summary["env_steps"][0]
    # The last write into checkpoint/ is the final save of the delivered policy.
    saved = max(f.stat().st_mtime for f in (out / "checkpoint").iterdir())
    shutil.rmtree(out)  # long runs' metrics add up
    return {
        "steps": steps,
        "train_s": seed_result["seconds_to_solve"] or summary["train_seconds"],
        "solved": seed_result["solved"],
        "sampled": seed_result["evaluation"]["sampled"]["mean"],
        "process_s": seconds,
        "to_saved_s": saved - launched,
    }


def poleax_seed(
    algo: str,
    env_id: str,
    seed: int,
    budget: int,
    tmp: Path,
    warm_cache: Path,
    repeats: int,
    repeat_under: float,
) -> dict:
    """One seed of poleax, cold and warm, each timed ``repeats`` times (medians; the runs are
    deterministic, so only the times vary), or once if a run takes ``repeat_under`` seconds or
    more. Warm runs use the programs the cold run compiled (copied into ``warm_cache``)."""

    def cold_run(i: int) -> dict:
        return poleax_run(algo, env_id, seed, budget, tmp, tmp / f"cold-{algo}-{env_id}-{seed}-{i}")

    cold = [cold_run(0)]
    if cold[0]["process_s"] >= repeat_under:
        repeats = 1
    cold += [cold_run(i) for i in range(1, repeats)]
    compiled = tmp / f"cold-{algo}-{env_id}-{seed}-0"
    if compiled.is_dir():  # absent with POLEAX_NO_COMPILE_CACHE set
        shutil.copytree(compiled, warm_cache, dirs_exist_ok=True)
    warm = [poleax_run(algo, env_id, seed, budget, tmp, warm_cache) for _ in range(repeats)]
    result = dict(warm[0])
    for name in ("train_s", "process_s", "to_saved_s"):
        result[name] = median(r[name] for r in warm)
        result[f"cold_{name}"] = median(r[name] for r in cold)
    result["repeats"] = repeats
    return result


def sb3_seed(
    algo: str, env_id: str, seed: int, budget: int, eval_every: int, tmp: Path, threads: int
) -> dict:
    """One seed of SB3, in its own process (``sb3_zoo.py``)."""
    result_path = tmp / f"sb3-{algo}-{env_id}-{seed}.json"
    save_dir = tmp / f"sb3-{algo}-{env_id}-{seed}"
    cmd = [
        sys.executable,
        str(Path(sb3_zoo.__file__)),
        env_id,
        "--algo",
        algo,
        "--seed",
        str(seed),
        "--budget",
        str(budget),
        "--eval-every",
        str(eval_every),
        "--threads",
        str(threads),
        "--out",
        str(result_path),
        "--save-dir",
        str(save_dir),
    ]
    seconds, launched = timed(cmd, dict(os.environ))
    result = json.loads(result_path.read_text())
    shutil.rmtree(save_dir)
    return {**result, "process_s": seconds, "to_saved_s": result["saved_at"] - launched}


def rejax_seed(algo: str, env_id: str, seed: int, python: str, tmp: Path) -> dict:
    """One seed of rejax with its own config, in its own venv's process (``rejax_run.py``)."""
    result_path = tmp / f"rejax-{algo}-{env_id}-{seed}.json"
    save_dir = tmp / f"rejax-{algo}-{env_id}-{seed}"
    cmd = [
        python,
        str(Path(__file__).with_name("rejax_run.py")),
        env_id,
        "--algo",
        algo,
        "--seed",
        str(seed),
        "--out",
        str(result_path),
        "--save-dir",
        str(save_dir),
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    seconds, launched = timed(cmd, env)
    result = json.loads(result_path.read_text())
    shutil.rmtree(save_dir)
    return {**result, "process_s": seconds, "to_saved_s": result["saved_at"] - launched}


def ratios(cold: float, warm: float, peer: float | None) -> str:
    """``cold / warm`` divided by a peer's median whole-process seconds, or ``-``."""
    if peer is None or not math.isfinite(peer):
        return "-"
    return f"{cold / peer:.3f} / {warm / peer:.3f}"


def table_row(
    env_id: str,
    kind: str,
    algo: str,
    rows: list[dict],
    sb3_process: float | None,
    rejax_process: float | None = None,
) -> str:
    """A markdown row: medians over seeds. ``sb3_process``, ``rejax_process``: SB3's and
    rejax's median whole-process seconds that poleax's are divided by."""
    ratio = rejax_ratio = "-"
    if kind == "poleax":
        name = f"poleax {algo.upper()}"
        cold, warm = median(r["cold_process_s"] for r in rows), median(r["process_s"] for r in rows)
        process = f"{cold:.2f} / {warm:.2f}"
        saved = (
            f"{median(r['cold_to_saved_s'] for r in rows):.2f} / "
            f"{median(r['to_saved_s'] for r in rows):.2f}"
        )
        ratio = ratios(cold, warm, sb3_process)
        rejax_ratio = ratios(cold, warm, rejax_process)
    elif kind == "rejax":
        name = f"rejax {algo.upper()} (own config)"
        process = (
            f"{median(r['process_s'] for r in rows):.2f} "
            f"({median(r['compile_s'] for r in rows):.2f} compiling)"
        )
        saved = f"{median(r['to_saved_s'] for r in rows):.2f}"
    else:
        name = f"SB3 {algo.upper()} (rl-zoo)"
        process = (
            f"{median(r['process_s'] for r in rows):.2f} "
            f"({median(r['eval_s'] for r in rows):.2f} judging)"
        )
        saved = f"{median(r['to_saved_s'] for r in rows):.2f}"
    steps = median(r["steps"] for r in rows)
    return (
        f"| {env_id} | {name} | {'-' if math.isnan(steps) else f'{steps:,.0f}'} "
        f"| {median(r['train_s'] for r in rows):.2f} | {process} | {saved} "
        f"| {sum(r['solved'] for r in rows)}/{len(rows)} "
        f"| {median(r['sampled'] for r in rows):.1f} | {ratio} | {rejax_ratio} |"
    )


def short_row(
    env_id: str, kind: str, algo: str, rows: list[dict], sb3: float, rejax: float | None
) -> str:
    """The headline table's row (README): steps, whole process, solved, ratios."""
    steps = median(r["steps"] for r in rows)
    if kind == "poleax":
        cold, warm = median(r["cold_process_s"] for r in rows), median(r["process_s"] for r in rows)
        name, process = f"poleax {algo.upper()}", f"{cold:.2f} / {warm:.2f}"
        ratio, rejax_ratio = ratios(cold, warm, sb3), ratios(cold, warm, rejax)
    else:
        name = {"sb3": f"SB3 {algo.upper()} (rl-zoo)", "rejax": f"rejax {algo.upper()}"}[kind]
        process, ratio, rejax_ratio = f"{median(r['process_s'] for r in rows):.2f}", "-", "-"
    return (
        f"| {env_id} | {name} | {'-' if math.isnan(steps) else f'{steps:,.0f}'} | {process} "
        f"| {sum(r['solved'] for r in rows)}/{len(rows)} | {ratio} | {rejax_ratio} |"
    )


def median(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


HEADER = [
    "| env | system | env steps to solve | training s | whole process s (cold / warm) "
    "| to saved policy s (cold / warm) | solved | sampled mean at stop "
    "| whole process, poleax / SB3 (cold / warm) | poleax / rejax (cold / warm) |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
]

SHORT_HEADER = [
    "| env | system | env steps to solve | whole process s (cold / warm) | solved "
    "| poleax / SB3 | poleax / rejax |",
    "|---|---|---:|---:|---:|---:|---:|",
]


def env_intro(
    env_id: str,
    spec,
    budgets: dict[tuple[str, str], int],
    seeds: int,
    sb3_seeds: int,
    rejax_seeds: int = 0,
) -> str:
    criterion = spec.solve
    first, last = criterion.eval_seed, criterion.eval_seed + criterion.episodes - 1

    def listed(kind: str) -> str:
        return ", ".join(
            f"{algo.upper()} {budget:,}" for (k, algo), budget in budgets.items() if k == kind
        )

    judged = ", ".join(
        f"{algo.upper()} {sb3_zoo.judge_every(algo, env_id):,}"
        for (kind, algo) in budgets
        if kind == "sb3"
    )
    text = (
        f"\n**{env_id}**. Solved: {criterion.describe(spec.name)} (reset seeds {first}..{last}). "
        f"Budget per seed in env steps: poleax {listed('poleax')}; SB3 {listed('sb3')} (rl-zoo's "
        f"n_timesteps, at most 1e6). Seeds 0..{seeds - 1} (SB3 0..{sb3_seeds - 1}); SB3 judged "
        f"at the first rollout start past every N env steps ({judged}) and at the budget's end."
    )
    if rejax_seeds:
        text += (
            f" rejax (seeds 0..{rejax_seeds - 1}): {listed('rejax')} env steps with its own "
            "config and in-loop evaluations, one jitted program, judged once at the end."
        )
    return text + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--sb3-seeds", type=int, default=None, help="SB3's seeds (default: --seeds)"
    )
    parser.add_argument(
        "--envs", nargs="+", choices=list(BENCH), default=["CartPole-v0", "CartPole-v1"]
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--algos",
        nargs="+",
        choices=["ppo", "a2c", "sac", "td3"],
        default=None,
        help="only these algorithms' rows (default: every row the env has)",
    )
    parser.add_argument("--many-seeds", type=int, default=32, help="with CartPole-v1 (0: off)")
    parser.add_argument("--repeats", type=int, default=3, help="timings per poleax seed")
    parser.add_argument(
        "--repeat-under",
        type=float,
        default=30.0,
        help="a poleax run taking this many seconds or more is timed once",
    )
    parser.add_argument("--sb3-threads", type=int, default=1, help=sb3_zoo.THREADS_HELP)
    parser.add_argument(
        "--rejax-python",
        default=None,
        help="python of a venv with rejax (see rejax_run.py); without it no rejax rows",
    )
    parser.add_argument("--rejax-seeds", type=int, default=1, help="rejax's seeds")
    # Smoke runs: every budget times this (not for results).
    parser.add_argument("--budget-scale", type=float, default=1.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sb3_seeds = args.seeds if args.sb3_seeds is None else args.sb3_seeds
    rejax_seeds = args.rejax_seeds
    if args.rejax_python is None or not Path(args.rejax_python).is_file():
        if any(BENCH[env_id].rejax_algos for env_id in args.envs):
            print(
                f"rejax rows skipped: no --rejax-python ({args.rejax_python or 'not given'})",
                file=sys.stderr,
                flush=True,
            )
        rejax_seeds = 0

    from poleax.envs import UnknownEnvError, env_spec

    lines = [
        f"Medians over seeds (poleax's times: median of {args.repeats} timed run(s) per seed, "
        f"one where a run takes {args.repeat_under:g} s or more), 2-core CPU. Whole process: "
        "launch to exit; to saved policy: launch to the delivered policy's last file write. A "
        "seed not solved within the budget counts in every column but env steps. SB3's whole "
        "process includes the benchmark's judging on gymnasium (shown); its training s does not. "
        "rejax's training s excludes its compile (shown) and includes its own in-loop "
        "evaluations."
    ]
    short = ["", "Headline (README):", "", *SHORT_HEADER]
    if args.budget_scale != 1.0:
        lines.append(f"\nSMOKE RUN: every budget x {args.budget_scale:g}; not a result.")

    def write() -> None:
        if args.out:
            args.out.write_text("\n".join(lines + short) + "\n")

    ran: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        warm_cache = tmp / "warm-cache"
        for env_id in args.envs:
            try:
                spec = env_spec(env_id)
            except UnknownEnvError as error:
                lines.append(f"\n**{env_id}**: skipped, poleax cannot train it yet ({error}).")
                print(lines[-1].strip(), file=sys.stderr, flush=True)
                continue
            bench = BENCH[env_id]
            systems = [("poleax", a) for a in bench.poleax_algos]
            systems += [("sb3", a) for a in bench.sb3_algos]
            if rejax_seeds:
                systems += [("rejax", a) for a in bench.rejax_algos]
            if args.algos:
                systems = [(kind, a) for kind, a in systems if a in args.algos]
            if rejax_seeds:
                import rejax_run  # its own config's budget, not scaled: the peer's own run
            budgets = {}
            for kind, algo in systems:
                if kind == "poleax":
                    budget = scaled(bench.budget(algo, env_id), args.budget_scale)
                elif kind == "sb3":
                    budget = scaled(sb3_budget(algo, env_id), args.budget_scale)
                else:
                    budget = rejax_run.budget(algo, env_id)
                budgets[(kind, algo)] = budget
            seeds_of = {"poleax": args.seeds, "sb3": sb3_seeds, "rejax": rejax_seeds}
            intro = env_intro(env_id, spec, budgets, args.seeds, sb3_seeds, rejax_seeds)
            lines += [intro, *HEADER]
            print(intro, flush=True)
            rows: dict[tuple[str, str], list[dict]] = {system: [] for system in systems}
            # Seed by seed, every system runs before the next seed starts: a slow spell of
            # this shared VM then falls on all systems alike instead of on one table row.
            for seed in range(max(seeds_of.values())):
                for kind, algo in systems:
                    if seed >= seeds_of[kind]:
                        continue
                    budget = budgets[(kind, algo)]
                    if kind == "poleax":
                        result = poleax_seed(
                            algo,
                            env_id,
                            seed,
                            budget,
                            tmp,
                            warm_cache,
                            args.repeats,
                            args.repeat_under,
                        )
                    elif kind == "sb3":
                        result = sb3_seed(
                            algo,
                            env_id,
                            seed,
                            budget,
                            sb3_zoo.judge_every(algo, env_id),
                            tmp,
                            args.sb3_threads,
                        )
                    else:
                        result = rejax_seed(algo, env_id, seed, args.rejax_python, tmp)
                    rows[(kind, algo)].append(result)
                    print(f"  {env_id} {kind} {algo} seed {seed}: {json.dumps(result)}", flush=True)
            for kind, algo in systems:
                sb3 = ("sb3", algo) if ("sb3", algo) in rows else ("sb3", "ppo")
                sb3_process = median(r["process_s"] for r in rows.get(sb3, []))
                # rejax's row is its SAC: poleax's off-policy rows are divided by it.
                peer = [("rejax", a) for a in bench.rejax_algos if ("rejax", a) in rows]
                rejax_process = None
                if peer and algo in sb3_zoo.OFF_POLICY:
                    key = ("rejax", algo) if ("rejax", algo) in rows else peer[0]
                    rejax_process = median(r["process_s"] for r in rows[key])
                row = table_row(env_id, kind, algo, rows[(kind, algo)], sb3_process, rejax_process)
                lines.append(row)
                print(row, flush=True)
                short.append(
                    short_row(env_id, kind, algo, rows[(kind, algo)], sb3_process, rejax_process)
                )
            ran.add(env_id)
            write()
        if args.many_seeds and "CartPole-v1" in ran:
            out = tmp / "many"
            budget = scaled(BENCH["CartPole-v1"].poleax_budget, args.budget_scale)
            cmd = poleax_train_cmd(
                out, budget, "--env", "CartPole-v1", "--seeds", str(args.many_seeds)
            )
            seconds, _ = timed(cmd, {**os.environ, "POLEAX_CACHE_DIR": str(warm_cache)})
            summary = json.loads((out / "summary.json").read_text())
            lines.append(
                f"\n{args.many_seeds} seeds of PPO on CartPole-v1 in one process (a seed per core "
                f"at a time): "
                f"{summary['solved_count']}/{args.many_seeds} solved on gymnasium, "
                f"{seconds:.1f} s whole process, median {summary['steps_to_solve']} env steps."
            )
            print(lines[-1], flush=True)
    write()
    print("\n".join(lines + short))


if __name__ == "__main__":
    main()
