"""What a sweep is asked to do, its limits, and the search space of each trial."""

from __future__ import annotations

import os
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

from poleax.config import (
    OFF_POLICY_ALGOS,
    ConfigError,
    TrainConfig,
    build_config,
    default_algo,
)
from poleax.envs.registry import STANDARD_ENV
from poleax.files import check_kind

SWEEP_ALGOS = ("ppo", "a2c", "sac", "td3", "ddpg")
SHAPE_KEYS = ("num_envs", "num_steps", "minibatches", "epochs")
SHAPE_CHOICES = {
    "num_envs": (4, 8, 16),
    "num_steps": (16, 32, 64),
    "minibatches": (1, 2, 4),
    "epochs": (5, 10, 20),
}
MAX_TRIALS = 1_000_000
#: What a trial's score counts (``--objective``): env steps, or core-seconds (see ``_Group``).
OBJECTIVES = ("steps", "core-seconds")
#: The study attribute naming its objective (a study scores its trials one way only).
OBJECTIVE_ATTR = "poleax:objective"
MAX_STUDY_NAME = 512  # Optuna's column for study names
#: A worker records a heartbeat for each of its running trials this often (seconds) ...
HEARTBEAT_S = 10
#: ... and fails another worker's running trial after this long without one.
GRACE_S = 60
#: How often a worker with nothing left to claim looks again while others' trials run.
WAIT_S = 1.0
#: The trial system attribute holding a journal trial's last heartbeat (on databases it only
#: marks the trial as one whose liveness Optuna's heartbeat judges).
BEAT_ATTR = "poleax:heartbeat"
LOCK_SUFFIX = ".poleax-lock"
_CREATION_RACES = (
    "already exists",
    "unique constraint",
    "duplicate key",
    "duplicate entry",
    "database is locked",
)


@dataclass(frozen=True)
class SweepSettings:
    """What ``poleax sweep`` was asked to do."""

    algo: str | None = None  # None: the task's default algorithm
    env: str = STANDARD_ENV
    trials: int = 20
    batch: int | None = None  # trials trained together; None: as many as fill the cores
    seeds: int = 2
    study: str = "poleax"
    storage: str | None = None
    out: Path = Path("sweeps/poleax")
    total_steps: int = 50_000
    seed: int = 0
    search_shapes: bool = False
    sampler_seed: int | None = None
    objective: str = "steps"

    def __post_init__(self) -> None:
        if self.algo is None:
            object.__setattr__(self, "algo", default_algo(self.env))

    def validate(self) -> None:
        """Raise ``ConfigError`` for any setting that cannot work; write nothing."""
        validate_settings(self)


class SweepInterrupted(SystemExit):
    """SIGINT or SIGTERM stopped the sweep; the worker's unfinished trials were marked failed.

    A ``SystemExit`` whose code is 128 + the signal's number, so a script (or the CLI) that
    lets it pass exits with that status and no traceback.
    """

    def __init__(self, signum: int, message: str):
        super().__init__(128 + signum)
        self.signum = signum
        self.message = message

    def __str__(self) -> str:
        return self.message


def suggest(
    trial, algo: str, search_shapes: bool = False, continuous: bool = False
) -> dict[str, Any]:
    """The search space: continuous settings (with continuous actions the log-std
    initialisation too), and with ``search_shapes`` the shape-changing ones too (trials that
    differ in shape train in separate programs)."""
    if algo in OFF_POLICY_ALGOS:
        return _suggest_off_policy(trial, algo, search_shapes)
    values = {
        "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
        "gamma": trial.suggest_float("gamma", 0.95, 0.999),
        "gae_lambda": trial.suggest_float("gae_lambda", 0.8, 1.0),
        "ent_coef": trial.suggest_float("ent_coef", 1e-6, 1e-2, log=True),
        "vf_coef": trial.suggest_float("vf_coef", 0.25, 1.0),
    }
    if algo == "ppo":
        values["clip_eps"] = trial.suggest_float("clip_eps", 0.1, 0.3)
    if continuous:
        values["log_std_init"] = trial.suggest_float("log_std_init", -2.0, 0.5)
    if search_shapes:
        choices = SHAPE_CHOICES
        values["num_envs"] = trial.suggest_categorical("num_envs", list(choices["num_envs"]))
        values["num_steps"] = trial.suggest_categorical("num_steps", list(choices["num_steps"]))
        if algo == "ppo":
            values["minibatches"] = trial.suggest_categorical(
                "minibatches", list(choices["minibatches"])
            )
            values["epochs"] = trial.suggest_categorical("epochs", list(choices["epochs"]))
    return values


