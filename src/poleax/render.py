"""Episodes drawn by gymnasium's own CartPole renderer, written as GIF (or MP4).

The trajectory is played by poleax's JAX CartPole; each frame sets gymnasium's renderer to that
state. Rendering is headless (SDL's dummy drivers), frames carry a step counter so resets show,
and are downscaled so a 200-frame GIF writes in a fraction of a second.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from poleax.networks import NetworkSpec

FRAME_SHRINK = 2  # gymnasium draws 600 x 400; GIF frames are 300 x 200
FPS = 50  # CartPole's tau is 0.02 s


@functools.cache
def _player(env_id: str, spec: NetworkSpec, greedy: bool):
    """A jitted ``play(params, key) -> (first_obs, observations, alive)``, built once per kind."""
    import jax
    import jax.numpy as jnp

    from poleax import draws
    from poleax.compile_cache import load_or_compile
    from poleax.envs import make
    from poleax.networks import actor_logits, layer_shapes

    env, env_params = make(env_id)
    steps = env_params.max_steps_in_episode

    def play(params, key):
        reset_key, act_key = draws.split(key)
        (reset_u,) = draws.uniforms(reset_key, [(env.reset_draws,)])
        obs, state = env.reset_from(reset_u, env_params)

        def body(carry, action_u):
            obs, state, alive = carry
            logits = actor_logits(params, obs, spec)
            action = jnp.argmax(logits) if greedy else draws.sample_actions(logits, action_u)
            obs, state, _, terminated, truncated = env.step_env(state, action, env_params)
            return (obs, state, alive & ~(terminated | truncated)), (obs, alive)

        carry = (obs, state, jnp.bool_(True))
        (action_u,) = draws.uniforms(act_key, [(steps,)])
        _, (observations, alive) = jax.lax.scan(body, carry, action_u)
        return obs, observations, alive

    def lower():
        f32 = jnp.float32
        params = {
            name: {
                "w": jax.ShapeDtypeStruct((n_in, n_out), f32),
                "b": jax.ShapeDtypeStruct((n_out,), f32),
            }
            for name, (n_in, n_out, _) in layer_shapes(spec).items()
        }
        return jax.jit(play).lower(params, jax.ShapeDtypeStruct((2,), jnp.uint32))

    settings = {"env": env_id, "network": spec.to_dict(), "greedy": greedy}
    return load_or_compile("play", settings, lower)


def play_episode(
    env_id: str, params: dict, spec: NetworkSpec, seed: int, greedy: bool
) -> np.ndarray:
    """States ``[T + 1, 4]`` of one episode of poleax's JAX CartPole under the policy."""
    import jax

    from poleax.keys import prng_key

    play = _player(env_id, spec, greedy)
    params = {
        name: {k: np.asarray(v, np.float32) for k, v in layer.items()}
        for name, layer in params.items()
    }
    first, observations, alive = jax.device_get(play(params, prng_key(seed)))
    length = int(np.sum(alive))
    return np.concatenate([first[None], observations[:length]]).astype(np.float64)


def draw_frames(states: np.ndarray, shrink: int = FRAME_SHRINK) -> list[np.ndarray]:
    """RGB frames of ``states`` from gymnasium's CartPole renderer, with a step counter."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    from gymnasium.envs.classic_control.cartpole import CartPoleEnv
    from PIL import Image, ImageDraw

    env = CartPoleEnv(render_mode="rgb_array")
    frames = []
    try:
        for step, state in enumerate(states):
            env.state = np.asarray(state, np.float64)
            image = Image.fromarray(env.render()).reduce(shrink)
            ImageDraw.Draw(image).text((6, 4), f"step {step}", fill=(0, 0, 0))
            frames.append(np.asarray(image))
    finally:
        env.close()
    return frames


def write_video(frames: list[np.ndarray], path: str | Path) -> Path:
    """Write frames as a looping GIF, or an MP4 when the path ends in .mp4."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        _write_gif(frames, path)
    elif suffix == ".mp4":
        import imageio.v3 as iio

        try:
            iio.imwrite(path, np.stack(frames), extension=".mp4", fps=FPS)
        except Exception as error:
            raise RuntimeError(
                f"cannot write MP4 ({error}); install imageio-ffmpeg or write a .gif"
            ) from None
    else:
        raise ValueError(f"unsupported video type {suffix!r}; use .gif or .mp4")
    return path


def _write_gif(frames: list[np.ndarray], path: Path) -> None:
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
        path, save_all=True, append_images=indexed[1:], duration=round(1000 / FPS), loop=0
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
    states = play_episode(env_id, params, spec, seed, greedy)
    write_video(draw_frames(states), path)
    return Path(path), len(states) - 1
