"""Action distributions: the one place that turns the actor's output into actions.

``make_distribution(action_space)`` picks the distribution of an ``EnvSpec``'s action space;
everything that acts (the rollout, the losses, the evaluation inside JAX, the GIF player, the
numpy ``Policy``) goes through its methods and never branches on the kind of action.

Every method takes the array module ``xp`` (``jax.numpy`` by default, or ``numpy``) so the
trained policy acts in numpy exactly as in training. Samples come from uniforms drawn before
a loop (see ``poleax.draws``): ``sample(inputs, u)`` with ``u`` shaped
``batch + draw_shape``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from poleax.envs.spec import ActionSpace, Box, Discrete


def _jnp():
    import jax.numpy as jnp

    return jnp


class Categorical(NamedTuple):
    """A softmax over ``n`` actions; ``inputs`` are the logits ``[..., n]``."""

    n: int

    #: The dtype of an action as the env takes it (and as rollouts store it).
    action_kind = "int32"

    @property
    def draw_shape(self) -> tuple[int, ...]:
        """Uniforms one sampled action consumes (one)."""
        return ()

    def probabilities(self, logits, xp: Any = None):
        """The policy's probability of each action."""
        return _softmax(logits, xp or _jnp())

    def sample(self, logits, u, xp: Any = None):
        """The action where the policy's CDF first exceeds ``u`` (inverse-CDF sampling)."""
        xp = xp or _jnp()
        probs = _softmax(logits, xp)
        if xp is _jnp():
            import jax

            # An associative scan fuses with its neighbours (jnp.cumsum compiles on its own).
            cdf = jax.lax.associative_scan(xp.add, probs, axis=-1)
        else:
            cdf = xp.cumsum(probs, axis=-1)
        count = (u[..., None] > cdf).sum(-1)
        return xp.minimum(count, self.n - 1).astype(xp.int32)

    def mode(self, logits, xp: Any = None):
        xp = xp or _jnp()
        return xp.argmax(logits, axis=-1).astype(xp.int32)

    @property
    def action_shape(self) -> tuple[int, ...]:
        """One action: an index."""
        return ()

    def log_prob(self, logits, action, xp: Any = None):
        return self.log_prob_and_entropy(logits, action, xp)[0]

    def entropy(self, logits, xp: Any = None):
        return self.log_prob_and_entropy(logits, None, xp)[1]

    def log_prob_and_entropy(self, logits, action, xp: Any = None):
        """``(log_prob(action), entropy)`` from one log-softmax (``action`` may be None)."""
        xp = xp or _jnp()
        log_probs = _log_softmax(logits, xp)
        entropy = -(xp.exp(log_probs) * log_probs).sum(-1)
        if action is None:
            return None, entropy
        index = action[..., None].astype(xp.int32)
        return xp.take_along_axis(log_probs, index, -1)[..., 0], entropy

    def to_env(self, action, xp: Any = None):
        """The action as the env takes it (the index itself)."""
        return action


class _Box(NamedTuple):
    """What the distributions over a ``Box`` share: its bounds ``low`` and ``high``, an action's
    shape and dtype, the clip into the bounds, and the entropy of a Gaussian ``(mean, log_std)``
    (for a squashed or deterministic actor, that of the Gaussian before the squash or of the
    noise: the squashed one has no closed form, and SAC estimates it by ``-log_prob``)."""

    low: tuple[float, ...]
    high: tuple[float, ...]

    #: The dtype of an action as the env takes it (and as rollouts store it).
    action_kind = "float32"

    @property
    def draw_shape(self) -> tuple[int, ...]:
        """Uniforms one sampled action consumes (one per dimension)."""
        return (len(self.low),)

    @property
    def action_shape(self) -> tuple[int, ...]:
        """One action: a value per dimension."""
        return (len(self.low),)

    def entropy(self, inputs, xp: Any = None):
        xp = xp or _jnp()
        mean, log_std = inputs
        per_dim = log_std + 0.5 * math.log(2 * math.pi * math.e)
        return xp.broadcast_to(per_dim, mean.shape).sum(-1)

    def log_prob(self, inputs, action, xp: Any = None):
        raise NotImplementedError

    def log_prob_and_entropy(self, inputs, action, xp: Any = None):
        log_prob = None if action is None else self.log_prob(inputs, action, xp)
        return log_prob, self.entropy(inputs, xp)

    def to_env(self, action, xp: Any = None):
        """The action clipped into ``[low, high]`` (a squashed one is inside but for rounding)."""
        xp = xp or _jnp()
        low = xp.asarray(self.low, action.dtype)
        high = xp.asarray(self.high, action.dtype)
        return xp.clip(action, low, high)


