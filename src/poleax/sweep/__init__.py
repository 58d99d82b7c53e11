"""Hyperparameter sweeps on Optuna, a batch of trials trained together by the host loop.

A worker asks Optuna for ``batch`` trials (by default as many as fill the CPU cores with
their seeds), groups them by the settings that change array shapes
(envs, rollout length, minibatches, epochs), and trains each group's trials and seeds together
as rows of one compiled program (on every core; a row stops when solved or pruned): the
continuous settings (learning rate, gamma, GAE lambda, clip range, entropy
and value coefficients) sit in each row's training state as arrays. It then tells Optuna each
trial's score: the mean over seeds of env steps to solve, an unsolved seed counted at the
budget. Hopeless trials are pruned between chunks with Optuna's pruner (the shortfall of the
trial's mean greedy evaluation from the threshold, reported as the intermediate value).

Any Optuna storage shares one study between workers: start the same command on each machine,
at the same time or not. What a worker guarantees:

* Every setting is checked before anything is written (no folder, database or trial).
* Workers create the storage and the study safely together: on SQLite and journal files
  under an exclusive lock on a file beside it (``<file>.poleax-lock``), on PostgreSQL and
  MySQL under a database lock, with a retry on the creation race elsewhere.
* ``trials`` counts finished trials (complete or pruned). Places are claimed under the same
  lock (the study's finished and running trials are counted before each ask), so workers
  together never run more than ``trials`` and never make a trial just to give it back.
* A worker keeps each of its running trials alive with a heartbeat (Optuna's own on
  databases, a trial attribute on journal files) every ``HEARTBEAT_S`` seconds; a running
  trial without one for ``GRACE_S`` seconds (its worker was killed) is marked failed by the
  next worker that claims, and its place is trained again. A worker leaves only when the
  study has ``trials`` finished trials, waiting while other workers' trials run.
* SIGINT or SIGTERM stops training at once: the worker marks its unfinished trials failed
  (finished ones stay), prints one line and exits with 128 + the signal's number.
* ``sampler_seed`` seeds trial n's proposal with (sampler seed, n): a rerun proposes the same
  trials, and workers sharing a study never propose the same one.
"""

from poleax.sweep.settings import SweepInterrupted, SweepSettings, suggest, trials_per_batch
from poleax.sweep.training import propose, train_group
from poleax.sweep.worker import run_sweep

__all__ = [
    "SweepInterrupted",
    "SweepSettings",
    "propose",
    "run_sweep",
    "suggest",
    "train_group",
    "trials_per_batch",
]
