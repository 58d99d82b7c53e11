"""The tutorial's actor-critic (mc-ac), its preset, the TD variant, and the GIFs."""

from __future__ import annotations

import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from poleax.algos import make_algorithm
from poleax.algos.base import network_spec
from poleax.algos.mc_ac import episode_mask, loss
from poleax.cli import main
from poleax.config import build_config
from poleax.distributions import Categorical
from poleax.envs import make
from poleax.envs.cartpole import EnvState
from poleax.networks import apply, init_params
from poleax.returns import gae
from poleax.rollout import RolloutState, draw_rollout, rollout


def test_episode_mask_keeps_the_first_episode_including_its_end():
    dones = jnp.array([[0, 0], [1, 0], [0, 0], [1, 1]], bool)
    mask = np.asarray(episode_mask(dones))
    np.testing.assert_array_equal(mask, [[1, 1], [1, 1], [0, 1], [0, 1]])


@pytest.fixture(scope="module")
def batch():
    config = build_config(preset="tutorial")
    spec = network_spec(config)
    params = init_params(jax.random.PRNGKey(0), spec)
    rng = np.random.default_rng(0)
    obs = jnp.asarray(rng.normal(size=(6, 1, 4)), jnp.float32)
    actions = jnp.asarray(rng.integers(0, 2, (6, 1)))
    returns = jnp.asarray(rng.normal(size=(6, 1)), jnp.float32)
    mask = jnp.ones((6, 1))
    return config, spec, params, obs, actions, returns, mask


def test_loss_matches_the_tutorial_formula(batch):
    config, spec, params, obs, actions, returns, mask = batch
    value, _ = loss(params, spec, obs, actions, returns, mask, config)
    logits, values = apply(params, obs, spec)
    probs = np.asarray(jax.nn.softmax(logits))
    log_p = np.log(np.take_along_axis(probs, np.asarray(actions)[..., None], -1)[..., 0])
    diff = np.asarray(returns - values)
    huber = np.where(np.abs(diff) <= 1, 0.5 * diff**2, np.abs(diff) - 0.5)
    expected = np.sum(-log_p * diff) + np.sum(huber)
    np.testing.assert_allclose(float(value), expected, rtol=1e-5)


def test_detached_advantage_stops_the_actor_gradient_into_the_critic(batch):
    config, spec, params, obs, actions, returns, mask = batch

    def critic_grad(detach: bool, actor_only: bool = False):
        cfg = config.replace(detach_advantage=detach)

        def f(p):
            total, aux = loss(p, spec, obs, actions, returns, mask, cfg)
            policy_loss, _value_loss = aux
            return policy_loss if actor_only else total

        return jax.grad(f)(params)["critic_out"]["w"]

    assert np.allclose(critic_grad(True, actor_only=True), 0.0)
    assert not np.allclose(critic_grad(False, actor_only=True), 0.0)
    # As posted, the critic head also gets d/dV of -log pi * (G - V) = +log pi * dV.
    logits, _ = apply(params, obs, spec)
    log_p = jnp.take_along_axis(jax.nn.log_softmax(logits), actions[..., None], -1)[..., 0]
    trunk = jax.nn.relu(obs @ params["trunk_0"]["w"] + params["trunk_0"]["b"])
    extra = jnp.einsum("te,teh->h", log_p, trunk)[:, None]
    np.testing.assert_allclose(critic_grad(False), critic_grad(True) + extra, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_tutorial_preset_logs_stops_and_tells_the_truth(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--preset", "tutorial", "--out", str(out), "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    logs = [line for line in lines if line.startswith("在第")]
    assert logs, lines
    pattern = re.compile(r"^在第 (\d+) 轮游戏中获得奖励: (\d+\.\d\d) 分$")
    numbers = [int(pattern.match(line).group(1)) for line in logs]
    assert numbers == list(range(10, 10 * len(numbers) + 1, 10))
    stop = lines.index("奖励超过 195 ,训练结束")
    assert stop > lines.index(logs[-1])
    assert "solved CartPole-v0" in lines[stop + 1]  # the truth, next to the stop rule
    summary = json.loads((out / "summary.json").read_text())
    running = summary["running_reward"][0]
    assert running > 195
    assert all(float(pattern.match(x).group(2)) <= 195 for x in logs)
    assert (out / "未训练前的样子.gif").exists() and (out / "训练后的样子.gif").exists()
    for mode in ("greedy", "sampled"):
        assert 0 < summary["per_seed"][0]["evaluation"][mode]["mean"] <= 200
    config = json.loads((out / "config.json").read_text())
    assert config["seed"] == 42 and config["lr"] == 0.01 and not config["detach_advantage"]


def test_tutorial_preset_takes_keras_adam_steps():
    """The preset's update moves the parameters as Keras' Adam (epsilon before the bias
    correction), read off its own first and second moments after one update."""
    from jax.flatten_util import ravel_pytree

    config = build_config(preset="tutorial")
    algo = make_algorithm(config)
    state = algo.init(jax.random.PRNGKey(0))
    after, _ = jax.jit(algo.update)(state)
    step = np.asarray(ravel_pytree(after.params)[0] - ravel_pytree(state.params)[0], np.float64)
    m = np.asarray(after.opt_state.mu, np.float64)
    v = np.asarray(after.opt_state.nu, np.float64)
    assert int(after.opt_state.count) == 1
    lr, eps = config.lr, config.adam_eps
    keras = -lr * np.sqrt(1 - 0.999) / (1 - 0.9) * m / (np.sqrt(v) + eps)
    optax_adam = -lr * (m / (1 - 0.9)) / (np.sqrt(v / (1 - 0.999)) + eps)
    np.testing.assert_allclose(step, keras, rtol=1e-4, atol=1e-9)
    assert np.abs(step - optax_adam).max() > 1e-4  # the two differ on this update


def test_english_log_lines(tmp_path, capsys):
    args = ["train", "--preset", "tutorial", "--lang", "en", "--no-gifs", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "en")]) == 0
    out = capsys.readouterr().out
    assert "episode 10: running reward " in out
    assert "running reward above 195, training finished" in out


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["mc-ac", "td-ac"])
def test_same_seed_gives_identical_parameters(algo):
    config = build_config(algo, "CartPole-v0", total_steps=3000)
    algo_ = make_algorithm(config)
    update = jax.jit(algo_.update)  # compiled once: the two runs differ in nothing but time

    def run():
        state = algo_.init(jax.random.PRNGKey(7))
        for _ in range(3):
            state, _ = update(state)
        return jax.device_get(state.params)

    first, second = run(), run()
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(second), strict=True):
        np.testing.assert_array_equal(a, b)


