"""What a policy learned, as pictures: its action and its value over two state dimensions.

Each task's spec says which two physics variables its maps span (``EnvSpec.map_axes``: their
indices, ranges and labels, and how a physics vector becomes an observation) and what its
actions are called (``EnvSpec.action_names``). ``draw_maps`` writes ``policy_map.png`` (the
greedy action: categorical colours, or the mean action on a diverging scale) and
``value_map.png`` (the critic's V(s)), with the states of one greedy episode on the env that
judges the task (gymnasium's, or poleax's own) drawn over both.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poleax.envs.registry import SpecTable
from poleax.envs.spec import EnvSpec, MapAxes
from poleax.policy import Policy

GRID = 81

#: Each registered task's map axes, by id (the specs' word; tasks without axes left out).
MAP_AXES: SpecTable[MapAxes] = SpecTable(lambda spec: spec.map_axes)


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (angle + math.pi) % (2 * math.pi) - math.pi


@dataclass
class MapGrid:
    xs: np.ndarray
    """[GRID] horizontal values."""
    ys: np.ndarray
    observations: np.ndarray
    """[GRID (y), GRID (x), observation_size]."""
    actions: np.ndarray
    """Greedy actions [GRID, GRID] (indices, or the first action dimension's mean)."""
    values: np.ndarray


def map_grid(policy: Policy, size: int = GRID) -> MapGrid:
    """The policy's greedy action and the critic's value on the map's grid."""
    axes = _axes(policy.env_spec)
    xs = np.linspace(*axes.x_range, size)
    ys = np.linspace(*axes.y_range, size)
    gx, gy = np.meshgrid(xs, ys)
    obs = axes.observation(axes.physics(gx, gy))
    flat = obs.reshape(-1, obs.shape[-1])
    inputs, values = policy.logits_and_value(flat)  # one pass: policy.act's greedy actions
    dist = policy.distribution
    actions = dist.to_env(dist.mode(inputs, xp=np), xp=np)
    actions = actions.astype(np.float32 if dist.action_shape else np.int64)  # as act's
    if actions.ndim == 2:
        actions = actions[:, 0]
    return MapGrid(xs, ys, obs, actions.reshape(size, size), values.reshape(size, size))


def greedy_episode(policy: Policy, seed: int) -> np.ndarray:
    """The map coordinates ``[T, 2]`` of one greedy episode on the env that judges the task:
    gymnasium's from ``reset(seed=seed)``, or poleax's own (``reference.poleax_episode``)."""
    spec = policy.env_spec
    axes = _axes(spec)
    if spec.judged_by_gymnasium:
        points = _gymnasium_episode(policy, spec.gymnasium_id, seed)
    else:
        from poleax.reference import poleax_episode

        points = poleax_episode(policy, seed)
    path = np.stack(points)[:, [axes.x, axes.y]]
    if axes.angle_x:
        path[:, 0] = _wrap(path[:, 0])
    return path


def _gymnasium_episode(policy: Policy, gymnasium_id: str, seed: int) -> list[np.ndarray]:
    """The physics states of one greedy episode of ``gymnasium.make(gymnasium_id)``."""
    import gymnasium as gym

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an old version's deprecation notice
        env = gym.make(gymnasium_id)
    try:
        obs, _ = env.reset(seed=seed)
        points = [np.asarray(env.unwrapped.state, np.float64)]
        done = False
        while not done:
            obs, _, terminated, truncated, _ = env.step(policy.act(obs))
            points.append(np.asarray(env.unwrapped.state, np.float64))
            done = terminated or truncated
    finally:
        env.close()
    return points


def _axes(task: EnvSpec) -> MapAxes:
    axes = task.map_axes
    if axes is None:
        raise ValueError(f"{task.id}'s spec names no map axes")
    return axes


def draw_maps(policy: Policy, run_dir: str | Path, seed: int = 0) -> dict[str, Path]:
    """Write ``policy_map.png`` and ``value_map.png`` into ``run_dir``; return their paths.
    Envs without map axes write nothing."""
    files = {}
    for kind, data in map_images(policy, seed).items():
        files[kind] = Path(run_dir) / f"{kind}.png"
        files[kind].write_bytes(data)
    return files


def map_images(policy: Policy, seed: int = 0) -> dict[str, bytes]:
    """``{"policy_map": PNG, "value_map": PNG}`` (none for envs without map axes, nor for
    an env registered in another process only: the picture worker knows the built-in ones
    and those its imports register)."""
    spec = policy.known_task()
    if spec is None or spec.map_axes is None:
        return {}
    from matplotlib import colormaps
    from matplotlib.colors import BoundaryNorm, ListedColormap

    from poleax.plots import figure, png_bytes

    axes = spec.map_axes
    grid = map_grid(policy)
    episode = greedy_episode(policy, seed)
    space = spec.action_space
    extent = (*axes.x_range, *axes.y_range)
    images = {}
    name = spec.name
    # sac, td3 and ddpg deliver no state-value critic (theirs are Q networks): no value map.
    for kind in ("policy", "value") if policy.spec.has_value else ("policy",):
        fig, ax = figure((5, 4), 80)
        if kind == "value":
            image = ax.imshow(grid.values, origin="lower", extent=extent, aspect="auto")
            fig.colorbar(image, ax=ax, label="V(s)")
            title = f"{name}: the critic's value"
        elif policy.spec.continuous:
            low, high = float(space.low[0]), float(space.high[0])
            image = ax.imshow(
                grid.actions, origin="lower", extent=extent, aspect="auto",
                cmap="RdBu_r", vmin=low, vmax=high,
            )  # fmt: skip
            fig.colorbar(image, ax=ax, label="mean action")
            title = f"{name}: the actor's mean action"
        else:
            n = space.n
            colours = colormaps["tab10"].colors[:n]
            norm = BoundaryNorm(np.arange(n + 1) - 0.5, n)
            image = ax.imshow(
                grid.actions, origin="lower", extent=extent, aspect="auto",
                cmap=ListedColormap(colours), norm=norm, interpolation="nearest",
            )  # fmt: skip
            bar = fig.colorbar(image, ax=ax, ticks=range(n), label="greedy action")
            bar.ax.set_yticklabels([spec.action_name(a) for a in range(n)])
            title = f"{name}: the actor's greedy action"
        ax.plot(episode[:, 0], episode[:, 1], ".", color="k", markersize=2, alpha=0.6)
        ax.plot(*episode[0], "o", color="w", markeredgecolor="k", markersize=5, label="start")
        ax.set_xlim(axes.x_range)
        ax.set_ylim(axes.y_range)
        ax.set_xlabel(axes.x_label)
        ax.set_ylabel(axes.y_label)
        ax.set_title(title, fontsize=10)
        ax.legend(loc="upper right", fontsize=7)
        fig.tight_layout()
        images[f"{kind}_map"] = png_bytes(fig)
    return images
