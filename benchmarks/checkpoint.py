"""Checkpoint size and save/load time at many seeds: format 1 (poleax <= 0.3.0) beside format 2.

    python benchmarks/checkpoint.py [--seeds 1024] [--updates 300] [--solved 0.25]
                                    [--repeats 5] [--out bench-checkpoint]

The state is a real one: ``trainer.init_state`` of ``build_config("ppo", "CartPole-v1",
seeds=N)`` on the host, its parameters and Adam moments filled with random numbers (a trained
state's are not zeros). The history is what ``trainer.train`` records: ``--updates`` updates
of PPO's metrics (4 a chunk, so an evaluation a chunk), a fraction ``--solved`` of the seeds
solved early on (their metrics blank from then on, a snapshot each, a tenth of them trained
on since), SPS as float64 as the trainer computes it.

Saves are timed, each the median of ``--repeats``. Format 1 (a copy of poleax 0.3.0's
writer, ``save_format_1``: the same files, each fsynced, the folder renamed into place) as a
run called it: *mid-run* (a periodic checkpoint or a signal's: the per-seed split of the
state's parameters it did first, then the save) and *final* (the delivered policies, a solved
seed's snapshot). Format 2 (``checkpoint.save``): *run* (what a run saves, mid-run and final
alike: ``policies=None``, each seed delivering its snapshot or its state's parameters) and
*explicit* (the delivered policies passed as a list, stacked and compared with the state's).
Loads: ``load_policy`` of one seed, and ``load_resume`` (state and history) for ``--resume``.

``--signal-after S`` measures a real run instead: ``poleax train --env CartPole-v1 --seeds N
--no-gifs`` in its own process, SIGTERM ``S`` seconds after launch; it reports the seconds
from the signal to the exit, the exit status and the checkpoint written (its size, its
chunks). ``--src PATH`` runs another poleax source tree (e.g. an export of an older commit:
``git archive 67f7b6a src | tar -x -C /tmp/old``, then ``--src /tmp/old/src``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from poleax import checkpoint
from poleax.history import ChunkEvaluation, History

PPO_METRICS = {  # name: dtype, as the trainer records them
    "losses/policy_loss": np.float32,
    "losses/value_loss": np.float32,
    "losses/entropy": np.float32,
    "losses/approx_kl": np.float32,
    "losses/clipfrac": np.float32,
    "losses/explained_variance": np.float32,
    "charts/episodic_return": np.float32,
    "charts/env_steps": np.int32,
    "charts/episodes": np.int32,
    "charts/SPS": np.float64,
}
UPDATES_PER_CHUNK = 4


def build(seeds: int, updates: int, solved: float, rng: np.random.Generator):
    """``(algo, state, history)``: a realistic host-side state and history of ``seeds``."""
    import jax

    from poleax import trainer
    from poleax.algos import make_algorithm
    from poleax.config import build_config

    algo = make_algorithm(build_config("ppo", "CartPole-v1", seeds=seeds))
    state = jax.tree.map(np.array, trainer.init_state(algo))
    state = state._replace(
        params=jax.tree.map(lambda x: rng.standard_normal(x.shape).astype(x.dtype), state.params),
        opt_state=jax.tree.map(
            lambda x: rng.random(x.shape).astype(x.dtype) if x.dtype.kind == "f" else x,
            state.opt_state,
        ),
    )
    chunks = updates // UPDATES_PER_CHUNK
    solved_rows = rng.choice(seeds, int(seeds * solved), replace=False)
    solved_at = np.full(seeds, chunks, np.int64)  # the chunk a seed stopped training after
    solved_at[solved_rows] = rng.integers(1, max(2, chunks // 3), len(solved_rows))
    history = History(seeds=seeds, chunks=chunks, seconds=20.0)
    for c in range(chunks):
        active = solved_at > c
        for name, dtype in PPO_METRICS.items():
            value = rng.standard_normal((seeds, UPDATES_PER_CHUNK)).astype(dtype)
            value[~active] = np.nan if np.dtype(dtype).kind == "f" else 0
            history.metrics.setdefault(name, []).append(value)
        history.env_steps = history.env_steps + active * 512
        history.evaluations.append(
            ChunkEvaluation(
                history.env_steps.tolist(),
                rng.random(seeds).astype(np.float32).tolist(),
                rng.random(seeds).astype(np.float32).tolist(),
                np.where(active, 32, 0).tolist(),
            )
        )
    trained_on = set(rng.choice(solved_rows, len(solved_rows) // 10, replace=False).tolist())
    for row in solved_rows.tolist():
        snapshot = seed_params(state.params, row)
        if row in trained_on:  # solved, then trained a chunk more before the verdict came
            snapshot = jax.tree.map(lambda x: x + np.float32(0.01), snapshot)
        history.snapshots[row] = snapshot
        history.steps_to_solve[row] = int(solved_at[row]) * 512
        history.seconds_to_solve[row] = float(solved_at[row])
    return algo, state, history


def meta_of(algo) -> dict:
    config = algo.config
    return {
        "env": config.env,
        "algo": config.algo,
        "seeds": config.seeds,
        "network": algo.spec.to_dict(),
        "config": config.to_dict(),
        "complete": False,
    }


def seed_params(params, i: int):
    import jax

    return jax.tree.map(lambda x: np.array(x[i]), params)


def delivered(state, history: History) -> list[dict]:
    seeds = history.seeds
    return [history.snapshots.get(i) or seed_params(state.params, i) for i in range(seeds)]


# --- format 1, as poleax 0.3.0 wrote it -------------------------------------------------------


def save_format_1(run_dir: Path, meta: dict, policies: list[dict] | None, state, history) -> Path:
    """poleax 0.3.0's save: every seed's parameters apart in policy.npz, the whole state in
    state.npz, each snapshot apart in history.npz, the evaluations in history.json."""
    import jax

    if policies is None:  # what 0.3.0's _Session.save_checkpoint did first
        policies = [seed_params(state.params, i) for i in range(history.seeds)]
    tmp = run_dir / "tmp-format-1"
    tmp.mkdir(parents=True)
    write_npz(
        tmp / "policy.npz",
        {
            f"seed{i}/{layer}/{name}": np.asarray(value)
            for i, params in enumerate(policies)
            for layer, arrays in params.items()
            for name, value in arrays.items()
        },
    )
    leaves, _ = jax.tree_util.tree_flatten_with_path(state)
    write_npz(tmp / "state.npz", {jax.tree_util.keystr(p): np.asarray(x) for p, x in leaves})
    arrays, info = history_format_1(history)
    write_npz(tmp / "history.npz", arrays)
    write_text(tmp / "history.json", json.dumps(info))
    write_text(tmp / "meta.json", json.dumps({"format_version": 1, **meta}, indent=2))
    checkpoint._fsync_dir(tmp)
    os.rename(tmp, run_dir / "checkpoint")
    checkpoint._fsync_dir(run_dir)
    return run_dir / "checkpoint"


def history_format_1(history: History):
    """0.3.0's ``History.to_saved``."""
    arrays = {"env_steps": np.asarray(history.env_steps)}
    for name in history.metrics:
        arrays[f"metrics/{name}"] = history.metric(name)
    for i, params in history.snapshots.items():
        for layer, values in params.items():
            for key, value in values.items():
                arrays[f"snapshot{i}/{layer}/{key}"] = np.asarray(value)
    info = {
        "chunks": history.chunks,
        "seconds": history.seconds,
        "evaluations": [e._asdict() for e in history.evaluations],
        "steps_to_solve": history.steps_to_solve,
        "seconds_to_solve": history.seconds_to_solve,
        "chunk_lengths": [c.shape[1] for c in next(iter(history.metrics.values()), [])],
    }
    return arrays, info


