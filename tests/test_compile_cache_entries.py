"""Entries of the executable cache: a corrupt one (a flipped bit in its machine code, a bad
header), one of another program, or one that is a pickle is never run: it is compiled anew
and replaced; a cache folder that cannot be written is read, and never crashes anything."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from poleax import compile_cache

X = (np.arange(64, dtype=np.float32).reshape(8, 8) / 64.0, np.float32(2.0))
SPECS = (jax.ShapeDtypeStruct((8, 8), jnp.float32), jax.ShapeDtypeStruct((), jnp.float32))


def f(x, y):
    return {"s": jnp.sin(x) * y + jnp.cumsum(x, axis=0), "t": (x @ x.T).sum()}


def g(x, y):  # f's signature, another program
    return {"s": jnp.cos(x) - y, "t": x.max()}


def h(x):  # another signature
    return {"s": x + 1.0, "t": x.sum()}


def expected_f(x, y):
    return {"s": np.sin(x) * y + np.cumsum(x, axis=0), "t": (x @ x.T).sum()}


PROGRAMS = {"f": (f, SPECS), "g": (g, SPECS), "h": (h, SPECS[:1])}


def settings(which: str) -> dict:
    return {"which": which}


def entry(folder: Path, which: str) -> Path:
    key = compile_cache.program_key("probe", {**settings(which), "xla_options": {}})
    return folder / "executables" / f"probe-{key}.bin"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("POLEAX_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("POLEAX_NO_COMPILE_CACHE", raising=False)
    return tmp_path


def load(which: str, as_: str | None = None):
    """``(program, compiled?)``: program ``which`` through the cache, under the key of
    ``as_`` (default: its own)."""
    fn, specs = PROGRAMS[which]
    lowered = []

    def lower():
        lowered.append(1)
        return jax.jit(fn).lower(*specs)

    program = compile_cache.load_or_compile("probe", settings(as_ or which), lower)
    return program, bool(lowered)


def assert_is_f(program) -> None:
    out, want = program(*X), expected_f(*X)
    np.testing.assert_allclose(np.asarray(out["s"]), want["s"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(float(out["t"]), want["t"], rtol=1e-5)


def test_an_entry_loads_back_without_compiling(cache):
    program, compiled = load("f")
    assert compiled
    assert_is_f(program)
    assert entry(cache, "f").read_bytes().startswith(compile_cache.MAGIC)
    program, compiled = load("f")
    assert not compiled
    assert_is_f(program)


# --- a flipped bit in the machine code: a subprocess, since the old cache crashed ---------------

PROBE = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import jax, jax.numpy as jnp
    import poleax.compile_cache as cc

    cc._source_digest = lambda: "probe"  # the key stays put while poleax's source is edited
    x, y = np.arange(64, dtype=np.float32).reshape(8, 8) / 64.0, np.float32(2.0)

    def f(x, y):
        return {"s": jnp.sin(x) * y + jnp.cumsum(x, axis=0), "t": (x @ x.T).sum()}

    lowered = []

    def lower():
        lowered.append(1)
        specs = jax.ShapeDtypeStruct((8, 8), jnp.float32), jax.ShapeDtypeStruct((), jnp.float32)
        return jax.jit(f).lower(*specs)

    out = cc.load_or_compile("probe", {"which": "f"}, lower)(x, y)
    right = np.allclose(np.asarray(out["s"]), np.sin(x) * y + np.cumsum(x, axis=0), atol=1e-5)
    right &= np.isclose(float(out["t"]), (x @ x.T).sum(), rtol=1e-5)
    print(json.dumps({"compiled": bool(lowered), "right": bool(right)}))
    """
)


