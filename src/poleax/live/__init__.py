"""The live view in ``report.html``: the trained policy acting in the browser, pushable.

``section(policy)`` is the HTML of the view: a canvas, its controls, live bars of the actor's
output and the critic's value, and ``live.js`` (package data) inlined beside the policy as
JSON (``poleax.export.policy_dict``). The script steps the env's dynamics in float64 with
gymnasium's operations in gymnasium's order, runs the network in float64 as the numpy
``Policy`` does, and animates them at the env's own frame rate; a click on the canvas or an
arrow key pushes the system. No external script or font: the
page stays one offline file.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any

from poleax.envs.registry import SpecTable
from poleax.export import policy_dict
from poleax.policy import Policy

#: The tasks whose dynamics ``live.js`` knows, by id: their spec's ``live_physics``.
LIVE_ENVS: SpecTable[str] = SpecTable(lambda spec: spec.live_physics)

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)

#: What the live view needs in the page's ``<head>``.
STYLE = """<style>
#live { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
#live-canvas { border: 1px solid #ccc; max-width: 100%; cursor: crosshair; }
.live-side { min-width: 16rem; flex: 1; }
.live-controls { width: 100%; display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
.live-row { display: flex; align-items: center; gap: .4rem; margin: .2rem 0; }
.live-label { width: 5.5rem; font-size: .9rem; }
.live-track { position: relative; flex: 1; height: .9rem; background: #eee; }
.live-fill { position: absolute; top: 0; bottom: 0; background: #8aa; }
.live-chosen .live-fill { background: #3a7; }
.live-fill.value { background: #79c; }
.live-num { width: 6.5rem; font-variant-numeric: tabular-nums; font-size: .9rem; }
.live-caption { margin: .6rem 0 .2rem; font-size: .85rem; color: #555; }
.live-counts { font-variant-numeric: tabular-nums; }
</style>"""


def script() -> str:
    """``live.js``, the view's whole program."""
    return resources.files(__package__).joinpath("live.js").read_text(encoding="utf-8")


def live_data(policy: Policy, seed: int = 0) -> dict[str, Any]:
    """What the page embeds: the policy as JSON, its env (the dynamics ``live.js`` steps,
    its action names), frame rate and the reset seed."""
    spec = policy.env_spec
    return {
        "env_id": spec.id,
        "physics": spec.live_physics,
        "action_names": list(spec.action_names),
        "fps": spec.render_fps,
        "max_steps": spec.max_steps,
        "seed": int(seed),
        "policy": policy_dict(policy),
    }


def data_script(data: dict[str, Any], element_id: str = "live-data") -> str:
    """``data`` as a JSON ``<script>`` element (``<`` escaped, so nothing ends it early)."""
    text = json.dumps(data, allow_nan=False).replace("<", "\\u003c")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def inline_script() -> str:
    code = script()
    if "</script" in code.lower():
        raise ValueError("live.js must not contain '</script'")
    return f"<script>\n{code}</script>"


def section(policy: Policy, seed: int = 0, caption: str = "") -> str:
    """The live view's HTML (put ``STYLE`` in the page's head); empty for an env whose
    dynamics ``live.js`` does not know (its spec names no ``live_physics``)."""
    spec = policy.known_task()
    if spec is None or not spec.live_physics:
        return ""
    speeds = "".join(
        f'<option value="{s:g}"{" selected" if s == 1.0 else ""}>{s:g}x</option>' for s in SPEEDS
    )
    note = f" {html.escape(caption)}" if caption else ""
    return f"""<h2>Live: push it</h2>
<p>The trained policy{note} acting in your browser on {html.escape(spec.name)}'s dynamics,
at the env's own {spec.render_fps} frames per second. Click the canvas or press the left or
right arrow key to push it, and watch the policy recover.</p>
<div id="live">
<canvas id="live-canvas" width="600" height="400" tabindex="0" aria-label="the policy
 acting on {html.escape(spec.id)}; click or use the arrow keys to push"></canvas>
<div class="live-side">
<p class="live-counts">step <span id="live-step">0</span> of {spec.max_steps},
return <span id="live-return">0</span>, episode <span id="live-episode">1</span></p>
<div id="live-bars"></div>
</div>
<div class="live-controls">
<button type="button" id="live-play">pause</button>
<button type="button" id="live-reset">reset</button>
<label>speed <select id="live-speed">{speeds}</select></label>
<label>actions <select id="live-mode"><option value="greedy" selected>greedy</option>
<option value="sampled">sampled</option></select></label>
<button type="button" id="live-push-left">&larr; push</button>
<button type="button" id="live-push-right">push &rarr;</button>
</div>
</div>
{data_script(live_data(policy, seed))}
{inline_script()}"""
