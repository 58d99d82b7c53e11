"""A sweep's outputs: ``best_config.json`` and the study's plots."""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Any

from poleax.config import build_config
from poleax.files import write_bytes, write_json
from poleax.sweep.settings import (
    SweepSettings,
)


def write_outputs(study, settings: SweepSettings) -> dict[str, Any]:
    """``best_config.json`` (for ``poleax train --config``) and the study's plots."""
    import optuna

    states = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == states.COMPLETE]
    summary: dict[str, Any] = {
        "study": settings.study,
        "finished_trials": sum(t.state in (states.COMPLETE, states.PRUNED) for t in trials),
        "complete_trials": len(done),
        "failed_trials": sum(t.state == states.FAIL for t in trials),
    }
    if not done:
        return summary
    solving = [t for t in done if _solved_seeds(t, settings)]
    if not solving:
        summary["solved"] = False
        _plots(study, settings.out)
        return summary
    best = min(solving, key=lambda t: t.value)
    # The best settings, trained with the env's own budget (the sweep's may be shorter).
    default_budget = build_config(settings.algo, settings.env).total_steps
    config = build_config(
        settings.algo,
        settings.env,
        total_steps=max(settings.total_steps, default_budget),
        **best.params,
    )
    write_json(settings.out / "best_config.json", config.to_dict())
    summary.update(
        solved=True,
        objective=settings.objective,
        best_value=best.value,
        best_mean_steps=best.user_attrs.get("mean_steps", best.value),
        best_params=best.params,
        best_trial=best.number,
    )
    _plots(study, settings.out)
    return summary


def _solved_seeds(trial, settings: SweepSettings) -> int:
    """How many of a complete trial's seeds solved (a trial of a study made before poleax
    recorded it: whether its mean env steps, its value then, fell below the budget)."""
    if "solved_seeds" in trial.user_attrs:
        return int(trial.user_attrs["solved_seeds"])
    return int(trial.value is not None and trial.value < settings.total_steps)


def _plots(study, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    def save(figure, name: str) -> None:
        figure.tight_layout()
        image = io.BytesIO()
        figure.savefig(image, format="png")
        plt.close(figure)
        write_bytes(out / name, image.getvalue())

    # optuna's plots switch the process's style to ggplot; the rc context puts it back, so a
    # sweep leaves later pictures of the process (curves, maps) as they were.
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore")  # optuna marks its matplotlib plots experimental
        save(optuna_plots.plot_optimization_history(study).figure, "history.png")
        # Too few distinct trials to rank parameters raises one of these.
        with contextlib.suppress(RuntimeError, ValueError, ZeroDivisionError):
            save(optuna_plots.plot_param_importances(study).figure, "importances.png")
