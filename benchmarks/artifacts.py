"""Seconds from a run's saved policy to its last artifact, poleax's source against another's.

    python benchmarks/artifacts.py [--old SRC] [--new SRC] [--repeats 7] [--env CartPole-v1]
                                   [--out FILE.md]

Runs ``poleax train --env ENV --no-progress`` (GIFs, curve, maps, report) with each source
tree (``--old``: e.g. a worktree of the previous commit's ``src``; ``--new``: this checkout's
``src``). Each tree is copied first, so the program cache's key (which hashes poleax's
source) stays put while others edit the checkout; each copy runs once unmeasured to fill the
cache, then the variants alternate, ``--repeats`` runs each, so the shared machine's slow
spells fall on both. Per run, from outside, by the files' modification times:

- after saved policy: from the ``checkpoint`` link's switch (the policy saved, the run
  complete) to the last of the artifacts (curve, GIFs, maps, summary, report);
- whole process: launch to exit.

Then, in this process with the new source, the trained policy's GIF of the last new run,
drawn and written both ways (median of ``--repeats``): gymnasium's ``render()`` per frame and
the old writer (each frame quantised, Pillow's palette optimisation) against
``CartPoleCanvas`` with each frame mapped to the palette piece by piece, and the new writer.

Prints markdown tables of medians (and ranges) and writes them to ``--out``.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = ("curve.png", "policy_map.png", "value_map.png", "summary.json", "report.html")


def copy_source(src: Path, into: Path) -> Path:
    """A private copy of ``src`` (the folder holding the ``poleax`` package)."""
    shutil.copytree(src / "poleax", into / "poleax", ignore=shutil.ignore_patterns("__pycache__"))
    return into


def one_run(src: Path, env_id: str, out: Path) -> tuple[float, float]:
    """(seconds after the saved policy, whole-process seconds) of one training run."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, "-m", "poleax", "train", "--env", env_id, "--no-progress"]
    start = time.perf_counter()
    done = subprocess.run([*cmd, "--out", str(out)], env=env, capture_output=True, text=True)
    whole = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"run failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    saved = os.lstat(out / "checkpoint").st_mtime_ns
    files = [out / name for name in ARTIFACTS] + list(out.glob("*.gif"))
    last = max(os.stat(f).st_mtime_ns for f in files)
    return (last - saved) / 1e9, whole


def gif_parts(src: Path, run: Path, repeats: int) -> str:
    """The GIF of ``run``'s policy drawn and written the old way and the new, as a table."""
    sys.path.insert(0, str(src))
    from PIL import Image, ImageDraw

    from poleax import load, render
    from poleax.envs import env_spec

    policy = load(run)
    states, _ = render.play_episode(policy.env_id, policy.params, policy.spec, 0, True)
    task = env_spec(policy.env_id)
    fps = task.render_fps

    def old_draw() -> list:
        env = task.gymnasium_env(render_mode="rgb_array")
        env.reset(seed=0)
        frames = []
        for step, physics in enumerate(states):
            env.unwrapped.state = physics
            image = Image.fromarray(env.render()).reduce(render.FRAME_SHRINK)
            ImageDraw.Draw(image).text((6, 4), f"step {step}", fill=(0, 0, 0))
            frames.append(np.asarray(image))
        env.close()
        return frames

    def old_write(frames: list) -> bytes:
        palette = Image.fromarray(frames[0]).quantize(32, method=Image.Quantize.MEDIANCUT)
        indexed = [
            Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames
        ]
        out = io.BytesIO()
        indexed[0].save(out, format="GIF", save_all=True, append_images=indexed[1:], loop=0)
        return out.getvalue()

    def new_draw() -> list:
        return render._indexed_frames(task, states, None, render.FRAME_SHRINK)

    def timed(fn, *args) -> tuple[float, object]:
        times, out = [], None
        for _ in range(repeats):
            start = time.perf_counter()
            out = fn(*args)
            times.append(time.perf_counter() - start)
        return statistics.median(times), out

    render.prepare(task)
    draw_old, frames = timed(old_draw)
    write_old, _ = timed(old_write, frames)
    draw_new, indexed = timed(new_draw)
    write_new, _ = timed(render._gif_bytes, indexed, fps)
    return "\n".join(
        [
            f"| GIF of {len(states)} frames | draw, s | write, s | total, s |",
            "|---|---:|---:|---:|",
            f"| old: gymnasium's render(), each frame quantised | {draw_old:.3f} "
            f"| {write_old:.3f} | {draw_old + write_old:.3f} |",
            f"| new: CartPoleCanvas, mapped piece by piece | {draw_new:.3f} "
            f"| {write_new:.3f} | {draw_new + write_new:.3f} |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=Path, help="another source tree (holding poleax/)")
    parser.add_argument("--new", type=Path, default=REPO / "src")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    variants = {"new": args.new} if args.old is None else {"old": args.old, "new": args.new}
    seconds: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory(prefix="poleax-artifacts-") as tmp:
        root = Path(tmp)
        sources = {n: copy_source(s, root / f"src-{n}") for n, s in variants.items()}
        for name, src in sources.items():  # fills the program cache for this source
            one_run(src, args.env, root / f"warm-{name}")
        for i in range(args.repeats):
            for name, src in sources.items():
                seconds[name].append(one_run(src, args.env, root / f"{name}-{i}"))
                after, whole = seconds[name][-1]
                print(f"{name} {i}: {after:.3f} s after saved policy, {whole:.2f} s whole")
        parts = gif_parts(sources["new"], root / f"new-{args.repeats - 1}", args.repeats)
    lines = [
        "| source | after saved policy, s (median) | range | whole process, s (median) |",
        "|---|---:|---:|---:|",
    ]
    for name, runs in seconds.items():
        after = [a for a, _ in runs]
        whole = [w for _, w in runs]
        lines.append(
            f"| {name} | {statistics.median(after):.2f} | {min(after):.2f}-{max(after):.2f} "
            f"| {statistics.median(whole):.2f} |"
        )
    table = "\n".join(lines) + "\n\n" + parts + "\n"
    print(f"\n{args.env}, warm program cache, {args.repeats} runs each:\n\n{table}")
    if args.out:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
