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


class DiagGaussian(NamedTuple):
    """Independent normals per action dimension; ``inputs`` are ``(mean, log_std)``.

    The sample is unbounded (its log-prob is of the raw sample); ``to_env`` clips it into the
    action space's bounds, as gymnasium's env would clip it anyway.
    """

    #: The dtype of an action as the env takes it (and as rollouts store it).
    action_kind = "float32"

    low: tuple[float, ...]
    high: tuple[float, ...]

    @property
    def draw_shape(self) -> tuple[int, ...]:
        return (len(self.low),)

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

    def entropy(self, inputs, xp: Any = None):
        xp = xp or _jnp()
        mean, log_std = inputs
        per_dim = log_std + 0.5 * math.log(2 * math.pi * math.e)
        return xp.broadcast_to(per_dim, mean.shape).sum(-1)

    def log_prob_and_entropy(self, inputs, action, xp: Any = None):
        log_prob = None if action is None else self.log_prob(inputs, action, xp)
        return log_prob, self.entropy(inputs, xp)

    @property
    def action_shape(self) -> tuple[int, ...]:
        """One action: a value per dimension."""
        return (len(self.low),)

    def to_env(self, action, xp: Any = None):
        """The action clipped into ``[low, high]``."""
        xp = xp or _jnp()
        low = xp.asarray(self.low, action.dtype)
        high = xp.asarray(self.high, action.dtype)
        return xp.clip(action, low, high)


Distribution = Categorical | DiagGaussian


def make_distribution(action_space: ActionSpace) -> Distribution:
    """The distribution that acts in ``action_space``."""
    if isinstance(action_space, Discrete):
        return Categorical(action_space.n)
    if isinstance(action_space, Box):
        return DiagGaussian(tuple(action_space.low), tuple(action_space.high))
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
