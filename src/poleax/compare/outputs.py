"""A comparison's outputs: scores, rliable's statistics, ``results.csv``, plots, the report
and the table printed at the end."""

from __future__ import annotations

import csv
import html
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import poleax.stats as stats
from poleax.compare.pairs import PairResult
from poleax.compare.settings import CompareSettings
from poleax.envs.registry import env_spec
from poleax.files import write_json
from poleax.report import IMAGES_LOADED_SCRIPT, image_tag


def scores_of(pair: PairResult) -> np.ndarray:
    """Normalised scores ``[seed, point]``: 0 random, 1 solved; a missing return is 0."""
    spec = env_spec(pair.env)
    scores = stats.normalise(pair.returns, spec.random_return, spec.solve.threshold)
    return np.where(np.isfinite(scores), scores, 0.0)


def _final_scores(results: list[PairResult], algo: str, envs: Sequence[str]) -> np.ndarray:
    """``[seed, env]`` final normalised scores of ``algo``."""
    by_env = {r.env: r for r in results if r.algo == algo}
    return np.stack([scores_of(by_env[env])[:, -1] for env in envs], axis=1)


def summarise(settings: CompareSettings, results: list[PairResult]) -> dict[str, Any]:
    """``summary.json``: per algorithm (over all envs, stratified) and per (algorithm, env)
    the IQM of the final normalised score with its 95% interval, the success rate and the
    median env steps to solve (unsolved seeds counted as never; null past half)."""

    def entry(pairs: list[PairResult], scores: np.ndarray) -> dict[str, Any]:
        iqm = stats.iqm_interval(scores)
        solves = [s for p in pairs for s in p.steps_to_solve]
        ranked = sorted(math.inf if s is None else s for s in solves)
        median = float(np.median(ranked))
        return {
            "iqm": float(iqm.point),
            "ci_low": float(iqm.low),
            "ci_high": float(iqm.high),
            "success_rate": sum(s is not None for s in solves) / len(solves),
            "median_steps_to_solve": None if math.isinf(median) else median,
            "seeds": len(pairs[0].seeds),
        }

    per_algo: dict[str, Any] = {}
    for algo in settings.algos:
        pairs = [r for r in results if r.algo == algo]
        per_env = {p.env: entry([p], scores_of(p)[:, -1:]) for p in pairs}
        per_algo[algo] = {
            **entry(pairs, _final_scores(results, algo, settings.envs)),
            "envs": per_env,
        }
    return {
        "settings": settings.to_dict(),
        "budgets": {env: settings.budget_for(env) for env in settings.envs},
        "score": "normalised return at the last grid point: 0 = a uniformly random policy's "
        "mean return, 1 = the env's solved threshold",
        "random_return": {env: env_spec(env).random_return for env in settings.envs},
        "threshold": {env: env_spec(env).solve.threshold for env in settings.envs},
        "algorithms": per_algo,
        "train_seconds": {f"{r.env}/{r.algo}": round(r.seconds, 2) for r in results},
    }


def write_csv(path: Path, results: list[PairResult]) -> Path:
    """``results.csv``: a row per algorithm, env and seed."""
    grids = sorted({g for r in results for g in r.grid})
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(
            ["algo", "env", "seed", "solved", "steps_to_solve", "final_score"]
            + [f"return@{g}" for g in grids]
        )
        for r in results:
            scores = scores_of(r)
            column = {g: j for j, g in enumerate(r.grid)}
            for i, seed in enumerate(r.seeds):
                cells = []
                for g in grids:
                    v = r.returns[i, column[g]] if g in column else np.nan
                    cells.append(f"{v:.2f}" if np.isfinite(v) else "")
                solve = r.steps_to_solve[i]
                out.writerow(
                    [r.algo, r.env, seed, solve is not None, "" if solve is None else solve,
                     f"{scores[i, -1]:.4f}", *cells]
                )  # fmt: skip
    return path


def write_outputs(
    out: Path, settings: CompareSettings, results: list[PairResult]
) -> dict[str, Any]:
    """Every file of a finished comparison; returns the summary."""
    summary = summarise(settings, results)
    write_csv(out / "results.csv", results)
    write_json(out / "summary.json", summary)
    images = plot_all(out, settings, results)
    write_report(out, settings, summary, images)
    return summary


