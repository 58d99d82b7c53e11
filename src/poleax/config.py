"""Training configuration: one frozen dataclass, presets, and validation (no jax import)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from poleax.envs.registry import (
    DEFAULT_ENV,
    ENV_IDS,
    TUTORIAL_ENV,
    SpecTable,
    check_env_id,
    env_spec,
    find_spec,
)
from poleax.errors import ConfigError
from poleax.stop_rules import STOP_RULES, make_stop_rule

ALGOS = ("ppo", "a2c", "mc-ac", "td-ac", "sac", "td3", "ddpg")
#: The off-policy actor-critics (``poleax.algos.offpolicy``): continuous actions only.
OFF_POLICY_ALGOS = ("sac", "td3", "ddpg")
EXECUTORS = ("auto", "rows-per-core", "vmapped")


#: Upper bounds of the whole-number settings: far above any useful value, low enough that a
#: typo cannot ask for terabytes or centuries (an unbounded width or episode count once hung
#: a run in its init program).
COUNT_LIMITS: dict[str, int] = {
    "seeds": 100_000,
    "total_steps": 2**31 - 1,
    "num_envs": 65_536,
    "num_steps": 65_536,
    "epochs": 10_000,
    "minibatches": 65_536,
    "eval_every": 2**31 - 1,
    "eval_episodes": 10_000,
    "log_every_episodes": 1_000_000,
    "buffer_size": 100_000_000,
    "batch_size": 65_536,
    "train_freq": 65_536,
    "gradient_steps": 65_536,
    "policy_delay": 1_000,
    "warmup_repeat": 100_000,
}
MAX_HIDDEN_WIDTH = 4096
MAX_HIDDEN_LAYERS = 8
#: Largest config file read (a real one is about 1 KB).
MAX_CONFIG_BYTES = 1_000_000


#: What a field is to the compiled programs. ``traced``: an algorithm hyperparameter that
#: lives as an array in the training state, so one program serves rows that differ in it (a
#: sweep varies it per row); ``shape``: compiled into the programs (sizes, structure,
#: constants); ``host``: read only by the host loop and the run (seeds, stopping, logging,
#: the executor), never by a program.
ROLES = ("traced", "shape", "host")


def _f(default: Any, help: str, role: str = "shape", **kw: Any) -> Any:
    return field(default=default, metadata={"help": help, "role": role, **kw})


def fields_with_role(role: str) -> tuple[str, ...]:
    """The names of ``TrainConfig``'s fields that play ``role`` (one of ``ROLES``)."""
    return tuple(f.name for f in fields(TrainConfig) if f.metadata["role"] == role)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs; ``config.json`` holds one, and reruns it."""

    # No choices frozen here: the registry is asked when a config is validated, so a task
    # registered from user code (``--import``) is as good as a built-in one.
    env: str = _f(
        DEFAULT_ENV, f"environment id: a registered task (built in: {', '.join(ENV_IDS)})"
    )
    algo: str = _f("ppo", "algorithm", choices=ALGOS)
    preset: str | None = _f(None, "named preset the other values started from", role="host")
    seed: int = _f(0, "first training seed; seed i of --seeds K is seed + i", role="host")
    seeds: int = _f(1, "number of seeds trained in one process, each until solved", role="host")
    total_steps: int = _f(100_000, "env-step budget per seed")
    num_envs: int = _f(4, "parallel environments per seed")
    num_steps: int = _f(32, "rollout length per env per update (ppo, a2c, td-ac)")
    lr: float = _f(3e-3, "learning rate", role="traced")
    lr_schedule: str = _f("linear", "learning-rate schedule", choices=("constant", "linear"))
    gamma: float = _f(0.99, "discount factor, in (0, 1]", role="traced")
    gae_lambda: float = _f(0.9, "GAE lambda, in [0, 1]", role="traced")
    epochs: int = _f(20, "passes over each rollout (ppo)")
    minibatches: int = _f(4, "minibatches per epoch; must divide num_envs * num_steps")
    clip_eps: float = _f(0.2, "PPO clip range", role="traced")
    ent_coef: float = _f(0.0, "entropy bonus coefficient", role="traced")
    vf_coef: float = _f(0.5, "value-loss coefficient", role="traced")
    max_grad_norm: float = _f(0.5, "global gradient-norm clip (0: off)")
    adam_eps: float = _f(1e-5, "Adam epsilon")
    normalize_advantages: bool = _f(True, "normalise advantages per minibatch")
    normalize_obs: bool = _f(
        False, "standardise observations by running mean and variance (ppo, a2c, td-ac)"
    )
    hidden: tuple[int, ...] = _f((64, 64), "hidden layer widths, comma separated")
    log_std_init: float = _f(0.0, "initial log standard deviation of continuous actions")
    activation: str = _f("tanh", "hidden activation", choices=("relu", "tanh"))
    shared_trunk: bool = _f(False, "one trunk with actor and critic heads")
    init: str = _f("orthogonal", "weight init", choices=("glorot", "orthogonal"))
    critic_loss: str = _f("mse", "critic loss", choices=("mse", "huber"))
    detach_advantage: bool = _f(True, "mc-ac: no actor-loss gradient through the critic")
    normalize_returns: bool = _f(True, "mc-ac: normalise each episode's returns")
    eval_every: int = _f(512, "env steps between evaluations (rounded to whole updates)")
    eval_episodes: int = _f(100, "episodes per evaluation")
    eval_screen: int = _f(
        10,
        "episodes per mode a chunk's policy plays first; only a screen that might pass runs "
        "the full evaluation (0: every chunk gets the full one)",
        role="host",
    )
    executor: str = _f(
        "auto",
        "how seeds share the machine: one seed per call on each core, or vmapped batches "
        "(auto: rows-per-core on a CPU, vmapped on a GPU or TPU)",
        choices=EXECUTORS,
        role="host",
    )
    vmap_width: int = _f(
        0,
        "seeds per vmapped call (0: 16 on a CPU, every seed up to 4096 on a GPU or TPU)",
        role="host",
    )
    stop_when_solved: bool = _f(True, "stop at the first evaluation that passes", role="host")
    stop_rule: str = _f("eval", "what 'solved' means while training", choices=STOP_RULES)
    running_reward_threshold: float = _f(195.0, "running-reward stop rule threshold")
    log_every_episodes: int = _f(
        10, "running-reward rule: a log line every N episodes", role="host"
    )
    lang: str = _f(
        "zh", "language of the running-reward log lines", choices=("zh", "en"), role="host"
    )
    # The off-policy actor-critics (sac, td3, ddpg).
    buffer_size: int = _f(
        1_000_000, "sac/td3/ddpg: replay buffer capacity per seed (at most the budget is used)"
    )
    batch_size: int = _f(256, "sac/td3/ddpg: transitions per gradient step")
    learning_starts: int = _f(
        100, "sac/td3/ddpg: env steps of uniform random actions before learning starts"
    )
    train_freq: int = _f(
        1, "sac/td3/ddpg: steps of the vectorised envs between rounds of gradient steps"
    )
    gradient_steps: int = _f(1, "sac/td3/ddpg: gradient steps per round")
    warmup_repeat: int = _f(
        1, "sac/td3/ddpg: each uniform random action of the warm-up is held this many steps"
    )
    tau: float = _f(0.005, "sac/td3/ddpg: Polyak coefficient of the target networks", role="traced")
    policy_delay: int = _f(2, "td3: critic updates per actor and target update (ddpg: 1)")
    target_noise: float = _f(
        0.2, "td3: std of the target policy's smoothing noise, in [-1, 1] units", role="traced"
    )
    target_noise_clip: float = _f(
        0.5, "td3: the smoothing noise is clipped to +-this", role="traced"
    )
    exploration_noise: float = _f(
        0.1, "td3/ddpg: std of the Gaussian exploration noise, in [-1, 1] units", role="traced"
    )
    ent_coef_init: float = _f(1.0, "sac: initial entropy coefficient (learned)", role="traced")
    target_entropy: float = _f(
        -1.0, "sac: target entropy per action dimension (SB3: -1, i.e. -dim(A))", role="traced"
    )

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["hidden"] = list(self.hidden)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config keys: {', '.join(unknown)}")
        values = dict(data)
        if isinstance(values.get("hidden"), list | tuple):
            values["hidden"] = tuple(values["hidden"])
        return validate(cls(**values))


#: SB3's off-policy defaults (rl-zoo tunes per task on the env spec): one env, one gradient
#: step per env step, 256x256 ReLU networks, Adam without clipping.
_OFF_POLICY_DEFAULTS: dict[str, Any] = {
    "num_envs": 1,
    "lr_schedule": "constant",
    "gamma": 0.99,
    "hidden": (256, 256),
    "activation": "relu",
    "init": "glorot",
    "max_grad_norm": 0.0,
    "adam_eps": 1e-8,
    "total_steps": 100_000,
    "eval_every": 1000,
}

# Tuned defaults per algorithm, on top of the field defaults (which are PPO's).
ALGO_DEFAULTS: dict[str, dict[str, Any]] = {
    "ppo": {},
    "a2c": {
        "num_envs": 8,
        "num_steps": 16,
        "lr": 5e-3,
        "epochs": 1,
        "minibatches": 1,
        "eval_every": 1024,
    },
    "td-ac": {
        "num_envs": 16,
        "num_steps": 1,
        "lr": 1e-3,
        "gamma": 0.99,
        "gae_lambda": 0.0,
        "epochs": 1,
        "minibatches": 1,
        "normalize_advantages": True,
        "ent_coef": 0.01,
        "max_grad_norm": 0.0,
        "vf_coef": 1.0,
        "hidden": (128,),
        "activation": "relu",
        "lr_schedule": "constant",
        "total_steps": 300_000,
        "eval_every": 2048,
    },
    "mc-ac": {
        "num_envs": 1,
        "lr": 1e-2,
        "gamma": 0.99,
        "hidden": (128,),
        "activation": "relu",
        "shared_trunk": True,
        "init": "glorot",
        "critic_loss": "huber",
        "adam_eps": 1e-7,
        "max_grad_norm": 0.0,
        "lr_schedule": "constant",
        "normalize_advantages": False,
        "total_steps": 300_000,
        "eval_every": 4000,
    },
    "sac": {**_OFF_POLICY_DEFAULTS, "lr": 3e-4},
    "td3": {**_OFF_POLICY_DEFAULTS, "lr": 1e-3},
    "ddpg": {**_OFF_POLICY_DEFAULTS, "lr": 1e-3, "policy_delay": 1, "target_noise": 0.0},
}

#: Tuned defaults per env and algorithm, on top of the algorithm's: each task's spec holds
#: its own (``EnvSpec.defaults``); this is a read-only view of them by id.
ENV_DEFAULTS: SpecTable[Mapping[str, Mapping[str, Any]]] = SpecTable(lambda spec: spec.defaults)

PRESETS: dict[str, dict[str, Any]] = {
    # The tutorial's program 1, as posted: v0, seed 42, one episode per update, advantage not
    # detached, stop when the running reward passes 195.
    "tutorial": {
        "env": TUTORIAL_ENV,
        "algo": "mc-ac",
        "seed": 42,
        "num_envs": 1,
        "detach_advantage": False,
        "stop_rule": "running-reward",
        "eval_every": 1_000_000_000,
    },
}


def default_algo(env: str) -> str:
    """The algorithm a run on ``env`` gets when none is named (the task's ``default_algo``)."""
    spec = find_spec(env)
    return spec.default_algo if spec is not None else TrainConfig.algo


def defaults_for(algo: str, env: str) -> dict[str, Any]:
    """The tuned defaults of ``algo`` on ``env`` (before any preset or flag): the
    algorithm's, then the env spec's for it."""
    spec = find_spec(env)
    own = spec.defaults.get(algo, {}) if spec is not None else {}
    return {"algo": algo, "env": env, **ALGO_DEFAULTS[algo], **own}


def build_config(
    algo: str | None = None,
    env: str | None = None,
    preset: str | None = None,
    **overrides: Any,
) -> TrainConfig:
    """Defaults of the algorithm, then the preset, then explicit overrides; validated."""
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; known presets: {', '.join(PRESETS)}")
    base = dict(PRESETS.get(preset, {})) if preset else {}
    env = env or base.get("env") or TrainConfig.env
    algo = algo or base.get("algo") or default_algo(env)
    if algo not in ALGOS:
        raise ConfigError(f"unknown algorithm {algo!r}; known algorithms: {', '.join(ALGOS)}")
    values = {**defaults_for(algo, env), **base, "algo": algo, "env": env, "preset": preset}
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(unknown)}")
    if isinstance(values.get("hidden"), list | tuple):
        values["hidden"] = tuple(values["hidden"])
    return validate(TrainConfig(**values))


