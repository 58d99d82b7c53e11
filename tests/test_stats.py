"""poleax.stats: rliable's aggregate metrics, by hand on small cases and against rliable."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from poleax import stats


def fixed_scores(runs: int = 10, tasks: int = 3, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scores = rng.normal(0.6, 0.3, size=(runs, tasks))
    scores[0, 0] = scores[1, 0]  # ties, as solved seeds give (many runs at exactly 1.0)
    scores[2:5, 1] = 1.0
    return scores


def test_iqm_is_the_mean_of_the_middle_half():
    scores = np.array([[1.0], [2.0], [3.0], [4.0], [100.0], [-50.0], [5.0], [6.0]])
    assert stats.iqm(scores) == pytest.approx(np.mean([2.0, 3.0, 4.0, 5.0]))
    flat = fixed_scores()
    assert stats.iqm(flat) == pytest.approx(scipy.stats.trim_mean(flat, 0.25, axis=None))


def test_iqm_keeps_extra_axes():
    curves = np.random.default_rng(0).normal(size=(9, 2, 5))
    expected = [scipy.stats.trim_mean(curves[..., t], 0.25, axis=None) for t in range(5)]
    assert np.allclose(stats.iqm(curves), expected)


def test_score_distribution_counts_scores_strictly_above_tau():
    scores = np.array([[0.0, 1.0], [0.5, 1.0]])
    assert np.allclose(stats.score_distribution(scores, [-1.0, 0.0, 0.5, 1.0]), [1, 0.75, 0.5, 0])


def test_probability_of_improvement_counts_ties_half():
    x = np.array([[1.0], [2.0], [3.0]])
    y = np.array([[2.0], [2.0], [0.0]])
    # pairs: 1>2 no, 1>2 no, 1>0 yes; 2=2 tie, tie, 2>0 yes; 3>all yes x3 -> (1 + 1 + 1 + 3)/9
    assert stats.probability_of_improvement(x, y) == pytest.approx((5 + 0.5 * 2) / 9)
    assert stats.probability_of_improvement(x, x) == pytest.approx(0.5)
    mwu = scipy.stats.mannwhitneyu(x[:, 0], y[:, 0], alternative="greater").statistic / 9
    assert stats.probability_of_improvement(x, y) == pytest.approx(mwu)


def test_stratified_bootstrap_resamples_within_each_task():
    scores = np.stack([np.arange(5.0), 100 + np.arange(5.0)], axis=1)  # tasks apart
    samples = stats.stratified_resample(scores, 200, np.random.default_rng(0))
    assert samples.shape == (200, 5, 2)
    assert np.isin(samples[:, :, 0], scores[:, 0]).all()
    assert np.isin(samples[:, :, 1], scores[:, 1]).all()


def test_intervals_hold_the_point_and_shrink_with_runs():
    small = stats.iqm_interval(fixed_scores(runs=5))
    big = stats.iqm_interval(fixed_scores(runs=200))
    for interval in (small, big):
        assert interval.low <= interval.point <= interval.high
    assert big.high - big.low < small.high - small.low
    constant = stats.iqm_interval(np.ones((6, 2)))
    assert constant.low == constant.point == constant.high == 1.0


def test_generic_bootstrap_matches_the_vectorised_iqm():
    scores = fixed_scores()
    generic = stats.bootstrap(scores, stats.iqm, reps=500, seed=3)
    fast = stats.iqm_interval(scores, reps=500, seed=3)
    assert np.allclose(generic, fast)


def test_normalise_maps_random_to_zero_and_threshold_to_one():
    assert np.allclose(stats.normalise([22.3, 475.0], 22.3, 475.0), [0.0, 1.0])
    with pytest.raises(ValueError):
        stats.normalise([1.0], 5.0, 5.0)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        stats.iqm(np.ones(5))
    with pytest.raises(ValueError):
        stats.probability_of_improvement(np.ones((3, 2)), np.ones((3, 1)))


def _rliable():
    try:
        from rliable import library, metrics
    except Exception:  # not installed, or its arch/pandas pair does not import
        return None
    return library, metrics


@pytest.mark.skipif(_rliable() is None, reason="rliable not installed (or does not import)")
def test_numbers_match_rliable_on_fixed_data():
    library, metrics = _rliable()
    x, y = fixed_scores(seed=1), fixed_scores(seed=2) * 0.9
    # Point estimates: exactly rliable's.
    assert stats.iqm(x) == pytest.approx(metrics.aggregate_iqm(x))
    assert stats.probability_of_improvement(x, y) == pytest.approx(
        metrics.probability_of_improvement(x, y)
    )
    taus = np.linspace(-0.5, 1.5, 21)
    profiles, profile_cis = library.create_performance_profile({"x": x}, taus, reps=4000)
    assert np.allclose(stats.score_distribution(x, taus), profiles["x"])
    # Intervals: both are percentile stratified bootstraps; the random draws differ, so the
    # ends agree to the bootstrap's own noise.
    points, cis = library.get_interval_estimates(
        {"x": x}, lambda s: np.array([metrics.aggregate_iqm(s)]), reps=4000
    )
    ours = stats.iqm_interval(x, reps=4000)
    assert ours.point == pytest.approx(points["x"][0])
    assert ours.low == pytest.approx(cis["x"][0, 0], abs=0.02)
    assert ours.high == pytest.approx(cis["x"][1, 0], abs=0.02)
    ours_profile = stats.profile_interval(x, taus, reps=4000)
    assert np.allclose(ours_profile.low, profile_cis["x"][0], atol=0.05)
    assert np.allclose(ours_profile.high, profile_cis["x"][1], atol=0.05)
    _, poi_cis = library.get_interval_estimates(
        {"x,y": (x, y)}, metrics.probability_of_improvement, reps=2000
    )
    ours_poi = stats.improvement_interval(x, y, reps=2000)
    assert ours_poi.low == pytest.approx(poi_cis["x,y"][0], abs=0.03)
    assert ours_poi.high == pytest.approx(poi_cis["x,y"][1], abs=0.03)


#: rliable 1.2.0's numbers on ``fixed_scores(seed=1)`` (x) and ``fixed_scores(seed=2) * 0.9``
#: (y), computed once with rliable itself (intervals from 20,000 bootstrap replicates), so
#: the comparison runs where rliable is not installed too.
RLIABLE_IQM = 0.6216669608242955
RLIABLE_POI = 0.57
RLIABLE_PROFILE = [1.0, 1.0, 1.0, 0.966667, 0.966667, 0.966667, 0.933333, 0.933333, 0.866667]
RLIABLE_PROFILE += [0.8, 0.7, 0.566667, 0.366667, 0.233333, 0.166667, 0.0, 0.0, 0.0, 0.0, 0.0]
RLIABLE_PROFILE += [0.0]
RLIABLE_IQM_CI = (0.54302565, 0.70569301)
RLIABLE_POI_CI = (0.41333333, 0.72)


def test_numbers_match_rliables_recorded_ones():
    x, y = fixed_scores(seed=1), fixed_scores(seed=2) * 0.9
    assert stats.iqm(x) == pytest.approx(RLIABLE_IQM, abs=1e-12)
    assert stats.probability_of_improvement(x, y) == pytest.approx(RLIABLE_POI, abs=1e-12)
    taus = np.linspace(-0.5, 1.5, 21)
    np.testing.assert_allclose(stats.score_distribution(x, taus), RLIABLE_PROFILE, atol=1e-6)
    ours = stats.iqm_interval(x, reps=4000)
    assert (ours.low, ours.high) == pytest.approx(RLIABLE_IQM_CI, abs=0.02)
    ours_poi = stats.improvement_interval(x, y, reps=2000)
    assert (ours_poi.low, ours_poi.high) == pytest.approx(RLIABLE_POI_CI, abs=0.03)
