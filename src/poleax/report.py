"""``report.html``: one self-contained page with the live policy, the GIFs, the curve,
the losses and entropy over training, evaluations, how the run was made (the command that
reruns it, versions, wall time) and its config."""

from __future__ import annotations

import base64
import csv
import html
import json
import math
import shlex
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import poleax.live as live
from poleax.checkpoint import load_policy as load
from poleax.envs.registry import env_spec

#: The page loads nothing: any request it would make fails (and says so in the console).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"
)

MIME = {".gif": "image/gif", ".png": "image/png"}


#: Marks how many images the browser really decoded (read by the tests in headless Chromium).
IMAGES_LOADED_SCRIPT = """<script>
window.addEventListener("load", () => {
  const shown = [...document.images].filter((i) => i.complete && i.naturalWidth > 0);
  document.body.dataset.imagesLoaded = `${shown.length}/${document.images.length}`;
});
</script>"""


def image_tag(path: Path, alt: str) -> str:
    """An ``<img>`` with the file embedded as a data URI (the page stays one offline file)."""
    if not path.exists():
        return f"<p><em>{html.escape(path.name)} was not written</em></p>"
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:{MIME[path.suffix]};base64,{data}">'


def _solved_cell(seed: dict[str, Any]) -> str:
    """ "yes" only for a pass by the margin; a pass without it, and a stop rule's own stop,
    said as such."""
    if seed.get("solved"):
        return "yes"
    words = ["passed, not confidently"] if seed.get("passed_not_confidently") else ["no"]
    if seed.get("stopped_by_rule"):
        words.append(f"(stopped by the running reward at {seed.get('steps_to_stop'):,} steps)")
    return " ".join(words)


def _rows(summary: dict[str, Any]) -> str:
    rows = []
    for seed in summary.get("per_seed", []):
        ev = seed.get("evaluation") or {}
        greedy = ev.get("greedy", {}).get("mean")
        sampled = ev.get("sampled", {}).get("mean")
        cells = [
            seed["seed"],
            _solved_cell(seed),
            seed.get("steps_to_solve") if seed.get("steps_to_solve") is not None else "-",
            f"{greedy:.1f}" if greedy is not None else "-",
            f"{sampled:.1f}" if sampled is not None else "-",
        ]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    return "\n".join(rows)


def _maps(run_dir: Path) -> str:
    """The "What it learned" section: the policy and value maps, where they were drawn."""
    maps = [
        (run_dir / "policy_map.png", "the actor's greedy action over two state dimensions"),
        (run_dir / "value_map.png", "the critic's value V(s) over the same states"),
    ]
    figures = [
        f"<figure>{image_tag(path, caption)}<figcaption>{html.escape(caption)}, with one greedy "
        "episode's states</figcaption></figure>"
        for path, caption in maps
        if path.exists()
    ]
    if not figures:
        return ""
    return "<h2>What it learned</h2>\n" + "\n".join(figures)


#: The loss and entropy panels: (metrics.csv column, title). CleanRL's names; an algorithm
#: that does not log a column simply has no panel for it.
LOSS_PANELS = (
    ("losses/policy_loss", "policy (actor) loss"),
    ("losses/value_loss", "value (critic) loss"),
    ("losses/entropy", "entropy of the policy"),
    ("losses/approx_kl", "approximate KL (PPO)"),
)

#: Colours of the seeds' lines in the loss panels.
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def _read_metrics(path: Path) -> dict[str, dict[int, list[tuple[float, float]]]]:
    """metrics.csv as ``{column: {seed: [(global_step, value), ...]}}`` (finite values)."""
    series: dict[str, dict[int, list[tuple[float, float]]]] = {}
    if not path.exists():
        return series
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            try:
                seed, step = int(row["seed"]), float(row["global_step"])
            except (KeyError, TypeError, ValueError):
                continue
            for name, _ in LOSS_PANELS:
                try:
                    value = float(row.get(name, "nan"))
                except (TypeError, ValueError):
                    continue
                if math.isfinite(value):
                    series.setdefault(name, {}).setdefault(seed, []).append((step, value))
    return series


def _svg_panel(title: str, lines: dict[int, list[tuple[float, float]]]) -> str:
    """One small chart as inline SVG (the page fetches nothing and loads no library)."""
    width, height, left, right, top, bottom = 300, 170, 46, 8, 22, 26
    points = [p for line in lines.values() for p in line]
    x0, x1 = 0.0, max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    if y1 == y0:
        y0, y1 = y0 - 1.0, y1 + 1.0
    x1 = x1 if x1 > x0 else x0 + 1.0

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def sy(y: float) -> float:
        return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom)

    parts = [
        f'<svg class="panel" width="{width}" height="{height}" role="img" '
        f'aria-label="{html.escape(title)}">',
        f'<text x="{left}" y="14" font-size="12">{html.escape(title)}</text>',
        f'<rect x="{left}" y="{top}" width="{width - left - right}" '
        f'height="{height - top - bottom}" fill="none" stroke="#bbb"/>',
        f'<text x="{left - 4}" y="{top + 9}" font-size="10" text-anchor="end">{y1:.3g}</text>',
        f'<text x="{left - 4}" y="{height - bottom}" font-size="10" '
        f'text-anchor="end">{y0:.3g}</text>',
        f'<text x="{left}" y="{height - 8}" font-size="10">0</text>',
        f'<text x="{width - right}" y="{height - 8}" font-size="10" '
        f'text-anchor="end">{x1:,.0f} env steps</text>',
    ]
    for i, (_, line) in enumerate(sorted(lines.items())):
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in line)
        colour = _COLOURS[i % len(_COLOURS)]
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.2"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _losses(run_dir: Path) -> str:
    """The "Losses and entropy" section, drawn from metrics.csv (one line per seed)."""
    series = _read_metrics(run_dir / "metrics.csv")
    panels = [_svg_panel(title, series[name]) for name, title in LOSS_PANELS if name in series]
    if not panels:
        return ""
    seeds = sorted({seed for lines in series.values() for seed in lines})
    note = (
        "One value per update, as logged in <code>metrics.csv</code> (CleanRL's names: "
        "<code>losses/policy_loss</code>, <code>losses/value_loss</code>, "
        "<code>losses/entropy</code>, <code>losses/approx_kl</code>); PPO logs its last "
        "minibatch's."
    )
    if len(seeds) > 1:
        note += f" One line per seed ({len(seeds)} seeds)."
    return "<h2>Losses and entropy</h2>\n<p>" + note + "</p>\n" + "\n".join(panels)


