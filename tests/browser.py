"""Open a page in headless Chromium: how many of its images were decoded
(``images_loaded``), or its DOM and console after it ran (``run_page``)."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _dump_dom(
    page: Path, profile: Path, budget_ms: int, *extra: str
) -> subprocess.CompletedProcess:
    """Headless Chromium's DOM of ``page`` after ``budget_ms`` of virtual time (``extra``
    flags added). Skips where there is no Chromium, and fails instead under CI."""
    browser = chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs Debian's chromium; it must be there")
        pytest.skip("headless Chromium not installed")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    flags += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    flags += [*extra, f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}"]
    return subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )


def images_loaded(page: Path, profile: Path) -> tuple[int, int]:
    """``(decoded, total)`` images of ``page`` in headless Chromium (the page marks them on
    its body: ``poleax.report.IMAGES_LOADED_SCRIPT``). Skips where there is no Chromium, and
    fails instead under CI, which installs it."""
    result = _dump_dom(page, profile, 10_000)
    match = re.search(r'data-images-loaded="(\d+)/(\d+)"', result.stdout)
    assert match, result.stderr[-2000:]
    return int(match.group(1)), int(match.group(2))


@dataclass
class PageRun:
    """What headless Chromium made of a page: its DOM once loaded and run for the virtual time
    budget, and every message of its console (errors, blocked requests, logs)."""

    dom: str
    console: list[str]

    def text(self, element_id: str) -> str:
        """The text of the element ``id=element_id`` (the first one) in the dumped DOM."""
        match = re.search(
            rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"[^>]*>(.*?)</\1>', self.dom, re.S
        )
        assert match, f"no element #{element_id} in the page"
        return html.unescape(match.group(2))


def run_page(page: Path, profile: Path, budget_ms: int = 5000) -> PageRun:
    """Load ``page`` in headless Chromium, let it run ``budget_ms`` of virtual time (timers
    fire, no waiting), and return its DOM and console. Skips where there is no Chromium,
    and fails instead under CI."""
    result = _dump_dom(page, profile, budget_ms, "--enable-logging=stderr", "--v=0")
    assert "</html>" in result.stdout, result.stderr[-2000:]
    console = re.findall(r':CONSOLE[^\]]*\] "(.*)", source: ', result.stderr)
    return PageRun(result.stdout, console)
