"""A trained policy in plain numpy: acts in any gymnasium loop, no jit, no JAX import."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poleax.distributions import Distribution, make_distribution
from poleax.envs.registry import STANDARD_ENV, EnvSpec, env_spec, find_spec
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
    env_id: str = STANDARD_ENV
    algo: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    rng: np.random.Generator | None = field(default=None, repr=False, compare=False)
    """The generator ``predict`` samples with (created on first use when None)."""
    task: EnvSpec | None = field(default=None, repr=False, compare=False)
    """The spec of ``env_id``'s task, where the caller has it (else looked up once, on first
    use)."""
    _float64: tuple[Params, Params] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _distribution: tuple[EnvSpec, NetworkSpec, Distribution] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self.params = {
            name: {k: np.asarray(v, np.float32) for k, v in layer.items()}
            for name, layer in self.params.items()
        }

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (for a picture worker) without the spec and the caches: the other process
        looks the task up by ``env_id``."""
        return {**self.__dict__, "task": None, "_float64": None, "_distribution": None}

    def _forward_params(self) -> Params:
        """``params`` in float64, what the forward pass computes with (kept until ``params``
        is replaced)."""
        if self._float64 is None or self._float64[0] is not self.params:
            self._float64 = (self.params, float64_params(self.params))
        return self._float64[1]

    @property
    def env_spec(self) -> EnvSpec:
        """The spec of the task the policy acts in (evaluation, maps, export and the live
        page take it from here)."""
        task = self.known_task()
        return env_spec(self.env_id) if task is None else task  # raises, naming the ids

    def known_task(self) -> EnvSpec | None:
        """The task's spec, or None where ``env_id`` is not registered in this process (a
        picture worker knows the built-in tasks and those its imports register)."""
        if self.task is None or self.task.id != self.env_id:
            self.task = find_spec(self.env_id)
        return self.task

    @property
    def distribution(self) -> Distribution:
        """The task's action distribution for the network's actor head (made once)."""
        task = self.env_spec
        made = self._distribution
        if made is None or made[0] is not task or made[1] != self.spec:
            dist = make_distribution(task.action_space, self.spec.actor_head)
            self._distribution = made = (task, self.spec, dist)
        return made[2]

    def logits_and_value(self, obs: np.ndarray) -> tuple[Any, np.ndarray]:
        """The distribution's inputs (action logits, or the mean and log-std) and the state
        value, for one observation or a batch."""
        return apply(self._forward_params(), np.asarray(obs, np.float64), self.spec, xp=np)

    def probabilities(self, obs: np.ndarray) -> np.ndarray:
        """Action probabilities (discrete actions only)."""
        logits = actor_inputs(self._forward_params(), np.asarray(obs, np.float64), self.spec, xp=np)
        return self.distribution.probabilities(logits, xp=np)

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
        actions = _env_actions(dist, actions)
        return int(actions) if not dist.action_shape and obs.ndim == 1 else actions

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


def stack_params(policies: list[Policy]) -> Params:
    """The policies' forward-pass parameters stacked on a leading axis, as ``act_together``
    takes them (a caller that acts with the same policies many times stacks them once)."""
    first = policies[0]
    if any(p.spec != first.spec or p.env_id != first.env_id for p in policies):
        raise ValueError("act_together needs policies of one network and one env")
    return {
        layer: {key: _stack([p._forward_params()[layer][key] for p in policies]) for key in keys}
        for layer, keys in first._forward_params().items()
    }


def act_together(
    policies: list[Policy],
    obs: np.ndarray,
    greedy: list[bool],
    rngs: list[np.random.Generator | None],
    stacked: Params | None = None,
) -> np.ndarray:
    """``np.stack([p.act(o, g, r) for p, o, g, r in zip(policies, obs, greedy, rngs)])`` in
    one forward pass, bit for bit: ``obs`` is ``[policies, batch, obs_size]``, and the
    policies share a network and an env. numpy multiplies each slice of a stack with the same
    BLAS call as a lone matrix, and the rest of the pass works element by element or along
    the last axis; each sampling policy draws from its generator what ``act`` would draw.
    ``stacked``: ``stack_params(policies)``, where the caller keeps it.
    """
    first = policies[0]
    if stacked is None:
        stacked = stack_params(policies)
    obs = _finite(np.asarray(obs, np.float64))
    if obs.ndim != 3 or len(obs) != len(policies):
        raise ValueError(f"obs must be [policies, batch, obs_size]; got {list(obs.shape)}")
    dist = first.distribution
    inputs = actor_inputs(stacked, obs, first.spec, xp=np)
    greedy = np.asarray(greedy, bool)
    actions = np.zeros((len(policies), obs.shape[1], *dist.action_shape))
    if greedy.any():
        actions[greedy] = dist.mode(_slices(inputs, greedy), xp=np)
    if not greedy.all():
        draws = [
            (rng if rng is not None else np.random.default_rng()).random(
                (obs.shape[1], *dist.draw_shape)
            )
            for rng, g in zip(rngs, greedy, strict=True)
            if not g
        ]
        actions[~greedy] = dist.sample(_slices(inputs, ~greedy), np.stack(draws), xp=np)
    return _env_actions(dist, actions)


def _env_actions(dist: Distribution, actions: np.ndarray) -> np.ndarray:
    """Actions as the env takes them (clipped into a box's bounds): int64 indices, or
    float32 values."""
    actions = dist.to_env(actions, xp=np)
    return actions.astype(np.float32 if dist.action_shape else np.int64)


def _stack(arrays: list[np.ndarray]) -> np.ndarray:
    """Per-policy arrays stacked on a leading axis, vectors given a batch axis to broadcast."""
    stacked = np.stack(arrays)
    return stacked[:, None] if stacked.ndim == 2 else stacked


def _slices(inputs, which: np.ndarray):
    """The distribution's inputs of the policies ``which`` (a tuple for continuous ones)."""
    if isinstance(inputs, tuple):
        return tuple(x[which] for x in inputs)
    return inputs[which]