def plot_all(out: Path, settings: CompareSettings, results: list[PairResult]) -> list[Path]:
    """``curves.png``, ``steps_to_solve.png``, ``profiles.png``,
    ``probability_of_improvement.png``."""
    import matplotlib

    matplotlib.use("Agg")
    colors = {a: f"C{i}" for i, a in enumerate(settings.algos)}
    finals = {a: _final_scores(results, a, settings.envs) for a in settings.algos}
    return [
        _save(_curves(settings, results, colors), out / "curves.png"),
        _save(_steps_to_solve(settings, results, colors), out / "steps_to_solve.png"),
        _save(_profiles(settings, finals, colors), out / "profiles.png"),
        _save(_improvement(settings, finals, colors), out / "probability_of_improvement.png"),
    ]


def _curves(settings: CompareSettings, results: list[PairResult], colors: dict[str, str]):
    """IQM return vs env steps, per env."""
    import matplotlib.pyplot as plt

    envs = settings.envs
    fig, axes = plt.subplots(1, len(envs), figsize=(6.5 * len(envs), 4), dpi=100, squeeze=False)
    for ax, env in zip(axes[0], envs, strict=True):
        spec = env_spec(env)
        for r in (r for r in results if r.env == env):
            returns = np.where(np.isfinite(r.returns), r.returns, spec.random_return)
            band = stats.iqm_interval(returns[:, None, :])
            ax.plot(r.grid, band.point, color=colors[r.algo], label=r.algo)
            ax.fill_between(r.grid, band.low, band.high, color=colors[r.algo], alpha=0.2)
        ax.axhline(spec.solve.threshold, color="k", ls="--", lw=0.8, label="solved")
        ax.set(xlabel="env steps", ylabel="IQM return", title=f"{env}, {settings.seeds} seeds")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _steps_to_solve(settings: CompareSettings, results: list[PairResult], colors):
    """Steps to solve, a dot per seed; unsolved seeds at the right edge."""
    import matplotlib.pyplot as plt

    algos, envs = settings.algos, settings.envs
    fig, axes = plt.subplots(1, len(envs), figsize=(6.5 * len(envs), 3), dpi=100, squeeze=False)
    rng = np.random.default_rng(0)
    for ax, env in zip(axes[0], envs, strict=True):
        budget = settings.budget_for(env)
        for k, algo in enumerate(algos):
            r = next(r for r in results if r.env == env and r.algo == algo)
            steps = np.array([budget * 1.05 if s is None else s for s in r.steps_to_solve])
            y = k + rng.uniform(-0.2, 0.2, len(steps))
            solved = np.array([s is not None for s in r.steps_to_solve])
            ax.scatter(steps[solved], y[solved], s=12, color=colors[algo])
            ax.scatter(steps[~solved], y[~solved], s=16, marker="x", color=colors[algo])
            if solved.sum() * 2 > len(solved):
                ax.plot([np.median(steps)] * 2, [k - 0.3, k + 0.3], color="k", lw=2)
        ax.axvline(budget, color="grey", ls=":", lw=0.8)
        ax.set_yticks(range(len(algos)), algos)
        ax.set(xlabel="env steps to solve (x: not solved; bar: median)", title=env)
    fig.tight_layout()
    return fig


