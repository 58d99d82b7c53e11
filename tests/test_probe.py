"""Probe envs: one-step tasks whose best action is known; every algorithm must learn them."""

from __future__ import annotations

import numpy as np
import pytest

from poleax.config import ALGOS, OFF_POLICY_ALGOS, build_config
from poleax.envs import ENV_SPECS, register
from poleax.envs.probe import probe_spec
from poleax.policy import Policy
from poleax.trainer import train

pytestmark = pytest.mark.slow  # every algorithm learns the probe: trains to a criterion

DISCRETE = probe_spec("ProbeDiscrete-v0")


@pytest.fixture(scope="module", autouse=True)
def probes():
    register(DISCRETE)
    yield
    ENV_SPECS.pop(DISCRETE.id)


@pytest.mark.parametrize("algo", [a for a in ALGOS if a not in OFF_POLICY_ALGOS])
def test_every_algorithm_learns_the_discrete_probe(algo):
    # One-step episodes have nothing to normalise per episode (the tutorial's returns would
    # all be 0): mc-ac learns from raw returns here.
    extra = {"normalize_returns": False} if algo == "mc-ac" else {}
    config = build_config(
        algo=algo, env=DISCRETE.id, total_steps=30_000, eval_every=512, seed=3, **extra
    )
    result = train(config)
    assert result.steps_to_solve[0] is not None, f"{algo} did not learn the probe"
    policy = Policy(result.delivered_params[0], result.algorithm.spec, DISCRETE.id, algo)
    assert policy.act(np.array([[1.0], [-1.0]])).tolist() == [1, 0]
    assert policy.act(np.array([1.0])) == 1 and policy.act(np.array([-1.0])) == 0
