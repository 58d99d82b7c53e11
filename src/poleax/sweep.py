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

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import random
import signal
import socket
import sys
import threading
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from poleax.config import ConfigError, TrainConfig, build_config
from poleax.envs.registry import env_spec

SWEEP_ALGOS = ("ppo", "a2c")
SHAPE_KEYS = ("num_envs", "num_steps", "minibatches", "epochs")
SHAPE_CHOICES = {
    "num_envs": (4, 8, 16),
    "num_steps": (16, 32, 64),
    "minibatches": (1, 2, 4),
    "epochs": (5, 10, 20),
}
MAX_TRIALS = 1_000_000
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

    algo: str = "ppo"
    env: str = "CartPole-v1"
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


def trials_per_batch(settings: SweepSettings) -> int:
    """``--batch``, else as many trials as fill the CPU cores with their seeds (at least one).

    A seed is a row and a core trains one row at a time, so more trials than that gain no
    speed and lose pruning: a trial is judged against the trials finished before it.
    """
    if settings.batch is not None:
        return settings.batch
    from poleax.trainer import worker_count

    return max(1, worker_count() // settings.seeds)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_settings(settings: SweepSettings) -> None:
    """Every setting, the storage string and the out folder; nothing is created."""
    if settings.algo not in SWEEP_ALGOS:
        raise ConfigError(
            f"sweep supports algorithms {', '.join(SWEEP_ALGOS)}; got {settings.algo!r}"
        )
    build_config(settings.algo, settings.env)  # checks the env id
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
    existing = out
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"cannot write to --out {out}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write to --out {out}: {existing} is not writable")


# --- Storage ---------------------------------------------------------------------------------


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


class _FileLock:
    """An exclusive ``flock`` on ``<file>.poleax-lock``; released by the kernel when the
    process dies. Where the file system has no locks, it locks nothing."""

    def __init__(self, file: Path):
        self.path = Path(str(file) + LOCK_SUFFIX)
        self.handle = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # not POSIX
            return self
        try:
            self.handle = open(self.path, "a")  # closed in __exit__
        except OSError:
            return self  # e.g. a read-only folder beside a writable database
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX)
        except OSError as error:
            if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise
        return self

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            self.handle.close()  # closing releases the lock
            self.handle = None


class _DatabaseLock:
    """A session lock of the database server (PostgreSQL advisory lock, MySQL ``GET_LOCK``),
    keyed by the study name; released by the server when the connection goes."""

    def __init__(self, url: str, dialect: str, study: str):
        self.url, self.dialect = url, dialect
        digest = hashlib.blake2b(f"poleax-sweep:{study}".encode(), digest_size=8).digest()
        self.key = int.from_bytes(digest, "big", signed=True)
        self.name = "poleax-" + digest.hex()
        self.engine = None
        self.connection = None

    def __enter__(self):
        import sqlalchemy
        from sqlalchemy.pool import NullPool

        if self.engine is None:
            self.engine = sqlalchemy.create_engine(self.url, poolclass=NullPool)
        self.connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if self.dialect == "postgresql":
            self.connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": self.key})
        else:
            self.connection.execute(sqlalchemy.text("SELECT GET_LOCK(:n, -1)"), {"n": self.name})
        return self

    def __exit__(self, *exc) -> None:
        import sqlalchemy

        connection, self.connection = self.connection, None
        try:
            if self.dialect == "postgresql":
                connection.execute(
                    sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": self.key}
                )
            else:
                connection.execute(sqlalchemy.text("SELECT RELEASE_LOCK(:n)"), {"n": self.name})
        finally:
            connection.close()


def _lock_for(target: _Target, study: str):
    """The lock that serializes storage creation and trial claims between workers."""
    if target.path is not None:
        return _FileLock(target.path)
    if target.dialect in ("postgresql", "mysql", "mariadb"):
        return _DatabaseLock(target.url, target.dialect, study)
    return contextlib.nullcontext()


def _quiet_optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    context = warnings.catch_warnings()
    context.__enter__()
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    # poleax beats for its asked trials itself (Optuna's own thread runs only in optimize).
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
    return context


