"""What the host loop accumulates across chunks, as one typed structure.

``History`` is the trainer's record of a run (curves, evaluations, solve points, the
policies delivered at each solve) and what a checkpoint keeps for ``--resume``. It converts
itself to arrays plus JSON (``to_saved``) and back, checking everything it reads
(``from_saved``), so the checkpoint stores it without knowing its fields.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

Params = dict[str, dict[str, np.ndarray]]

#: The record's names of what every update reports (CleanRL's names, as in ``metrics.csv``).
ENV_STEPS = "charts/env_steps"
EPISODES = "charts/episodes"
EPISODIC_RETURN = "charts/episodic_return"
#: Env steps per second of a chunk, which the host adds to the record.
SPS = "charts/SPS"
#: The tutorial's running reward after each update.
RUNNING_REWARD = "charts/running_reward"


class HistoryError(ValueError):
    """Saved history that is malformed; the message says what."""


class ChunkEvaluation(NamedTuple):
    """One chunk's in-JAX evaluation: per seed, env steps so far and the mean returns, and
    how many episodes per mode each mean is of (the screen's, or the full evaluation's when
    the screen might pass; 0 for a seed not evaluated; ``None``: not recorded, before 0.2)."""

    env_steps: list[int]
    greedy: list[float]
    sampled: list[float]
    episodes: list[int] | None = None


@dataclass
class History:
    """A run's record, per seed (``seeds`` rows)."""

    seeds: int
    chunks: int = 0
    seconds: float = 0.0
    env_steps: np.ndarray = field(default=None)  # type: ignore[assignment]  # [seed] int64
    metrics: dict[str, list[np.ndarray]] = field(default_factory=dict)
    """Metric name -> one ``[seed, updates]`` array per chunk."""
    evaluations: list[ChunkEvaluation] = field(default_factory=list)
    steps_to_solve: list[int | None] = field(default=None)  # type: ignore[assignment]
    seconds_to_solve: list[float | None] = field(default=None)  # type: ignore[assignment]
    snapshots: dict[int, Params] = field(default_factory=dict)
    """Seed index -> its parameters when it was solved (the delivered policy)."""

    def __post_init__(self) -> None:
        if self.env_steps is None:
            self.env_steps = np.zeros(self.seeds, np.int64)
        if self.steps_to_solve is None:
            self.steps_to_solve = [None] * self.seeds
        if self.seconds_to_solve is None:
            self.seconds_to_solve = [None] * self.seeds

    @property
    def solved(self) -> np.ndarray:
        """[seed] bool: solved so far."""
        return np.array([s is not None for s in self.steps_to_solve])

    def metric(self, name: str) -> np.ndarray:
        """``[seed, updates]``: the metric over every chunk so far."""
        chunks = self.metrics.get(name, [])
        return np.concatenate(chunks, axis=1) if chunks else np.zeros((self.seeds, 0))

    def to_saved(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """``(arrays, info)``: the arrays for an ``.npz``, the rest as JSON-ready data; not
        the snapshots, which the checkpoint stacks with the policies (each array once)."""
        arrays = {"env_steps": np.asarray(self.env_steps)}
        arrays.update(_metric_arrays({name: self.metric(name) for name in self.metrics}))
        arrays.update(_evaluation_arrays(self.evaluations, self.seeds))
        info = {
            "chunks": self.chunks,
            "seconds": self.seconds,
            "evaluations": len(self.evaluations),  # in the arrays (format 1: a JSON list)
            "steps_to_solve": self.steps_to_solve,
            "seconds_to_solve": self.seconds_to_solve,
            "chunk_lengths": [c.shape[1] for c in next(iter(self.metrics.values()), [])],
        }
        return arrays, info

    @classmethod
    def from_saved(
        cls,
        arrays: dict[str, np.ndarray],
        info: Any,
        seeds: int,
        check_params: Callable[[Params, str], None] | None = None,
    ) -> History:
        """The history ``to_saved`` wrote, every field checked (``HistoryError`` otherwise).

        ``check_params(params, what)`` raises ``ValueError`` for a snapshot that does not fit
        the run's network. Snapshots are read from ``snapshot{i}/{layer}/{name}`` arrays, as
        poleax up to 0.3.0 saved them (format 1); format 2's are the checkpoint's to add.
        """
        _require(isinstance(info, dict), f"expected a JSON object, found {type(info).__name__}")
        names = ("chunks", "seconds", "evaluations", "steps_to_solve", "seconds_to_solve")
        missing = [f for f in (*names, "chunk_lengths") if f not in info]
        _require(not missing, f"missing {', '.join(missing)}")
        chunks = info["chunks"]
        _require(_is_count(chunks), f"chunks is {chunks!r}, not a count")
        _require(_is_duration(info["seconds"]), f"seconds is {info['seconds']!r}")
        for name, ok in (("steps_to_solve", _is_count), ("seconds_to_solve", _is_duration)):
            values = info[name]
            _require(
                isinstance(values, list) and len(values) == seeds,
                f"{name} is not a list of {seeds} value(s)",
            )
            _require(all(v is None or ok(v) for v in values), f"{name} holds {values!r}")
        if isinstance(info["evaluations"], list):  # as JSON, as poleax up to 0.3.0 saved them
            evaluations = _evaluations(info["evaluations"], chunks, seeds)
        else:
            evaluations = _evaluations_of_arrays(arrays, info["evaluations"], chunks, seeds)
        lengths = info["chunk_lengths"]
        _require(
            isinstance(lengths, list)
            and len(lengths) == chunks
            and all(is_int(n) and n >= 1 for n in lengths),
            f"chunk_lengths is {lengths!r}, not {chunks} positive count(s)",
        )
        env_steps = arrays.get("env_steps")
        _require(env_steps is not None, "history.npz lacks env_steps")
        _require(
            env_steps.shape == (seeds,)
            and env_steps.dtype.kind in "iu"
            and bool(np.all(env_steps >= 0)),
            f"env_steps is {env_steps.dtype}{list(env_steps.shape)}, not {seeds} count(s)",
        )
        metrics, snapshots = _read_arrays(arrays, seeds, lengths)
        _require(bool(metrics) == (chunks > 0), f"{len(metrics)} metrics after {chunks} chunk(s)")
        if check_params is not None:
            for row, params in snapshots.items():
                try:
                    check_params(params, f"snapshot of seed {row} does not match the network")
                except ValueError as error:
                    raise HistoryError(str(error)) from None
        return cls(
            seeds=seeds,
            chunks=chunks,
            seconds=float(info["seconds"]),
            env_steps=env_steps.astype(np.int64),
            metrics=metrics,
            evaluations=evaluations,
            steps_to_solve=info["steps_to_solve"],
            seconds_to_solve=info["seconds_to_solve"],
            snapshots=snapshots,
        )


def _evaluations(values: Any, chunks: int, seeds: int) -> list[ChunkEvaluation]:
    _require(isinstance(values, list), "evaluations is not a list")
    _require(len(values) <= chunks, f"{len(values)} evaluations in {chunks} chunk(s)")
    out = []
    required = ("env_steps", "greedy", "sampled")
    for e in values:
        _require(
            isinstance(e, dict)
            and all(
                isinstance(e.get(k), list)
                and len(e[k]) == seeds
                and all(_is_number(v) for v in e[k])
                for k in required
            ),
            f"an evaluation is not env_steps, greedy and sampled for {seeds} seed(s): {e!r}",
        )
        episodes = e.get("episodes")
        _require(
            episodes is None
            or (
                isinstance(episodes, list)
                and len(episodes) == seeds
                and all(is_int(n) and n >= 0 for n in episodes)
            ),
            f"an evaluation's episodes are not {seeds} counts: {episodes!r}",
        )
        out.append(ChunkEvaluation(*(e[k] for k in required), episodes))
    return out


def _blank(shape: tuple[int, ...], dtype) -> np.ndarray:
    """What a seed that did not train records: NaN for float metrics, 0 for counts."""
    return np.full(shape, np.nan if np.dtype(dtype).kind == "f" else 0, dtype)


def _metric_arrays(metrics: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The metrics (``[seed, update]`` each) without what a seed records once it no longer
    trains: ``metric_lengths`` [seed] says how many updates of each seed are kept (up to its
    last value other than NaN or 0 in any metric) of ``metric_updates``; ``metrics/{name}``
    holds those updates, seed after seed. Exact; at the end of a many-seed run, most of the
    curves are such tails."""
    if not metrics:
        return {}
    values = list(metrics.values())
    updates = values[0].shape[1]
    recorded = np.zeros(values[0].shape, bool)
    for value in values:
        recorded |= ~np.isnan(value) if value.dtype.kind == "f" else value != 0
    last = updates - np.argmax(recorded[:, ::-1], axis=1)
    lengths = np.where(recorded.any(axis=1), last, 0).astype(np.int64)
    kept = np.arange(updates)[None, :] < lengths[:, None]
    arrays = {f"metrics/{name}": value[kept] for name, value in metrics.items()}
    return {"metric_updates": np.int64(updates), "metric_lengths": lengths, **arrays}


#: The arrays of the evaluations, ``[evaluation, seed]`` each; episodes -1: not recorded.
_EVALUATION_ARRAYS = {"env_steps": "iu", "greedy": "f", "sampled": "f", "episodes": "i"}


def _evaluation_arrays(evaluations: list[ChunkEvaluation], seeds: int) -> dict[str, np.ndarray]:
    """The evaluations as four ``[evaluation, seed]`` arrays (JSON of 1,024 seeds' numbers a
    chunk took longer to write than all of a checkpoint's arrays)."""
    rows = len(evaluations)

    def column(name: str, dtype, missing=None) -> np.ndarray:
        values = [getattr(e, name) for e in evaluations]
        values = [[missing] * seeds if v is None else v for v in values]
        return np.array(values, dtype).reshape(rows, seeds)

    return {
        "evaluations/env_steps": column("env_steps", np.int64),
        "evaluations/greedy": column("greedy", np.float64),
        "evaluations/sampled": column("sampled", np.float64),
        "evaluations/episodes": column("episodes", np.int64, -1),
    }


def _evaluations_of_arrays(
    arrays: dict[str, np.ndarray], count: Any, chunks: int, seeds: int
) -> list[ChunkEvaluation]:
    """``count`` evaluations from ``arrays`` (removed from it), each checked."""
    _require(_is_count(count), f"evaluations is {count!r}, not a count")
    _require(count <= chunks, f"{count} evaluations in {chunks} chunk(s)")
    columns = {}
    for name, kinds in _EVALUATION_ARRAYS.items():
        value = arrays.pop(f"evaluations/{name}", None)
        _require(value is not None, f"history.npz lacks evaluations/{name}")
        _require(
            value.shape == (count, seeds) and value.dtype.kind in kinds,
            f"evaluations/{name} is {value.dtype}{list(value.shape)}, not [{count}, {seeds}]",
        )
        columns[name] = value
    episodes = columns["episodes"]
    recorded = episodes >= 0
    _require(
        bool(np.all(recorded.all(axis=1) | (episodes == -1).all(axis=1))),
        "evaluations/episodes holds negative counts",
    )
    _require(bool(np.all(columns["env_steps"] >= 0)), "evaluations/env_steps holds negatives")
    return [
        ChunkEvaluation(
            columns["env_steps"][i].tolist(),
            columns["greedy"][i].tolist(),
            columns["sampled"][i].tolist(),
            episodes[i].tolist() if recorded[i].all() else None,
        )
        for i in range(count)
    ]


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise HistoryError(what)


def is_int(value: Any) -> bool:
    """A whole number (a bool is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return is_int(value) and value >= 0


def _is_duration(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value) and value >= 0


def _read_arrays(
    arrays: dict[str, np.ndarray], seeds: int, lengths: list[int]
) -> tuple[dict[str, list[np.ndarray]], dict[int, Params]]:
    """The metrics (split into chunks of ``lengths`` updates) and the snapshots of a saved
    history's arrays, each checked (``HistoryError`` otherwise)."""
    updates = sum(lengths)
    metrics: dict[str, list[np.ndarray]] = {}
    snapshots: dict[int, Params] = {}
    bounds = np.cumsum([0, *lengths])
    trained = arrays.get("metric_lengths")
    if trained is not None:
        total = arrays.get("metric_updates")
        _require(
            total is not None and total.shape == () and total.dtype.kind in "iu",
            "history.npz lacks metric_updates",
        )
        _require(total == updates, f"{int(total)} updates of metrics, chunk_lengths say {updates}")
        _require(
            trained.shape == (seeds,)
            and trained.dtype.kind in "iu"
            and bool(np.all((trained >= 0) & (trained <= updates))),
            f"metric_lengths is {trained.dtype}{list(trained.shape)}, not {seeds} counts of "
            f"at most {updates}",
        )
        kept = np.arange(updates)[None, :] < trained[:, None]
    for key, value in arrays.items():
        if key in ("env_steps", "metric_lengths", "metric_updates"):
            continue
        if key.startswith("metrics/") and len(key) > len("metrics/"):
            if trained is not None:  # format 2: each seed's updates up to its last value
                _require(
                    value.shape == (int(trained.sum()),) and value.dtype.kind in "biuf",
                    f"{key} is {value.dtype}{list(value.shape)}, "
                    f"expected [{int(trained.sum())}] by metric_lengths",
                )
                full = _blank((seeds, updates), value.dtype)
                full[kept] = value
                value = full
            _require(
                value.shape == (seeds, updates) and value.dtype.kind in "biuf",
                f"{key} is {value.dtype}{list(value.shape)}, expected [{seeds}, {updates}]",
            )
            metrics[key[len("metrics/") :]] = [value[:, a:b] for a, b in itertools.pairwise(bounds)]
            continue
        match = re.fullmatch(r"snapshot(\d+)/([^/]+)/([^/]+)", key)
        _require(match is not None, f"unexpected array {key!r} in history.npz")
        row = int(match.group(1))
        _require(row < seeds, f"{key}: snapshot of seed {row}, the run has {seeds}")
        snapshots.setdefault(row, {}).setdefault(match.group(2), {})[match.group(3)] = value
    return metrics, snapshots
