"""``poleax render --out x.mp4``: an MP4 whose frames keep their pixels (padded, not resized)
and no warning printed to the user (imageio's resize notice, JAX's fork warning)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from poleax.render import write_video


def test_an_mp4_is_written_without_a_warning(tmp_path, capfd):
    pytest.importorskip("imageio_ffmpeg")
    import imageio.v3 as iio
    import jax.numpy as jnp

    jnp.zeros(1).block_until_ready()  # JAX's threads are up, as in a run
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (50, 75, 3), np.uint8) for _ in range(5)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_video(frames, tmp_path / "x.mp4", fps=10)
    assert not caught, [str(w.message) for w in caught]
    assert capfd.readouterr().err == ""
    with warnings.catch_warnings():  # reading it back forks ffmpeg too (the test's, not ours)
        warnings.simplefilter("ignore", RuntimeWarning)
        video = iio.imread(tmp_path / "x.mp4")
    assert video.shape == (5, 64, 80, 3)  # edge-padded to blocks of 16, never resized
