"""The compiled programs of one algorithm: init, a chunk of training, the screen, evaluation.

A ``Programs`` of ``width=None`` works on one row (one seed) per call; of ``width=K`` on K
rows per call, vmapped, with an ``active`` mask inside: an inactive slot (a solved seed, or
padding) keeps its state untouched and plays no evaluation step, so it costs only its slot.
Each program is loaded from poleax's executable cache or compiled once (``load_or_compile``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import poleax.draws as draws
from poleax.algos import Algorithm, TrainState
from poleax.compile_cache import HOST_ONLY_FIELDS, load_or_compile
from poleax.evaluation import greedy_and_sampled_means

#: Random streams of the evaluations: the full one folds ``EVAL_STREAM + chunk`` into the
#: seed's key; the screen folds ``SCREEN_STREAM``, then the chunk.
EVAL_STREAM = 0x5EED
SCREEN_STREAM = 0x5C12EE
#: XLA compiler options per program, chosen for the cold start (measured on a 2-core CPU).
#: ``init`` runs once per seed: without LLVM's optimisation and with XLA's older loop
#: emitters (no MLIR pipeline per kernel) it compiles in 0.23 s instead of 0.74 s. The
#: programs that run every chunk keep the fusion emitters (2-3x faster code) and take LLVM's
#: lighter optimisation level: 13% less compile time, the same speed.
PROGRAM_OPTIONS: dict[str, dict[str, Any]] = {
    "init": {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False},
    "train": {"xla_backend_optimization_level": 1},
    "screen": {"xla_backend_optimization_level": 1},
    "evaluate": {"xla_backend_optimization_level": 1},
}


class Programs:
    """``init(keys)``, ``train(state, active)``, ``screen(params, keys, chunk, active)`` and
    ``evaluate(params, keys, chunk, active)`` of one algorithm, at one width.

    At ``width=None`` every argument is one row's and ``active`` is ignored (a lone row is
    always active). At ``width=K`` every argument has a leading axis of K rows. The
    evaluations return ``(greedy_mean, sampled_mean, greedy_se, sampled_se)``; the screen
    plays ``screen_episodes`` episodes of each mode, the full evaluation ``eval_episodes``.
    """

    def __init__(self, algo: Algorithm, width: int | None = None, screen_episodes: int = 0):
        config = algo.config
        env, env_params = algo.task.env, algo.task.params

        def train_chunk(state: TrainState):
            return jax.lax.scan(
                lambda s, _: algo.update(s), state, None, length=algo.updates_per_chunk
            )

        def masked_chunk(state: TrainState, active: jax.Array):
            trained, metrics = train_chunk(state)
            kept = jax.tree.map(lambda new, old: jnp.where(active, new, old), trained, state)
            return kept, metrics

        def evaluation(episodes: int, key_of: Callable):
            def run(params, seed_key: jax.Array, chunk: jax.Array, active=True):
                return greedy_and_sampled_means(
                    env, env_params, algo.spec, algo.dist, params, key_of(seed_key, chunk),
                    episodes, active,
                )  # fmt: skip

            return run

        def eval_key(seed_key, chunk):
            return draws.fold_in(seed_key, EVAL_STREAM + chunk)

        def screen_key(seed_key, chunk):
            return draws.fold_in(draws.fold_in(seed_key, SCREEN_STREAM), chunk)

        evaluate = evaluation(config.eval_episodes, eval_key)
        screen = evaluation(max(screen_episodes, 1), screen_key)
        if width is None:
            functions = {
                "init": algo.init,
                "train": train_chunk,
                "screen": screen,
                "evaluate": evaluate,
            }
        else:
            functions = {
                "init": jax.vmap(algo.init),
                "train": jax.vmap(masked_chunk),
                "screen": jax.vmap(screen, in_axes=(0, 0, None, 0)),
                "evaluate": jax.vmap(evaluate, in_axes=(0, 0, None, 0)),
            }
        self.algo = algo
        self.width = width
        self.screen_episodes = screen_episodes
        self.evaluates = algo.stop_rule.evaluates
        self._jitted = {name: jax.jit(f) for name, f in functions.items()}
        self._compiled: dict[str, Callable] = {}
        self._state_shape: TrainState | None = None
        self._settings = {
            name: value for name, value in config.to_dict().items() if name not in HOST_ONLY_FIELDS
        }

    def needed(self, need_init: bool) -> list[str]:
        """The programs a run uses, longest to compile first."""
        names = ["train", *(["init"] if need_init else [])]
        if self.evaluates:
            names += ["evaluate", *(["screen"] if self.screen_episodes else [])]
        return names

    def loader(self, name: str) -> Callable[[Callable, Callable], None]:
        """``load(before_tracing, after_tracing)`` of program ``name`` (see ``compile_jobs``)."""
        return lambda before, after: self._load_or_compile(name, before, after)

    def _load_or_compile(
        self,
        name: str,
        before_tracing: Callable[[], Any] = lambda: None,
        after_tracing: Callable[[], Any] = lambda: None,
    ) -> None:
        rows = () if self.width is None else (self.width,)

        def lower():
            before_tracing()
            try:
                key = jax.ShapeDtypeStruct((*rows, 2), jnp.uint32)
                if name == "init":
                    return self._jitted[name].lower(key)
                if self._state_shape is None:  # traced once, for train and the evaluations
                    self._state_shape = jax.eval_shape(self._jitted["init"], key)
                state = self._state_shape
                active = () if self.width is None else (jax.ShapeDtypeStruct(rows, jnp.bool_),)
                if name == "train":
                    return self._jitted[name].lower(state, *active)
                chunk = jax.ShapeDtypeStruct((), jnp.int32)
                return self._jitted[name].lower(state.params, key, chunk, *active)
            finally:
                after_tracing()

        settings = dict(self._settings)
        if self.width is not None:
            settings["vmap_width"] = self.width
        if name == "screen":
            settings["eval_episodes"] = self.screen_episodes
        program = name if self.width is None else f"{name}-vmapped"
        options = PROGRAM_OPTIONS.get(name)
        self._compiled[name] = load_or_compile(program, settings, lower, options)

    def init(self, key):
        return self._program("init")(key)

    def train(self, state: TrainState, active=None):
        if self.width is None:
            return self._program("train")(state)
        return self._program("train")(state, active)

    def screen(self, params, key, chunk: int, active=None):
        return self._evaluation("screen", params, key, chunk, active)

    def evaluate(self, params, key, chunk: int, active=None):
        return self._evaluation("evaluate", params, key, chunk, active)

    def _evaluation(self, name: str, params, key, chunk: int, active):
        arguments = (params, key, np.int32(chunk))
        if self.width is None:
            return self._program(name)(*arguments)
        return self._program(name)(*arguments, active)

    def _program(self, name: str) -> Callable:
        if name not in self._compiled:
            self._load_or_compile(name)
        return self._compiled[name]


def compile_jobs(loaders: list[Callable[[Callable, Callable], None]]) -> list[Callable[[], None]]:
    """Thunks that load or compile programs (``Programs.loader``), for worker threads.

    They trace one at a time, in the order given: tracing holds the GIL, so tracing two at
    once would only delay the first program (the training one, whose compilation takes
    longest); compilations then overlap.
    """
    turns = [threading.Event() for _ in loaders]
    if turns:
        turns[0].set()

    def job(i: int) -> None:
        done = turns[i + 1].set if i + 1 < len(loaders) else (lambda: None)
        try:
            loaders[i](turns[i].wait, done)
        finally:
            done()

    return [lambda i=i: job(i) for i in range(len(loaders))]
