"""Checkpoints: arrays in .npz plus JSON metadata, switched in one atomic step, never pickled.

A checkpoint is a folder of
- ``meta.json``: format version, poleax version, env, algorithm, network, seeds, progress;
- ``policy.npz``: every parameter set the checkpoint holds, one stacked array per parameter
  (format 2, below);
- ``state.npz``: the training state of all seeds but its parameters, for ``--resume`` (one
  array per leaf, the seed axis first);
- ``history.npz`` and ``history.json``: curves and solve points so far.

Format 2 stores each parameter array once. ``policy.npz`` holds
``params/{layer}/{name}``, ``[seeds, ...]``: the state's parameters (or, saved without a
state, the policies), then ``extra/{layer}/{name}``, ``[k, ...]``: the parameter sets that
differ from their seed's row there (a seed's solve-time snapshot that trained on, a delivered
policy that is neither). Together they are the *pool*: row ``j < seeds`` is ``params[j]``,
row ``seeds + j`` is ``extra[j]``. ``delivered`` (``[seeds]`` int) names each seed's delivered
policy in the pool; ``history.npz``'s ``snapshot/rows`` and ``snapshot/pool`` name each solved
seed's snapshot there. ``state.npz`` leaves out the leaves ``.params[layer][name]`` that
``params/`` holds. A 1,024-seed CartPole checkpoint is some 30 large arrays, not 12,288 small
ones. Format 1 (poleax 0.1 to 0.3.0: ``seed{i}/{layer}/{name}`` per seed in ``policy.npz``,
the whole state in ``state.npz``, ``snapshot{i}/...`` in ``history.npz``) still loads.

In a run folder, ``checkpoint`` is a relative symbolic link to the current version::

    checkpoint -> .checkpoints/v000007
    .checkpoints/v000007/   the current checkpoint
    .checkpoints/v000006/   the previous one, kept for a reader that had just resolved it

``save`` writes a new version under a temporary name, fsyncs its files, renames it to
``v<n+1>``, then replaces the link with ``os.replace`` (and fsyncs the folders). That one
rename switches checkpoints: a loadable checkpoint exists at every instant, and a process
killed at any point leaves the old one or the new one. Versions older than the previous one
are removed after the switch. Readers resolve the link once and read every file from that
one version (again, from the new one, if a save removed theirs meanwhile), so a reader never
mixes two saves. A folder ``checkpoint`` holding the files itself (poleax 0.1, or a copy made
by a tool that follows links) loads as it is; the next save moves it to ``.checkpoints/`` and
puts the link in its place (a kill between those two renames leaves no ``checkpoint`` for a
moment: readers then take the newest version, and the next save puts the link back).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from poleax._version import __version__
from poleax.history import History, HistoryError, is_int
from poleax.networks import ACTIVATIONS, ACTOR_HEADS, INITS, NetworkSpec, param_shapes

FORMAT_VERSION = 2
CHECKPOINT_DIR = "checkpoint"
#: The version folders, beside ``checkpoint`` in the run folder.
VERSIONS_DIR = ".checkpoints"
_VERSION = re.compile(r"v(\d{6,})")
_TMP_PREFIX = "tmp-"
_LINK_PREFIX = ".checkpoint.link-"
#: A reader that finds its version removed under it starts again on the new one, this often.
_READ_ATTEMPTS = 5

T = TypeVar("T")


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, or does not fit; the message says which."""


# --- writing ---------------------------------------------------------------------------------


Flat = dict[str, np.ndarray]
"""Parameters by ``{layer}/{name}``."""


def _flat(params: dict) -> Flat:
    return {f"{layer}/{name}": v for layer, arrays in params.items() for name, v in arrays.items()}


def _stack(sets: list[dict], like: Flat | None) -> Flat:
    """Parameter sets (``{layer: {name: array}}``) as one array per parameter, a row each."""
    keys = list(like) if like else list(_flat(sets[0])) if sets else []
    flats = [_flat(p) for p in sets]
    return {
        k: np.stack([np.asarray(f[k]) for f in flats]) for k in keys if all(k in f for f in flats)
    }