class _Study:
    """The opened study with its storage, claim lock and heartbeats."""

    def __init__(self, settings: SweepSettings, target: _Target):
        self.settings = settings
        self.target = target
        self.lock = _lock_for(target, settings.study)
        self.journal = target.kind == "journal"
        self.storage = None
        self.study = None
        self.mine: set[int] = set()  # ids of this worker's running trials
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # opening

    def open(self) -> None:
        import optuna

        def reason_of(error: BaseException) -> str:
            text = str(error).strip()
            return text.splitlines()[0] if text else type(error).__name__

        attempts = 6
        for attempt in range(attempts):
            try:
                with self.lock:
                    self.storage = self._make_storage()
                    self.study = optuna.create_study(
                        study_name=self.settings.study,
                        storage=self.storage,
                        direction="minimize",
                        load_if_exists=True,
                        sampler=optuna.samplers.TPESampler(seed=None),
                        pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=2),
                    )
                break
            except Exception as error:  # unreachable database, bad URL, missing driver, race
                reason = reason_of(error)
                racing = any(race in reason.lower() for race in _CREATION_RACES)
                if racing and attempt + 1 < attempts:  # another worker is creating it
                    time.sleep(0.05 + random.random() * 0.2 * (attempt + 1))
                    continue
                raise ConfigError(
                    f"cannot open study storage {self.settings.storage!r}: {reason}"
                ) from None
        self._thread = threading.Thread(target=self._beat_loop, name="poleax-heartbeat")
        self._thread.daemon = True
        self._thread.start()

    def _make_storage(self):
        if self.journal:
            from optuna.storages import JournalStorage
            from optuna.storages.journal import JournalFileBackend

            return JournalStorage(JournalFileBackend(str(self.target.path)))
        from optuna.storages import RDBStorage

        return RDBStorage(self.target.url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S)

    def close(self) -> None:
        self._stop.set()

    # heartbeats

    def _beat(self, trial_id: int) -> None:
        try:
            if self.journal:
                self.storage.set_trial_system_attr(trial_id, BEAT_ATTR, time.time())
            else:
                self.storage.record_heartbeat(trial_id)
        except Exception:  # finished meanwhile, or the storage is briefly unreachable
            pass

    def _beat_loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with self._guard:
                ids = sorted(self.mine)
            for trial_id in ids:
                self._beat(trial_id)

    def keep_alive(self, trials: list) -> None:
        for trial in trials:
            trial_id = trial._trial_id
            # The marker says a poleax worker beats for this trial (on journals, when).
            self.storage.set_trial_system_attr(trial_id, BEAT_ATTR, time.time())
            if not self.journal:
                self.storage.record_heartbeat(trial_id)
            with self._guard:
                self.mine.add(trial_id)

    def let_go(self, trial) -> None:
        with self._guard:
            self.mine.discard(trial._trial_id)

    # claims

    def counts(self) -> dict[str, int]:
        import optuna

        states = optuna.trial.TrialState
        trials = self.study.get_trials(deepcopy=False)
        finished = sum(t.state in (states.COMPLETE, states.PRUNED) for t in trials)
        running = sum(t.state == states.RUNNING for t in trials)
        failed = sum(t.state == states.FAIL for t in trials)
        return {"finished": finished, "running": running, "failed": failed}

    def fail_stale(self) -> None:
        """Fail other workers' running trials that have had no heartbeat for ``GRACE_S``."""
        import optuna

        if not self.journal:
            optuna.storages.fail_stale_trials(self.study)  # Optuna's heartbeat on databases
        now = time.time()
        with self._guard:
            mine = set(self.mine)
        for trial in self.study.get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)
        ):
            if trial._trial_id in mine:
                continue
            beat = trial.system_attrs.get(BEAT_ATTR)
            if beat is not None and not self.journal:
                continue  # judged by Optuna's heartbeat above
            last = float(beat) if isinstance(beat, int | float) else 0.0
            if trial.datetime_start is not None:  # a trial asked but never beaten for
                last = max(last, trial.datetime_start.timestamp())
            if now - last > GRACE_S:
                with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                    why = f"no heartbeat for {GRACE_S} s (its worker died)"
                    self.storage.set_trial_user_attr(trial._trial_id, "poleax_failed", why)
                    self.storage.set_trial_state_values(
                        trial._trial_id, optuna.trial.TrialState.FAIL
                    )

    def claim(self, most: int) -> list:
        """Up to ``most`` new trials, never past ``trials`` finished-or-running ones."""
        with self.lock:
            self.fail_stale()
            counts = self.counts()
            free = self.settings.trials - counts["finished"] - counts["running"]
            asked = [self.study.ask() for _ in range(max(0, min(most, free)))]
            self.keep_alive(asked)
        return asked

    def finish(self, trial, value: float | None = None, state=None) -> None:
        """Tell ``trial`` (skipped if another worker already failed it as stale)."""
        try:
            if state is not None:
                self.study.tell(trial, state=state, skip_if_finished=True)
            else:
                self.study.tell(trial, value, skip_if_finished=True)
        finally:
            self.let_go(trial)

    def fail(self, trials: list, why: str) -> None:
        import optuna

        for trial in trials:
            with contextlib.suppress(Exception):
                trial.set_user_attr("poleax_failed", why)
            with contextlib.suppress(Exception):
                self.finish(trial, state=optuna.trial.TrialState.FAIL)


