"""What a run prints while it trains: the progress line and the stop rule's log lines."""

from __future__ import annotations

import sys
from contextlib import suppress
from typing import Any

import numpy as np

from poleax.config import TrainConfig
from poleax.history import EPISODES
from poleax.lang import tr
from poleax.progress import Progress
from poleax.stop_rules import make_stop_rule


class Reporter:
    """A run's progress line (``poleax.progress``) and the tutorial's log lines."""

    def __init__(self, config: TrainConfig, enabled: bool, console=None, history=None) -> None:
        self.config = config
        label = f"{config.algo} {config.env}"
        self.progress = Progress(label, config.total_steps, "steps", enabled, console=console)
        self.rule = make_stop_rule(config)
        self.rule_log = self.rule.new_log()
        if history is not None and EPISODES in history.metrics:
            # A resumed run goes on counting from its checkpoint's episodes.
            self.rule_log.start(int(history.metric(EPISODES)[0].sum()))

    def __enter__(self) -> Reporter:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.close()

    def compiling(self) -> None:
        """Programs are being compiled (or loaded from the cache)."""
        self.progress.compiling("compiling")

    def update(self, report) -> None:
        for line in self.rule_log.lines(report):
            _say(line)
        parts = []
        if report.greedy is not None and report.active.any():  # the policy itself
            greedy, sampled = report.greedy[report.active], report.sampled[report.active]
            median = {"greedy": np.median(greedy), "sampled": np.median(sampled)}
            parts.append(tr("eval {greedy:.0f}/{sampled:.0f}", **median))
        elif np.isfinite(report.episodic_return).any():  # else the episodes training ended
            parts.append(tr("return {value:.1f}", value=np.nanmedian(report.episodic_return)))
        counts = {"done": int(report.solved.sum()), "total": len(report.solved)}
        if self.rule.stop_is_solve:
            parts.append(tr("solved {done}/{total}", **counts))
        else:  # the tutorial's stop
            parts.append(tr("stopped {done}/{total}", **counts))
        self.progress.update(float(np.median(report.env_steps)), "  ".join(parts))

    @staticmethod
    def truth(algo, summary: dict[str, Any]) -> None:
        """The solved criterion's verdict, printed next to the stop rule's (in the language
        in force; ``summary.json`` keeps it in English)."""
        from poleax.run.summary import verdict

        _say(verdict(algo, summary["per_seed"]))


def _say(line: str) -> None:
    """Print a line of the run's log; an unusable stdout (a full disk, ``/dev/full``) never
    stops the run (the CLI reports it once the run is saved)."""
    with suppress(OSError):
        print(line, flush=True)


def print_files(run, stream=None) -> None:
    stream = stream or sys.stdout
    print(tr("run folder: {path}", path=run.path), file=stream)
    for name, path in run.files.items():
        print(f"  {name:<10} {path}", file=stream)
