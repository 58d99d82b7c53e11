"""Sweep workers as real processes: started at the same instant, killed mid-trial, seeded.

Each worker is ``python -m poleax sweep ...`` behind a small launcher that imports everything
first and then waits on a FIFO: the test releases every worker at once by closing the FIFO's
writing end, so the workers reach the storage together (not one after another).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

pytestmark = pytest.mark.slow  # worker processes that train: minutes

if not hasattr(os, "mkfifo"):
    pytest.skip("needs POSIX FIFOs and signals", allow_module_level=True)

SMALL = ["--env", "CartPole-v0", "--seeds", "2", "--total-steps", "4096", "--no-progress"]
LONG = ["--env", "CartPole-v0", "--seeds", "2", "--total-steps", "2000000", "--no-progress"]
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)

LAUNCHER = """
import os, sys
gate, ready, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
import optuna
import poleax.sweep as sweep
import poleax.trainer
from poleax.cli import main
sweep.storage.HEARTBEAT_S = 1  # seconds: a killed worker's trial goes stale quickly
sweep.storage.GRACE_S = 3
sweep.worker.WAIT_S = 0.2
open(ready, "w").close()
with open(gate, "rb") as fifo:  # opens when the test opens the writing end,
    fifo.read()  # and reads end-of-file when it closes it: every worker at once
