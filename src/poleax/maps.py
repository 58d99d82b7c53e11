"""What a policy learned, as pictures: its action and its value over two state dimensions.

``MAP_AXES`` is the one place that says, per env, which two physics variables the maps span
(their indices, ranges and labels), the physics vector the other variables take, and how a
physics vector becomes an observation. ``draw_maps`` writes ``policy_map.png`` (the greedy
action: categorical colours, or the mean action on a diverging scale) and ``value_map.png``
(the critic's V(s)), with the states of one greedy episode on gymnasium's env drawn over both.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poleax.envs.registry import env_spec
from poleax.policy import Policy

GRID = 81


def _identity(physics: np.ndarray) -> np.ndarray:
    return physics.astype(np.float32)


def _acrobot_obs(s: np.ndarray) -> np.ndarray:
    th1, th2, dth1, dth2 = s[..., 0], s[..., 1], s[..., 2], s[..., 3]
    obs = [np.cos(th1), np.sin(th1), np.cos(th2), np.sin(th2), dth1, dth2]
    return np.stack(obs, -1).astype(np.float32)


def _pendulum_obs(s: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(s[..., 0]), np.sin(s[..., 0]), s[..., 1]], -1).astype(np.float32)


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (angle + math.pi) % (2 * math.pi) - math.pi


@dataclass(frozen=True)
class MapAxes:
    """The two physics variables a map spans, and how physics becomes an observation."""

    x: int
    """Index of the horizontal variable in the physics state (gymnasium's ``env.state``)."""
    y: int
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    x_label: str
    y_label: str
    physics_size: int
    """The other physics variables are zero."""
    observation: Callable[[np.ndarray], np.ndarray]
    """Physics ``[..., physics_size]`` -> observations ``[..., observation_size]``."""
    angle_x: bool = False
    """The horizontal variable is an angle (episode states are wrapped into [-pi, pi))."""

    def physics(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Physics states with ``xs`` and ``ys`` at the map's indices, the rest zero."""
        state = np.zeros((*np.shape(xs), self.physics_size), np.float64)
        state[..., self.x] = xs
        state[..., self.y] = ys
        return state


_CARTPOLE = MapAxes(
    2, 3, (-0.21, 0.21), (-2.0, 2.0), "pole angle (rad)", "pole angular velocity (rad/s)", 4,
    _identity,
)  # fmt: skip
_MOUNTAIN = MapAxes(0, 1, (-1.2, 0.6), (-0.07, 0.07), "position", "velocity", 2, _identity)

MAP_AXES: dict[str, MapAxes] = {
    "CartPole-v0": _CARTPOLE,
    "CartPole-v1": _CARTPOLE,
    "Acrobot-v1": MapAxes(
        0,
        2,
        (-math.pi, math.pi),
        (-4 * math.pi, 4 * math.pi),
        "theta1 (rad)",
        "dtheta1 (rad/s)",
        4,
        _acrobot_obs,
        angle_x=True,
    ),
    "Pendulum-v1": MapAxes(
        0,
        1,
        (-math.pi, math.pi),
        (-8.0, 8.0),
        "angle (rad, 0 = upright)",
        "angular velocity (rad/s)",
        2,
        _pendulum_obs,
        angle_x=True,
    ),
    "MountainCar-v0": _MOUNTAIN,
    "MountainCarContinuous-v0": _MOUNTAIN,
}


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
    axes = MAP_AXES[policy.env_id]
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
    """The map coordinates ``[T, 2]`` of one greedy episode on gymnasium's env."""
    import gymnasium as gym

    axes = MAP_AXES[policy.env_id]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CartPole-v0's deprecation notice
        env = gym.make(policy.env_id)
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
    path = np.stack(points)[:, [axes.x, axes.y]]
    if axes.angle_x:
        path[:, 0] = _wrap(path[:, 0])
    return path


def draw_maps(policy: Policy, run_dir: str | Path, seed: int = 0) -> dict[str, Path]:
    """Write ``policy_map.png`` and ``value_map.png`` into ``run_dir``; return their paths.
    Envs without map axes write nothing."""
    files = {}
    for kind, data in map_images(policy, seed).items():
        files[kind] = Path(run_dir) / f"{kind}.png"
        files[kind].write_bytes(data)
    return files


def map_images(policy: Policy, seed: int = 0) -> dict[str, bytes]:
    """``{"policy_map": PNG, "value_map": PNG}`` (none for envs without map axes)."""
    if policy.env_id not in MAP_AXES:
        return {}
    from matplotlib import colormaps
    from matplotlib.colors import BoundaryNorm, ListedColormap

    from poleax.plots import figure, png_bytes

    axes = MAP_AXES[policy.env_id]
    grid = map_grid(policy)
    episode = greedy_episode(policy, seed)
    space = env_spec(policy.env_id).action_space
    extent = (*axes.x_range, *axes.y_range)
    images = {}
    name = env_spec(policy.env_id).name
    for kind in ("policy", "value"):
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
            bar.ax.set_yticklabels([str(a) for a in range(n)])
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
