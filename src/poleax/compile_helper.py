"""A helper process that compiles a run's smaller programs while the run starts up.

A cold ``poleax train`` spends its first second on one core: importing JAX (about half a
second), then tracing the training chunk, which holds the GIL. The other core idles. A helper
started before those imports puts it to work: it imports JAX too, then compiles the other
programs the run needs (``init`` and ``evaluate``) into the executable cache, naming each on
its stdout when it is there. The run compiles its training chunk meanwhile and loads the
helper's programs from the cache; where the helper fails, the run compiles them itself, so
a helper can only make a run faster, never change what it computes.

No helper starts when every program it would compile is cached already (a warm start), when
the cache is off (``POLEAX_NO_COMPILE_CACHE``) or on a single core. It ends with the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

from poleax.compile_cache import PROGRAM_OPTIONS, cache_enabled, is_cached, program_settings
from poleax.config import TrainConfig
from poleax.cores import worker_count

#: Seconds a run waits for one of the helper's programs before compiling it itself.
READY_TIMEOUT_S = 600.0
_DONE = "compiled "


def programs_to_help(config: TrainConfig, fresh: bool = True) -> list[str]:
    """The programs a run of ``config`` needs besides its training chunk and the cache lacks.

    ``init`` only for a fresh run (a resumed one has its state), ``evaluate`` only under the
    evaluation stop rule.
    """
    names = (["init"] if fresh else []) + (["evaluate"] if config.stop_rule == "eval" else [])
    settings = program_settings(config)
    return [name for name in names if not is_cached(name, settings, PROGRAM_OPTIONS[name])]


class CompileHelper:
    """A running helper process; ``ready(name)`` waits for one of its programs."""

    def __init__(self, process: subprocess.Popen, names: list[str]) -> None:
        self.process = process
        self.names = frozenset(names)
        self._done: set[str] = set()
        self._events = {name: threading.Event() for name in names}
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            name = line.strip().removeprefix(_DONE)
            if line.startswith(_DONE) and name in self._events:
                self._done.add(name)
                self._events[name].set()
        for event in self._events.values():  # the helper ended: nothing more will come
            event.set()

    def ready(self, name: str, timeout: float = READY_TIMEOUT_S) -> bool:
        """Wait until the program ``name`` is in the cache (True) or the helper has ended
        without it or taken ``timeout`` seconds (False: the caller compiles it)."""
        if name not in self._events:
            return False
        if not self._events[name].wait(timeout):
            self.stop()
        return name in self._done

    def stop(self) -> None:
        """End the helper, if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def start(config: TrainConfig, fresh: bool = True) -> CompileHelper | None:
    """Start a helper for a run of ``config`` (``fresh``: not resumed), or return None when
    it would not help (nothing to compile, no cache, one core) or cannot start."""
    names = programs_to_help(config, fresh)
    if not names or not cache_enabled() or worker_count() < 2:
        return None
    command = [
        sys.executable,
        "-m",
        "poleax.compile_helper",
        json.dumps(config.to_dict()),
        ",".join(names),
        str(os.getpid()),
    ]
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
    except OSError:
        return None
    return CompileHelper(process, names)


def _end_with(parent: int) -> None:
    """Have the kernel kill this process when ``parent`` ends (Linux), and leave now if it
    has ended already."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            pr_set_pdeathsig = 1
            ctypes.CDLL(None).prctl(pr_set_pdeathsig, int(signal.SIGKILL))
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        sys.exit(1)


def main(argv: list[str] | None = None) -> int:
    """``python -m poleax.compile_helper CONFIG_JSON NAMES PARENT_PID``."""
    config_json, names, parent = argv if argv is not None else sys.argv[1:]
    _end_with(int(parent))
    config = TrainConfig.from_dict(json.loads(config_json))
    import gc

    from poleax.algos import make_algorithm
    from poleax.trainer import Programs

    gc.freeze()  # as the CLI does: cheaper collections while tracing
    programs = Programs(make_algorithm(config))
    for name in names.split(","):
        programs.load_or_compile(name)
        print(_DONE + name, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
