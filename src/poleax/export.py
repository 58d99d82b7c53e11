"""A trained policy outside Python's poleax: an ONNX graph, or a self-describing JSON file.

``to_onnx(policy)`` builds the whole forward pass as an ONNX graph (observation
normalisation, the MLP, the greedy action, the distribution's parameters and the critic's
value) from the saved weights with onnx's helper API; any ONNX runtime then acts as the
numpy ``Policy`` does. ``to_json(policy)`` writes every parameter as nested lists beside the
network spec, the env id and the action space (what a web page would embed);
``policy_from_json`` reads it back into a ``Policy``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np

from poleax.envs.spec import Box, Discrete
from poleax.networks import (
    LOG_STD_MAX,
    LOG_STD_MIN,
    NORM_CLIP,
    NORM_EPS,
    NetworkSpec,
    layer_names,
)
from poleax.policy import Policy

FORMATS = ("onnx", "json")
OPSET = 17
JSON_FORMAT = "poleax-policy"
JSON_VERSION = 1
INSTALL_HINT = 'pip install "poleax[export]"'


class ExportUnavailable(RuntimeError):
    """onnx is not installed."""


def action_space_dict(space: Discrete | Box) -> dict[str, Any]:
    """An action space as JSON data."""
    if isinstance(space, Discrete):
        return {"type": "discrete", "n": int(space.n)}
    if isinstance(space, Box):
        return {"type": "box", "low": list(space.low), "high": list(space.high)}
    raise TypeError(f"no export for action space {space!r}")


# --- JSON -------------------------------------------------------------------------------


def policy_dict(policy: Policy) -> dict[str, Any]:
    """The policy as plain JSON data: spec, env, action space and every parameter."""
    spec = policy.spec
    data: dict[str, Any] = {
        "format": JSON_FORMAT,
        "format_version": JSON_VERSION,
        "env_id": policy.env_id,
        "algo": policy.algo,
        "network": spec.to_dict(),
        "observation_size": spec.observation_size,
        "action_space": action_space_dict(policy.env_spec.action_space),
        "layers": layer_names(spec),
        "forward": (
            "obs -> (obs - obs_norm.mean) / sqrt(obs_norm.var + eps), clipped to +-clip "
            "(when network.normalize_obs) -> each hidden layer h @ w + b then activation "
            "(the trunk_i layers when network.shared, else actor_i and critic_i towers) -> "
            "actor_out gives logits (discrete; greedy action = argmax) or the mean "
            "(continuous; greedy action = mean clipped to the action space, std = "
            "exp(log_std.value)); critic_out gives the state value. network.actor_head "
            "squashed (sac): actor_out gives the mean then the log-std (clipped to [-20, 2]); "
            "squashed or deterministic (td3, ddpg): greedy action = low + (tanh(mean) + 1) * "
            "(high - low) / 2, and there is no critic"
        ),
        "params": {
            layer: {name: np.asarray(value, np.float32).tolist() for name, value in arrays.items()}
            for layer, arrays in policy.params.items()
        },
    }
    if spec.normalize_obs:
        data["normalization"] = {"clip": NORM_CLIP, "eps": NORM_EPS}
    return data


def to_json(policy: Policy, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(policy_dict(policy)), encoding="utf-8")
    return path


def policy_from_json(path_or_data: str | Path | dict[str, Any]) -> Policy:
    """The ``Policy`` a JSON export describes (its parameters exactly as saved)."""
    data = path_or_data
    if not isinstance(data, dict):
        data = json.loads(Path(path_or_data).read_text(encoding="utf-8"))
    if data.get("format") != JSON_FORMAT:
        raise ValueError(f"not a poleax policy export (format {data.get('format')!r})")
    params = {
        layer: {name: np.asarray(value, np.float32) for name, value in arrays.items()}
        for layer, arrays in data["params"].items()
    }
    spec = NetworkSpec.from_dict(data["network"])
    return Policy(params, spec, data["env_id"], data.get("algo", ""))


# --- ONNX -------------------------------------------------------------------------------


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ExportUnavailable(f"ONNX export needs onnx: {INSTALL_HINT}") from None
    return onnx


class _Graph:
    """Nodes and constants of the graph being built, with fresh names."""

    def __init__(self, onnx) -> None:
        self.onnx = onnx
        self.nodes: list = []
        self.initializers: list = []
        self.count = 0

    def const(self, name: str, value: np.ndarray) -> str:
        tensor = self.onnx.numpy_helper.from_array(np.asarray(value), name)
        self.initializers.append(tensor)
        return name

    def op(self, op_type: str, inputs: list[str], output: str | None = None, **attrs) -> str:
        self.count += 1
        output = output or f"{op_type.lower()}_{self.count}"
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, [output], **attrs))
        return output


def _observation(g: _Graph, spec, params) -> str:
    """The graph's input, normalised with the frozen statistics where the network does."""
    h = "obs"
    if spec.normalize_obs:
        stats = params["obs_norm"]
        std = np.sqrt(stats["var"].astype(np.float32) + np.float32(NORM_EPS)).astype(np.float32)
        h = g.op("Sub", [h, g.const("obs_norm.mean", stats["mean"].astype(np.float32))])
        h = g.op("Div", [h, g.const("obs_norm.std", std)])
        lo, hi = (
            g.const("clip.low", np.float32(-NORM_CLIP)),
            g.const("clip.high", np.float32(NORM_CLIP)),
        )
        h = g.op("Clip", [h, lo, hi], "obs_normalized")
    return h


def _dense(g: _Graph, params, x: str, layer: str, out: str | None = None) -> str:
    """``x @ w + b`` of one layer of ``params``."""
    w = g.const(f"{layer}.w", params[layer]["w"].astype(np.float32))
    b = g.const(f"{layer}.b", params[layer]["b"].astype(np.float32))
    return g.op("Add", [g.op("MatMul", [x, w]), b], out)


