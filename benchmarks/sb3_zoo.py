"""One Stable-Baselines3 run with rl-baselines3-zoo's hyperparameters, judged by poleax.

    python benchmarks/sb3_zoo.py ENV [--algo ppo] [--seed 0] [--budget N] [--eval-every N]
                                 [--out result.json] [--save-dir DIR]

Trains SB3 PPO (A2C on CartPole; SAC and TD3 on the continuous tasks) exactly as rl-zoo
would (``python -m rl_zoo3.train --algo ALGO --env ENV``: same hyperparameters, ``make_vec_env``
envs, ``VecNormalize`` where rl-zoo normalises, gSDE where rl-zoo sets ``use_sde``, TD3's action
noise as rl-zoo builds it), and every ``--eval-every`` env steps, at the start of a rollout
(an off-policy ``train_freq`` round; the policy as last updated), judges the policy on
gymnasium with poleax's own evaluation
(``poleax.reference.evaluate_both``: the env's ``SolveCriterion``, greedy and sampled; TD3's
actor is deterministic, so its sampled player acts greedily, as ``model.predict`` does); it
stops at the first pass. A policy that trains to the end of the budget is judged once more,
as delivered. It then saves the model (and the VecNormalize statistics) and writes a JSON
result: env steps to solve, training seconds without the evaluations, the evaluations'
seconds, the means, and when the saved policy was on disk (``time.time``).

Imported by ``solve.py`` for its tables only: torch and SB3 load inside ``run``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path
from typing import Any

#: rl-baselines3-zoo's ``hyperparams/ppo.yml`` (DLR-RM/rl-baselines3-zoo, commit 22e3ff2 of
#: 2026-04-23), entry by entry as the file has them; ``lin_X`` is rl-zoo's linear schedule
#: from X to 0 (``rl_zoo3.utils.SimpleLinearSchedule``); ``policy_kwargs``, a string of Python
#: in the file, is written out as the dict it evaluates to. Unset keys are SB3's defaults
#: (PPO: batch_size 64, learning_rate 3e-4, clip_range 0.2, n_epochs 10, max_grad_norm 0.5,
#: vf_coef 0.5, net_arch 64-64 tanh, ortho_init True).
ZOO_PPO: dict[str, dict[str, Any]] = {
    "CartPole-v1": {  # "# Tuned"
        "n_envs": 8,
        "n_timesteps": 1e5,
        "policy": "MlpPolicy",
        "n_steps": 32,
        "batch_size": 256,
        "gae_lambda": 0.8,
        "gamma": 0.98,
        "n_epochs": 20,
        "ent_coef": 0.0,
        "learning_rate": "lin_0.001",
        "clip_range": "lin_0.2",
    },
    "Acrobot-v1": {
        "normalize": True,
        "n_envs": 16,
        "n_timesteps": 1e6,
        "policy": "MlpPolicy",
        "n_steps": 256,
        "gae_lambda": 0.94,
        "gamma": 0.99,
        "n_epochs": 4,
        "ent_coef": 0.0,
    },
    "MountainCar-v0": {
        "normalize": True,
        "n_envs": 16,
        "n_timesteps": 1e6,
        "policy": "MlpPolicy",
        "n_steps": 16,
        "gae_lambda": 0.98,
        "gamma": 0.99,
        "n_epochs": 4,
        "ent_coef": 0.0,
    },
    "Pendulum-v1": {  # "# Tuned"
        "n_envs": 4,
        "n_timesteps": 1e5,
        "policy": "MlpPolicy",
        "n_steps": 1024,
        "gae_lambda": 0.95,
        "gamma": 0.9,
        "n_epochs": 10,
        "ent_coef": 0.0,
        "learning_rate": 1e-3,
        "clip_range": 0.2,
        "use_sde": True,
        "sde_sample_freq": 4,
    },
    "MountainCarContinuous-v0": {  # "# Tuned"
        "normalize": True,
        "n_envs": 1,
        "n_timesteps": 20000,
        "policy": "MlpPolicy",
        "batch_size": 256,
        "n_steps": 8,
        "gamma": 0.9999,
        "learning_rate": 7.77e-05,
        "ent_coef": 0.00429,
        "clip_range": 0.1,
        "n_epochs": 10,
        "gae_lambda": 0.9,
        "max_grad_norm": 5,
        "vf_coef": 0.19,
        "use_sde": True,
        # "dict(log_std_init=-3.29, ortho_init=False)"
        "policy_kwargs": {"log_std_init": -3.29, "ortho_init": False},
    },
}

#: rl-baselines3-zoo's ``hyperparams/a2c.yml`` (same commit), the one entry used here.
ZOO_A2C: dict[str, dict[str, Any]] = {
    "CartPole-v1": {"n_envs": 8, "n_timesteps": 5e5, "policy": "MlpPolicy", "ent_coef": 0.0},
}

#: rl-baselines3-zoo's ``hyperparams/sac.yml`` (same commit; the file last changed at eec15dc
#: of 2026-04-01), the entries of the two continuous classic tasks. Unset keys are SB3's SAC
#: defaults (buffer_size 1e6, batch_size 256, learning_starts 100, tau 0.005, gamma 0.99,
#: train_freq 1, gradient_steps 1, ent_coef "auto", net_arch 256-256 ReLU).
ZOO_SAC: dict[str, dict[str, Any]] = {
    "Pendulum-v1": {
        # callback:
        #   - rl_zoo3.callbacks.ParallelTrainCallback
        "n_timesteps": 20000,
        "policy": "MlpPolicy",
        "learning_rate": 1e-3,
    },
    "MountainCarContinuous-v0": {  # "# Tuned"
        "n_timesteps": 5e4,
        "policy": "MlpPolicy",
        "learning_rate": 3e-4,
        "buffer_size": 50000,
        "batch_size": 512,
        "ent_coef": 0.1,
        "train_freq": 32,
        "gradient_steps": 32,
        "gamma": 0.9999,
        "tau": 0.01,
        "learning_starts": 0,
        "use_sde": True,
        # "dict(log_std_init=-3.67, net_arch=[64, 64])"
        "policy_kwargs": {"log_std_init": -3.67, "net_arch": [64, 64]},
    },
}

#: rl-baselines3-zoo's ``hyperparams/td3.yml`` (same commit as ``sac.yml``). ``noise_type``
#: and ``noise_std`` become SB3 action noise as ``rl_zoo3.exp_manager`` builds it
#: (``NormalActionNoise`` or ``OrnsteinUhlenbeckActionNoise``, mean 0, sigma ``noise_std``
#: per action dimension). Unset keys are SB3's TD3 defaults (buffer_size 1e6, batch_size 256,
#: learning_starts 100, tau 0.005, gamma 0.99, policy_delay 2, target_policy_noise 0.2).
ZOO_TD3: dict[str, dict[str, Any]] = {
    "Pendulum-v1": {
        "n_timesteps": 20000,
        "policy": "MlpPolicy",
        "gamma": 0.98,
        "buffer_size": 200000,
        "learning_starts": 10000,
        "noise_type": "normal",
        "noise_std": 0.1,
        "gradient_steps": 1,
        "train_freq": 1,
        "learning_rate": 1e-3,
        # "dict(net_arch=[400, 300])"
        "policy_kwargs": {"net_arch": [400, 300]},
    },
    "MountainCarContinuous-v0": {  # "# Tuned"
        "n_timesteps": 300000,
        "policy": "MlpPolicy",
        "noise_type": "ornstein-uhlenbeck",
        "noise_std": 0.5,
        "gradient_steps": 1,
        "train_freq": 1,
        "learning_rate": 1e-3,
        "batch_size": 256,
        # "dict(net_arch=[400, 300])"
        "policy_kwargs": {"net_arch": [400, 300]},
    },
}

ZOO = {"ppo": ZOO_PPO, "a2c": ZOO_A2C, "sac": ZOO_SAC, "td3": ZOO_TD3}

#: The off-policy algorithms: judged at the start of a ``train_freq`` round of env steps.
OFF_POLICY = ("sac", "td3")

#: rl-zoo has no CartPole-v0 entry; v0 is v1's dynamics with a 200-step cap, so it uses v1's.
ZOO_ENTRY = {"CartPole-v0": "CartPole-v1"}

#: The benchmark's cap on rl-zoo's ``n_timesteps``.
BUDGET_CAP = 1_000_000

#: Env steps between evaluations: often enough to see the solve within a few percent of the
#: budget, seldom enough that evaluating (100 + 100 gymnasium episodes in Python, up to a few
#: seconds on Acrobot and MountainCarContinuous) does not swamp the run.
EVAL_EVERY = {
    "CartPole-v0": 1024,
    "CartPole-v1": 1024,
    "Acrobot-v1": 10_000,
    "MountainCar-v0": 10_000,
    "Pendulum-v1": 5_000,
    "MountainCarContinuous-v0": 2_000,
}

#: Off-policy runs are judged more often: their budgets are 20,000 env steps on Pendulum,
#: where poleax's SAC solves in a few thousand, and one judgement there takes well under a
#: second beside a training step's few milliseconds.
EVAL_EVERY_OFF_POLICY = {"Pendulum-v1": 1_000, "MountainCarContinuous-v0": 2_000}


def judge_every(algo: str, env_id: str) -> int:
    """Env steps between judgements of an SB3 run of ``algo`` on ``env_id``."""
    if algo in OFF_POLICY:
        return EVAL_EVERY_OFF_POLICY[env_id]
    return EVAL_EVERY[env_id]


#: torch's intra-op threads for SB3 (rl-zoo's ``--num-threads``). One: SB3's 64-64 networks
#: train 3x faster on one thread than on two on this project's busy 2-core VM (Acrobot,
#: 8,192 steps: 2.4 s against 7.1 s), where torch's two threads spin against other processes.
THREADS_HELP = "torch threads (rl-zoo's --num-threads; 0: torch's default)"


def zoo_params(algo: str, env_id: str) -> dict[str, Any]:
    """rl-zoo's entry for ``algo`` on ``env_id`` (a copy), or ``KeyError``."""
    return dict(ZOO[algo][ZOO_ENTRY.get(env_id, env_id)])


