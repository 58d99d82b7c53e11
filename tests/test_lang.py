"""``--lang zh|en``: every line poleax prints has a Chinese twin in ``poleax.lang.CATALOG``.

The scan reads the source: every message an error, an interruption or a print can carry must
be a catalog entry (matched by its literal text, fields aside), so a new English line without
its translation fails here. The end-to-end tests run real commands with ``--lang zh`` (every
line Chinese, but for the explicit data lines) and ``--lang en`` (no Chinese at all).
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from poleax import lang
from poleax.cli import main
from poleax.lang import CATALOG, fields_of, tr, translate

SRC = Path(lang.__file__).parent
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")

#: Exceptions for programming errors, never a user's input: their messages stay English.
PROGRAMMING_ERRORS = {"AssertionError", "TypeError", "NotImplementedError", "KeyError"}
#: Functions whose returned strings are messages (a refusal, a verdict's part, a reason).
MESSAGE_FUNCTIONS = {"refusal", "stopped_line", "_no_checkpoint", "describe", "describe_solve"}
#: Calls whose argument at the index given is a message (or a part of one).
MESSAGE_ARGUMENTS = {"check_params": (1,), "check_fits": (1, 2), "_require": (1,)}
#: Files whose ``parts`` lists are joined into a message (elsewhere they are HTML or data).
MESSAGE_PARTS_FILES = {"sweep/worker.py"}


def skeleton(template: str) -> str:
    """``template``'s literal text, each field written ``{}``."""
    return "".join(
        literal.replace("{", "{{").replace("}", "}}") + ("{}" if name is not None else "")
        for literal, name, _, _ in string.Formatter().parse(template)
    )


def _source_template(node: ast.AST) -> str | None:
    """A string literal or an f-string as a template (``{}`` for each field)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.replace("{", "{{").replace("}", "}}")
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value.replace("{", "{{").replace("}", "}}") if isinstance(v, ast.Constant) else "{}"
            for v in node.values
        )
    return None


def _name(func: ast.AST) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _has_letters(template: str) -> bool:
    return any(ch.isalpha() for ch in template.replace("{}", ""))


def source_messages() -> list[tuple[str, str]]:
    """``(where, template)`` for every message in ``src/poleax`` a user can read."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        where = str(path.relative_to(SRC))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        candidates: list[ast.AST] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = _name(node.func)
                error = name.endswith(("Error", "Interrupted", "Unavailable")) or name == "bad"
                if error and name not in PROGRAMMING_ERRORS and node.args:
                    candidates.append(node.args[0])
                if name in MESSAGE_ARGUMENTS:
                    indices = MESSAGE_ARGUMENTS[name]
                    candidates += [node.args[i] for i in indices if i < len(node.args)]
                appended = name == "append" and _name(node.func.value) == "parts"
                if appended and where in MESSAGE_PARTS_FILES and node.args:
                    candidates.append(node.args[0])
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "message" for t in node.targets
            ):
                candidates.append(node.value)
            elif isinstance(node, ast.FunctionDef) and node.name in MESSAGE_FUNCTIONS:
                candidates += [
                    r.value for r in ast.walk(node) if isinstance(r, ast.Return) and r.value
                ]
        for node in candidates:
            for part in ast.walk(node):  # a conditional message: both of its branches
                template = _source_template(part)
                if template is not None and _has_letters(template) and " " in template:
                    found.append((f"{where}:{part.lineno}", template))
                    break
    return found


def test_every_message_in_the_source_has_a_chinese_twin():
    known = {skeleton(key) for key in CATALOG}
    messages = source_messages()
    assert len(messages) > 150  # the scan finds them at all
    missing = [f"{w}: {t!r}" for w, t in messages if t not in known]
    assert not missing, "messages without a catalog entry:\n" + "\n".join(missing)


def test_every_print_says_a_catalog_line_or_plain_data():
    """A ``print`` of English words goes through ``tr``/``translate`` (or prints a variable
    composed so); an f-string printed as it is holds no words of its own (a data line)."""
    allowed_calls = {"tr", "translate", "_error_line", "dumps", "format"}
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and _name(node.func) == "print" and node.args):
                continue
            arg = node.args[0]
            if isinstance(arg, ast.Call) and _name(arg.func) in allowed_calls:
                continue
            if isinstance(arg, ast.Name):
                continue
            template = _source_template(arg)
            if template is not None and not _has_letters(template):
                continue
            bad.append(f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(arg)}")
    assert not bad, "prints of words not in the catalog:\n" + "\n".join(bad)


def test_every_tr_template_is_a_catalog_key():
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) == "tr" and node.args:
                arg = node.args[0]
                if not (isinstance(arg, ast.Constant) and arg.value in CATALOG):
                    bad.append(f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(arg)}")
    assert not bad, "tr() of a template the catalog lacks:\n" + "\n".join(bad)


@pytest.mark.parametrize("english", list(CATALOG))
def test_catalog_entry_is_chinese_with_the_same_fields(english):
    chinese = CATALOG[english]
    if lang.literal_letters(english):  # "{stopped} {line}" is only an order of parts
        assert CJK.search(chinese), chinese
    assert not CJK.search(english), english
    assert fields_of(chinese) == fields_of(english)


