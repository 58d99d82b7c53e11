"""Time and env steps to solve CartPole: poleax PPO and A2C beside Stable-Baselines3's.

    pip install ".[bench]"
    python benchmarks/solve.py [--seeds 5] [--repeats 3] [--envs CartPole-v0 CartPole-v1]
                               [--out FILE.md]

Every run is its own process, timed from launch to exit. Seed by seed, all four systems run
before the next seed, so the shared VM's slow spells fall on all of them; poleax's runs take
seconds, so each is timed ``--repeats`` times (median). Every system is judged alike: the
delivered policy's mean return over 100 episodes of gymnasium's CartPole (reset seeds
10000..10099), greedy and sampled, must reach the threshold (195 for v0, 475 for v1).
- poleax: ``poleax train --algo A --env E --seed S --no-gifs``. It evaluates every 512-1024
  steps inside JAX and stops when greedy and sampled both pass; its summary then holds the
  gymnasium evaluation. Cold runs use an empty program cache, warm runs a filled one.
- SB3: rl-zoo's CartPole settings, with a callback that evaluates every 1024 steps on
  gymnasium (the same function, greedy and sampled) and stops when both pass. Its training
  seconds exclude the time spent evaluating.
Budget: 100,000 env steps per seed. Writes a markdown table (and prints it).
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

BUDGET = 100_000
EVAL_EVERY = 1024


def sb3_run(algo: str, env_id: str, seed: int, out: Path) -> None:
    """One SB3 run (called in a child process); writes its result as JSON."""
    import numpy as np
    import torch
    from stable_baselines3 import A2C, PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    from poleax.reference import evaluate_both

    torch.manual_seed(seed)
    envs = make_vec_env(env_id, n_envs=8, seed=seed)
    if algo == "ppo":
        schedule = lambda start: lambda progress: progress * start  # noqa: E731  rl-zoo lin_
        model = PPO(
            "MlpPolicy",
            envs,
            n_steps=32,
            batch_size=256,
            gae_lambda=0.8,
            gamma=0.98,
            n_epochs=20,
            ent_coef=0.0,
            learning_rate=schedule(1e-3),
            clip_range=schedule(0.2),
            seed=seed,
            device="cpu",
        )
    else:
        model = A2C("MlpPolicy", envs, ent_coef=0.0, seed=seed, device="cpu")

    class Adapter:
        def act(self, obs, greedy=True, rng=None):
            actions, _ = model.predict(obs, deterministic=greedy)
            return np.asarray(actions)

    class StopWhenSolved(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.next_eval = EVAL_EVERY
            self.eval_seconds = 0.0
            self.result = None
            self.solved_at = None

        def _on_step(self) -> bool:
            if self.num_timesteps < self.next_eval:
                return True
            self.next_eval += EVAL_EVERY
            start = time.perf_counter()
            self.result = evaluate_both(Adapter(), env_id, 100, 10_000)
            self.eval_seconds += time.perf_counter() - start
            if self.result["solved"]:
                self.solved_at = self.num_timesteps
                return False
            return True

    callback = StopWhenSolved()
    start = time.perf_counter()
    model.learn(BUDGET, callback=callback)
    train_s = time.perf_counter() - start - callback.eval_seconds
    result = callback.result or evaluate_both(Adapter(), env_id, 100, 10_000)
    out.write_text(
        json.dumps(
            {
                "steps": callback.solved_at,
                "train_s": train_s,
                "solved": bool(result["solved"]),
                "sampled": result["sampled"]["mean"],
                "greedy": result["greedy"]["mean"],
            }
        )
    )


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``cmd``; return its wall seconds and the wall-clock time (``time.time``) it started."""
    launched = time.time()
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start, launched


def poleax_train_cmd(out: Path, *settings: str) -> list[str]:
    """``poleax train`` with the benchmark's budget, no GIFs or progress bar, into ``out``."""
    return [
        sys.executable,
        "-m",
        "poleax",
        "train",
        *settings,
        "--total-steps",
        str(BUDGET),
        "--no-gifs",
        "--no-progress",
        "--out",
        str(out),
    ]


def poleax_run(algo: str, env_id: str, seed: int, tmp: Path, cache: Path) -> dict:
    out = tmp / f"{algo}-{env_id}-{seed}-{time.monotonic_ns()}"
    cmd = poleax_train_cmd(out, "--algo", algo, "--env", env_id, "--seed", str(seed))
    seconds, launched = timed(cmd, {**os.environ, "POLEAX_CACHE_DIR": str(cache)})
    summary = json.loads((out / "summary.json").read_text())
    seed_result = summary["per_seed"][0]
    # The last write into checkpoint/ is the final save of the solved policy.
    saved = max(f.stat().st_mtime for f in (out / "checkpoint").iterdir())
    return {
        "steps": seed_result["steps_to_solve"],
        "train_s": seed_result["seconds_to_solve"] or summary["train_seconds"],
        "solved": seed_result["solved"],
        "sampled": seed_result["evaluation"]["sampled"]["mean"],
        "process_s": seconds,
        "to_saved_s": saved - launched,
    }


