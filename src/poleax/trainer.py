"""The host loop: jitted chunks of updates for K seeds at once, evaluation, stopping, snapshots.

One chunk is ``updates_per_chunk`` updates of every seed (``vmap``), then, under the eval stop
rule, 100 greedy and 100 sampled episodes of each seed's policy inside JAX. Between chunks the
host reports progress, records the first chunk each seed passes, and stops when all have.
Evaluation draws from its own random stream, so it never changes what training does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from poleax.algos import Algorithm, TrainState, make_algorithm
from poleax.config import TrainConfig
from poleax.envs import SOLVED_THRESHOLD, make
from poleax.evaluation import greedy_and_sampled_means

#: Seconds to wait for one chunk before declaring the device stuck.
CHUNK_TIMEOUT_S = 600.0
_EVAL_STREAM = 0x5EED


class TrainingError(RuntimeError):
    """Training could not go on (stuck device, non-finite values); the message says why.

    ``state`` and ``history`` hold the last good training state, when there is one.
    """

    state: TrainState | None = None
    history: dict[str, Any] | None = None


@dataclass
class ChunkReport:
    """What the host learns after each chunk, handed to the progress callback."""

    chunk: int
    env_steps: np.ndarray  # [seed], cumulative
    seconds: float
    episodic_return: np.ndarray  # [seed], mean over the chunk's finished episodes
    greedy: np.ndarray | None  # [seed] evaluation means, if evaluated
    sampled: np.ndarray | None
    solved: np.ndarray  # [seed] bool, solved at this chunk or before
    metrics: dict[str, np.ndarray]  # name -> [seed, update]


@dataclass
class TrainResult:
    """Outcome of ``train``: per-seed delivered parameters, curves and solve points."""

    config: TrainConfig
    algorithm: Algorithm
    state: TrainState  # final state of all seeds, on the host
    delivered_params: list[dict]  # per seed: params at the first solved chunk, else final
    metrics: dict[str, np.ndarray]  # name -> [seed, update]
    evaluations: list[dict[str, Any]]  # per chunk: env_steps, greedy, sampled ([seed])
    steps_to_solve: list[int | None]
    seconds_to_solve: list[float | None]
    train_seconds: float
    interrupted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def seeds(self) -> list[int]:
        return [self.config.seed + i for i in range(self.config.seeds)]


def batch_rows(config: TrainConfig) -> int:
    """Rows of the vmapped batch: one per seed, and never fewer than two.

    XLA compiles a batch of one without the seed axis and may then round a sum differently;
    amplified over training, that would make seed i alone differ from seed i in a batch. A
    single seed therefore runs twice side by side (same key), and row 0 is kept.
    """
    return max(config.seeds, 2)


def seed_keys(config: TrainConfig) -> jax.Array:
    """One PRNG key per row: row i is ``PRNGKey(seed + i)`` (a lone seed fills two rows)."""
    seeds = [config.seed + i for i in range(config.seeds)]
    seeds += [config.seed] * (batch_rows(config) - config.seeds)
    return jnp.stack([jax.random.PRNGKey(s) for s in seeds])


def make_chunk(algo: Algorithm) -> Callable:
    """``chunk(state, eval_key) -> (state, metrics, greedy_mean, sampled_mean)`` for one seed."""
    config = algo.config
    env, env_params = make(config.env)
    evaluate = config.stop_rule == "eval"

    def chunk(state: TrainState, eval_key: jax.Array):
        state, metrics = jax.lax.scan(
            lambda s, _: algo.update(s), state, None, length=algo.updates_per_chunk
        )
        if not evaluate:
            nan = jnp.float32(jnp.nan)
            return state, metrics, nan, nan
        greedy, sampled = greedy_and_sampled_means(
            env, env_params, algo.spec, state.params, eval_key, config.eval_episodes
        )
        return state, metrics, greedy, sampled

    return chunk


def init_state(algo: Algorithm) -> TrainState:
    """Initial state of every seed, batched on a leading seed axis."""
    return jax.jit(jax.vmap(algo.init))(seed_keys(algo.config))


class Interrupted(Exception):
    """``should_stop`` said stop while a chunk was running; the chunk's result is dropped."""