def _kind(value: Any) -> str:
    return "a bool" if isinstance(value, bool) else f"{type(value).__name__} {value!r}"


def _check_types(config: TrainConfig) -> None:
    """Every field has its own type: a bool is ``true``/``false`` (not 1, not "no"), a whole
    number is not a bool, a number is finite, a name is a string; ``ConfigError`` if not."""
    for f in fields(TrainConfig):
        value, default = getattr(config, f.name), f.default
        if f.name == "preset":
            if value is not None and value not in PRESETS:
                raise ConfigError(
                    f"unknown preset {value!r}; known presets: {', '.join(PRESETS)} (or none)"
                )
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{f.name} must be true or false; got {_kind(value)}")
        elif isinstance(default, int):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"{f.name} must be a whole number; got {_kind(value)}")
        elif isinstance(default, float):
            if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
                raise ConfigError(f"{f.name} must be a number; got {_kind(value)}")
            if abs(value) == float("inf"):
                raise ConfigError(f"{f.name} must be a finite number; got {value!r}")
        elif isinstance(default, str):
            if not isinstance(value, str):
                raise ConfigError(f"{f.name} must be a name (a string); got {_kind(value)}")
        elif f.name == "hidden" and (
            not isinstance(value, tuple)
            or any(not isinstance(h, int) or isinstance(h, bool) for h in value)
        ):
            raise ConfigError(
                f"hidden must be a list of whole numbers like [64, 64]; got {value!r}"
            )


