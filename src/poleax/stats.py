"""Aggregate statistics over runs, as rliable defines them (Agarwal et al., 2021), in numpy.

Scores are arrays ``[runs, tasks, ...]``: a row per seed, a column per task (env), any further
axes (say, points of a training curve) carried along. Intervals come from the stratified
percentile bootstrap: each replicate resamples the runs of every task with replacement,
independently per task, so every task keeps its number of runs.

rliable itself is not a dependency: it needs arch, statsmodels, pandas and seaborn, and its
1.2.0 does not import with pandas 3. ``tests/test_stats.py`` checks these numbers against
rliable's when it is installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

#: Bootstrap replicates (rliable's default for performance profiles; its 50,000 for point
#: metrics moves the interval ends by well under 1% of the score range here).
REPS = 2000
CONFIDENCE = 0.95


class Interval(NamedTuple):
    """A point estimate and the ends of its confidence interval (arrays of one shape)."""

    point: np.ndarray
    low: np.ndarray
    high: np.ndarray


def _as_runs_tasks(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, float)
    if scores.ndim < 2:
        raise ValueError(f"scores must be [runs, tasks, ...]; got shape {scores.shape}")
    if scores.shape[0] < 1 or scores.shape[1] < 1:
        raise ValueError(f"scores need at least one run and one task; got shape {scores.shape}")
    return scores


def iqm(scores: np.ndarray) -> np.ndarray:
    """Interquartile mean over runs and tasks together: the mean of the middle 50% of the
    scores (a 25% trimmed mean, as ``scipy.stats.trim_mean``). Extra axes are kept."""
    scores = _as_runs_tasks(scores)
    flat = scores.reshape(-1, *scores.shape[2:])
    n = flat.shape[0]
    cut = int(0.25 * n)  # scipy's rule: floor(proportion * n) from each end
    ordered = np.sort(flat, axis=0)
    return ordered[cut : n - cut].mean(axis=0)


def score_distribution(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Performance profile: for each ``tau``, the fraction of runs (over all tasks) whose score
    is above ``tau``. Shape ``[len(taus), ...]``."""
    scores = _as_runs_tasks(scores)
    flat = scores.reshape(-1, *scores.shape[2:])
    taus = np.asarray(taus, float)
    return (flat[None] > taus.reshape(-1, *([1] * flat.ndim))).mean(axis=1)


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) + 0.5 P(X = Y) for a run of X and a run of Y drawn at random from the same
    task, averaged over tasks (rliable's Mann-Whitney form)."""
    x, y = _as_runs_tasks(x), _as_runs_tasks(y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y need the same tasks; got {x.shape[1]} and {y.shape[1]}")
    return float(_poi(x[None], y[None])[0])


def _poi(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Vectorised probability of improvement of ``[reps, runs_x, tasks]`` over
    ``[reps, runs_y, tasks]``: one value per replicate."""
    a, b = x[:, :, None, :], y[:, None, :, :]
    per_task = (a > b).mean(axis=(1, 2)) + 0.5 * (a == b).mean(axis=(1, 2))
    return per_task.mean(axis=-1)


def stratified_resample(scores: np.ndarray, reps: int, rng: np.random.Generator) -> np.ndarray:
    """``reps`` stratified bootstrap replicates of ``[runs, tasks, ...]``: ``[reps, runs,
    tasks, ...]``, each task's runs drawn with replacement from that task's own."""
    scores = _as_runs_tasks(scores)
    runs, tasks = scores.shape[:2]
    rows = rng.integers(0, runs, size=(reps, runs, tasks))
    return scores[rows, np.arange(tasks)]


def _interval(point, replicates: np.ndarray, confidence: float) -> Interval:
    alpha = 100 * (1 - confidence) / 2
    low, high = np.percentile(replicates, [alpha, 100 - alpha], axis=0)
    return Interval(np.asarray(point, float), low, high)


def bootstrap(
    scores: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    reps: int = REPS,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """``statistic(scores)`` with its stratified percentile bootstrap interval.

    ``statistic`` maps ``[runs, tasks, ...]`` to any array; it is called once per replicate.
    """
    rng = np.random.default_rng(seed)
    samples = stratified_resample(scores, reps, rng)
    replicates = np.stack([np.asarray(statistic(s), float) for s in samples])
    return _interval(statistic(_as_runs_tasks(scores)), replicates, confidence)


def iqm_interval(
    scores: np.ndarray, reps: int = REPS, confidence: float = CONFIDENCE, seed: int = 0
) -> Interval:
    """IQM of ``[runs, tasks, ...]`` with its 95% stratified bootstrap interval (vectorised
    over replicates and extra axes)."""
    scores = _as_runs_tasks(scores)
    samples = stratified_resample(scores, reps, np.random.default_rng(seed))
    flat = samples.reshape(reps, -1, *scores.shape[2:])
    n = flat.shape[1]
    cut = int(0.25 * n)
    replicates = np.sort(flat, axis=1)[:, cut : n - cut].mean(axis=1)
    return _interval(iqm(scores), replicates, confidence)


def profile_interval(
    scores: np.ndarray,
    taus: np.ndarray,
    reps: int = REPS,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """The performance profile at ``taus`` with its stratified bootstrap interval."""
    scores = _as_runs_tasks(scores)
    taus = np.asarray(taus, float)
    samples = stratified_resample(scores, reps, np.random.default_rng(seed))
    flat = samples.reshape(reps, -1, *scores.shape[2:])
    above = flat[:, None] > taus.reshape(1, -1, *([1] * (flat.ndim - 1)))
    replicates = above.mean(axis=2)
    return _interval(score_distribution(scores, taus), replicates, confidence)


def improvement_interval(
    x: np.ndarray,
    y: np.ndarray,
    reps: int = REPS,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """P(X > Y) with its interval: X's and Y's runs resampled independently, per task."""
    x, y = _as_runs_tasks(x), _as_runs_tasks(y)
    rng = np.random.default_rng(seed)
    xs, ys = stratified_resample(x, reps, rng), stratified_resample(y, reps, rng)
    return _interval(probability_of_improvement(x, y), _poi(xs, ys), confidence)


def normalise(returns: np.ndarray, random_return: float, threshold: float) -> np.ndarray:
    """Scores with 0 at a uniformly random policy's mean return and 1 at the solved
    threshold."""
    span = threshold - random_return
    if span == 0:
        raise ValueError("the solved threshold equals the random return: no score scale")
    return (np.asarray(returns, float) - random_return) / span
