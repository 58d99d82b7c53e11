"""Checkpoints: one atomic switch per save (a kill at any step leaves a loadable checkpoint, a
reader never sees half of one), the 0.1 layout still loads, and malformed content of any file
is one ``CheckpointError``, never a traceback."""

from __future__ import annotations

import inspect
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from run_checks import OLD_CARTPOLE

from poleax import checkpoint
from poleax.checkpoint import CheckpointError, load_history, load_policy_params, read_meta
from poleax.history import ChunkEvaluation, History
from poleax.networks import NetworkSpec, layer_shapes

SPEC = NetworkSpec(hidden=(8,))
SEEDS = 2


def params(generation: float) -> dict:
    return {
        layer: {
            "w": np.full((n_in, n_out), generation, np.float32),
            "b": np.full((n_out,), generation, np.float32),
        }
        for layer, (n_in, n_out, _) in layer_shapes(SPEC).items()
    }


def history(generation: int) -> History:
    """A history of ``generation`` chunks of 3 updates; seed 1 solved."""
    chunks = generation
    return History(
        seeds=SEEDS,
        chunks=chunks,
        seconds=float(generation),
        env_steps=np.full(SEEDS, 100 * generation, np.int64),
        metrics={
            "charts/SPS": [np.full((SEEDS, 3), generation, np.float32)] * chunks,
            "charts/episodes": [np.full((SEEDS, 3), generation, np.int32)] * chunks,
        },
        evaluations=[ChunkEvaluation([100, 100], [float("nan"), 20.0], [1.0, 2.0])] * chunks,
        steps_to_solve=[None, 100 * generation],
        seconds_to_solve=[None, 0.5],
        snapshots={1: params(generation)},
    )


def save(run: Path, generation: int, state=None) -> Path:
    meta = {"env": "CartPole-v1", "algo": "ppo", "seeds": SEEDS, "network": SPEC.to_dict()}
    meta["generation"] = generation
    policies = [params(generation), params(generation)]
    return checkpoint.save(run, meta, policies, state, history(generation))


def loaded_generation(run: Path) -> int:
    """The generation of the checkpoint a reader gets, each load checked whole: metadata
    and policy from one save, history.json and history.npz from one save."""
    policy, meta = load_policy_params(run, 1)
    generation = meta["generation"]
    assert float(policy["actor_out"]["w"][0, 0]) == generation
    check_history(run, generation)
    return generation


def check_history(run: Path, at_least: int) -> None:
    h = load_history(run, SEEDS)
    assert h.seconds == h.chunks >= at_least
    assert h.env_steps[0] == 100 * h.chunks
    assert float(h.snapshots[1]["actor_out"]["b"][0]) == h.chunks


@pytest.fixture
def run(tmp_path) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    return folder


def test_a_save_links_checkpoint_to_its_version_and_keeps_the_previous_one(run):
    for generation in (1, 2, 3):
        assert save(run, generation) == run / "checkpoint"
        assert loaded_generation(run) == generation
    link = run / "checkpoint"
    assert link.is_symlink() and not os.path.isabs(os.readlink(link))
    assert json.loads((link / "meta.json").read_text())["generation"] == 3  # where users look
    assert sorted(p.name for p in (run / ".checkpoints").iterdir()) == ["v000002", "v000003"]
    assert sorted(os.listdir(run)) == [".checkpoints", "checkpoint"]
    assert read_meta(run)["format_version"] == checkpoint.FORMAT_VERSION
    assert checkpoint.has_checkpoint(run)


def test_a_copy_that_follows_links_is_a_0_1_folder_and_loads(run, tmp_path):
    save(run, 1)
    save(run, 2)
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)  # follows the link: checkpoint/ is a folder in the copy
    assert (copy / "checkpoint").is_dir() and not (copy / "checkpoint").is_symlink()
    assert loaded_generation(copy) == 2
    save(copy, 3)
    assert (copy / "checkpoint").is_symlink() and loaded_generation(copy) == 3


