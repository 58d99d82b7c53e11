"""Evaluation on the env that judges a task: the judge of "solved".

A task whose spec names a gymnasium env (``EnvSpec.gymnasium_id``) is judged on it: episode
``i`` starts where ``gym.make(id).reset(seed=seed + i)`` starts, and every step is gymnasium's
own. All episodes run side by side: in gymnasium's numpy vector env where the id has one (100
episodes take milliseconds); else in gymnasium's env objects without their wrappers, stepped
one by one while their episode lasts, the time limit counted here (the same numbers as
``gym.make_vec``, without its bookkeeping). A task with no gymnasium twin (say one registered
from user code) is judged by poleax's own evaluation: its JAX env, all episodes batched,
episode ``i`` starting from the uniforms of ``numpy.random.default_rng(seed + i)``. What
"solved" means comes from the env's ``SolveCriterion`` alone.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from poleax.envs.registry import env_spec
from poleax.envs.spec import EVAL_SEED, EnvSpec
from poleax.policy import Policy, act_together, stack_params


@dataclass(frozen=True)
class Evaluation:
    """Returns of evaluation episodes and whether their mean meets the solved threshold."""

    task: EnvSpec
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
        return self.task.solve.mode_passes(self.mean)


def initial_states(env: str | EnvSpec, episodes: int, seed: int) -> np.ndarray:
    """Gymnasium states ``[episodes, ...]`` that ``gym.make(id).reset(seed=seed + i)`` starts
    from, for the task ``env`` (an id or a spec)."""
    env = env_spec(env).gymnasium_env()
    states = []
    for i in range(episodes):
        env.reset(seed=seed + i)
        states.append(np.array(env.state, dtype=np.float64))
    return np.stack(states)


def make_vector_env(env: str | EnvSpec, num_envs: int):
    """Gymnasium's vector env of ``num_envs`` envs of the task ``env`` (an id or a spec; its
    spec's ``gymnasium_id``), with the id's time limit."""
    import gymnasium as gym

    gymnasium_id = _gymnasium_id(env_spec(env))
    mode = "vector_entry_point" if gym.spec(gymnasium_id).vector_entry_point else "sync"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an old version's deprecation notice
        return gym.make_vec(gymnasium_id, num_envs=num_envs, vectorization_mode=mode)


def _gymnasium_id(task: EnvSpec) -> str:
    if not task.judged_by_gymnasium:
        raise ValueError(f"{task.id} has no gymnasium twin: poleax's own evaluation judges it")
    return task.gymnasium_id


def _reset(venv, task: EnvSpec, episodes: int, copies: int, seed: int) -> np.ndarray:
    """Reset ``copies`` blocks of ``episodes`` envs of the numpy vector env ``venv``, env
    ``i`` of each block where ``reset(seed=seed + i)`` starts; return the observations."""
    venv.reset(seed=seed)
    venv.unwrapped.state = np.concatenate([initial_states(task, episodes, seed)] * copies).T
    return venv.unwrapped.state.T.astype(np.float32)  # the vectorised env observes its state


class _VectorEpisodes:
    """Episodes in gymnasium's own (numpy) vector env of the task's id."""

    def __init__(self, task: EnvSpec, episodes: int, copies: int, seed: int) -> None:
        self.venv = make_vector_env(task, episodes * copies)
        self.obs = _reset(self.venv, task, episodes, copies, seed)
        self.action_space = self.venv.action_space

    def step(self, actions: np.ndarray, alive: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(obs, rewards, done)`` after every env takes its action (finished ones reset)."""
        self.obs, rewards, terminated, truncated, _ = self.venv.step(actions)
        return self.obs, rewards, terminated | truncated

    def close(self) -> None:
        self.venv.close()


