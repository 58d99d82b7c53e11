"""A trained policy in plain numpy: acts in any gymnasium loop, no jit, no JAX import."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poleax.networks import NetworkSpec, Params, actor_logits, apply


@dataclass
class Policy:
    """Actor-critic parameters and their network; ``act`` maps observations to actions."""

    params: Params
    spec: NetworkSpec
    env_id: str = "CartPole-v1"
    algo: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    rng: np.random.Generator | None = field(default=None, repr=False, compare=False)
    """The generator ``predict`` samples with (created on first use when None)."""

    def __post_init__(self) -> None:
        self.params = {
            name: {k: np.asarray(v, np.float32) for k, v in layer.items()}
            for name, layer in self.params.items()
        }

    def logits_and_value(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Action logits and state value for one observation ``[4]`` or a batch ``[n, 4]``."""
        return apply(self.params, np.asarray(obs, np.float32), self.spec, xp=np)

    def probabilities(self, obs: np.ndarray) -> np.ndarray:
        logits = actor_logits(self.params, np.asarray(obs, np.float32), self.spec, xp=np)
        z = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return z / z.sum(axis=-1, keepdims=True)

    def act(
        self,
        obs: np.ndarray,
        greedy: bool = True,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray | int:
        """Actions for ``obs``: the most likely one, or one sampled from the policy.

        A single observation gives an ``int``; a batch gives an array of actions. A
        non-finite observation (NaN or infinite) raises ``ValueError``.
        """
        obs = _finite(np.asarray(obs, np.float32))
        if greedy:
            actions = np.argmax(actor_logits(self.params, obs, self.spec, xp=np), axis=-1)
        else:
            rng = rng if rng is not None else np.random.default_rng()
            cdf = np.cumsum(self.probabilities(obs), axis=-1)
            draws = rng.random((*cdf.shape[:-1], 1))
            actions = np.minimum((draws > cdf).sum(axis=-1), cdf.shape[-1] - 1)
        return int(actions) if obs.ndim == 1 else actions.astype(np.int64)

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
        actions = self.act(observation, greedy=deterministic, rng=self.rng)
        return np.asarray(actions, np.int64), state


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
