"""One version, written once: ``_version.py``; pyproject, ``--version`` and the changelog agree."""

from __future__ import annotations

import re
from pathlib import Path

import poleax
from poleax._version import __version__
from poleax.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_reads_the_version_from_version_py():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in text and not re.search(r'^version\s*=\s*"', text, re.M)
    assert 'version = { attr = "poleax._version.__version__" }' in text


def test_version_flag_and_package_agree(capsys):
    try:
        main(["--version"])
    except SystemExit as stop:
        assert stop.code == 0
    assert capsys.readouterr().out.strip() == f"poleax {__version__}"
    assert poleax.__version__ == __version__


def test_the_changelog_opens_with_this_version():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    first = re.search(r"^## (\S+)", changelog, re.M)
    assert first and first.group(1) == __version__
