"""report.html's live view in headless Chromium: the page's JavaScript physics and policy
against poleax's numpy ``Policy`` on gymnasium's env, pushes, and a page that loads nothing.

Every env, from gymnasium's own start states: numpy's actions replayed in the page give
gymnasium's states to 1e-9 (the physics); the page's forward pass equals numpy's to 1e-12 on
the observations met (both compute in float64); and the page's closed loop (its physics and
its policy, greedy) takes numpy's actions and gives gymnasium's states to 1e-9 for 500 steps
or the whole episode.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from browser import run_page

import poleax
from poleax import live
from poleax.envs.registry import env_spec
from poleax.networks import NetworkSpec, layer_shapes
from poleax.policy import Policy
from poleax.report import CONTENT_SECURITY_POLICY

STEPS = 500
START_SEEDS = (0, 1, 2)

#: A policy per env, covering the forward pass's variants (obs normalisation, relu, a shared
#: trunk). Acrobot's keeps it swinging low (all three torques, speeds under 1 rad/s): one
#: that pumps it into its chaotic regime (some random ones do) parts from gymnasium by more
#: than 1e-9 within 200 steps even with numpy's actions replayed, libm's last bits (glibc's
#: against V8's sin, cos and pow) growing.
POLICIES = {
    "CartPole-v0": {"actor_gain": 1.0, "normalize_obs": True},
    "CartPole-v1": {"actor_gain": 1.0},
    "Acrobot-v1": {"actor_gain": 10.0},
    "MountainCar-v0": {"actor_gain": 1.0, "activation": "relu", "shared": True},
    "Pendulum-v1": {"actor_gain": 1.0, "normalize_obs": True},
    "MountainCarContinuous-v0": {"actor_gain": 1.0, "activation": "relu"},
}


def random_policy(env_id: str, seed: int, actor_gain: float, **network) -> Policy:
    """Orthogonal weights as poleax initialises them (numpy, no JAX), random biases."""
    spec = env_spec(env_id)
    net = NetworkSpec(
        observation_size=spec.observation_size,
        num_actions=spec.action_size,
        continuous=not spec.discrete,
        **network,
    )
    rng = np.random.default_rng(seed)
    params = {}
    for layer, (fan_in, fan_out, gain) in layer_shapes(net).items():
        q, _ = np.linalg.qr(rng.normal(size=(max(fan_in, fan_out), min(fan_in, fan_out))))
        w = (actor_gain if layer == "actor_out" else gain) * (q if fan_in >= fan_out else q.T)
        params[layer] = {"w": w, "b": rng.normal(scale=0.05, size=fan_out)}
    if net.continuous:
        params["log_std"] = {"value": np.full(net.num_actions, -0.5)}
    if net.normalize_obs:
        size = net.observation_size
        params["obs_norm"] = {
            "mean": rng.normal(scale=0.1, size=size),
            "var": rng.uniform(0.05, 2.0, size=size),
            "count": np.float32(1000.0),
        }
    return Policy(params, net, env_id)


def gymnasium_episode(policy: Policy, seed: int) -> dict:
    """The numpy policy, greedy, on gymnasium's env from ``reset(seed=seed)``: the start
    state, then each step's action, reward and state (float64), for ``STEPS`` steps or until
    the episode ends."""
    spec = env_spec(policy.env_id)
    env = spec.gymnasium_env()
    obs, _ = env.reset(seed=seed)
    start = np.asarray(env.unwrapped.state, np.float64).tolist()
    actions, rewards, states = [], [], []
    for _ in range(min(STEPS, spec.max_steps)):
        action = policy.act(obs)
        obs, reward, terminated, _, _ = env.step(action)
        actions.append(np.asarray(action).tolist())
        rewards.append(float(reward))
        states.append(np.asarray(env.unwrapped.state, np.float64).tolist())
        if terminated:
            break
    return {"start": start, "actions": actions, "rewards": rewards, "states": states}


#: Runs in the page: each case's closed loop (the page's policy, greedy) and a replay of
#: numpy's actions (with the page's observation, forward pass and greedy action at each state,
#: for comparison).
CASES_SCRIPT = """<script>
const result = {};
for (const c of JSON.parse(document.getElementById("cases").textContent)) {
  const sim = poleaxLive.create(JSON.parse(document.getElementById(c.data).textContent));
  const closed = { states: [], actions: [], rewards: [] };
  sim.setState(c.start);
  while (closed.states.length < c.steps && !sim.done) {
    const info = sim.step();
    closed.states.push(info.state);
    closed.actions.push(info.action);
    closed.rewards.push(info.reward);
  }
  const replay = { states: [], actions: [], rewards: [], observations: [], outputs: [] };
  sim.setState(c.start);
  for (const action of c.actions) {
    const out = sim.policy.forward(sim.observation());
    replay.observations.push(sim.observation());
    replay.outputs.push([...(out.logits || out.mean), out.value]);
    replay.actions.push(sim.policy.act(out, true));
    const info = sim.step(action);
    replay.states.push(info.state);
    replay.rewards.push(info.reward);
  }
  result[c.key] = { closed, replay };
}
document.getElementById("result").textContent = JSON.stringify(result);
</script>"""


def max_diff(a: list, b: list) -> float:
    assert len(a) == len(b), (len(a), len(b))
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def numpy_outputs(policy: Policy, observations: list) -> np.ndarray:
    """What the page records of its forward pass: the logits (or the mean), then V(s)."""
    inputs, values = policy.logits_and_value(np.asarray(observations, np.float64))
    head = inputs[0] if policy.spec.continuous else inputs
    return np.concatenate([head, values[:, None]], axis=1)


def test_every_env_steps_as_gymnasium_with_the_numpy_policy(tmp_path):
    cases, references, blocks, policies = [], {}, [], {}
    for index, (env_id, options) in enumerate(POLICIES.items()):
        policies[env_id] = policy = random_policy(env_id, index, **options)
        data_id = f"policy-{index}"
        blocks.append(live.data_script(live.live_data(policy), data_id))
        for seed in START_SEEDS:
            key = f"{env_id}/{seed}"
            references[key] = reference = gymnasium_episode(policy, seed)
            cases.append(
                {
                    "key": key,
                    "data": data_id,
                    "start": reference["start"],
                    "actions": reference["actions"],
                    "steps": STEPS,
                }
            )
    page = tmp_path / "envs.html"
    page.write_text(
        f"""<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}"></head><body>
{"".join(blocks)}{live.data_script(cases, "cases")}<pre id="result"></pre>
{live.inline_script()}{CASES_SCRIPT}</body></html>""",
        encoding="utf-8",
    )
    run = run_page(page, tmp_path / "profile", budget_ms=1000)
    assert run.console == []
    results = json.loads(run.text("result"))
    for key, reference in references.items():
        policy = policies[key.split("/")[0]]
        closed, replay = results[key]["closed"], results[key]["replay"]
        # the physics: numpy's actions give gymnasium's states and rewards
        assert max_diff(replay["states"], reference["states"]) <= 1e-9, key
        np.testing.assert_allclose(replay["rewards"], reference["rewards"], rtol=1e-9, atol=1e-12)
        # the policy: numpy's forward pass in float64, bar the last bits of sums and tanh
        expected = numpy_outputs(policy, replay["observations"])
        np.testing.assert_allclose(replay["outputs"], expected, rtol=1e-12, atol=1e-12, err_msg=key)
        assert replay["actions"] == reference["actions"], key
        # the page's own loop: the same actions (float32 ones when continuous), the same states
        assert closed["actions"] == reference["actions"], key
        assert max_diff(closed["states"], reference["states"]) <= 1e-9, key


@pytest.fixture(scope="module")
def trained_run(train_once):
    """A CartPole-v1 policy trained until solved (about 10 s), and its report."""
    return train_once("--env", "CartPole-v1", "--no-gifs")


#: Runs in the report once its animation has played for 2 s: what it showed, then the
#: trained policy from given start states, pushed and not, by key, by click and by call.
REPORT_SCRIPT = """<pre id="live-test"></pre><script>
window.setTimeout(() => {
  const live = window.poleaxLive;
  const out = { autoplay: { playing: live.playing, step: live.steps,
                            episode: document.getElementById("live-episode").textContent } };
  live.pause();
  live.setGreedy(true);
  const starts = JSON.parse(document.getElementById("starts").textContent);
  out.episodes = starts.map((start) => {
    live.setState(start);
    const states = live.run(500);
    return { states, step: document.getElementById("live-step").textContent,
             ret: document.getElementById("live-return").textContent };
  });
  out.pushed = [1, -1].map((dir, i) => {
    live.setState(starts[i]);
    live.run(50);
    const before = live.state();
    live.push(dir);
    const after = live.state();
    const states = live.run(250);
    return { dir, before, after, states, done: live.done };
  });
  const nudge = (fire) => {
    live.setState(starts[0]);
    const before = live.state();
    fire();
    return [before, live.state()];
  };
  out.keys = ["ArrowLeft", "ArrowRight"].map((key) => nudge(() =>
    document.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true }))));
  const canvas = document.getElementById("live-canvas");
  const box = canvas.getBoundingClientRect();
  out.clicks = [0.1, 0.9].map((at) => nudge(() => canvas.dispatchEvent(new MouseEvent(
    "click", { clientX: box.left + at * box.width, clientY: box.top + 10, bubbles: true }))));
  live.setGreedy(false);
  live.reset();
  out.sampled = live.run(100).length;
  document.getElementById("live-test").textContent = JSON.stringify(out);
}, 2000);
</script>"""


@pytest.mark.slow
def test_the_report_plays_the_trained_policy_and_it_recovers_from_a_push(trained_run, tmp_path):
    report = (trained_run / "report.html").read_text(encoding="utf-8")
    assert 'id="live-step"' in report and 'id="live-return"' in report
    assert CONTENT_SECURITY_POLICY in report
    # offline: nothing to fetch (and the policy above would block it)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", report, re.I)
    assert not re.search(r"url\(|@import|@font-face", report, re.I)

    policy = poleax.load(trained_run)
    references = [gymnasium_episode(policy, seed) for seed in START_SEEDS]
    starts = [reference["start"] for reference in references]
    page = tmp_path / "report.html"  # one file: it needs nothing beside it
    page.write_text(
        report.replace("</body>", f"{live.data_script(starts, 'starts')}{REPORT_SCRIPT}</body>"),
        encoding="utf-8",
    )
    run = run_page(page, tmp_path / "profile", budget_ms=4000)
    assert run.console == []  # no error, no blocked request
    out = json.loads(run.text("live-test"))

    # it started on its own, at the env's pace (50 steps a second)
    assert out["autoplay"]["playing"]
    assert out["autoplay"]["step"] > 20 or int(out["autoplay"]["episode"]) > 1

    # the page's closed loop is gymnasium's with the numpy policy
    for episode, reference in zip(out["episodes"], references, strict=True):
        # The first 100 steps to 1e-9; after that a 1-ulp difference between the browser's
        # Math.sin/cos and glibc's can grow along a trained policy's trajectory (seen: 1.1e-5
        # at step ~400 with Chromium 156 for one trained policy, 6.3e-4 with a 16x16 one), so
        # the whole episode is held to 1e-2 and to the same length and return: one action of
        # the other side would move the cart's velocity by some 0.18 at once (force 10 N over
        # 1.1 kg for 0.02 s), far beyond it.
        assert max_diff(episode["states"][:100], reference["states"][:100]) <= 1e-9
        assert max_diff(episode["states"], reference["states"]) <= 1e-2
        assert int(episode["step"]) == len(reference["states"])
        assert float(episode["ret"]) == sum(reference["rewards"])

    # a push changes the trajectory and the trained policy brings the pole back up
    for pushed, episode in zip(out["pushed"], out["episodes"][:2], strict=True):
        before, after = np.array(pushed["before"]), np.array(pushed["after"])
        assert np.sign(after[1] - before[1]) == pushed["dir"]  # the cart, shoved
        assert (after[3] - before[3]) * pushed["dir"] < -0.5  # the pole, tipped the other way
        states = np.array(pushed["states"])
        unpushed = np.array(episode["states"][50:300])
        assert np.max(np.abs(states - unpushed)) > 0.05
        assert len(states) == 250 and not pushed["done"]  # still up 250 steps on
        upright = np.max(np.abs(np.array(episode["states"])[:, 2]))  # as it keeps it, unpushed
        assert np.max(np.abs(states[-50:, 2])) <= upright  # the pole back up

    # arrow keys push left and right; a click pushes towards its side of the cart
    for (before, after), direction in zip(out["keys"] + out["clicks"], [-1, 1, -1, 1], strict=True):
        assert np.sign(after[1] - before[1]) == direction
    assert out["sampled"] > 0


def test_a_request_from_the_page_would_show_in_its_console(tmp_path):
    page = tmp_path / "request.html"
    page.write_text(
        f"""<!doctype html><html><head>
<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}"></head>
<body><img src="http://127.0.0.1:9/x.png" alt=""></body></html>""",
        encoding="utf-8",
    )
    run = run_page(page, tmp_path / "profile", budget_ms=500)
    assert any("127.0.0.1:9" in line for line in run.console), run.console