#: Most env steps one update may take (the per-update counters are 32-bit integers).
MAX_UPDATE_STEPS = 2**24
#: Most optimizer steps of a run (the learning-rate schedule counts them in 32 bits).
MAX_OPTIMIZER_STEPS = 2**31 - 1


def validate(config: TrainConfig) -> TrainConfig:
    """Raise ``ConfigError`` for a setting that cannot work, or a run that needs more memory
    than this machine has; return the config otherwise."""
    _check_types(config)
    try:
        check_env_id(config.env)
    except ValueError as error:
        raise ConfigError(f"env (--env): {error}") from None
    for f in fields(TrainConfig):
        choices = f.metadata.get("choices")
        value = getattr(config, f.name)
        if choices and value not in choices:
            raise ConfigError(f"{f.name} must be one of {', '.join(choices)}; got {value!r}")
    for name, most in COUNT_LIMITS.items():
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
            raise ConfigError(f"{name} must be a whole number in [1, {most:,}]; got {value!r}")
    for name, most in (("eval_screen", COUNT_LIMITS["eval_episodes"]), ("vmap_width", 65_536)):
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= most:
            raise ConfigError(f"{name} must be a whole number in [0, {most:,}]; got {value!r}")
    if not 0 <= config.seed <= 2**31 - config.seeds:
        raise ConfigError(
            f"seed must be a whole number in [0, 2^31 - seeds] (seed i of --seeds K is seed + "
            f"i); got {config.seed!r}"
        )
    _in_range(config, "lr", 0.0, 10.0, low_open=True)
    _in_range(config, "gamma", 0.0, 1.0, low_open=True)
    _in_range(config, "gae_lambda", 0.0, 1.0)
    _in_range(config, "clip_eps", 0.0, 10.0, low_open=True)
    _in_range(config, "adam_eps", 0.0, 1.0, low_open=True)
    _in_range(config, "log_std_init", -10.0, 5.0)
    for name in ("ent_coef", "vf_coef", "max_grad_norm"):
        _in_range(config, name, 0.0, 1e6)
    if (
        not config.hidden
        or len(config.hidden) > MAX_HIDDEN_LAYERS
        or any(not isinstance(h, int) or not 1 <= h <= MAX_HIDDEN_WIDTH for h in config.hidden)
    ):
        raise ConfigError(
            f"hidden must be 1 to {MAX_HIDDEN_LAYERS} widths in [1, {MAX_HIDDEN_WIDTH}], "
            f"like 64,64; got {','.join(map(str, config.hidden)) or 'none'}"
        )
    if config.executor == "rows-per-core" and config.vmap_width:
        raise ConfigError(
            f"vmap_width ({config.vmap_width}) is the vmapped executor's batch of seeds; "
            "rows-per-core trains one seed per call (drop --vmap-width, or use --executor "
            "vmapped)"
        )
    tutorial_env = PRESETS["tutorial"]["env"]
    if config.preset == "tutorial" and config.env != tutorial_env:
        raise ConfigError(
            f"--preset tutorial is the tutorial's program on {tutorial_env}; for "
            f"{config.env} drop the preset (try --algo mc-ac for the tutorial's algorithm)"
        )
    if config.algo == "mc-ac" and not env_spec(config.env).discrete:
        raise ConfigError(
            f"mc-ac is the tutorial's softmax actor, for discrete actions; {config.env} has "
            "continuous ones (use ppo, a2c or td-ac)"
        )
    if config.algo in OFF_POLICY_ALGOS:
        _check_off_policy(config)
    if config.normalize_obs and config.algo == "mc-ac":
        raise ConfigError("normalize_obs is for ppo, a2c and td-ac; mc-ac keeps raw inputs")
    refusal = make_stop_rule(config).refusal()
    if refusal is not None:
        raise ConfigError(refusal)
    batch = config.num_envs * config.num_steps
    if batch % config.minibatches:
        raise ConfigError(
            f"minibatches ({config.minibatches}) must divide num_envs * num_steps ({batch})"
        )
    if config.algo == "ppo" and config.normalize_advantages and batch // config.minibatches < 2:
        raise ConfigError("normalize_advantages needs minibatches of at least 2 samples")
    _in_range(config, "running_reward_threshold", -1e9, 1e9)
    _check_sizes(config)
    return config


