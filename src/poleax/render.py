"""Episodes drawn by gymnasium's own renderers, written as GIF (or MP4).

The trajectory is played by poleax's JAX env; each frame puts the gymnasium env into that state
with the poleax env's ``state_to_gymnasium`` (which also hands it the action that led there,
for renderers that draw it). Rendering is headless (SDL's dummy drivers), frames carry a step
counter so resets show, and are downscaled so a 200-frame GIF writes in a fraction of a second.
A spec may name a ``canvas``, a faster drawer of gymnasium's own picture (the same pixels);
a spec with no gymnasium env is drawn as bars of its physics variables.
"""

from __future__ import annotations

import functools
import math
import os
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from poleax.networks import NetworkSpec

if TYPE_CHECKING:
    from poleax.envs.spec import EnvSpec

FRAME_SHRINK = 2  # gymnasium draws 600 x 400 or 500 x 500; halved


@functools.cache
def _player(task: EnvSpec, spec: NetworkSpec, greedy: bool):
    """A jitted ``play(params, key) -> (first_physics, physics, actions, alive)``, built once
    per kind."""
    import jax
    import jax.numpy as jnp

    import poleax.draws as draws
    from poleax.compile_cache import load_or_compile
    from poleax.distributions import make_distribution
    from poleax.networks import actor_inputs, param_shapes

    env, env_params = task.make()
    dist = make_distribution(task.action_space, spec.actor_head)
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

    settings = {"env": task.id, "network": spec.to_dict(), "greedy": greedy}
    return load_or_compile("play", settings, lower)


