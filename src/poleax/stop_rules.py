"""Stop rules: what "done" means while a run trains. The trainer, the programs and the run ask
the rule in force; none of them branches on which rule it is.

Two rules exist:

* ``SolvedByEvaluation`` (``stop_rule="eval"``, every algorithm's default): after each chunk the
  policy plays a screen of a few episodes inside JAX, then, if the screen might pass, the full
  evaluation of the env's ``SolveCriterion``; a pass by the margin is confirmed on gymnasium's
  own env before the seed stops.
* ``RunningRewardRule`` (``stop_rule="running-reward"``, the tutorial's): a seed stops once its
  running reward ``0.05 * episode return + 0.95 * previous`` passes a threshold. That says
  nothing about whether the policy is solved; the run judges that separately.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from poleax.history import EPISODES, RUNNING_REWARD

if TYPE_CHECKING:
    import numpy as np

#: A ``poleax.config.TrainConfig`` (not imported: the config module asks this one).
TrainConfig = Any

STOP_RULES = ("eval", "running-reward")

#: The tutorial's log lines: one every ``log_every_episodes``, and the stop.
LOG_LINES = {
    "zh": ("在第 {n} 轮游戏中获得奖励: {r:.2f} 分", "奖励超过 {t:g} ,训练结束"),
    "en": ("episode {n}: running reward {r:.2f}", "running reward above {t:g}, training finished"),
}


class StopRule(ABC):
    """The questions the trainer, the programs and the run ask of the rule in force."""

    #: The policy is evaluated inside JAX after each chunk, and a pass confirmed on gymnasium.
    evaluates: bool
    #: A seed this rule stops is solved (its stop is the run's verdict, not a word of its own).
    stop_is_solve: bool

    def __init__(self, config: TrainConfig) -> None:
        self.config = config

    def refusal(self) -> str | None:
        """Why the config cannot use this rule (None: it can)."""
        return None

    def screen_episodes(self) -> int:
        """Episodes per mode of the evaluation's screen (0: none)."""
        return 0

    def chunk_episodes(self) -> int | None:
        """Episodes per chunk that an episode-by-episode learner should play (None: its own)."""
        return None

    def freeze_threshold(self) -> float | None:
        """A running reward past which a seed's state freezes inside JAX (None: never)."""
        return None

    @abstractmethod
    def passed(self, algo: Any, state: Any, passed_evaluation: np.ndarray | None) -> np.ndarray:
        """Per row: whether this chunk's policy meets the rule (before any confirmation)."""

    def new_log(self) -> RuleLog:
        """What the rule prints while training (nothing, by default)."""
        return RuleLog()

    def summary(self, metrics: dict[str, np.ndarray]) -> dict[str, Any]:
        """What the rule adds to ``summary.json``."""
        return {}

    def stopped_line(self, stopped: int, seeds: int) -> str | None:
        """A sentence saying that the rule stopped ``stopped`` of ``seeds`` seeds, if it ever
        stops a seed without the run's verdict (None: its stop *is* the verdict)."""
        return None


class RuleLog:
    """Lines a rule prints after each chunk; ``start(episodes)`` resumes the count."""

    def start(self, episodes: int) -> None:
        return None

    def lines(self, report: Any) -> list[str]:
        return []


class SolvedByEvaluation(StopRule):
    """Stop a seed when its policy passes the env's criterion by the margin, confirmed on
    gymnasium's own env (see the module's docstring)."""

    evaluates = True
    stop_is_solve = True

    def screen_episodes(self) -> int:
        screen, full = self.config.eval_screen, self.config.eval_episodes
        return screen if 0 < screen < full else 0

    def passed(self, algo: Any, state: Any, passed_evaluation: np.ndarray | None) -> np.ndarray:
        import numpy as np

        return np.asarray(passed_evaluation)


class RunningRewardRule(StopRule):
    """The tutorial's rule: stop once the running reward passes ``running_reward_threshold``."""

    evaluates = False
    stop_is_solve = False

    def refusal(self) -> str | None:
        if self.config.algo != "mc-ac":
            return (
                "stop_rule running-reward is the tutorial's rule and needs --algo mc-ac; "
                f"{self.config.algo} stops by the evaluation (--stop-rule eval)"
            )
        return None

    def chunk_episodes(self) -> int | None:
        return self.config.log_every_episodes

    def freeze_threshold(self) -> float | None:
        return self.config.running_reward_threshold if self.config.stop_when_solved else None

    def passed(self, algo: Any, state: Any, passed_evaluation: np.ndarray | None) -> np.ndarray:
        import numpy as np

        return np.asarray(algo.stopped(state)).copy()

    def new_log(self) -> RuleLog:
        return _RunningRewardLog(self.config) if self.config.seeds == 1 else RuleLog()

    def summary(self, metrics: dict[str, np.ndarray]) -> dict[str, Any]:
        import numpy as np

        running = metrics[RUNNING_REWARD]
        return {
            "running_reward": [float(r[np.isfinite(r)][-1]) for r in running],
            "episodes": [int(e) for e in metrics[EPISODES].sum(axis=1)],
        }

    def stopped_line(self, stopped: int, seeds: int) -> str | None:
        threshold = f"{self.config.running_reward_threshold:g}"
        if seeds == 1:
            if stopped:
                return f"The running reward passed {threshold} and stopped training."
            return f"The running reward never passed {threshold}; training ran to its budget."
        return f"The running reward passed {threshold} and stopped {stopped}/{seeds} seeds."


class _RunningRewardLog(RuleLog):
    """The tutorial's log lines, as its program printed them."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.logged = 0  # episodes already counted (a resumed run goes on from its checkpoint)
        self.stop_printed = False

    def start(self, episodes: int) -> None:
        self.logged = episodes

    def lines(self, report: Any) -> list[str]:
        import numpy as np

        line, done_line = LOG_LINES[self.config.lang]
        counts = report.metrics[EPISODES][0]
        episodes = np.cumsum(counts) + self.logged
        running = report.metrics[RUNNING_REWARD][0]
        every = self.config.log_every_episodes
        out = []
        for n, r, count in zip(episodes, running, counts, strict=True):
            if count and (n // every) > ((n - count) // every):
                out.append(line.format(n=int(n // every * every), r=float(r)))
        if len(episodes):
            self.logged = int(episodes[-1])
        if report.solved[0] and not self.stop_printed:
            out.append(done_line.format(t=self.config.running_reward_threshold))
            self.stop_printed = True
        return out


def make_stop_rule(config: TrainConfig) -> StopRule:
    """The rule ``config.stop_rule`` names (checked by ``config.validate``)."""
    rules: dict[str, type[StopRule]] = {
        "eval": SolvedByEvaluation,
        "running-reward": RunningRewardRule,
    }
    return rules[config.stop_rule](config)
