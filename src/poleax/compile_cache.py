"""Compiled programs kept between runs in a per-user folder, so a second run skips compiling.

poleax stores its programs (init, training chunk, evaluation, GIF player) as serialized XLA
executables keyed by their settings, poleax's source and the machine. Loading one skips
tracing, lowering and compiling; JAX's own persistent cache would skip only the last.
``POLEAX_CACHE_DIR`` moves the folder, ``POLEAX_NO_COMPILE_CACHE`` turns the cache off.

An entry ``{name}-{key}.bin`` is not a pickle. It is three parts::

    POLEAX-EXECUTABLE 2\n
    <sha256 of everything after this line, in hex>\n
    <header: one line of JSON>\n
    <payload: JAX's serialized executable, exactly as jax.experimental.serialize_executable
     wrote it>

The header names the program and its key, and holds the program's signature: the input and
output tree structures (written as JSON: tuples, lists, dicts, None and named tuples, the last
by module and name, found only among modules already imported, with their field names
checked) and every input and output's shape and dtype. Before anything is deserialized, the
checksum must match (so a flipped bit in the machine code is never run), the header's name and
key must be the ones asked for (so another program's entry is never taken for this one), and
the trees must rebuild; after, the executable's own inputs and outputs must match the
header's. An entry that fails any of these is deleted and compiled anew.

The payload itself is JAX's format, which JAX writes with pickle (its executable, shardings
and layouts); no public JAX interface loads an executable without it. It is handed to JAX only
with the checksum matched, so it holds exactly the bytes that ``serialize`` gave this user's
own poleax. The checksum guards against corruption, not against someone who can write the
cache folder; such a person can equally replace the machine code that poleax runs from it,
so the folder is as trusted as the programs it holds (the same holds for JAX's own cache).

A folder that cannot be written is still read (the least-recently-used touch is skipped); a
program then missing is compiled and not stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import sys
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from poleax.config import fields_with_role


def cache_dir() -> Path:
    """``$POLEAX_CACHE_DIR``, else ``$XDG_CACHE_HOME/poleax/jax``, else ``~/.cache/poleax/jax``."""
    if os.environ.get("POLEAX_CACHE_DIR"):
        return Path(os.environ["POLEAX_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "poleax" / "jax"


#: Config fields the compiled programs never see (the host uses them between calls).
HOST_ONLY_FIELDS = fields_with_role("host")  # the screen's and a vmapped program's own keys
# name their episodes and width


@cache
def _source_digest() -> str:
    """Hash of poleax's own source files: any edit makes new programs."""
    digest = hashlib.sha256()
    root = Path(__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@cache
def _cpu_features() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            return next((line for line in handle if line.startswith("flags")), "")
    except OSError:
        return platform.processor()


def _dependency_versions() -> list[str]:
    """Versions of the libraries whose code the programs hold besides JAX's: numpy, and
    optax once imported (the algorithms import it before their programs are keyed; reading
    the package metadata instead would cost a warm start ~40 ms)."""
    return [
        f"{name} {getattr(sys.modules.get(name), '__version__', '-')}"
        for name in ("numpy", "optax")
    ]


def _machine_digest() -> str:
    """What a compiled program depends on besides its source: JAX and its settings (read on
    every call: a process may switch x64 on), XLA flags, CPU features, other libraries."""
    import jax
    import jaxlib

    parts = [
        jax.__version__,
        jaxlib.__version__,
        str(jax.config.jax_enable_x64),
        str(jax.config.jax_default_prng_impl),
        os.environ.get("XLA_FLAGS", ""),
        jax.devices()[0].device_kind,
        _cpu_features(),
        *_dependency_versions(),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def program_key(name: str, settings: dict[str, Any]) -> str:
    """Cache key of the compiled program ``name`` for these settings on this machine."""
    material = json.dumps(
        {"name": name, "settings": settings, "source": _source_digest()}, sort_keys=True
    )
    return hashlib.sha256((material + _machine_digest()).encode()).hexdigest()[:32]


def load_or_compile(
    name: str,
    settings: dict[str, Any],
    lower: Callable[[], Any],
    options: dict[str, Any] | None = None,
):
    """The compiled program ``name``: loaded from the executable cache, else compiled and stored.

    ``settings`` is everything the program depends on besides poleax's source and the machine
    (see ``program_key``); ``options`` are XLA compiler options (part of the key). JAX's
    persistent cache skips XLA's compilation but still traces and lowers the program; a
    serialized executable skips both. ``lower()`` returns the lowered program on a miss. An
    entry that is corrupt, of another program or of another signature is compiled anew and
    replaced; a cache folder that cannot be written is only read.
    """
    options = options or {}
    folder = _executable_dir()
    if folder is None:  # POLEAX_NO_COMPILE_CACHE, or no folder
        return _compile(lower(), options)
    key = program_key(name, {**settings, "xla_options": options})
    path = folder / f"{name}-{key}{ENTRY_SUFFIX}"
    compiled = _load_entry(path, name, key)
    if compiled is not None:
        return compiled
    compiled = _compile(lower(), options)
    # An executable that JAX loaded from its own persistent cache serializes without its
    # kernels (loading it later fails with "Function ... not found"): store only programs
    # compiled for real, which is always so unless the user turned JAX's cache on.
    if not _jax_cache_on():
        _store_entry(folder, path, name, key, compiled)
    return compiled


def _compile(lowered, options: dict[str, Any]):
    """``lowered.compile`` with XLA ``options``; without them on an XLA that lacks one."""
    try:
        return lowered.compile(compiler_options=options)
    except Exception as error:
        if options and "compile option" in str(error):
            return lowered.compile()
        raise


#: Executables kept (about 1 MB each); the least recently used go first.
MAX_EXECUTABLES = 60
ENTRY_SUFFIX = ".bin"
MAGIC = b"POLEAX-EXECUTABLE 2\n"
#: Temporary files of a store older than this (seconds) belong to a killed process.
_ABANDONED_AFTER = 3600


class _BadEntry(Exception):
    """An entry that must not be used; the message says why."""


def _load_entry(path: Path, name: str, key: str):
    """The program stored at ``path``, every check passed; else ``None`` (a broken entry is
    deleted where the folder lets us)."""
    try:
        blob = path.read_bytes()
    except OSError:  # absent (the usual miss), or unreadable
        return None
    try:
        compiled = _decode(blob, name, key)
    except Exception:  # _BadEntry, or whatever JAX raises on a payload it rejects
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    with contextlib.suppress(OSError):  # recently used: kept by eviction (not if read-only)
        os.utime(path)
    return compiled


def _decode(blob: bytes, name: str, key: str):
    from jax.experimental import serialize_executable

    if not blob.startswith(MAGIC):
        raise _BadEntry("not a poleax executable")
    rest = blob[len(MAGIC) :]
    digest, _, body = rest.partition(b"\n")
    if hashlib.sha256(body).hexdigest().encode() != digest:
        raise _BadEntry("checksum mismatch")
    header_line, _, payload = body.partition(b"\n")
    header = json.loads(header_line)
    if not isinstance(header, dict) or header.get("name") != name or header.get("key") != key:
        raise _BadEntry("an entry of another program")
    if header.get("payload_bytes") != len(payload):
        raise _BadEntry("payload length")
    in_tree = _decode_tree(header["in_tree"])
    out_tree = _decode_tree(header["out_tree"])
    if in_tree.num_leaves != len(header["in_avals"]) or out_tree.num_leaves != len(
        header["out_avals"]
    ):
        raise _BadEntry("tree and signature disagree")
    compiled = serialize_executable.deserialize_and_load(payload, in_tree, out_tree)
    if _signature(compiled) != (header["in_avals"], header["out_avals"]):
        raise _BadEntry("the executable's signature is not the header's")
    return compiled


def _signature(compiled) -> tuple[list, list]:
    """``[shape, dtype, donated]`` of each input and ``[shape, dtype]`` of each output."""
    import jax

    inputs = [
        [list(a.shape), str(a.dtype), bool(a.donated)]
        for a in jax.tree_util.tree_leaves(compiled.args_info)
    ]
    outputs = [[list(o.shape), str(o.dtype)] for o in jax.tree_util.tree_leaves(compiled.out_info)]
    return inputs, outputs


def _encode(compiled, name: str, key: str) -> bytes:
    from jax.experimental import serialize_executable

    payload, in_tree, out_tree = serialize_executable.serialize(compiled)
    in_avals, out_avals = _signature(compiled)
    header = {
        "name": name,
        "key": key,
        "in_tree": _encode_tree(in_tree),
        "out_tree": _encode_tree(out_tree),
        "in_avals": in_avals,
        "out_avals": out_avals,
        "payload_bytes": len(payload),
    }
    body = json.dumps(header, separators=(",", ":")).encode() + b"\n" + payload
    return MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def _store_entry(folder: Path, path: Path, name: str, key: str, compiled) -> None:
    """Write the entry (to a temporary file, renamed into place); an unwritable folder, or a
    program whose trees JSON cannot hold, only costs the next run a compile."""
    tmp = folder / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        blob = _encode(compiled, name, key)
        tmp.write_bytes(blob)
        os.replace(tmp, path)
    except Exception:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return
    _evict(folder)


# A tree structure as JSON: "*" a leaf, null None, {"tuple": [...]}, {"list": [...]},
# {"dict": [[key, child], ...]}, {"namedtuple": "module:Name", "fields": [...], "items": [...]}.


class _Leaf:
    pass


def _encode_tree(treedef) -> Any:
    return _encode_node(treedef.unflatten([_Leaf() for _ in range(treedef.num_leaves)]))


def _encode_node(node) -> Any:
    if isinstance(node, _Leaf):
        return "*"
    if node is None:
        return None
    kind = type(node)
    if kind is tuple:
        return {"tuple": [_encode_node(x) for x in node]}
    if kind is list:
        return {"list": [_encode_node(x) for x in node]}
    if kind is dict:
        if not all(type(k) in (str, int) for k in node):
            raise _BadEntry("dict keys other than str and int")
        return {"dict": [[k, _encode_node(v)] for k, v in node.items()]}
    if issubclass(kind, tuple) and hasattr(kind, "_fields"):
        return {
            "namedtuple": f"{kind.__module__}:{kind.__qualname__}",
            "fields": list(kind._fields),
            "items": [_encode_node(x) for x in node],
        }
    raise _BadEntry(f"a tree node of type {kind.__name__}")


def _decode_tree(data: Any):
    import jax

    return jax.tree_util.tree_structure(_decode_node(data))


def _decode_node(data: Any) -> Any:
    if data == "*":
        return 0
    if data is None:
        return None
    if not isinstance(data, dict) or len(data) not in (1, 3):
        raise _BadEntry(f"a tree node {data!r}")
    if "tuple" in data:
        return tuple(_decode_node(x) for x in _list(data["tuple"]))
    if "list" in data:
        return [_decode_node(x) for x in _list(data["list"])]
    if "dict" in data:
        pairs = _list(data["dict"])
        if not all(isinstance(p, list) and len(p) == 2 and type(p[0]) in (str, int) for p in pairs):
            raise _BadEntry("dict entries")
        return {k: _decode_node(v) for k, v in pairs}
    if "namedtuple" in data:
        cls = _named_tuple_class(data["namedtuple"], data.get("fields"))
        return cls._make(_decode_node(x) for x in _list(data.get("items")))
    raise _BadEntry(f"a tree node {data!r}")


def _list(value: Any) -> list:
    if not isinstance(value, list):
        raise _BadEntry(f"{value!r} is not a list")
    return value


def _named_tuple_class(where: Any, fields: Any) -> type:
    """The named tuple class ``module:Name`` of an already imported module (nothing is
    imported here), with exactly ``fields``."""
    module_name, _, qualname = str(where).partition(":")
    cls: Any = sys.modules.get(module_name)
    for part in qualname.split("."):
        cls = getattr(cls, part, None)
    if not (
        isinstance(cls, type)
        and issubclass(cls, tuple)
        and list(getattr(cls, "_fields", ())) == fields
    ):
        raise _BadEntry(f"no named tuple {where} with fields {fields}")
    return cls


def _evict(folder: Path) -> None:
    """Keep the ``MAX_EXECUTABLES`` most recently used entries; remove temporary files that
    a killed process left."""
    now = time.time()
    entries = []
    for path in folder.iterdir():
        try:
            mtime = path.stat().st_mtime
        except OSError:  # removed meanwhile
            continue
        if path.name.endswith(".tmp"):
            if now - mtime > _ABANDONED_AFTER:
                with contextlib.suppress(OSError):
                    path.unlink()
        elif path.name.endswith(ENTRY_SUFFIX):
            entries.append((mtime, path))
    entries.sort(reverse=True)
    for _, old in entries[MAX_EXECUTABLES:]:
        with contextlib.suppress(OSError):
            old.unlink()


def _jax_cache_on() -> bool:
    import jax

    return bool(jax.config.jax_compilation_cache_dir)


def _executable_dir() -> Path | None:
    """The cache folder, made if need be; one that exists but cannot be written is still
    read. ``None`` when the cache is off or there is no folder."""
    if os.environ.get("POLEAX_NO_COMPILE_CACHE"):
        return None
    path = cache_dir() / "executables"
    with contextlib.suppress(OSError):
        path.mkdir(parents=True, exist_ok=True)
    return path if path.is_dir() else None
