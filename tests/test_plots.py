"""The learning curve: what its training line is, and a legend that covers no data."""

from __future__ import annotations

import numpy as np

from poleax import plots


def test_the_training_line_counts_every_episode_once_when_counts_are_given():
    returns = np.array([[10.0, np.nan, 100.0]])
    counts = np.array([[9, 0, 1]])
    plain = plots._smooth(returns)
    weighted = plots._smooth(returns, weights=counts)
    assert np.isnan(plain[0, 1]) is np.False_ and plain[0, 2] == 55.0  # a mean of means
    assert weighted[0, 2] == (9 * 10.0 + 100.0) / 10  # the mean of the 10 episodes


def test_the_line_starts_where_every_env_could_have_reached_the_cap():
    steps = np.cumsum(np.full((1, 40), 2048), axis=1)
    returns = np.where(np.arange(40) < 30, 90.0, -20.0)[None].astype(float)
    fig = plots.curve_figure(
        steps, returns, 90.0, [None], "ppo on MountainCarContinuous-v0", start_step=63_936
    )
    line = fig.axes[0].lines[0]
    x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata(), float)
    assert np.isnan(y[x < 63_936]).all() and np.isfinite(y[x >= 63_936]).all()
    assert "from 63,936 steps" in line.get_label()


def test_the_legend_says_what_the_training_line_is_and_sits_below_the_axes():
    steps = np.cumsum(np.full((2, 30), 256), axis=1)
    returns = np.random.default_rng(0).uniform(0, 500, (2, 30))
    fig = plots.curve_figure(steps, returns, 475.0, [5120, None], "ppo on CartPole-v1")
    ax = fig.axes[0]
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert any("mean return of the episodes ended in the last 5 updates" in t for t in labels)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    axes = ax.get_window_extent(renderer)
    assert legend.y1 <= axes.y0  # entirely below the plotting area
    assert plots.curve_png(steps, returns, 475.0, [5120, None], "t")[:8] == b"\x89PNG\r\n\x1a\n"