def _call(fn: Callable, args: tuple, timeout: float, should_stop: Callable[[], bool] | None):
    """Run ``fn(*args)`` to completion on a worker thread, fetched to the host.

    The main thread stays free to take signals (compilation and device waits happen on the
    worker), raises ``Interrupted`` as soon as ``should_stop()`` and ``TrainingError`` after
    ``timeout`` seconds, so a stuck device never hangs the process.
    """
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = jax.device_get(fn(*args))
        except BaseException as error:  # handed to the main thread
            box["error"] = error
        finally:
            done.set()

    threading.Thread(target=target, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not done.wait(0.1):  # wakes at once when the chunk is done
        if should_stop is not None and should_stop():
            raise Interrupted
        if time.monotonic() > deadline:
            raise TrainingError(f"a training chunk did not finish within {timeout:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def train(
    config: TrainConfig,
    on_chunk: Callable[[ChunkReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    state: TrainState | None = None,
    history: dict[str, Any] | None = None,
    on_checkpoint: Callable[[TrainState, dict[str, Any]], None] | None = None,
    checkpoint_every: int = 0,
    chunk_timeout: float = CHUNK_TIMEOUT_S,
) -> TrainResult:
    """Train ``config.seeds`` seeds at once until all are solved or the budget is spent.

    ``state`` and ``history`` resume an earlier run from its checkpoint. ``should_stop`` is
    polled between chunks (a signal handler sets it); ``on_checkpoint(state, history)`` is
    called every ``checkpoint_every`` chunks.
    """
    algo = make_algorithm(config)
    threshold = SOLVED_THRESHOLD[config.env]
    if state is None:
        state = init_state(algo)
    history = history or new_history(config)
    chunk_fn = jax.jit(jax.vmap(make_chunk(algo)))
    eval_base = jax.vmap(lambda k: jax.random.fold_in(k, _EVAL_STREAM))(seed_keys(config))
    max_chunks = -(-algo.max_updates // algo.updates_per_chunk)
    state = jax.device_get(state)
    start = time.perf_counter() - history["seconds"]
    interrupted = False
    while history["chunks"] < max_chunks and not (
        config.stop_when_solved and all(s is not None for s in history["steps_to_solve"])
    ):
        if should_stop is not None and should_stop():
            interrupted = True
            break
        index = history["chunks"]
        eval_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(eval_base, index)
        try:
            new_state, metrics, greedy, sampled = _call(
                chunk_fn, (state, eval_keys), chunk_timeout, should_stop
            )
        except Interrupted:
            interrupted = True
            break
        try:
            check_finite(metrics, new_state, index, algo.updates_per_chunk)
        except TrainingError as error:
            error.state, error.history = state, history  # the last good ones
            raise
        state = new_state
        _record(history, algo, state, metrics, greedy, sampled, threshold, start)
        if on_chunk is not None:
            on_chunk(_report(history, metrics, greedy, sampled, config, start))
        if checkpoint_every and on_checkpoint and history["chunks"] % checkpoint_every == 0:
            on_checkpoint(state, history)
        if _budget_spent(history, config):
            break
    delivered = []
    for i in range(config.seeds):
        snapshot = history["snapshots"].get(i)
        params = snapshot if snapshot is not None else _seed_slice(state.params, i)
        delivered.append(params)
    return TrainResult(
        config=config,
        algorithm=algo,
        state=state,
        delivered_params=delivered,
        metrics={
            k: np.concatenate(v, axis=1)[: config.seeds] for k, v in history["metrics"].items()
        },
        evaluations=[{k: v[: config.seeds] for k, v in e.items()} for e in history["evaluations"]],
        steps_to_solve=history["steps_to_solve"][: config.seeds],
        seconds_to_solve=history["seconds_to_solve"][: config.seeds],
        train_seconds=time.perf_counter() - start,
        interrupted=interrupted,
        extra={"history": history},
    )


def new_history(config: TrainConfig) -> dict[str, Any]:
    """What the host accumulates across chunks (and what a checkpoint keeps for resuming)."""
    return {
        "chunks": 0,
        "seconds": 0.0,
        "env_steps": np.zeros(batch_rows(config), np.int64),
        "metrics": {},
        "evaluations": [],
        "steps_to_solve": [None] * batch_rows(config),
        "seconds_to_solve": [None] * batch_rows(config),
        "snapshots": {},
    }


def _seed_slice(tree, i: int):
    return jax.tree.map(lambda x: np.asarray(x[i]), tree)


def _record(history, algo, state, metrics, greedy, sampled, threshold, start) -> None:
    config = algo.config
    history["chunks"] += 1
    elapsed = time.perf_counter() - start
    steps = np.asarray(metrics["charts/env_steps"]).sum(axis=1)
    sps = steps / max(elapsed - history["seconds"], 1e-9)
    history["seconds"] = elapsed
    metrics = {**metrics, "charts/SPS": np.repeat(sps[:, None], algo.updates_per_chunk, 1)}
    history["env_steps"] = history["env_steps"] + steps
    for name, value in metrics.items():
        history["metrics"].setdefault(name, []).append(np.asarray(value))
    if config.stop_rule == "eval":
        passed = (np.asarray(greedy) >= threshold) & (np.asarray(sampled) >= threshold)
        history["evaluations"].append(
            {
                "env_steps": history["env_steps"].tolist(),
                "greedy": np.asarray(greedy).tolist(),
                "sampled": np.asarray(sampled).tolist(),
            }
        )
    else:
        passed = np.asarray(state.extra["stopped"])
    for i in np.flatnonzero(passed):
        if history["steps_to_solve"][i] is None:
            history["steps_to_solve"][i] = int(history["env_steps"][i])
            history["seconds_to_solve"][i] = history["seconds"]
            history["snapshots"][int(i)] = _seed_slice(state.params, int(i))


def _report(history, metrics, greedy, sampled, config, start) -> ChunkReport:
    returns = np.asarray(metrics["charts/episodic_return"])
    with np.errstate(all="ignore"):
        finished = np.where(np.isnan(returns), 0.0, returns)
        counts = (~np.isnan(returns)).sum(axis=1)
        recent = np.where(counts > 0, finished.sum(axis=1) / np.maximum(counts, 1), np.nan)
    evaluated = config.stop_rule == "eval"
    n = config.seeds
    return ChunkReport(
        chunk=history["chunks"],
        env_steps=history["env_steps"][:n].copy(),
        seconds=time.perf_counter() - start,
        episodic_return=recent[:n],
        greedy=np.asarray(greedy)[:n] if evaluated else None,
        sampled=np.asarray(sampled)[:n] if evaluated else None,
        solved=np.array([s is not None for s in history["steps_to_solve"][:n]]),
        metrics={k: np.asarray(v)[:n] for k, v in metrics.items()},
    )


def _budget_spent(history, config: TrainConfig) -> bool:
    return bool(np.all(history["env_steps"] >= config.total_steps))


def check_finite(metrics: dict, state: TrainState, chunk: int, updates_per_chunk: int) -> None:
    """Raise ``TrainingError`` naming the first update whose loss or parameters are not finite."""
    for name in ("losses/policy_loss", "losses/value_loss"):
        values = np.asarray(metrics.get(name, np.zeros((1, 1))))
        bad = ~np.isfinite(values)
        if bad.any():
            seed, update = np.argwhere(bad)[0]
            number = chunk * updates_per_chunk + int(update) + 1
            raise TrainingError(
                f"non-finite {name.split('/')[-1]} at update {number} (seed index {seed}); "
                "training stopped, the last good checkpoint is kept"
            )
    leaves = jax.tree.leaves(state.params)
    if not all(np.isfinite(leaf).all() for leaf in leaves):
        number = (chunk + 1) * updates_per_chunk
        raise TrainingError(
            f"non-finite parameters after update {number}; "
            "training stopped, the last good checkpoint is kept"
        )
