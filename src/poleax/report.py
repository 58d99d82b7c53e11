"""``report.html``: one self-contained page with the live policy, the GIFs, the curve,
evaluations and config."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from poleax import live
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


def _rows(summary: dict[str, Any]) -> str:
    rows = []
    for seed in summary.get("per_seed", []):
        ev = seed.get("evaluation") or {}
        greedy = ev.get("greedy", {}).get("mean")
        sampled = ev.get("sampled", {}).get("mean")
        cells = [
            seed["seed"],
            "yes" if seed.get("solved") else "no",
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
{_maps(run_dir)}
<h2>Evaluation on {spec.judge} {html.escape(config["env"])}</h2>
<p>Reset seeds from {criterion.eval_seed}. Solved means:
{html.escape(spec.describe_solve(criterion))}.</p>
<table><tr><th>seed</th><th>solved</th><th>env steps to solve</th><th>greedy mean</th>
<th>sampled mean</th></tr>
{_rows(summary)}
</table>
<h2>Configuration</h2>
<pre>{html.escape(json.dumps(config, indent=2))}</pre>
{IMAGES_LOADED_SCRIPT}
</body></html>
"""
    path = run_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
