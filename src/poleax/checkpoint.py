"""Checkpoints: arrays in .npz plus JSON metadata, written atomically, never pickled.

A run's ``checkpoint/`` folder holds
- ``meta.json``: format version, poleax version, env, algorithm, network, seeds, progress;
- ``policy.npz``: the delivered policy of each seed (``seed{i}/{layer}/{w|b}``);
- ``state.npz``: the full training state of all seeds, for ``--resume``;
- ``history.npz`` and ``history.json``: curves and solve points so far.
The folder is written beside the old one and renamed into place, so a crash at any moment
leaves either the previous checkpoint or the new one.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from poleax._version import __version__
from poleax.networks import NetworkSpec, layer_names, layer_shapes

FORMAT_VERSION = 1
CHECKPOINT_DIR = "checkpoint"


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, or does not fit; the message says which."""


def _flatten_params(params_per_seed: list[dict]) -> dict[str, np.ndarray]:
    return {
        f"seed{i}/{layer}/{name}": np.asarray(value)
        for i, params in enumerate(params_per_seed)
        for layer, arrays in params.items()
        for name, value in arrays.items()
    }


def _tree_arrays(tree) -> dict[str, np.ndarray]:
    import jax

    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def save(
    run_dir: str | Path,
    meta: dict[str, Any],
    policies: list[dict],
    state=None,
    history: dict[str, Any] | None = None,
) -> Path:
    """Write ``run_dir/checkpoint`` atomically; return its path."""
    run_dir = Path(run_dir)
    final = run_dir / CHECKPOINT_DIR
    tmp = Path(tempfile.mkdtemp(prefix=".checkpoint-", dir=run_dir))
    try:
        meta = {"format_version": FORMAT_VERSION, "poleax_version": __version__, **meta}
        np.savez(tmp / "policy.npz", **_flatten_params(policies))
        if state is not None:
            np.savez(tmp / "state.npz", **_tree_arrays(state))
        if history is not None:
            arrays, info = _split_history(history)
            np.savez(tmp / "history.npz", **arrays)
            (tmp / "history.json").write_text(json.dumps(info))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        for f in tmp.iterdir():
            with open(f, "rb") as handle:
                os.fsync(handle.fileno())
        old = run_dir / ".checkpoint-old"
        if final.exists():
            if old.exists():
                shutil.rmtree(old)
            final.rename(old)
        tmp.rename(final)
        if old.exists():
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _split_history(history: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays = {"env_steps": np.asarray(history["env_steps"])}
    for name, chunks in history["metrics"].items():
        arrays[f"metrics/{name}"] = np.concatenate(chunks, axis=1)
    for i, params in history["snapshots"].items():
        for layer, values in params.items():
            for key, value in values.items():
                arrays[f"snapshot{i}/{layer}/{key}"] = np.asarray(value)
    info = {
        "chunks": history["chunks"],
        "seconds": history["seconds"],
        "evaluations": history["evaluations"],
        "steps_to_solve": history["steps_to_solve"],
        "seconds_to_solve": history["seconds_to_solve"],
        "chunk_lengths": [c.shape[1] for c in next(iter(history["metrics"].values()), [])],
    }
    return arrays, info


def read_meta(run_dir: str | Path) -> dict[str, Any]:
    """The checkpoint's metadata, after checking the run folder and the format version."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise CheckpointError(f"run folder not found: {run_dir}")
    if not run_dir.is_dir():
        raise CheckpointError(f"not a run folder (a file): {run_dir}")
    meta_path = run_dir / CHECKPOINT_DIR / "meta.json"
    if not meta_path.exists():
        raise CheckpointError(f"not a poleax run (no {CHECKPOINT_DIR}/meta.json): {run_dir}")
    try:
        meta = json.loads(meta_path.read_text())
        version = int(meta["format_version"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"corrupt checkpoint metadata in {meta_path}: {error}") from None
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint format {version} is newer than this poleax reads ({FORMAT_VERSION}); "
            "upgrade poleax"
        )
    return meta


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise CheckpointError(f"checkpoint file missing: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except Exception as error:  # zipfile, OSError, ValueError: all mean "corrupt"
        raise CheckpointError(f"corrupt checkpoint file {path}: {error}") from None


def load_policy_params(run_dir: str | Path, seed_index: int = 0) -> tuple[dict, dict[str, Any]]:
    """``(params, meta)`` of one seed's delivered policy, checked against the network spec."""
    meta = read_meta(run_dir)
    try:
        spec = NetworkSpec.from_dict(meta["network"])
    except (KeyError, TypeError) as error:
        raise CheckpointError(f"checkpoint metadata lacks a valid network: {error}") from None
    if meta.get("trained") is False:
        raise CheckpointError(
            f"the run was stopped before training began; resume it: poleax train --resume {run_dir}"
        )
    seeds = int(meta.get("seeds", 1))
    if not 0 <= seed_index < seeds:
        raise CheckpointError(f"seed index {seed_index} out of range; the run has {seeds} seed(s)")
    arrays = _load_npz(Path(run_dir) / CHECKPOINT_DIR / "policy.npz")
    params = {}
    for layer in layer_names(spec):
        params[layer] = {}
        for name in ("w", "b"):
            key = f"seed{seed_index}/{layer}/{name}"
            if key not in arrays:
                raise CheckpointError(f"checkpoint does not match its network: missing {key}")
            params[layer][name] = arrays[key]
    _check_shapes(params, spec)
    return params, meta


def _check_shapes(params: dict, spec: NetworkSpec) -> None:
    for layer, (fan_in, fan_out, _) in layer_shapes(spec).items():
        w, b = params[layer]["w"], params[layer]["b"]
        if w.shape != (fan_in, fan_out) or b.shape != (fan_out,):
            raise CheckpointError(
                f"checkpoint does not match its network: {layer} is {list(w.shape)}, "
                f"the network needs {[fan_in, fan_out]}"
            )
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise CheckpointError(f"checkpoint layer {layer} holds non-finite values")


def load_state(run_dir: str | Path, template) -> Any:
    """The saved training state, shaped like ``template`` (a pytree of shapes), or an error."""
    import jax

    arrays = _load_npz(Path(run_dir) / CHECKPOINT_DIR / "state.npz")
    leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
    restored = []
    for path, leaf in leaves:
        key = jax.tree_util.keystr(path)
        if key not in arrays:
            raise CheckpointError(
                f"checkpoint state does not fit this algorithm/network (missing {key})"
            )
        value = arrays[key]
        if value.shape != tuple(leaf.shape) or value.dtype != leaf.dtype:
            raise CheckpointError(
                f"checkpoint state does not fit this algorithm/network: {key} is "
                f"{value.dtype}{list(value.shape)}, expected {leaf.dtype}{list(leaf.shape)}"
            )
        restored.append(value)
    if len(arrays) != len(leaves):
        raise CheckpointError("checkpoint state does not fit this algorithm/network")
    return jax.tree_util.tree_unflatten(treedef, [leaf for leaf in restored])


def load_history(run_dir: str | Path, seeds: int) -> dict[str, Any]:
    """The host-side history a resumed run continues from."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    arrays = _load_npz(folder / "history.npz")
    try:
        info = json.loads((folder / "history.json").read_text())
    except (OSError, ValueError) as error:
        raise CheckpointError(f"corrupt checkpoint history: {error}") from None
    metrics: dict[str, list[np.ndarray]] = {}
    bounds = np.cumsum([0, *info["chunk_lengths"]])
    snapshots: dict[int, dict] = {}
    for key, value in arrays.items():
        if key.startswith("metrics/"):
            name = key[len("metrics/") :]
            metrics[name] = [value[:, a:b] for a, b in itertools.pairwise(bounds)]
        elif key.startswith("snapshot"):
            head, layer, leaf = key.split("/")
            snapshots.setdefault(int(head[len("snapshot") :]), {}).setdefault(layer, {})[leaf] = (
                value
            )
    return {
        "chunks": info["chunks"],
        "seconds": info["seconds"],
        "env_steps": arrays["env_steps"].astype(np.int64),
        "metrics": metrics,
        "evaluations": info["evaluations"],
        "steps_to_solve": info["steps_to_solve"],
        "seconds_to_solve": info["seconds_to_solve"],
        "snapshots": snapshots,
    }
