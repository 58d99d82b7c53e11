"""One rejax run with rejax's own config, judged by poleax's gymnasium evaluation.

    python benchmarks/rejax_run.py Pendulum-v1 [--algo sac] [--seed 0] [--out result.json]
                                   [--save-dir DIR]

rejax (keraJLi/rejax) is a JAX peer of poleax: its algorithms run whole trainings as one
jitted program on gymnax's envs. It does not share an environment with poleax's ``bench``
extra: its gymnax pins ``gymnasium<1.4`` and it brings flax, distrax, tfp-nightly, orbax and
some twenty more packages. So it lives in a venv of its own, and ``solve.py --rejax-python``
runs this script with that venv's python::

    python -m venv /work/venv-rejax
    /work/venv-rejax/bin/pip install rejax "gymnax==0.0.9"
    python benchmarks/solve.py --envs Pendulum-v1 --rejax-python /work/venv-rejax/bin/python

rejax 0.1.3 (the newest on PyPI) installs jax 0.10.2, the jax poleax was measured with, and
gymnax 1.0.1, whose ``env.step`` returns six values where rejax's evaluation unpacks five
(``ValueError: too many values to unpack (expected 5)`` as its ``train`` is traced); gymnax
0.0.9, the oldest rejax allows, runs it. poleax itself is imported from this checkout's
``src`` when that venv lacks it (its judge needs numpy and gymnasium there).

The run: ``rejax.get_algo(algo).create(**CONFIG)``, the program compiled
(``jax.jit(algo.train).lower(key).compile()``), trained once from ``jax.random.PRNGKey(seed)``
with rejax's own in-loop evaluations (128 gymnax episodes every ``eval_freq`` env steps, as
its config asks), the actor's parameters and observation statistics saved
(``flax.serialization``), then the delivered policy judged on gymnasium by
``poleax.reference.evaluate_both`` against the env's ``SolveCriterion``: greedy is the
squashed mean action, sampled draws from the squashed Gaussian with a key drawn from the
judge's numpy generator. rejax trains its whole budget in one program and cannot stop at a
pass, so its env steps to solve are the budget when the delivered policy passes. Writes a
JSON result with each phase's seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

#: rejax's own configs (keraJLi/rejax ``configs/gymnax/pendulum.yaml``, commit b33bab4; the
#: ``sac`` entry is the same at 4954fbf), as ``rejax.get_algo(algo).create`` takes them.
CONFIGS: dict[str, dict[str, dict]] = {
    "Pendulum-v1": {
        "sac": {
            "env": "Pendulum-v1",
            "agent_kwargs": {"activation": "swish"},
            "num_envs": 1,
            "buffer_size": 10_000,
            "fill_buffer": 256,
            "batch_size": 256,
            "learning_rate": 0.01,
            "num_epochs": 1,
            "total_timesteps": 10_000,
            "eval_freq": 100,
            "gamma": 0.99,
            "polyak": 0.98,
            "target_entropy_ratio": None,
            "normalize_observations": True,
        },
    },
}


def budget(algo: str, env_id: str) -> int:
    return int(CONFIGS[env_id][algo]["total_timesteps"])


class RejaxPolicy:
    """rejax's SAC actor as poleax's judge calls a policy: ``act(obs [n, d], greedy, rng)``."""

    def __init__(self, algo, ts) -> None:
        import jax
        import jax.numpy as jnp

        actor = algo.actor
        low, high = actor.action_range
        loc, scale = (high + low) / 2, (high - low) / 2

        def normalized(obs):
            if algo.normalize_observations:
                return algo.normalize_obs(ts.obs_rms_state, obs)
            return obs

        def greedy(obs):
            mean = actor.apply(
                ts.actor_ts.params, normalized(obs), method=lambda m, o: m._action_dist(o).mean()
            )
            return loc + jnp.tanh(mean) * scale

        def sampled(obs, key):
            return actor.apply(ts.actor_ts.params, normalized(obs), key, method="act")

        self._greedy = jax.jit(greedy)
        self._sampled = jax.jit(sampled)
        self._key = jax.random.PRNGKey

    def act(self, obs, greedy: bool = True, rng=None):
        import numpy as np

        obs = np.asarray(obs, np.float32)
        if greedy:
            return np.asarray(self._greedy(obs))
        return np.asarray(self._sampled(obs, self._key(int(rng.integers(2**31)))))


def run(algo_name: str, env_id: str, seed: int, save_dir: Path | None) -> dict:
    phases: dict[str, float] = {}
    clock = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        phases[name] = now - clock
        clock = now

    import jax
    import rejax
    from flax import serialization

    try:
        import poleax  # noqa: F401
    except ImportError:  # this checkout's src
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from poleax.envs import env_spec
    from poleax.reference import evaluate_both

    phase("import_s")
    algo = rejax.get_algo(algo_name).create(**CONFIGS[env_id][algo_name])
    key = jax.random.PRNGKey(seed)
    train = jax.jit(algo.train).lower(key).compile()
    phase("compile_s")
    ts, evaluation = train(key)
    jax.block_until_ready(ts)
    phase("train_s")
    _, returns = evaluation  # lengths, returns: [evaluations, 128]
    saved_at = None
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
        state = {"actor": ts.actor_ts.params}
        if algo.normalize_observations:
            state["obs_rms"] = ts.obs_rms_state
        (save_dir / "actor.msgpack").write_bytes(serialization.to_bytes(state))
        saved_at = time.time()
    phase("save_s")
    criterion = env_spec(env_id).solve
    result = evaluate_both(RejaxPolicy(algo, ts), env_id, criterion.episodes, criterion.eval_seed)
    phase("judge_s")
    steps = int(ts.global_step)
    return {
        "algo": algo_name,
        "env": env_id,
        "seed": seed,
        "budget": budget(algo_name, env_id),
        "steps": steps if result["solved"] else None,
        "env_steps": steps,
        "train_s": phases["train_s"],
        "solved": bool(result["solved"]),
        "greedy": result["greedy"]["mean"],
        "sampled": result["sampled"]["mean"],
        "rejax_last_eval": float(returns[-1].mean()),
        "rejax_evals": int(returns.shape[0]),
        "saved_at": saved_at,
        **phases,
        "jax": jax.__version__,
        "rejax": getattr(rejax, "__version__", None) or _version("rejax"),
    }


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env", choices=sorted(CONFIGS))
    parser.add_argument("--algo", default="sac", choices=["sac"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the result JSON here")
    parser.add_argument("--save-dir", type=Path, default=None, help="save the actor here")
    args = parser.parse_args()
    result = run(args.algo, args.env, args.seed, args.save_dir)
    text = json.dumps(result)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