def _equal_rows(stacked: Flat, base: Flat, rows: np.ndarray) -> np.ndarray:
    """[len(rows)] bool: row i of ``stacked`` is row ``rows[i]`` of ``base``, exactly."""
    same = np.ones(len(rows), bool)
    if not len(rows):
        return same
    if set(stacked) != set(base):
        return ~same
    for key, value in stacked.items():
        other = base[key][rows]
        if value.shape != other.shape or value.dtype != other.dtype:
            return ~same
        same &= (value == other).reshape(len(rows), -1).all(axis=1)
    return same


def _state_params(state) -> Flat | None:
    """The state's parameters, stacked over seeds, if it has them as ``{layer: {name}}``."""
    params = getattr(state, "params", None)
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        return None
    return {k: np.asarray(v) for k, v in _flat(params).items()}


def _state_key(key: str) -> str:
    """The name the state's leaf ``params[layer][name]`` has in ``state.npz`` (format 1)."""
    layer, name = key.split("/")
    return f".params['{layer}']['{name}']"


def _pool(
    policies: list[dict] | None, state, history: History | None
) -> tuple[dict[str, np.ndarray], dict[int, int], bool]:
    """``policy.npz``'s arrays (each parameter set once), each snapshot's row in the pool,
    and whether ``params/`` are the state's parameters."""
    base = _state_params(state)
    from_state = base is not None
    if base is None:  # no state: the policies are the parameters
        base, policies = _stack(policies or [], None), None
    seeds = len(next(iter(base.values()))) if base else 0
    extra: list[Flat] = []

    def add(stacked: Flat, where: np.ndarray, at: np.ndarray) -> None:
        """Rows ``where`` of ``stacked`` become new pool rows (``at[where]``)."""
        if len(where):
            at[where] = seeds + sum(len(e["rows"]) for e in extra) + np.arange(len(where))
            extra.append({"rows": where, **{k: v[where] for k, v in stacked.items()}})

    snapshots: dict[int, int] = {}
    snapshot_rows = np.array(sorted(history.snapshots) if history else [], np.int64)
    if len(snapshot_rows):
        shots = _stack([history.snapshots[r] for r in snapshot_rows.tolist()], base)
        at = _placed(shots, base, snapshot_rows, seeds)
        add(shots, np.flatnonzero(at < 0), at)
        snapshots = dict(zip(snapshot_rows.tolist(), at.tolist(), strict=True))
    delivered = np.arange(seeds, dtype=np.int64)
    if policies is None:  # as the trainer delivers: the snapshot, else the state's parameters
        for row, at in snapshots.items():
            if row < seeds:
                delivered[row] = at
    else:
        stacked = _stack(policies, base)
        delivered = _placed(stacked, base, np.arange(len(policies)), seeds)
        apart = np.flatnonzero(delivered < 0)
        with_shot = apart[np.isin(apart, snapshot_rows)]
        if len(with_shot):  # a seed delivering its solve-time snapshot: that row
            position = np.searchsorted(snapshot_rows, with_shot)
            same = _equal_rows({k: v[with_shot] for k, v in stacked.items()}, shots, position)
            delivered[with_shot[same]] = [snapshots[r] for r in with_shot[same].tolist()]
        add(stacked, np.flatnonzero(delivered < 0), delivered)
    arrays = {"delivered": delivered}
    arrays.update({f"params/{k}": v for k, v in base.items()})
    if extra:
        keys = [k for k in extra[0] if k != "rows"]
        arrays.update({f"extra/{k}": np.concatenate([e[k] for e in extra]) for k in keys})
    return arrays, snapshots, from_state


def _placed(stacked: Flat, base: Flat, rows: np.ndarray, seeds: int) -> np.ndarray:
    """Each row's place in the pool: ``rows[i]`` where row i of ``stacked`` equals that row
    of ``base``, else -1 (a row yet to add)."""
    inside = rows < seeds
    at = np.full(len(rows), -1, np.int64)
    same = _equal_rows({k: v[inside] for k, v in stacked.items()}, base, rows[inside])
    at[np.flatnonzero(inside)[same]] = rows[inside][same]
    return at


def _filled_part(node) -> bool:
    """A state node saved up to its filled rows only: it names its ``ROW_FIELDS`` (arrays
    ``[seed, capacity, ...]``) and says ``filled_rows()`` (a replay buffer)."""
    return hasattr(node, "ROW_FIELDS") and hasattr(node, "filled_rows")


