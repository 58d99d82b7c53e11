"""The host loop: chunks of updates for K seeds, the evaluation's screen, stopping, snapshots.

K seeds run as rows of the host's state. An executor (``poleax.executor``) lays the rows onto
calls of the compiled programs: one seed per call on each CPU core (``rows-per-core``, seed i
of any batch equals the lone run of seed i), or vmapped batches of a fixed width with the
active rows' mask inside (``vmapped``). The calls run on worker threads, one per core.

A chunk is ``updates_per_chunk`` updates; under the eval stop rule each chunk's policy then
plays a screen of a few greedy and sampled episodes, and only a screen that might pass
(``SolveCriterion.might_pass``) plays the full 100 + 100 inside JAX, whose pass the CLI then
confirms on gymnasium. When the seeds' training calls are too few to fill the cores,
evaluation of chunk ``c`` runs beside the training of chunk ``c + 1``; a seed that passes at
``c`` drops that speculative chunk. Evaluations draw from their own
random streams, so they never change what training does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import numpy as np

from poleax.algos import Algorithm, TrainState, UpdateMetrics, make_algorithm
from poleax.config import TrainConfig
from poleax.executor import (
    CHUNK_TIMEOUT_S,
    Executor,
    Interrupted,
    Part,
    TrainingError,
    make_executor,
    run_calls,
    take,
    worker_count,
)
from poleax.history import ENV_STEPS, EPISODIC_RETURN, SPS, ChunkEvaluation, History
from poleax.keys import prng_key
from poleax.programs import Programs

__all__ = [
    "Hooks",
    "Programs",
    "TrainResult",
    "TrainingError",
    "init_state",
    "run_calls",
    "seed_keys",
    "train",
    "untrained_params",
]


@dataclass
class ChunkReport:
    """What the host learns after each chunk, handed to the progress callback.

    Seeds that no longer train (solved, or dropped) report NaN metrics and evaluations.
    """

    chunk: int
    env_steps: np.ndarray  # [seed], cumulative
    seconds: float
    episodic_return: np.ndarray  # [seed], mean over the chunk's finished episodes
    greedy: np.ndarray | None  # [seed] evaluation means, if evaluated
    sampled: np.ndarray | None
    solved: np.ndarray  # [seed] bool, solved at this chunk or before
    metrics: dict[str, np.ndarray]  # name -> [seed, update]
    active: np.ndarray  # [seed] bool, trained in this chunk


@dataclass
class TrainResult:
    """Outcome of ``train``: per-seed delivered parameters and the run's ``History`` (curves,
    evaluations and solve points are read from it)."""

    config: TrainConfig
    algorithm: Algorithm
    state: TrainState | None  # final state of all seeds, on the host (a solved seed's at its solve)
    delivered_params: list[dict]  # per seed: params at the first solved chunk, else final
    train_seconds: float
    history: History | None  # the whole record, as a checkpoint keeps it
    initial_params: dict | None  # seed 0's untrained parameters (None when resumed)
    interrupted: bool = False

    @property
    def seeds(self) -> list[int]:
        return [self.config.seed + i for i in range(self.config.seeds)]

    @property
    def metrics(self) -> dict[str, np.ndarray]:
        """Name -> ``[seed, update]``; NaN (0 for counts) once a seed stopped."""
        history = self.history
        return {} if history is None else {name: history.metric(name) for name in history.metrics}

    @property
    def evaluations(self) -> list[ChunkEvaluation]:
        """Per chunk: env steps, greedy and sampled means (``[seed]``)."""
        return [] if self.history is None else list(self.history.evaluations)

    @property
    def steps_to_solve(self) -> list[int | None]:
        return [] if self.history is None else list(self.history.steps_to_solve)

    @property
    def seconds_to_solve(self) -> list[float | None]:
        return [] if self.history is None else list(self.history.seconds_to_solve)


class Hooks(NamedTuple):
    """What the caller of ``train`` hears and decides, chunk by chunk (all optional).

    ``on_chunk(report)`` after each chunk; ``on_compiling()`` as the programs start compiling
    (or loading); ``should_stop()`` is polled while calls run (a signal handler sets it);
    ``on_checkpoint(state, history)`` every ``checkpoint_every`` chunks (less often when
    saving takes long: ``CHECKPOINT_SPACING``); ``drop_rows()`` names rows to stop training
    (a sweep's pruned trials); ``confirm(rows, params)`` must also accept a policy that
    passed the evaluation before its seed counts as solved (the run checks them on
    gymnasium's env, all of a chunk's at once), a verdict per row; a rejected seed trains on.
    """

    on_chunk: Callable[[ChunkReport], None] | None = None
    on_compiling: Callable[[], None] | None = None
    should_stop: Callable[[], bool] | None = None
    on_checkpoint: Callable[[TrainState, History], None] | None = None
    checkpoint_every: int = 0
    drop_rows: Callable[[], Iterable[int]] | None = None
    confirm: Callable[[list[int], list[dict]], list[bool]] | None = None


def seed_keys(config: TrainConfig) -> np.ndarray:
    """One PRNG key per seed: row i is ``PRNGKey(seed + i)``."""
    return np.stack([prng_key(config.seed + i) for i in range(config.seeds)])


def init_state(
    algo: Algorithm,
    executor: Executor | None = None,
    timeout: float = CHUNK_TIMEOUT_S,
    should_stop: Callable[[], bool] | None = None,
) -> TrainState:
    """Initial state of every seed, batched on a leading row axis, on the host.

    The seeds' init calls run like training chunks (``run_calls``): on worker threads, under
    the same time-out, stopping with ``Interrupted`` as soon as ``should_stop()``.
    """
    executor = executor or make_executor(algo)
    keys = seed_keys(algo.config)
    calls = executor.init_calls(keys, np.arange(len(keys)))
    parts = run_calls(calls, timeout, should_stop)
    return _host_tree(jax.tree.map(lambda *xs: np.concatenate(xs), *[p.value for p in parts]))


def untrained_params(config: TrainConfig, row: int = 0) -> dict:
    """Seed ``row``'s initial parameters, as its run's executor initialises them."""
    executor = make_executor(make_algorithm(config))
    (part,) = run_calls(executor.init_calls(seed_keys(config), np.array([row])))
    return _seed_slice(part.value.params, 0)


def _host_tree(tree):
    """Writable numpy copies of every leaf."""
    return jax.tree.map(lambda x: np.array(x), tree)


def _put(full, index: np.ndarray | int, part) -> None:
    """``full[index] = part`` leaf by leaf."""
    for target, source in zip(jax.tree.leaves(full), jax.tree.leaves(part), strict=True):
        target[index] = np.asarray(source)


@dataclass
class _Chunk:
    """One trained chunk of some rows, not yet recorded: full-size state and metrics."""

    state: TrainState
    metrics: UpdateMetrics  # [seed, update] arrays


class _Scores(NamedTuple):
    """One chunk's evaluation, per row: means, episodes behind them, and the passes."""

    greedy: np.ndarray
    sampled: np.ndarray
    episodes: np.ndarray
    passed: np.ndarray


def train(
    config: TrainConfig,
    state: TrainState | None = None,
    history: History | None = None,
    chunk_timeout: float = CHUNK_TIMEOUT_S,
    algo: Algorithm | None = None,
    **hooks: Any,
) -> TrainResult:
    """Train ``config.seeds`` seeds until each is solved (or dropped) or the budget is spent.

    ``state`` and ``history`` resume an earlier run from its checkpoint; ``algo``: the
    config's algorithm, where the caller has built it already; ``hooks`` are the fields of
    ``Hooks``. No call outlives ``chunk_timeout`` seconds without any finishing.
    """
    return _Driver(config, Hooks(**hooks), chunk_timeout, algo).run(state, history)


class _Driver:
    """The host loop of one ``train`` call: chunks through the executor, the stop rule asked.

    Under a rule that evaluates, each chunk's policy plays the screen, then (if it might
    pass) the full evaluation; when the seeds' training calls are too few to fill the
    cores, the next chunk trains beside this one's evaluation (``ahead``).
    """

    def __init__(
        self, config: TrainConfig, hooks: Hooks, timeout: float, algo: Algorithm | None
    ) -> None:
        self.config, self.hooks, self.timeout = config, hooks, timeout
        self.algo = make_algorithm(config) if algo is None else algo
        self.executor = make_executor(self.algo)
        self.evaluates = self.executor.programs.evaluates
        self.screens = self.evaluates and self.executor.programs.screen_episodes > 0
        self.criterion = self.algo.criterion
        self.keys = seed_keys(config)
        self.max_chunks = -(-self.algo.max_updates // self.algo.updates_per_chunk)
        self.dropped: set[int] = set()
        self.ahead: _Chunk | None = None
        self.judged = _Confirmations(hooks.confirm if self.evaluates else None)
        self.saves = _Checkpoints(hooks.on_checkpoint, hooks.checkpoint_every)

    def calls(self, calls: list[Callable[[], Any]]) -> list[Any]:
        return run_calls(calls, self.timeout, self.hooks.should_stop)

    def run(self, state: TrainState | None, history: History | None) -> TrainResult:
        self.history = history or new_history(self.config)
        self.start = time.perf_counter() - self.history.seconds
        self.state = state
        initial_params, interrupted = None, False
        try:
            initial_params = self._begin(fresh=state is None)
            while self._chunk():
                pass
        except Interrupted:
            interrupted = True
        self.judged.apply(self.history)
        return self._result(initial_params, interrupted)

    def _begin(self, fresh: bool) -> dict | None:
        """Compile (or load) the programs, then the initial state; seed 0's initial params."""
        if self.hooks.on_compiling is not None:
            self.hooks.on_compiling()
        self.calls(self.executor.compile_jobs(need_init=fresh))
        if not fresh:
            self.state = _host_tree(self.state)
            return None
        self.state = init_state(self.algo, self.executor, self.timeout, self.hooks.should_stop)
        return _seed_slice(self.state.params, 0)

    def _chunk(self) -> bool:
        """Train, judge and record one chunk; False when no row has any left."""
        should_stop, history = self.hooks.should_stop, self.history
        if should_stop is not None and should_stop():
            raise Interrupted
        index = history.chunks
        active = _active_rows(history, self.config, self.dropped)
        if index >= self.max_chunks or not active.any():
            return False
        rows = np.flatnonzero(active)
        if self.ahead is None:
            parts = self.calls(self.executor.train_calls(self.state, rows))
            self.ahead = self._assemble(self.state, parts)
        outputs, evaluated, speculate = self._evaluate_beside_next(index, rows)
        scores = self._scores(outputs[:evaluated], index, rows, len(active))
        # Seeds confirmed at the previous chunk stop there: this chunk is not theirs.
        solved = self.judged.apply(history) if self.config.stop_when_solved else []
        kept = rows[~np.isin(rows, solved)]
        if not len(kept):  # every seed of this chunk had already solved
            return False
        if solved and scores is not None:
            scores.greedy[solved] = scores.sampled[solved] = np.nan
            scores.episodes[solved] = 0
        self._record(index, kept, scores)
        self.ahead = self._assemble(self.ahead.state, outputs[evaluated:]) if speculate else None
        self._after(scores)
        return True

    def _evaluate_beside_next(self, index: int, rows: np.ndarray) -> tuple[list, int, bool]:
        """Run this chunk's evaluation calls and, when they leave cores idle, the next chunk's
        training calls beside them; the outputs, how many are evaluations, and whether the
        next chunk was trained."""
        executor, ahead = self.executor, self.ahead
        calls: list[Callable] = []
        if self.evaluates:
            judge = executor.screen_calls if self.screens else executor.evaluate_calls
            calls += judge(ahead.state.params, self.keys, rows, index)
        evaluated = len(calls)
        # The next chunk, beside this one's evaluation, when its calls are too few to keep
        # every core busy on their own; with more, the cores stay busy anyway and a seed
        # that passes would only waste its speculative chunk.
        upcoming = executor.train_calls(ahead.state, rows)
        speculate = (
            self.evaluates and index + 1 < self.max_chunks and len(upcoming) <= worker_count()
        )
        if speculate:
            calls += upcoming
        return self.calls(calls), evaluated, speculate

    def _scores(self, parts: list[Part], index: int, rows: np.ndarray, n: int) -> _Scores | None:
        """The chunk's evaluation per row: the screen's, then the full evaluation's for the
        rows whose screen might pass (None under a rule that does not evaluate)."""
        if not self.evaluates:
            return None
        stats = _blank((4, n), np.float32(0))
        episodes = np.zeros(n, np.int64)  # per mode, behind each mean
        episodes[rows] = self.executor.programs.screen_episodes or self.config.eval_episodes
        _evaluation_stats(parts, stats)
        fully = np.ones(n, bool)
        if self.screens:  # the full evaluation, for the rows whose screen might pass
            full = rows[self.criterion.might_pass(*stats[:, rows])]
            if len(full):
                calls = self.executor.evaluate_calls(
                    self.ahead.state.params, self.keys, full, index
                )
                _evaluation_stats(self.calls(calls), stats)
            fully[:] = False
            fully[full] = True
            episodes[full] = self.config.eval_episodes
        passed = fully & self.criterion.passes_confidently(*stats)
        return _Scores(stats[0], stats[1], episodes, passed)

    def _record(self, index: int, kept: np.ndarray, scores: _Scores | None) -> None:
        """Keep the chunk's state and metrics of ``kept``; hand the passes to the judge."""
        ahead, history, algo = self.ahead, self.history, self.algo
        try:
            check_finite(ahead.metrics, ahead.state, index, algo.updates_per_chunk, kept)
        except TrainingError as error:
            error.state, error.history = self.state, history  # the last good ones
            raise
        _put(self.state, kept, take(ahead.state, kept))
        metrics = _only_rows(ahead.metrics, kept)
        evaluation = None if scores is None else scores[:3]
        passed_eval = None if scores is None else scores.passed
        passed = _record(
            history, algo, self.state, kept, metrics, evaluation, passed_eval, self.start
        )
        self.judged.submit(history, self.state, passed)
        if not self.config.stop_when_solved:
            self.judged.apply(history)

    def _after(self, scores: _Scores | None) -> None:
        """Tell the caller, drop the rows it names, and checkpoint when one is due."""
        hooks, history = self.hooks, self.history
        if hooks.on_chunk is not None:
            greedy = None if scores is None else scores.greedy
            sampled = None if scores is None else scores.sampled
            hooks.on_chunk(_report(history, greedy, sampled, self.config))
        if hooks.drop_rows is not None:
            self.dropped.update(int(r) for r in hooks.drop_rows())
        if self.saves.due(history.chunks):
            self.judged.apply(history)  # a checkpoint holds no verdict still to come
            self.saves.save(self.state, history)

    def _assemble(self, source: TrainState, parts: list[Part]) -> _Chunk:
        """A full-size state (``source`` where no part wrote) and metrics from ``parts``."""
        new_state, seeds = _host_tree(source), self.config.seeds
        metrics = None
        for part in parts:
            part_state, part_metrics = part.value
            _put(new_state, part.rows, part_state)
            if metrics is None:
                metrics = jax.tree.map(lambda v: _blank((seeds, v.shape[1]), v), part_metrics)
            _put(metrics, part.rows, part_metrics)
        return _Chunk(new_state, metrics)

    def _result(self, initial_params: dict | None, interrupted: bool) -> TrainResult:
        config, algo, history, state = self.config, self.algo, self.history, self.state
        if state is None:  # interrupted while compiling: nothing trained yet
            return TrainResult(config, algo, None, [], 0.0, None, None, interrupted=True)
        delivered = []
        for i in range(config.seeds):
            snapshot = history.snapshots.get(i)
            delivered.append(snapshot if snapshot is not None else _seed_slice(state.params, i))
        return TrainResult(
            config=config,
            algorithm=algo,
            state=state,
            delivered_params=delivered,
            train_seconds=time.perf_counter() - self.start,
            interrupted=interrupted,
            history=history,
            initial_params=initial_params,
        )


def _evaluation_stats(parts: list[Part], stats: np.ndarray) -> None:
    """Write each part's (greedy, sampled, greedy se, sampled se) into ``stats`` by row."""
    for part in parts:
        stats[:, part.rows] = np.stack(part.value)


def _only_rows(metrics: UpdateMetrics, rows: np.ndarray) -> UpdateMetrics:
    """The metrics of ``rows``; the other rows blank."""

    def only(value: np.ndarray) -> np.ndarray:
        out = _blank(value.shape, value)
        out[rows] = value[rows]
        return out

    return jax.tree.map(only, metrics)


def _blank(shape: tuple[int, ...], like) -> np.ndarray:
    """NaN for float metrics, 0 for counts: the value of a row that did not train."""
    dtype = np.asarray(like).dtype
    if np.issubdtype(dtype, np.floating):
        return np.full(shape, np.nan, dtype)
    return np.zeros(shape, dtype)


def _active_rows(history: History, config: TrainConfig, dropped: set[int]) -> np.ndarray:
    """Rows that train the next chunk: unsolved (when stopping), within budget, not dropped."""
    active = np.asarray(history.env_steps) < config.total_steps
    if config.stop_when_solved:
        active &= np.array([s is None for s in history.steps_to_solve])
    for r in dropped:
        active[r] = False
    return active


def new_history(config: TrainConfig) -> History:
    """An empty record for ``config.seeds`` seeds."""
    return History(config.seeds)


def _seed_slice(tree, i: int):
    return jax.tree.map(lambda x: np.array(x[i]), tree)


def _record(history, algo, state, rows, metrics, evaluation, passed, start) -> list[int]:
    """Append one chunk to ``history``; return the unsolved rows whose policy passed (by the
    evaluation's ``passed``, or by the algorithm's own stop rule when there is none).
    ``evaluation`` is ``(greedy, sampled, episodes)``, per row."""
    history.chunks += 1
    elapsed = time.perf_counter() - start
    steps = np.asarray(metrics.env_steps).sum(axis=1)
    with np.errstate(all="ignore"):
        sps = np.where(steps > 0, steps / max(elapsed - history.seconds, 1e-9), np.nan)
    history.seconds = elapsed
    named = {**metrics.named(), SPS: np.repeat(sps[:, None], algo.updates_per_chunk, 1)}
    history.env_steps = history.env_steps + steps
    for name, value in named.items():
        history.metrics.setdefault(name, []).append(np.asarray(value))
    if evaluation is not None:
        greedy, sampled, episodes = evaluation
        history.evaluations.append(
            ChunkEvaluation(
                history.env_steps.tolist(), greedy.tolist(), sampled.tolist(), episodes.tolist()
            )
        )
    passed = algo.stop_rule.passed(algo, state, passed)
    return [int(i) for i in rows if passed[i] and history.steps_to_solve[i] is None]


#: Periodic checkpoints wait at least this many times as long as the last one took, so that
#: saving costs at most a tenth of a run (1,024 seeds' state is ~150 MB, ~2 s to save).
CHECKPOINT_SPACING = 9.0


class _Checkpoints:
    """Calls ``save(state, history)`` every ``every`` chunks, spaced by the cost of saving."""

    def __init__(self, save: Callable | None, every: int) -> None:
        self._save, self.every = save, every
        self._ready_at = 0.0

    def due(self, chunks: int) -> bool:
        if self._save is None or not self.every or chunks % self.every:
            return False
        return time.monotonic() >= self._ready_at

    def save(self, state: TrainState, history: History) -> None:
        start = time.monotonic()
        self._save(state, history)
        end = time.monotonic()
        self._ready_at = end + CHECKPOINT_SPACING * (end - start)


@dataclass
class _Claim:
    """A seed whose policy passed at some chunk, until ``confirm`` has judged it."""

    row: int
    params: dict
    env_steps: int
    seconds: float
    accepted: bool | None = None


class _Confirmations:
    """Runs ``confirm`` on a thread while the next chunk trains; its verdicts are applied
    before that chunk is recorded, so the outcome is the same as judging at once."""

    def __init__(self, confirm: Callable[[list[int], list[dict]], list[bool]] | None) -> None:
        self.confirm = confirm
        self.claims: list[_Claim] = []
        self.thread: threading.Thread | None = None

    def submit(self, history: History, state: TrainState, rows: list[int]) -> None:
        claims = [
            _Claim(r, _seed_slice(state.params, r), int(history.env_steps[r]), history.seconds)
            for r in rows
        ]
        self.claims += claims
        if self.confirm is None:  # nothing to wait for: solved at once
            for claim in claims:
                claim.accepted = True
            self.apply(history)
            return

        def judge() -> None:
            if not claims:
                return
            verdicts = self.confirm([c.row for c in claims], [c.params for c in claims])
            for claim, verdict in zip(claims, verdicts, strict=True):
                claim.accepted = bool(verdict)

        self.thread = threading.Thread(target=judge, daemon=True)
        self.thread.start()

    def apply(self, history: History) -> list[int]:
        """Wait for the verdicts; mark the accepted seeds solved; return their rows."""
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        accepted = []
        for claim in self.claims:
            if claim.accepted:
                history.steps_to_solve[claim.row] = claim.env_steps
                history.seconds_to_solve[claim.row] = claim.seconds
                history.snapshots[claim.row] = claim.params
                accepted.append(claim.row)
        self.claims = []
        return accepted


def _report(history, greedy, sampled, config) -> ChunkReport:
    metrics = {name: chunks[-1] for name, chunks in history.metrics.items()}
    returns = np.asarray(metrics[EPISODIC_RETURN], float)
    with np.errstate(all="ignore"):
        finished = np.where(np.isnan(returns), 0.0, returns)
        counts = (~np.isnan(returns)).sum(axis=1)
        recent = np.where(counts > 0, finished.sum(axis=1) / np.maximum(counts, 1), np.nan)
    n = config.seeds
    return ChunkReport(
        chunk=history.chunks,
        env_steps=history.env_steps[:n].copy(),
        seconds=history.seconds,
        episodic_return=recent[:n],
        greedy=None if greedy is None else greedy[:n],
        sampled=None if sampled is None else sampled[:n],
        solved=np.array([s is not None for s in history.steps_to_solve[:n]]),
        metrics={k: np.asarray(v)[:n] for k, v in metrics.items()},
        active=np.asarray(metrics[ENV_STEPS]).sum(axis=1)[:n] > 0,
    )


def check_finite(
    metrics: UpdateMetrics,
    state: TrainState,
    chunk: int,
    updates_per_chunk: int,
    rows: np.ndarray | None = None,
) -> None:
    """Raise ``TrainingError`` naming the first update whose loss or parameters are not finite.

    Only ``rows`` (default: all) are checked; rows that did not train hold NaN metrics.
    """
    if rows is not None:
        metrics = jax.tree.map(lambda value: np.asarray(value)[rows], metrics)
        state = take(state, rows)
    for name in ("policy_loss", "value_loss"):
        bad = ~np.isfinite(np.asarray(getattr(metrics.losses, name)))
        if bad.any():
            seed, update = np.argwhere(bad)[0]
            seed = int(rows[seed]) if rows is not None else int(seed)
            number = chunk * updates_per_chunk + int(update) + 1
            raise TrainingError(
                f"non-finite {name} at update {number} (seed index {seed}); "
                "training stopped, the last good checkpoint is kept"
            )
    leaves = jax.tree.leaves(state.params)
    if not all(np.isfinite(leaf).all() for leaf in leaves):
        number = (chunk + 1) * updates_per_chunk
        raise TrainingError(
            f"non-finite parameters after update {number}; "
            "training stopped, the last good checkpoint is kept"
        )
