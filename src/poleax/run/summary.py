"""What a finished run reports: ``summary.json`` and ``metrics.csv``."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from poleax.config import solve_criterion
from poleax.envs.registry import env_spec
from poleax.stop_rules import make_stop_rule


def write_metrics(path: Path, result) -> Path:
    """One row per (seed, update): env steps so far and every metric."""
    metrics = result.metrics
    names = sorted(metrics)
    steps = np.cumsum(metrics["charts/env_steps"], axis=1)
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["seed", "update", "global_step", *names])
        for i in range(steps.shape[0]):
            for u in range(steps.shape[1]):
                if metrics["charts/env_steps"][i, u] == 0:
                    continue  # the seed had stopped (solved) by then
                row = [float(metrics[n][i, u]) for n in names]
                out.writerow([result.config.seed + i, u + 1, int(steps[i, u]), *row])
    return path


def per_seed_results(config, result, evaluations, rejected) -> list[dict[str, Any]]:
    """Each seed's outcome: its evaluation, and whether and when it solved in training."""
    return [
        {
            "seed": config.seed + i,
            "solved": evaluations[i]["solved"],
            "solved_in_training": result.steps_to_solve[i] is not None,
            "steps_to_solve": result.steps_to_solve[i],
            "seconds_to_solve": result.seconds_to_solve[i],
            "passes_rejected_by_gymnasium": rejected.get(i, 0),
            "evaluation": evaluations[i],
        }
        for i in range(config.seeds)
    ]


def summarise(config, result, per_seed, names, seconds) -> dict[str, Any]:
    solved = [s["solved"] for s in per_seed]
    steps = [s["steps_to_solve"] for s in per_seed if s["steps_to_solve"] is not None]
    greedy = [s["evaluation"]["greedy"]["mean"] for s in per_seed]
    sampled = [s["evaluation"]["sampled"]["mean"] for s in per_seed]
    criterion = solve_criterion(config)
    verdict = (
        f"{sum(solved)}/{len(solved)} seed(s) solved {config.env}: "
        f"{criterion.describe(env_spec(config.env).name)} "
        f"(greedy {np.median(greedy):.1f}, sampled {np.median(sampled):.1f}"
        f"{', medians' if len(solved) > 1 else ''})."
    )
    out = {
        "env": config.env,
        "algo": config.algo,
        "seeds": [s["seed"] for s in per_seed],
        "solved": all(solved),
        "solved_count": int(sum(solved)),
        "steps_to_solve": int(np.median(steps)) if len(steps) == len(per_seed) else None,
        "seconds": seconds,
        "train_seconds": result.train_seconds,
        "env_steps": [int(s) for s in result.history.env_steps],
        "greedy_mean": float(np.median(greedy)),
        "sampled_mean": float(np.median(sampled)),
        "threshold": criterion.threshold,
        "eval_episodes": config.eval_episodes,
        "eval_seed": criterion.eval_seed,
        "stop_rule": config.stop_rule,
        "per_seed": per_seed,
        "gif_names": names,
        "verdict": verdict,
    }
    out.update(make_stop_rule(config).summary(result.metrics))
    return out
