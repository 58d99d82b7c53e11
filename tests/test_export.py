"""``poleax export``: the policy as an ONNX graph and as JSON, acting as the numpy Policy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from poleax import checkpoint
from poleax.api import load
from poleax.cli import main
from poleax.export import policy_from_json, to_onnx_model
from poleax.networks import NetworkSpec, param_shapes
from poleax.policy import Policy

CASES = {
    "discrete": (NetworkSpec(4, 2, (64, 64), "tanh"), "CartPole-v1"),
    "normalized": (NetworkSpec(6, 3, (32,), "relu", shared=True, normalize_obs=True), "Acrobot-v1"),
    "continuous": (
        NetworkSpec(3, 1, (64, 64), "tanh", continuous=True, normalize_obs=True),
        "Pendulum-v1",
    ),
}


def random_policy(spec: NetworkSpec, env_id: str, seed: int = 0) -> Policy:
    """Weights of a trained network's scale (about unit outputs), random statistics."""
    rng = np.random.default_rng(seed)
    params = {}
    for layer, names in param_shapes(spec).items():
        params[layer] = {}
        for name, shape in names.items():
            scale = 1 / np.sqrt(shape[0]) if len(shape) == 2 else 0.3
            params[layer][name] = rng.normal(0, scale, shape).astype(np.float32)
    if spec.normalize_obs:
        params["obs_norm"]["var"] = np.abs(params["obs_norm"]["var"]) + 0.05
        params["obs_norm"]["count"] = np.float32(1000)
    return Policy(params, spec, env_id, "ppo")


def observations(spec: NetworkSpec, n: int = 500) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.normal(0, 2, (n, spec.observation_size)).astype(np.float32)


@pytest.fixture(params=list(CASES))
def policy(request) -> Policy:
    return random_policy(*CASES[request.param])


def test_onnx_graph_acts_as_the_numpy_policy(policy):
    ort = pytest.importorskip("onnxruntime")
    model = to_onnx_model(policy)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    obs = observations(policy.spec)
    names = [o.name for o in session.get_outputs()]
    out = dict(zip(names, session.run(None, {"obs": obs}), strict=True))
    inputs, value = policy.logits_and_value(obs)
    actions = policy.act(obs)
    close = {"rtol": 1e-6, "atol": 1e-6}
    np.testing.assert_allclose(out["value"], value, **close)
    if policy.spec.continuous:
        assert names == ["action", "mean", "log_std", "value"]
        assert out["action"].dtype == np.float32 and out["action"].shape == (len(obs), 1)
        np.testing.assert_allclose(out["mean"], inputs[0], **close)
        np.testing.assert_array_equal(out["log_std"], inputs[1])
        np.testing.assert_allclose(out["action"], actions, **close)
        assert np.all(np.abs(out["action"]) <= 2.0) and np.abs(out["mean"]).max() > 0
    else:
        assert names == ["action", "logits", "value"]
        assert out["action"].dtype == np.int64
        np.testing.assert_array_equal(out["action"], actions)
        np.testing.assert_allclose(out["logits"], inputs, **close)
    one = session.run(["action"], {"obs": obs[:1]})[0]  # the batch size is dynamic
    assert len(one) == 1


def test_json_round_trip_reproduces_actions_exactly(policy, tmp_path):
    from poleax.export import to_json

    path = to_json(policy, tmp_path / "policy.json")
    data = json.loads(path.read_text())
    assert data["env_id"] == policy.env_id and data["network"] == policy.spec.to_dict()
    assert data["action_space"]["type"] == ("box" if policy.spec.continuous else "discrete")
    assert isinstance(data["params"]["actor_out"]["w"][0], list)
    back = policy_from_json(path)
    obs = observations(policy.spec)
    np.testing.assert_array_equal(back.act(obs), policy.act(obs))
    for layer, arrays in policy.params.items():
        for name, value in arrays.items():
            np.testing.assert_array_equal(back.params[layer][name], value)


@pytest.fixture
def run_dir(tmp_path):
    """A run folder holding the normalised policy's checkpoint (no training needed)."""
    spec, env_id = CASES["normalized"]
    policy = random_policy(spec, env_id)
    meta = {"env": env_id, "algo": "ppo", "network": spec.to_dict(), "seeds": 1}
    (tmp_path / "run").mkdir()
    checkpoint.save(tmp_path / "run", {**meta, "complete": True}, [policy.params])
    (tmp_path / "run" / "summary.json").write_text("{}")  # a finished run (export takes no other)
    return tmp_path / "run"


def test_export_command_writes_both_formats(run_dir, capsys):
    ort = pytest.importorskip("onnxruntime")
    assert main(["export", str(run_dir), "--format", "onnx"]) == 0
    assert main(["export", str(run_dir), "--format", "json", "--out", str(run_dir / "p.json")]) == 0
    assert "policy.onnx" in capsys.readouterr().out
    policy = load(run_dir)
    obs = observations(policy.spec)
    session = ort.InferenceSession(str(run_dir / "policy.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(session.run(["action"], {"obs": obs})[0], policy.act(obs))
    np.testing.assert_array_equal(policy_from_json(run_dir / "p.json").act(obs), policy.act(obs))


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--format", "onnx", "--seed-index", "3"], "seed index 3 out of range"),
        (["--format", "json", "--seed-index", "-1"], "seed index -1 out of range"),
    ],
)
def test_export_command_says_what_is_wrong(run_dir, capsys, args, said):
    assert main(["export", str(run_dir), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert said in err and len(err.splitlines()) == 1


def test_export_command_rejects_a_bad_run_and_format(tmp_path, run_dir, capsys):
    assert main(["export", str(tmp_path / "nothing"), "--format", "json"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(run_dir), "--format", "tflite"])
    assert exit_.value.code == 2
    assert "invalid choice: 'tflite'" in capsys.readouterr().err


def test_export_without_onnx_says_how_to_install_it(run_dir, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    assert main(["export", str(run_dir), "--format", "onnx"]) == 2
    err = capsys.readouterr().err.strip()
    assert 'pip install "poleax[export]"' in err and len(err.splitlines()) == 1
    assert not (run_dir / "policy.onnx").exists()
