"""``poleax compare``: several algorithms x seeds on one or more envs, trained to the same
budget of env steps, scored on a fixed grid, and summarised with rliable's statistics.

Each (env, algorithm) is one ``trainer.train`` call of all its seeds, with no early stop. Its
result is written to ``DIR/runs/<env>__<algo>.json`` as soon as it ends (atomically), so an
interrupted comparison keeps every finished pair and ``--resume DIR`` trains only the rest.

The return of a seed at grid point ``g`` is its latest in-JAX evaluation at or before ``g``
(mean of the greedy and the sampled episodes); chunk ends differ per algorithm, the grid does
not. A seed not yet evaluated at ``g`` has no return there (an empty cell in ``results.csv``)
and counts as a random policy (score 0) in the statistics.
"""

from __future__ import annotations

import csv
import html
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from poleax import stats
from poleax.config import ALGOS, ConfigError, TrainConfig, build_config, load_config
from poleax.envs.registry import STANDARD_ENV, check_env_id, env_spec
from poleax.report import IMAGES_LOADED_SCRIPT, image_tag

#: Points on the evaluation grid (about; the spacing is rounded to a power of two).
GRID_POINTS = 24
#: Evaluation episodes per grid point (greedy and sampled each); the trainer's 100 would
#: make evaluation most of the work.
EVAL_EPISODES = 20
MIN_SEEDS = 3
FORMAT = 1


class CompareInterrupted(RuntimeError):
    """Stopped by a signal; the finished pairs are kept (the message says how to go on)."""

    def __init__(self, out: Path, signum: int, done: int, total: int) -> None:
        super().__init__(
            f"interrupted; {done}/{total} algorithm-env pairs finished and kept; "
            f"continue with: poleax compare --resume {out}"
        )
        self.out, self.signum = out, signum


@dataclass(frozen=True)
class CompareSettings:
    """What to compare. ``configs`` maps an algorithm to a ``config.json`` to start from."""

    envs: tuple[str, ...] = (STANDARD_ENV,)
    algos: tuple[str, ...] = ("ppo", "a2c", "td-ac", "mc-ac")
    seeds: int = 20
    budget: int | None = None
    seed: int = 0
    eval_episodes: int = EVAL_EPISODES
    configs: dict[str, str] = field(default_factory=dict)
    out: Path | None = None

    def budget_for(self, env: str) -> int:
        return self.budget or env_spec(env).compare_budget  # when --budget is not given

    def to_dict(self) -> dict[str, Any]:
        return {
            "envs": list(self.envs),
            "algos": list(self.algos),
            "seeds": self.seeds,
            "budget": self.budget,
            "seed": self.seed,
            "eval_episodes": self.eval_episodes,
            "configs": dict(self.configs),
        }


class PairResult(NamedTuple):
    """One algorithm on one env: per seed, the return at each grid point and the solve."""

    algo: str
    env: str
    seeds: list[int]
    grid: list[int]
    returns: np.ndarray  # [seed, point]; NaN where the seed had no evaluation yet
    steps_to_solve: list[int | None]
    seconds: float


