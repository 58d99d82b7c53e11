"""What a finished run reports: ``summary.json`` and ``metrics.csv``."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from poleax.history import ENV_STEPS
from poleax.lang import tr, translate
from poleax.reference import confident
from poleax.stop_rules import make_stop_rule


def write_metrics(path: Path, result) -> Path:
    """One row per (seed, update): env steps so far and every metric."""
    metrics = result.metrics
    names = sorted(metrics)
    steps = np.cumsum(metrics[ENV_STEPS], axis=1)
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["seed", "update", "global_step", *names])
        for i in range(steps.shape[0]):
            for u in range(steps.shape[1]):
                if metrics[ENV_STEPS][i, u] == 0:
                    continue  # the seed had stopped (solved) by then
                row = [float(metrics[n][i, u]) for n in names]
                out.writerow([result.config.seed + i, u + 1, int(steps[i, u]), *row])
    return path


def per_seed_results(algo, result, evaluations, rejected) -> list[dict[str, Any]]:
    """Each seed's verdict. A seed is solved exactly when its delivered policy passes the
    criterion by the margin on gymnasium, whenever that was: confirmed during training, or
    judged at the end of its budget. A pass without the margin is reported as such."""
    config, criterion = algo.config, algo.criterion
    rule = make_stop_rule(config)
    out = []
    for i in range(config.seeds):
        evaluation = evaluations[i]
        solved = confident(criterion, evaluation)
        stop = result.steps_to_solve[i]  # where the stop rule stopped the seed, if it did
        confirmed = rule.stop_is_solve and stop is not None
        end = int(result.history.env_steps[i])  # a solve judged at the end of the budget
        steps = (stop if stop is not None else end) if solved else None
        entry = {
            "seed": config.seed + i,
            "solved": solved,
            "passed_not_confidently": bool(evaluation["solved"]) and not solved,
            "solved_in_training": confirmed,
            "steps_to_solve": steps,
            "seconds_to_solve": result.seconds_to_solve[i] if confirmed else None,
            "passes_rejected_by_gymnasium": rejected.get(i, 0),
            "evaluation": evaluation,
        }
        if not rule.stop_is_solve:
            entry.update(stopped_by_rule=stop is not None, steps_to_stop=stop)
        out.append(entry)
    return out


def verdict(algo, per_seed: list[dict[str, Any]], lang: str | None = None) -> str:
    """The line a user reads: seeds solved (by the margin), passes without it, and the stop
    rule's own word where its stop is not the verdict; in ``lang`` (``summary.json`` keeps
    the English one), the language in force by default."""
    config, criterion = algo.config, algo.criterion
    solved = sum(s["solved"] for s in per_seed)
    unsure = sum(s["passed_not_confidently"] for s in per_seed)
    seeds = len(per_seed)
    fields = {
        "solved": solved,
        "seeds": seeds,
        "env": config.env,
        "criterion": translate(algo.task.spec.describe_solve(criterion), lang),
        "greedy": np.median([s["evaluation"]["greedy"]["mean"] for s in per_seed]),
        "sampled": np.median([s["evaluation"]["sampled"]["mean"] for s in per_seed]),
    }
    if seeds > 1:
        line = tr(
            "{solved}/{seeds} seed(s) solved {env}: {criterion} (greedy {greedy:.1f}, "
            "sampled {sampled:.1f}, medians).",
            lang=lang,
            **fields,
        )
    else:
        line = tr(
            "{solved}/{seeds} seed(s) solved {env}: {criterion} (greedy {greedy:.1f}, "
            "sampled {sampled:.1f}).",
            lang=lang,
            **fields,
        )
    if unsure:
        line += tr(
            " {unsure} more passed, not confidently (within {confidence:g} standard errors of "
            "the threshold).",
            lang=lang,
            unsure=unsure,
            confidence=criterion.confidence,
        )
    stopped = make_stop_rule(config).stopped_line(
        sum(bool(s.get("stopped_by_rule")) for s in per_seed), seeds
    )
    if stopped is None:
        return line
    return tr("{stopped} {line}", lang=lang, stopped=translate(stopped, lang), line=line)


def summarise(algo, result, per_seed, names, seconds) -> dict[str, Any]:
    config = algo.config
    solved = [s["solved"] for s in per_seed]
    steps = [s["steps_to_solve"] for s in per_seed if s["steps_to_solve"] is not None]
    greedy = [s["evaluation"]["greedy"]["mean"] for s in per_seed]
    sampled = [s["evaluation"]["sampled"]["mean"] for s in per_seed]
    criterion = algo.criterion
    out = {
        "env": config.env,
        "algo": config.algo,
        "seeds": [s["seed"] for s in per_seed],
        "solved": all(solved),
        "solved_count": int(sum(solved)),
        "passed_not_confidently_count": int(sum(s["passed_not_confidently"] for s in per_seed)),
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
        "verdict": verdict(algo, per_seed, lang="en"),
    }
    out.update(make_stop_rule(config).summary(result.metrics))
    return out
