"""SAC, TD3 and DDPG: the squashed Gaussian against scipy, one gradient step against
Stable-Baselines3's (torch, the same weights, batch and noise), the replay buffer's ring and
bootstrapping, the probe env learned, save -> load -> the same actions, resume bit for bit."""

from __future__ import annotations

import itertools
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import stats

from poleax.algos import make_algorithm, offpolicy
from poleax.algos.offpolicy import (
    Batch,
    Learners,
    OffPolicyExtra,
    OffPolicyOpt,
    buffer_add,
    buffer_init,
    buffer_sample,
)
from poleax.config import ConfigError, build_config
from poleax.distributions import Deterministic, TanhGaussian, make_distribution, tanh_log_det
from poleax.envs import ENV_SPECS, Box, register
from poleax.envs.probe import probe_spec
from poleax.networks import NetworkSpec, actor_inputs, apply, init_params, param_shapes
from poleax.policy import Policy
from poleax.trainer import train

RNG = np.random.default_rng(23)


# --- the squashed Gaussian ---------------------------------------------------------------


@pytest.mark.parametrize("xp_name", ["jax", "numpy"])
def test_tanh_gaussian_log_prob_is_the_change_of_variables(xp_name):
    xp = jnp if xp_name == "jax" else np
    low, high = np.array([-2.0, 0.0]), np.array([2.0, 3.0])
    dist = TanhGaussian(tuple(low), tuple(high))
    mean = RNG.normal(size=(40, 2))
    log_std = RNG.uniform(-1.5, 0.5, size=(40, 2))
    squashed = RNG.uniform(-0.95, 0.95, size=(40, 2))
    action = low + (squashed + 1) * (high - low) / 2
    # Independently: the density of a = tanh(x), x ~ N(mean, std), is N(atanh(a)) / (1 - a^2).
    x = np.arctanh(squashed)
    expected = (stats.norm.logpdf(x, mean, np.exp(log_std)) - np.log1p(-(squashed**2))).sum(-1)
    inputs = (xp.asarray(mean), xp.asarray(log_std))
    got = np.asarray(dist.log_prob(inputs, xp.asarray(action), xp=xp))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # From the pre-squash noise: the same density of the same sample.
    z = (x - mean) / np.exp(log_std)
    sample, log_prob = dist.squashed_from_normal(inputs, xp.asarray(z), xp=xp)
    np.testing.assert_allclose(np.asarray(sample), squashed, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(log_prob), expected, rtol=1e-5, atol=1e-5)
    # Greedy: the squashed mean, scaled onto the bounds.
    mode = low + (np.tanh(mean) + 1) * (high - low) / 2
    np.testing.assert_allclose(np.asarray(dist.mode(inputs, xp=xp)), mode, rtol=1e-6, atol=1e-6)


def test_tanh_log_det_is_stable_where_tanh_rounds_to_one():
    x = np.array([-40.0, -20.0, -1.0, 0.0, 3.0, 20.0, 40.0], np.float32)
    got = np.asarray(tanh_log_det(jnp.asarray(x)))
    assert np.all(np.isfinite(got))
    exact = np.log(4.0) - 2 * np.abs(x.astype(np.float64)) - 2 * np.log1p(np.exp(-2 * np.abs(x)))
    np.testing.assert_allclose(got, exact, rtol=1e-5, atol=1e-5)


def test_deterministic_actor_is_tanh_plus_clipped_noise():
    dist = Deterministic((-2.0,), (2.0,))
    pre = np.array([[0.3], [3.0]], np.float32)
    inputs = (pre, np.log(np.full_like(pre, 0.5)))
    np.testing.assert_allclose(dist.mode(inputs, xp=np), 2 * np.tanh(pre), rtol=1e-6)
    u = np.array([[0.5], [0.999]], np.float32)  # z = 0, then a large positive z
    sampled = dist.sample(inputs, u, xp=np)
    assert sampled[0, 0] == pytest.approx(2 * np.tanh(0.3), rel=1e-5)
    assert sampled[1, 0] == 2.0  # clipped to the bound
    assert make_distribution(Box((-1.0,), (1.0,)), "deterministic") == Deterministic(
        (-1.0,), (1.0,)
    )


