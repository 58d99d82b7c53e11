"""What the core knows of a task: its ``EnvSpec`` (spaces, step cap, the gymnasium env it
mirrors and that judges it, how to draw it, its tuned defaults, map axes and live-page
physics) and its ``SolveCriterion``, the one definition of "solved".

Everything per task lives here and in the env's module: the rest of poleax asks the spec.
No jax here: the CLI, the config and the report read specs without importing JAX.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Discrete:
    """Actions ``0 .. n - 1``."""

    n: int

    @property
    def shape(self) -> tuple[int, ...]:
        return ()


@dataclass(frozen=True)
class Box:
    """Real-valued actions, one per dimension, each within ``[low, high]``."""

    low: tuple[float, ...]
    high: tuple[float, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.low),)


ActionSpace = Discrete | Box

#: The first reset seed of the evaluation episodes: episode i starts where gymnasium's
#: ``reset(seed=EVAL_SEED + i)`` starts.
EVAL_SEED = 10_000


@dataclass(frozen=True)
class SolveCriterion:
    """Solved: the mean return over ``episodes`` evaluation episodes is at least
    ``threshold``, for the greedy policy and for the sampled one.

    Everything that decides or reports "solved" (the training stop, the gymnasium
    confirmation, ``evaluate``, the summary, the report, the sweep) asks this object.
    """

    threshold: float
    episodes: int = 100
    eval_seed: int = EVAL_SEED
    #: Where the threshold comes from, for the reader (gymnasium's registry, a convention).
    source: str = "gymnasium's reward_threshold"
    #: Standard errors of the mean a pass must clear while training (``passes_confidently``).
    confidence: float = 2.0
    #: Standard errors of the mean a screen's few episodes may fall short by (``might_pass``).
    screen_confidence: float = 3.0

    def with_episodes(self, episodes: int) -> SolveCriterion:
        return dataclasses.replace(self, episodes=episodes)

    def passes(self, greedy_mean: Any, sampled_mean: Any) -> Any:
        """Whether mean returns pass: a bool, or a bool array for arrays of means."""
        import numpy as np

        greedy, sampled = np.asarray(greedy_mean), np.asarray(sampled_mean)
        passed = (greedy >= self.threshold) & (sampled >= self.threshold)
        return bool(passed) if passed.ndim == 0 else passed

    def passes_confidently(
        self, greedy_mean: Any, sampled_mean: Any, greedy_se: Any, sampled_se: Any
    ) -> Any:
        """Whether mean returns pass by ``confidence`` standard errors of the mean: the
        training stop's test, so a seed stops on a policy that passes on other episodes too
        (the first pass of a noisy estimate is biased upwards). A policy whose episodes all
        return the same passes as plainly."""
        import numpy as np

        greedy = np.asarray(greedy_mean) - self.confidence * np.asarray(greedy_se)
        sampled = np.asarray(sampled_mean) - self.confidence * np.asarray(sampled_se)
        return self.passes(greedy, sampled)

    def might_pass(
        self, greedy_mean: Any, sampled_mean: Any, greedy_se: Any, sampled_se: Any
    ) -> Any:
        """Whether a screen's few episodes leave room for a pass: each mean plus
        ``screen_confidence`` standard errors meets the threshold. Optimistic on purpose: a
        policy that would pass the full evaluation is rarely turned away (a normal mean falls
        three standard errors short 0.13% of the time), while one that plainly fails is
        spared the full evaluation."""
        import numpy as np

        greedy = np.asarray(greedy_mean) + self.screen_confidence * np.asarray(greedy_se)
        sampled = np.asarray(sampled_mean) + self.screen_confidence * np.asarray(sampled_se)
        return self.passes(greedy, sampled)

    def mode_passes(self, mean: float) -> bool:
        """Whether one mode's (greedy or sampled) mean return meets the threshold."""
        return bool(mean >= self.threshold)

    def describe(self, env_name: str, judge: str = "gymnasium's") -> str:
        """The criterion in words, e.g. for a verdict line; ``judge`` says whose env plays
        the episodes (``EnvSpec.judge``)."""
        return (
            f"mean return over {self.episodes} episodes of {judge} {env_name} "
            f">= {self.threshold:g}, greedy and sampled, by {self.confidence:g} standard errors"
        )


def physics_observation(physics: Any) -> Any:
    """The observation of an env that observes its physics state as it is, in float32."""
    import numpy as np

    return np.asarray(physics).astype(np.float32)


@dataclass(frozen=True)
class MapAxes:
    """The two physics variables the policy and value maps span, and how physics becomes an
    observation (numpy, no jax: the maps are drawn in a process that never imports it)."""

    x: int
    """Index of the horizontal variable in the physics state (gymnasium's ``env.state``)."""
    y: int
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    x_label: str
    y_label: str
    physics_size: int
    """The other physics variables are zero."""
    observation: Callable[[Any], Any] = physics_observation
    """Physics ``[..., physics_size]`` -> observations ``[..., observation_size]``."""
    angle_x: bool = False
    """The horizontal variable is an angle (episode states are wrapped into [-pi, pi))."""

    def physics(self, xs: Any, ys: Any) -> Any:
        """Physics states with ``xs`` and ``ys`` at the map's indices, the rest zero."""
        import numpy as np

        state = np.zeros((*np.shape(xs), self.physics_size), np.float64)
        state[..., self.x] = xs
        state[..., self.y] = ys
        return state