def make_0_1_run(run: Path, generation: int) -> None:
    """A run folder as poleax 0.1 wrote it: the files directly in ``checkpoint/``."""
    save(run, generation)
    target = Path(os.path.realpath(run / "checkpoint"))
    os.unlink(run / "checkpoint")
    shutil.move(target, run / "checkpoint")
    shutil.rmtree(run / ".checkpoints")


def test_a_0_1_checkpoint_loads_and_the_next_save_moves_it_aside(run):
    make_0_1_run(run, 1)
    assert os.listdir(run) == ["checkpoint"]
    assert loaded_generation(run) == 1
    save(run, 2)
    assert (run / "checkpoint").is_symlink() and loaded_generation(run) == 2
    versions = sorted((run / ".checkpoints").iterdir())
    assert [p.name for p in versions] == ["v000001", "v000002"]
    assert json.loads((versions[0] / "meta.json").read_text())["generation"] == 1


def test_what_0_1_left_when_killed_between_its_renames_loads(run, tmp_path):
    """0.1 renamed checkpoint -> .checkpoint-old, then its new folder -> checkpoint: killed
    between the two, it left no checkpoint/ (and `--resume` refused)."""
    make_0_1_run(run, 1)
    (run / "checkpoint").rename(run / ".checkpoint-old")
    newer = tmp_path / "newer"
    newer.mkdir()
    make_0_1_run(newer, 2)
    (newer / "checkpoint").rename(run / ".checkpoint-k2j4xq")
    assert loaded_generation(run) == 2  # the newer complete one
    save(run, 3)
    assert loaded_generation(run) == 3
    assert sorted(os.listdir(run)) == [".checkpoints", "checkpoint"]


def test_without_symbolic_links_the_version_is_renamed_into_place(run, monkeypatch):
    """Where links cannot be made (Windows without the privilege), ``checkpoint`` is the
    folder itself: two renames per save, and a reader in between takes the newest version."""

    def refuse(*args, **kwargs):
        raise OSError("symbolic links are not allowed here")

    monkeypatch.setattr(os, "symlink", refuse)
    for generation in (1, 2, 3):
        save(run, generation)
        assert (run / "checkpoint").is_dir() and not (run / "checkpoint").is_symlink()
        assert loaded_generation(run) == generation
    (run / "checkpoint").rename(run / ".checkpoints" / "v000099")  # as if killed between
    assert loaded_generation(run) == 3


def test_no_checkpoint_is_the_old_one_line_error(run):
    with pytest.raises(CheckpointError, match=r"not a poleax run \(no checkpoint/meta.json\)"):
        read_meta(run)
    with pytest.raises(CheckpointError, match="run folder not found"):
        read_meta(run / "absent")
    assert not checkpoint.has_checkpoint(run)


# --- a kill at every step of a save ---------------------------------------------------------

#: What a save does to the file system, at the level of os: every call is a step a kill may
#: fall before. (Writing a file's bytes is covered too: each file is fsynced once written.)
STEPS = ("mkdir", "rename", "replace", "symlink", "unlink", "rmdir", "fsync", "remove")


class Killed(BaseException):
    """Raised where the process would have been killed; every later step fails too, so
    nothing (clean-up included) runs after it, as after SIGKILL."""


def save_killed_at(monkeypatch, run: Path, generation: int, k: int) -> bool:
    """``save`` with the process 'killed' before its ``k``-th step; whether it was."""
    calls = [0]
    real = {name: getattr(os, name) for name in STEPS}

    def step(name):
        def call(*args, **kwargs):
            calls[0] += 1
            if calls[0] >= k:
                raise Killed
            return real[name](*args, **kwargs)

        return call

    with monkeypatch.context() as patch:
        for name in STEPS:
            patch.setattr(os, name, step(name))
        try:
            save(run, generation)
        except Killed:
            return True
    return False


