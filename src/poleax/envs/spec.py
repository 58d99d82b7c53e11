"""What the core knows of a task: its ``EnvSpec`` (spaces, step cap, the gymnasium env it
mirrors, how to draw it) and its ``SolveCriterion``, the one definition of "solved".

No jax here: the CLI, the config and the report read specs without importing JAX.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
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

    def describe(self, env_name: str) -> str:
        """The criterion in words, e.g. for a verdict line."""
        return (
            f"mean return over {self.episodes} episodes of gymnasium's {env_name} "
            f">= {self.threshold:g}, greedy and sampled, by {self.confidence:g} standard errors"
        )


@dataclass(frozen=True)
class EnvSpec:
    """One task poleax trains on: the JAX env, the gymnasium env it equals, and "solved"."""

    id: str
    """poleax's id, the same as gymnasium's (``CartPole-v1``)."""
    name: str
    """The task's name in sentences (``CartPole``)."""
    observation_size: int
    action_space: ActionSpace
    max_steps: int
    """Episodes are truncated after this many steps (gymnasium's TimeLimit)."""
    solve: SolveCriterion
    env_class: str
    """``module:Class`` of poleax's JAX env."""
    gymnasium_class: str
    """``module:Class`` of gymnasium's env, whose renderer draws poleax's states."""
    render_fps: int
    """Frames per second of the env's own clock (gymnasium's ``render_fps``)."""
    random_return: float = 0.0
    """Mean return of a uniformly random policy (the zero of normalised scores)."""

    @property
    def gymnasium_id(self) -> str:
        return self.id

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
        return _load(self.gymnasium_class)(**kwargs)


def _load(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)