@dataclass(frozen=True)
class EnvSpec:
    """One task poleax trains on: the JAX env, "solved", who judges it, and everything else
    poleax knows of the task (how to draw it, its tuned defaults, its maps and live page).

    Only ``id`` to ``env_class`` are required: a task of your own (``poleax.envs.register``)
    with no gymnasium twin is judged by poleax's own evaluation of its JAX env."""

    id: str
    """poleax's id (for a gymnasium twin, gymnasium's: ``CartPole-v1``)."""
    name: str
    """The task's name in sentences (``CartPole``)."""
    observation_size: int
    action_space: ActionSpace
    max_steps: int
    """Episodes are truncated after this many steps (gymnasium's TimeLimit)."""
    solve: SolveCriterion
    env_class: str
    """``module:Class`` of poleax's JAX env."""
    gymnasium_class: str = ""
    """``module:Class`` of gymnasium's env, whose renderer draws poleax's states; "" for none."""
    gymnasium_id: str = ""
    """The id ``gymnasium.make`` knows, whose episodes judge "solved" (the final evaluation,
    the training's confirmation); "" for none: poleax's own JAX env judges."""
    render_fps: int = 30
    """Frames per second of the env's own clock (gymnasium's ``render_fps``)."""
    random_return: float = 0.0
    """Mean return of a uniformly random policy (the zero of normalised scores)."""
    default_algo: str = "ppo"
    """The algorithm ``poleax train --env ID`` runs when none is named: the one whose
    defaults solve the task's seeds at the least compute (``benchmarks/robustness.py``)."""
    defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, hash=False)
    """Tuned settings per algorithm (``{"ppo": {"lr": 1e-3}}``), on top of the algorithm's
    (measured on seeds of our own; the README's tables say how they do on others)."""
    compare_budget: int = 100_000
    """Env steps per seed ``poleax compare`` gives each algorithm on this task by default."""
    action_names: tuple[str, ...] = ()
    """Names of the discrete actions (``("left", "right")``), for the maps and the live page;
    () for continuous actions or numbers only."""
    map_axes: MapAxes | None = None
    """The two physics variables the policy and value maps span; None draws no maps."""
    canvas: str = ""
    """``module:Class`` of a faster drawer of gymnasium's picture (``Class(spec, shrink)``
    with ``frame`` and ``indexed``); "" draws each frame with gymnasium's ``render()``."""
    live_physics: str = ""
    """The name of the dynamics ``live.js`` steps for this task in report.html; "" for no
    live view."""

    @property
    def judged_by_gymnasium(self) -> bool:
        """Whether gymnasium's env (``gymnasium_id``) judges "solved", else poleax's own."""
        return bool(self.gymnasium_id)

    @property
    def judge(self) -> str:
        """Whose env plays the judging episodes, in words (``gymnasium's``)."""
        return "gymnasium's" if self.judged_by_gymnasium else "poleax's own"

    def describe_solve(self, criterion: SolveCriterion | None = None) -> str:
        """``criterion`` (the spec's by default) in words, naming who judges it."""
        criterion = criterion or self.solve
        text = criterion.describe(self.name, self.judge)
        if not self.judged_by_gymnasium:
            text += f"; judged by poleax's own evaluation, as no gymnasium env mirrors {self.id}"
        return text

    def action_name(self, action: int) -> str:
        """The name of discrete action ``action``, else its number."""
        names = self.action_names
        return names[action] if 0 <= action < len(names) else str(action)

    @property
    def discrete(self) -> bool:
        return isinstance(self.action_space, Discrete)

    @property
    def action_size(self) -> int:
        """Outputs of the actor: a logit per action, or a mean per action dimension."""
        space = self.action_space
        return space.n if isinstance(space, Discrete) else len(space.low)

    def make(self):
        """``(env, params)``: poleax's JAX env for this id, with its step cap."""
        module = importlib.import_module(self.env_class.partition(":")[0])
        env = _load(self.env_class)()
        return env, module.EnvParams(max_steps_in_episode=self.max_steps)

    def gymnasium_env(self, **kwargs: Any):
        """A bare gymnasium env of this task (no TimeLimit): for its renderer or its state."""
        if not self.gymnasium_class:
            raise ValueError(f"{self.id} names no gymnasium env")
        return _load(self.gymnasium_class)(**kwargs)

    def make_canvas(self, shrink: int):
        """The spec's fast drawer of frames (``canvas``), or None."""
        return _load(self.canvas)(self, shrink) if self.canvas else None


def _load(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)
