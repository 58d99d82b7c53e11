"""The one definition of "solved", and the margin training stops by."""

from __future__ import annotations

import numpy as np

from poleax.envs import ENV_SPECS, env_spec


def test_every_task_has_its_criterion():
    thresholds = {i: s.solve.threshold for i, s in ENV_SPECS.items()}
    assert thresholds == {
        "CartPole-v0": 195.0,
        "CartPole-v1": 475.0,
        "Acrobot-v1": -100.0,
        "MountainCar-v0": -110.0,
        "Pendulum-v1": -200.0,
        "MountainCarContinuous-v0": 90.0,
    }
    assert all(s.solve.episodes == 100 and s.solve.eval_seed == 10_000 for s in ENV_SPECS.values())


def test_gymnasiums_registered_thresholds_are_ours():
    import gymnasium as gym

    for env_id, spec in ENV_SPECS.items():
        registered = gym.spec(env_id).reward_threshold
        if registered is not None:
            assert spec.solve.threshold == registered, env_id
    assert gym.spec("Pendulum-v1").reward_threshold is None  # ours is a convention


def test_both_modes_must_pass():
    criterion = env_spec("CartPole-v1").solve
    assert criterion.passes(475.0, 475.0)
    assert not criterion.passes(500.0, 474.9) and not criterion.passes(474.9, 500.0)
    np.testing.assert_array_equal(
        criterion.passes(np.array([500.0, 500.0]), np.array([480.0, 400.0])), [True, False]
    )


def test_training_stops_only_by_a_margin_of_standard_errors():
    criterion = env_spec("MountainCar-v0").solve  # -110
    assert criterion.passes_confidently(-105.0, -105.0, 0.0, 0.0)  # no noise, no margin
    assert criterion.passes(-109.0, -109.0)
    assert not criterion.passes_confidently(-109.0, -109.0, 1.0, 1.0)  # within 2 errors
    assert criterion.passes_confidently(-107.9, -107.9, 1.0, 1.0)
    assert not criterion.passes_confidently(-100.0, -109.0, 0.0, 1.0)


def test_the_criterion_in_words():
    text = env_spec("Acrobot-v1").solve.describe("Acrobot")
    expected = (
        "mean return over 100 episodes of gymnasium's Acrobot >= -100, greedy and sampled, "
        "by 2 standard errors"
    )
    assert text == expected