def play_episode(
    env: str | EnvSpec, params: dict, spec: NetworkSpec, seed: int, greedy: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Gymnasium states ``[T + 1, ...]`` of one episode of poleax's JAX env of the task
    ``env`` (an id or a spec) under the policy, and the ``T`` actions taken."""
    import jax

    from poleax.envs import env_spec
    from poleax.keys import prng_key

    play = _player(env_spec(env), spec, greedy)
    params = {
        name: {k: np.asarray(v, np.float32) for k, v in layer.items()}
        for name, layer in params.items()
    }
    first, physics, actions, alive = jax.device_get(play(params, prng_key(seed)))
    length = int(np.sum(alive))
    states = np.concatenate([first[None], physics[:length]]).astype(np.float64)
    return states, np.asarray(actions[:length])


def draw_frames(
    env: str | EnvSpec,
    states: np.ndarray,
    actions: np.ndarray | None = None,
    shrink: int = FRAME_SHRINK,
) -> list[np.ndarray]:
    """RGB frames of ``states`` (the physics, ``[T + 1, n]``) as gymnasium's renderer of the
    task ``env`` (an id or a spec) draws them, shrunk by ``shrink``, with a step counter.

    ``actions[t]`` is the action taken after frame ``t`` (drawn by renderers that show it,
    on the next frame). A spec's ``canvas`` draws gymnasium's picture, pixel for pixel, at a
    fraction of the cost.
    """
    from poleax.envs import env_spec

    images = _frame_images(env_spec(env), states, actions, shrink)
    return [np.asarray(image) for image in images]


def _frame_images(task: EnvSpec, states: np.ndarray, actions: np.ndarray | None, shrink: int):
    """``draw_frames``'s frames as PIL images."""
    canvas = task.make_canvas(shrink)
    if canvas is not None:
        return [canvas.frame(physics, step) for step, physics in enumerate(states)]
    if not task.gymnasium_class:
        return [_stamp(_bars(physics, shrink), step) for step, physics in enumerate(states)]
    _headless()
    from PIL import Image

    poleax_env, _ = task.make()
    env = task.gymnasium_env(render_mode="rgb_array")
    env.reset(seed=0)  # every attribute its renderer reads exists from here on
    frames = []
    try:
        for step, physics in enumerate(states):
            state = poleax_env.state_type(np.asarray(physics), np.int32(step))
            action = actions[step - 1] if actions is not None and step > 0 else None
            poleax_env.state_to_gymnasium(state, env, action)
            frames.append(_stamp(Image.fromarray(env.render()).reduce(shrink), step))
    finally:
        env.close()
    return frames


def _indexed_frames(task: EnvSpec, states: np.ndarray, actions: np.ndarray | None, shrink: int):
    """The frames mapped to one palette, the first frame's (see ``encode_gif``)."""
    canvas = task.make_canvas(shrink)
    if canvas is None:
        images = _frame_images(task, states, actions, shrink)
        palette = _palette(images[0])
        return [_indexed(image, palette) for image in images]
    first = canvas.frame(states[0], 0)
    palette = _palette(first)
    rest = [canvas.indexed(state, step, palette) for step, state in enumerate(states[1:], 1)]
    return [_indexed(first, palette), *rest]


def prepare(env: str | EnvSpec) -> None:
    """Load ahead what drawing the task ``env``'s frames takes (an id or a spec): for a spec
    with a ``canvas``, pygame and the step counters up to its step limit (a run does this
    while it trains)."""
    from poleax.envs import env_spec

    task = env_spec(env)
    if task.make_canvas(FRAME_SHRINK) is not None:
        for step in range(task.max_steps + 1):
            _step_label(step)


def _stamp(image, step: int):
    """``image`` with its step counter drawn in the top-left corner."""
    from PIL import ImageDraw

    ImageDraw.Draw(image).text((6, 4), f"step {step}", fill=(0, 0, 0), font=_font())
    return image


_THREAD = threading.local()


def _font():
    """What ``ImageDraw`` loads when given no font, loaded once per thread (a FreeType face
    is not for two threads at once)."""
    if not hasattr(_THREAD, "font"):
        from PIL import ImageFont

        _THREAD.font = ImageFont.load_default()
    return _THREAD.font


@functools.lru_cache(maxsize=4096)
def _step_label(step: int):
    """``_stamp`` on a white patch just large enough for it (the patch's top-left corner is
    the frame's)."""
    from PIL import Image, ImageDraw

    box = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((6, 4), f"step {step}", font=_font())
    return _stamp(Image.new("RGB", (box[2] + 1, box[3] + 1), (255, 255, 255)), step)


def _headless() -> None:
    """SDL's dummy drivers (no window, no sound) and no pygame banner on stdout."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "hide")


#: The size of a frame of a task with no gymnasium renderer, before shrinking.
BARS_SIZE = (600, 400)


def _bars(physics: np.ndarray, shrink: int):
    """A frame for a task with no gymnasium renderer: one bar per physics variable, from the
    middle (zero) towards its value (tanh-squashed, so any value fits)."""
    from PIL import Image, ImageDraw

    width, height = BARS_SIZE
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    values = np.atleast_1d(np.asarray(physics, np.float64))
    middle, half = width / 2, width * 0.4
    row = (height - 60) / max(len(values), 1)
    draw.line([(middle, 40), (middle, height - 20)], fill=(0, 0, 0))
    for i, value in enumerate(values):
        top = 40 + i * row + row * 0.2
        end = middle + half * math.tanh(float(value)) if np.isfinite(value) else middle
        box = [min(middle, end), top, max(middle, end), top + row * 0.6]
        draw.rectangle(box, fill=(202, 152, 101))
    return image.reduce(shrink)


def _paste(frame, patch):
    frame.paste(patch, (0, 0))
    return frame


def _palette(first):
    """The GIF's palette: 32 colours of its first frame (median cut)."""
    from PIL import Image

    return first.quantize(32, method=Image.Quantize.MEDIANCUT)


def _indexed(image, palette):
    """``image`` mapped to ``palette`` without dithering: each pixel on its own, by colour."""
    from PIL import Image

    return image.quantize(palette=palette, dither=Image.Dither.NONE)


def check_mp4_writer() -> None:
    """Raise ``RuntimeError`` (one line) where imageio has no MP4 encoder (imageio-ffmpeg or
    PyAV): checked before an episode is played and drawn."""
    import importlib.util

    if not any(importlib.util.find_spec(name) for name in ("imageio_ffmpeg", "av")):
        raise RuntimeError(
            "cannot write MP4: no encoder (pip install imageio-ffmpeg); or write a .gif"
        )


def write_video(frames: list[np.ndarray], path: str | Path, fps: int = 50) -> Path:
    """Write frames as a looping GIF, or an MP4 when the path ends in .mp4."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        path.write_bytes(encode_gif(frames, fps))
    elif suffix == ".mp4":
        import imageio.v3 as iio

        check_mp4_writer()
        try:
            with warnings.catch_warnings():
                # Starting ffmpeg forks a process from a JAX-threaded one: the child only
                # execs ffmpeg, so JAX's warning does not apply to it.
                warnings.filterwarnings("ignore", message=r"os\.fork\(\)", category=RuntimeWarning)
                iio.imwrite(path, _padded(np.stack(frames)), extension=".mp4", fps=fps)
        except Exception as error:
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise RuntimeError(
                f"cannot write MP4 ({first}); install imageio-ffmpeg or write a .gif"
            ) from None
    else:
        raise ValueError(f"unsupported video type {suffix!r}; use .gif or .mp4")
    return path


def _padded(frames: np.ndarray, block: int = 16) -> np.ndarray:
    """Frames edge-padded to a multiple of ``block`` pixels each way: what most MP4 codecs and
    players need, done here so imageio neither resizes nor warns."""
    height, width = frames.shape[1:3]
    pad = ((0, 0), (0, -height % block), (0, -width % block), (0, 0))
    return np.pad(frames, pad, mode="edge") if any(p[1] for p in pad) else frames


def encode_gif(frames: list, fps: int) -> bytes:
    """A looping GIF, every frame mapped without dithering to the first frame's palette.

    Classic-control frames have a few colours and their antialiased blends, so one palette
    fits them all, and skipping a per-frame quantiser makes writing several times faster; so does
    keeping Pillow from re-ordering that palette for every frame (``optimize=False``: the same
    pixels).
    """
    from PIL import Image

    images = [f if isinstance(f, Image.Image) else Image.fromarray(f) for f in frames]
    palette = _palette(images[0])
    return _gif_bytes([_indexed(image, palette) for image in images], fps)


def _gif_bytes(indexed: list, fps: int) -> bytes:
    """Frames already mapped to one palette, as a looping GIF."""
    import io

    out = io.BytesIO()
    indexed[0].save(
        out,
        format="GIF",
        save_all=True,
        append_images=indexed[1:],
        duration=round(1000 / fps),
        loop=0,
        optimize=False,
    )
    return out.getvalue()


def episode_gif(
    env: str | EnvSpec, params: dict, spec: NetworkSpec, seed: int = 0, greedy: bool = True
) -> tuple[bytes, int]:
    """One episode of the task ``env`` (an id or a spec) played, drawn and encoded as a GIF;
    the GIF's bytes and the episode's length."""
    from poleax.envs import env_spec

    task = env_spec(env)
    states, actions = play_episode(task, params, spec, seed, greedy)
    frames = _indexed_frames(task, states, actions, FRAME_SHRINK)
    return _gif_bytes(frames, task.render_fps), len(states) - 1


def render_episode(
    env: str | EnvSpec,
    params: dict,
    spec: NetworkSpec,
    path: str | Path,
    seed: int = 0,
    greedy: bool = True,
) -> tuple[Path, int]:
    """Play, draw and write one episode of the task ``env`` (an id or a spec); return the path
    and the episode's length."""
    from poleax.envs import env_spec

    task, path = env_spec(env), Path(path)
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2^32); got {seed}")
    if path.suffix.lower() == ".mp4":
        check_mp4_writer()  # before the episode is played and drawn
    if path.suffix.lower() == ".gif":
        data, length = episode_gif(task, params, spec, seed, greedy)
        path.write_bytes(data)
        return path, length
    states, actions = play_episode(task, params, spec, seed, greedy)
    write_video(draw_frames(task, states, actions), path, task.render_fps)
    return path, len(states) - 1
