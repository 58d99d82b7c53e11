"""poleax's envs against gymnasium's, one harness over the table of env cases
(``gym_equivalence.CASES``): one step from many states bit for bit under x64, and whole
episodes side by side. Each env's own tests (float32, resets, renders) are in its file."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gym_equivalence import CASES, assert_bits_equal, once, poleax_steps, run_episode_pair


def one_step_params():
    for case in CASES.values():
        if not case.one_step:
            continue
        dtypes = (np.float64, np.float32) if case.continuous else (None,)
        for kind in case.tests().ONE_STEP_KINDS:
            for dtype in dtypes:
                for baked in (False, True):
                    name = "-".join(
                        [case.env_id, kind]
                        + ([np.dtype(dtype).name + "-actions"] if dtype else [])
                        + ["params-baked" if baked else "params-args"]
                    )
                    yield pytest.param(case.env_id, kind, dtype, baked, id=name)


@pytest.mark.parametrize("env_id,kind,action_dtype,baked", list(one_step_params()))
def test_one_step_is_bit_identical_in_float64(env_id, kind, action_dtype, baked):
    case = CASES[env_id]
    tests = case.tests()
    data = once(tests.one_step_reference, kind, action_dtype)
    with jax.enable_x64(True):
        ours = poleax_steps(case, data["state"], data["action"], jnp.float64, action_dtype, baked)
    assert_bits_equal(ours["next"], data["next"])
    assert_bits_equal(ours["obs"], tests.numpy_observation(data["next"]))
    np.testing.assert_array_equal(ours["obs"].astype(np.float32), data["obs"])
    assert_bits_equal(ours["reward"], data["reward"])
    np.testing.assert_array_equal(ours["term"], data["term"])
    assert not ours["trunc"].any() and np.all(ours["time"] == 1)
    tests.assert_exercised(kind, data, action_dtype)  # the states cover what they must


def episode_params():
    for case in CASES.values():
        for episodes in case.episodes:
            yield pytest.param(case.env_id, episodes, id=f"{case.env_id}-{episodes.name}")


@pytest.mark.parametrize("env_id,episodes", list(episode_params()))
def test_whole_episodes_agree(env_id, episodes):
    case = CASES[env_id]
    with jax.enable_x64(True):
        for seed in episodes.seeds:
            odd = episodes.float32_on_odd_seeds and seed % 2
            ref, ours = run_episode_pair(
                case, seed, episodes.policy, np.float32 if odd else np.float64
            )
            assert ref == ours, seed
            rewards, terminated, truncated = (list(x) for x in zip(*ours, strict=True))
            if episodes.ends == "cap":
                assert len(ours) == case.cap
                assert truncated[-1] and not any(truncated[:-1])
                assert not any(terminated)
            else:
                assert len(ours) < case.cap
                assert terminated[-1] and not truncated[-1]
            if episodes.last_reward is not None:
                assert rewards[-1] == episodes.last_reward
            if episodes.last_reward_above is not None:
                assert rewards[-1] > episodes.last_reward_above
            if episodes.every_reward is not None:
                assert all(r == episodes.every_reward for r in rewards)