def _tree_arrays(tree, leave_out: set[str] = frozenset()) -> dict[str, np.ndarray]:
    """The tree's leaves by path, but ``leave_out``; a filled part up to its filled rows."""
    import jax

    leaves, _ = jax.tree_util.tree_flatten_with_path(tree, is_leaf=_filled_part)
    arrays = {}
    for path, leaf in leaves:
        key = jax.tree_util.keystr(path)
        if not _filled_part(leaf):
            arrays[key] = leaf
            continue
        rows = leaf.filled_rows()
        for name, value in zip(leaf._fields, leaf, strict=True):
            value = np.asarray(value)
            arrays[f"{key}.{name}"] = value[:, :rows] if name in leaf.ROW_FIELDS else value
    return {key: np.asarray(leaf) for key, leaf in arrays.items() if key not in leave_out}


def _row_keys(template) -> set[str]:
    """The keys of the template's leaves that a checkpoint may hold up to their filled rows."""
    import jax

    nodes, _ = jax.tree_util.tree_flatten_with_path(template, is_leaf=_filled_part)
    return {
        f"{jax.tree_util.keystr(path)}.{name}"
        for path, node in nodes
        if _filled_part(node)
        for name in node.ROW_FIELDS
    }


def save(
    run_dir: str | Path,
    meta: dict[str, Any],
    policies: list[dict] | None = None,
    state=None,
    history: History | None = None,
) -> Path:
    """Write a new checkpoint of ``run_dir`` and switch ``run_dir/checkpoint`` to it in one
    atomic step; return ``run_dir/checkpoint``.

    ``policies``: each seed's delivered policy; ``None``: as the trainer delivers them, a
    seed's solve-time snapshot if ``history`` holds one, else its parameters in ``state``
    (nothing to stack and compare: what a run saves).
    """
    run_dir = Path(run_dir)
    link = run_dir / CHECKPOINT_DIR
    versions = run_dir / VERSIONS_DIR
    versions.mkdir(exist_ok=True)
    _remove_abandoned(run_dir, versions)
    tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-", dir=versions))
    try:
        meta = {"format_version": FORMAT_VERSION, "poleax_version": __version__, **meta}
        if state is not None and not policies:  # an empty list: as the trainer delivers
            policies = None
        pool, snapshots, from_state = _pool(policies, state, history)
        _write_npz(tmp / "policy.npz", pool)
        if state is not None:
            params = {k[len("params/") :] for k in pool if k.startswith("params/")}
            held = {_state_key(k) for k in params} if from_state else set()
            _write_npz(tmp / "state.npz", _tree_arrays(state, held))
        if history is not None:
            arrays, info = history.to_saved()
            rows = sorted(snapshots)
            arrays["snapshot/rows"] = np.array(rows, np.int64)
            arrays["snapshot/pool"] = np.array([snapshots[r] for r in rows], np.int64)
            _write_npz(tmp / "history.npz", arrays)
            _write_text(tmp / "history.json", json.dumps(info))
        _write_text(tmp / "meta.json", json.dumps(meta, indent=2))
        _fsync_dir(tmp)
        a_folder = link.is_dir() and not link.is_symlink()  # 0.1 layout, or a copy
        previous = None if a_folder else _current_version(link, versions)
        new = _rename_to_next_version(tmp, versions, reserve=1 if a_folder else 0)
        if a_folder:  # keep it as the version before the new one, then link
            previous = versions / _version_name(_version_number(new) - 1)
            os.rename(link, previous)
            _fsync_dir(versions)
        _point(run_dir, link, new)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _remove_old_versions(run_dir, versions, keep={new.name, previous.name if previous else ""})
    return link


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (where the system lets a folder be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _version_name(number: int) -> str:
    return f"v{number:06d}"


def _version_number(path: Path) -> int:
    match = _VERSION.fullmatch(path.name)
    return int(match.group(1)) if match else -1


def _versions(versions: Path) -> list[Path]:
    """The version folders, newest first."""
    try:
        found = [p for p in versions.iterdir() if _VERSION.fullmatch(p.name)]
    except OSError:
        return []
    return sorted(found, key=_version_number, reverse=True)


def _rename_to_next_version(tmp: Path, versions: Path, reserve: int) -> Path:
    """Rename the written folder ``tmp`` to the next free version name (after ``reserve``
    numbers kept for the caller); a name taken meanwhile moves on to the next."""
    number = max((_version_number(p) for p in _versions(versions)), default=0) + 1 + reserve
    for _ in range(100):
        new = versions / _version_name(number)
        if not new.exists():
            try:
                os.rename(tmp, new)
            except OSError:  # taken between the check and the rename
                pass
            else:
                _fsync_dir(versions)
                return new
        number += 1
    raise OSError(f"no free checkpoint version name in {versions}")


def _current_version(link: Path, versions: Path) -> Path | None:
    """The version folder readers take now: where ``link`` points; without a link (a save
    was killed while moving a 0.1 folder aside), the newest version."""
    if not link.is_symlink():
        newest = _versions(versions)
        return newest[0] if newest else None
    target = Path(os.readlink(link))
    if not target.is_absolute():
        target = link.parent / target
    return target if target.parent.resolve() == versions.resolve() else None


def _point(run_dir: Path, link: Path, new: Path) -> None:
    """The atomic step: ``link`` becomes a link to ``new`` (``os.replace`` of a new link).
    Where links cannot be made, ``new`` is renamed to ``link`` instead."""
    tmp_link = run_dir / f"{_LINK_PREFIX}{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp_link)
    try:
        os.symlink(os.path.join(VERSIONS_DIR, new.name), tmp_link, target_is_directory=True)
    except (OSError, NotImplementedError):  # no links here: the folder itself takes the name
        if link.is_symlink():
            os.unlink(link)
        os.rename(new, link)
    else:
        os.replace(tmp_link, link)
    _fsync_dir(run_dir)


def _remove_old_versions(run_dir: Path, versions: Path, keep: set[str]) -> None:
    """After a switch: versions other than the current and the previous one, and what
    poleax 0.1 left when killed while saving (``.checkpoint-old``, ``.checkpoint-*``)."""
    for path in _versions(versions):
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)
    for path in run_dir.glob(".checkpoint-*"):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)