def _profiles(settings: CompareSettings, finals: dict[str, np.ndarray], colors):
    """Performance profiles of the final normalised score."""
    import matplotlib.pyplot as plt

    top = max(1.2, max(float(f.max()) for f in finals.values()) + 0.05)
    taus = np.linspace(min(0.0, min(float(f.min()) for f in finals.values())), top, 81)
    fig, ax = plt.subplots(figsize=(6.5, 4), dpi=100)
    for algo in settings.algos:
        profile = stats.profile_interval(finals[algo], taus)
        ax.plot(taus, profile.point, color=colors[algo], label=algo)
        ax.fill_between(taus, profile.low, profile.high, color=colors[algo], alpha=0.2)
    ax.axvline(1.0, color="k", ls="--", lw=0.8)
    ax.set(
        xlabel="normalised score τ (0 random, 1 solved)",
        ylabel="fraction of runs with score > τ",
        title="performance profiles (final score)",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _improvement(settings: CompareSettings, finals: dict[str, np.ndarray], colors):
    """Probability of improvement, each pair once."""
    import matplotlib.pyplot as plt

    algos = settings.algos
    pairs = [(x, y) for i, x in enumerate(algos) for y in algos[i + 1 :]]
    fig, ax = plt.subplots(figsize=(6.5, 0.5 + 0.45 * max(1, len(pairs))), dpi=100)
    for k, (x, y) in enumerate(pairs):
        poi = stats.improvement_interval(finals[x], finals[y])
        ax.plot([poi.low, poi.high], [k, k], color=colors[x], lw=6, alpha=0.5)
        ax.plot([poi.low, poi.high], [k, k], "|", color=colors[x], ms=10)  # a point when 0 wide
        ax.plot([poi.point], [k], "k|", ms=12)
    ax.axvline(0.5, color="grey", ls="--", lw=0.8)
    ax.set_yticks(range(len(pairs)), [f"P({x} > {y})" for x, y in pairs])
    ax.set_xlim(-0.02, 1.02)
    ax.invert_yaxis()
    ax.set(xlabel="probability of improvement (final score), 95% interval")
    fig.tight_layout()
    return fig


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(
    out: Path, settings: CompareSettings, summary: dict[str, Any], images: list[Path]
) -> Path:
    """``report.html``: one offline page, images inline as data URIs."""
    rows = []
    for algo, s in summary["algorithms"].items():
        for env, e in s["envs"].items():
            median = e["median_steps_to_solve"]
            cells = [
                algo, env, f"{e['iqm']:.2f}", f"[{e['ci_low']:.2f}, {e['ci_high']:.2f}]",
                f"{e['success_rate']:.0%}", "-" if median is None else f"{median:,.0f}",
            ]  # fmt: skip
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    figures = "\n".join(
        f"<figure>{image_tag(p, p.stem)}<figcaption>{html.escape(p.name)}</figcaption></figure>"
        for p in images
    )
    budgets = ", ".join(f"{env} {b:,}" for env, b in summary["budgets"].items())
    title = f"poleax compare: {', '.join(settings.algos)} on {', '.join(settings.envs)}"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; color: #222; }}
figure {{ margin: 0 0 1.5rem 0; }} img {{ max-width: 100%; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .3rem .6rem; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{settings.seeds} seeds each (from {settings.seed}), every seed trained to the same budget
of env steps ({html.escape(budgets)}) without early stopping.
Score: {html.escape(summary["score"])}.
IQM = mean of the middle 50% of runs; intervals are 95% stratified bootstrap intervals.</p>
<table><tr><th>algorithm</th><th>env</th><th>IQM final score</th><th>95% interval</th>
<th>solved</th><th>median env steps to solve</th></tr>
{"".join(rows)}
</table>
{figures}
{IMAGES_LOADED_SCRIPT}
</body></html>
"""
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def _padded(text: str, width: int) -> str:
    """``text`` padded to ``abs(width)`` terminal columns (a Chinese character takes two),
    on the right for a negative ``width``."""
    import unicodedata

    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    fill = " " * max(abs(width) - shown, 0)
    return text + fill if width < 0 else fill + text


def print_table(summary: dict[str, Any], stream=None) -> None:
    """The summary as a plain table, one line per algorithm and env."""
    from poleax.lang import tr

    stream = stream or sys.stdout
    head = (tr("algorithm"), tr("env"), tr("IQM score"), tr("95% interval"), tr("solved"))
    head += (tr("median steps"),)
    widths = (-8, -14, 9, 16, 7, 12)  # negative: left-aligned
    header = " ".join(_padded(word, width) for word, width in zip(head, widths, strict=True))
    print(header, file=stream)
    for algo, s in summary["algorithms"].items():
        for env, e in s["envs"].items():
            median = e["median_steps_to_solve"]
            interval = f"[{e['ci_low']:.2f}, {e['ci_high']:.2f}]"
            print(
                f"{algo:<8} {env:<14} {e['iqm']:>9.2f} "
                f"{interval:>16} "
                f"{e['success_rate']:>7.0%} {'-' if median is None else f'{median:,.0f}':>12}",
                file=stream,
            )