# --- one gradient step against SB3 --------------------------------------------------------

OBS, ACT, H, B = 3, 1, 16, 8
LR, GAMMA, TAU, ALPHA = 1e-3, 0.99, 0.005, 0.5


def _mlp(rng, sizes):
    return [
        (
            (rng.normal(size=(a, b)) * 0.5 / np.sqrt(a)).astype(np.float32),
            (rng.normal(size=b) * 0.1).astype(np.float32),
        )
        for a, b in itertools.pairwise(sizes)
    ]


def _fixture(actor_outputs: int):
    """Fixed weights (actor, two critics, two target critics), one batch, the noise."""
    rng = np.random.default_rng(0)
    nets = {
        "actor": _mlp(rng, [OBS, H, H, actor_outputs]),
        "actor_target": _mlp(rng, [OBS, H, H, actor_outputs]),
        "critics": [_mlp(rng, [OBS + ACT, H, H, 1]) for _ in range(2)],
        "targets": [_mlp(rng, [OBS + ACT, H, H, 1]) for _ in range(2)],
    }
    batch = Batch(
        rng.normal(size=(B, OBS)).astype(np.float32),
        rng.uniform(-1, 1, (B, ACT)).astype(np.float32),
        rng.normal(size=B).astype(np.float32),
        rng.normal(size=(B, OBS)).astype(np.float32),
        np.array([False, True] * (B // 2)),
    )
    z = rng.normal(size=(B, ACT)).astype(np.float32)
    z_next = rng.normal(size=(B, ACT)).astype(np.float32)
    return nets, batch, z, z_next


def _actor(layers, log_std=None):
    names = ["actor_0", "actor_1", "actor_out"]
    params = {
        n: {"w": jnp.asarray(w), "b": jnp.asarray(b)}
        for n, (w, b) in zip(names, layers, strict=True)
    }
    if log_std is not None:
        params["log_std"] = {"value": jnp.full((ACT,), log_std, jnp.float32)}
    return params


def _critics(nets):
    names = ["critic_0", "critic_1", "critic_out"]
    return {
        n: {
            "w": jnp.stack([net[i][0] for net in nets]),
            "b": jnp.stack([net[i][1] for net in nets]),
        }
        for i, n in enumerate(names)
    }


def _ours(algo: str):
    """Our losses of one gradient step, and the stepped parameters, as numpy."""
    sac = algo == "sac"
    nets, batch, z, z_next = _fixture(2 * ACT if sac else ACT)
    head = "squashed" if sac else "deterministic"
    spec = NetworkSpec(OBS, ACT, (H, H), "relu", continuous=True, actor_head=head)
    dist = make_distribution(Box((-2.0,), (2.0,)), head)
    actor = _actor(nets["actor"], None if sac else math.log(0.1))
    critic, target = _critics(nets["critics"]), _critics(nets["targets"])
    adam = optax.flatten(optax.scale_by_adam(eps=1e-8))
    ent_adam = optax.scale_by_adam(eps=1e-8)
    hp = offpolicy.HParams(*map(jnp.float32, (LR, GAMMA, TAU, 0.2, 0.5, -1.0)))
    log_alpha = jnp.float32(math.log(ALPHA))
    actor_target = _actor(nets["actor_target"], math.log(0.1)) if not sac else {}
    extra = OffPolicyExtra(
        hp,
        critic,
        target,
        actor_target,
        log_alpha,
        buffer_init(1, OBS, ACT),
        0,
        0,
        jnp.zeros((1, ACT)),
    )
    opt = OffPolicyOpt(adam.init(actor), adam.init(critic), ent_adam.init(log_alpha))
    learners = Learners(adam, ent_adam, spec, dist, policy_delay=1)
    jb = Batch(*map(jnp.asarray, batch))
    if sac:
        params, _, extra, losses = jax.jit(offpolicy.sac_update, static_argnums=0)(
            learners, actor, opt, extra, jb, z, z_next, jnp.float32(LR)
        )
    else:
        noise = jnp.asarray(0.2 * z)
        params, _, extra, losses = jax.jit(offpolicy.td3_update, static_argnums=0)(
            learners, actor, opt, extra, jb, noise, jnp.float32(LR)
        )
    out = {name: float(value) for name, value in losses._asdict().items()}
    out["log_ent_coef"] = float(extra.log_ent_coef)
    stepped = {
        "actor": jax.tree.map(np.asarray, params),
        "critic": jax.tree.map(np.asarray, extra.critic),
        "critic_target": jax.tree.map(np.asarray, extra.critic_target),
    }
    return out, stepped


def _sb3(algo: str):
    """SB3's own losses of one gradient step on the same weights, batch and noise, and its
    stepped parameters in our layout."""
    th = pytest.importorskip("torch")
    sb3 = pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.logger import configure
    from stable_baselines3.common.type_aliases import ReplayBufferSamples

    sac = algo == "sac"
    nets, batch, z, z_next = _fixture(2 * ACT if sac else ACT)
    kwargs = {"policy_kwargs": {"net_arch": [H, H]}, "learning_rate": LR, "gamma": GAMMA}
    kwargs.update(tau=TAU, device="cpu")
    if sac:
        model = sb3.SAC("MlpPolicy", "Pendulum-v1", ent_coef=f"auto_{ALPHA}", **kwargs)
    else:
        kwargs.update(policy_delay=1, target_policy_noise=0.2, target_noise_clip=0.5)
        model = sb3.TD3("MlpPolicy", "Pendulum-v1", **kwargs)
    policy = model.policy

    def put(linear, w, b):
        linear.weight.data.copy_(th.tensor(w.T))
        linear.bias.data.copy_(th.tensor(b))

    def put_q(networks, weights):
        for qf, net in zip(networks, weights, strict=True):
            for i, (w, b) in zip((0, 2, 4), net, strict=True):
                put(qf[i], w, b)

    if sac:
        (w0, b0), (w1, b1), (w2, b2) = nets["actor"]
        put(policy.actor.latent_pi[0], w0, b0)
        put(policy.actor.latent_pi[2], w1, b1)
        put(policy.actor.mu, w2[:, :ACT], b2[:ACT])
        put(policy.actor.log_std, w2[:, ACT:], b2[ACT:])
    else:
        for module, key in ((policy.actor, "actor"), (policy.actor_target, "actor_target")):
            for i, (w, b) in zip((0, 2, 4), nets[key], strict=True):
                put(module.mu[i], w, b)
    put_q(policy.critic.q_networks, nets["critics"])
    put_q(policy.critic_target.q_networks, nets["targets"])

    def tensor(x):
        return th.tensor(np.asarray(x, np.float32))

    samples = ReplayBufferSamples(
        tensor(batch.obs),
        tensor(batch.action),
        tensor(batch.next_obs),
        tensor(batch.terminated)[:, None],
        tensor(batch.reward)[:, None],
    )
    model.replay_buffer.sample = lambda *args, **kw: samples
    model.set_logger(configure(None, []))
    if sac:  # the actor's two samples, at s then at s', from our noise
        queue = [tensor(z), tensor(z_next)]
        normal = th.distributions.Normal
        original = normal.rsample
        normal.rsample = lambda self, sample_shape=None: self.loc + self.scale * queue.pop(0)
        try:
            model.train(gradient_steps=1, batch_size=B)
        finally:
            normal.rsample = original
    else:  # the target policy's smoothing noise: 0.2 * z
        original = th.Tensor.normal_

        def normal_(self, mean=0.0, std=1.0, **kw):
            return self.copy_(mean + std * tensor(z))

        th.Tensor.normal_ = normal_
        try:
            model.train(gradient_steps=1, batch_size=B)
        finally:
            th.Tensor.normal_ = original
    logged = model.logger.name_to_value
    out = {"value_loss": logged["train/critic_loss"], "policy_loss": logged["train/actor_loss"]}
    if sac:
        out["ent_coef_loss"] = logged["train/ent_coef_loss"]
        out["ent_coef"] = logged["train/ent_coef"]
        out["log_ent_coef"] = float(model.log_ent_coef.detach())

    def get(linear):
        return linear.weight.data.numpy().T.copy(), linear.bias.data.numpy().copy()

    def critics(networks):
        return _critics([[get(qf[i]) for i in (0, 2, 4)] for qf in networks])

    if sac:
        layers = [get(policy.actor.latent_pi[0]), get(policy.actor.latent_pi[2])]
        (wm, bm), (ws, bs) = get(policy.actor.mu), get(policy.actor.log_std)
        layers.append((np.concatenate([wm, ws], 1), np.concatenate([bm, bs])))
    else:
        layers = [get(policy.actor.mu[i]) for i in (0, 2, 4)]
    stepped = {
        "actor": jax.tree.map(np.asarray, _actor(layers)),
        "critic": jax.tree.map(np.asarray, critics(policy.critic.q_networks)),
        "critic_target": jax.tree.map(np.asarray, critics(policy.critic_target.q_networks)),
    }
    return out, stepped


#: SB3 2.9.2's losses of the fixture's step (torch 2.13.0, CPU), recorded by
#: ``_sb3(algo)[0]`` so the comparison runs where SB3 is not installed.
SB3_RECORDED = {
    "sac": {
        "value_loss": 1.75318289,
        "policy_loss": -0.117490329,
        "ent_coef_loss": -0.991363585,
        "ent_coef": 0.5,
        "log_ent_coef": -0.69414717,  # after the step: log 0.5 - lr
    },
    "td3": {"value_loss": 1.97365606, "policy_loss": 0.276629627},
}


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_one_gradient_step_equals_sb3s_recorded_losses(algo):
    ours, _ = _ours(algo)
    for name, value in SB3_RECORDED[algo].items():
        assert ours[name] == pytest.approx(value, abs=1e-5, rel=1e-5), name


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_one_gradient_step_equals_sb3s_own(algo):
    reference, reference_params = _sb3(algo)
    ours, params = _ours(algo)
    for name, value in reference.items():
        assert ours[name] == pytest.approx(value, abs=1e-5, rel=1e-5), name
    for part in ("critic", "critic_target", "actor"):
        for layer, arrays in reference_params[part].items():
            for key, value in arrays.items():
                np.testing.assert_allclose(params[part][layer][key], value, atol=1e-5, rtol=0)


# --- the replay buffer ---------------------------------------------------------------------


def _rows(start: int, n: int) -> Batch:
    values = np.arange(start, start + n, dtype=np.float32)
    return Batch(
        values[:, None].repeat(2, 1),
        values[:, None],
        values,
        -values[:, None].repeat(2, 1),
        values % 2 == 1,
    )


def test_buffer_is_a_ring_that_overwrites_the_oldest():
    add = jax.jit(buffer_add)
    buffer = buffer_init(5, obs_size=2, action_size=1)
    buffer = add(buffer, _rows(0, 3))
    assert int(buffer.position) == 3 and int(buffer.size) == 3
    buffer = add(buffer, _rows(3, 3))  # rows 3, 4 fill it; 5 overwrites row 0
    assert int(buffer.position) == 1 and int(buffer.size) == 5
    np.testing.assert_array_equal(np.asarray(buffer.reward), [5, 1, 2, 3, 4])
    np.testing.assert_array_equal(np.asarray(buffer.next_obs[:, 0]), [-5, -1, -2, -3, -4])
    np.testing.assert_array_equal(np.asarray(buffer.terminated), [True, True, False, True, False])
    # Sampling reads whole transitions of the filled rows only.
    partial = add(buffer_init(5, 2, 1), _rows(10, 2))
    raw = jnp.arange(100, dtype=jnp.uint32) * jnp.uint32(2654435761)
    batch = buffer_sample(partial, raw)
    assert set(np.asarray(batch.reward).tolist()) == {10.0, 11.0}
    np.testing.assert_array_equal(np.asarray(batch.obs[:, 0]), np.asarray(batch.reward))
    np.testing.assert_array_equal(np.asarray(batch.next_obs[:, 1]), -np.asarray(batch.reward))


def test_target_bootstraps_at_the_time_limit_and_not_at_a_true_end():
    spec = NetworkSpec(2, 1, (8,), "relu", continuous=True, actor_head="deterministic")
    dist = make_distribution(Box((-1.0,), (1.0,)), "deterministic")
    actor = jax.jit(init_params, static_argnums=1)(jax.random.PRNGKey(0), spec)
    critic = jax.jit(offpolicy.init_critics, static_argnums=(1, 2))(jax.random.PRNGKey(1), spec, 2)
    batch = Batch(
        jnp.zeros((2, 2)),
        jnp.zeros((2, 1)),
        jnp.ones(2),
        jnp.ones((2, 2)),
        jnp.array([False, True]),
    )
    target = jax.jit(offpolicy.td3_target, static_argnums=(3, 6, 7))(
        actor, critic, batch, None, 0.5, 0.9, spec, dist
    )
    next_action = dist.squashed_mode(actor_inputs(actor, batch.next_obs, spec))
    next_q = offpolicy.q_values(critic, batch.next_obs, next_action, "relu").min(0)
    assert float(target[0]) == pytest.approx(1.0 + 0.9 * float(next_q[0]), rel=1e-6)
    assert float(target[1]) == 1.0  # terminated: the reward alone


def test_the_buffer_keeps_the_final_observation_and_truncation_apart():
    config = build_config(
        "td3", "Pendulum-v1", total_steps=400, eval_every=400, hidden=(8,), learning_starts=400
    )
    algo = make_algorithm(config)
    state = jax.jit(algo.init)(jax.random.PRNGKey(0))
    update = jax.jit(algo.update)
    for _ in range(201):
        state, _ = update(state)
    buffer = jax.tree.map(np.asarray, state.extra.buffer)
    assert buffer.size == 201 and not buffer.terminated[:201].any()  # Pendulum never ends
    # Within an episode, a transition's next observation is the next one's observation.
    np.testing.assert_array_equal(buffer.next_obs[:199], buffer.obs[1:200])
    # At the time limit (step 200) the next observation is the final one, not the reset's.
    assert not np.array_equal(buffer.next_obs[199], buffer.obs[200])
    theta_dot = buffer.obs[199, 2]
    assert abs(buffer.next_obs[199, 2] - theta_dot) < 1.0  # continues the same swing
    assert np.all(np.abs(buffer.action[:201]) <= 1.0)  # stored in [-1, 1] units


def test_memory_of_buffers_times_seeds_is_refused_in_one_line():
    config = build_config("sac", "Pendulum-v1", total_steps=1_000_000, seeds=1024)
    with pytest.raises(ConfigError) as error:
        offpolicy.check_memory(config, 1_000_000, available=16 * 10**9)
    message = str(error.value)
    assert "\n" not in message and "33.8 GB" in message and "--buffer-size" in message
    offpolicy.check_memory(config.replace(seeds=1), 1_000_000, available=16 * 10**9)


@pytest.mark.parametrize("algo", ["sac", "td3", "ddpg"])
def test_off_policy_algorithms_are_refused_on_discrete_tasks_in_one_line(algo):
    with pytest.raises(ConfigError) as error:
        build_config(algo, "CartPole-v1")
    assert str(error.value).startswith(f"{algo} is for continuous actions; CartPole-v1")
    assert "\n" not in str(error.value)


# --- learning, saving, resuming --------------------------------------------------------------

CONTINUOUS = probe_spec("ProbeContinuousOff-v0", continuous=True, name="ProbeContinuous")


@pytest.fixture(scope="module")
def probe():
    register(CONTINUOUS)
    yield CONTINUOUS.id
    ENV_SPECS.pop(CONTINUOUS.id)


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["sac", "td3", "ddpg"])
def test_each_learns_the_continuous_probe(algo, probe):
    # Rewards of a few hundredths: SAC starts from a small entropy coefficient here.
    extra = {"lr": 1e-3, "ent_coef_init": 0.05} if algo == "sac" else {}
    config = build_config(
        algo,
        probe,
        total_steps=3000,
        eval_every=500,
        hidden=(32, 32),
        batch_size=64,
        learning_starts=200,
        eval_episodes=20,
        seed=1,
        **extra,
    )
    result = train(config)
    assert result.steps_to_solve[0] is not None, f"{algo} did not learn the probe"
    policy = Policy(result.delivered_params[0], result.algorithm.spec, probe, algo)
    actions = policy.act(np.array([[0.5], [-0.5]]))
    np.testing.assert_allclose(actions[:, 0], [0.5, -0.5], atol=0.1)


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_numpy_policy_acts_as_the_jax_actor(algo):
    config = build_config(algo, "Pendulum-v1", hidden=(16, 16))
    algo_ = make_algorithm(config)
    params = jax.tree.map(np.asarray, jax.jit(algo_.init)(jax.random.PRNGKey(3)).params)
    policy = Policy(params, algo_.spec, "Pendulum-v1", algo)
    obs = RNG.normal(size=(20, 3)).astype(np.float32)
    jax_greedy = algo_.dist.mode(actor_inputs(params, obs, algo_.spec))
    np.testing.assert_allclose(policy.act(obs), jax_greedy, rtol=1e-5, atol=1e-6)
    inputs, value = apply(params, obs, algo_.spec)
    assert np.isnan(np.asarray(value)).all()  # no state-value critic in the delivered params
    u = RNG.random((20, 1)).astype(np.float32)
    np.testing.assert_allclose(
        algo_.dist.sample(policy.logits_and_value(obs)[0], u, xp=np),
        algo_.dist.sample(inputs, u),
        rtol=1e-4,
        atol=1e-5,
    )


def _resume_config(algo: str):
    return build_config(
        algo,
        "Pendulum-v1",
        total_steps=900,
        eval_every=300,
        hidden=(16, 16),
        batch_size=32,
        learning_starts=100,
        buffer_size=600,  # a ring that wraps within the run
        stop_when_solved=False,
        seeds=2,
        seed=4,
    )


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_resume_from_a_saved_checkpoint_continues_bit_for_bit(algo, tmp_path):
    import jax.numpy as jnp

    from poleax import checkpoint
    from poleax.trainer import seed_keys

    config = _resume_config(algo)
    whole = train(config)
    saved = []
    train(
        config,
        checkpoint_every=1,
        on_checkpoint=lambda state, history: saved.append((state, history)),
        should_stop=lambda: len(saved) >= 1,
    )
    state, history = saved[0]
    assert int(np.asarray(state.update)[0]) < int(np.asarray(whole.state.update)[0])
    network = make_algorithm(config).spec.to_dict()
    meta = {"env": config.env, "algo": algo, "seeds": 2, "network": network}
    checkpoint.save(tmp_path, meta, [], state, history)
    with np.load(tmp_path / "checkpoint" / "state.npz") as saved:  # only the filled part
        assert saved[".extra.buffer.obs"].shape == (2, 300, 3)
        assert saved[".extra.buffer.reward"].shape == (2, 300)
    template = jax.eval_shape(jax.vmap(make_algorithm(config).init), seed_keys(config))
    _, loaded, loaded_history = checkpoint.load_resume(tmp_path, template, 2)
    resumed = train(config, state=loaded, history=loaded_history)
    leaves = jax.tree.leaves(whole.state)
    assert len(leaves) == len(jax.tree.leaves(resumed.state))
    for a, b in zip(leaves, jax.tree.leaves(resumed.state), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(np.asarray(whole.state.extra.buffer.size)[0]) == 600  # the ring wrapped
    assert jnp.isfinite(whole.metrics["losses/value_loss"]).all()


@pytest.mark.slow
def test_cli_trains_saves_and_loads_a_policy_that_acts_the_same(tmp_path):
    from poleax.checkpoint import load_policy
    from poleax.cli import main

    out = tmp_path / "run"
    args = ["train", "--env", "Pendulum-v1", "--algo", "sac", "--total-steps", "2000"]
    assert main([*args, "--no-gifs", "--no-progress", "--out", str(out)]) == 0
    policy = load_policy(out)
    assert policy.algo == "sac" and policy.spec.actor_head == "squashed"
    obs = RNG.normal(size=(16, 3))
    spec = policy.spec
    greedy = make_distribution(Box((-2.0,), (2.0,)), "squashed").mode(
        actor_inputs(jax.tree.map(jnp.asarray, policy.params), obs.astype(np.float32), spec)
    )
    np.testing.assert_allclose(policy.act(obs), np.asarray(greedy), rtol=1e-5, atol=1e-5)
    again = load_policy(out)
    np.testing.assert_array_equal(again.act(obs), policy.act(obs))
    assert np.all(np.abs(policy.act(obs)) <= 2.0)


@pytest.mark.parametrize("head", ["squashed", "deterministic"])
def test_onnx_export_outputs_the_squashed_greedy_action_mean_and_log_std(head):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from poleax.export import policy_dict, policy_from_json, to_onnx_model

    spec = NetworkSpec(3, 1, (32, 32), "relu", continuous=True, actor_head=head)
    rng = np.random.default_rng(5)
    params = {
        layer: {name: rng.normal(0, 0.6, shape).astype(np.float32) for name, shape in n.items()}
        for layer, n in param_shapes(spec).items()
    }
    policy = Policy(params, spec, "Pendulum-v1", "sac" if head == "squashed" else "td3")
    model = to_onnx_model(policy)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    obs = rng.normal(0, 2, (300, 3)).astype(np.float32)
    names = [o.name for o in session.get_outputs()]
    assert names == ["action", "mean", "log_std"]
    out = dict(zip(names, session.run(None, {"obs": obs}), strict=True))
    inputs, _ = policy.logits_and_value(obs)
    np.testing.assert_allclose(out["mean"], inputs[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["log_std"], inputs[1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["action"], policy.act(obs), rtol=1e-5, atol=1e-5)
    assert np.all(np.abs(out["action"]) <= 2.0)
    again = policy_from_json(policy_dict(policy))
    np.testing.assert_array_equal(again.act(obs), policy.act(obs))


@pytest.mark.parametrize("head", ["squashed", "deterministic"])
def test_live_page_acts_as_the_numpy_policy(head, tmp_path):
    """The report's JavaScript policy of a sac (td3) network: the same greedy actions as the
    numpy Policy on gymnasium's Pendulum, its own closed loop included."""
    from browser import run_page
    from test_live_report import (
        CASES_SCRIPT,
        CONTENT_SECURITY_POLICY,
        START_SEEDS,
        gymnasium_episode,
        max_diff,
    )

    from poleax import live

    spec = NetworkSpec(3, 1, (16, 16), "relu", continuous=True, actor_head=head)
    rng = np.random.default_rng(11)
    params = {
        layer: {name: rng.normal(0, 0.7, shape) for name, shape in n.items()}
        for layer, n in param_shapes(spec).items()
    }
    policy = Policy(params, spec, "Pendulum-v1", "sac")
    cases, references = [], {}
    for seed in START_SEEDS:
        references[seed] = reference = gymnasium_episode(policy, seed)
        cases.append(
            {
                "key": str(seed),
                "data": "policy",
                "start": reference["start"],
                "actions": reference["actions"],
                "steps": len(reference["actions"]),
            }
        )
    page = tmp_path / "page.html"
    page.write_text(
        f"""<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}"></head><body>
{live.data_script(live.live_data(policy), "policy")}{live.data_script(cases, "cases")}
<pre id="result"></pre>{live.inline_script()}{CASES_SCRIPT}</body></html>""",
        encoding="utf-8",
    )
    run = run_page(page, tmp_path / "profile", budget_ms=1000)
    assert run.console == []
    results = json.loads(run.text("result"))
    for seed, reference in references.items():
        closed, replay = results[str(seed)]["closed"], results[str(seed)]["replay"]
        inputs, _ = policy.logits_and_value(np.asarray(replay["observations"], np.float64))
        outputs = np.asarray([row[:-1] for row in replay["outputs"]], np.float64)
        np.testing.assert_allclose(outputs[:, :1], inputs[0], rtol=1e-12, atol=1e-12)
        assert replay["actions"] == reference["actions"]
        assert closed["actions"] == reference["actions"]
        assert max_diff(closed["states"], reference["states"]) <= 1e-9


@pytest.mark.slow
def test_vmapped_executor_trains_the_seeds_as_rows_per_core_does():
    config = _resume_config("sac").replace(total_steps=600, buffer_size=1000)
    rows = train(config.replace(executor="rows-per-core"))
    vmapped = train(config.replace(executor="vmapped"))
    for a, b in zip(
        jax.tree.leaves(rows.state.params), jax.tree.leaves(vmapped.state.params), strict=True
    ):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)


def test_compare_and_sweep_take_the_off_policy_algorithms():
    import optuna

    from poleax.compare.settings import CompareSettings, check_settings, pair_config
    from poleax.sweep.settings import suggest

    settings = CompareSettings(
        envs=("Pendulum-v1",), algos=("ppo", "sac", "td3", "ddpg"), budget=20_000
    )
    check_settings(settings)
    assert pair_config(settings, "sac", "Pendulum-v1").total_steps == 20_000
    with pytest.raises(ConfigError, match="sac is for continuous actions"):
        check_settings(CompareSettings(envs=("CartPole-v1",), algos=("sac",)))
    trial = optuna.trial.FixedTrial(
        {"lr": 1e-3, "gamma": 0.98, "tau": 0.01, "target_entropy": -2.0, "batch_size": 128}
        | {"train_freq": 4}
    )
    values = suggest(trial, "sac", search_shapes=True)
    assert values["target_entropy"] == -2.0 and values["gradient_steps"] == 4
    config = build_config("sac", "Pendulum-v1", **values)
    state = jax.eval_shape(make_algorithm(config).init, jax.random.PRNGKey(0))
    assert state.extra.hparams.tau.shape == ()
    noise = optuna.trial.FixedTrial({"lr": 1e-3, "gamma": 0.98, "tau": 0.01})
    with pytest.raises(ValueError):  # td3 searches its exploration noise, not the entropy
        suggest(noise, "td3")


def test_with_hparams_gives_each_row_its_own_values():
    config = build_config("td3", "Pendulum-v1", hidden=(8,))
    algo = make_algorithm(config)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    state = jax.tree.map(np.array, jax.jit(jax.vmap(algo.init))(keys))
    state = algo.with_hparams(state, [{"tau": 0.02, "exploration_noise": 0.3}, {"lr": 5e-4}])
    np.testing.assert_allclose(state.extra.hparams.tau, [0.02, config.tau])
    np.testing.assert_allclose(state.extra.hparams.lr, [config.lr, 5e-4])
    log_std = np.log([0.3, config.exploration_noise])
    np.testing.assert_allclose(state.params["log_std"]["value"][:, 0], log_std, rtol=1e-6)
    np.testing.assert_allclose(state.extra.actor_target["log_std"]["value"][:, 0], log_std, 1e-6)


def test_maps_draw_the_greedy_action_and_no_value_map_without_a_value_critic():
    from poleax.maps import map_grid, map_images

    spec = NetworkSpec(3, 1, (8,), "relu", continuous=True, actor_head="squashed")
    rng = np.random.default_rng(2)
    params = {
        layer: {name: rng.normal(0, 0.5, shape) for name, shape in n.items()}
        for layer, n in param_shapes(spec).items()
    }
    policy = Policy(params, spec, "Pendulum-v1", "sac")
    grid = map_grid(policy, size=8)
    np.testing.assert_allclose(
        grid.actions.ravel(), policy.act(grid.observations.reshape(-1, 3))[:, 0]
    )
    assert set(map_images(policy)) == {"policy_map"}


@pytest.mark.slow
def test_play_shows_the_greedy_policy_in_gymnasiums_window(train_once, monkeypatch, capsys):
    """``poleax play`` on a SAC run: gymnasium's human renderer (pygame, on SDL's dummy video
    driver for want of a screen) plays the greedy policy, episode i from reset seed i, to
    the return the same policy gets on gymnasium's env without a window."""
    import gymnasium as gym

    import poleax
    from poleax.cli import main

    run = train_once("--env", "Pendulum-v1", "--algo", "sac", "--total-steps", "400", "--no-gifs")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    # The window keeps gymnasium's pace (30 frames a second: 6.7 s an episode); not here.
    from gymnasium.envs.classic_control.pendulum import PendulumEnv

    monkeypatch.setitem(PendulumEnv.metadata, "render_fps", 100_000)
    capsys.readouterr()
    assert main(["play", str(run), "--episodes", "1"]) == 0
    policy, env = poleax.load(run), gym.make("Pendulum-v1")
    obs, _ = env.reset(seed=0)
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(policy.act(obs))
        total, done = total + float(reward), terminated or truncated
    assert capsys.readouterr().out.splitlines() == [f"episode 0: return {total:.0f}"]