def probe(cache: Path, script: Path, wrap: list[str] | None = None) -> dict:
    """Run the probe in a process of its own; its report, or a failure naming how it died."""
    env = {**os.environ, "POLEAX_CACHE_DIR": str(cache)}
    env.pop("POLEAX_NO_COMPILE_CACHE", None)
    done = subprocess.run(
        [*(wrap or []), sys.executable, str(script)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.fail(f"the probe died (exit {done.returncode}): {done.stderr[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def code_sections(blob: bytes) -> list[tuple[int, int]]:
    """``(start, end)`` of every executable section of every ELF object inside ``blob``
    (XLA's CPU executables carry their kernels as ELF objects)."""
    found = []
    start = blob.find(b"\x7fELF")
    while start != -1:
        try:
            (table,) = struct.unpack_from("<Q", blob, start + 0x28)
            size, count = struct.unpack_from("<HH", blob, start + 0x3A)
            for i in range(count):
                _, kind, flags, _, offset, length = struct.unpack_from(
                    "<IIQQQQ", blob, start + table + i * size
                )
                if kind == 1 and flags & 0x4 and length:  # SHT_PROGBITS, SHF_EXECINSTR
                    found.append((start + offset, start + offset + length))
        except struct.error:
            pass
        start = blob.find(b"\x7fELF", start + 1)
    return found


@pytest.mark.slow
def test_a_flipped_bit_in_the_machine_code_is_caught_before_it_runs(tmp_path):
    """0.1 ran it: SIGILL or SIGSEGV, on every later run, the entry never replaced."""
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    cache = tmp_path / "cache"
    assert probe(cache, script) == {"compiled": True, "right": True}
    (path,) = (cache / "executables").glob("probe-*.bin")
    blob = bytearray(path.read_bytes())
    sections = code_sections(bytes(blob))
    assert sections, "no machine code found in the entry"
    for begin, end in sections:
        blob[(begin + end) // 2] ^= 0x10  # one bit, in the middle of each kernel's code
    path.write_bytes(bytes(blob))
    assert probe(cache, script) == {"compiled": True, "right": True}
    assert path.read_bytes() != bytes(blob)  # replaced
    assert probe(cache, script) == {"compiled": False, "right": True}


# --- entries of another program, headers that lie, pickles --------------------------------------


@pytest.mark.parametrize("other", ["g", "h"], ids=["same signature", "other signature"])
def test_another_programs_entry_under_the_key_is_compiled_anew(cache, other):
    load("f")
    load(other)
    shutil.copyfile(entry(cache, other), entry(cache, "f"))  # a valid entry, of `other`
    program, compiled = load("f")
    assert compiled
    assert_is_f(program)
    assert not load("f")[1]  # and replaced


def parts(path: Path) -> tuple[dict, bytes]:
    blob = path.read_bytes()
    _, _, body = blob[len(compile_cache.MAGIC) :].partition(b"\n")
    header, _, payload = body.partition(b"\n")
    return json.loads(header), payload


def write_entry(path: Path, header: dict, payload: bytes) -> None:
    """An entry with a correct checksum: only the checks after it can refuse it."""
    body = json.dumps(header).encode() + b"\n" + payload
    digest = hashlib.sha256(body).hexdigest().encode()
    path.write_bytes(compile_cache.MAGIC + digest + b"\n" + body)


def lie(field: str, value):
    def change(header: dict) -> dict:
        return {**header, field: value}

    return change


HEADER_LIES = {
    "another name": lie("name", "evaluate"),
    "another key": lie("key", "0" * 32),
    "an output shape": lambda h: {**h, "out_avals": [[[9, 9], "float32"], *h["out_avals"][1:]]},
    "an input dtype": lambda h: {**h, "in_avals": [[[8, 8], "int32", False], *h["in_avals"][1:]]},
    "one input fewer": lambda h: {
        **h,
        "in_tree": {"tuple": [{"tuple": ["*"]}, {"dict": []}]},
        "in_avals": h["in_avals"][:1],
    },
    "a tree node": lie("out_tree", {"set": ["*", "*"]}),
    "a tree that is a string": lie("in_tree", "oops"),
    "payload length": lie("payload_bytes", 12),
    "no signature": lambda h: {k: v for k, v in h.items() if k != "in_avals"},
    "a list": lambda h: [h],
}


@pytest.mark.parametrize("how", list(HEADER_LIES))
def test_a_header_that_does_not_fit_is_compiled_anew(cache, how):
    load("f")
    path = entry(cache, "f")
    header, payload = parts(path)
    write_entry(path, HEADER_LIES[how](header), payload)
    program, compiled = load("f")
    assert compiled
    assert_is_f(program)
    assert not load("f")[1]


CORRUPTIONS = {
    "a byte of the header": lambda b: b.replace(b'"float32"', b'"float64"', 1),
    "a byte of the checksum": lambda b: b[:25] + bytes([b[25] ^ 1]) + b[26:],
    "a byte of the payload": lambda b: b[:-100] + bytes([b[-100] ^ 0x40]) + b[-99:],
    "truncated": lambda b: b[: len(b) // 2],
    "empty": lambda b: b"",
    "the magic only": lambda b: b[: len(compile_cache.MAGIC)],
    "garbage": lambda b: b"not an executable",
}


@pytest.mark.parametrize("how", list(CORRUPTIONS))
def test_a_corrupt_entry_is_compiled_anew(cache, how):
    load("f")
    path = entry(cache, "f")
    path.write_bytes(CORRUPTIONS[how](path.read_bytes()))
    program, compiled = load("f")
    assert compiled
    assert_is_f(program)
    assert not load("f")[1]


class _Trap:
    """Unpickling this writes a file: the proof that an entry was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "unpickled"))


def test_an_entry_is_never_unpickled(cache, tmp_path):
    """0.1 stored (payload, in_tree, out_tree) as a pickle and unpickled whatever it found."""
    load("f")
    marker = tmp_path / "unpickled"
    entry(cache, "f").write_bytes(pickle.dumps(_Trap(marker)))
    program, compiled = load("f")
    assert compiled and not marker.exists()
    assert_is_f(program)


class Pair(NamedTuple):
    a: jax.Array
    b: dict


def test_named_tuples_round_trip_and_a_changed_one_is_compiled_anew(cache):
    def step(pair: Pair, n):
        return Pair(pair.a * n, {"c": pair.b["c"] + 1}), [n, None]

    spec = Pair(jax.ShapeDtypeStruct((3,), jnp.float32), {"c": jax.ShapeDtypeStruct((), jnp.int32)})
    n = jax.ShapeDtypeStruct((), jnp.float32)
    calls = []

    def lower():
        calls.append(1)
        return jax.jit(step).lower(spec, n)

    value = Pair(np.ones(3, np.float32), {"c": np.int32(4)})
    for compiled in (True, False):
        calls.clear()
        program = compile_cache.load_or_compile("pair", {}, lower)
        assert bool(calls) == compiled
        out, extra = program(value, np.float32(2))
        assert isinstance(out, Pair) and extra[1] is None
        np.testing.assert_array_equal(out.a, [2, 2, 2])
        assert int(out.b["c"]) == 5
    key = compile_cache.program_key("pair", {"xla_options": {}})
    path = cache / "executables" / f"pair-{key}.bin"
    header, payload = parts(path)
    assert json.dumps(header["in_tree"]).count(f"{__name__}:Pair") == 1
    header["in_tree"] = json.loads(json.dumps(header["in_tree"]).replace('"b"]', '"x"]'))
    write_entry(path, header, payload)  # Pair's fields, as an older Pair had them
    calls.clear()
    compile_cache.load_or_compile("pair", {}, lower)
    assert calls


# --- a cache folder that cannot be written --------------------------------------------------


def test_a_read_only_entry_is_used_though_it_cannot_be_touched(cache, monkeypatch):
    """0.1 treated the failed touch (``utime``) as a broken entry: it compiled every run."""
    load("f")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "utime", refuse)
    program, compiled = load("f")
    assert not compiled
    assert_is_f(program)


def test_a_cache_folder_that_cannot_be_made_only_costs_compiles(tmp_path, monkeypatch):
    """A real failure, root or not: the folder would be inside a file."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("POLEAX_CACHE_DIR", str(blocker / "cache"))
    for _ in range(2):
        program, compiled = load("f")
        assert compiled
        assert_is_f(program)
    assert blocker.read_text() == ""


def test_entries_that_cannot_be_written_only_cost_compiles(cache, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    for _ in range(2):
        program, compiled = load("f")
        assert compiled
        assert_is_f(program)
    assert os.listdir(cache / "executables") == []  # no temporary file left either


def read_only(folder: Path) -> list[str]:
    """A command prefix that runs a command with ``folder`` mounted read-only (in a user and
    mount namespace of its own: the kernel refuses every write, root's included)."""
    remount = (
        f"mount --bind '{folder}' '{folder}' && mount -o remount,bind,ro '{folder}' '{folder}'"
    )
    return ["unshare", "-r", "-m", "sh", "-c", f'{remount} && exec "$0" "$@"']


def read_only_mounts_work(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    folder = tmp_path / "mount-probe"
    folder.mkdir()
    runs = subprocess.run([*read_only(folder), "true"], capture_output=True).returncode == 0
    refused = subprocess.run([*read_only(folder), "touch", str(folder / "x")], capture_output=True)
    return runs and refused.returncode != 0 and not (folder / "x").exists()


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*")}


@pytest.mark.slow
def test_a_read_only_mounted_cache_is_read_and_never_written(tmp_path):
    """A real read-only folder: the kernel refuses writes and touches (EROFS). A stored
    program loads without compiling; a missing one compiles, runs, and is not stored."""
    if not read_only_mounts_work(tmp_path):
        pytest.skip("needs unshare with user and mount namespaces (for a read-only mount)")
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    cache = tmp_path / "cache"
    assert probe(cache, script) == {"compiled": True, "right": True}
    before = snapshot(cache)
    assert probe(cache, script, wrap=read_only(cache)) == {"compiled": False, "right": True}
    assert snapshot(cache) == before
    empty = tmp_path / "empty"
    (empty / "executables").mkdir(parents=True)
    assert probe(empty, script, wrap=read_only(empty)) == {"compiled": True, "right": True}
    assert list(empty.rglob("*.bin")) == [] and os.listdir(empty / "executables") == []
