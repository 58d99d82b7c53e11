"""Open a page in headless Chromium and read how many of its images were decoded."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def images_loaded(page: Path, profile: Path) -> tuple[int, int]:
    """``(decoded, total)`` images of ``page`` in headless Chromium (the page marks them on
    its body: ``poleax.report.IMAGES_LOADED_SCRIPT``). Skips where there is no Chromium, and
    fails instead under CI, which installs it."""
    browser = chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs Debian's chromium; it must be there")
        pytest.skip("headless Chromium not installed")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    flags += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    result = subprocess.run(
        [
            browser,
            *flags,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    match = re.search(r'data-images-loaded="(\d+)/(\d+)"', result.stdout)
    assert match, result.stderr[-2000:]
    return int(match.group(1)), int(match.group(2))
