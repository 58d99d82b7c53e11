"""Evaluation on gymnasium's own CartPole: the judge of "solved".

Episode ``i`` starts where ``gym.make(env_id).reset(seed=seed + i)`` starts; all episodes then
run at once in gymnasium's vectorised CartPole (the same physics in numpy, with its time
limit), so 100 episodes take milliseconds rather than a second.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from poleax.envs.registry import SOLVED_THRESHOLD, check_env_id


@dataclass(frozen=True)
class Evaluation:
    """Returns of evaluation episodes and whether their mean meets the solved threshold."""

    env_id: str
    greedy: bool
    returns: np.ndarray

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        return float(np.std(self.returns))

    @property
    def solved(self) -> bool:
        return self.mean >= SOLVED_THRESHOLD[self.env_id]


def initial_states(env_id: str, episodes: int, seed: int) -> np.ndarray:
    """States ``[episodes, 4]`` that ``gym.make(env_id).reset(seed=seed + i)`` starts from."""
    from gymnasium.envs.classic_control.cartpole import CartPoleEnv

    env = CartPoleEnv()
    states = []
    for i in range(episodes):
        env.reset(seed=seed + i)
        states.append(np.array(env.state, dtype=np.float64))
    return np.stack(states)


def make_vector_env(env_id: str, num_envs: int):
    """Gymnasium's vectorised CartPole for ``env_id``, with the id's time limit."""
    import gymnasium as gym

    check_env_id(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CartPole-v0's deprecation notice
        return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")


def evaluate_policy(
    policy,
    env_id: str,
    episodes: int = 100,
    seed: int = 10_000,
    greedy: bool = True,
) -> Evaluation:
    """Play ``episodes`` episodes of gymnasium's ``env_id`` with ``policy.act``.

    Sampled actions draw from ``numpy.random.default_rng(seed)``, so an evaluation repeats.
    """
    return _play(policy, env_id, episodes, seed, (greedy,))[0]


def _play(policy, env_id: str, episodes: int, seed: int, modes: tuple[bool, ...]):
    """One ``Evaluation`` per mode (greedy or not), all played in one vectorised env.

    Each mode's block of envs starts from the same initial states and acts on its own, so a
    block's returns are those of playing that mode alone.
    """
    venv = make_vector_env(env_id, episodes * len(modes))
    venv.reset(seed=seed)
    starts = initial_states(env_id, episodes, seed)
    venv.unwrapped.state = np.concatenate([starts] * len(modes)).T.copy()
    obs = venv.unwrapped.state.T.astype(np.float32)
    rngs = [np.random.default_rng(seed) for _ in modes]
    alive = np.ones(episodes * len(modes), bool)
    totals = np.zeros(episodes * len(modes))
    blocks = [slice(i * episodes, (i + 1) * episodes) for i in range(len(modes))]
    while alive.any():
        actions = np.concatenate(
            [
                np.asarray(policy.act(obs[block], greedy=greedy, rng=rng), np.int64)
                for block, greedy, rng in zip(blocks, modes, rngs, strict=True)
            ]
        )
        obs, rewards, terminated, truncated, _ = venv.step(actions)
        totals += np.where(alive, rewards, 0.0)
        alive &= ~(terminated | truncated)
    venv.close()
    return [Evaluation(env_id, g, totals[b]) for b, g in zip(blocks, modes, strict=True)]


def evaluate_both(policy, env_id: str, episodes: int = 100, seed: int = 10_000) -> dict:
    """Greedy and sampled evaluations (played side by side) as a JSON-ready dict."""
    out = {"env": env_id, "episodes": episodes, "seed": seed}
    greedy, sampled = _play(policy, env_id, episodes, seed, (True, False))
    for mode, ev in (("greedy", greedy), ("sampled", sampled)):
        out[mode] = {"mean": ev.mean, "std": ev.std, "solved": ev.solved}
    out["threshold"] = SOLVED_THRESHOLD[env_id]
    out["solved"] = out["greedy"]["solved"] and out["sampled"]["solved"]
    return out