class _BareEpisodes:
    """Episodes in gymnasium's env objects without their wrappers (TimeLimit, OrderEnforcing,
    PassiveEnvChecker), as ``gym.make_vec``'s SyncVectorEnv would play them.

    Only the envs whose episode goes on step; a finished one keeps its last observation, where
    the vector env would have reset it. That changes no number of the still-playing rows as
    long as ``policy.act`` treats rows apart and draws as many random numbers for any values
    of the batch (every poleax ``Policy`` does).
    """

    def __init__(self, task: EnvSpec, episodes: int, copies: int, seed: int) -> None:
        import gymnasium as gym

        spec = gym.spec(_gymnasium_id(task))
        self.envs = [gym.make(spec).unwrapped for _ in range(episodes * copies)]
        self.max_steps = spec.max_episode_steps
        self.steps = 0
        first = [env.reset(seed=seed + i % episodes)[0] for i, env in enumerate(self.envs)]
        self.obs = np.stack(first).astype(self.envs[0].observation_space.dtype)
        space = self.envs[0].action_space
        self.action_space = gym.vector.utils.batch_space(space, len(self.envs))

    def step(self, actions: np.ndarray, alive: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(obs, rewards, done)`` after the playing envs take their action."""
        self.steps += 1
        limit = self.max_steps is not None and self.steps >= self.max_steps
        rewards = np.zeros(len(self.envs))
        done = np.zeros(len(self.envs), bool)
        playing = np.flatnonzero(alive)
        rows = zip(playing.tolist(), actions[playing], strict=True)
        steps = [self.envs[i].step(action) for i, action in rows]
        obs, rewards[playing], terminated, truncated, _ = zip(*steps, strict=True)
        self.obs[playing] = obs
        done[playing] = np.logical_or(terminated, truncated) | limit
        return self.obs, rewards, done

    def close(self) -> None:
        for env in self.envs:
            env.close()


class _PoleaxEpisodes:
    """Episodes of poleax's own JAX env, for a task with no gymnasium twin: all of them in
    one batch, stepped by one jitted ``step_env`` while any lasts (the env's own time limit);
    episode ``i`` of each block starts at ``reset_from(u)``, ``u`` drawn by
    ``numpy.random.default_rng(seed + i)``. A finished episode keeps its last state."""

    def __init__(self, spec: EnvSpec, episodes: int, copies: int, seed: int) -> None:
        import jax.numpy as jnp

        reset, self._step = _poleax_programs(spec)
        draws = _reset_draws(spec)
        u = [np.random.default_rng(seed + i).random(draws) for i in range(episodes)] * copies
        obs, self.state = reset(jnp.asarray(np.stack(u), jnp.zeros(()).dtype))
        self.obs = np.array(obs)
        space = spec.action_space
        shape = (episodes * copies, *space.shape)
        self.action_space = _Space(shape, np.dtype(np.float32 if space.shape else np.int64))

    @property
    def physics(self) -> np.ndarray:
        """Every episode's physics state now, ``[episodes * copies, n]`` (float64)."""
        return np.asarray(self.state.physics, np.float64)

    def step(self, actions: np.ndarray, alive: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(obs, rewards, done)`` after the playing envs take their action."""
        obs, self.state, rewards, done = self._step(self.state, actions, alive)
        self.obs = np.array(obs)
        return self.obs, np.asarray(rewards, np.float64), np.asarray(done)

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class _Space:
    """What ``_play`` reads of a batch's action space."""

    shape: tuple[int, ...]
    dtype: Any


def _reset_draws(spec: EnvSpec) -> int:
    env, _ = spec.make()
    return int(env.reset_draws)


@functools.cache
def _poleax_programs(spec: EnvSpec):
    """Jitted ``reset(u) -> (obs, state)`` and ``step(state, actions, alive) -> (obs, state,
    rewards, done)`` of a batch of the spec's JAX envs (built once per spec)."""
    import jax
    import jax.numpy as jnp

    env, params = spec.make()

    @jax.jit
    def reset(u):
        return jax.vmap(env.reset_from, in_axes=(0, None))(u, params)

    @jax.jit
    def step(state, actions, alive):
        obs, new, reward, terminated, truncated = jax.vmap(env.step_env, in_axes=(0, 0, None))(
            state, actions, params
        )

        def keep(n, o):
            mask = alive.reshape(alive.shape + (1,) * (jnp.ndim(n) - 1))
            return jnp.where(mask, n, o)

        return obs, jax.tree.map(keep, new, state), reward, terminated | truncated

    return reset, step


def poleax_episode(policy, seed: int) -> list[np.ndarray]:
    """The physics states (float64) of one greedy episode of poleax's own JAX env, from the
    start ``_PoleaxEpisodes`` gives episode 0 of ``seed``: for tasks with no gymnasium twin."""
    games = _PoleaxEpisodes(policy.env_spec, 1, 1, seed)
    points = [games.physics[0]]
    alive = np.ones(1, bool)
    while alive[0]:
        _, _, done = games.step(np.asarray(policy.act(games.obs)), alive)
        points.append(games.physics[0])
        alive &= ~done
    return points


def evaluate_policy(
    policy,
    env: str | EnvSpec,
    episodes: int = 100,
    seed: int = EVAL_SEED,
    greedy: bool = True,
) -> Evaluation:
    """Play ``episodes`` episodes of the env that judges the task ``env`` (an id or a spec)
    with ``policy.act``.

    Sampled actions draw from ``numpy.random.default_rng(seed)``, so an evaluation repeats.
    """
    return _play([(policy, greedy)], env_spec(env), episodes, seed)[0]


def _play(players: list[tuple], task: EnvSpec, episodes: int, seed: int) -> list[Evaluation]:
    """One ``Evaluation`` per ``(policy, greedy)`` player, all played side by side.

    Each player's block of envs starts from the same initial states and draws from its own
    ``default_rng(seed)``, so its returns are those of playing alone. A block's policy sees
    the whole block every step until all its episodes have ended. Players whose policies
    share a network act together, in one forward pass (``act_together``: bit for bit what
    each would do alone), so judging many seeds at once costs little more than one.
    """
    n = len(players)
    games = _games(task, episodes, n, seed)
    obs, space = games.obs, games.action_space
    rngs = [np.random.default_rng(seed) for _ in players]
    alive = np.ones(episodes * n, bool)
    totals = np.zeros(episodes * n)
    blocks = [slice(i * episodes, (i + 1) * episodes) for i in range(n)]
    teams = _teams([policy for policy, _ in players])
    stacks: dict[int, tuple[list[int], Any]] = {}  # team -> its playing members' parameters
    while alive.any():
        actions = np.zeros(space.shape, space.dtype)
        playing = [alive[block].any() for block in blocks]
        for t, team in enumerate(teams):
            members = [i for i in team if playing[i]]
            if not members:
                continue
            if len(members) == 1 or not isinstance(players[members[0]][0], Policy):
                for i in members:
                    policy, greedy = players[i]
                    actions[blocks[i]] = policy.act(obs[blocks[i]], greedy=greedy, rng=rngs[i])
                continue
            team_policies = [players[i][0] for i in members]
            if t not in stacks or stacks[t][0] != members:  # stacked again as players finish
                stacks[t] = (members, stack_params(team_policies))
            together = act_together(
                team_policies,
                np.stack([obs[blocks[i]] for i in members]),
                [players[i][1] for i in members],
                [rngs[i] for i in members],
                stacks[t][1],
            )
            for i, acted in zip(members, together, strict=True):
                actions[blocks[i]] = acted
        obs, rewards, done = games.step(actions, alive)
        totals += np.where(alive, rewards, 0.0)
        alive &= ~done
    games.close()
    return [Evaluation(task, g, totals[b]) for b, (_, g) in zip(blocks, players, strict=True)]


def _games(task: EnvSpec, episodes: int, copies: int, seed: int):
    """The episodes that judge the task: gymnasium's where its spec names a gymnasium id,
    else poleax's own JAX env's."""
    if not task.judged_by_gymnasium:
        return _PoleaxEpisodes(task, episodes, copies, seed)
    import gymnasium as gym

    vector = gym.spec(task.gymnasium_id).vector_entry_point is not None
    return (_VectorEpisodes if vector else _BareEpisodes)(task, episodes, copies, seed)


def _teams(policies: list) -> list[list[int]]:
    """Indices of the players whose policies act together (``act_together``): poleax
    ``Policy`` objects of one network; any other policy acts alone."""
    teams: dict[object, list[int]] = {}
    for i, policy in enumerate(policies):
        key = (policy.spec, policy.env_id) if isinstance(policy, Policy) else ("alone", i)
        teams.setdefault(key, []).append(i)
    return list(teams.values())


def confident(criterion, evaluation: dict) -> bool:
    """Whether an evaluation (``reference.evaluate_many``'s) passes ``criterion`` by its
    margin of standard errors (``SolveCriterion.passes_confidently``): "solved"."""
    n = max(evaluation["episodes"] - 1, 1)  # standard errors from population stds
    return bool(
        evaluation["solved"]
        and criterion.passes_confidently(
            evaluation["greedy"]["mean"],
            evaluation["sampled"]["mean"],
            evaluation["greedy"]["std"] / n**0.5,
            evaluation["sampled"]["std"] / n**0.5,
        )
    )


def evaluate_both(policy, env: str | EnvSpec, episodes: int = 100, seed: int = EVAL_SEED) -> dict:
    """Greedy and sampled evaluations (played side by side) as a JSON-ready dict, on the
    env that judges the task ``env`` (an id or a spec)."""
    task = env_spec(env)
    check_evaluation([policy], task, episodes, seed)
    return evaluate_many([policy], task, episodes, seed)[0]


#: Most episodes per mode one evaluation plays (all of them side by side).
MAX_EPISODES = 1_000_000


def check_evaluation(
    policies: list, env: str | EnvSpec, episodes: int, seed: int, memory: bool = True
) -> None:
    """Raise ``ValueError`` (one line) for an episode count or a seed that cannot work, or
    (with ``memory``) an evaluation that needs more memory than this machine has: before
    anything is played."""
    from poleax.resources import check_fits, evaluation_bytes

    if not isinstance(episodes, int) or isinstance(episodes, bool):
        raise ValueError(f"episodes must be a whole number; got {episodes!r}")
    if not 1 <= episodes <= MAX_EPISODES:
        raise ValueError(f"episodes must be in [1, {MAX_EPISODES:,}]; got {episodes:,}")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**31:
        raise ValueError(f"seed must be a whole number in [0, 2^31); got {seed!r}")
    spec = env_spec(env)
    if not memory:
        return
    bare = False
    if spec.judged_by_gymnasium:
        import gymnasium as gym

        bare = gym.spec(spec.gymnasium_id).vector_entry_point is None
    hidden = max(
        (tuple(p.spec.hidden) for p in policies if isinstance(p, Policy)), key=sum, default=(64,)
    )
    needed = evaluation_bytes(spec.observation_size, hidden, episodes * len(policies), bare)
    check_fits(needed, f"{episodes:,} evaluation episodes per mode", "play fewer episodes")


def evaluate_many(
    policies: list, env: str | EnvSpec, episodes: int = 100, seed: int = EVAL_SEED
) -> list:
    """``evaluate_both`` of every policy, all played at once (many seeds in one loop). The
    memory of a run's judging was counted when its config was validated."""
    task = env_spec(env)
    check_evaluation(policies, task, episodes, seed, memory=False)
    criterion = task.solve
    players = [(policy, greedy) for policy in policies for greedy in (True, False)]
    results = _play(players, task, episodes, seed)
    out = []
    for greedy, sampled in zip(results[::2], results[1::2], strict=True):
        entry = {"env": task.id, "episodes": episodes, "seed": seed}
        for mode, ev in (("greedy", greedy), ("sampled", sampled)):
            entry[mode] = {"mean": ev.mean, "std": ev.std, "solved": ev.solved}
        entry["threshold"] = criterion.threshold
        entry["solved"] = bool(criterion.passes(greedy.mean, sampled.mean))
        out.append(entry)
    return out