def zoo_budget(algo: str, env_id: str) -> int:
    """rl-zoo's ``n_timesteps``, capped at ``BUDGET_CAP``."""
    return min(int(zoo_params(algo, env_id)["n_timesteps"]), BUDGET_CAP)


def make_model(algo: str, env_id: str, seed: int):
    """``(model, vec_normalize or None)``: what ``rl_zoo3.exp_manager`` builds for ``env_id``."""
    import numpy as np
    from stable_baselines3 import A2C, PPO, SAC, TD3
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise
    from stable_baselines3.common.vec_env import VecNormalize

    params = zoo_params(algo, env_id)
    n_envs = params.pop("n_envs", 1)
    normalize = params.pop("normalize", False)
    policy = params.pop("policy")
    del params["n_timesteps"]
    for key in ("buffer_size", "learning_starts", "train_freq", "gradient_steps"):
        if key in params:  # the YAML's floats (5e4) as SB3's ints
            params[key] = int(params[key])
    noise_type = params.pop("noise_type", None)
    if noise_type is not None:  # rl_zoo3.exp_manager: mean 0, sigma noise_std per dimension
        from poleax.envs import env_spec

        sigma = params.pop("noise_std") * np.ones(len(env_spec(env_id).action_space.low))
        noise = {"normal": NormalActionNoise, "ornstein-uhlenbeck": OrnsteinUhlenbeckActionNoise}
        params["action_noise"] = noise[noise_type](mean=np.zeros_like(sigma), sigma=sigma)
    for key in ("learning_rate", "clip_range"):
        value = params.get(key)
        if isinstance(value, str):  # "lin_0.001"
            start = float(value.removeprefix("lin_"))
            params[key] = lambda progress_remaining, start=start: progress_remaining * start
    envs = make_vec_env(env_id, n_envs=n_envs, seed=seed)
    vec_normalize = None
    if normalize:
        # rl-zoo: VecNormalize's defaults (observations and rewards), with the algorithm's gamma.
        kwargs = {"gamma": params["gamma"]} if "gamma" in params else {}
        envs = vec_normalize = VecNormalize(envs, **kwargs)
    model_class = {"ppo": PPO, "a2c": A2C, "sac": SAC, "td3": TD3}[algo]
    model = model_class(policy, envs, seed=seed, device="cpu", **params)
    return model, vec_normalize