def open_study(settings: SweepSettings):
    """Create or join the study (SQLite in the sweep folder unless ``--storage`` is given)."""
    opened = _Study(settings, _storage_target(settings))
    context = _quiet_optuna()
    try:
        opened.open()
    finally:
        context.__exit__(None, None, None)
    opened.close()
    return opened.study


# --- Signals ---------------------------------------------------------------------------------


class _Signals:
    """SIGINT and SIGTERM set a flag that training polls; a second one leaves at once."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.event = threading.Event()
        self.previous: dict[int, Any] = {}

    def __call__(self) -> bool:
        return self.signum is not None

    def handler(self, signum, frame) -> None:
        if self.signum is not None:
            os.write(2, b"poleax sweep: stopped at once (second signal)\n")
            os._exit(128 + signum)
        self.signum = signum
        self.event.set()

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self.previous[s] = signal.signal(s, self.handler)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)


class _Stopped(Exception):
    """Training stopped by a signal (internal)."""


# --- Training --------------------------------------------------------------------------------


def _trial_seed(settings: SweepSettings, number: int, rows: int) -> int:
    """The first training seed of a group led by trial ``number``; its rows count up from it."""
    return (settings.seed + 1000 * number) % (2**31 - rows + 1)


def _sampler_for(settings: SweepSettings, number: int):
    """Trial ``number``'s own TPE sampler, seeded by (sampler seed, number)."""
    import optuna

    seed = int(np.random.SeedSequence([settings.sampler_seed, number]).generate_state(1)[0])
    return optuna.samplers.TPESampler(seed=seed)


def propose(study, trial, settings: SweepSettings) -> dict[str, Any]:
    """The trial's settings; with ``sampler_seed``, drawn from (sampler seed, trial number)."""
    if settings.sampler_seed is not None:
        study.sampler = _sampler_for(settings, trial.number)
    continuous = not env_spec(settings.env).discrete
    return suggest(trial, settings.algo, settings.search_shapes, continuous)