def _continuous_action(g: _Graph, policy: Policy, dense, actor_h: str) -> None:
    """Nodes ``mean``, ``log_std`` and the greedy ``action`` after the actor's last hidden
    layer ``actor_h``."""
    spec, k = policy.spec, policy.spec.num_actions
    space = policy.env_spec.action_space
    low = g.const("action.low", np.asarray(space.low, np.float32))
    high = g.const("action.high", np.asarray(space.high, np.float32))
    if spec.actor_head == "squashed":  # one head: mean, then the state-dependent log-std
        head = dense(actor_h, "actor_out")
        mean = g.op("Slice", [head, *_slice(g, 0, k)], "mean")
        raw = g.op("Slice", [head, *_slice(g, k, 2 * k)])
        bounds = (g.const("log_std.min", np.float32(LOG_STD_MIN)),)
        bounds += (g.const("log_std.max", np.float32(LOG_STD_MAX)),)
        g.op("Clip", [raw, *bounds], "log_std")
    else:
        mean = dense(actor_h, "actor_out", "mean")
        log_std = g.const("log_std.value", policy.params["log_std"]["value"].astype(np.float32))
        g.op("Expand", [log_std, g.op("Shape", [mean])], "log_std")
    if spec.actor_head == "gaussian":
        g.op("Min", [g.op("Max", [mean, low]), high], "action")
    else:  # the squashed mean scaled onto the bounds: low + (tanh(mean) + 1) (high - low) / 2
        half = g.const(
            "action.half_range", ((np.asarray(space.high) - space.low) / 2).astype(np.float32)
        )
        one = g.const("one", np.float32(1.0))
        scaled = g.op("Add", [low, g.op("Mul", [g.op("Add", [g.op("Tanh", [mean]), one]), half])])
        g.op("Min", [g.op("Max", [scaled, low]), high], "action")


def to_onnx_model(policy: Policy):
    """The policy as an ``onnx.ModelProto``: input ``obs`` [N, obs_size] float32; outputs
    ``action`` (int64 [N], or float32 [N, k]), ``logits`` (or ``mean`` and ``log_std``) and
    ``value`` [N]. For sac, td3 and ddpg (``spec.actor_head`` squashed or deterministic)
    ``action`` is the greedy squashed action ``tanh(mean)`` scaled onto the bounds, ``mean`` and
    ``log_std`` are before the squash, and there is no ``value`` (their critics are Q networks
    kept out of the policy)."""
    onnx = _onnx()
    helper, TensorProto = onnx.helper, onnx.TensorProto
    spec, params = policy.spec, policy.params
    g = _Graph(onnx)
    h = _observation(g, spec, params)
    act = "Relu" if spec.activation == "relu" else "Tanh"
    dense = functools.partial(_dense, g, params)

    def tower(prefix: str) -> str:
        x = h
        for i in range(len(spec.hidden)):
            x = g.op(act, [dense(x, f"{prefix}_{i}")], f"{prefix}_{i}.out")
        return x

    if spec.shared:
        actor_h = critic_h = tower("trunk")
    elif spec.has_value:
        actor_h, critic_h = tower("actor"), tower("critic")
    else:  # sac, td3, ddpg: the actor alone (their Q critics are not part of the policy)
        actor_h, critic_h = tower("actor"), None
    k = spec.num_actions
    outputs = []
    if spec.continuous:
        _continuous_action(g, policy, dense, actor_h)
        outputs += [
            helper.make_tensor_value_info("action", TensorProto.FLOAT, ["N", k]),
            helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["N", k]),
            helper.make_tensor_value_info("log_std", TensorProto.FLOAT, ["N", k]),
        ]
    else:
        logits = dense(actor_h, "actor_out", "logits")
        g.op("ArgMax", [logits], "action", axis=1, keepdims=0)
        outputs += [
            helper.make_tensor_value_info("action", TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", k]),
        ]
    if critic_h is not None:
        value = dense(critic_h, "critic_out")
        g.op("Squeeze", [value, g.const("squeeze.axes", np.asarray([1], np.int64))], "value")
        outputs.append(helper.make_tensor_value_info("value", TensorProto.FLOAT, ["N"]))
    graph = helper.make_graph(
        g.nodes,
        f"poleax_{policy.algo or 'policy'}_{policy.env_id}".replace("-", "_"),
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["N", spec.observation_size])],
        outputs,
        g.initializers,
    )
    model = helper.make_model(
        graph, producer_name="poleax", opset_imports=[helper.make_opsetid("", OPSET)]
    )
    model.ir_version = 8  # what onnxruntime releases of the last years all read
    meta = {"env_id": policy.env_id, "algo": policy.algo, "network": json.dumps(spec.to_dict())}
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    return model


def _slice(g: _Graph, start: int, end: int) -> list[str]:
    """Constants of ONNX's Slice along the last axis: starts, ends, axes."""
    g.count += 1
    return [
        g.const(f"slice{g.count}.{name}", np.asarray([value], np.int64))
        for name, value in (("starts", start), ("ends", end), ("axes", -1))
    ]


def to_onnx(policy: Policy, path: str | Path) -> Path:
    path = Path(path)
    path.write_bytes(to_onnx_model(policy).SerializeToString())
    return path


def export(policy: Policy, fmt: str, path: str | Path) -> Path:
    """Write ``policy`` as ``fmt`` ("onnx" or "json") to ``path``."""
    if fmt == "onnx":
        return to_onnx(policy, path)
    if fmt == "json":
        return to_json(policy, path)
    raise ValueError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
