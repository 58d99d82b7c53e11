"""CartPole's frames, fast: gymnasium's drawing calls without their per-frame overhead.

The spec of each CartPole id names ``CartPoleCanvas`` as its ``canvas``; ``poleax.render``
draws with it instead of ``CartPoleEnv.render()``: the same pixels, about ten times faster.
No jax here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from poleax.envs.spec import EnvSpec
from poleax.render import FRAME_SHRINK, _headless, _indexed, _paste, _stamp, _step_label


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

    def __init__(self, spec: EnvSpec | str, shrink: int = FRAME_SHRINK) -> None:
        _headless()
        import pygame
        from PIL import Image

        from poleax.envs import env_spec

        spec = env_spec(spec) if isinstance(spec, str) else spec
        env = spec.gymnasium_env(render_mode="rgb_array").unwrapped
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
