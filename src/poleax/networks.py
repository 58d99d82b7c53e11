"""Actor-critic networks as plain arrays: one forward pass for JAX and for numpy.

Parameters are a dict of ``{"w": [in, out], "b": [out]}`` layers. ``apply`` takes the array
module (``jax.numpy`` or ``numpy``) so a trained policy runs in numpy without jit overhead and
gives the same actions as in training.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

Params = dict[str, dict[str, Any]]

ACTIVATIONS = ("relu", "tanh")
INITS = ("glorot", "orthogonal")


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
    critic = [f"critic_{i}" for i in range(n)] + ["critic_out"]
    return actor + critic


def init_params(key, spec: NetworkSpec) -> Params:
    """Draw initial parameters for ``spec`` (weights as ``init`` says, biases zero)."""
    import jax
    import jax.numpy as jnp

    def dense(k, fan_in: int, fan_out: int, scale: float) -> dict[str, Any]:
        if spec.init == "orthogonal":
            w = jax.nn.initializers.orthogonal(scale)(k, (fan_in, fan_out), jnp.float32)
        else:
            w = jax.nn.initializers.glorot_uniform()(k, (fan_in, fan_out), jnp.float32)
        return {"w": w, "b": jnp.zeros((fan_out,), jnp.float32)}

    sizes = (spec.observation_size, *spec.hidden)
    tower = [(sizes[i], sizes[i + 1], math.sqrt(2)) for i in range(len(spec.hidden))]
    shapes: dict[str, tuple[int, int, float]] = {}
    prefixes = ["trunk"] if spec.shared else ["actor", "critic"]
    for prefix in prefixes:
        for i, shape in enumerate(tower):
            shapes[f"{prefix}_{i}"] = shape
    shapes["actor_out"] = (sizes[-1], spec.num_actions, 0.01)
    shapes["critic_out"] = (sizes[-1], 1, 1.0)
    names = layer_names(spec)
    keys = jax.random.split(key, len(names))
    return {name: dense(k, *shapes[name]) for name, k in zip(names, keys, strict=True)}


def apply(params: Params, obs, spec: NetworkSpec, xp: Any = None):
    """Return ``(logits, value)`` for observations ``obs[..., observation_size]``."""
    if xp is None:
        import jax.numpy as xp

    def act(h):
        return xp.maximum(h, 0) if spec.activation == "relu" else xp.tanh(h)

    def tower(prefix: str, h):
        for i in range(len(spec.hidden)):
            layer = params[f"{prefix}_{i}"]
            h = act(h @ layer["w"] + layer["b"])
        return h

    if spec.shared:
        actor_h = critic_h = tower("trunk", obs)
    else:
        actor_h, critic_h = tower("actor", obs), tower("critic", obs)
    logits = actor_h @ params["actor_out"]["w"] + params["actor_out"]["b"]
    value = critic_h @ params["critic_out"]["w"] + params["critic_out"]["b"]
    return logits, value[..., 0]
