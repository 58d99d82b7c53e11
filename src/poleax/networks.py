"""Actor-critic networks as plain arrays: one forward pass for JAX and for numpy.

Parameters are a dict of ``{"w": [in, out], "b": [out]}`` layers. ``apply`` takes the array
module (``jax.numpy`` or ``numpy``) so a trained policy runs in numpy without jit overhead.
JAX computes in the parameters' float32; numpy computes in the dtype it is given, and the
numpy ``Policy`` gives it float64 (``float64_params``): a forward pass any float64 platform
(a browser's JavaScript included) reproduces but for its last bits, where numpy's float32
``tanh`` and BLAS's order of summation round differently from machine to machine.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

Params = dict[str, dict[str, Any]]

ACTIVATIONS = ("relu", "tanh")
INITS = ("glorot", "orthogonal")
#: What a continuous actor's head is (``NetworkSpec.actor_head``).
ACTOR_HEADS = ("gaussian", "squashed", "deterministic")
#: The bounds of a squashed actor's state-dependent log-std (SB3's ``LOG_STD_MIN``/``MAX``).
LOG_STD_MIN = -20.0
LOG_STD_MAX = 2.0


@dataclass(frozen=True)
class NetworkSpec:
    """The shape of an actor-critic network."""

    observation_size: int = 4
    num_actions: int = 2
    hidden: tuple[int, ...] = (64, 64)
    """Widths of the hidden layers."""
    activation: str = "tanh"
    """Hidden activation: relu or tanh."""
    shared: bool = False
    """One trunk with two heads (the tutorial's network), else separate actor and critic."""
    init: str = "orthogonal"
    """Weight init: glorot (Keras' default) or orthogonal (PPO's usual, small policy head)."""
    continuous: bool = False
    """The actor outputs the mean of each action dimension, beside a state-independent
    log-std parameter (``log_std``); else it outputs logits."""
    log_std_init: float = 0.0
    """The log-std parameter's initial value (continuous actions)."""
    normalize_obs: bool = False
    """Observations are standardised by running statistics kept in the parameters
    (``obs_norm``: mean, variance, count), before the first layer."""
    actor_head: str = "gaussian"
    """A continuous actor's head. ``gaussian``: the mean beside a state-independent
    ``log_std`` parameter, with a state-value critic (PPO, A2C). ``squashed``: the head
    outputs the mean and a state-dependent log-std (clipped to [-20, 2]) of a tanh-squashed
    Gaussian (SAC). ``deterministic``: the head outputs the pre-tanh action; ``log_std`` is the
    fixed scale of the exploration noise (TD3, DDPG). The off-policy heads have no state-value
    critic in these parameters: their Q critics are the algorithm's own."""

    @property
    def has_value(self) -> bool:
        """Whether the parameters hold a state-value critic (``critic_*`` layers)."""
        return self.actor_head == "gaussian"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "hidden": list(self.hidden)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkSpec:
        return cls(**{**data, "hidden": tuple(data["hidden"])})


def layer_names(spec: NetworkSpec) -> list[str]:
    """Names of the layers, in the order ``apply`` uses them."""
    n = len(spec.hidden)
    if spec.shared:
        return [f"trunk_{i}" for i in range(n)] + ["actor_out", "critic_out"]
    actor = [f"actor_{i}" for i in range(n)] + ["actor_out"]
    if not spec.has_value:
        return actor
    critic = [f"critic_{i}" for i in range(n)] + ["critic_out"]
    return actor + critic


def layer_shapes(spec: NetworkSpec) -> dict[str, tuple[int, int, float]]:
    """``(fan_in, fan_out, orthogonal_gain)`` of each layer, in ``layer_names`` order."""
    sizes = (spec.observation_size, *spec.hidden)
    shapes: dict[str, tuple[int, int, float]] = {}
    for prefix in ["trunk"] if spec.shared else ["actor", "critic"]:
        for i in range(len(spec.hidden)):
            shapes[f"{prefix}_{i}"] = (sizes[i], sizes[i + 1], math.sqrt(2))
    outputs = spec.num_actions * (2 if spec.actor_head == "squashed" else 1)
    shapes["actor_out"] = (sizes[-1], outputs, 0.01)
    shapes["critic_out"] = (sizes[-1], 1, 1.0)
    return {name: shapes[name] for name in layer_names(spec)}


#: Standardised observations are clipped to this many standard deviations (SB3's
#: VecNormalize default), and the variance is floored by ``NORM_EPS``.
NORM_CLIP = 10.0
NORM_EPS = 1e-8


def param_shapes(spec: NetworkSpec) -> dict[str, dict[str, tuple[int, ...]]]:
    """Every parameter array of ``spec``: ``{layer: {name: shape}}`` (dense layers' ``w``
    and ``b``, then ``log_std`` and ``obs_norm`` where the spec has them)."""
    shapes: dict[str, dict[str, tuple[int, ...]]] = {
        name: {"w": (fan_in, fan_out), "b": (fan_out,)}
        for name, (fan_in, fan_out, _) in layer_shapes(spec).items()
    }
    if spec.continuous and spec.actor_head != "squashed":
        shapes["log_std"] = {"value": (spec.num_actions,)}
    if spec.normalize_obs:
        size = spec.observation_size
        shapes["obs_norm"] = {"mean": (size,), "var": (size,), "count": ()}
    return shapes


def init_params(key, spec: NetworkSpec) -> Params:
    """Draw initial parameters for ``spec`` (weights as ``init`` says, biases zero).

    All weights come from one draw of random numbers, sliced per layer: one random-number
    kernel keeps compilation short. Orthogonal weights are the Q of the QR decomposition of a
    Gaussian matrix (R's diagonal positive), times the layer's gain; glorot is Keras' uniform
    default.
    """
    import jax
    import jax.numpy as jnp

    shapes = layer_shapes(spec)
    total = sum(fan_in * fan_out for fan_in, fan_out, _ in shapes.values())
    if spec.init == "orthogonal":
        draws = jax.random.normal(key, (total,), jnp.float32)
    else:
        draws = jax.random.uniform(key, (total,), jnp.float32, -1.0, 1.0)
    params, offset = {}, 0
    for name, (fan_in, fan_out, gain) in shapes.items():
        block = draws[offset : offset + fan_in * fan_out]
        offset += fan_in * fan_out
        if spec.init == "orthogonal":
            q = orthonormal_columns(block.reshape(max(fan_in, fan_out), min(fan_in, fan_out)))
            w = gain * (q if fan_in >= fan_out else q.T)
        else:
            w = block.reshape(fan_in, fan_out) * math.sqrt(6.0 / (fan_in + fan_out))
        params[name] = {"w": w, "b": jnp.zeros((fan_out,), jnp.float32)}
    if spec.continuous and spec.actor_head != "squashed":
        params["log_std"] = {"value": jnp.full((spec.num_actions,), spec.log_std_init, jnp.float32)}
    if spec.normalize_obs:
        size = spec.observation_size
        params["obs_norm"] = {
            "mean": jnp.zeros((size,), jnp.float32),
            "var": jnp.ones((size,), jnp.float32),
            "count": jnp.float32(1e-4),  # as SB3's RunningMeanStd starts
        }
    return params


def float64_params(params: Params) -> Params:
    """``params`` as numpy float64 arrays (exact: float32 values upcast), what the numpy
    forward pass computes with."""
    return {
        name: {k: np.asarray(v, np.float64) for k, v in layer.items()}
        for name, layer in params.items()
    }


def normalized(params: Params, obs, spec: NetworkSpec, xp: Any = None):
    """``obs`` standardised by the running statistics in ``params`` (when the spec keeps
    them; else ``obs`` itself). No gradient flows into the statistics."""
    if not spec.normalize_obs:
        return obs
    if xp is None:
        import jax.numpy as xp
    stats = params["obs_norm"]
    mean, var = stats["mean"], stats["var"]
    if xp is not np:
        import jax

        mean, var = jax.lax.stop_gradient(mean), jax.lax.stop_gradient(var)
    return xp.clip((obs - mean) / xp.sqrt(var + NORM_EPS), -NORM_CLIP, NORM_CLIP)


def update_obs_norm(params: Params, obs, spec: NetworkSpec) -> Params:
    """``params`` with its observation statistics updated by a batch ``obs[..., size]``
    (the parallel form of Welford's algorithm, as SB3's RunningMeanStd)."""
    if not spec.normalize_obs:
        return params
    import jax.numpy as jnp

    batch = obs.reshape(-1, spec.observation_size).astype(jnp.float32)
    stats = params["obs_norm"]
    n = jnp.float32(batch.shape[0])
    batch_mean, batch_var = batch.mean(0), batch.var(0)
    total = stats["count"] + n
    delta = batch_mean - stats["mean"]
    mean = stats["mean"] + delta * n / total
    m2 = stats["var"] * stats["count"] + batch_var * n + delta**2 * stats["count"] * n / total
    return {**params, "obs_norm": {"mean": mean, "var": m2 / total, "count": total}}


def orthonormal_columns(a):
    """Q of ``a = QR`` (``a`` is ``[n, k]``, ``k <= n``) with R's diagonal positive.

    Gram-Schmidt with a second orthogonalisation pass, in plain XLA operations. JAX's
    ``jnp.linalg.qr`` calls LAPACK on the CPU, whose threads were seen to deadlock the
    process now and then when called from a vmapped, jitted program.
    """
    import jax
    import jax.numpy as jnp

    k = a.shape[1]

    def next_column(q, j):
        earlier = (jnp.arange(k) < j).astype(a.dtype)
        v = jax.lax.dynamic_index_in_dim(a, j, axis=1, keepdims=False)
        for _ in range(2):
            v = v - q @ ((q.T @ v) * earlier)
        q = jax.lax.dynamic_update_index_in_dim(q, v / jnp.linalg.norm(v), j, axis=1)
        return q, None

    q, _ = jax.lax.scan(next_column, jnp.zeros_like(a), jnp.arange(k))
    return q


def apply(params: Params, obs, spec: NetworkSpec, xp: Any = None):
    """Return ``(logits, value)`` for observations ``obs[..., observation_size]``; the value
    is NaN where the spec has no state-value critic (``spec.has_value``)."""
    if xp is None:
        import jax.numpy as xp

    if not spec.has_value:
        inputs = actor_inputs(params, obs, spec, xp)
        return inputs, xp.full(obs.shape[:-1], xp.nan, inputs[0].dtype)
    obs = normalized(params, obs, spec, xp)
    if spec.shared:
        actor_h = critic_h = _tower(params, "trunk", obs, spec, xp)
    else:
        actor_h = _tower(params, "actor", obs, spec, xp)
        critic_h = _tower(params, "critic", obs, spec, xp)
    actor = _with_log_std(params, _head(params, "actor", actor_h), spec, xp)
    return actor, _head(params, "critic", critic_h)[..., 0]


def actor_logits(params: Params, obs, spec: NetworkSpec, xp: Any = None):
    """Action logits only: half the work of ``apply`` where the critic is not needed."""
    return _one_side(params, obs, spec, xp, "actor")


def actor_inputs(params: Params, obs, spec: NetworkSpec, xp: Any = None):
    """What the action distribution takes for ``obs``: the actor head's logits, or its mean
    beside the log-std (continuous actions)."""
    return _with_log_std(params, actor_logits(params, obs, spec, xp), spec, xp)


def _with_log_std(params: Params, head, spec: NetworkSpec, xp: Any):
    if not spec.continuous:
        return head
    if xp is None:
        import jax.numpy as xp
    if spec.actor_head == "squashed":
        k = spec.num_actions
        return head[..., :k], xp.clip(head[..., k:], LOG_STD_MIN, LOG_STD_MAX)
    return head, xp.broadcast_to(params["log_std"]["value"], head.shape)


def critic_value(params: Params, obs, spec: NetworkSpec, xp: Any = None):
    """State values only."""
    return _one_side(params, obs, spec, xp, "critic")[..., 0]


def _one_side(params: Params, obs, spec: NetworkSpec, xp: Any, side: str):
    """The ``side`` ("actor" or "critic") head's output, on its tower or the shared trunk."""
    if xp is None:
        import jax.numpy as xp

    obs = normalized(params, obs, spec, xp)
    hidden = _tower(params, "trunk" if spec.shared else side, obs, spec, xp)
    return _head(params, side, hidden)


def _head(params: Params, side: str, hidden):
    layer = params[f"{side}_out"]
    return hidden @ layer["w"] + layer["b"]


def _tower(params: Params, prefix: str, h, spec: NetworkSpec, xp: Any):
    relu = spec.activation == "relu"
    for i in range(len(spec.hidden)):
        layer = params[f"{prefix}_{i}"]
        if xp is np and np.result_type(h, layer["w"], layer["b"]) == h.dtype:
            h = h @ layer["w"]  # then the same operations in place: no temporary arrays
            h += layer["b"]
            (np.maximum(h, 0, out=h) if relu else np.tanh(h, out=h))
            continue
        h = h @ layer["w"] + layer["b"]
        h = xp.maximum(h, 0) if relu else xp.tanh(h)
    return h
