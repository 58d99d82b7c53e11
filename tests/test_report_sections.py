"""report.html's sections a user rereads later: the rerun command, versions, wall time, and
the losses and entropy over training, all inside the one offline page."""

from __future__ import annotations

import csv
import json
import re

import poleax
from poleax.config import TrainConfig
from poleax.report import CONTENT_SECURITY_POLICY, write_report


def _fake_run(tmp_path, seeds=(0,)):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(TrainConfig().to_dict()))
    summary = {"verdict": "a verdict", "per_seed": [], "seconds": 7.3, "train_seconds": 6.6}
    summary["seconds_to_saved_policy"] = 6.9
    (run / "summary.json").write_text(json.dumps(summary))
    names = ["losses/entropy", "losses/policy_loss", "losses/value_loss"]
    with open(run / "metrics.csv", "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["seed", "update", "global_step", *names])
        for seed in seeds:
            for u in range(1, 6):
                out.writerow([seed, u, 128 * u, 0.69 - 0.01 * u, -0.01 * u, 2.0 / u])
    return run


def test_the_report_says_how_to_rerun_which_versions_and_how_long(tmp_path):
    run = _fake_run(tmp_path)
    page = write_report(run).read_text(encoding="utf-8")
    assert f"poleax train --config {run / 'config.json'}" in page
    assert f"poleax {poleax.__version__}, JAX " in page and "gymnasium " in page
    assert "7.3 s whole process" in page and "6.6 s training" in page
    assert "6.9 s to the saved policy" in page


def test_the_report_draws_losses_and_entropy_from_metrics_csv(tmp_path):
    run = _fake_run(tmp_path, seeds=(0, 1))
    page = write_report(run).read_text(encoding="utf-8")
    assert "<h2>Losses and entropy</h2>" in page
    for title in ("policy (actor) loss", "value (critic) loss", "entropy of the policy"):
        assert f'aria-label="{title}"' in page
    assert "approximate KL" not in page.split("<h2>Losses and entropy</h2>")[1].split("<h2>")[0]
    assert page.count("<polyline") == 3 * 2  # a line per seed in each panel
    assert "One line per seed (2 seeds)" in page
    # still one offline page: nothing to fetch
    assert CONTENT_SECURITY_POLICY in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert not re.search(r"url\(|@import|@font-face", page, re.I)


def test_a_run_without_metrics_has_no_losses_section(tmp_path):
    run = _fake_run(tmp_path)
    (run / "metrics.csv").unlink()
    assert "Losses and entropy" not in write_report(run).read_text(encoding="utf-8")