class ZooPolicy:
    """The SB3 model as poleax's evaluation calls a policy: ``act(obs, greedy, rng)``.

    Observations go through the VecNormalize statistics (frozen: see ``judging``). Actions are
    ``model.predict(obs, deterministic=greedy)``: ``[n]`` ints for discrete actions, ``[n, 1]``
    floats for continuous ones (the mean when greedy). With gSDE, a sampled action is the mean
    plus state-dependent noise from an exploration matrix; the sampled player draws one per
    episode and draws again every ``resample_every`` steps, as SB3 does while training
    (``sde_sample_freq``, else once per rollout of ``n_steps``).
    """

    def __init__(self, model, vec_normalize, resample_every: int = 0) -> None:
        self.model = model
        self.vec_normalize = vec_normalize
        self.resample_every = resample_every
        self.sampled_steps = 0

    def act(self, obs, greedy: bool = True, rng=None):
        import numpy as np
        import torch

        if self.vec_normalize is not None:
            obs = self.vec_normalize.normalize_obs(obs)
        if not greedy and self.resample_every:
            if self.sampled_steps % self.resample_every == 0:
                with torch.no_grad():
                    self.model.policy.reset_noise(len(obs))
            self.sampled_steps += 1
        actions, _ = self.model.predict(obs, deterministic=greedy)
        return np.asarray(actions)


