"""Training: every algorithm runs, seeds are independent of their batch, runs repeat exactly."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from poleax.algos import UpdateMetrics, make_train
from poleax.algos.onpolicy import OnPolicyLosses
from poleax.config import build_config
from poleax.trainer import TrainingError, check_finite, train


def params_of(result, index: int):
    return jax.tree.leaves(jax.tree.map(lambda x: np.asarray(x[index]), result.state.params))


def assert_same_tree(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def short(algo: str, **kw):
    values = {"total_steps": 3072, "stop_when_solved": False, "eval_every": 1024, **kw}
    return build_config(algo, "CartPole-v1", **values)


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["ppo", "a2c", "td-ac", "mc-ac"])
def test_same_seed_and_config_repeat_bit_for_bit(algo):
    config = short(algo, seeds=2)
    first, second = train(config), train(config)
    assert_same_tree(jax.tree.leaves(first.state), jax.tree.leaves(second.state))
    assert first.metrics.keys() == second.metrics.keys()
    for name in set(first.metrics) - {"charts/SPS"}:  # SPS is wall-clock time
        np.testing.assert_array_equal(first.metrics[name], second.metrics[name])
    assert first.metrics["charts/env_steps"].shape[0] == 2
    assert np.all(first.metrics["charts/env_steps"].sum(axis=1) >= 3072)


@pytest.mark.slow
def test_seed_i_of_a_batch_is_the_run_of_seed_i():
    batch_of_three = train(short("ppo", seed=5, seeds=3))  # seeds 5, 6, 7
    batch_of_two = train(short("ppo", seed=6, seeds=2))  # seeds 6, 7
    assert_same_tree(params_of(batch_of_three, 1), params_of(batch_of_two, 0))
    assert_same_tree(params_of(batch_of_three, 2), params_of(batch_of_two, 1))
    single = train(short("ppo", seed=6, seeds=1))
    assert_same_tree(params_of(batch_of_three, 1), params_of(single, 0))
    assert single.metrics["charts/env_steps"].shape[0] == 1
    assert len(single.steps_to_solve) == 1 and len(single.delivered_params) == 1


def test_metrics_have_cleanrl_names_and_seed_update_shape():
    result = train(short("ppo", seeds=2))
    for name in (
        "charts/episodic_return",
        "losses/policy_loss",
        "losses/value_loss",
        "losses/entropy",
        "losses/approx_kl",
        "losses/clipfrac",
        "losses/explained_variance",
        "charts/SPS",
    ):
        assert name in result.metrics
        assert result.metrics[name].shape == result.metrics["charts/env_steps"].shape
    assert len(result.evaluations) == 3
    assert len(result.evaluations[0].greedy) == 2


@pytest.mark.slow
def test_make_train_runs_the_whole_budget_under_vmap():
    config = short("a2c")
    train_fn = jax.jit(jax.vmap(make_train(config)))
    _state, metrics = train_fn(jax.random.split(jax.random.PRNGKey(0), 2))
    assert metrics.env_steps.shape[0] == 2
    assert int(metrics.env_steps[0].sum()) >= 3072
    assert metrics.losses.policy_loss.shape == metrics.env_steps.shape


def test_non_finite_loss_is_reported_with_its_update():
    losses = OnPolicyLosses(*[np.zeros((1, 2))] * len(OnPolicyLosses._fields))
    losses = losses._replace(policy_loss=np.array([[0.1, np.nan]]))
    metrics = UpdateMetrics(np.ones((1, 2), np.int32), np.zeros((1, 2)), np.zeros((1, 2)), losses)
    state = type("S", (), {"params": {"w": np.zeros(2)}})()
    with pytest.raises(TrainingError, match="non-finite policy_loss at update 8"):
        check_finite(metrics, state, chunk=3, updates_per_chunk=2)


@pytest.mark.slow
def test_a_solved_seed_stops_training_while_the_others_go_on():
    result = train(build_config("ppo", "CartPole-v0", seeds=3, total_steps=30_000))
    trained = result.metrics["charts/env_steps"].sum(axis=1)
    assert all(s is not None for s in result.steps_to_solve)
    assert trained.tolist() == result.steps_to_solve  # not one step past its solve
    assert len(set(trained.tolist())) > 1  # so some seeds trained on alone
    for i in range(3):  # the final state of a solved seed is the policy it delivers
        final = params_of(result, i)
        assert_same_tree(final, jax.tree.leaves(result.delivered_params[i]))
    losses = result.metrics["losses/policy_loss"]
    stopped = result.metrics["charts/env_steps"] == 0
    assert np.isnan(losses[stopped]).all() and np.isfinite(losses[~stopped]).all()


@pytest.mark.slow
def test_a_pass_the_confirmation_rejects_trains_on_until_one_is_accepted():
    config = build_config("ppo", "CartPole-v0", total_steps=30_000)
    plain = train(config)
    asked = []

    def second_time_lucky(rows, params):
        asked.extend(rows)
        return [len(asked) > 1 for _ in rows]

    checked = train(config, confirm=second_time_lucky)
    assert asked == [0, 0]
    assert checked.steps_to_solve[0] > plain.steps_to_solve[0]
    trained = checked.metrics["charts/env_steps"].sum()
    assert trained == checked.steps_to_solve[0]