def td_targets(state: EnvState, action: int):
    """One td-ac step from ``state``: (target, value of the final observation, flags)."""
    config = build_config("td-ac", "CartPole-v0")
    env, env_params = make("CartPole-v0")
    spec = network_spec(config)
    params = init_params(jax.random.PRNGKey(0), spec)
    batch_state = jax.tree.map(lambda x: jnp.asarray(x)[None], state)
    obs = state.physics[None]
    start = RolloutState(batch_state, obs, jnp.zeros(1), jnp.zeros(1, jnp.int32))
    # Force the action by making the policy deterministic: large logit on `action`.
    params["actor_out"]["b"] = params["actor_out"]["b"].at[action].set(100.0)
    dist = Categorical(spec.num_actions)
    draws = draw_rollout(jax.random.PRNGKey(1), env, dist, 1, 1)
    _, traj = rollout(env, env_params, spec, dist, params, start, draws)
    _, targets = gae(
        traj.reward,
        traj.value,
        traj.next_value,
        traj.terminated,
        traj.truncated,
        config.gamma,
        config.gae_lambda,
    )
    return float(targets[0, 0]), float(traj.next_value[0, 0]), traj, config.gamma


@pytest.mark.slow
def test_td_ac_target_at_termination_has_no_bootstrap():
    state = EnvState(jnp.array([2.39, 1.0, 0.0, 0.0], jnp.float32), 3)
    target, _, traj, _ = td_targets(state, 1)
    assert bool(traj.terminated[0, 0]) and not bool(traj.truncated[0, 0])
    assert target == pytest.approx(1.0)


def test_td_ac_target_at_truncation_bootstraps_from_the_final_observation():
    state = EnvState(jnp.zeros(4, jnp.float32), 199)
    target, final_value, traj, gamma = td_targets(state, 1)
    assert bool(traj.truncated[0, 0]) and not bool(traj.terminated[0, 0])
    assert final_value != 0.0
    assert target == pytest.approx(1.0 + gamma * final_value, rel=1e-5)


def test_gif_has_one_frame_per_state_and_the_downscaled_size(tmp_path):
    from poleax.render import render_episode

    spec = network_spec(build_config(preset="tutorial"))
    params = jax.device_get(init_params(jax.random.PRNGKey(0), spec))
    path, length = render_episode("CartPole-v0", params, spec, tmp_path / "x.gif", seed=1)
    with Image.open(path) as gif:
        assert gif.n_frames == length + 1
        assert gif.size == (300, 200)
        assert 1 <= length <= 200
