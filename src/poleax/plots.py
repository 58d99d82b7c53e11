"""Learning curves: return against env steps, the solved threshold, and where each seed solved."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np

#: Updates in the training line's trailing mean.
WINDOW = 5


def _smooth(values: np.ndarray, window: int = WINDOW, weights: np.ndarray | None = None):
    """Trailing mean over the last ``window`` updates' finite values (NaN where none yet).

    With ``weights`` (the episodes that ended in each update) it is the mean return of every
    episode that ended in the window, each episode counted once, rather than a mean of
    per-update means.
    """
    values = np.asarray(values, float)
    if weights is None:
        weights = np.ones(values.shape)
    weights = np.where(np.isfinite(values), np.asarray(weights, float), 0.0)
    out = np.full(values.shape, np.nan)
    for t in range(values.shape[-1]):
        lo = max(0, t - window + 1)
        part, w = values[..., lo : t + 1], weights[..., lo : t + 1]
        with np.errstate(all="ignore"):
            total = np.where(w > 0, part * w, 0.0).sum(-1)
            count = w.sum(-1)
            out[..., t] = np.where(count > 0, total / np.maximum(count, 1e-12), np.nan)
    return out


def learning_curve(path: str | Path, *args: Any, **kwargs: Any) -> Path:
    """Write ``curve.png`` (``curve_png(*args, **kwargs)``) to ``path``; return the path."""
    Path(path).write_bytes(curve_png(*args, **kwargs))
    return Path(path)


def figure(figsize: tuple[float, float], dpi: int):
    """A figure and its axes, made without pyplot: no global state, so threads may draw at
    once, and nothing to close."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    return fig, fig.subplots()


def png_bytes(fig) -> bytes:
    """The figure as PNG."""
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def warm_up() -> None:
    """Import matplotlib and draw a small figure with text, so that the first real picture
    finds its fonts and renderer loaded (a process that will draw does this while it waits)."""
    fig, ax = figure((1, 1), 20)
    ax.set_title("warm")
    png_bytes(fig)


def curve_png(*args: Any, **kwargs: Any) -> bytes:
    """``curve_figure(*args, **kwargs)`` encoded as PNG."""
    return png_bytes(curve_figure(*args, **kwargs))


def _plot_evaluations(ax, evaluations: list) -> None:
    """Greedy and sampled evaluation means: the median over the seeds evaluated at each chunk
    (the ones still training)."""
    evaluated = [np.isfinite(np.asarray(e.greedy, float)) for e in evaluations]
    kept = [i for i, mask in enumerate(evaluated) if mask.any()]
    eval_steps = [np.median(np.asarray(evaluations[i].env_steps)[evaluated[i]]) for i in kept]
    counts = sorted({n for e in evaluations for n in (e.episodes or []) if n})
    of = f" ({' or '.join(map(str, counts))} episodes)" if counts else ""
    for mode, marker, color, label in (
        ("greedy", "o", "C1", f"evaluation, greedy{of}"),
        ("sampled", "s", "C4", "evaluation, sampled"),
    ):
        means = [np.median(np.asarray(getattr(evaluations[i], mode))[evaluated[i]]) for i in kept]
        ax.plot(eval_steps, means, marker, ms=3, color=color, label=label)


def _mark_solves_and_stops(
    ax, threshold: float, steps_to_solve: list[int | None], stops: list[int | None] | None
) -> None:
    """The threshold line, a star at each seed's solve, a dotted line at each rule's stop."""
    ax.axhline(threshold, color="C3", linestyle="--", label=f"solved ({threshold:g})")
    solved = [s for s in steps_to_solve if s is not None]
    if solved:
        ax.scatter(
            solved,
            [threshold] * len(solved),
            marker="*",
            s=120,
            color="C2",
            zorder=5,
            label="solved (passed by the margin on gymnasium)",
        )
    stopped = [s for s in stops or [] if s is not None]
    if stopped:
        for step in stopped:
            ax.axvline(step, color="0.35", linestyle=":", linewidth=1)
        ax.plot([], [], color="0.35", linestyle=":", label="stopped by the running reward")


def curve_figure(
    env_steps: np.ndarray,
    returns: np.ndarray,
    threshold: float,
    steps_to_solve: list[int | None],
    title: str,
    evaluations: list | None = None,
    stops: list[int | None] | None = None,
    *,
    episodes: np.ndarray | None = None,
    start_step: int | None = None,
):
    """The learning curve: one line per seed, or median and range for several seeds.

    ``env_steps`` and ``returns`` are ``[seed, update]``; steps are cumulative (flat once a
    seed stopped; the range then covers the seeds still training). ``returns`` holds, per
    update, the mean return of the episodes that ended in it (NaN where none did); the
    training line is their trailing mean over ``WINDOW`` updates, weighted by ``episodes``
    (the count that ended in each update) where given, and the legend says so.

    Early in training that line favours short episodes: before an env has played as many
    steps as the episode cap, only episodes that ended sooner can have ended. Where short
    means good (MountainCarContinuous: the early ones are the few that reached the goal) it
    starts high and falls while the policy improves. ``start_step`` (the env steps by which
    every env has had time to reach the cap: parallel envs x the cap) hides the line before
    that point. The evaluation points, whole episodes from a reset, show the policy itself.
    ``steps_to_solve`` marks each solved seed's solve; ``stops``, the steps where a stop rule
    that is not the solved criterion (the tutorial's running reward) stopped a seed.
    """
    env_steps = np.asarray(env_steps)
    trained = np.diff(env_steps, axis=1, prepend=0) > 0  # a seed stops once it is solved
    smooth = _smooth(np.asarray(returns, float), weights=episodes)
    if start_step:
        trained &= env_steps >= start_step
    smooth = np.where(trained, smooth, np.nan)
    what = f"training: mean return of the episodes ended in the last {WINDOW} updates"
    if start_step:
        what += f"\n(from {start_step:,} steps, when every env could have reached the cap)"
    else:
        what += "\n(early on, only episodes shorter than the cap have ended)"
    fig, ax = figure((8, 5.2), 100)
    if smooth.shape[0] == 1:
        ax.plot(env_steps[0], smooth[0], color="C0", label=what)
    else:
        x = env_steps.max(axis=0)  # the steps of the seeds still training
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # updates where no seed has a return
            ax.fill_between(
                x,
                np.nanmin(smooth, 0),
                np.nanmax(smooth, 0),
                color="C0",
                alpha=0.2,
                label=f"training, range of {smooth.shape[0]} seeds",
            )
            ax.plot(x, np.nanmedian(smooth, 0), color="C0", label=f"{what}, median")
    if evaluations:
        _plot_evaluations(ax, evaluations)
    _mark_solves_and_stops(ax, threshold, steps_to_solve, stops)
    ax.set_xlim(left=0)
    ax.set_xlabel("env steps")
    ax.set_ylabel("return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    # The legend sits under the axes, never over the data.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
