"""Episodes drawn by gymnasium's own renderers, written as GIF (or MP4).

The trajectory is played by poleax's JAX env; each frame puts the gymnasium env into that state
with the poleax env's ``state_to_gymnasium`` (which also hands it the action that led there,
for Pendulum's torque arrow). Rendering is headless (SDL's dummy drivers), frames carry a step
counter so resets show, and are downscaled so a 200-frame GIF writes in a fraction of a second.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from poleax.networks import NetworkSpec

FRAME_SHRINK = 2  # gymnasium draws 600 x 400 (500 x 500 for Acrobot, Pendulum); halved


@functools.cache
def _player(env_id: str, spec: NetworkSpec, greedy: bool):
    """A jitted ``play(params, key) -> (first_physics, physics, actions, alive)``, built once
    per kind."""
    import jax
    import jax.numpy as jnp

    from poleax import draws
    from poleax.compile_cache import load_or_compile
    from poleax.distributions import make_distribution
    from poleax.envs import env_spec
    from poleax.networks import actor_inputs, param_shapes

    task = env_spec(env_id)
    env, env_params = task.make()
    dist = make_distribution(task.action_space)
    steps = env_params.max_steps_in_episode

    def play(params, key):
        reset_key, act_key = draws.split(key)
        (reset_u,) = draws.uniforms(reset_key, [(env.reset_draws,)])
        obs, state = env.reset_from(reset_u, env_params)

        def body(carry, action_u):
            obs, state, alive = carry
            inputs = actor_inputs(params, obs, spec)
            action = dist.to_env(dist.mode(inputs) if greedy else dist.sample(inputs, action_u))
            obs, state, _, terminated, truncated = env.step_env(state, action, env_params)
            return (obs, state, alive & ~(terminated | truncated)), (state.physics, action, alive)

        carry = (obs, state, jnp.bool_(True))
        (action_u,) = draws.uniforms(act_key, [(steps, *dist.draw_shape)])
        _, (physics, actions, alive) = jax.lax.scan(body, carry, action_u)
        return state.physics, physics, actions, alive

    def lower():
        f32 = jnp.float32
        params = {
            layer: {name: jax.ShapeDtypeStruct(shape, f32) for name, shape in names.items()}
            for layer, names in param_shapes(spec).items()
        }
        return jax.jit(play).lower(params, jax.ShapeDtypeStruct((2,), jnp.uint32))

    settings = {"env": env_id, "network": spec.to_dict(), "greedy": greedy}
    return load_or_compile("play", settings, lower)


def play_episode(
    env_id: str, params: dict, spec: NetworkSpec, seed: int, greedy: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Gymnasium states ``[T + 1, ...]`` of one episode of poleax's JAX env under the
    policy, and the ``T`` actions taken."""
    import jax

    from poleax.keys import prng_key

    play = _player(env_id, spec, greedy)
    params = {
        name: {k: np.asarray(v, np.float32) for k, v in layer.items()}
        for name, layer in params.items()
    }
    first, physics, actions, alive = jax.device_get(play(params, prng_key(seed)))
    length = int(np.sum(alive))
    states = np.concatenate([first[None], physics[:length]]).astype(np.float64)
    return states, np.asarray(actions[:length])


def draw_frames(
    env_id: str, states: np.ndarray, actions: np.ndarray | None = None, shrink: int = FRAME_SHRINK
) -> list[np.ndarray]:
    """RGB frames of ``states`` (the physics, ``[T + 1, n]``) from gymnasium's renderer of
    ``env_id``, with a step counter.

    ``actions[t]`` is the action taken after frame ``t`` (drawn by renderers that show it,
    such as Pendulum's torque arrow, on the next frame).
    """
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    from PIL import Image, ImageDraw

    from poleax.envs import env_spec

    task = env_spec(env_id)
    poleax_env, _ = task.make()
    env = task.gymnasium_env(render_mode="rgb_array")
    env.reset(seed=0)  # every attribute its renderer reads exists from here on
    frames = []
    try:
        for step, physics in enumerate(states):
            state = poleax_env.state_type(np.asarray(physics), np.int32(step))
            action = actions[step - 1] if actions is not None and step > 0 else None
            poleax_env.state_to_gymnasium(state, env, action)
            image = Image.fromarray(env.render()).reduce(shrink)
            ImageDraw.Draw(image).text((6, 4), f"step {step}", fill=(0, 0, 0))
            frames.append(np.asarray(image))
    finally:
        env.close()
    return frames


def write_video(frames: list[np.ndarray], path: str | Path, fps: int = 50) -> Path:
    """Write frames as a looping GIF, or an MP4 when the path ends in .mp4."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        _write_gif(frames, path, fps)
    elif suffix == ".mp4":
        import imageio.v3 as iio

        try:
            iio.imwrite(path, np.stack(frames), extension=".mp4", fps=fps)
        except Exception as error:
            raise RuntimeError(
                f"cannot write MP4 ({error}); install imageio-ffmpeg or write a .gif"
            ) from None
    else:
        raise ValueError(f"unsupported video type {suffix!r}; use .gif or .mp4")
    return path


def _write_gif(frames: list[np.ndarray], path: Path, fps: int) -> None:
    """A looping GIF, every frame mapped without dithering to the first frame's palette.

    CartPole frames have a handful of colours, so one palette fits them all, and skipping a
    per-frame quantiser makes writing several times faster.
    """
    from PIL import Image

    palette = Image.fromarray(frames[0]).quantize(32, method=Image.Quantize.MEDIANCUT)
    indexed = [
        Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames
    ]
    indexed[0].save(
        path, save_all=True, append_images=indexed[1:], duration=round(1000 / fps), loop=0
    )


def render_episode(
    env_id: str,
    params: dict,
    spec: NetworkSpec,
    path: str | Path,
    seed: int = 0,
    greedy: bool = True,
) -> tuple[Path, int]:
    """Play, draw and write one episode; return the path and the episode's length."""
    from poleax.envs import env_spec

    states, actions = play_episode(env_id, params, spec, seed, greedy)
    write_video(draw_frames(env_id, states, actions), path, env_spec(env_id).render_fps)
    return Path(path), len(states) - 1