def poleax_seed(algo: str, env_id: str, seed: int, tmp: Path, warm_cache: Path, repeats: int):
    """One seed of poleax, cold and warm, each timed ``repeats`` times (medians; the runs are
    deterministic, so only the times vary). The first warm run fills the cache untimed."""
    cold = [
        poleax_run(algo, env_id, seed, tmp, tmp / f"cold-{algo}-{env_id}-{seed}-{i}")
        for i in range(repeats)
    ]
    poleax_run(algo, env_id, seed, tmp, warm_cache)  # fills the cache
    warm = [poleax_run(algo, env_id, seed, tmp, warm_cache) for _ in range(repeats)]
    result = dict(warm[0])
    for name in ("train_s", "process_s", "to_saved_s"):
        result[name] = median(r[name] for r in warm)
        result[f"cold_{name}"] = median(r[name] for r in cold)
    return result


def sb3_seed(algo: str, env_id: str, seed: int, tmp: Path) -> dict:
    """One seed of SB3, in its own process."""
    result_path = tmp / f"sb3-{algo}-{env_id}-{seed}.json"
    cmd = [sys.executable, __file__, "--sb3-run", algo, env_id, str(seed), str(result_path)]
    seconds, _ = timed(cmd, dict(os.environ))
    return {**json.loads(result_path.read_text()), "process_s": seconds}


def table_row(env_id: str, kind: str, algo: str, rows: list[dict], seeds: int) -> str:
    """A markdown row: medians over seeds."""
    if kind == "poleax":
        name = f"poleax {algo.upper()}"
        process = (
            f"{median(r['cold_process_s'] for r in rows):.2f} / "
            f"{median(r['process_s'] for r in rows):.2f}"
        )
        saved = (
            f"{median(r['cold_to_saved_s'] for r in rows):.2f} / "
            f"{median(r['to_saved_s'] for r in rows):.2f}"
        )
    else:
        name = f"SB3 {algo.upper()} (rl-zoo)"
        process, saved = f"{median(r['process_s'] for r in rows):.2f}", "-"
    return (
        f"| {env_id} | {name} | {median(r['steps'] for r in rows):,.0f} "
        f"| {median(r['train_s'] for r in rows):.2f} | {process} | {saved} "
        f"| {sum(r['solved'] for r in rows)}/{seeds} | {median(r['sampled'] for r in rows):.1f} |"
    )


def median(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--envs", nargs="+", default=["CartPole-v0", "CartPole-v1"])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--many-seeds", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="timings per poleax seed")
    parser.add_argument("--sb3-run", nargs=4, metavar=("ALGO", "ENV", "SEED", "OUT"))
    args = parser.parse_args()
    if args.sb3_run:
        algo, env_id, seed, out = args.sb3_run
        sb3_run(algo, env_id, int(seed), Path(out))
        return
    lines = [
        f"Median over {args.seeds} seeds (0..{args.seeds - 1}; poleax's times: median of "
        f"{args.repeats} runs per seed), budget {BUDGET:,} env steps, 2-core CPU. Solved = 100 "
        "episodes of gymnasium's CartPole, greedy and sampled.\n",
        "| env | system | env steps to solve | training s | whole process s (cold / warm) "
        "| to saved policy s (cold / warm) | solved | sampled mean at stop |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    # Seed by seed, every system runs before the next seed starts: a slow spell of this
    # shared VM then falls on all systems alike instead of on one table row.
    systems = [("poleax", algo) for algo in ("ppo", "a2c")] + [("sb3", a) for a in ("ppo", "a2c")]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        warm_cache = tmp / "warm-cache"
        for env_id in args.envs:
            rows: dict[tuple[str, str], list[dict]] = {system: [] for system in systems}
            for seed in range(args.seeds):
                for kind, algo in systems:
                    if kind == "poleax":
                        result = poleax_seed(algo, env_id, seed, tmp, warm_cache, args.repeats)
                    else:
                        result = sb3_seed(algo, env_id, seed, tmp)
                    rows[(kind, algo)].append(result)
            for kind, algo in systems:
                lines.append(table_row(env_id, kind, algo, rows[(kind, algo)], args.seeds))
                print(lines[-1], flush=True)
        if args.many_seeds:
            out = tmp / "many"
            cmd = poleax_train_cmd(out, "--env", "CartPole-v1", "--seeds", str(args.many_seeds))
            seconds, _ = timed(cmd, {**os.environ, "POLEAX_CACHE_DIR": str(warm_cache)})
            summary = json.loads((out / "summary.json").read_text())
            lines.append(
                f"\n{args.many_seeds} seeds of PPO on CartPole-v1 in one process (a seed per core "
                f"at a time): "
                f"{summary['solved_count']}/{args.many_seeds} solved on gymnasium, "
                f"{seconds:.1f} s whole process, median {summary['steps_to_solve']} env steps."
            )
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
