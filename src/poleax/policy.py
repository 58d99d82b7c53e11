"""A trained policy in plain numpy: acts in any gymnasium loop, no jit, no JAX import."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poleax.distributions import Distribution, make_distribution
from poleax.envs.registry import env_spec
from poleax.networks import NetworkSpec, Params, actor_inputs, apply, float64_params


@dataclass
class Policy:
    """Actor-critic parameters and their network; ``act`` maps observations to actions.

    Actions go through the env's action distribution (``poleax.distributions``), the same
    rules as in training: the most likely action or the mean when greedy, an inverse-CDF
    sample otherwise, clipped into the bounds of a continuous action space.

    The parameters are kept in float32, as trained; the forward pass (observation
    normalisation included) and the distribution compute in float64, so any float64
    implementation (report.html's JavaScript) reproduces it but for its last bits.
    Continuous actions come back as float32.
    """

    params: Params
    spec: NetworkSpec
    env_id: str = "CartPole-v1"
    algo: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    rng: np.random.Generator | None = field(default=None, repr=False, compare=False)
    """The generator ``predict`` samples with (created on first use when None)."""
    _float64: tuple[Params, Params] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self.params = {
            name: {k: np.asarray(v, np.float32) for k, v in layer.items()}
            for name, layer in self.params.items()
        }

    def _forward_params(self) -> Params:
        """``params`` in float64, what the forward pass computes with (kept until ``params``
        is replaced)."""
        if self._float64 is None or self._float64[0] is not self.params:
            self._float64 = (self.params, float64_params(self.params))
        return self._float64[1]

    @property
    def distribution(self) -> Distribution:
        return make_distribution(env_spec(self.env_id).action_space)

    def logits_and_value(self, obs: np.ndarray) -> tuple[Any, np.ndarray]:
        """The distribution's inputs (action logits, or the mean and log-std) and the state
        value, for one observation or a batch."""
        return apply(self._forward_params(), np.asarray(obs, np.float64), self.spec, xp=np)

    def probabilities(self, obs: np.ndarray) -> np.ndarray:
        """Action probabilities (discrete actions only)."""
        logits = actor_inputs(self._forward_params(), np.asarray(obs, np.float64), self.spec, xp=np)
        z = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return z / z.sum(axis=-1, keepdims=True)

    def act(
        self,
        obs: np.ndarray,
        greedy: bool = True,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray | int:
        """Actions for ``obs``: the most likely one (the mean), or one sampled from the policy.

        One observation gives an ``int`` (a discrete action) or an array shaped like the
        action space; a batch gives a batch of them. A non-finite observation (NaN or
        infinite) raises ``ValueError``.
        """
        obs = _finite(np.asarray(obs, np.float64))
        dist = self.distribution
        inputs = actor_inputs(self._forward_params(), obs, self.spec, xp=np)
        if greedy:
            actions = dist.mode(inputs, xp=np)
        else:
            rng = rng if rng is not None else np.random.default_rng()
            u = rng.random((*obs.shape[:-1], *dist.draw_shape))
            actions = dist.sample(inputs, u, xp=np)
        actions = dist.to_env(actions, xp=np)
        if not dist.action_shape:  # discrete: an int, or int64 indices
            return int(actions) if obs.ndim == 1 else actions.astype(np.int64)
        return actions.astype(np.float32)

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, Any]:
        """Stable-Baselines3's ``predict``: ``(actions, state)``, so SB3's tools (such as
        ``evaluate_policy``) can run a poleax policy.

        A batch ``[n, 4]`` gives ``n`` actions, one observation a 0-d array. As in SB3,
        ``deterministic=False`` (the default) samples; ``deterministic=True`` takes the most
        likely action. The policy has no recurrent state: ``state`` comes back as given and
        ``episode_start`` is ignored. Samples come from a generator the policy keeps; seed it
        with ``policy.rng = np.random.default_rng(seed)``.
        """
        del episode_start
        if self.rng is None:
            self.rng = np.random.default_rng()
        actions = np.asarray(self.act(observation, greedy=deterministic, rng=self.rng))
        return actions, state


def _finite(obs: np.ndarray) -> np.ndarray:
    """``obs``, or ``ValueError`` naming the (first) observation that is not finite."""
    if np.isfinite(obs).all():
        return obs
    if obs.ndim <= 1:
        raise ValueError(f"observation is not finite (NaN or infinite): {obs.tolist()}")
    bad = np.argwhere(~np.isfinite(obs).reshape(-1, obs.shape[-1]).all(axis=-1))[:, 0]
    rows = obs.reshape(-1, obs.shape[-1])
    raise ValueError(
        f"{len(bad)} of {len(rows)} observations are not finite (NaN or infinite); the first, "
        f"at index {int(bad[0])}: {rows[bad[0]].tolist()}"
    )