def test_translate_refills_fields_and_leaves_unknown_lines():
    line = "--out runs/x is a folder; name a file like episode.gif"
    assert translate(line, "zh") == "--out runs/x 是一个文件夹；请给出文件名，例如 episode.gif"
    assert translate(line, "en") == line
    assert translate("something poleax never says", "zh") == "something poleax never says"
    # An argparse error around a message of poleax's: both translated.
    nested = "argument --total-steps: expected a whole number; got 'x'"
    assert translate(nested, "zh") == "参数 --total-steps：应为整数；得到 'x'"
    # Clauses joined by "; " that match one entry each.
    clauses = "interrupted by SIGINT; trial 3 marked failed"
    assert translate(clauses, "zh") == "被 SIGINT 中断；试验 3 已标记为失败"
    assert tr("wrote {path}", lang="zh", path="a.gif") == "已写入 a.gif"


def test_the_language_comes_from_the_flag_then_the_environment(monkeypatch):
    monkeypatch.delenv(lang.ENV_VAR, raising=False)
    assert lang.language() == "en"
    monkeypatch.setenv(lang.ENV_VAR, "zh")
    assert lang.language() == "zh"
    with lang.speaking("en"):
        assert lang.language() == "en"
    monkeypatch.setenv(lang.ENV_VAR, "fr")  # not a language poleax speaks: English
    assert lang.language() == "en"


def test_the_comparison_table_heads_its_columns_in_the_language():
    import io

    from poleax.compare.outputs import print_table

    envs = {"iqm": 1.0, "ci_low": 0.5, "ci_high": 1.0, "success_rate": 1.0}
    summary = {
        "algorithms": {"ppo": {"envs": {"CartPole-v0": {**envs, "median_steps_to_solve": 9}}}}
    }
    for language in ("zh", "en"):
        out = io.StringIO()
        with lang.speaking(language):
            print_table(summary, out)
        head, row = out.getvalue().splitlines()
        assert bool(CJK.search(head)) == (language == "zh"), head
        assert row.split()[:2] == ["ppo", "CartPole-v0"]  # a data line


# -- end to end ------------------------------------------------------------------------------

#: Lines with no words of poleax's own: a run's file list (a name and a path).
DATA_LINE = re.compile(r"^  \w+ +\S+$")


def _lines(capsys) -> list[str]:
    out = capsys.readouterr()
    return [line for line in (out.out + out.err).splitlines() if line.strip()]


def _status(words: list[str]) -> int:
    """``poleax WORDS``'s exit status (argparse's errors leave by ``SystemExit``)."""
    try:
        return main(words)
    except SystemExit as stop:
        return int(stop.code)


def _check(lines: list[str], language: str) -> None:
    assert lines
    for line in lines:
        if language == "en":
            assert not CJK.search(line), line
        elif not DATA_LINE.match(line):
            assert CJK.search(line), line


def _bad_inputs(tmp_path: Path, run: Path) -> list[list[str]]:
    """One bad input per command (each fails before any training)."""
    return [
        ["train", "--env", "NoSuchEnv-v0"],
        ["train", "--total-steps", "many"],
        ["train", "--no-such-flag"],
        ["evaluate", str(tmp_path / "missing")],
        ["evaluate", str(run), "--episodes", "0"],
        ["render", str(run), "--out", str(tmp_path / "a.png")],
        ["report", str(tmp_path)],
        ["export", str(run)],
        ["export", str(run), "--format", "json", "--out", str(tmp_path)],
        ["play", str(run), "--episodes", "0"],
        ["compare", "--seeds", "1"],
        ["sweep", "--algo", "mc-ac"],
    ]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_errors_of_every_command_speak_the_language(tmp_path, capsys, language):
    for words in _bad_inputs(tmp_path, tmp_path / "run"):
        assert _status([*words, "--lang", language]) == 2, words
        lines = _lines(capsys)
        assert len(lines) == 1, lines
        _check(lines, language)


def test_environment_variable_sets_the_language(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(lang.ENV_VAR, "zh")
    missing = tmp_path / "missing"
    assert main(["--lang", "en", "evaluate", str(missing), "--lang", "zh"]) == 2
    assert _lines(capsys) == [f"poleax evaluate：错误：找不到运行文件夹：{missing}"]
    assert main(["evaluate", str(missing)]) == 2
    assert _lines(capsys) == [f"poleax evaluate：错误：找不到运行文件夹：{missing}"]
    for words in (
        ["evaluate", str(missing), "--lang", "en"],
        ["--lang=en", "evaluate", str(missing)],
    ):
        assert main(words) == 2
        assert _lines(capsys) == [f"poleax evaluate: error: run folder not found: {missing}"]


@pytest.mark.slow
def test_commands_speak_the_language_end_to_end(tmp_path, capsys):
    """A tiny run, then evaluate, render, export and report on it, in Chinese then English."""
    for language in ("zh", "en"):
        run = tmp_path / f"run-{language}"
        train = ["train", "--env", "CartPole-v0", "--total-steps", "2048", "--no-gifs"]
        assert main([*train, "--no-progress", "--out", str(run), "--lang", language]) == 0
        lines = _lines(capsys)
        assert any("CartPole-v0" in line for line in lines[:1])  # the verdict comes first
        _check(lines, language)
        for words in (
            ["evaluate", str(run), "--episodes", "5"],
            ["render", str(run), "--out", str(tmp_path / f"{language}.gif")],
            ["export", str(run), "--format", "json"],
            ["report", str(run)],
            *_bad_inputs(tmp_path, run),
        ):
            status = _status([*words, "--lang", language])
            assert status in (0, 2), words
            _check(_lines(capsys), language)
