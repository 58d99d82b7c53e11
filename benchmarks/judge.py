"""Seconds of one gymnasium judgement, ``evaluate_many([policy], env_id)`` (100 greedy and 100
sampled episodes): the vector-env judge before beside the bare-env judge now.

    python benchmarks/judge.py [--repeats 3] [--envs Acrobot-v1 ...]

"Before" is ``poleax/reference.py`` as of commit ``BEFORE``, loaded from git. Policies: the
untrained network (episodes run to the time limit), and for the tasks that end early a network
that pushes along a velocity (episodes end at varied steps). Both judges must agree exactly;
prints a markdown table of medians over ``repeats`` runs, measured side by side in one process.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import jax
import numpy as np

from poleax import reference
from poleax.envs import env_spec
from poleax.envs.registry import ENV_IDS
from poleax.networks import NetworkSpec, init_params, param_shapes
from poleax.policy import Policy

BEFORE = "708eadf"
"""The last commit whose judge played every env in ``gym.make_vec``."""

#: Observation index of the velocity to push along, and the push's size.
PUSH = {"Acrobot-v1": (5, 3.0), "MountainCar-v0": (1, 3.0), "MountainCarContinuous-v0": (1, 1.0)}


def old_reference():
    """``poleax.reference`` as of ``BEFORE``."""
    root = Path(__file__).resolve().parent.parent
    source = subprocess.run(
        ["git", "show", f"{BEFORE}:src/poleax/reference.py"],
        cwd=root, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    module = sys.modules["reference_before"] = types.ModuleType("reference_before")
    exec(compile(source, f"{BEFORE}:reference.py", "exec"), module.__dict__)
    return module


def network(env_id: str, hidden: tuple[int, ...] = (64, 64)) -> NetworkSpec:
    env = env_spec(env_id)
    return NetworkSpec(env.observation_size, env.action_size, hidden, continuous=not env.discrete)


def untrained(env_id: str) -> Policy:
    spec = network(env_id)
    params = jax.tree.map(np.asarray, init_params(jax.random.PRNGKey(0), spec))
    return Policy(params, spec, env_id, "ppo")


def pushing(env_id: str) -> Policy:
    spec = network(env_id, hidden=(1,))
    params = {
        layer: {name: np.zeros(shape) for name, shape in names.items()}
        for layer, names in param_shapes(spec).items()
    }
    index, size = PUSH[env_id]
    params["actor_0"]["w"][index, 0] = 100.0
    if spec.continuous:
        params["actor_out"]["w"][0, 0] = size
        params["log_std"]["value"][:] = -1.0
    else:
        params["actor_out"]["w"][0] = [-size, 0.0, size]
    return Policy(params, spec, env_id, "ppo")


def seconds(judge, policy: Policy, env_id: str, repeats: int) -> tuple[float, list]:
    """Median seconds of ``judge.evaluate_many([policy], env_id)``, and its result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = judge.evaluate_many([policy], env_id)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--envs", nargs="+", choices=ENV_IDS, default=list(ENV_IDS))
    args = parser.parse_args()
    before = old_reference()
    print(f"median of {args.repeats}, 100 greedy + 100 sampled episodes, python {sys.version[:6]}")
    print("| env | policy | mean length | before (s) | now (s) | speed-up |")
    print("|---|---|---|---|---|---|")
    for env_id in args.envs:
        cases = {"untrained": untrained(env_id)}
        if env_id in PUSH:
            cases["pushing"] = pushing(env_id)
        for name, policy in cases.items():
            old, old_result = seconds(before, policy, env_id, args.repeats)
            new, new_result = seconds(reference, policy, env_id, args.repeats)
            assert new_result == old_result, (env_id, name, new_result, old_result)
            length = _mean_length(policy, env_id)
            print(
                f"| {env_id} | {name} | {length:.0f} | {old:.2f} | {new:.2f} | {old / new:.1f}x |"
            )


def _mean_length(policy: Policy, env_id: str) -> float:
    """Mean length of the policy's greedy episodes from the judge's 100 initial states."""
    import gymnasium as gym

    env = gym.make(env_id).unwrapped
    limit = gym.spec(env_id).max_episode_steps
    lengths = []
    for i in range(100):
        obs, _ = env.reset(seed=reference.EVAL_SEED + i)
        length = 0
        while length < limit:
            obs, _, terminated, _, _ = env.step(policy.act(obs))
            length += 1
            if terminated:
                break
        lengths.append(length)
    return float(np.mean(lengths))


if __name__ == "__main__":
    main()
