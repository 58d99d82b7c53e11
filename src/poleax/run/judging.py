"""Judging a run's policies on gymnasium's own envs: the confirmation of each pass during
training, the preload of gymnasium beside training, and the final evaluations."""

from __future__ import annotations

import threading

from poleax.algos import Algorithm
from poleax.reference import confident


def policy_of(algo: Algorithm, params: dict):
    """``params`` as a ``Policy`` of the algorithm's network and task."""
    from poleax.policy import Policy

    config = algo.config
    return Policy(params, algo.spec, config.env, config.algo, task=algo.task.spec)


def final_evaluations(algo: Algorithm, result, gymnasium, preload) -> dict[int, dict]:
    """Every seed's evaluation on gymnasium: the confirmation's where there was one."""
    from poleax.reference import evaluate_many

    preload.wait()
    todo = [i for i in range(algo.config.seeds) if i not in gymnasium.accepted]
    policies = [policy_of(algo, result.delivered_params[i]) for i in todo]
    evaluations = dict(gymnasium.accepted)
    if todo:
        criterion = algo.criterion
        found = evaluate_many(policies, algo.task.spec, criterion.episodes, criterion.eval_seed)
        evaluations.update(zip(todo, found, strict=True))
    return evaluations


class GymnasiumCheck:
    """The stop rule's last word: a policy that passed the evaluation inside JAX also has to
    pass on gymnasium's env (other initial states), by the same margin of standard errors
    (``SolveCriterion.passes_confidently``), before its seed counts as solved."""

    def __init__(self, algo: Algorithm, before=lambda: None) -> None:
        self.algo, self.before = algo, before
        self.accepted: dict[int, dict] = {}  # seed index -> its evaluation
        self.rejected: dict[int, int] = {}  # seed index -> passes rejected

    def confirm(self, rows: list[int], params: list[dict]) -> list[bool]:
        """A verdict per row: its policy passes on gymnasium's env by the margin. The
        policies play side by side (one forward pass for all, ``reference.act_together``)."""
        from poleax.reference import evaluate_many

        self.before()
        criterion, task = self.algo.criterion, self.algo.task.spec
        policies = [policy_of(self.algo, p) for p in params]
        found = evaluate_many(policies, task, criterion.episodes, criterion.eval_seed)
        verdicts = []
        for row, evaluation in zip(rows, found, strict=True):
            passed = confident(criterion, evaluation)
            if passed:
                self.accepted[row] = evaluation
            else:
                self.rejected[row] = self.rejected.get(row, 0) + 1
            verdicts.append(passed)
        return verdicts


class GymnasiumPreload:
    """Imports gymnasium's envs (for the confirming evaluation) on a thread while training
    runs: XLA releases the GIL while it trains, so the import overlaps with training instead
    of following it. Started only once the programs are loaded (earlier, it would compete for
    the GIL with loading them).

    Whatever uses gymnasium calls ``wait`` first, which imports under one lock: the first
    caller (the preload thread, the confirming thread or the main thread, in whatever order
    they come) imports, the others wait for it. Two threads importing one package at once can
    fail (``KeyError`` or a partially initialised module in the import system).
    """

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._loaded = False

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self.wait, daemon=True)
            self.thread.start()

    def wait(self) -> None:
        with self._lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    @staticmethod
    def _load() -> None:
        from gymnasium.envs import classic_control  # noqa: F401
