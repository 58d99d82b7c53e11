"""Random numbers from one draw: JAX's own threefry numbers, uniforms, the action sampler and
CartPole's reset."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from poleax import draws
from poleax.distributions import Categorical
from poleax.draws import bits, to_unit, uniforms
from poleax.envs import make
from poleax.networks import NetworkSpec, actor_logits, init_params
from poleax.policy import Policy

KEYS = [0, 42, 2**31 - 1, 2**32 - 1]


@pytest.mark.parametrize("seed", KEYS)
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_written_out_threefry_gives_jax_randoms_numbers(seed, jit):
    key = jax.random.PRNGKey(seed)
    run = jax.jit(lambda f, *a: f(*a), static_argnums=(0, 2)) if jit else (lambda f, *a: f(*a))
    size = 1001  # odd: JAX pads an odd count in some of its paths
    np.testing.assert_array_equal(
        run(lambda k, n: bits(k, [(n,)])[0], key, size),
        jax.random.bits(key, (size,), jnp.uint32),
    )
    for num in (2, 3, 16):
        np.testing.assert_array_equal(run(draws.split, key, num), jax.random.split(key, num))
    for data in (0, 7, 0x5EED + 3, 2**32 - 1):
        np.testing.assert_array_equal(run(draws.fold_in, key, data), jax.random.fold_in(key, data))


def test_to_unit_spans_zero_to_just_below_one():
    raw = jnp.array([0, 1 << 9, 0xFFFFFFFF], jnp.uint32)
    u = np.asarray(to_unit(raw))
    assert u.dtype == np.float32
    assert u[0] == 0.0 and u[1] == 2.0**-23 and u[2] == 1.0 - 2.0**-23


def test_pieces_of_one_draw_have_their_shapes_and_differ():
    key = jax.random.PRNGKey(3)
    a, b, c = bits(key, [(4, 3), (2,), (5, 2, 2)])
    assert a.shape == (4, 3) and b.shape == (2,) and c.shape == (5, 2, 2)
    flat = np.concatenate([np.ravel(x) for x in (a, b, c)])
    assert len(np.unique(flat)) == flat.size  # 34 distinct 32-bit words
    again = bits(key, [(4, 3), (2,), (5, 2, 2)])
    for x, y in zip((a, b, c), again, strict=True):
        np.testing.assert_array_equal(x, y)


def test_uniforms_are_uniform():
    (u,) = uniforms(jax.random.PRNGKey(0), [(200_000,)])
    u = np.asarray(u)
    assert u.min() >= 0.0 and u.max() < 1.0
    counts, _ = np.histogram(u, bins=10, range=(0, 1))
    np.testing.assert_allclose(counts / u.size, 0.1, atol=0.003)


def test_sampled_actions_follow_the_softmax():
    logits = jnp.array([[0.3, -0.9, 1.4]])
    (u,) = uniforms(jax.random.PRNGKey(1), [(300_000,)])
    actions = np.asarray(Categorical(3).sample(jnp.broadcast_to(logits, (u.size, 3)), u))
    freq = np.bincount(actions, minlength=3) / actions.size
    np.testing.assert_allclose(freq, np.asarray(jax.nn.softmax(logits[0])), atol=0.004)


class _Given:
    """A numpy generator stand-in whose ``random`` returns given draws."""

    def __init__(self, u: np.ndarray) -> None:
        self.u = u

    def random(self, shape):
        return self.u.reshape(shape)


def test_jax_sampler_picks_what_the_numpy_policy_picks():
    spec = NetworkSpec(hidden=(16,))
    params = init_params(jax.random.PRNGKey(2), spec)
    params["actor_out"]["w"] = params["actor_out"]["w"] * 100  # policies far from greedy
    obs = np.random.default_rng(0).normal(size=(5000, 4)).astype(np.float32)
    u = np.random.default_rng(1).random(5000).astype(np.float32)
    policy = Policy(params, spec)
    ours = Categorical(2).sample(actor_logits(params, jnp.asarray(obs), spec), jnp.asarray(u))
    theirs = policy.act(obs, greedy=False, rng=_Given(u))
    assert 0.2 < theirs.mean() < 0.8  # both actions are really drawn
    assert (np.asarray(ours) != theirs).mean() < 0.001  # only float32 ties at a CDF step


def test_reset_from_uniforms_covers_gymnasiums_start_box():
    env, params = make("CartPole-v1")
    low, _ = env.reset_from(jnp.zeros(4), params)
    high, _ = env.reset_from(jnp.full(4, 1.0 - 2.0**-23), params)
    np.testing.assert_allclose(low, -0.05, rtol=1e-6)
    assert np.all(np.asarray(high) < 0.05) and np.all(np.asarray(high) > 0.0499)
    (u,) = uniforms(jax.random.PRNGKey(4), [(10_000, env.reset_draws)])
    obs, state = jax.vmap(env.reset_from, in_axes=(0, None))(u, params)
    assert np.all(np.abs(np.asarray(obs)) <= 0.05)
    assert abs(float(obs.mean())) < 0.002 and int(state.time.max()) == 0
