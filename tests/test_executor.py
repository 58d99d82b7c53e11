"""Executors and the evaluation screen: masks, widths, and what each decides."""

from __future__ import annotations

import subprocess
import sys

import jax
import numpy as np
import pytest

from poleax.algos import make_algorithm
from poleax.config import build_config
from poleax.envs.spec import SolveCriterion
from poleax.executor import RowsPerCore, executor_kind, make_executor, vmap_width
from poleax.programs import Programs
from poleax.trainer import seed_keys, train


def leaves_of(tree, row: int) -> list[np.ndarray]:
    return [np.asarray(x[row]) for x in jax.tree.leaves(tree)]


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def vmapped(**kw):
    return build_config("ppo", "CartPole-v0", executor="vmapped", **kw)


def test_an_inactive_row_keeps_its_state_bit_for_bit():
    config = vmapped(seeds=4, vmap_width=4)
    programs = Programs(make_algorithm(config), width=4)
    state = jax.device_get(programs.init(seed_keys(config)))
    active = np.array([True, False, True, False])
    trained, _ = jax.device_get(programs.train(state, active))
    for row in range(4):
        kept = same(leaves_of(trained, row), leaves_of(state, row))
        assert kept == (not active[row]), row


def test_an_inactive_slot_plays_no_evaluation_step():
    config = vmapped(seeds=4, vmap_width=4)
    programs = Programs(make_algorithm(config), width=4, screen_episodes=5)
    state = jax.device_get(programs.init(seed_keys(config)))
    active = np.array([True, False, True, False])
    screen = programs.screen(state.params, seed_keys(config), 0, active)
    greedy, sampled, *_ = jax.device_get(screen)
    assert (greedy[active] >= 8).all() and (sampled[active] >= 8).all()  # CartPole lasts 8+
    assert (greedy[~active] == 0).all() and (sampled[~active] == 0).all()


@pytest.mark.slow
def test_a_vmapped_seed_equals_itself_in_any_batch_of_the_same_width():
    """Seeds 3-5 trained beside 0-2, or alone: batches of width 3 either way, and the rows
    are repacked as seeds solve and stop."""
    wide = train(vmapped(seed=0, seeds=6, vmap_width=3, total_steps=20_000))
    alone = train(vmapped(seed=3, seeds=3, vmap_width=3, total_steps=20_000))
    assert wide.steps_to_solve[3:] == alone.steps_to_solve
    assert len(set(wide.steps_to_solve)) > 1  # seeds stopped at different chunks
    for i in range(3):
        a = jax.tree.leaves(wide.delivered_params[3 + i])
        b = jax.tree.leaves(alone.delivered_params[i])
        assert same([np.asarray(x) for x in a], [np.asarray(x) for x in b])


@pytest.mark.slow
def test_vmapped_and_rows_per_core_decide_alike():
    """The documented tolerance: every seed solved by both, median steps to solve within a
    factor of 1.5 (XLA rounds a vmapped program differently, so trajectories differ)."""
    seeds = 16
    by_row = train(build_config("ppo", "CartPole-v0", seeds=seeds, total_steps=30_000))
    by_batch = train(vmapped(seeds=seeds, total_steps=30_000))
    assert None not in by_row.steps_to_solve and None not in by_batch.steps_to_solve
    ratio = np.median(by_batch.steps_to_solve) / np.median(by_row.steps_to_solve)
    assert 1 / 1.5 <= ratio <= 1.5, (by_row.steps_to_solve, by_batch.steps_to_solve)


@pytest.mark.slow
def test_the_screen_saves_full_evaluations_and_delays_no_solve_here(monkeypatch):
    full_evaluations = []
    original = RowsPerCore.evaluate_calls

    def counted(self, params, keys, rows, chunk):
        full_evaluations.append(len(rows))
        return original(self, params, keys, rows, chunk)

    monkeypatch.setattr(RowsPerCore, "evaluate_calls", counted)
    config = build_config("ppo", "CartPole-v1", seeds=4, total_steps=30_000)
    screened = train(config)
    with_screen = sum(full_evaluations)
    full_evaluations.clear()
    unscreened = train(config.replace(eval_screen=0))
    assert screened.steps_to_solve == unscreened.steps_to_solve  # exact seeds: no delay
    assert None not in screened.steps_to_solve
    assert with_screen < sum(full_evaluations) / 2
    counts = {n for e in screened.evaluations for n in e.episodes}
    assert {10, 100} <= counts <= {0, 10, 100}  # each mean says what it is a mean of
    assert {n for e in unscreened.evaluations for n in e.episodes} <= {0, 100}


@pytest.mark.slow
def test_a_screen_that_passes_never_solves_a_policy_the_full_evaluation_fails(monkeypatch):
    monkeypatch.setattr(SolveCriterion, "might_pass", lambda self, g, s, gse, sse: g == g)
    config = build_config("ppo", "CartPole-v1", seeds=2, total_steps=1024, executor="vmapped")
    result = train(config)
    assert result.steps_to_solve == [None, None]  # an untrained policy fails the full one
    assert all(ev.greedy[0] < 475 for ev in result.evaluations)


def test_the_backend_chooses_the_executor_and_the_width():
    assert executor_kind(build_config("ppo", "CartPole-v1")) == "rows-per-core"  # a CPU here
    assert vmap_width(vmapped(seeds=100)) == 16
    assert vmap_width(vmapped(seeds=5)) == 5
    assert vmap_width(vmapped(seeds=100, vmap_width=7)) == 7
    assert make_executor(make_algorithm(vmapped(seeds=3))).name == "vmapped"


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--executor", "gpu"], "invalid choice"),
        (["--vmap-width", "-1"], "vmap_width must be a whole number in [0, 65,536]"),
        (["--eval-screen", "-1"], "eval_screen must be a whole number in [0, 10,000]"),
    ],
)
def test_bad_executor_settings_are_one_line_and_exit_2(tmp_path, flags, message):
    command = [sys.executable, "-m", "poleax", "train", "--out", str(tmp_path / "r"), *flags]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_a_vmapped_run_resumed_from_its_state_ends_where_an_uninterrupted_one_does():
    config = vmapped(seeds=3, vmap_width=2, total_steps=4096, stop_when_solved=False)
    whole = train(config)
    chunks: list[int] = []
    part = train(
        config, on_chunk=lambda r: chunks.append(r.chunk), should_stop=lambda: len(chunks) >= 3
    )
    assert part.interrupted and part.history.chunks == 3
    rest = train(config, state=part.state, history=part.history)
    assert rest.history.chunks == whole.history.chunks
    for a, b in zip(jax.tree.leaves(rest.state), jax.tree.leaves(whole.state), strict=True):
        np.testing.assert_array_equal(a, b)