def _version_of(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        module = sys.modules.get(package)
        return str(getattr(module, "__version__", "not installed"))


def _how_made(run_dir: Path, summary: dict[str, Any]) -> str:
    """The "How this run was made" section: the command that reruns it, versions and times."""
    from poleax._version import __version__

    try:
        trained_by = json.loads((run_dir / "checkpoint" / "meta.json").read_text())
        trained_by = trained_by.get("poleax_version", "unknown")
    except (OSError, ValueError):
        trained_by = "unknown"
    rerun = f"poleax train --config {shlex.quote(str(run_dir / 'config.json'))}"
    rows = [
        (
            "rerun it",
            f"<code>{html.escape(rerun)}</code> (into a new run folder; the same "
            "seeds give the same numbers on the same machine and versions)",
        ),
        ("trained by", f"poleax {html.escape(str(trained_by))}"),
        (
            "this page written with",
            html.escape(
                f"poleax {__version__}, JAX {_version_of('jax')}, jaxlib {_version_of('jaxlib')}, "
                f"gymnasium {_version_of('gymnasium')}, Python {sys.version.split()[0]}"
            ),
        ),
    ]
    seconds = summary.get("seconds")
    if isinstance(seconds, int | float):
        parts = [f"{seconds:.1f} s whole process (launch to the last picture)"]
        if isinstance(summary.get("train_seconds"), int | float):
            parts.append(f"{summary['train_seconds']:.1f} s training")
        if isinstance(summary.get("seconds_to_saved_policy"), int | float):
            parts.append(f"{summary['seconds_to_saved_policy']:.1f} s to the saved policy")
        rows.append(("wall time", html.escape(", ".join(parts))))
    cells = "\n".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows)
    return f'<h2>How this run was made</h2>\n<table class="made">\n{cells}\n</table>'


def _live(run_dir: Path, config: dict[str, Any]) -> str:
    """The live view of the run's first seed (``poleax.live``), where live.js knows the env."""
    if config["env"] not in live.LIVE_ENVS:
        return ""
    try:
        policy = load(run_dir)
    except (OSError, ValueError) as error:  # CheckpointError is a ValueError
        return f"<p><em>no live view: {html.escape(str(error))}</em></p>"
    seed = int(config.get("seed", 0))
    caption = f"(seed {seed})" if int(config.get("seeds", 1)) > 1 else ""
    return live.section(policy, seed=seed, caption=caption)


def write_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` from the run's files; return its path."""
    run_dir = Path(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    names = summary.get("gif_names", {"before": "before.gif", "after": "after.gif"})
    title = f"poleax: {config['algo']} on {config['env']}"
    spec = env_spec(config["env"])
    criterion = spec.solve.with_episodes(config.get("eval_episodes", spec.solve.episodes))
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }}
figure {{ display: inline-block; margin: 0 1rem 1rem 0; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .3rem .6rem; }}
pre {{ background: #f6f6f6; padding: 1rem; overflow-x: auto; }}
table.made th {{ text-align: left; font-weight: normal; color: #555; }}
svg.panel {{ margin: 0 .8rem .8rem 0; font-family: system-ui, sans-serif; }}
</style>
{live.STYLE}</head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(summary.get("verdict", ""))}</p>
{_live(run_dir, config)}
<h2>Before and after training</h2>
<figure>{image_tag(run_dir / names["before"], "before training")}
<figcaption>before training</figcaption></figure>
<figure>{image_tag(run_dir / names["after"], "after training")}
<figcaption>after training (greedy policy)</figcaption></figure>
<h2>Learning curve</h2>
{image_tag(run_dir / "curve.png", "learning curve")}
{_losses(run_dir)}
{_maps(run_dir)}
<h2>Evaluation on {spec.judge} {html.escape(config["env"])}</h2>
<p>Reset seeds from {criterion.eval_seed}. Solved means:
{html.escape(spec.describe_solve(criterion))}.</p>
<table><tr><th>seed</th><th>solved</th><th>env steps to solve</th><th>greedy mean</th>
<th>sampled mean</th></tr>
{_rows(summary)}
</table>
{_how_made(run_dir, summary)}
<h2>Configuration</h2>
<pre>{html.escape(json.dumps(config, indent=2))}</pre>
{IMAGES_LOADED_SCRIPT}
</body></html>
"""
    path = run_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