def write_npz(path: Path, arrays: dict) -> None:
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())


def write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


# --- measuring --------------------------------------------------------------------------------


def folder_sizes(folder: Path) -> dict[str, int]:
    folder = Path(os.path.realpath(folder))
    return {p.name: p.stat().st_size for p in sorted(folder.iterdir())}


def save_next(saves) -> None:
    writer, *arguments = next(saves)
    writer(*arguments)


def timed(fn, repeats: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds of this process (less swayed by other
    processes on a shared machine; a save's fsync waits are wall time only)."""
    times, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(times), statistics.median(cpu)


def signalled_run(seeds: int, after: float, out: Path, src: Path | None) -> None:
    """A real run, SIGTERM ``after`` seconds after launch; what it left."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    run = out / "run"
    command = [
        sys.executable, "-m", "poleax", "train", "--env", "CartPole-v1", "--seeds", str(seeds),
        "--no-gifs", "--no-progress", "--out", str(run),
    ]  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(after)
    if proc.poll() is not None:
        raise SystemExit(f"the run ended before the signal: {proc.stderr.read().decode()}")
    sent = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate()
    seconds = time.perf_counter() - sent
    folder = Path(os.path.realpath(run / "checkpoint"))
    sizes = folder_sizes(folder)
    meta = json.loads((folder / "meta.json").read_text())
    history = folder / "history.json"
    chunks = json.loads(history.read_text())["chunks"] if history.exists() else 0
    print(
        f"{seeds} seeds, SIGTERM at {after:g} s: exit {proc.returncode} after {seconds:.2f} s; "
        f"checkpoint format {meta['format_version']}, {sum(sizes.values()) / 1e6:.1f} MB, "
        f"{chunks} chunk(s) trained; poleax {meta.get('poleax_version')} from {src or 'here'}"
    )
    if proc.returncode != 143:
        print(err.decode())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1024)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--solved", type=float, default=0.25)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench-checkpoint"))
    parser.add_argument("--signal-after", type=float, help="time a real run's SIGTERM instead")
    parser.add_argument("--src", type=Path, help="with --signal-after: poleax's source tree")
    args = parser.parse_args()
    if args.signal_after is not None:
        if args.out.exists():
            shutil.rmtree(args.out)
        args.out.mkdir(parents=True)
        signalled_run(args.seeds, args.signal_after, args.out, args.src)
        return 0
    rng = np.random.default_rng(0)
    algo, state, history = build(args.seeds, args.updates, args.solved, rng)
    meta = meta_of(algo)
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    import jax

    template = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), state)
    print(
        f"{args.seeds} seeds of PPO on CartPole-v1, {args.updates} updates of metrics, "
        f"{len(history.snapshots)} solved; median of {args.repeats}"
    )
    rows = []
    cells = [
        ("mid-run", "1", save_format_1, None),
        ("final", "1", save_format_1, delivered(state, history)),
        ("run", "2", checkpoint.save, None),
        ("explicit", "2", checkpoint.save, delivered(state, history)),
    ]
    for kind, fmt, writer, policies in cells:
        runs = [args.out / f"{kind}-{fmt}-{i}" for i in range(args.repeats)]
        for run in runs:
            run.mkdir()
        saves = iter([(writer, run, meta, policies, state, history) for run in runs])
        save_s, save_cpu = timed(lambda s=saves: save_next(s), args.repeats)
        run = runs[0]
        sizes = folder_sizes(run / "checkpoint")
        policy_s, _ = timed(lambda r=run: checkpoint.load_policy_params(r, 1), args.repeats)
        resume_s, _ = timed(
            lambda r=run: checkpoint.load_resume(r, template, args.seeds), args.repeats
        )
        rows.append((kind, fmt, sum(sizes.values()), save_s, save_cpu, policy_s, resume_s, sizes))
        for extra in runs[1:]:
            shutil.rmtree(extra)
    head = ("save", "format", "MB", "save s", "cpu s", "policy s", "resume s")
    print("{:8} {:6} {:>7} {:>7} {:>6} {:>9} {:>9}  files (MB)".format(*head))
    for kind, fmt, size, save_s, save_cpu, policy_s, resume_s, sizes in rows:
        files = ", ".join(f"{name} {n / 1e6:.2f}" for name, n in sizes.items())
        figures = f"{size / 1e6:7.1f} {save_s:7.3f} {save_cpu:6.3f} {policy_s:9.3f} {resume_s:9.3f}"
        print(f"{kind:8} {fmt:6} {figures}  {files}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
