"""Episodes drawn by gymnasium's own renderers, written as GIF (or MP4).

The trajectory is played by poleax's JAX env; each frame puts the gymnasium env into that state
with the poleax env's ``state_to_gymnasium`` (which also hands it the action that led there,
for Pendulum's torque arrow). Rendering is headless (SDL's dummy drivers), frames carry a step
counter so resets show, and are downscaled so a 200-frame GIF writes in a fraction of a second.
CartPole's frames, the ones a run draws most, come from ``CartPoleCanvas``: gymnasium's drawing
calls without its per-frame overhead, the same pixels, about ten times faster.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from pathlib import Path
from typing import Any

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
    """RGB frames of ``states`` (the physics, ``[T + 1, n]``) as gymnasium's renderer of
    ``env_id`` draws them, shrunk by ``shrink``, with a step counter.

    ``actions[t]`` is the action taken after frame ``t`` (drawn by renderers that show it,
    such as Pendulum's torque arrow, on the next frame). CartPole's frames come from
    ``CartPoleCanvas``: gymnasium's own drawing calls, pixel for pixel, at a fraction of the cost.
    """
    return [np.asarray(image) for image in _frame_images(env_id, states, actions, shrink)]


def _frame_images(env_id: str, states: np.ndarray, actions: np.ndarray | None, shrink: int):
    """``draw_frames``'s frames as PIL images."""
    if env_id in CARTPOLE_IDS:
        canvas = CartPoleCanvas(env_id, shrink)
        return [canvas.frame(physics, step) for step, physics in enumerate(states)]
    _headless()
    from PIL import Image

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
            frames.append(_stamp(Image.fromarray(env.render()).reduce(shrink), step))
    finally:
        env.close()
    return frames


def _indexed_frames(env_id: str, states: np.ndarray, actions: np.ndarray | None, shrink: int):
    """The frames mapped to one palette, the first frame's (see ``encode_gif``)."""
    if env_id not in CARTPOLE_IDS:
        images = _frame_images(env_id, states, actions, shrink)
        palette = _palette(images[0])
        return [_indexed(image, palette) for image in images]
    canvas = CartPoleCanvas(env_id, shrink)
    first = canvas.frame(states[0], 0)
    palette = _palette(first)
    rest = [canvas.indexed(state, step, palette) for step, state in enumerate(states[1:], 1)]
    return [_indexed(first, palette), *rest]


def prepare(env_id: str) -> None:
    """Load ahead what drawing ``env_id``'s frames takes: pygame and, for CartPole, the step
    counters up to its step limit (a run does this while it trains)."""
    if env_id in CARTPOLE_IDS:
        from poleax.envs import env_spec

        CartPoleCanvas(env_id)
        for step in range(env_spec(env_id).max_steps + 1):
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


CARTPOLE_IDS = ("CartPole-v0", "CartPole-v1")


def _headless() -> None:
    """SDL's dummy drivers (no window, no sound) and no pygame banner on stdout."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "hide")


class CartPoleCanvas:
    """Gymnasium's CartPole picture (``CartPoleEnv.render``), shrunk, at a fraction of its cost.

    The cart, pole and axle are drawn with the very ``pygame.gfxdraw`` calls and coordinates
    of gymnasium's renderer, on one reused surface instead of two new ones per frame. Only the
    band around the cart is then flipped, copied and shrunk; the rest of the frame is the
    empty track, shrunk once, and the step counter is a patch drawn once per step (it lies on
    the empty track). ``tests/test_artifacts_fast.py`` checks the frames against gymnasium's
    ``render()``, pixel for pixel.
    """

    MARGIN = 3  # pixels beyond the shapes' corners that antialiasing may touch
    LABEL_AREA = (128, 32)  # where the step counter may lie, shrunk pixels from the corner

    def __init__(self, env_id: str = "CartPole-v1", shrink: int = FRAME_SHRINK) -> None:
        _headless()
        import pygame
        from PIL import Image

        from poleax.envs import env_spec

        env = env_spec(env_id).gymnasium_env(render_mode="rgb_array").unwrapped
        self.width, self.height = env.screen_width, env.screen_height
        self.scale = self.width / (env.x_threshold * 2)
        self.pole_length = self.scale * (2 * env.length)
        env.close()
        self.shrink = shrink
        self.surface = pygame.Surface((self.width, self.height))
        self._clear()
        self.background = Image.fromarray(self._pixels(0, 0, self.width, self.height)).reduce(
            shrink
        )
        corner = np.asarray(self.background.crop((0, 0, *self.LABEL_AREA)))
        self.white_corner = bool((corner == 255).all())
        self.indexed_background: tuple[Any, Any] | None = None  # (palette, background in it)

    def frame(self, physics: np.ndarray, step: int):
        """The shrunk RGB frame of one state (its x and pole angle) and step, as PIL image."""
        box = self._draw(physics)
        frame = self.background.copy()
        if box is not None:
            frame.paste(self._band(box), (box[0] // self.shrink, box[1] // self.shrink))
        label = self._label(step, box)
        return _stamp(frame, step) if label is None else _paste(frame, label)

    def indexed(self, physics: np.ndarray, step: int, palette):
        """``frame`` mapped to ``palette``, piece by piece (each pixel maps on its own)."""
        box = self._draw(physics)
        label = self._label(step, box)
        if label is None:
            return _indexed(self.frame(physics, step), palette)
        if self.indexed_background is None or self.indexed_background[0] is not palette:
            self.indexed_background = (palette, _indexed(self.background, palette))
        frame = self.indexed_background[1].copy()
        if box is not None:
            band = _indexed(self._band(box), palette)
            frame.paste(band, (box[0] // self.shrink, box[1] // self.shrink))
        return _paste(frame, _indexed(label, palette))

    def _label(self, step: int, box: tuple[int, int, int, int] | None):
        """The step counter's patch, where it lies on the empty track; else None."""
        if not self.white_corner:
            return None
        label = _step_label(step)
        width, height = label.size
        s = self.shrink
        if width > self.LABEL_AREA[0] or height > self.LABEL_AREA[1]:
            return None
        if box is not None and box[0] // s < width and box[1] // s < height:
            return None  # the cart's band reaches the corner
        return label

    def _clear(self) -> None:
        from pygame import gfxdraw

        self.surface.fill((255, 255, 255))
        gfxdraw.hline(self.surface, 0, self.width, 100, (0, 0, 0))

    def _pixels(self, left: int, top: int, right: int, bottom: int) -> np.ndarray:
        """The flipped picture's ``[top:bottom, left:right]`` (rows from the top), as RGB."""
        import pygame

        view = pygame.surfarray.pixels3d(self.surface)  # [x, y]; y counts up the picture
        try:
            rows = view[left:right, self.height - bottom : self.height - top]
            return np.ascontiguousarray(rows[:, ::-1].transpose(1, 0, 2))
        finally:
            del view  # unlocks the surface

    def _band(self, box: tuple[int, int, int, int]):
        from PIL import Image

        return Image.fromarray(self._pixels(*box)).reduce(self.shrink)

    def _draw(self, physics: np.ndarray) -> tuple[int, int, int, int] | None:
        """Draw one state; the box (left, top, right, bottom; full-size pixels of the flipped
        picture, aligned to the shrink) outside which the picture is the empty track."""
        import pygame
        from pygame import gfxdraw

        x = physics
        # gymnasium's CartPoleEnv.render, call for call.
        self._clear()
        polewidth, cartwidth, cartheight = 10.0, 50.0, 30.0
        x0, x1, y1, y0 = -cartwidth / 2, cartwidth / 2, cartheight / 2, -cartheight / 2
        axleoffset = cartheight / 4.0
        cartx = x[0] * self.scale + self.width / 2.0
        carty = 100
        corners = [(x0, y0), (x0, y1), (x1, y1), (x1, y0)]
        cart_coords = [(c[0] + cartx, c[1] + carty) for c in corners]
        gfxdraw.aapolygon(self.surface, cart_coords, (0, 0, 0))
        gfxdraw.filled_polygon(self.surface, cart_coords, (0, 0, 0))
        x0, x1 = -polewidth / 2, polewidth / 2
        y1, y0 = self.pole_length - polewidth / 2, -polewidth / 2
        pole_coords = []
        for coord in [(x0, y0), (x0, y1), (x1, y1), (x1, y0)]:
            coord = pygame.math.Vector2(coord).rotate_rad(-x[2])
            pole_coords.append((coord[0] + cartx, coord[1] + carty + axleoffset))
        gfxdraw.aapolygon(self.surface, pole_coords, (202, 152, 101))
        gfxdraw.filled_polygon(self.surface, pole_coords, (202, 152, 101))
        axle = (int(cartx), int(carty + axleoffset), int(polewidth / 2))
        gfxdraw.aacircle(self.surface, *axle, (129, 132, 203))
        gfxdraw.filled_circle(self.surface, *axle, (129, 132, 203))
        gfxdraw.hline(self.surface, 0, self.width, carty, (0, 0, 0))

        # The box the shapes cover, widened for antialiasing and aligned to the shrink.
        points = np.array([*cart_coords, *pole_coords, axle[:2]], np.float64)
        reach = self.MARGIN + axle[2]
        s, height = self.shrink, self.height
        left = max(0, (math.floor(points[:, 0].min()) - reach) // s * s)
        right = min(self.width, -(-(math.ceil(points[:, 0].max()) + reach + 1) // s) * s)
        top = max(0, (height - 1 - math.ceil(points[:, 1].max()) - reach) // s * s)
        bottom = min(height, -(-(height - math.floor(points[:, 1].min()) + reach) // s) * s)
        return (left, top, right, bottom) if left < right and top < bottom else None


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


def write_video(frames: list[np.ndarray], path: str | Path, fps: int = 50) -> Path:
    """Write frames as a looping GIF, or an MP4 when the path ends in .mp4."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        path.write_bytes(encode_gif(frames, fps))
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


def encode_gif(frames: list, fps: int) -> bytes:
    """A looping GIF, every frame mapped without dithering to the first frame's palette.

    CartPole frames have a few colours and their antialiased blends, so one palette fits them
    all, and skipping a per-frame quantiser makes writing several times faster; so does
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
    env_id: str, params: dict, spec: NetworkSpec, seed: int = 0, greedy: bool = True
) -> tuple[bytes, int]:
    """One episode played, drawn and encoded as a GIF; the GIF's bytes and the episode's
    length."""
    from poleax.envs import env_spec

    states, actions = play_episode(env_id, params, spec, seed, greedy)
    frames = _indexed_frames(env_id, states, actions, FRAME_SHRINK)
    return _gif_bytes(frames, env_spec(env_id).render_fps), len(states) - 1


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

    path = Path(path)
    if path.suffix.lower() == ".gif":
        data, length = episode_gif(env_id, params, spec, seed, greedy)
        path.write_bytes(data)
        return path, length
    states, actions = play_episode(env_id, params, spec, seed, greedy)
    write_video(draw_frames(env_id, states, actions), path, env_spec(env_id).render_fps)
    return path, len(states) - 1
