"""Every code block in the README and the docs runs, the Chinese pages name the same
commands and flags as their English twins, and the docs site builds with ``--strict``.

- ``python`` blocks run, each as its own script in an empty folder (with this checkout's
  ``src`` first on the path); a block that trains is marked slow.
- In ``bash`` blocks, every ``poleax ...`` command is parsed by poleax's own argument parser,
  so an unknown subcommand, a renamed flag or a bad value fails here. The ``poleax train``
  commands (but those that rerun or resume a run, which they cannot name here) also run
  for real, in a temporary folder, with ``--total-steps 2048 --no-gifs --no-progress`` and
  an ``--out`` appended (the last value of a flag wins), marked slow.
- A ``python`` block whose first line is ``# NAME.py`` is a module of the page (say the
  task a page registers): it is saved as ``NAME.py`` beside every block and command of its
  page that runs, and tested through them (``import NAME``, ``poleax train --import NAME``).
- A command that uses a flag this checkout's parser lacks (``--import``, in a branch being
  merged) is skipped until ``poleax train --help`` names it.
- Blocks in other languages (``text``: output, tables) are not run.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from poleax.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(
    [ROOT / "README.md", ROOT / "README.zh.md", *(ROOT / "docs").rglob("*.md")],
    key=lambda p: str(p),
)
#: Settings appended to a ``poleax train`` command run by the tests: a small budget.
SMALL_BUDGET = ["--total-steps", "2048", "--no-gifs", "--no-progress"]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.M | re.S)


def code_blocks(page: Path) -> list[tuple[str, str, int]]:
    """``(language, code, line)`` of each fenced block of a page."""
    text = page.read_text(encoding="utf-8")
    return [
        (m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(text)
    ]


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


MODULE = re.compile(r"\A# (\w+)\.py\n")


def page_modules(page: Path) -> dict[str, str]:
    """``{file name: code}`` of the page's module blocks (first line ``# NAME.py``)."""
    return {
        m.group(1) + ".py": code
        for lang, code, _ in code_blocks(page)
        if lang == "python" and (m := MODULE.match(code))
    }


def _write_modules(modules: dict[str, str], folder: Path) -> None:
    for name, code in modules.items():
        (folder / name).write_text(code, encoding="utf-8")