class DiagGaussian(_Box):
    """Independent normals per action dimension; ``inputs`` are ``(mean, log_std)``.

    The sample is unbounded (its log-prob is of the raw sample); ``to_env`` clips it into the
    action space's bounds, as gymnasium's env would clip it anyway.
    """

    __slots__ = ()

    def sample(self, inputs, u, xp: Any = None):
        """``mean + std * z`` with ``z`` the standard normal quantile of ``u`` (in [0, 1))."""
        xp = xp or _jnp()
        mean, log_std = inputs
        return mean + xp.exp(log_std) * _normal_quantile(u, xp)

    def mode(self, inputs, xp: Any = None):
        return inputs[0]

    def log_prob(self, inputs, action, xp: Any = None):
        xp = xp or _jnp()
        mean, log_std = inputs
        z = (action - mean) * xp.exp(-log_std)
        return (-0.5 * z * z - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


def _scale(squashed, low, high, xp):
    """An action in [-1, 1] mapped linearly onto ``[low, high]``."""
    low = xp.asarray(low, squashed.dtype)
    high = xp.asarray(high, squashed.dtype)
    return low + (squashed + 1.0) * (0.5 * (high - low))


def _unscale(action, low, high, xp):
    """An action in ``[low, high]`` mapped linearly onto [-1, 1]."""
    low = xp.asarray(low, action.dtype)
    high = xp.asarray(high, action.dtype)
    return 2.0 * (action - low) / (high - low) - 1.0


def _softplus(x, xp):
    if xp is _jnp():
        import jax

        return jax.nn.softplus(x)
    return np.logaddexp(0.0, x)


def tanh_log_det(pre_tanh, xp: Any = None):
    """``log(1 - tanh(x)^2)`` per element in a stable form: ``2 (log 2 - x - softplus(-2x))``
    (finite where ``tanh(x)`` rounds to +-1)."""
    xp = xp or _jnp()
    return 2.0 * (math.log(2.0) - pre_tanh - _softplus(-2.0 * pre_tanh, xp))


class TanhGaussian(_Box):
    """A diagonal Gaussian squashed by tanh into [-1, 1], then scaled onto the action
    space's bounds (SAC's actor); ``inputs`` are the Gaussian's ``(mean, log_std)``.

    Actions are in the env's units. ``log_prob`` is the density of the squashed action in
    [-1, 1] (SB3's convention, so that a target entropy of minus the action dimension means
    the same as there): the Gaussian's log-density of ``x = atanh(a)`` minus
    ``sum log(1 - tanh(x)^2)``. The constant of the linear scaling onto the bounds is left
    out. ``sample_and_log_prob`` computes it from the pre-squash sample (what SAC's losses
    use); ``log_prob`` of a given action inverts the squash, clipped just inside (-1, 1).
    The greedy action is the squashed mean.
    """

    __slots__ = ()

    def pre_tanh_sample(self, inputs, u, xp: Any = None):
        """``mean + std * z``, ``z`` the standard normal quantile of ``u``: before the squash."""
        xp = xp or _jnp()
        mean, log_std = inputs
        return mean + xp.exp(log_std) * _normal_quantile(u, xp)

    def sample(self, inputs, u, xp: Any = None):
        xp = xp or _jnp()
        return _scale(xp.tanh(self.pre_tanh_sample(inputs, u, xp)), self.low, self.high, xp)

    def squashed_sample_and_log_prob(self, inputs, u, xp: Any = None):
        """``(a, log_prob)`` of one reparameterised sample, ``a`` in [-1, 1] (not scaled)."""
        xp = xp or _jnp()
        return self.squashed_from_normal(inputs, _normal_quantile(u, xp), xp)

    def squashed_from_normal(self, inputs, z, xp: Any = None):
        """``(a, log_prob)`` of the sample ``tanh(mean + std * z)`` in [-1, 1], ``z`` standard
        normal noise."""
        xp = xp or _jnp()
        mean, log_std = inputs
        x = mean + xp.exp(log_std) * z
        gaussian = (-0.5 * z * z - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        return xp.tanh(x), gaussian - tanh_log_det(x, xp).sum(-1)

    def sample_and_log_prob(self, inputs, u, xp: Any = None):
        """``(action, log_prob)`` of one sample, the action in the env's units."""
        xp = xp or _jnp()
        squashed, log_prob = self.squashed_sample_and_log_prob(inputs, u, xp)
        return _scale(squashed, self.low, self.high, xp), log_prob

    def mode(self, inputs, xp: Any = None):
        xp = xp or _jnp()
        return _scale(xp.tanh(inputs[0]), self.low, self.high, xp)

    def log_prob(self, inputs, action, xp: Any = None):
        xp = xp or _jnp()
        mean, log_std = inputs
        squashed = _unscale(action, self.low, self.high, xp)
        bound = 1.0 - float(np.finfo(np.float32).eps)
        x = xp.arctanh(xp.clip(squashed, -bound, bound))
        z = (x - mean) * xp.exp(-log_std)
        gaussian = (-0.5 * z * z - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        return gaussian - tanh_log_det(x, xp).sum(-1)


class Deterministic(_Box):
    """A deterministic actor with Gaussian exploration noise (TD3, DDPG); ``inputs`` are the
    head's pre-tanh output and the noise's log-std ``(pre_tanh, log_std)``.

    The greedy action is ``tanh(pre_tanh)`` scaled onto the action space's bounds; a sampled
    action adds ``std * z`` in [-1, 1] units before the scaling and clips to [-1, 1], as SB3
    adds its action noise. ``log_prob`` and ``entropy`` are the unclipped noise's (in [-1, 1]
    units), for diagnostics only.
    """

    __slots__ = ()

    def squashed_mode(self, inputs, xp: Any = None):
        """The greedy action in [-1, 1] (not scaled)."""
        xp = xp or _jnp()
        return xp.tanh(inputs[0])

    def squashed_sample(self, inputs, u, xp: Any = None):
        """The greedy action plus noise, clipped to [-1, 1] (not scaled)."""
        xp = xp or _jnp()
        noisy = xp.tanh(inputs[0]) + xp.exp(inputs[1]) * _normal_quantile(u, xp)
        return xp.clip(noisy, -1.0, 1.0)

    def sample(self, inputs, u, xp: Any = None):
        xp = xp or _jnp()
        return _scale(self.squashed_sample(inputs, u, xp), self.low, self.high, xp)

    def mode(self, inputs, xp: Any = None):
        xp = xp or _jnp()
        return _scale(self.squashed_mode(inputs, xp), self.low, self.high, xp)

    def log_prob(self, inputs, action, xp: Any = None):
        xp = xp or _jnp()
        squashed = _unscale(action, self.low, self.high, xp)
        centre = (self.squashed_mode(inputs, xp), inputs[1])
        return DiagGaussian(self.low, self.high).log_prob(centre, squashed, xp)


Distribution = Categorical | DiagGaussian | TanhGaussian | Deterministic


def make_distribution(action_space: ActionSpace, actor_head: str = "gaussian") -> Distribution:
    """The distribution that acts in ``action_space``, for a continuous actor of head
    ``actor_head`` (``NetworkSpec.actor_head``: gaussian, squashed or deterministic)."""
    if isinstance(action_space, Discrete):
        return Categorical(action_space.n)
    if isinstance(action_space, Box):
        kind = {"gaussian": DiagGaussian, "squashed": TanhGaussian, "deterministic": Deterministic}
        if actor_head not in kind:
            raise ValueError(f"unknown actor head {actor_head!r}")
        return kind[actor_head](tuple(action_space.low), tuple(action_space.high))
    raise TypeError(f"no distribution for action space {action_space!r}")


def _softmax(logits, xp):
    if xp is _jnp():
        import jax

        return jax.nn.softmax(logits, axis=-1)  # with JAX's own gradient rule
    z = xp.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _log_softmax(logits, xp):
    if xp is _jnp():
        import jax

        return jax.nn.log_softmax(logits, axis=-1)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))


def _normal_quantile(u, xp):
    """The standard normal's quantile at ``u`` in [0, 1), nudged off 0 by half a float32 ulp
    of 1 so it stays finite."""
    u = u + 2.0**-25
    if xp is _jnp():
        from jax.scipy.special import ndtri

        return ndtri(u)
    from statistics import NormalDist

    import numpy as np

    quantile = np.vectorize(NormalDist().inv_cdf, otypes=[np.float64])
    return quantile(np.asarray(u, np.float64)).astype(np.asarray(u).dtype)