def train_group(
    settings: SweepSettings,
    trials: list,
    values: list[dict],
    shape: dict,
    opened: _Study | None = None,
    should_stop=None,
) -> None:
    """Train trials that share array shapes, all their seeds as rows of one run; tell Optuna.

    Raises ``_Stopped`` when ``should_stop()`` interrupted training; the trials not yet told
    are left to the caller.
    """
    import jax.numpy as jnp
    import optuna

    from poleax.algos import make_algorithm
    from poleax.algos.onpolicy import HPARAMS, HParams
    from poleax.trainer import init_state, train

    rows = len(trials) * settings.seeds
    config = build_config(
        settings.algo,
        settings.env,
        seed=_trial_seed(settings, trials[0].number, rows),
        seeds=rows,
        total_steps=settings.total_steps,
        **shape,
    )
    algo = make_algorithm(config)
    state = init_state(algo)
    per_row = [v for v in values for _ in range(settings.seeds)]
    table = {
        name: jnp.array([v.get(name, getattr(config, name)) for v in per_row], jnp.float32)
        for name in HPARAMS
    }
    state = state._replace(extra=state.extra._replace(hparams=HParams(**table)))
    if "log_std" in state.params:  # each row starts from its trial's log-std
        log_std = np.array([v.get("log_std_init", config.log_std_init) for v in per_row])
        state.params["log_std"]["value"][:] = log_std.astype(np.float32)[:, None]
    threshold = env_spec(settings.env).solve.threshold  # the pruning signal's zero
    budget = settings.total_steps
    pruned = np.zeros(len(trials), bool)
    told = np.zeros(len(trials), bool)
    greedy = np.zeros(rows)  # each row's latest greedy evaluation

    def tell(i: int, steps: np.ndarray) -> None:
        """A trial is told as soon as its seeds are done, so it counts for pruning the rest."""
        told[i] = True
        state = optuna.trial.TrialState.PRUNED if pruned[i] else None
        value = None if pruned[i] else float(np.minimum(steps, budget).mean())
        if opened is not None:
            opened.finish(trials[i], value, state)
        elif state is not None:
            trials[i].study.tell(trials[i], state=state, skip_if_finished=True)
        else:
            trials[i].study.tell(trials[i], value, skip_if_finished=True)

    def on_chunk(report) -> None:
        greedy[report.active] = report.greedy[report.active]
        trial_greedy = greedy.reshape(len(trials), settings.seeds).mean(axis=1)
        done = (report.solved | (report.env_steps >= budget)).reshape(len(trials), -1)
        env_steps = report.env_steps.reshape(len(trials), -1)
        for i, trial in enumerate(trials):
            if told[i]:
                continue
            if done[i].all():  # a solved seed stopped at its solve, an unsolved one at the budget
                tell(i, env_steps[i])
                continue
            try:
                trial.report(float(threshold - trial_greedy[i]), step=int(env_steps[i].max()))
                prune = trial.should_prune()
            except optuna.exceptions.UpdateFinishedTrialError:
                # Another worker failed it (no heartbeat for the grace period): not ours now.
                told[i] = pruned[i] = True
                if opened is not None:
                    opened.let_go(trial)
                continue
            if prune:
                pruned[i] = True
                tell(i, env_steps[i])

    def pruned_rows() -> list[int]:
        return [r for r in range(rows) if pruned[r // settings.seeds]]

    result = train(
        config, on_chunk=on_chunk, state=state, drop_rows=pruned_rows, should_stop=should_stop
    )
    if result.interrupted:
        raise _Stopped
    steps = np.array(
        [s if s is not None else budget for s in result.steps_to_solve], float
    ).reshape(len(trials), settings.seeds)
    for i in np.flatnonzero(~told):
        tell(int(i), steps[i])


def _prepare_out(out: Path) -> list[Path]:
    """Make the out folder; return the folders made (innermost last)."""
    made = []
    folder = Path(out)
    while not folder.exists():
        made.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    try:
        Path(out).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot write to --out {out}: {error.strerror or error}") from None
    return made[::-1]


def _remove_made(made: list[Path], target: _Target) -> None:
    """Undo ``_prepare_out`` after the storage in it could not be opened."""
    if target.path is not None:
        with contextlib.suppress(OSError):
            Path(str(target.path) + LOCK_SUFFIX).unlink()
    for folder in reversed(made):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only if empty


def run_sweep(settings: SweepSettings, progress: bool = True) -> dict[str, Any]:
    """Work on the study until it has ``trials`` finished trials; write the outputs.

    Raises ``ConfigError`` (nothing written) for bad settings or an unusable storage, and
    ``SweepInterrupted`` after SIGINT/SIGTERM (having printed one line on stderr).
    """
    with _Signals() as stop:
        validate_settings(settings)
        target = _storage_target(settings)
        if stop():  # a signal while checking: leave before writing anything
            _interrupted(stop.signum, f"interrupted by {signal.Signals(stop.signum).name}")
        quiet = _quiet_optuna()
        opened = _Study(settings, target)
        try:
            if settings.storage is None:  # the study lives in the out folder
                made = _prepare_out(settings.out)
                try:
                    opened.open()
                except ConfigError:
                    _remove_made(made, target)
                    raise
            else:
                opened.open()
                _prepare_out(settings.out)
            return _work(settings, opened, stop, progress)
        finally:
            opened.close()
            quiet.__exit__(None, None, None)


def _interrupted(signum: int, message: str):
    """Print the one line and raise ``SweepInterrupted``."""
    print(f"poleax sweep: {message}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    raise SweepInterrupted(signum, message)


def _leave_if_busy(signum: int, before: set, opened: _Study) -> None:
    """Exit the process now if training calls still run on worker threads.

    The trainer's threads go on with their queued calls (a compilation, a chunk) after an
    interrupt; Python's teardown would wait for them or abort inside XLA ("FATAL: exception
    not rethrown"). They get half a second to end; past that the process leaves at once, with
    the trials already marked and the line already printed.
    """
    busy = [
        t
        for t in threading.enumerate()
        if t.daemon and t.is_alive() and t not in before and t is not opened._thread
    ]
    deadline = time.monotonic() + 0.5
    for thread in busy:
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in busy):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(128 + signum)


def _work(settings: SweepSettings, opened: _Study, stop: _Signals, progress: bool):
    before = set(threading.enumerate())  # threads that are not training calls
    start = time.perf_counter()
    ran = 0
    bar = _progress(settings, progress)
    asked: list = []
    try:
        with bar:
            while not stop():
                asked = opened.claim(trials_per_batch(settings))
                if not asked:
                    if opened.counts()["finished"] >= settings.trials:
                        break
                    bar.advance(opened.counts()["finished"])
                    stop.event.wait(WAIT_S)  # other workers' trials run (or go stale)
                    continue
                values = [propose(opened.study, trial, settings) for trial in asked]
                base = _base(settings)
                groups: dict[tuple, list[int]] = defaultdict(list)
                for i, v in enumerate(values):
                    groups[tuple(v.get(k, getattr(base, k)) for k in SHAPE_KEYS)].append(i)
                for key, members in groups.items():
                    if stop():
                        raise _Stopped
                    shape = dict(zip(SHAPE_KEYS, key, strict=True))
                    train_group(
                        settings,
                        [asked[i] for i in members],
                        [values[i] for i in members],
                        shape,
                        opened,
                        stop,
                    )
                ran += len(asked)
                asked = []
                bar.advance(opened.counts()["finished"])
    except _Stopped:
        pass
    except BaseException:
        # Nothing of this batch may stay RUNNING: mark what was not told failed, then raise.
        opened.fail([t for t in asked if t._trial_id in opened.mine], "error")
        raise
    if stop():
        name = signal.Signals(stop.signum).name
        unfinished = [t for t in asked if t._trial_id in opened.mine]
        opened.fail(unfinished, name)
        parts = [f"interrupted by {name}"]
        if unfinished:
            numbers = ", ".join(str(t.number) for t in unfinished)
            parts.append(f"trial{'s' if len(unfinished) > 1 else ''} {numbers} marked failed")
        finished = opened.counts()["finished"]
        parts.append(
            f"the study has {finished} of {settings.trials} trials finished "
            "(run the same command to go on)"
        )
        message = "; ".join(parts)
        print(f"poleax sweep: {message}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        _leave_if_busy(stop.signum, before, opened)
        raise SweepInterrupted(stop.signum, message)
    summary = write_outputs(opened.study, settings)
    summary["trials_run_here"] = ran
    summary["seconds"] = time.perf_counter() - start
    _write_text(settings.out / "summary.json", json.dumps(summary, indent=2))
    return summary


def _base(settings: SweepSettings) -> TrainConfig:
    return build_config(settings.algo, settings.env)


def _write_text(path: Path, text: str) -> None:
    """Write atomically: workers sharing an out folder never see a half-written file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{socket.gethostname()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def write_outputs(study, settings: SweepSettings) -> dict[str, Any]:
    """``best_config.json`` (for ``poleax train --config``) and the study's plots."""
    import optuna

    states = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == states.COMPLETE]
    summary: dict[str, Any] = {
        "study": settings.study,
        "finished_trials": sum(t.state in (states.COMPLETE, states.PRUNED) for t in trials),
        "complete_trials": len(done),
        "failed_trials": sum(t.state == states.FAIL for t in trials),
    }
    if not done:
        return summary
    best = study.best_trial
    config = build_config(
        settings.algo, settings.env, total_steps=max(settings.total_steps, 100_000), **best.params
    )
    _write_text(settings.out / "best_config.json", json.dumps(config.to_dict(), indent=2))
    summary.update(best_value=best.value, best_params=best.params, best_trial=best.number)
    _plots(study, settings.out)
    return summary


def _plots(study, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    def save(figure, name: str) -> None:
        temporary = out / f".{name}.{os.getpid()}-{socket.gethostname()}.tmp"
        figure.tight_layout()
        figure.savefig(temporary, format="png")
        plt.close(figure)
        os.replace(temporary, out / name)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optuna marks its matplotlib plots experimental
        save(optuna_plots.plot_optimization_history(study).figure, "history.png")
        # Too few distinct trials to rank parameters raises one of these.
        with contextlib.suppress(RuntimeError, ValueError, ZeroDivisionError):
            save(optuna_plots.plot_param_importances(study).figure, "importances.png")


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def advance(self, finished: int) -> None:
        return None


def _progress(settings: SweepSettings, enabled: bool):
    if not enabled:
        return _NoBar()
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    class _Bar:
        def __enter__(self):
            self.progress = Progress(
                TextColumn(f"sweep {settings.study}"),
                BarColumn(),
                TextColumn("{task.completed:.0f}/{task.total:.0f} trials"),
                TimeElapsedColumn(),
            )
            self.progress.__enter__()
            self.task = self.progress.add_task("", total=settings.trials)
            return self

        def __exit__(self, *exc) -> None:
            self.progress.__exit__(*exc)

        def advance(self, finished: int) -> None:
            self.progress.update(self.task, completed=min(finished, settings.trials))

    return _Bar()


__all__ = ["SweepInterrupted", "SweepSettings", "run_sweep"]