@pytest.mark.parametrize("before", ["fresh", "linked", "0.1 folder"])
def test_a_kill_at_any_step_of_a_save_leaves_the_old_or_the_new_checkpoint(
    before, tmp_path, monkeypatch
):
    seen, layouts = [], []
    for k in range(1, 200):
        run = tmp_path / f"k{k}"
        run.mkdir()
        if before == "linked":
            save(run, 1)
            save(run, 2)
        elif before == "0.1 folder":
            make_0_1_run(run, 2)
        killed = save_killed_at(monkeypatch, run, 3, k)
        try:
            seen.append(loaded_generation(run))
        except CheckpointError as error:
            nothing = ("not a poleax run", "has not saved a checkpoint yet")
            if before != "fresh" or not any(n in str(error) for n in nothing):
                raise AssertionError(f"killed before step {k}: {error}") from None
            seen.append(None)  # nothing to keep yet
        assert seen[-1] in (None if before == "fresh" else 2, 3), (k, seen[-1])
        save(run, 4)  # and the run goes on
        assert loaded_generation(run) == 4
        kept = 1 if seen[-1] is None else 2  # the current one and the one before it
        layouts.append(
            (run / "checkpoint").is_symlink()
            and len(list((run / ".checkpoints").glob("v*"))) == kept
        )
        if not killed:
            break
    else:
        pytest.fail("save never finished")
    assert seen[-1] == 3 and seen[0] != 3  # the kills covered the switch
    assert seen == sorted(seen, key=lambda g: g or 0)  # never back to the old one
    assert all(layouts)  # a link to the newest, the one before it kept, no more


def script(main: str) -> str:
    """A stand-alone script: this module's helpers (without pytest), then ``main``."""
    helpers = "\n\n".join(inspect.getsource(f) for f in (params, history, save))
    head = (
        "import sys, time\nfrom pathlib import Path\nimport numpy as np\n"
        "from poleax import checkpoint\nfrom poleax.networks import NetworkSpec, layer_shapes\n"
        "from poleax.history import ChunkEvaluation, History\n"
        f"SPEC = NetworkSpec(hidden={SPEC.hidden!r})\nSEEDS = {SEEDS}\n"
    )
    return head + helpers + "\n" + textwrap.dedent(main)


SAVE_SCRIPT = script("save(Path(sys.argv[1]), int(sys.argv[2]))")

#: System calls that change the file system (besides write itself).
SYSCALLS = (
    "mkdir,mkdirat,rename,renameat,renameat2,symlink,symlinkat,unlink,unlinkat,rmdir,"
    "fsync,fdatasync"
)


def strace_works() -> bool:
    if shutil.which("strace") is None:
        return False
    probe = subprocess.run(
        ["strace", "-f", "-o", os.devnull, "-e", "trace=rename", sys.executable, "-c", "0"],
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("before", ["linked", "0.1 folder"])
def test_sigkill_at_every_system_call_of_a_save(before, tmp_path):
    """A real process, killed by SIGKILL (strace's fault injection) at each system call of a
    save that changes the run folder, in turn: the old or the new checkpoint loads after
    every one, and the next save (another process) leaves nothing behind."""
    if not strace_works():
        pytest.skip("needs strace, allowed to trace")
    saver = tmp_path / "save.py"
    saver.write_text(SAVE_SCRIPT)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}

    def prepared(name: str) -> Path:
        run = tmp_path / name
        run.mkdir()
        if before == "linked":
            save(run, 1)
            save(run, 2)
        else:
            make_0_1_run(run, 2)
        return run

    # Which calls a save makes, in order: (system call, its count so far in the process).
    dry = prepared("dry")
    log = tmp_path / "strace.log"
    cmd = [sys.executable, str(saver)]
    subprocess.run(
        ["strace", "-y", "-o", str(log), "-e", f"trace={SYSCALLS}", *cmd, str(dry), "3"],
        check=True,
        env=env,
    )
    counts: dict[str, int] = {}
    steps = []
    for line in log.read_text().splitlines():
        name = line.split("(", 1)[0]
        if name not in SYSCALLS.split(","):
            continue
        counts[name] = counts.get(name, 0) + 1
        if str(dry) in line:
            steps.append((name, counts[name]))
    assert len(steps) >= 8, steps
    generations, leftovers = [], []
    for i, (name, nth) in enumerate(steps):
        run = prepared(f"kill{i}")
        inject = f"inject={name}:signal=KILL:when={nth}"
        killed = subprocess.run(
            ["strace", "-o", os.devnull, "-e", f"trace={name}", "-e", inject, *cmd, str(run), "3"],
            env=env,
            capture_output=True,
        )
        assert killed.returncode in (-9, 137), (name, nth, killed.stderr[-500:])
        try:
            generations.append(loaded_generation(run))
        except CheckpointError as error:
            raise AssertionError(f"killed at {name} #{nth}: {error}") from None
        assert generations[-1] in (2, 3), (name, nth)
        save(run, 4)  # another process goes on from there
        assert loaded_generation(run) == 4
        versions = run / ".checkpoints"
        kept = sorted(os.listdir(versions)) if versions.is_dir() else []
        leftovers.append(sorted(os.listdir(run)) + kept)
    assert generations[0] == 2 and 3 in generations
    assert generations == sorted(generations)
    # nothing left behind (temporary folders and links of the killed processes are removed)
    assert all(
        names[:2] == [".checkpoints", "checkpoint"] and len(names) == 4 for names in leftovers
    )