@contextlib.contextmanager
def judging(model, vec_normalize):
    """Evaluate without touching training: VecNormalize frozen (``training=False``), gSDE's
    exploration matrices and torch's random stream restored afterwards, so a run trains the
    same whatever ``--eval-every``."""
    import torch

    dist = None
    if model.use_sde:  # SAC's gSDE lives in its actor
        dist = (model.actor if hasattr(model, "actor") else model.policy).action_dist
    saved = (dist.exploration_mat, dist.exploration_matrices) if dist is not None else None
    was_training = vec_normalize.training if vec_normalize is not None else None
    try:
        if vec_normalize is not None:
            vec_normalize.training = False
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        if vec_normalize is not None:
            vec_normalize.training = was_training
        if saved is not None:
            dist.exploration_mat, dist.exploration_matrices = saved


def run(
    algo: str,
    env_id: str,
    seed: int,
    budget: int | None = None,
    eval_every: int | None = None,
    save_dir: Path | None = None,
    threads: int = 1,
) -> dict:
    """Train until solved or ``budget`` env steps; return the result (see the module doc)."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    from poleax.envs import env_spec
    from poleax.reference import evaluate_both

    criterion = env_spec(env_id).solve
    budget = zoo_budget(algo, env_id) if budget is None else budget
    eval_every = judge_every(algo, env_id) if eval_every is None else eval_every
    params = zoo_params(algo, env_id)
    resample_every = 0
    if params.get("use_sde"):
        resample_every = params.get("sde_sample_freq", -1)
        if resample_every <= 0:  # once per rollout: n_steps, or an off-policy train_freq round
            resample_every = int(params["train_freq" if algo in OFF_POLICY else "n_steps"])
    if threads > 0:
        torch.set_num_threads(threads)
    model, vec_normalize = make_model(algo, env_id, seed)
    eval_seconds = [0.0]

    def evaluate() -> dict:
        start = time.perf_counter()
        with judging(model, vec_normalize):
            policy = ZooPolicy(model, vec_normalize, resample_every)
            result = evaluate_both(policy, env_id, criterion.episodes, criterion.eval_seed)
        eval_seconds[0] += time.perf_counter() - start
        return result

    class StopWhenSolved(BaseCallback):
        """Judge the policy at the first rollout start past each multiple of ``eval_every``;
        stop (at the next step, before any update) once it passes."""

        def __init__(self) -> None:
            super().__init__()
            self.next_eval = eval_every
            self.result: dict | None = None
            self.solved_at: int | None = None

        def _on_rollout_start(self) -> None:
            if self.solved_at is not None or self.num_timesteps < self.next_eval:
                return
            while self.next_eval <= self.num_timesteps:
                self.next_eval += eval_every
            self.result = evaluate()
            if self.result["solved"]:
                self.solved_at = self.num_timesteps

        def _on_step(self) -> bool:
            return self.solved_at is None

    callback = StopWhenSolved()
    start = time.perf_counter()
    model.learn(budget, callback=callback)
    train_s = time.perf_counter() - start - eval_seconds[0]
    result, steps = callback.result, callback.solved_at
    if steps is None:  # the budget ran out: judge the policy the run delivers
        result = evaluate()
        steps = model.num_timesteps if result["solved"] else None
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
        model.save(save_dir / "model.zip")
        if vec_normalize is not None:
            vec_normalize.save(str(save_dir / "vecnormalize.pkl"))
    return {
        "algo": algo,
        "env": env_id,
        "seed": seed,
        "budget": budget,
        "steps": steps,
        "env_steps": model.num_timesteps,
        "train_s": train_s,
        "eval_s": eval_seconds[0],
        "solved": bool(result["solved"]),
        "greedy": result["greedy"]["mean"],
        "sampled": result["sampled"]["mean"],
        "saved_at": time.time(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env", choices=sorted(EVAL_EVERY))
    parser.add_argument("--algo", choices=sorted(ZOO), default="ppo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=None, help="default: rl-zoo's, <= 1e6")
    parser.add_argument("--eval-every", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="write the result JSON here")
    parser.add_argument("--save-dir", type=Path, default=None, help="save the model here")
    parser.add_argument("--threads", type=int, default=1, help=THREADS_HELP)
    args = parser.parse_args()
    result = run(
        args.algo, args.env, args.seed, args.budget, args.eval_every, args.save_dir, args.threads
    )
    text = json.dumps(result)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
