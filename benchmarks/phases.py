"""Where a ``poleax train`` process spends its time: imports, compiling, training, judging on
gymnasium, writing the run folder.

    python benchmarks/phases.py train --algo sac --env Pendulum-v1 --seed 0 --no-gifs

Runs the ``poleax`` command line given (in this process) with timers around the phases'
functions, and prints after it exits, in seconds from this script's start: the imports of
JAX and of poleax, opening the run, each program's load or compile (``load_or_compile``: a
cache hit loads, a miss traces, lowers and compiles; the XLA compile alone is shown apart),
training, every gymnasium evaluation (the confirmation of a pass, the final judgement), and
the run folder's pictures, report and summary (``_finish``). Programs compile on worker
threads side by side, so their spans overlap; the thread is named. Set ``POLEAX_CACHE_DIR``
to an empty folder for a cold process, to the same folder again for a warm one.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import atexit  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

import jax  # noqa: E402, F401

JAX_IMPORTED = time.perf_counter()

import poleax.cli  # noqa: E402
import poleax.compile_cache  # noqa: E402
import poleax.programs  # noqa: E402
import poleax.reference  # noqa: E402
import poleax.run.training  # noqa: E402

POLEAX_IMPORTED = time.perf_counter()
EVENTS: list[tuple[str, str, float, float, str]] = []
_LOCK = threading.Lock()


def timed(module, name: str, label: str) -> None:
    """Replace ``module.name`` by the same function that records its spans as ``label``."""
    function = getattr(module, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            end = time.perf_counter()
            program = args[0] if name == "load_or_compile" else ""
            with _LOCK:
                EVENTS.append(
                    (label, program, start - START, end - start, threading.current_thread().name)
                )

    setattr(module, name, wrapper)


def report() -> None:
    print(
        f"\nphases (s from launch of this script): import jax {JAX_IMPORTED - START:.2f}, "
        f"import poleax {POLEAX_IMPORTED - JAX_IMPORTED:.2f}",
        file=sys.stderr,
    )
    for label, program, start, seconds, thread in sorted(EVENTS, key=lambda e: e[2]):
        print(
            f"  {label:<17} {program:<9} from {start:6.2f}  {seconds:6.2f} s  [{thread}]",
            file=sys.stderr,
        )
    print(f"  exit at {time.perf_counter() - START:.2f}", file=sys.stderr)


def main() -> None:
    timed(poleax.compile_cache, "_compile", "xla compile")
    timed(poleax.programs, "load_or_compile", "load or compile")
    timed(poleax.reference, "evaluate_many", "gymnasium judge")
    timed(poleax.run.training, "_open", "open run")
    timed(poleax.run.training, "_train", "train (all)")
    timed(poleax.run.training, "_finish", "run folder")
    atexit.register(report)
    sys.argv = ["poleax", *sys.argv[1:]]
    poleax.cli.main()


if __name__ == "__main__":
    main()