# --- readers while a writer saves -----------------------------------------------------------

WRITER_SCRIPT = script(
    """
    run, stop = Path(sys.argv[1]), Path(sys.argv[2])
    end, generation = time.monotonic() + 30, 2
    while not stop.exists() and time.monotonic() < end:
        save(run, generation)
        generation += 1
    print(generation - 2)
    """
)


@pytest.mark.slow
def test_readers_never_fail_nor_mix_two_saves_while_a_process_saves(run, tmp_path):
    """``poleax.load`` of a live run (0.1: one load in ~8,000 failed): two reader threads
    load while another process saves as fast as it can; every load must succeed and come
    from one save, never going back to an older one. (Each round reads the metadata, every
    second one the policy too, every eighth the history.)"""
    save(run, 1)
    writer_script, stop = tmp_path / "writer.py", tmp_path / "stop"
    writer_script.write_text(WRITER_SCRIPT)
    writer = subprocess.Popen(
        [sys.executable, str(writer_script), str(run), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )
    counts = {"meta": 0, "policy": 0, "history": 0}
    failures: list[str] = []
    lock = threading.Lock()
    target, deadline = 4000, time.monotonic() + 10.0

    def reader() -> None:
        newest, n = 1, 0
        while sum(counts.values()) < target and time.monotonic() < deadline:
            n += 1
            try:
                generation = read_meta(run)["generation"]
                assert generation >= newest  # never an older checkpoint than before
                newest, done = generation, ["meta"]
                if n % 2 == 0:
                    policy, meta = load_policy_params(run, 1)  # what poleax.load reads
                    assert float(policy["actor_out"]["w"][0, 0]) == meta["generation"] >= newest
                    newest = meta["generation"]
                    done.append("policy")
                if n % 8 == 0:
                    check_history(run, newest)
                    done.append("history")
            except (CheckpointError, AssertionError) as error:
                with lock:
                    failures.append(repr(error))
                continue
            with lock:
                for kind in done:
                    counts[kind] += 1

    time.sleep(0.5)  # the writer is saving by now
    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.touch()
    saves = int(writer.communicate(timeout=60)[0])
    assert writer.returncode == 0
    assert not failures, (len(failures), counts, failures[:3])
    assert sum(counts.values()) >= 1000 and counts["policy"] >= 200 and saves >= 10, (
        counts,
        saves,
    )
    assert loaded_generation(run) == saves + 1


# --- malformed content: one CheckpointError each --------------------------------------------


def rewrite_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    path.write_text(json.dumps(change(data)))


def rewrite_npz(path: Path, change) -> None:
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    np.savez(path, **change(arrays))


def set_key(key, value):
    def change(data):
        return {**data, key: value}

    return change


def drop_key(key):
    return lambda data: {k: v for k, v in data.items() if k != key}


HISTORY_DAMAGE = {
    "json {}": ("history.json", lambda p: p.write_text("{}")),
    "json []": ("history.json", lambda p: p.write_text("[]")),
    "json null": ("history.json", lambda p: p.write_text("null")),
    "json garbage": ("history.json", lambda p: p.write_text("{oops")),
    "json not utf-8": ("history.json", lambda p: p.write_bytes(b"\xff\xfe{")),
    "json missing": ("history.json", lambda p: p.unlink()),
    "chunks 'x'": ("history.json", lambda p: rewrite_json(p, set_key("chunks", "x"))),
    "chunks -1": ("history.json", lambda p: rewrite_json(p, set_key("chunks", -1))),
    "chunks true": ("history.json", lambda p: rewrite_json(p, set_key("chunks", True))),
    "chunks 1.5": ("history.json", lambda p: rewrite_json(p, set_key("chunks", 1.5))),
    "chunks one too many": ("history.json", lambda p: rewrite_json(p, set_key("chunks", 3))),
    "no seconds": ("history.json", lambda p: rewrite_json(p, drop_key("seconds"))),
    "seconds 'x'": ("history.json", lambda p: rewrite_json(p, set_key("seconds", "x"))),
    "seconds NaN": ("history.json", lambda p: rewrite_json(p, set_key("seconds", float("nan")))),
    "steps_to_solve short": (
        "history.json",
        lambda p: rewrite_json(p, set_key("steps_to_solve", [None])),
    ),
    "steps_to_solve 'x'": (
        "history.json",
        lambda p: rewrite_json(p, set_key("steps_to_solve", ["x", None])),
    ),
    "seconds_to_solve a dict": (
        "history.json",
        lambda p: rewrite_json(p, set_key("seconds_to_solve", {"a": 1})),
    ),
    "evaluations 'x'": ("history.json", lambda p: rewrite_json(p, set_key("evaluations", "x"))),
    "an evaluation short": (
        "history.json",
        lambda p: rewrite_json(
            p,
            set_key("evaluations", [{"env_steps": [1], "greedy": [1.0], "sampled": [1.0]}]),
        ),
    ),
    "evaluations more than chunks": (
        "history.json",
        lambda p: rewrite_json(p, set_key("evaluations", 3)),
    ),
    "evaluations fewer than the arrays'": (
        "history.json",
        lambda p: rewrite_json(p, set_key("evaluations", 1)),
    ),
    "evaluations/greedy ints": (
        "history.npz",
        lambda p: rewrite_npz(p, set_key("evaluations/greedy", np.zeros((2, SEEDS), np.int64))),
    ),
    "evaluations/episodes -2": (
        "history.npz",
        lambda p: rewrite_npz(p, set_key("evaluations/episodes", np.full((2, SEEDS), -2))),
    ),
    "no evaluations/sampled": (
        "history.npz",
        lambda p: rewrite_npz(p, drop_key("evaluations/sampled")),
    ),
    "chunk_lengths 'x'": (
        "history.json",
        lambda p: rewrite_json(p, set_key("chunk_lengths", "x")),
    ),
    "chunk_lengths not the arrays'": (
        "history.json",
        lambda p: rewrite_json(p, set_key("chunk_lengths", [3, 4])),
    ),
    "chunk_lengths zero": (
        "history.json",
        lambda p: rewrite_json(p, set_key("chunk_lengths", [6, 0])),
    ),
    "npz empty file": ("history.npz", lambda p: p.write_bytes(b"")),
    "npz truncated": ("history.npz", lambda p: p.write_bytes(p.read_bytes()[:200])),
    "npz missing": ("history.npz", lambda p: p.unlink()),
    "npz no arrays": ("history.npz", lambda p: rewrite_npz(p, lambda a: {})),
    "npz no env_steps": ("history.npz", lambda p: rewrite_npz(p, drop_key("env_steps"))),
    "env_steps floats": (
        "history.npz",
        lambda p: rewrite_npz(p, set_key("env_steps", np.zeros(SEEDS, np.float32))),
    ),
    "env_steps 3 seeds": (
        "history.npz",
        lambda p: rewrite_npz(p, set_key("env_steps", np.zeros(3, np.int64))),
    ),
    "metrics short": (
        "history.npz",
        lambda p: rewrite_npz(p, set_key("metrics/charts/SPS", np.zeros((SEEDS, 5)))),
    ),
    "metric_lengths beyond the updates": (
        "history.npz",
        lambda p: rewrite_npz(p, set_key("metric_lengths", np.full(SEEDS, 7))),
    ),
    "metric_lengths floats": (
        "history.npz",
        lambda p: rewrite_npz(p, set_key("metric_lengths", np.full(SEEDS, 6.0))),
    ),
    "metrics strings": (
        "history.npz",
        lambda p: rewrite_npz(p, set_key("metrics/charts/SPS", np.full(SEEDS * 6, "a"))),
    ),
    "snapshot of seed 7": (
        "history.npz",
        lambda p: rewrite_npz(p, set_key("snapshot/rows", np.array([7]))),
    ),
    "snapshot outside the pool": (
        "history.npz",
        lambda p: rewrite_npz(p, set_key("snapshot/pool", np.array([SEEDS]))),
    ),
    "snapshot twice": (
        "history.npz",
        lambda p: rewrite_npz(
            p, lambda a: {**a, "snapshot/rows": np.array([1, 1]), "snapshot/pool": np.ones(2)}
        ),
    ),
    "snapshot rows floats": (
        "history.npz",
        lambda p: rewrite_npz(p, set_key("snapshot/rows", np.array([1.0]))),
    ),
    "no snapshot rows": ("history.npz", lambda p: rewrite_npz(p, drop_key("snapshot/rows"))),
    "snapshot as format 1 saved it": (
        "history.npz",
        lambda p: rewrite_npz(p, set_key("snapshot1/actor_out/w", np.zeros((8, 2)))),
    ),
    "unknown array": ("history.npz", lambda p: rewrite_npz(p, set_key("what", np.zeros(1)))),
}


@pytest.mark.parametrize("damage", list(HISTORY_DAMAGE))
def test_a_malformed_history_is_one_checkpoint_error(run, damage):
    save(run, 2)
    name, change = HISTORY_DAMAGE[damage]
    change(run / "checkpoint" / name)
    with pytest.raises(CheckpointError) as error:
        load_history(run, SEEDS)
    message = str(error.value)
    assert "\n" not in message and "checkpoint" in message and "history" in message, message


def test_a_history_of_the_wrong_seed_count_is_refused(run):
    save(run, 2)
    with pytest.raises(CheckpointError, match="not a list of 3"):
        load_history(run, 3)


def test_a_history_loads_back_as_saved(run):
    save(run, 2)
    h = load_history(run, SEEDS)
    saved = history(2)
    assert h.chunks == 2 and h.seconds == 2.0
    assert h.steps_to_solve == saved.steps_to_solve
    assert h.seconds_to_solve == saved.seconds_to_solve
    np.testing.assert_array_equal(h.env_steps, saved.env_steps)
    assert h.env_steps.dtype == np.int64
    for name, chunks in saved.metrics.items():
        assert len(h.metrics[name]) == 2
        for a, b in zip(h.metrics[name], chunks, strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(h.snapshots[1]["actor_out"]["w"], params(2)["actor_out"]["w"])
    assert np.isnan(h.evaluations[0].greedy[0])


def test_an_empty_history_loads(run):
    """A run saved before its first chunk: no metrics, no chunk lengths."""
    meta = {"env": "CartPole-v1", "algo": "ppo", "seeds": SEEDS, "network": SPEC.to_dict()}
    empty = History(SEEDS)
    checkpoint.save(run, meta, [params(0)] * SEEDS, None, empty)
    assert load_history(run, SEEDS).chunks == 0


META_DAMAGE = {
    "a list": (lambda p: p.write_text("[]"), "corrupt checkpoint metadata"),
    "format 'x'": (lambda p: rewrite_json(p, set_key("format_version", "x")), "corrupt"),
    "no format": (lambda p: rewrite_json(p, drop_key("format_version")), "corrupt"),
    "seeds 'x'": (lambda p: rewrite_json(p, set_key("seeds", "x")), "valid seeds"),
    "seeds 0": (lambda p: rewrite_json(p, set_key("seeds", 0)), "valid seeds"),
    "network 'x'": (lambda p: rewrite_json(p, set_key("network", "x")), "valid network"),
    "network unknown field": (
        lambda p: rewrite_json(p, set_key("network", {**SPEC.to_dict(), "depth": 3})),
        "valid network",
    ),
    "network hidden ['a']": (
        lambda p: rewrite_json(p, set_key("network", {**SPEC.to_dict(), "hidden": ["a"]})),
        "valid network",
    ),
    "no env": (lambda p: rewrite_json(p, drop_key("env")), "valid env"),
    "algo 3": (lambda p: rewrite_json(p, set_key("algo", 3)), "valid algo"),
}


@pytest.mark.parametrize("damage", list(META_DAMAGE))
def test_malformed_metadata_is_one_checkpoint_error(run, damage):
    save(run, 2)
    change, needle = META_DAMAGE[damage]
    change(run / "checkpoint" / "meta.json")
    with pytest.raises(CheckpointError, match=needle) as error:
        load_policy_params(run)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "damage",
    [
        "strings",
        "ints",
        "not a zip",
        "pickled objects",
        "one seed short",
        "delivered outside the pool",
        "no delivered",
        "non-finite",
    ],
)
def test_a_malformed_policy_is_one_checkpoint_error(run, damage):
    save(run, 2)
    path = run / "checkpoint" / "policy.npz"
    if damage == "strings":
        rewrite_npz(path, set_key("params/actor_out/w", np.full((SEEDS, 8, 2), "x")))
    elif damage == "ints":
        rewrite_npz(path, set_key("params/actor_out/b", np.zeros((SEEDS, 2), np.int32)))
    elif damage == "not a zip":
        path.write_text("hello")
    elif damage == "one seed short":
        rewrite_npz(path, set_key("params/actor_out/b", np.zeros((1, 2), np.float32)))
    elif damage == "delivered outside the pool":
        rewrite_npz(path, set_key("delivered", np.array([0, SEEDS])))
    elif damage == "no delivered":
        rewrite_npz(path, drop_key("delivered"))
    elif damage == "non-finite":
        rewrite_npz(path, set_key("params/actor_out/b", np.full((SEEDS, 2), np.nan, np.float32)))
    else:
        objects = np.array([{"a": 1}] * 16 * SEEDS).reshape(SEEDS, 8, 2)
        rewrite_npz(path, set_key("params/actor_out/w", objects))
    with pytest.raises(CheckpointError, match="checkpoint"):
        load_policy_params(run)


def test_state_loads_back_and_a_misfit_is_one_checkpoint_error(run):
    state = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.array([1, 2], np.int32)}
    save(run, 2, state=state)
    loaded = checkpoint.load_state(run, state)
    np.testing.assert_array_equal(loaded["a"], state["a"])
    meta, resumed, h = checkpoint.load_resume(run, state, SEEDS)
    assert meta["generation"] == 2 and h.chunks == 2
    np.testing.assert_array_equal(resumed["n"], state["n"])
    with pytest.raises(CheckpointError, match="does not fit"):
        checkpoint.load_state(run, {**state, "n": np.zeros(3, np.int32)})
    with pytest.raises(CheckpointError, match="does not fit"):
        checkpoint.load_state(run, {"a": state["a"]})
    (run / "checkpoint" / "state.npz").write_bytes(b"")
    with pytest.raises(CheckpointError, match="corrupt checkpoint file"):
        checkpoint.load_state(run, state)


# --- end to end: `poleax train --resume` on a damaged history --------------------------------


@pytest.fixture(scope="module")
def small_run(train_once) -> Path:
    args = ["--env", "CartPole-v0", "--total-steps", "2048", "--no-stop-when-solved"]
    return train_once(*args, *OLD_CARTPOLE, "--no-gifs")  # the fingerprint case's run


@pytest.mark.parametrize("damage", ["json {}", "json []", "chunks 'x'", "npz empty file"])
def test_resume_with_a_damaged_history_is_a_one_line_error(small_run, tmp_path, capsys, damage):
    from poleax.cli import main

    copy = tmp_path / "copy"
    shutil.copytree(small_run, copy)
    name, change = HISTORY_DAMAGE[damage]
    change(copy / "checkpoint" / name)
    assert main(["train", "--resume", str(copy), "--no-progress", "--no-gifs"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "history" in err[0] and "Traceback" not in err[0], err