def _train_help() -> str:
    """What ``poleax train --help`` prints in this checkout."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        build_parser().parse_args(["train", "--help"])
    return out.getvalue()


#: Flags the docs use that a branch being merged adds; a command using one is skipped here
#: until ``poleax train --help`` names it.
PENDING_FLAGS = [flag for flag in ("--import",) if flag not in _train_help()]


def _marks(args: list[str]) -> list:
    pending = [flag for flag in PENDING_FLAGS if flag in args]
    if not pending:
        return []
    return [pytest.mark.skipif(True, reason=f"poleax train --help lacks {pending[0]} here")]


PYTHON_BLOCKS = [
    pytest.param(
        code,
        page_modules(page),
        id=f"{_name(page)}:{line}",
        marks=[pytest.mark.slow] if "train(" in code else [],
    )
    for page in PAGES
    for lang, code, line in code_blocks(page)
    if lang == "python" and not MODULE.match(code)
]


def poleax_commands(code: str) -> list[list[str]]:
    """The ``poleax ...`` commands of a bash block, as argument lists (continuations
    joined, comments dropped, ``a && b`` split, leading ``NAME=value`` settings dropped)."""
    commands = []
    for line in code.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        part: list[str] = []
        for word in [*words, "&&"]:
            if word in ("&&", "||", ";"):
                while part and re.fullmatch(r"[A-Za-z_]\w*=\S*", part[0]):
                    part = part[1:]
                if part and part[0] == "poleax":
                    commands.append(part[1:])
                part = []
            else:
                part.append(word)
    return commands


BASH_COMMANDS = [
    (f"{_name(page)}:{line}", args, page_modules(page))
    for page in PAGES
    for lang, code, line in code_blocks(page)
    if lang in ("bash", "sh", "console")
    for args in poleax_commands(code)
]


def _source_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    return env


@pytest.mark.parametrize("code,modules", PYTHON_BLOCKS)
def test_python_block_runs(code, modules, tmp_path):
    if "onnxruntime" in code and importlib.util.find_spec("onnxruntime") is None:
        pytest.skip("needs onnxruntime (pip install '.[export]')")
    _write_modules(modules, tmp_path)
    script = tmp_path / "block.py"
    script.write_text(code, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=_source_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_there_are_blocks_to_check():
    assert len(PYTHON_BLOCKS) >= 5
    assert len(BASH_COMMANDS) >= 30


@pytest.mark.parametrize(
    "where,args",
    [pytest.param(w, a, id=w, marks=_marks(a)) for w, a, _ in BASH_COMMANDS],
)
def test_every_poleax_command_in_the_docs_parses(where, args, capsys):
    parser = build_parser()
    try:
        parser.parse_args(args)
    except SystemExit as stop:  # --help and --version exit 0; a bad flag exits 2
        assert stop.code == 0, f"{where}: poleax {shlex.join(args)}: {capsys.readouterr().err}"


def _runnable_train_commands() -> list:
    seen, out = set(), []
    for _, args, modules in BASH_COMMANDS:
        if not args or args[0] != "train" or {"--config", "--resume", "--help"} & set(args):
            continue
        key = tuple(args)
        if key not in seen:
            seen.add(key)
            out.append(pytest.param(args, modules, id=shlex.join(args), marks=_marks(args)))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("args,modules", _runnable_train_commands())
def test_train_commands_in_the_docs_run_with_a_small_budget(args, modules, tmp_path):
    _write_modules(modules, tmp_path)  # ``python -m`` puts the folder first on the path
    command = [sys.executable, "-m", "poleax", *args, *SMALL_BUDGET, "--out", "run"]
    result = subprocess.run(
        command, cwd=tmp_path, env=_source_env(), capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "run" / "summary.json").exists()


def test_the_readme_keeps_the_two_set_up_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "```bash\npip install . && poleax train\n```" in readme
    assert '```bash\npip install ".[test]" && pytest\n```' in readme  # CI's test command


def _commands_and_flags(page: Path) -> tuple[set[str], set[str]]:
    text = page.read_text(encoding="utf-8")
    commands = set(
        re.findall(r"\bpoleax (train|evaluate|render|report|export|play|sweep|compare)\b", text)
    )
    flags = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))
    return commands, flags


TWINS = [
    (zh, zh.with_name(zh.name.replace(".zh.md", ".md")))
    for zh in [ROOT / "README.zh.md", *sorted((ROOT / "docs").rglob("*.zh.md"))]
]


@pytest.mark.parametrize("zh,en", TWINS, ids=[_name(zh) for zh, _ in TWINS])
def test_each_chinese_page_names_the_commands_and_flags_of_its_english_twin(zh, en):
    assert en.exists(), f"{_name(zh)} has no English twin"
    zh_commands, zh_flags = _commands_and_flags(zh)
    en_commands, en_flags = _commands_and_flags(en)
    assert zh_commands == en_commands, zh_commands ^ en_commands
    assert zh_flags == en_flags, zh_flags ^ en_flags


def test_the_docs_have_their_chinese_pages():
    names = {_name(zh) for zh, _ in TWINS}
    assert {"README.zh.md", "docs/quickstart.zh.md", "docs/tutorial.zh.md"} <= names


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs not installed")
def test_the_docs_site_builds_strictly_and_fetches_nothing(tmp_path):
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env={**_source_env(), "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    pages = list(site.rglob("*.html"))
    assert (site / "zh" / "quickstart.html").exists() and (site / "api.html").exists()
    fetch = re.compile(
        r"""<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//""", re.I
    )
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert not fetch.search(html), f"{page.relative_to(site)} fetches from the network"