def _remove_abandoned(run_dir: Path, versions: Path) -> None:
    """Temporary folders and links left by saves whose process was killed."""
    leftovers = [
        (path, path.name[len(_TMP_PREFIX) :].split("-")[0])
        for path in versions.glob(f"{_TMP_PREFIX}*")
    ]
    leftovers += [
        (path, path.name[len(_LINK_PREFIX) :]) for path in run_dir.glob(f"{_LINK_PREFIX}*")
    ]
    for path, pid in leftovers:
        if not pid.isdigit() or _alive(int(pid)):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (this one included: another thread may be saving)."""
    if pid == os.getpid() or os.name == "nt":  # on Windows, os.kill(pid, 0) is a Ctrl-C
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process
    return True


# --- reading ---------------------------------------------------------------------------------


def _check_run_dir(run_dir: Path) -> None:
    if not run_dir.exists():
        raise CheckpointError(f"run folder not found: {run_dir}")
    if not run_dir.is_dir():
        raise CheckpointError(f"not a run folder (a file): {run_dir}")


def _resolve(run_dir: Path) -> Path:
    """The folder holding the current checkpoint's files, resolved once.

    ``checkpoint`` itself (the version it links to, or the folder); without it, the newest
    version folder (a save was killed while moving a 0.1 folder aside); without those, what
    poleax 0.1 left when killed between its two renames. A path that does not exist if the
    run folder holds no checkpoint.
    """
    link = run_dir / CHECKPOINT_DIR
    if link.is_dir():
        return Path(os.path.realpath(link))
    newest = _versions(run_dir / VERSIONS_DIR)
    if newest:
        return newest[0]
    left = [p for p in run_dir.glob(".checkpoint-*") if (p / "meta.json").is_file()]
    if left:  # 0.1 wrote meta.json last: a folder with it is complete; the newest wins
        return max(left, key=lambda p: (p / "meta.json").stat().st_mtime)
    return link


def _reading(run_dir: str | Path, read: Callable[[Path, Path], T]) -> T:
    """``read(run_dir, folder)`` on the current checkpoint's folder; if it fails because a
    save replaced that checkpoint and removed it meanwhile, again on the new one."""
    run_dir = Path(run_dir)
    _check_run_dir(run_dir)
    folder = _resolve(run_dir)
    for attempt in range(_READ_ATTEMPTS):
        try:
            return read(run_dir, folder)
        except CheckpointError:
            again = _resolve(run_dir)
            if again == folder or attempt == _READ_ATTEMPTS - 1:
                raise
            folder = again
    raise AssertionError("unreachable")


def _shown(run_dir: Path, name: str) -> Path:
    """How a checkpoint file is named in messages: where the user sees it."""
    return run_dir / CHECKPOINT_DIR / name


def _read_meta(run_dir: Path, folder: Path) -> dict[str, Any]:
    path = folder / "meta.json"
    shown = _shown(run_dir, "meta.json")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CheckpointError(_no_checkpoint(run_dir)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise CheckpointError(f"corrupt checkpoint metadata in {shown}: {error}") from None
    try:
        meta = json.loads(text)
    except ValueError as error:
        raise CheckpointError(f"corrupt checkpoint metadata in {shown}: {error}") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"corrupt checkpoint metadata in {shown}: not a JSON object")
    version = meta.get("format_version")
    if not is_int(version) or version < 1:
        raise CheckpointError(
            f"corrupt checkpoint metadata in {shown}: format_version is {version!r}"
        )
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint format {version} is newer than this poleax reads ({FORMAT_VERSION}); "
            "upgrade poleax"
        )
    return meta


def _no_checkpoint(run_dir: Path) -> str:
    """Why ``run_dir`` has no checkpoint to read: a run stopped before its first save, a
    folder of another kind, or no run at all."""
    from poleax.files import describe, folder_kind

    kind = folder_kind(run_dir)
    if kind == "run" or (kind is None and (run_dir / "config.json").is_file()):
        return f"this run has not saved a checkpoint yet; rerun the command (run folder {run_dir})"
    if kind is not None:
        return f"{run_dir} holds {describe(kind)}, not a run"
    return f"not a poleax run (no {CHECKPOINT_DIR}/meta.json): {run_dir}"


def read_meta(run_dir: str | Path) -> dict[str, Any]:
    """The checkpoint's metadata, after checking the run folder and the format version."""
    return _reading(run_dir, _read_meta)