def _check_sizes(config: TrainConfig) -> None:
    """Each count is bounded on its own; here their products: no 32-bit counter overflows
    and the run fits this machine's memory."""
    from poleax.resources import check_fits, train_bytes

    batch = config.num_envs * config.num_steps
    if batch > MAX_UPDATE_STEPS:
        raise ConfigError(
            f"num_envs x num_steps is {batch:,} env steps per update; at most "
            f"{MAX_UPDATE_STEPS:,} (use fewer --num-envs or --num-steps)"
        )
    if config.algo != "mc-ac":
        updates = -(-config.total_steps // batch) + 1
        if updates * config.epochs * config.minibatches > MAX_OPTIMIZER_STEPS:
            raise ConfigError(
                f"total_steps {config.total_steps:,} in updates of {batch:,} steps, each "
                f"{config.epochs} epochs x {config.minibatches} minibatches, is more than "
                f"{MAX_OPTIMIZER_STEPS:,} optimizer steps (use fewer epochs or larger updates)"
            )
    check_fits(
        train_bytes(config),
        f"training {config.seeds:,} seed(s) of {config.num_envs:,} envs x "
        f"{config.num_steps:,} steps, hidden {','.join(map(str, config.hidden))}",
        "use fewer --seeds, --num-envs, --num-steps, a smaller --hidden or --vmap-width",
    )


def _check_off_policy(config: TrainConfig) -> None:
    """The off-policy learners' own settings (sac, td3, ddpg)."""
    task = env_spec(config.env)
    if task.discrete:
        raise ConfigError(
            f"{config.algo} is for continuous actions; {config.env} has discrete ones "
            "(use ppo, a2c, td-ac or mc-ac)"
        )
    if config.normalize_obs:
        raise ConfigError(
            f"normalize_obs is for ppo, a2c and td-ac; {config.algo} keeps raw inputs"
        )
    if config.shared_trunk:
        raise ConfigError(f"shared_trunk is not for {config.algo}: its critics are Q networks")
    starts = config.learning_starts
    if not isinstance(starts, int) or isinstance(starts, bool) or starts < 0:
        raise ConfigError(
            f"learning_starts must be a whole number of env steps, 0 or more; got {starts!r}"
        )
    _in_range(config, "tau", 0.0, 1.0, low_open=True)
    _in_range(config, "target_noise", 0.0, 10.0)
    _in_range(config, "target_noise_clip", 0.0, 10.0)
    _in_range(config, "exploration_noise", 0.0, 10.0, low_open=True)
    _in_range(config, "ent_coef_init", 0.0, 1e6, low_open=True)
    _in_range(config, "target_entropy", -1e3, 1e3)


def _in_range(
    config: TrainConfig, name: str, low: float, high: float, low_open: bool = False
) -> None:
    value = getattr(config, name)
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value == value
    ok = ok and (low < value if low_open else low <= value) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ConfigError(f"{name} must be in {bracket}{low:g}, {high:g}]; got {value!r}")


def load_config(path: str | Path) -> TrainConfig:
    """Read a ``config.json`` written by a run or a sweep."""
    path = Path(path)
    try:
        if not path.is_file():
            what = "a folder" if path.is_dir() else "not a regular file"
            if not path.exists():
                raise FileNotFoundError
            raise ConfigError(f"config {path} is {what}")
        with open(path, "rb") as handle:
            text = handle.read(MAX_CONFIG_BYTES + 1)
        if len(text) > MAX_CONFIG_BYTES:
            raise ConfigError(f"config {path} is larger than {MAX_CONFIG_BYTES:,} bytes")
        data = json.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, ValueError) as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(f"cannot read config {path}: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} is not a JSON object")
    try:
        return TrainConfig.from_dict(data)
    except TypeError as error:
        raise ConfigError(f"config {path} is not valid: {error}") from None