def grid_for(budget: int, points: int = GRID_POINTS) -> list[int]:
    """Evaluation grid in env steps: multiples of a power of two, about ``points`` of them,
    up to the budget (e.g. 2048, 4096, ..., 49152 for 50,000)."""
    spacing = 2 ** max(0, round(math.log2(max(budget / points, 1))))
    return [spacing * i for i in range(1, budget // spacing + 1)]


def returns_on_grid(evaluations: Sequence, seeds: int, grid: Sequence[int]) -> np.ndarray:
    """``[seed, point]``: each seed's latest evaluation at or before each grid point (the
    mean of its greedy and sampled means), NaN where it had none yet."""
    out = np.full((seeds, len(grid)), np.nan)
    for ev in evaluations:
        steps = np.asarray(ev.env_steps[:seeds], float)
        value = (np.asarray(ev.greedy[:seeds], float) + np.asarray(ev.sampled[:seeds], float)) / 2
        for j, point in enumerate(grid):
            later = (steps <= point) & np.isfinite(value)
            out[later, j] = value[later]  # evaluations come in order: the last one wins
    return out


def pair_config(settings: CompareSettings, algo: str, env: str) -> TrainConfig:
    """The training config of one pair: the algorithm's defaults (or its ``--config``), all
    seeds, the budget, no early stop, an evaluation per grid point."""
    grid = grid_for(settings.budget_for(env))
    forced = {
        "env": env,
        "algo": algo,
        "seed": settings.seed,
        "seeds": settings.seeds,
        "total_steps": settings.budget_for(env),
        "stop_when_solved": False,
        "stop_rule": "eval",
        "eval_every": grid[0],
        "eval_episodes": settings.eval_episodes,
        "eval_screen": 0,  # every grid point is scored by the full evaluation
        "preset": None,
    }
    if algo in settings.configs:
        base = load_config(settings.configs[algo]).to_dict()
        if base["algo"] != algo:
            raise ConfigError(
                f"--config {algo}={settings.configs[algo]} is a {base['algo']} config"
            )
        return TrainConfig.from_dict({**base, **forced})
    return build_config(**forced)


def check_settings(settings: CompareSettings) -> None:
    """Raise ``ConfigError`` (one line) for anything that cannot run; build every config."""
    if not settings.envs:
        raise ConfigError("--env needs at least one environment id")
    if not settings.algos:
        raise ConfigError("--algos needs at least one algorithm, like ppo,a2c")
    for env in settings.envs:
        try:
            check_env_id(env)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    for algo in settings.algos:
        if algo not in ALGOS:
            raise ConfigError(f"unknown algorithm {algo!r}; known algorithms: {', '.join(ALGOS)}")
    for name in (settings.envs, settings.algos):
        if len(set(name)) != len(name):
            raise ConfigError(f"each name once, please; got {','.join(name)}")
    unused = sorted(set(settings.configs) - set(settings.algos))
    if unused:
        raise ConfigError(f"--config for {', '.join(unused)}, which --algos does not name")
    if settings.seeds < MIN_SEEDS:
        raise ConfigError(
            f"--seeds must be at least {MIN_SEEDS} for intervals over seeds; got {settings.seeds}"
        )
    if settings.budget is not None and settings.budget < 1:
        raise ConfigError(f"--budget must be a positive number of env steps; got {settings.budget}")
    if settings.eval_episodes < 2:
        raise ConfigError(f"--eval-episodes must be at least 2; got {settings.eval_episodes}")
    for env in settings.envs:
        for algo in settings.algos:
            pair_config(settings, algo, env)  # raises for mc-ac on a continuous env, etc.


def train_pair(
    settings: CompareSettings,
    algo: str,
    env: str,
    on_steps: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> PairResult | None:
    """Train one pair's seeds; ``None`` if stopped first. ``on_steps(n)`` reports the env
    steps done so far over all seeds (each capped at the budget)."""
    from poleax.trainer import train

    config = pair_config(settings, algo, env)
    budget = config.total_steps

    def on_chunk(report) -> None:
        if on_steps is not None:
            on_steps(int(np.minimum(report.env_steps, budget).sum()))

    start = time.perf_counter()
    result = train(config, on_chunk=on_chunk, should_stop=should_stop)
    if result.interrupted:
        return None
    grid = grid_for(budget)
    history = result.history
    return PairResult(
        algo=algo,
        env=env,
        seeds=result.seeds,
        grid=grid,
        returns=returns_on_grid(history.evaluations, config.seeds, grid),
        steps_to_solve=[None if s is None else int(s) for s in history.steps_to_solve],
        seconds=time.perf_counter() - start,
    )


def _pair_path(out: Path, algo: str, env: str) -> Path:
    return out / "runs" / f"{env}__{algo}.json"


def save_pair(out: Path, pair: PairResult) -> Path:
    from poleax.run import write_json

    path = _pair_path(out, pair.algo, pair.env)
    path.parent.mkdir(parents=True, exist_ok=True)
    returns = [[None if not np.isfinite(v) else float(v) for v in row] for row in pair.returns]
    write_json(path, {**pair._asdict(), "returns": returns, "format": FORMAT})
    return path


def load_pair(path: Path) -> PairResult:
    try:
        data = json.loads(path.read_text())
        returns = np.array([[np.nan if v is None else v for v in r] for r in data["returns"]])
        return PairResult(
            data["algo"], data["env"], list(data["seeds"]), list(data["grid"]),
            returns.reshape(len(data["seeds"]), len(data["grid"])),
            list(data["steps_to_solve"]), float(data["seconds"]),
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(
            f"cannot read {path}: {error}; delete it to train that pair again"
        ) from None


def read_settings(out: Path) -> CompareSettings:
    """The settings of the comparison in ``out`` (for ``--resume``)."""
    path = out / "compare.json"
    if not path.is_file():
        raise ConfigError(f"{out} holds no comparison (no compare.json) to resume")
    try:
        data = json.loads(path.read_text())
        data["envs"], data["algos"] = tuple(data["envs"]), tuple(data["algos"])
        return CompareSettings(**data, out=out)
    except (OSError, ValueError, TypeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None


def default_out(settings: CompareSettings) -> Path:
    name = "+".join(settings.envs) if len(settings.envs) < 3 else f"{len(settings.envs)}-envs"
    return Path("compare") / name


def run_compare(
    settings: CompareSettings, resume: bool = False, progress: bool = False
) -> tuple[Path, dict[str, Any]]:
    """Train every pair not already finished in the folder, then write the results.

    Returns the folder and the summary. Raises ``CompareInterrupted`` on SIGINT/SIGTERM
    (finished pairs kept) and ``ConfigError`` for bad input or a folder in use.
    """
    from poleax.run import RunLock, Signals, write_json

    check_settings(settings)
    out = settings.out or default_out(settings)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder")
    if not resume and (out / "compare.json").exists():
        raise ConfigError(f"{out} already holds a comparison; use --resume {out} or another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot write to {out}: {error.strerror or error}") from None
    lock = RunLock(out)
    signals = Signals()
    signals.install()
    try:
        if not resume:
            write_json(out / "compare.json", settings.to_dict())
        pairs = [(env, algo) for env in settings.envs for algo in settings.algos]
        done: dict[tuple[str, str], PairResult] = {}
        for env, algo in pairs:
            path = _pair_path(out, algo, env)
            if path.exists():
                done[env, algo] = load_pair(path)
        with _Progress(settings, pairs, done, progress) as bar:
            for env, algo in pairs:
                if (env, algo) in done:
                    continue
                bar.start(env, algo)
                pair = train_pair(settings, algo, env, bar.steps, signals)
                if pair is None or signals():
                    raise CompareInterrupted(out, signals.signum or 2, len(done), len(pairs))
                save_pair(out, pair)
                done[env, algo] = pair
                bar.finish(env, algo)
        results = [done[p] for p in pairs]
        summary = write_outputs(out, settings, results)
    finally:
        signals.restore()
        lock.release()
    return out, summary


class _Progress:
    """One rich bar over every (algorithm, seed) pair's env steps."""

    def __init__(self, settings, pairs, done, enabled: bool) -> None:
        self.budgets = {p: settings.seeds * settings.budget_for(p[0]) for p in pairs}
        self.finished = sum(self.budgets[p] for p in done)
        self.total = sum(self.budgets.values())
        self.enabled = enabled
        self.progress = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,.0f}/{task.total:,.0f} env steps"),
                TimeElapsedColumn(),
                transient=False,
            )
            self.progress.__enter__()
            self.task = self.progress.add_task("compare", total=self.total)
            self.progress.update(self.task, completed=self.finished)
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def start(self, env: str, algo: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, description=f"{algo} on {env}")

    def steps(self, steps: int) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=self.finished + steps)

    def finish(self, env: str, algo: str) -> None:
        self.finished += self.budgets[env, algo]
        self.steps(0)


# ----------------------------------------------------------------------------- outputs


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
    from poleax.run import write_json

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
    import matplotlib.pyplot as plt

    algos, envs = settings.algos, settings.envs
    colors = {a: f"C{i}" for i, a in enumerate(algos)}
    paths = []

    # IQM return vs env steps, per env.
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
    paths.append(_save(fig, out / "curves.png"))

    # Steps to solve, a dot per seed; unsolved seeds at the right edge.
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
    paths.append(_save(fig, out / "steps_to_solve.png"))

    # Performance profiles of the final normalised score.
    finals = {a: _final_scores(results, a, envs) for a in algos}
    top = max(1.2, max(float(f.max()) for f in finals.values()) + 0.05)
    taus = np.linspace(min(0.0, min(float(f.min()) for f in finals.values())), top, 81)
    fig, ax = plt.subplots(figsize=(6.5, 4), dpi=100)
    for algo in algos:
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
    paths.append(_save(fig, out / "profiles.png"))

    # Probability of improvement, each pair once.
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
    paths.append(_save(fig, out / "probability_of_improvement.png"))
    return paths


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


def print_table(summary: dict[str, Any], stream=None) -> None:
    """The summary as a plain table, one line per algorithm and env."""
    stream = stream or sys.stdout
    print(
        f"{'algorithm':<8} {'env':<14} {'IQM score':>9} {'95% interval':>16} "
        f"{'solved':>7} {'median steps':>12}",
        file=stream,
    )
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