def _load_npz(path: Path, shown: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError("not an .npz archive")
            return {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint file missing: {shown}") from None
    except Exception as error:  # zipfile, OSError, ValueError, EOFError: all mean "corrupt"
        raise CheckpointError(f"corrupt checkpoint file {shown}: {error}") from None


def _network(meta: dict[str, Any]) -> NetworkSpec:
    """The checkpoint's network, every field checked."""
    data = meta.get("network")
    try:
        spec = NetworkSpec.from_dict(data)
        sizes = (spec.observation_size, spec.num_actions, *spec.hidden)
        ok = (
            all(is_int(n) and n >= 1 for n in sizes)
            and spec.activation in ACTIVATIONS
            and spec.init in INITS
            and isinstance(spec.shared, bool)
            and isinstance(spec.continuous, bool)
            and isinstance(spec.normalize_obs, bool)
            and isinstance(spec.log_std_init, int | float)
            and spec.actor_head in ACTOR_HEADS
        )
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise CheckpointError(f"checkpoint metadata lacks a valid network: {data!r}")
    return spec


def _read_policy(run_dir: Path, folder: Path, seed_index: int) -> tuple[dict, dict[str, Any]]:
    meta = _read_meta(run_dir, folder)
    spec = _network(meta)
    for field in ("env", "algo"):
        if not isinstance(meta.get(field), str):
            raise CheckpointError(f"checkpoint metadata lacks a valid {field}: {meta.get(field)!r}")
    if meta.get("trained") is False:
        raise CheckpointError(
            f"the run was stopped before training began; resume it: poleax train --resume {run_dir}"
        )
    seeds = meta.get("seeds", 1)
    if not is_int(seeds) or seeds < 1:
        raise CheckpointError(f"checkpoint metadata lacks a valid seeds: {seeds!r}")
    if not 0 <= seed_index < seeds:
        raise CheckpointError(f"seed index {seed_index} out of range; the run has {seeds} seed(s)")
    if meta["format_version"] == 1:
        arrays = _load_npz(folder / "policy.npz", _shown(run_dir, "policy.npz"))
        what = "checkpoint does not match its network"
        return _layers(arrays, f"seed{seed_index}/", spec, what), meta
    pool = _read_pool(run_dir, folder, meta, {})
    return pool.row(int(pool.delivered[seed_index])), meta


def load_policy_params(run_dir: str | Path, seed_index: int = 0) -> tuple[dict, dict[str, Any]]:
    """``(params, meta)`` of one seed's delivered policy, checked against the network spec;
    both from one checkpoint."""
    return _reading(run_dir, lambda run, folder: _read_policy(run, folder, seed_index))


def load_policy(run_dir: str | Path, seed_index: int = 0):
    """The delivered policy of a run folder (seed ``seed_index`` of a multi-seed run)."""
    from poleax.policy import Policy

    params, meta = load_policy_params(run_dir, seed_index)
    spec = NetworkSpec.from_dict(meta["network"])
    return Policy(params, spec, meta["env"], meta["algo"], meta)


def _layers(
    arrays: dict[str, np.ndarray],
    prefix: str,
    spec: NetworkSpec,
    what: str,
    rows: int | None = None,
) -> dict:
    """The parameters ``{prefix}{layer}/{name}`` of ``spec``, checked: shapes, float, finite.
    ``rows``: each array stacks that many parameter sets (a first axis)."""
    lead = () if rows is None else (rows,)
    params: dict[str, dict[str, np.ndarray]] = {}
    for layer, names in param_shapes(spec).items():
        params[layer] = {}
        for name, shape in names.items():
            key = f"{prefix}{layer}/{name}"
            if key not in arrays:
                raise CheckpointError(f"{what}: missing {key}")
            value = params[layer][name] = arrays[key]
            if value.shape != (*lead, *shape):
                need = list(shape)
                if name == "w" and value.shape[: len(lead)] == lead:  # the layer sizes
                    raise CheckpointError(
                        f"{what}: {layer} is {list(value.shape[len(lead) :])}, "
                        f"the network needs {need}"
                    )
                raise CheckpointError(f"{what}: {key} is {list(value.shape)}, not {[*lead, *need]}")
            if value.dtype.kind != "f":
                raise CheckpointError(f"{what}: {key} holds {value.dtype}, not floats")
            if not np.all(np.isfinite(value)):
                raise CheckpointError(f"checkpoint layer {layer} holds non-finite values")
    return params


class _Pool:
    """Format 2's ``policy.npz``: each parameter set once (see the module's docstring)."""

    def __init__(self, params: dict, extra: dict | None, delivered: np.ndarray, seeds: int):
        self.params, self.extra, self.delivered, self.seeds = params, extra, delivered, seeds
        self.size = seeds + (len(next(iter(_flat(extra).values()))) if extra else 0)

    def row(self, at: int) -> dict:
        """Pool row ``at``'s parameters, ``{layer: {name: array}}``."""
        source, i = (self.params, at) if at < self.seeds else (self.extra, at - self.seeds)
        return {layer: {k: v[i].copy() for k, v in d.items()} for layer, d in source.items()}


def _read_pool(run_dir: Path, folder: Path, meta: dict[str, Any], cache: dict) -> _Pool:
    """The checkpoint's parameter pool, every array checked (read once per ``cache``)."""
    if "pool" in cache:
        return cache["pool"]
    shown = _shown(run_dir, "policy.npz")
    spec = _network(meta)
    seeds = meta.get("seeds", 1)
    if not is_int(seeds) or seeds < 1:
        raise CheckpointError(f"checkpoint metadata lacks a valid seeds: {seeds!r}")
    arrays = _load_npz(folder / "policy.npz", shown)
    what = "checkpoint does not match its network"
    params = _layers(arrays, "params/", spec, what, rows=seeds)
    extra_keys = [k for k in arrays if k.startswith("extra/")]
    extra = None
    if extra_keys:
        rows = arrays[extra_keys[0]].shape[:1]
        extra = _layers(arrays, "extra/", spec, what, rows=rows[0] if rows else -1)
    known = {"delivered"} | {f"{p}/{k}" for p in ("params", "extra") for k in _flat(params)}
    unexpected = sorted(set(arrays) - known)
    if unexpected:
        raise CheckpointError(f"corrupt checkpoint file {shown}: unexpected {unexpected[:3]}")
    pool = _Pool(params, extra, np.zeros(0, np.int64), seeds)
    pool.delivered = _pool_rows(arrays.get("delivered"), (seeds,), pool.size, f"{shown}: delivered")
    cache["pool"] = pool
    return pool


def _pool_rows(value, shape: tuple[int, ...], size: int, what: str) -> np.ndarray:
    """``value`` checked as ``shape`` rows of a pool of ``size``."""
    if value is None:
        raise CheckpointError(f"corrupt checkpoint file {what} missing")
    if (
        value.shape != shape
        or value.dtype.kind not in "iu"
        or not np.all((value >= 0) & (value < size))
    ):
        raise CheckpointError(
            f"corrupt checkpoint file {what} is {value.dtype}{list(value.shape)}, not "
            f"{list(shape)} rows below {size}"
        )
    return value.astype(np.int64)


def _read_state(
    run_dir: Path,
    folder: Path,
    template,
    cache: dict | None = None,
    known: dict[str, np.ndarray] | None = None,
) -> Any:
    """The state shaped like ``template``; ``known`` gives the leaves an older checkpoint
    lacks (by key), where the rest of the checkpoint determines them."""
    import jax

    cache = {} if cache is None else cache
    arrays = _load_npz(folder / "state.npz", _shown(run_dir, "state.npz"))
    leaf_keys = {
        jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(template)[0]
    }
    arrays.update({k: v for k, v in (known or {}).items() if k in leaf_keys and k not in arrays})
    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    row_keys = _row_keys(template)
    restored = []
    for path, leaf in leaves:
        key = jax.tree_util.keystr(path)
        if key not in arrays and key.startswith(".params[") and len(path) == 3:
            meta = _read_meta(run_dir, folder)  # format 2 keeps the parameters in the pool
            if meta["format_version"] >= 2:
                params = _read_pool(run_dir, folder, meta, cache).params
                layer, name = (getattr(p, "key", None) for p in path[1:])
                if name in params.get(layer, {}):
                    arrays[key] = params[layer][name]
        if key not in arrays and _legacy_key(key) in arrays:  # a 0.1 checkpoint's name
            arrays[key] = arrays.pop(_legacy_key(key))
        if key not in arrays:
            raise CheckpointError(
                f"checkpoint state does not fit this algorithm/network (missing {key})"
            )
        value = arrays[key]
        shape = tuple(leaf.shape)
        filled_rows = (
            key in row_keys
            and value.ndim == len(shape) >= 2
            and value.shape[1] < shape[1]
            and value.shape[:1] + value.shape[2:] == shape[:1] + shape[2:]
        )
        if filled_rows:  # saved up to the filled rows: the rest are zeros
            padded = np.zeros(shape, value.dtype)
            padded[:, : value.shape[1]] = value
            value = padded
        if value.shape != shape or value.dtype != leaf.dtype:
            raise CheckpointError(
                f"checkpoint state does not fit this algorithm/network: {key} is "
                f"{value.dtype}{list(value.shape)}, expected {leaf.dtype}{list(leaf.shape)}"
            )
        restored.append(value)
    if len(arrays) != len(leaves):
        extra = sorted(set(arrays) - {jax.tree_util.keystr(p) for p, _ in leaves})
        raise CheckpointError(
            f"checkpoint state does not fit this algorithm/network (unexpected {extra[:3]})"
        )
    return jax.tree_util.tree_unflatten(treedef, restored)


def _legacy_key(key: str) -> str:
    """The name poleax 0.1 gave a state leaf, when ``extra`` was a dict of string keys:
    ``.extra.hparams.lr`` was ``.extra['hparams']['lr']``."""
    head, dot, rest = key.partition(".extra.")
    if not dot:
        return key
    return head + ".extra" + "".join(f"['{part}']" for part in rest.split("."))


def load_state(run_dir: str | Path, template) -> Any:
    """The saved training state, shaped like ``template`` (a pytree of shapes), or an error."""
    return _reading(run_dir, lambda run, folder: _read_state(run, folder, template))


def load_history(run_dir: str | Path, seeds: int) -> History:
    """The host-side history a resumed run continues from, every field checked."""
    return _reading(run_dir, lambda run, folder: _read_history(run, folder, seeds))


def load_resume(run_dir: str | Path, template, seeds: int) -> tuple[dict, Any, History]:
    """``(meta, state, history)`` for ``--resume``, all three from one checkpoint."""

    def read(run: Path, folder: Path):
        cache: dict = {}  # the parameter pool, read once for the state and the history
        meta = _read_meta(run, folder)
        history = _read_history(run, folder, seeds, cache)
        # mc-ac counts its env steps in its state since 0.3; before, only the history did.
        known = {".extra.env_steps": np.asarray(history.env_steps, np.int32)}
        return meta, _read_state(run, folder, template, cache, known), history

    return _reading(run_dir, read)


def has_checkpoint(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` holds a checkpoint (``checkpoint/`` or a version of one)."""
    run_dir = Path(run_dir)
    return run_dir.is_dir() and (_resolve(run_dir) / "meta.json").is_file()


# --- history ---------------------------------------------------------------------------------


def _read_history(run_dir: Path, folder: Path, seeds: int, cache: dict | None = None) -> History:
    shown = _shown(run_dir, "history.json")
    arrays = _load_npz(folder / "history.npz", _shown(run_dir, "history.npz"))
    try:
        info = json.loads((folder / "history.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint file missing: {shown}") from None
    except (OSError, ValueError) as error:
        raise CheckpointError(f"corrupt checkpoint history in {shown}: {error}") from None
    snapshots = _pooled_snapshots(run_dir, folder, arrays, seeds, {} if cache is None else cache)
    spec = _snapshot_spec(run_dir, folder) if snapshots is None else None

    def check_params(params: dict, what: str) -> None:
        if spec is not None:
            flat = {f"{layer}/{k}": v for layer, d in params.items() for k, v in d.items()}
            _layers(flat, "", spec, what)

    try:
        history = History.from_saved(arrays, info, seeds, check_params)
    except HistoryError as error:
        raise CheckpointError(f"corrupt checkpoint history in {shown}: {error}") from None
    if snapshots:
        history.snapshots.update(snapshots)
    return history


def _pooled_snapshots(
    run_dir: Path, folder: Path, arrays: dict[str, np.ndarray], seeds: int, cache: dict
) -> dict[int, dict] | None:
    """Format 2: the snapshots ``snapshot/rows`` and ``snapshot/pool`` name (removed from
    ``arrays``); ``None`` for format 1, whose snapshots are arrays of their own."""
    meta = _read_meta(run_dir, folder)
    if meta["format_version"] < 2:
        return None
    shown = _shown(run_dir, "history.npz")
    apart = sorted(k for k in arrays if k.startswith("snapshot") and "/" in k[8:])
    if any(k not in ("snapshot/rows", "snapshot/pool") for k in apart):
        raise CheckpointError(f"corrupt checkpoint history in {shown}: unexpected {apart[:3]}")
    rows, at = arrays.pop("snapshot/rows", None), arrays.pop("snapshot/pool", None)
    if rows is None or at is None:
        raise CheckpointError(f"corrupt checkpoint history in {shown}: no snapshot/rows, /pool")
    one_axis = (rows.size,) if rows.ndim == 1 else (-1,)
    rows = _pool_rows(rows, one_axis, seeds, f"{shown}: snapshot/rows")
    if len(set(rows.tolist())) != len(rows):
        raise CheckpointError(f"corrupt checkpoint history in {shown}: a seed's snapshot twice")
    if not len(rows):
        return {}
    pool = _read_pool(run_dir, folder, meta, cache)
    at = _pool_rows(at, rows.shape, pool.size, f"{shown}: snapshot/pool")
    return {int(r): pool.row(int(j)) for r, j in zip(rows, at, strict=True)}


def _snapshot_spec(run_dir: Path, folder: Path) -> NetworkSpec | None:
    """The network snapshots must fit, if the checkpoint's metadata names one."""
    try:
        return _network(_read_meta(run_dir, folder))
    except CheckpointError:
        return None
