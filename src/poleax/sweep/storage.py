"""Where a study lives (a file, a journal or a database), how workers share it safely, and
the heartbeats that recover the trials of a killed worker."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import random
import threading
import time
import warnings
from pathlib import Path

from poleax.config import ConfigError
from poleax.sweep.settings import (
    _CREATION_RACES,
    BEAT_ATTR,
    GRACE_S,
    HEARTBEAT_S,
    LOCK_SUFFIX,
    OBJECTIVE_ATTR,
    SweepSettings,
    _storage_target,
    _Target,
)


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
                    self._check_objective()
                break
            except ConfigError:
                raise
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

    def _check_objective(self) -> None:
        """Name the study's objective on a new study; refuse another one on an old study (a
        study made before ``--objective`` scored env steps)."""
        objective = self.settings.objective
        found = self.study.user_attrs.get(OBJECTIVE_ATTR)
        if found is None and not self.study.get_trials(deepcopy=False):
            self.study.set_user_attr(OBJECTIVE_ATTR, objective)
            return
        found = found or "steps"
        if found != objective:
            raise ConfigError(
                f"study {self.settings.study!r} scores its trials by --objective {found}; "
                f"got --objective {objective} (use another --study)"
            )

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
