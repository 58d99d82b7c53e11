"""SAC, TD3 and DDPG: one off-policy rhythm, three configurations.

An update is one round of SB3's ``OffPolicyAlgorithm``: ``train_freq`` steps of the
``num_envs`` envs, each transition written into the seed's replay buffer, then (once more
than ``learning_starts`` env steps were taken; before that the actions are uniform random,
each held ``warmup_repeat`` steps)
``gradient_steps`` gradient steps on minibatches drawn uniformly from the buffer. The buffer
keeps ``terminated`` apart from the time limit: the target bootstraps from the observation
after the step (the pre-reset one at an episode's end) unless the episode truly ended.

- ``sac``: twin Q critics and their Polyak-averaged targets; a tanh-squashed Gaussian actor
  with a state-dependent log-std; the entropy coefficient learned toward a target entropy of
  ``target_entropy`` per action dimension. Each gradient step: the critics toward
  ``r + gamma (1 - terminated) (min Q'(s', a') - alpha log pi(a'|s'))``, then the actor on
  ``alpha log pi(a|s) - min Q(s, a)`` under the updated critics, alpha's loss
  ``-log alpha (log pi + target)``, with ``alpha`` as it was before the step (SB3's order).
- ``td3``: twin critics toward ``r + gamma (1 - terminated) min Q'(s', mu'(s') + noise)``
  (target policy smoothing), the deterministic actor and both targets every
  ``policy_delay``-th step, Gaussian exploration noise.
- ``ddpg``: td3 with one critic, no smoothing and no delay.

Actions are stored and fed to the critics in [-1, 1] units (the squashed action); the env
gets them scaled onto its bounds. ``state.params`` is the actor alone (what every surface
acts with); the critics, targets, entropy coefficient and buffer are ``state.extra``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import poleax.draws as draws
from poleax.algos.base import (
    Algorithm,
    Task,
    TrainState,
    UpdateMetrics,
    apply_step,
    distribution_of,
    learning_rate,
    network_spec,
    within_budget,
)
from poleax.algos.onpolicy import episode_metrics
from poleax.config import ConfigError, TrainConfig
from poleax.envs import EnvSpec, env_spec
from poleax.networks import NetworkSpec, Params, actor_inputs, init_params
from poleax.rollout import start


class HParams(NamedTuple):
    """Continuous hyperparameters kept as arrays in the state (a sweep's rows vary them)."""

    lr: jax.Array
    gamma: jax.Array
    tau: jax.Array
    target_noise: jax.Array
    target_noise_clip: jax.Array
    target_entropy: jax.Array  # per action dimension


HPARAMS = HParams._fields


class ReplayBuffer(NamedTuple):
    """A fixed-capacity ring of transitions; ``position`` is the next row written, ``size``
    the rows filled. ``next_obs`` is the observation after the step, before any reset."""

    obs: jax.Array  # [capacity, obs]
    action: jax.Array  # [capacity, act], in [-1, 1]
    reward: jax.Array  # [capacity]
    next_obs: jax.Array  # [capacity, obs]
    terminated: jax.Array  # [capacity] bool: a true end (no bootstrap); not the time limit
    position: jax.Array  # int32
    size: jax.Array  # int32

    #: A checkpoint saves these only up to the filled rows (``poleax.checkpoint``); the rows
    #: past ``size`` are zeros, as ``buffer_init`` left them.
    ROW_FIELDS = ("obs", "action", "reward", "next_obs", "terminated")

    def filled_rows(self) -> int:
        """Rows filled in any seed of a host state (``[seed, capacity, ...]`` arrays)."""
        return int(np.max(np.asarray(self.size), initial=0))


class Batch(NamedTuple):
    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    terminated: jax.Array


class OffPolicyOpt(NamedTuple):
    """Adam's state of each learner."""

    actor: Any
    critic: Any
    ent_coef: Any


class OffPolicyExtra(NamedTuple):
    """The off-policy learners' own part of the training state."""

    hparams: HParams
    critic: Params  # each layer's arrays stacked [n_critics, ...]
    critic_target: Params
    actor_target: Params  # td3/ddpg ({} for sac)
    log_ent_coef: jax.Array  # sac: log alpha (0 elsewhere, unused)
    buffer: ReplayBuffer
    env_steps: jax.Array  # int32, env steps taken (all envs)
    gradient_steps: jax.Array  # int32, gradient steps taken (td3's policy delay counts them)
    warmup_action: jax.Array  # [num_envs, act]: the random action held while warming up


class OffPolicyLosses(NamedTuple):
    """An update's losses: its last gradient step's (0 while the buffer warms up; the
    entropy terms 0 for TD3 and DDPG)."""

    policy_loss: jax.Array
    value_loss: jax.Array
    q_values: jax.Array
    entropy: jax.Array
    ent_coef: jax.Array
    ent_coef_loss: jax.Array


#: The losses of an update that took no gradient step.
NO_LOSSES = OffPolicyLosses(*[np.float32(0.0)] * len(OffPolicyLosses._fields))
#: Bytes of one stored transition beyond its observations and action (reward, terminated).
_TRANSITION_OVERHEAD = 4 + 1


#: Standard-normal noise is drawn from uniforms clipped into [2^-24, 1 - 2^-24] and clipped
#: to +-Z_MAX: a fused XLA program was seen to turn the largest uniform into an infinite
#: quantile (and a NaN critic target) where the same quantile compiled alone is finite.
Z_MAX = 6.0


def standard_normal(u: jax.Array) -> jax.Array:
    """The standard normal quantile of uniforms ``u`` in [0, 1), always finite."""
    from jax.scipy.special import ndtri

    u = jnp.clip(u + 2.0**-25, 2.0**-24, 1.0 - 2.0**-24)
    return jnp.clip(ndtri(u), -Z_MAX, Z_MAX)


# --- the replay buffer ------------------------------------------------------------------


def buffer_init(capacity: int, obs_size: int, action_size: int) -> ReplayBuffer:
    """An empty buffer of ``capacity`` transitions."""
    f32 = jnp.float32
    return ReplayBuffer(
        obs=jnp.zeros((capacity, obs_size), f32),
        action=jnp.zeros((capacity, action_size), f32),
        reward=jnp.zeros((capacity,), f32),
        next_obs=jnp.zeros((capacity, obs_size), f32),
        terminated=jnp.zeros((capacity,), bool),
        position=jnp.int32(0),
        size=jnp.int32(0),
    )


def buffer_add(buffer: ReplayBuffer, batch: Batch) -> ReplayBuffer:
    """``buffer`` with the rows of ``batch`` (``[n, ...]``, ``n <= capacity``) written at its
    position, overwriting the oldest once full."""
    capacity = buffer.reward.shape[0]
    n = batch.reward.shape[0]
    rows = (buffer.position + jnp.arange(n, dtype=jnp.int32)) % capacity

    def put(store, values):
        return store.at[rows].set(values.astype(store.dtype))

    return ReplayBuffer(
        *(put(s, v) for s, v in zip(buffer[:5], batch, strict=True)),
        position=(buffer.position + n) % capacity,
        size=jnp.minimum(buffer.size + n, capacity),
    )


def buffer_sample(buffer: ReplayBuffer, raw: jax.Array) -> Batch:
    """The transitions at ``raw % size`` (``raw``: random uint32 bits, one per sample):
    uniform over the filled rows."""
    index = (raw % jnp.maximum(buffer.size, 1).astype(jnp.uint32)).astype(jnp.int32)
    return Batch(*(store[index] for store in buffer[:5]))


def buffer_bytes(capacity: int, obs_size: int, action_size: int) -> int:
    """Bytes of one seed's buffer."""
    return capacity * (4 * (2 * obs_size + action_size) + _TRANSITION_OVERHEAD)


def buffer_capacity(config: TrainConfig, budget_steps: int) -> int:
    """The capacity used: ``buffer_size``, but no more than the env steps of the budget."""
    return max(1, min(config.buffer_size, budget_steps))


def machine_memory() -> int | None:
    """Bytes of memory this machine has available (None where it cannot tell)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(
    config: TrainConfig, capacity: int, available: int | None = None, task: EnvSpec | None = None
) -> None:
    """``ConfigError`` in one line when the buffers of all seeds would not fit in memory
    (``task``: the config's task, where the caller has its spec)."""
    task = env_spec(config.env if task is None else task)
    one = buffer_bytes(capacity, task.observation_size, task.action_size)
    need = one * config.seeds
    available = machine_memory() if available is None else available
    if available is not None and need > available:
        raise ConfigError(
            f"{config.algo}'s replay buffers need {need / 1e9:.1f} GB ({config.seeds:,} "
            f"seeds x {capacity:,} transitions x {one // capacity} B) and this machine has "
            f"{available / 1e9:.1f} GB available: lower --buffer-size or --seeds"
        )


# --- the critics --------------------------------------------------------------------------


def critic_spec(spec: NetworkSpec) -> NetworkSpec:
    """The network whose ``critic_*`` layers are one Q critic: input ``[obs, action]``."""
    return NetworkSpec(
        observation_size=spec.observation_size + spec.num_actions,
        num_actions=1,
        hidden=spec.hidden,
        activation=spec.activation,
        init=spec.init,
    )


def init_critics(key: jax.Array, spec: NetworkSpec, count: int) -> Params:
    """``count`` Q critics, each layer's arrays stacked on a leading axis."""
    qspec = critic_spec(spec)

    def one(k):
        params = init_params(k, qspec)
        return {name: layer for name, layer in params.items() if name.startswith("critic")}

    return jax.vmap(one)(jax.random.split(key, count))


def q_values(critic: Params, obs: jax.Array, action: jax.Array, activation: str) -> jax.Array:
    """Every critic's ``Q(obs, action)``: ``[n_critics, batch]``."""
    x = jnp.concatenate([obs, action], axis=-1)
    depth = sum(1 for name in critic if name != "critic_out")

    def one(params):
        h = x
        for i in range(depth):
            h = h @ params[f"critic_{i}"]["w"] + params[f"critic_{i}"]["b"]
            h = jax.nn.relu(h) if activation == "relu" else jnp.tanh(h)
        return (h @ params["critic_out"]["w"] + params["critic_out"]["b"])[..., 0]

    return jax.vmap(one)(critic)


def polyak(target, online, tau):
    """``tau * online + (1 - tau) * target``, leaf by leaf."""
    return jax.tree.map(lambda t, o: t + tau * (o - t), target, online)


# --- the losses: pure functions of parameters, a batch and standard-normal noise --------------


def sac_target(actor, critic_target, alpha, batch: Batch, z_next, gamma, spec, dist):
    """SAC's critic target ``r + gamma (1 - terminated) (min_i Q'_i(s', a') - alpha log pi(a'|s'))``
    with ``a' = tanh(mean + std z_next)`` drawn from the current actor at ``s'``."""
    inputs = actor_inputs(actor, batch.next_obs, spec)
    next_action, next_log_prob = dist.squashed_from_normal(inputs, z_next)
    next_q = q_values(critic_target, batch.next_obs, next_action, spec.activation).min(0)
    target = batch.reward + (1.0 - batch.terminated) * gamma * (next_q - alpha * next_log_prob)
    return jax.lax.stop_gradient(target)


def sac_critic_loss(critic, batch: Batch, target, activation: str):
    """``(0.5 * sum_i mean (Q_i(s, a) - target)^2, Q)``: SB3's SAC critic loss."""
    q = q_values(critic, batch.obs, batch.action, activation)
    return 0.5 * ((q - target) ** 2).mean(-1).sum(), q


def sac_actor_loss(actor, critic, alpha, obs, z, spec, dist):
    """``(mean(alpha log pi(a|s) - min_i Q_i(s, a)), log pi(a|s))`` with the reparameterised
    ``a = tanh(mean + std z)``; the gradient reaches the actor only (``critic`` is not an
    argument of the gradient)."""
    action, log_prob = dist.squashed_from_normal(actor_inputs(actor, obs, spec), z)
    q_pi = q_values(critic, obs, action, spec.activation).min(0)
    return (alpha * log_prob - q_pi).mean(), log_prob


def sac_ent_coef_loss(log_ent_coef, log_prob, target_entropy):
    """``-mean(log alpha * (log pi + target_entropy))``, ``log pi`` held fixed."""
    return -(log_ent_coef * jax.lax.stop_gradient(log_prob + target_entropy)).mean()


def td3_target(actor_target, critic_target, batch: Batch, noise, noise_clip, gamma, spec, dist):
    """TD3's critic target ``r + gamma (1 - terminated) min_i Q'_i(s', a')`` with
    ``a' = clip(mu'(s') + clip(noise, +-noise_clip), -1, 1)`` (``noise`` None: DDPG's
    ``a' = mu'(s')``)."""
    next_action = dist.squashed_mode(actor_inputs(actor_target, batch.next_obs, spec))
    if noise is not None:
        next_action = jnp.clip(next_action + jnp.clip(noise, -noise_clip, noise_clip), -1.0, 1.0)
    next_q = q_values(critic_target, batch.next_obs, next_action, spec.activation).min(0)
    return jax.lax.stop_gradient(batch.reward + (1.0 - batch.terminated) * gamma * next_q)


def td3_critic_loss(critic, batch: Batch, target, activation: str):
    """``(sum_i mean (Q_i(s, a) - target)^2, Q)``: SB3's TD3 critic loss."""
    q = q_values(critic, batch.obs, batch.action, activation)
    return ((q - target) ** 2).mean(-1).sum(), q


def td3_actor_loss(actor, critic, obs, spec, dist):
    """``-mean Q_1(s, mu(s))``: the first critic only, as TD3 (and SB3) use."""
    action = dist.squashed_mode(actor_inputs(actor, obs, spec))
    q1 = jax.tree.map(lambda x: x[:1], critic)
    return -q_values(q1, obs, action, spec.activation)[0].mean()


# --- one gradient step ----------------------------------------------------------------------


class Learners(NamedTuple):
    """What a gradient step needs besides the state: optimizers, networks, the distribution."""

    adam: Any  # the actor's and the critics' (one flat Adam each)
    ent_adam: Any  # the entropy coefficient's
    spec: NetworkSpec
    dist: Any
    policy_delay: int = 1


def sac_update(learners: Learners, params, opt: OffPolicyOpt, extra, batch: Batch, z, z_next, lr):
    """One SAC gradient step in SB3's order: the critics toward the target (alpha as it is),
    the actor under the updated critics, alpha's loss, then the critics' targets.
    ``z`` and ``z_next``: the standard-normal noise of the actor's samples at s and s'.
    Returns ``(params, opt, extra, losses)``."""
    spec, dist, adam = learners.spec, learners.dist, learners.adam
    hp = extra.hparams
    alpha = jnp.exp(extra.log_ent_coef)
    target = sac_target(params, extra.critic_target, alpha, batch, z_next, hp.gamma, spec, dist)
    (value_loss, q), grads = jax.value_and_grad(sac_critic_loss, has_aux=True)(
        extra.critic, batch, target, spec.activation
    )
    direction, critic_opt = adam.update(grads, opt.critic, extra.critic)
    critic = apply_step(extra.critic, direction, lr)

    (policy_loss, log_prob), grads = jax.value_and_grad(sac_actor_loss, has_aux=True)(
        params, critic, alpha, batch.obs, z, spec, dist
    )
    direction, actor_opt = adam.update(grads, opt.actor, params)
    params = apply_step(params, direction, lr)

    target_entropy = hp.target_entropy * spec.num_actions
    ent_coef_loss, grad = jax.value_and_grad(sac_ent_coef_loss)(
        extra.log_ent_coef, log_prob, target_entropy
    )
    direction, ent_opt = learners.ent_adam.update(grad, opt.ent_coef)
    extra = extra._replace(
        critic=critic,
        critic_target=polyak(extra.critic_target, critic, hp.tau),
        log_ent_coef=extra.log_ent_coef - lr * direction,
        gradient_steps=extra.gradient_steps + 1,
    )
    losses = OffPolicyLosses(
        policy_loss, value_loss, q.mean(), -log_prob.mean(), alpha, ent_coef_loss
    )
    return params, OffPolicyOpt(actor_opt, critic_opt, ent_opt), extra, losses


def td3_update(learners: Learners, params, opt: OffPolicyOpt, extra, batch: Batch, noise, lr):
    """One TD3 (DDPG) gradient step in SB3's order: the critics toward the target, then every
    ``policy_delay``-th step the actor under the updated critics and both targets.
    ``noise``: the target policy's smoothing noise, already scaled (None for DDPG).
    Returns ``(params, opt, extra, losses)``."""
    spec, dist, adam = learners.spec, learners.dist, learners.adam
    hp = extra.hparams
    target = td3_target(
        extra.actor_target,
        extra.critic_target,
        batch,
        noise,
        hp.target_noise_clip,
        hp.gamma,
        spec,
        dist,
    )
    (value_loss, q), grads = jax.value_and_grad(td3_critic_loss, has_aux=True)(
        extra.critic, batch, target, spec.activation
    )
    direction, critic_opt = adam.update(grads, opt.critic, extra.critic)
    critic = apply_step(extra.critic, direction, lr)
    gradient_steps = extra.gradient_steps + 1

    def improve(_):
        loss, grads = jax.value_and_grad(td3_actor_loss)(params, critic, batch.obs, spec, dist)
        direction, actor_opt = adam.update(grads, opt.actor, params)
        actor = apply_step(params, direction, lr)
        targets = (
            polyak(extra.critic_target, critic, hp.tau),
            polyak(extra.actor_target, actor, hp.tau),
        )
        return loss, actor, actor_opt, targets

    def wait(_):
        targets = (extra.critic_target, extra.actor_target)
        return td3_actor_loss(params, critic, batch.obs, spec, dist), params, opt.actor, targets

    delayed = gradient_steps % learners.policy_delay == 0
    policy_loss, params, actor_opt, (critic_target, actor_target) = jax.lax.cond(
        delayed, improve, wait, None
    )
    extra = extra._replace(
        critic=critic,
        critic_target=critic_target,
        actor_target=actor_target,
        gradient_steps=gradient_steps,
    )
    zero = jnp.zeros((), jnp.float32)
    losses = OffPolicyLosses(policy_loss, value_loss, q.mean(), zero, zero, zero)
    return params, OffPolicyOpt(actor_opt, critic_opt, opt.ent_coef), extra, losses


# --- the algorithm ------------------------------------------------------------------------


def make_algorithm(config: TrainConfig, task: Task) -> Algorithm:
    """Build the off-policy learner ``config.algo`` (sac, td3 or ddpg) describes."""
    env, env_params = task.env, task.params
    algo = config.algo
    sac = algo == "sac"
    head = "squashed" if sac else "deterministic"
    base = network_spec(config, task.spec)
    log_std = 0.0 if sac else math.log(config.exploration_noise)
    spec = dataclasses.replace(base, actor_head=head, log_std_init=log_std)
    dist = distribution_of(task, spec)
    n_critics = 1 if algo == "ddpg" else 2
    policy_delay = 1 if algo == "ddpg" else config.policy_delay

    steps_per_update, updates_per_chunk, budget_updates, max_updates = _chunking(config)
    capacity = buffer_capacity(config, max_updates * steps_per_update)
    check_memory(config, capacity, task=task.spec)

    adam = optax.flatten(optax.scale_by_adam(eps=config.adam_eps))
    ent_adam = optax.scale_by_adam(eps=config.adam_eps)
    n, k, g, b = config.num_envs, spec.num_actions, config.gradient_steps, config.batch_size
    draw_shapes = [
        (2,),
        (config.train_freq, n, k),  # actions: policy samples, or uniform while warming up
        (config.train_freq, n, env.reset_draws),
        (g, b),  # minibatch indices
        (g, b, k),  # sac: the actor's sample at s; td3: the target's smoothing noise
        (g, b, k),  # sac: the actor's sample at s'
    ]

    init = functools.partial(
        _init,
        config=config,
        spec=spec,
        env=env,
        env_params=env_params,
        capacity=capacity,
        n_critics=n_critics,
        adam=adam,
        ent_adam=ent_adam,
        keep_actor_target=not sac,
    )
    collect = _make_collect(config, spec, dist, env, env_params)
    learners = Learners(adam, ent_adam, spec, dist, policy_delay)
    gradient_step = _make_gradient_step(config, learners, max_updates * g)
    update = _make_update(config, draw_shapes, collect, gradient_step, steps_per_update)
    if max_updates > budget_updates:  # the last chunk's updates past the budget are skipped
        update = within_budget(update, budget_updates, NO_LOSSES)
    with_hparams = functools.partial(_with_hparams, config)
    steps = (init, update, updates_per_chunk, max_updates)
    return Algorithm(config, task, dist, spec, *steps, with_hparams=with_hparams)


def _chunking(config: TrainConfig) -> tuple[int, int, int, int]:
    """``(env steps per update, updates per chunk, updates in the budget, updates in whole
    chunks)``: chunks of about ``eval_every`` env steps, as many as cover the budget."""
    steps_per_update = config.train_freq * config.num_envs
    budget_updates = -(-config.total_steps // steps_per_update)
    updates_per_chunk = max(1, min(round(config.eval_every / steps_per_update), budget_updates))
    chunks = -(-config.total_steps // (updates_per_chunk * steps_per_update))
    return steps_per_update, updates_per_chunk, budget_updates, chunks * updates_per_chunk


def _make_collect(config: TrainConfig, spec: NetworkSpec, dist, env, env_params):
    """``collect(params, envs, buffer, env_steps, held, action_u, reset_u)``: ``train_freq``
    steps of the envs, every transition into the buffer; returns the envs, buffer, env-step
    count and held warm-up action after them, and the episodes that ended."""
    sac = config.algo == "sac"
    n = config.num_envs
    step_env = jax.vmap(env.step_or_reset, in_axes=(0, 0, 0, None))
    low = jnp.asarray(dist.low, jnp.float32)
    high = jnp.asarray(dist.high, jnp.float32)

    def _scale(squashed):
        return low + (squashed + 1.0) * (0.5 * (high - low))

    def collect(params, envs, buffer, env_steps, held, action_u, reset_u):
        def body(carry, step_draws):
            envs, buffer, env_steps, held = carry
            u, reset = step_draws
            inputs = actor_inputs(params, envs.obs, spec)
            z = standard_normal(u)
            if sac:
                policy, _ = dist.squashed_from_normal(inputs, z)
            else:
                policy = jnp.clip(dist.squashed_mode(inputs) + jnp.exp(inputs[1]) * z, -1.0, 1.0)
            # Uniform random actions while warming up, each held ``warmup_repeat`` steps.
            refresh = (env_steps // n) % config.warmup_repeat == 0
            held = jnp.where(refresh, 2.0 * u - 1.0, held)
            warming_up = env_steps < config.learning_starts
            action = jnp.where(warming_up, held, policy)
            obs, env_state, reward, terminated, truncated, info = step_env(
                reset, envs.env_state, dist.to_env(_scale(action)), env_params
            )
            transition = Batch(envs.obs, action, reward, info["final_obs"], terminated)
            buffer = buffer_add(buffer, transition)
            done = terminated | truncated
            episode_return = envs.episode_return + reward
            envs = envs._replace(
                env_state=env_state,
                obs=obs,
                episode_return=jnp.where(done, 0.0, episode_return),
                episode_length=jnp.where(done, 0, envs.episode_length + 1),
            )
            ended = jnp.where(done, episode_return, 0.0)
            return (envs, buffer, env_steps + n, held), (ended, done)

        (envs, buffer, env_steps, held), (ended, done) = jax.lax.scan(
            body, (envs, buffer, env_steps, held), (action_u, reset_u)
        )
        return envs, buffer, env_steps, held, episode_metrics(ended, done)

    return collect


def _make_gradient_step(config: TrainConfig, learners: Learners, total_gradient_steps: int):
    """One gradient step of SAC (or TD3/DDPG) on a minibatch from the buffer, as a
    ``lax.scan`` body over ``(carry, draws)``."""
    smoothing = config.algo == "td3"

    def sac_step(carry, step_draws):
        params, opt, extra, _ = carry
        raw, u, u_next = step_draws
        batch = buffer_sample(extra.buffer, raw)
        lr = learning_rate(config, extra.hparams.lr, extra.gradient_steps, total_gradient_steps)
        z, z_next = standard_normal(u), standard_normal(u_next)
        return sac_update(learners, params, opt, extra, batch, z, z_next, lr), None

    def td3_step(carry, step_draws):
        params, opt, extra, _ = carry
        raw, noise_u, _ = step_draws
        batch = buffer_sample(extra.buffer, raw)
        lr = learning_rate(config, extra.hparams.lr, extra.gradient_steps, total_gradient_steps)
        noise = extra.hparams.target_noise * standard_normal(noise_u) if smoothing else None
        return td3_update(learners, params, opt, extra, batch, noise, lr), None

    return sac_step if config.algo == "sac" else td3_step


def _make_update(config: TrainConfig, draw_shapes, collect, gradient_step, steps_per_update: int):
    """One update: ``train_freq`` env steps into the buffer, then ``gradient_steps`` gradient
    steps once the buffer holds more than ``learning_starts`` transitions."""

    def update(state: TrainState):
        key, action_bits, reset_bits, index_bits, u, u_next = draws.bits(state.key, draw_shapes)
        extra = state.extra
        envs, buffer, env_steps, held, episodes = collect(
            state.params,
            state.rollout,
            extra.buffer,
            extra.env_steps,
            extra.warmup_action,
            draws.to_unit(action_bits),
            draws.to_unit(reset_bits),
        )
        extra = extra._replace(buffer=buffer, env_steps=env_steps, warmup_action=held)

        def learn(_):
            carry = (state.params, state.opt_state, extra, NO_LOSSES)
            steps = (index_bits, draws.to_unit(u), draws.to_unit(u_next))
            (params, opt, new_extra, losses), _ = jax.lax.scan(gradient_step, carry, steps)
            return params, opt, new_extra, losses

        def wait(_):
            return state.params, state.opt_state, extra, NO_LOSSES

        params, opt, extra, losses = jax.lax.cond(
            env_steps > config.learning_starts, learn, wait, None
        )
        losses = jax.tree.map(lambda value: value.astype(jnp.float32), losses)
        returns, ended = episodes
        metrics = UpdateMetrics(jnp.int32(steps_per_update), ended, returns, losses)
        return TrainState(params, opt, envs, key, state.update + 1, extra), metrics

    return update


def _init(
    key: jax.Array,
    *,
    config: TrainConfig,
    spec: NetworkSpec,
    env,
    env_params,
    capacity: int,
    n_critics: int,
    adam,
    ent_adam,
    keep_actor_target: bool,
) -> TrainState:
    """A seed's initial state: actor, critics and targets, optimizers, envs reset, an empty
    buffer, the config's hyperparameters."""
    actor_key, critic_key, env_key, train_key = jax.random.split(key, 4)
    params = init_params(actor_key, spec)
    critic = init_critics(critic_key, spec, n_critics)
    envs = start(env, env_params, env_key, config.num_envs)
    hparams = HParams(*(jnp.float32(getattr(config, name)) for name in HPARAMS))
    log_ent_coef = jnp.float32(math.log(config.ent_coef_init))
    extra = OffPolicyExtra(
        hparams=hparams,
        critic=critic,
        critic_target=critic,
        actor_target=params if keep_actor_target else {},
        log_ent_coef=log_ent_coef,
        buffer=buffer_init(capacity, spec.observation_size, spec.num_actions),
        env_steps=jnp.int32(0),
        warmup_action=jnp.zeros((config.num_envs, spec.num_actions), jnp.float32),
        gradient_steps=jnp.int32(0),
    )
    opt = OffPolicyOpt(adam.init(params), adam.init(critic), ent_adam.init(log_ent_coef))
    return TrainState(params, opt, envs, train_key, jnp.int32(0), extra)


def _with_hparams(
    config: TrainConfig, state: TrainState, rows: list[dict[str, float]]
) -> TrainState:
    """``Algorithm.with_hparams``: each row's own traced hyperparameters, initial entropy
    coefficient and exploration noise."""
    table = {
        name: np.array([row.get(name, getattr(config, name)) for row in rows], np.float32)
        for name in HPARAMS
    }
    ent = [math.log(row.get("ent_coef_init", config.ent_coef_init)) for row in rows]
    extra = state.extra._replace(hparams=HParams(**table), log_ent_coef=np.array(ent, np.float32))
    if "log_std" in state.params:  # td3/ddpg: each row's exploration noise
        noise = [math.log(row.get("exploration_noise", config.exploration_noise)) for row in rows]
        log_std = np.array(noise, np.float32)[:, None]
        state.params["log_std"]["value"][:] = log_std
        extra.actor_target["log_std"]["value"][:] = log_std
    return state._replace(extra=extra)