def _suggest_off_policy(trial, algo: str, search_shapes: bool) -> dict[str, Any]:
    """sac, td3 and ddpg: learning rate, discount, Polyak tau, and the entropy target (sac)
    or the exploration noise (td3, ddpg); with ``search_shapes`` the batch size and the
    rhythm of env steps and gradient steps."""
    values = {
        "lr": trial.suggest_float("lr", 1e-4, 3e-3, log=True),
        "gamma": trial.suggest_float("gamma", 0.95, 0.999),
        "tau": trial.suggest_float("tau", 1e-3, 5e-2, log=True),
    }
    if algo == "sac":
        values["target_entropy"] = trial.suggest_float("target_entropy", -3.0, 0.0)
    else:
        values["exploration_noise"] = trial.suggest_float("exploration_noise", 0.05, 0.5, log=True)
    if search_shapes:
        values["batch_size"] = trial.suggest_categorical("batch_size", [64, 128, 256])
        values["train_freq"] = trial.suggest_categorical("train_freq", [1, 4, 16])
        values["gradient_steps"] = values["train_freq"]
    return values


def trials_per_batch(settings: SweepSettings) -> int:
    """``--batch``, else as many trials as fill the CPU cores with their seeds (at least one).

    A seed is a row and a core trains one row at a time, so more trials than that gain no
    speed and lose pruning: a trial is judged against the trials finished before it.
    """
    if settings.batch is not None:
        return settings.batch
    from poleax.executor import worker_count

    return max(1, worker_count() // settings.seeds)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _trial_seed(settings: SweepSettings, number: int, rows: int) -> int:
    """The first training seed of a group led by trial ``number``; its rows count up from it."""
    return (settings.seed + 1000 * number) % (2**31 - rows + 1)


def _base(settings: SweepSettings) -> TrainConfig:
    return build_config(settings.algo, settings.env)


def validate_settings(settings: SweepSettings) -> None:
    """Every setting, the storage string and the out folder; nothing is created."""
    if settings.algo not in SWEEP_ALGOS:
        raise ConfigError(
            f"sweep supports algorithms {', '.join(SWEEP_ALGOS)}; got {settings.algo!r}"
        )
    build_config(settings.algo, settings.env)  # checks the env id
    if settings.objective not in OBJECTIVES:
        raise ConfigError(
            f"--objective must be one of {', '.join(OBJECTIVES)}; got {settings.objective!r}"
        )
    for name, most in (("trials", MAX_TRIALS), ("seeds", None), ("batch", None)):
        value = getattr(settings, name)
        if name == "batch" and value is None:
            continue
        if not _whole(value) or value < 1 or (most is not None and value > most):
            bound = f" (at most {most:,})" if most is not None else ""
            raise ConfigError(f"--{name} must be >= 1{bound}; got {value!r}")
    if not _whole(settings.total_steps) or not 1 <= settings.total_steps < 2**31:
        raise ConfigError(
            f"--total-steps must be a whole number in [1, 2^31); got {settings.total_steps!r}"
        )
    if not _whole(settings.seed) or not 0 <= settings.seed < 2**31:
        raise ConfigError(f"--seed must be a whole number in [0, 2^31); got {settings.seed!r}")
    sampler_seed = settings.sampler_seed
    if sampler_seed is not None and (not _whole(sampler_seed) or not 0 <= sampler_seed < 2**32):
        raise ConfigError(
            f"--sampler-seed must be a whole number in [0, 2^32); got {sampler_seed!r}"
        )
    if not isinstance(settings.study, str) or not 1 <= len(settings.study) <= MAX_STUDY_NAME:
        raise ConfigError(f"--study must be a name of 1 to {MAX_STUDY_NAME} characters")
    # Every program a trial can need, as train_group builds it (its bounds, e.g. total_steps
    # and seeds, are the config's): with --search-shapes, every shape the space holds.
    rows = trials_per_batch(settings) * settings.seeds
    base = _base(settings)
    shapes = [{k: getattr(base, k) for k in SHAPE_KEYS}]
    if settings.search_shapes:
        keys = SHAPE_KEYS if settings.algo == "ppo" else ("num_envs", "num_steps")
        shapes = [
            dict(zip(keys, v, strict=True)) for v in product(*(SHAPE_CHOICES[k] for k in keys))
        ]
    try:
        for shape in shapes:
            build_config(
                settings.algo,
                settings.env,
                seed=_trial_seed(settings, 0, rows),
                seeds=rows,
                total_steps=settings.total_steps,
                **shape,
            )
    except ConfigError as error:
        raise ConfigError(
            f"sweep settings cannot train ({rows} rows: batch x seeds): {error}"
        ) from None
    _check_out(settings.out)
    _storage_target(settings)


def _check_out(out: Path) -> None:
    """``out`` is, or can be made, a writable folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder")
    check_kind(out, "sweep", "--out")
    existing = out
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"cannot write to --out {out}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write to --out {out}: {existing} is not writable")


@dataclass(frozen=True)
class _Target:
    """Where the study lives, checked but not yet opened."""

    kind: str  # "rdb" or "journal"
    url: str | None = None  # rdb: the SQLAlchemy URL
    path: Path | None = None  # a SQLite or journal file; None: a server, or SQLite in memory
    dialect: str = ""


def _default_storage(settings: SweepSettings) -> str:
    return f"sqlite:///{(Path(settings.out) / 'study.db').resolve()}"


def _storage_target(settings: SweepSettings) -> _Target:
    """Parse and check ``--storage`` (or the default) without touching it."""
    text = settings.storage if settings.storage is not None else _default_storage(settings)
    shown = settings.storage

    def bad(reason: str) -> ConfigError:
        return ConfigError(f"cannot open study storage {shown!r}: {reason}")

    if not isinstance(text, str) or not text.strip():
        raise bad("expected a URL like sqlite:///study.db or journal:/shared/file.log")
    if text.startswith("journal:"):
        path = text[len("journal:") :]
        if not path:
            raise bad("journal: needs a file path, like journal:/shared/sweep.log")
        file = Path(path)
        _check_storage_file(file, bad, journal=True)
        return _Target("journal", path=file)
    import sqlalchemy
    from sqlalchemy.engine import make_url

    try:
        url = make_url(text)
        dialect = url.get_dialect()
        dialect.import_dbapi()
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "not a URL"
        raise bad(
            f"{reason} (expected e.g. sqlite:///study.db, postgresql://host/db or "
            "journal:/shared/file.log)"
        ) from None
    except ImportError as error:
        raise bad(f"no driver for {url.drivername}: {error}") from None
    name = url.get_backend_name()
    if name == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return _Target("rdb", url=text, dialect=name)
        file = Path(database)
        # The default database's folder is the out folder, made (once checked) when opening.
        _check_storage_file(file, bad, journal=False, made_later=settings.storage is None)
        return _Target("rdb", url=text, path=file, dialect=name)
    return _Target("rdb", url=text, dialect=name)


def _check_storage_file(file: Path, bad, journal: bool, made_later: bool = False) -> None:
    if file.is_dir():
        raise bad(f"{file} is a folder, not a file")
    if file.exists():
        if not file.is_file():
            raise bad(f"{file} is not a regular file")
        if not os.access(file, os.R_OK | os.W_OK):
            raise bad(f"{file} is not readable and writable")
        try:
            with open(file, "rb") as handle:
                head = handle.read(16)
        except OSError as error:
            raise bad(f"cannot read {file}: {error.strerror or error}") from None
        if journal and head and not head.lstrip().startswith(b"{"):
            raise bad(f"{file} is not an Optuna journal")
        if not journal and head and head != b"SQLite format 3\x00":
            raise bad(f"{file} is not a SQLite database")
        return
    parent = file.parent
    if made_later:
        return
    if not parent.is_dir():
        raise bad(f"folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise bad(f"folder {parent} is not writable")
