"""Learning curves: return against env steps, the solved threshold, and where each seed solved."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np


def _smooth(values: np.ndarray, window: int = 5) -> np.ndarray:
    """Trailing mean over finite values (NaN where none yet)."""
    out = np.full(values.shape, np.nan)
    for t in range(values.shape[-1]):
        part = values[..., max(0, t - window + 1) : t + 1]
        with np.errstate(all="ignore"):
            finite = np.isfinite(part)
            total = np.where(finite, part, 0.0).sum(-1)
            count = finite.sum(-1)
            out[..., t] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return out


def learning_curve(
    path: str | Path,
    env_steps: np.ndarray,
    returns: np.ndarray,
    threshold: float,
    steps_to_solve: list[int | None],
    title: str,
    evaluations: list | None = None,
) -> Path:
    """Write ``curve.png`` (``curve_png``'s picture) to ``path``; return the path."""
    data = curve_png(env_steps, returns, threshold, steps_to_solve, title, evaluations)
    Path(path).write_bytes(data)
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


def curve_png(
    env_steps: np.ndarray,
    returns: np.ndarray,
    threshold: float,
    steps_to_solve: list[int | None],
    title: str,
    evaluations: list | None = None,
    stops: list[int | None] | None = None,
) -> bytes:
    """The learning curve as PNG: one line per seed, or median and range for several seeds.

    ``env_steps`` and ``returns`` are ``[seed, update]``; steps are cumulative (flat once a
    seed stopped; the range then covers the seeds still training). Training
    returns average the episodes that ended in an update, which favours short ones; the
    evaluation points (whole episodes from a reset) show the policy itself. ``steps_to_solve``
    marks each solved seed's solve; ``stops``, the steps where a stop rule that is not the
    solved criterion (the tutorial's running reward) stopped a seed.
    """
    env_steps = np.asarray(env_steps)
    trained = np.diff(env_steps, axis=1, prepend=0) > 0  # a seed stops once it is solved
    smooth = np.where(trained, _smooth(np.asarray(returns, float)), np.nan)
    fig, ax = figure((7, 4), 100)
    if smooth.shape[0] == 1:
        ax.plot(env_steps[0], smooth[0], color="C0", label="episodic return")
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
                label=f"range of {smooth.shape[0]} seeds",
            )
            ax.plot(x, np.nanmedian(smooth, 0), color="C0", label="median return")
    if evaluations:  # median over the seeds evaluated at each chunk (training ones)
        evaluated = [np.isfinite(np.asarray(e.greedy, float)) for e in evaluations]
        kept = [i for i, mask in enumerate(evaluated) if mask.any()]
        eval_steps = [np.median(np.asarray(evaluations[i].env_steps)[evaluated[i]]) for i in kept]
        counts = sorted({n for e in evaluations for n in (e.episodes or []) if n})
        episodes = f" ({' or '.join(map(str, counts))} episodes)" if counts else ""
        for mode, marker, color, label in (
            ("greedy", "o", "C1", f"evaluation, greedy{episodes}"),
            ("sampled", "s", "C4", "evaluation, sampled"),
        ):
            means = [
                np.median(np.asarray(getattr(evaluations[i], mode))[evaluated[i]]) for i in kept
            ]
            ax.plot(eval_steps, means, marker, ms=3, color=color, label=label)
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
    ax.set_xlabel("env steps")
    ax.set_ylabel("return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return png_bytes(fig)