raise SystemExit(main(argv))
"""


class Workers:
    """Start worker processes together; each gets its own arguments."""

    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.launcher = tmp_path / "launch_worker.py"
        self.launcher.write_text(LAUNCHER)
        self.rounds = 0

    def start(self, *arg_lists: list[str]) -> list[subprocess.Popen]:
        self.rounds += 1
        gate = self.tmp / f"gate{self.rounds}"
        os.mkfifo(gate)
        ready = [self.tmp / f"ready{self.rounds}-{i}" for i in range(len(arg_lists))]
        procs = [
            subprocess.Popen(
                [sys.executable, str(self.launcher), str(gate), str(r), "sweep", *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for r, args in zip(ready, arg_lists, strict=True)
        ]
        deadline = time.monotonic() + 300
        while not all(r.exists() for r in ready):
            failed = [p for p in procs if p.poll() is not None]
            assert not failed, failed[0].communicate()
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.05)
        with open(gate, "wb"):
            time.sleep(0.5)  # every worker is blocked on the FIFO's other end ...
        return procs  # ... and all read its end-of-file now


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def trials_of(storage: str, study: str):
    return optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)


def by_state(trials) -> dict[str, list[int]]:
    states: dict[str, list[int]] = {}
    for t in trials:
        states.setdefault(t.state.name, []).append(t.number)
    return states


def assert_finished_exactly(trials, n: int) -> None:
    finished = [t for t in trials if t.state in FINISHED]
    assert len(finished) == n, by_state(trials)
    assert not [t for t in trials if t.state == optuna.trial.TrialState.RUNNING], by_state(trials)


@pytest.fixture
def fresh_postgres_database():
    """A new, empty database on the test server (dropped afterwards): its URL."""
    url = os.environ.get("POLEAX_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL server (CI starts one and sets POLEAX_TEST_POSTGRES_URL)")
    import uuid

    import sqlalchemy

    name = f"poleax_fresh_{uuid.uuid4().hex[:12]}"
    server = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    try:
        yield sqlalchemy.engine.make_url(url).set(database=name).render_as_string(False)
    finally:
        with server.connect() as connection:
            connection.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        server.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "default", "journal", "postgresql"])
def test_workers_started_together_share_a_fresh_study(tmp_path, kind, request):
    """Issue 13.1 and 13.3: workers released at one instant onto storage that does not exist
    yet all create-or-join it (none dies on the creation race) and claim exactly ``--trials``
    places between them: no extra trial, no FAIL trial."""
    if kind == "postgresql":
        storage = request.getfixturevalue("fresh_postgres_database")  # no tables yet
        extra = [["--storage", storage, "--out", str(tmp_path / f"w{i}")] for i in range(3)]
    elif kind == "sqlite":
        storage = f"sqlite:///{tmp_path / 'fresh.db'}"
        extra = [["--storage", storage, "--out", str(tmp_path / f"w{i}")] for i in range(4)]
    elif kind == "default":  # the same command twice: one sweep folder, its study.db
        storage = f"sqlite:///{tmp_path / 'shared' / 'study.db'}"
        extra = [["--out", str(tmp_path / "shared")] for _ in range(3)]
    else:
        storage = f"journal:{tmp_path / 'fresh.log'}"
        extra = [["--storage", storage, "--out", str(tmp_path / f"w{i}")] for i in range(3)]
    workers = Workers(tmp_path)
    args = [*SMALL, "--trials", "2", "--batch", "1", "--study", "fresh"]
    procs = workers.start(*[[*args, *e] for e in extra])
    for proc in procs:
        rc, out, err = finish(proc)
        assert rc == 0, err
        assert "study fresh: 2 trials finished" in out, out
    if kind == "journal":
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        storage = JournalStorage(JournalFileBackend(str(tmp_path / "fresh.log")))
    trials = trials_of(storage, "fresh")
    assert_finished_exactly(trials, 2)
    assert len(trials) == 2, by_state(trials)  # nothing claimed and handed back


def test_two_workers_with_one_sampler_seed_train_different_trials(tmp_path):
    """Issue 13.5: two workers given the same --sampler-seed propose different settings
    (trial n draws from (sampler seed, n)), and a rerun of the study proposes the same ones."""
    workers = Workers(tmp_path)
    storage = f"sqlite:///{tmp_path / 'seeded.db'}"
    optuna.create_study(study_name="seeded", storage=storage)  # only the sampler is tested
    args = [*SMALL, "--trials", "4", "--batch", "1", "--study", "seeded", "--storage", storage]
    args += ["--sampler-seed", "7"]
    procs = workers.start(*[[*args, "--out", str(tmp_path / f"w{i}")] for i in range(2)])
    for proc in procs:
        rc, _, err = finish(proc)
        assert rc == 0, err
    trials = trials_of(storage, "seeded")
    assert_finished_exactly(trials, 4)
    params = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(params)) == len(params), params  # no configuration trained twice

    from poleax.sweep import SweepSettings, propose

    settings = SweepSettings(algo="ppo", sampler_seed=7)
    again = optuna.create_study()  # same seed, same trial numbers: same proposals
    for t in sorted(trials, key=lambda t: t.number)[:2]:
        assert propose(again, again.ask(), settings) == t.params


def peek(db: Path, study: str) -> dict[str, set[int]]:
    """Trial numbers by state, read from the SQLite file without Optuna (which would create
    the tables itself and race the workers doing so)."""
    import sqlite3

    if not db.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            rows = connection.execute(
                "SELECT t.number, t.state FROM trials t JOIN studies s "
                "ON t.study_id = s.study_id WHERE s.study_name = ?",
                (study,),
            ).fetchall()
    except sqlite3.OperationalError:  # no tables yet, or busy
        return {}
    states: dict[str, set[int]] = {}
    for number, state in rows:
        states.setdefault(state, set()).add(number)
    return states


def wait_for(condition, what: str, procs, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        dead = [p for p in procs if p.poll() is not None]
        assert not dead, f"a worker ended before {what}: {dead[0].communicate()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_killed_workers_trials_are_failed_and_trained_again(tmp_path):
    """Issue 13.2: SIGINT (Ctrl-C) and SIGTERM of a worker mid-trial mark its trial FAIL,
    keep its finished trials, print one line (no traceback) and exit 130 / 143; a SIGKILLed
    worker's trial goes stale without heartbeats and is failed by the next worker, which
    then brings the study to exactly --trials finished trials."""
    workers = Workers(tmp_path)
    storage = f"sqlite:///{tmp_path / 'killed.db'}"
    common = ["--trials", "5", "--batch", "1", "--study", "killed", "--storage", storage]

    db = tmp_path / "killed.db"

    # Ctrl-C after a finished trial: a worker with short trials, stopped in its second one.
    (ctrl_c,) = workers.start([*SMALL, *common, "--out", str(tmp_path / "c")])

    def finished_and_running() -> bool:
        states = peek(db, "killed")
        return bool(states.get("COMPLETE", set()) | states.get("PRUNED", set())) and bool(
            states.get("RUNNING")
        )

    wait_for(finished_and_running, "a finished and a running trial", [ctrl_c])
    states = peek(db, "killed")
    finished_before = states.get("COMPLETE", set()) | states.get("PRUNED", set())
    ctrl_c.send_signal(signal.SIGINT)
    rc, _, err = finish(ctrl_c, timeout=60)
    after = peek(db, "killed")
    assert not after.get("RUNNING"), (after, err)  # its running trial was marked FAIL
    assert finished_before <= after.get("COMPLETE", set()) | after.get("PRUNED", set())
    assert rc == 130, err
    assert len(err.strip().splitlines()) == 1 and "interrupted by SIGINT" in err, err

    # SIGTERM and SIGKILL of two workers in long trials.
    seen = set().union(*after.values())
    term, kill = workers.start(
        *[[*LONG, *common, "--out", str(tmp_path / name)] for name in ("t", "k")]
    )
    wait_for(
        lambda: len(peek(db, "killed").get("RUNNING", set()) - seen) == 2,
        "two running trials",
        [term, kill],
    )
    running = peek(db, "killed")["RUNNING"] - seen
    time.sleep(1.0)  # both are training (or compiling) now
    term.send_signal(signal.SIGTERM)
    kill.send_signal(signal.SIGKILL)
    rc, _, err = finish(term, timeout=60)
    assert finish(kill, timeout=60)[0] == -signal.SIGKILL
    assert len(peek(db, "killed").get("RUNNING", set())) == 1  # the SIGKILLed worker's trial
    assert rc == 143, err
    assert len(err.strip().splitlines()) == 1 and "interrupted by SIGTERM" in err, err

    (last,) = workers.start([*SMALL, *common, "--out", str(tmp_path / "last")])
    rc, out, err = finish(last)
    assert rc == 0, err
    assert "study killed: 5 trials finished" in out, out
    trials = trials_of(storage, "killed")
    assert_finished_exactly(trials, 5)
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    assert running <= {t.number for t in failed}, by_state(trials)  # both killed trials
