"""The languages poleax speaks: English (its source's) and Chinese (``--lang zh``).

One catalog, ``CATALOG``, maps each English template poleax prints to its Chinese template
(``str.format`` fields; paths, numbers, env ids, flag and algorithm names stay as they are).
Two ways in:

* ``tr(template, **fields)``: a line poleax composes itself (a progress line, a verdict, a
  "wrote ..." line), translated where it is written.
* ``translate(message)``: a finished English message, such as an error raised deep in the
  validation code, translated where the CLI prints it: the catalog's English templates are
  compiled to patterns, and a message that matches one is refilled into its Chinese twin
  (the fields it captured are translated in turn). A message that matches none stays as it is.

The language is ``--lang`` where a command gives it, else ``$POLEAX_LANG``, else English.
argparse's own usage and ``--help`` text stay English.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

LANGS = ("en", "zh")
ENV_VAR = "POLEAX_LANG"

_chosen: list[str] = []  # the language a command chose (innermost last)


def language() -> str:
    """The language in force: the command's ``--lang``, else ``$POLEAX_LANG``, else en."""
    if _chosen:
        return _chosen[-1]
    env = os.environ.get(ENV_VAR, "").strip().lower()
    return env if env in LANGS else "en"


@contextmanager
def speaking(lang: str | None) -> Iterator[None]:
    """Within this block poleax prints in ``lang`` (None: as before)."""
    if lang is None:
        yield
        return
    _chosen.append(lang)
    try:
        yield
    finally:
        _chosen.pop()


def tr(template: str, /, *, lang: str | None = None, **fields) -> str:
    """``template`` (a catalog key) in ``lang`` (the one in force by default), filled."""
    if (lang or language()) == "zh":
        template = CATALOG.get(template, template)
    return template.format(**fields)


def translate(message: str, lang: str | None = None) -> str:
    """A finished English ``message`` in ``lang``: refilled into the Chinese template of the
    catalog entry it matches; clauses joined by "; " are translated one by one where the
    whole matches none; unchanged where nothing matches."""
    if (lang or language()) != "zh" or not message:
        return message
    return _translate(message, 0)


def _translate(text: str, depth: int) -> str:
    if text in CATALOG:
        return CATALOG[text]
    if depth > 4:
        return text
    for pattern, names, zh in _patterns():
        match = pattern.fullmatch(text)
        if match is None:
            continue
        captured = [match.group(f"g{i}") for i in range(len(names))]
        if any("; " in value for value in captured):
            # "interrupted by {signal}" swallows "interrupted by SIGINT; 2 of 3 ...":
            # clauses that each match an entry of their own read better.
            clauses = _clauses(text, depth)
            if clauses is not None:
                return clauses
        values = {name: _field(value, depth) for name, value in zip(names, captured, strict=True)}
        return "".join(
            literal + (values[name] if name is not None else "") for literal, name in _parts(zh)
        )
    return _clauses(text, depth, every=False) or text


def _clauses(text: str, depth: int, every: bool = True) -> str | None:
    """``text``'s clauses (joined by "; ") translated one by one: None unless every one
    (``every``) or some one translates."""
    if "; " not in text:
        return None
    clauses = text.split("; ")
    done = [_translate(clause, depth + 1) for clause in clauses]
    changed = [a != b for a, b in zip(done, clauses, strict=True)]
    return "；".join(done) if (all(changed) if every else any(changed)) else None


def _field(value: str, depth: int) -> str:
    """A captured field: translated when it is a catalog key or a sentence of its own."""
    if value in CATALOG:
        return CATALOG[value]
    return _translate(value, depth + 1) if " " in value else value


def _parts(template: str) -> list[tuple[str, str | None]]:
    return [(literal, name) for literal, name, _, _ in string.Formatter().parse(template)]


def fields_of(template: str) -> set[str]:
    """The field names of ``template``."""
    return {name for _, name in _parts(template) if name is not None}


def literal_letters(template: str) -> int:
    """How many letters ``template`` holds outside its fields."""
    return sum(ch.isalpha() for literal, _ in _parts(template) for ch in literal)


#: A template matches finished messages only with this many letters of its own: one like
#: "{prog}: {message}" would match any line with a colon.
MIN_PATTERN_LETTERS = 4


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[re.Pattern, list[str], str]]:
    compiled = []
    for english, zh in CATALOG.items():
        if "{" not in english or literal_letters(english) < MIN_PATTERN_LETTERS:
            continue
        regex, names, groups = [], [], {}
        for literal, name in _parts(english):
            regex.append(re.escape(literal))
            if name is None:
                continue
            if name in groups:
                regex.append(f"(?P=g{groups[name]})")
            else:
                groups[name] = len(names)
                regex.append(f"(?P<g{len(names)}>.*?)")
                names.append(name)
        pattern = re.compile("".join(regex), re.DOTALL)
        compiled.append((literal_letters(english), pattern, names, zh))
    compiled.sort(key=lambda entry: -entry[0])  # the most specific template first
    return [(pattern, names, zh) for _, pattern, names, zh in compiled]


#: English template -> Chinese template. Keys are what the source writes, fields renamed
#: freely (``tests/test_lang.py`` matches the source's f-strings by their literal text).
CATALOG: dict[str, str] = {
    # -- the command line: frames, argparse's errors, the OS's words ----------------------
    "{prog}: error: {message}": "{prog}：错误：{message}",
    "{prog}: interrupted": "{prog}：已中断",
    "{prog}: {message}": "{prog}：{message}",
    "argument {argument}: invalid choice: {value} (choose from {choices})": (
        "参数 {argument}：无效的选项：{value}（可选：{choices}）"
    ),
    "argument {argument}: invalid {kind} value: {value}": (
        "参数 {argument}：无效的 {kind} 值：{value}"
    ),
    "argument {argument}: expected one argument": "参数 {argument}：需要一个值",
    "argument {argument}: ignored explicit argument {value}": (
        "参数 {argument}：不接受显式的值 {value}"
    ),
    "argument {argument}: {message}": "参数 {argument}：{message}",
    "the following arguments are required: {arguments}": "缺少必需的参数：{arguments}",
    "unrecognized arguments: {arguments}": "无法识别的参数：{arguments}",
    "ambiguous option: {option} could match {matches}": "有歧义的选项：{option} 可匹配 {matches}",
    "No such file or directory": "没有那个文件或目录",
    "Permission denied": "权限不足",
    "No space left on device": "设备上没有剩余空间",
    "File name too long": "文件名过长",
    "Is a directory": "是一个文件夹",
    "Not a directory": "不是文件夹",
    "Read-only file system": "只读文件系统",
    "True": "是",
    "False": "否",
    # -- cli.py: argument types ------------------------------------------------------------
    "expected widths like 64,64; got {text}": "应为形如 64,64 的宽度；得到 {text}",
    "expected at least one width, like 64,64": "至少需要一个宽度，例如 64,64",
    "expected a path; got an empty one": "应为一个路径；得到的是空路径",
    "expected {name}; got {text}": "应为{name}；得到 {text}",
    "a whole number": "整数",
    "a number": "数字",
    "expected a number; got nan": "应为数字；得到 nan",
    # -- cli.py: train ---------------------------------------------------------------------
    "--import {modules} failed: {what}": "--import {modules} 失败：{what}",
    "--resume takes the run's own config; drop the other settings": (
        "--resume 沿用该运行自己的配置；请去掉其他设置"
    ),
    # -- cli.py: evaluate ------------------------------------------------------------------
    "--episodes must be >= 1; got {episodes}": "--episodes 必须 >= 1；得到 {episodes}",
    "--seed must be >= 0; got {seed}": "--seed 必须 >= 0；得到 {seed}",
    "{env}, {episodes} episodes from reset seed {seed}:": (
        "{env}，从重置种子 {seed} 起共 {episodes} 局："
    ),
    "  {mode:<8} mean {mean:7.2f} ± {std:6.2f}  solved: {solved}": (
        "  {mode:<4} 平均 {mean:7.2f} ± {std:6.2f}  达标：{solved}"
    ),
    "greedy": "贪心",
    "sampled": "采样",
    "  {verdict} (threshold {threshold:g})": "  {verdict}（阈值 {threshold:g}）",
    "solved, by {confidence:g} standard errors": "已解决，超出 {confidence:g} 个标准误",
    "passed, not confidently": "通过，但把握不足",
    "not solved": "未解决",
    # -- cli.py: render, report, export, play ----------------------------------------------
    "--out {out} is a folder; name a file like episode.gif": (
        "--out {out} 是一个文件夹；请给出文件名，例如 episode.gif"
    ),
    "--out must end in .gif or .mp4; got {name}": "--out 必须以 .gif 或 .mp4 结尾；得到 {name}",
    "cannot write to {parent}": "无法写入 {parent}",
    "--seed must be a whole number in [0, 2^31); got {seed}": (
        "--seed 必须是 [0, 2^31) 内的整数；得到 {seed}"
    ),
    "wrote {path} ({length} steps)": "已写入 {path}（{length} 步）",
    "wrote {path}": "已写入 {path}",
    'ONNX export needs onnx: pip install "poleax[export]"': (
        '导出 ONNX 需要 onnx：pip install "poleax[export]"'
    ),
    "--out {out} is a folder; name a file like policy.{format}": (
        "--out {out} 是一个文件夹；请给出文件名，例如 policy.{format}"
    ),
    "--out {out} would replace a file of run {run}; name a new file, or write it elsewhere": (
        "--out {out} 会覆盖运行 {run} 的文件；请换一个新文件名，或写到别处"
    ),
    "--episodes must be in [1, {most}]; got {episodes}": (
        "--episodes 必须在 [1, {most}] 内；得到 {episodes}"
    ),
    "{env_id} names no gymnasium env to show in a window; write a video instead: "
    "poleax render {run} --out play.gif": (
        "{env_id} 没有可在窗口中显示的 gymnasium 环境；请改为写视频："
        "poleax render {run} --out play.gif"
    ),
    "no display found (DISPLAY is not set); write a video instead: "
    "poleax render {run} --out play.gif": (
        "找不到显示器（未设置 DISPLAY）；请改为写视频：poleax render {run} --out play.gif"
    ),
    "episode {episode}: return {total:.0f}": "第 {episode} 局：回报 {total:.0f}",
    # -- cli.py: sweep ---------------------------------------------------------------------
    "sweep needs optuna: pip install 'poleax[sweep]'": (
        "调参需要 optuna：pip install 'poleax[sweep]'"
    ),
    "study {study}: {finished} trials finished": "研究 {study}：已完成 {finished} 个试验",
    "no trial solved {env} within {steps:,} env steps per seed: no best config "
    "(try a larger --total-steps)": (
        "没有试验在每个种子 {steps:,} 个环境步内解决 {env}：没有最佳配置"
        "（试试更大的 --total-steps）"
    ),
    "best: trial {trial}, {steps:.0f} env steps to solve (mean over seeds)": (
        "最佳：试验 {trial}，{steps:.0f} 个环境步解决（各种子的平均）"
    ),
    "its score: {seconds:.2f} core-seconds per solved seed": (
        "它的得分：每个解决的种子 {seconds:.2f} 核秒"
    ),
    "best config: {path} (poleax train --config {path})": (
        "最佳配置：{path}（poleax train --config {path}）"
    ),
    # -- cli.py: compare -------------------------------------------------------------------
    "--resume continues a comparison in its own folder; drop --out": (
        "--resume 在比较自己的文件夹里继续；请去掉 --out"
    ),
    "--resume {resume} continues the recorded comparison; these settings differ from it: "
    "{differ} (drop them, or start a new --out)": (
        "--resume {resume} 继续已记录的比较；以下设置与之不同：{differ}"
        "（请去掉它们，或另起一个 --out）"
    ),
    "wrote {out}/ (results.csv, summary.json, report.html and four plots)": (
        "已写入 {out}/（results.csv、summary.json、report.html 和四张图）"
    ),
    "--config takes ALGO=FILE, like ppo=config.json; got {item}": (
        "--config 的格式是 ALGO=FILE，例如 ppo=config.json；得到 {item}"
    ),
    # -- compare ---------------------------------------------------------------------------
    "algorithm": "算法",
    "env": "环境",
    "IQM score": "IQM 分数",
    "95% interval": "95% 区间",
    "solved": "解决率",
    "median steps": "步数中位数",
    "compare": "比较",
    "{algo} on {env}": "{algo} 在 {env} 上",
    "interrupted; {done}/{total} algorithm-env pairs finished and kept; "
    "continue with: poleax compare --resume {out}": (
        "已中断；{done}/{total} 个算法-环境组合已完成并保留；"
        "继续请运行：poleax compare --resume {out}"
    ),
    "cannot read {path}: {error}; delete it to train that pair again": (
        "无法读取 {path}：{error}；删除它即可重新训练该组合"
    ),
    "--env needs at least one environment id": "--env 至少需要一个环境 id",
    "--algos needs at least one algorithm, like ppo,a2c": "--algos 至少需要一个算法，例如 ppo,a2c",
    "--config for {unused}, which --algos does not name": (
        "--config 给了 {unused}，但 --algos 中没有它"
    ),
    "--budget must be a whole number of env steps in [1, 2^31); got {budget}": (
        "--budget 必须是 [1, 2^31) 内的整数个环境步；得到 {budget}"
    ),
    "--seeds must be at least {min_seeds} for intervals over seeds; got {seeds}": (
        "--seeds 至少为 {min_seeds} 才能算出跨种子的区间；得到 {seeds}"
    ),
    "--eval-episodes must be at least 2; got {eval_episodes}": (
        "--eval-episodes 至少为 2；得到 {eval_episodes}"
    ),
    "{out} holds no comparison (no compare.json) to resume": (
        "{out} 中没有可继续的比较（没有 compare.json）"
    ),
    "--config {algo}={path} is a {other} config": "--config {algo}={path} 是 {other} 的配置",
    "unknown algorithm {algo}; known algorithms: {algos}": "未知算法 {algo}；已知算法：{algos}",
    "each name once, please; got {names}": "每个名字只能出现一次；得到 {names}",
    "--{name} must be a whole number; got {value}": "--{name} 必须是整数；得到 {value}",
    "cannot read {path}: {error}": "无法读取 {path}：{error}",
    "--budget {budget} is below one update of {algo} on {env} ({num_envs} envs x "
    "{num_steps} steps = {update} env steps): no seed would be evaluated; "
    "give at least {least}": (
        "--budget {budget} 不到 {algo} 在 {env} 上的一次更新（{num_envs} 个环境 x "
        "{num_steps} 步 = {update} 个环境步）：没有种子会被评估；请至少给 {least}"
    ),
    "{flag} {out} is a file, not a folder": "{flag} {out} 是文件，不是文件夹",
    "{path} is not this comparison's ({seeds} seeds from {first}, grid to {grid} env steps); "
    "delete it to train that pair again": (
        "{path} 不属于本次比较（{seeds} 个种子，从 {first} 起，网格到 {grid} 个环境步）；"
        "删除它即可重新训练该组合"
    ),
    "cannot write to {out}: {error}": "无法写入 {out}：{error}",
    "{out} already holds a comparison; use --resume {resume} or another --out": (
        "{out} 中已有一次比较；请用 --resume {resume}，或换一个 --out"
    ),
    # -- train: progress, verdict, files ---------------------------------------------------
    "compiling": "编译中",
    "{phase}… {seconds:.0f} s  {elapsed}": "{phase}… {seconds:.0f} 秒  {elapsed}",
    "{rate}/s": "{rate}/秒",
    "steps": "步",
    "env steps": "环境步",
    "trials": "个试验",
    "eval {greedy:.0f}/{sampled:.0f}": "评估 {greedy:.0f}/{sampled:.0f}",
    "return {value:.1f}": "回报 {value:.1f}",
    "solved {done}/{total}": "已解决 {done}/{total}",
    "stopped {done}/{total}": "已停止 {done}/{total}",
    "{solved}/{seeds} seed(s) solved {env}: {criterion} (greedy {greedy:.1f}, "
    "sampled {sampled:.1f}).": (
        "{solved}/{seeds} 个种子解决了 {env}：{criterion}（贪心 {greedy:.1f}，"
        "采样 {sampled:.1f}）。"
    ),
    "{solved}/{seeds} seed(s) solved {env}: {criterion} (greedy {greedy:.1f}, "
    "sampled {sampled:.1f}, medians).": (
        "{solved}/{seeds} 个种子解决了 {env}：{criterion}（中位数：贪心 {greedy:.1f}，"
        "采样 {sampled:.1f}）。"
    ),
    " {unsure} more passed, not confidently (within {confidence:g} standard errors of "
    "the threshold).": ("另有 {unsure} 个通过，但把握不足（距阈值不到 {confidence:g} 个标准误）。"),
    "{stopped} {line}": "{stopped}{line}",
    "mean return over {episodes} episodes of {judge} {name} >= {threshold}, greedy and "
    "sampled, by {confidence} standard errors": (
        "{judge} {name} 上 {episodes} 局的平均回报 >= {threshold}（贪心与采样都须达到），"
        "超出 {confidence} 个标准误"
    ),
    "gymnasium's": "gymnasium 的",
    "poleax's own": "poleax 自己的",
    "{criterion}; judged by poleax's own evaluation, as no gymnasium env mirrors {id}": (
        "{criterion}；由 poleax 自己的评估判定，因为没有与 {id} 对应的 gymnasium 环境"
    ),
    "The running reward passed {threshold} and stopped training.": (
        "滑动奖励超过了 {threshold}，训练停止。"
    ),
    "The running reward never passed {threshold}; training ran to its budget.": (
        "滑动奖励从未超过 {threshold}；训练跑完了全部预算。"
    ),
    "The running reward passed {threshold} and stopped {stopped}/{seeds} seeds.": (
        "滑动奖励超过了 {threshold}，停止了 {stopped}/{seeds} 个种子。"
    ),
    "run folder: {path}": "运行文件夹：{path}",
    "interrupted; checkpoint saved, resume with: poleax train --resume {run_dir}": (
        "已中断；检查点已保存，继续请运行：poleax train --resume {run_dir}"
    ),
    "interrupted while drawing the run's pictures; its policy, checkpoint and summary are "
    "saved; redraw the report with: poleax report {run_dir}": (
        "绘制运行的图片时被中断；策略、检查点和摘要已保存；"
        "重新生成报告请运行：poleax report {run_dir}"
    ),
    "non-finite parameters after update {number}; training stopped, the last good "
    "checkpoint is kept": (
        "第 {number} 次更新后参数出现非有限值；训练停止，保留最后一个正常的检查点"
    ),
    "non-finite {name} at update {number} (seed index {seed}); training stopped, the last "
    "good checkpoint is kept": (
        "第 {number} 次更新时 {name} 出现非有限值（种子序号 {seed}）；训练停止，"
        "保留最后一个正常的检查点"
    ),
    "a training chunk did not finish within {timeout} s": "一个训练块在 {timeout} 秒内没有完成",
    # -- config.py -------------------------------------------------------------------------
    "unknown config keys: {unknown}": "未知的配置键：{unknown}",
    "unknown preset {preset}; known presets: {presets}": "未知预设 {preset}；已知预设：{presets}",
    "unknown preset {preset}; known presets: {presets} (or none)": (
        "未知预设 {preset}；已知预设：{presets}（或不用预设）"
    ),
    "unknown settings: {unknown}": "未知设置：{unknown}",
    "{name} must be true or false; got {value}": "{name} 必须是 true 或 false；得到 {value}",
    "{name} must be True or False; got {value}": "{name} 必须是 True 或 False；得到 {value}",
    "{name} must be a whole number; got {value}": "{name} 必须是整数；得到 {value}",
    "{name} must be a number; got {value}": "{name} 必须是数字；得到 {value}",
    "{name} must be a finite number; got {value}": "{name} 必须是有限的数字；得到 {value}",
    "{name} must be a name (a string); got {value}": "{name} 必须是名称（字符串）；得到 {value}",
    "hidden must be a list of whole numbers like [64, 64]; got {value}": (
        "hidden 必须是整数列表，例如 [64, 64]；得到 {value}"
    ),
    "env (--env): {error}": "env（--env）：{error}",
    "{name} must be one of {choices}; got {value}": "{name} 必须是 {choices} 之一；得到 {value}",
    "{name} must be a whole number in [1, {most}]; got {value}": (
        "{name} 必须是 [1, {most}] 内的整数；得到 {value}"
    ),
    "{name} must be a whole number in [0, {most}]; got {value}": (
        "{name} 必须是 [0, {most}] 内的整数；得到 {value}"
    ),
    "seed must be a whole number in [0, 2^31 - seeds] (seed i of --seeds K is seed + i); "
    "got {seed}": (
        "seed 必须是 [0, 2^31 - seeds] 内的整数（--seeds K 的第 i 个种子是 seed + i）；得到 {seed}"
    ),
    "hidden must be 1 to {layers} widths in [1, {width}], like 64,64; got {hidden}": (
        "hidden 必须是 1 到 {layers} 个 [1, {width}] 内的宽度，例如 64,64；得到 {hidden}"
    ),
    "vmap_width ({width}) is the vmapped executor's batch of seeds; rows-per-core trains one "
    "seed per call (drop --vmap-width, or use --executor vmapped)": (
        "vmap_width（{width}）是 vmapped 执行器每批的种子数；rows-per-core 每次调用只训练"
        "一个种子（请去掉 --vmap-width，或使用 --executor vmapped）"
    ),
    "--preset tutorial is the tutorial's program on {tutorial_env}; for {env} drop the "
    "preset (try --algo mc-ac for the tutorial's algorithm)": (
        "--preset tutorial 是教程在 {tutorial_env} 上的程序；要训练 {env} 请去掉该预设"
        "（教程的算法可用 --algo mc-ac）"
    ),
    "mc-ac is the tutorial's softmax actor, for discrete actions; {env} has continuous ones "
    "(use ppo, a2c or td-ac)": (
        "mc-ac 是教程的 softmax 策略网络，只用于离散动作；{env} 的动作是连续的"
        "（请用 ppo、a2c 或 td-ac）"
    ),
    "normalize_obs is for ppo, a2c and td-ac; mc-ac keeps raw inputs": (
        "normalize_obs 只用于 ppo、a2c 和 td-ac；mc-ac 使用原始输入"
    ),
    "stop_rule running-reward is the tutorial's rule and needs --algo mc-ac; {algo} stops "
    "by the evaluation (--stop-rule eval)": (
        "stop_rule running-reward 是教程的规则，需要 --algo mc-ac；{algo} 按评估停止"
        "（--stop-rule eval）"
    ),
    "minibatches ({minibatches}) must divide num_envs * num_steps ({batch})": (
        "minibatches（{minibatches}）必须整除 num_envs * num_steps（{batch}）"
    ),
    "normalize_advantages needs minibatches of at least 2 samples": (
        "normalize_advantages 需要每个小批量至少 2 个样本"
    ),
    "num_envs x num_steps is {batch} env steps per update; at most {most} "
    "(use fewer --num-envs or --num-steps)": (
        "num_envs x num_steps 为每次更新 {batch} 个环境步；最多 {most}"
        "（请减少 --num-envs 或 --num-steps）"
    ),
    "total_steps {total_steps} in updates of {batch} steps, each {epochs} epochs x "
    "{minibatches} minibatches, is more than {most} optimizer steps "
    "(use fewer epochs or larger updates)": (
        "total_steps {total_steps} 按每次更新 {batch} 步、每次 {epochs} 轮 x {minibatches} "
        "个小批量计算，超过了 {most} 次优化步（请减少 epochs 或增大每次更新）"
    ),
    "training {seeds} seed(s) of {num_envs} envs x {num_steps} steps, hidden {hidden}": (
        "训练 {seeds} 个种子、每个 {num_envs} 个环境 x {num_steps} 步、隐藏层 {hidden}"
    ),
    "{algo} is for continuous actions; {env} has discrete ones (use ppo, a2c, td-ac or mc-ac)": (
        "{algo} 只用于连续动作；{env} 的动作是离散的（请用 ppo、a2c、td-ac 或 mc-ac）"
    ),
    "normalize_obs is for ppo, a2c and td-ac; {algo} keeps raw inputs": (
        "normalize_obs 只用于 ppo、a2c 和 td-ac；{algo} 使用原始输入"
    ),
    "shared_trunk is not for {algo}: its critics are Q networks": (
        "shared_trunk 不适用于 {algo}：它的价值网络是 Q 网络"
    ),
    "learning_starts must be a whole number of env steps, 0 or more; got {starts}": (
        "learning_starts 必须是 0 或更多的整数个环境步；得到 {starts}"
    ),
    "{name} must be in {bracket}{low}, {high}]; got {value}": (
        "{name} 必须在 {bracket}{low}, {high}] 内；得到 {value}"
    ),
    "config {path} is {what}": "配置 {path} 是{what}",
    "a folder": "一个文件夹",
    "not a regular file": "不是普通文件",
    "config {path} is larger than {most} bytes": "配置 {path} 大于 {most} 字节",
    "config file not found: {path}": "找不到配置文件：{path}",
    "cannot read config {path}: {error}": "无法读取配置 {path}：{error}",
    "config {path} is not a JSON object": "配置 {path} 不是 JSON 对象",
    "config {path} is not valid: {error}": "配置 {path} 无效：{error}",
    "{algo}'s replay buffers need {need} GB ({seeds} seeds x {capacity} transitions x "
    "{size} B) and this machine has {available} GB available: lower --buffer-size or --seeds": (
        "{algo} 的回放缓冲区需要 {need} GB（{seeds} 个种子 x {capacity} 条转移 x {size} B），"
        "而本机只有 {available} GB 可用：请降低 --buffer-size 或 --seeds"
    ),
    "{what} would need about {needed} of memory; this machine has {have} available "
    "({advice})": "{what}约需 {needed} 内存；本机只有 {have} 可用（{advice}）",
    "{episodes} evaluation episodes per mode": "每种模式 {episodes} 局评估",
    "play fewer episodes": "请少玩几局",
    "use fewer --seeds, --num-envs, --num-steps, a smaller --hidden or --vmap-width": (
        "请减少 --seeds、--num-envs、--num-steps，或减小 --hidden 或 --vmap-width"
    ),
    # -- envs, policies, evaluation --------------------------------------------------------
    "unknown env {env_id}; known envs: {known}": "未知环境 {env_id}；已知环境：{known}",
    "cannot import {name} for its tasks: {error}": "无法导入 {name} 以获取其任务：{error}",
    "{id} names no gymnasium env": "{id} 没有对应的 gymnasium 环境",
    "the gymnasium env has no state yet: reset it first": "该 gymnasium 环境还没有状态：请先 reset",
    "expected a vector of state variables, got shape {shape}": (
        "应为状态变量的向量，得到的形状是 {shape}"
    ),
    "unknown actor head {head}": "未知的策略头 {head}",
    "{env_id} has no gymnasium twin: poleax's own evaluation judges it": (
        "{env_id} 没有 gymnasium 对应环境：由 poleax 自己的评估判定"
    ),
    "episodes must be a whole number; got {episodes}": "episodes 必须是整数；得到 {episodes}",
    "episodes must be in [1, {most}]; got {episodes}": (
        "episodes 必须在 [1, {most}] 内；得到 {episodes}"
    ),
    "seed must be a whole number in [0, 2^31); got {seed}": (
        "seed 必须是 [0, 2^31) 内的整数；得到 {seed}"
    ),
    "seed must be in [0, 2^32); got {seed}": "seed 必须在 [0, 2^32) 内；得到 {seed}",
    "observation is not finite (NaN or infinite): {obs}": "观测值不是有限值（NaN 或无穷）：{obs}",
    "{bad} of {rows} observations are not finite (NaN or infinite); the first, at index "
    "{index}: {obs}": (
        "{rows} 个观测中有 {bad} 个不是有限值（NaN 或无穷）；第一个在序号 {index}：{obs}"
    ),
    "act_together needs policies of one network and one env": (
        "act_together 需要同一网络、同一环境的策略"
    ),
    "obs must be [policies, batch, obs_size]; got {shape}": (
        "obs 的形状必须是 [policies, batch, obs_size]；得到 {shape}"
    ),
    "{env_id}'s spec names no map axes": "{env_id} 的规格没有给出图的坐标轴",
    "vmapped calls need programs of a fixed width, and single ones": (
        "vmapped 调用需要固定宽度的程序，以及单个的程序"
    ),
    "live.js must not contain '</script'": "live.js 不能包含 '</script'",
    "scores must be [runs, tasks, ...]; got shape {shape}": (
        "scores 的形状必须是 [runs, tasks, ...]；得到 {shape}"
    ),
    "scores need at least one run and one task; got shape {shape}": (
        "scores 至少需要一次运行和一个任务；得到的形状是 {shape}"
    ),
    "x and y need the same tasks; got {x} and {y}": "x 和 y 需要相同的任务；得到 {x} 和 {y}",
    "the solved threshold equals the random return: no score scale": (
        "解决阈值等于随机策略的回报：无法换算分数"
    ),
    # -- render, export ----------------------------------------------------------------------
    "cannot write MP4: no encoder (pip install imageio-ffmpeg); or write a .gif": (
        "无法写 MP4：没有编码器（pip install imageio-ffmpeg）；或者写 .gif"
    ),
    "cannot write MP4 ({reason}); install imageio-ffmpeg or write a .gif": (
        "无法写 MP4（{reason}）；请安装 imageio-ffmpeg 或写 .gif"
    ),
    "unsupported video type {suffix}; use .gif or .mp4": (
        "不支持的视频类型 {suffix}；请用 .gif 或 .mp4"
    ),
    "--format must be one of {formats}; got {fmt}": "--format 必须是 {formats} 之一；得到 {fmt}",
    "not a poleax policy export (format {format})": "不是 poleax 导出的策略（format {format}）",
    "ONNX export needs onnx: {hint}": "导出 ONNX 需要 onnx：{hint}",
    # -- run folders ------------------------------------------------------------------------
    "{where} holds {found}, not {kind}; choose another folder": (
        "{where} 中是{found}，不是{kind}；请换一个文件夹"
    ),
    "a run": "一次运行",
    "a comparison": "一次比较",
    "a sweep": "一次调参",
    "a folder of an unknown kind (its marker is unreadable)": (
        "一个未知类型的文件夹（其标记文件无法读取）"
    ),
    "--out must name a folder; got an empty path": "--out 必须是一个文件夹；得到的是空路径",
    "{flag} {path} is a file, not a folder": "{flag} {path} 是文件，不是文件夹",
    "cannot write to --out {path}: {error}": "无法写入 --out {path}：{error}",
    "--out {path} already holds a run; use --resume {resume} or another --out": (
        "--out {path} 中已有一次运行；请用 --resume {resume}，或换一个 --out"
    ),
    "--out has a name longer than {most} bytes: {part}…": (
        "--out 中有长于 {most} 字节的名字：{part}…"
    ),
    "--out is too long ({length} characters): {what} writes files up to {inner} characters "
    "deeper, and paths are limited to {most}": (
        "--out 太长（{length} 个字符）：{what}会写入比它深至多 {inner} 个字符的文件，"
        "而路径最长为 {most}"
    ),
    "run folder {run_dir} is in use by another poleax process (pid {pid}); wait for it or "
    "choose another --out": (
        "运行文件夹 {run_dir} 正被另一个 poleax 进程使用（pid {pid}）；请等它结束，或换一个 --out"
    ),
    "run {run_dir} is not complete (no summary.json); finish it first with: "
    "poleax train --resume {resume}": (
        "运行 {run_dir} 尚未完成（没有 summary.json）；请先完成它：poleax train --resume {resume}"
    ),
    "{run_dir}/config.json differs from the configuration the run's checkpoint recorded in "
    "{differ}; a run resumes only with its own settings (put config.json back, or start a "
    "new run with --config)": (
        "{run_dir}/config.json 与该运行检查点记录的配置在 {differ} 上不同；运行只能按自己的"
        "设置继续（请恢复 config.json，或用 --config 开始新的运行）"
    ),
    "--resume continues a run in its own folder; drop --out": (
        "--resume 在运行自己的文件夹里继续；请去掉 --out"
    ),
    # -- checkpoints ------------------------------------------------------------------------
    "run folder not found: {run_dir}": "找不到运行文件夹：{run_dir}",
    "not a run folder (a file): {run_dir}": "不是运行文件夹（是一个文件）：{run_dir}",
    "this run has not saved a checkpoint yet; rerun the command (run folder {run_dir})": (
        "该运行还没有保存检查点；请重新运行命令（运行文件夹 {run_dir}）"
    ),
    "{run_dir} holds {kind}, not a run": "{run_dir} 中是{kind}，不是运行",
    "not a poleax run (no {name}/meta.json): {run_dir}": (
        "不是 poleax 的运行（没有 {name}/meta.json）：{run_dir}"
    ),
    "corrupt checkpoint metadata in {path}: {error}": "{path} 中的检查点元数据已损坏：{error}",
    "corrupt checkpoint metadata in {path}: not a JSON object": (
        "{path} 中的检查点元数据已损坏：不是 JSON 对象"
    ),
    "corrupt checkpoint metadata in {path}: format_version is {version}": (
        "{path} 中的检查点元数据已损坏：format_version 为 {version}"
    ),
    "checkpoint format {version} is newer than this poleax reads ({ours}); upgrade poleax": (
        "检查点格式 {version} 比这个 poleax 能读的（{ours}）更新；请升级 poleax"
    ),
    "checkpoint metadata lacks a valid {field}: {value}": "检查点元数据缺少有效的 {field}：{value}",
    "checkpoint metadata lacks a valid network: {value}": "检查点元数据缺少有效的 network：{value}",
    "checkpoint metadata lacks a valid seeds: {value}": "检查点元数据缺少有效的 seeds：{value}",
    "no free checkpoint version name in {folder}": "{folder} 中没有可用的检查点版本名",
    "no picture worker": "没有画图的工作进程",
    "the run was stopped before training began; resume it: poleax train --resume {run_dir}": (
        "该运行在训练开始前就被停止了；请继续它：poleax train --resume {run_dir}"
    ),
    "seed index {index} out of range; the run has {seeds} seed(s)": (
        "种子序号 {index} 超出范围；该运行有 {seeds} 个种子"
    ),
    "checkpoint file missing: {path}": "缺少检查点文件：{path}",
    "corrupt checkpoint file {path}: {error}": "检查点文件 {path} 已损坏：{error}",
    "corrupt checkpoint file {path}: unexpected {keys}": "检查点文件 {path} 已损坏：多出 {keys}",
    "corrupt checkpoint file {what} missing": "检查点文件已损坏：缺少 {what}",
    "corrupt checkpoint file {what} is {dtype}{shape}, not {need} rows below {size}": (
        "检查点文件已损坏：{what} 是 {dtype}{shape}，而不是低于 {size} 行的 {need}"
    ),
    "not an .npz archive": "不是 .npz 压缩包",
    "{what}: missing {key}": "{what}：缺少 {key}",
    "{what}: {key} is {shape}, not {need}": "{what}：{key} 是 {shape}，而不是 {need}",
    "{what}: {key} holds {dtype}, not floats": "{what}：{key} 存的是 {dtype}，不是浮点数",
    "{what}: {layer} is {shape}, the network needs {need}": (
        "{what}：{layer} 是 {shape}，网络需要 {need}"
    ),
    "checkpoint layer {layer} holds non-finite values": "检查点的层 {layer} 含有非有限值",
    "checkpoint state does not fit this algorithm/network (missing {key})": (
        "检查点状态与该算法/网络不符（缺少 {key}）"
    ),
    "checkpoint state does not fit this algorithm/network: {key} is {dtype}{shape}, "
    "expected {want_dtype}{want_shape}": (
        "检查点状态与该算法/网络不符：{key} 是 {dtype}{shape}，应为 {want_dtype}{want_shape}"
    ),
    "checkpoint state does not fit this algorithm/network (unexpected {keys})": (
        "检查点状态与该算法/网络不符（多出 {keys}）"
    ),
    "corrupt checkpoint history in {path}: {error}": "{path} 中的检查点历史已损坏：{error}",
    "corrupt checkpoint history in {path}: unexpected {keys}": (
        "{path} 中的检查点历史已损坏：多出 {keys}"
    ),
    "corrupt checkpoint history in {path}: no snapshot/rows, /pool": (
        "{path} 中的检查点历史已损坏：没有 snapshot/rows、/pool"
    ),
    "corrupt checkpoint history in {path}: a seed's snapshot twice": (
        "{path} 中的检查点历史已损坏：某个种子的快照出现了两次"
    ),
    "snapshot of seed {row} does not match the network": "种子 {row} 的快照与网络不符",
    # the details of a corrupt checkpoint history (history.py)
    "evaluations is not a list": "evaluations 不是列表",
    "{count} evaluations in {chunks} chunk(s)": "{chunks} 个块中有 {count} 次评估",
    "evaluations is {value}, not a count": "evaluations 是 {value}，不是计数",
    "evaluations/episodes holds negative counts": "evaluations/episodes 含有负的计数",
    "evaluations/env_steps holds negatives": "evaluations/env_steps 含有负数",
    "expected a JSON object, found {kind}": "应为 JSON 对象，得到的是 {kind}",
    "missing {names}": "缺少 {names}",
    "chunks is {value}, not a count": "chunks 是 {value}，不是计数",
    "seconds is {value}": "seconds 是 {value}",
    "chunk_lengths is {value}, not {chunks} positive count(s)": (
        "chunk_lengths 是 {value}，而不是 {chunks} 个正的计数"
    ),
    "history.npz lacks env_steps": "history.npz 缺少 env_steps",
    "env_steps is {dtype}{shape}, not {seeds} count(s)": (
        "env_steps 是 {dtype}{shape}，而不是 {seeds} 个计数"
    ),
    "{metrics} metrics after {chunks} chunk(s)": "{chunks} 个块之后有 {metrics} 个指标",
    "an evaluation is not env_steps, greedy and sampled for {seeds} seed(s): {value}": (
        "某次评估不是 {seeds} 个种子的 env_steps、greedy 和 sampled：{value}"
    ),
    "an evaluation's episodes are not {seeds} counts: {value}": (
        "某次评估的 episodes 不是 {seeds} 个计数：{value}"
    ),
    "history.npz lacks evaluations/{name}": "history.npz 缺少 evaluations/{name}",
    "evaluations/{name} is {dtype}{shape}, not [{count}, {seeds}]": (
        "evaluations/{name} 是 {dtype}{shape}，而不是 [{count}, {seeds}]"
    ),
    "history.npz lacks metric_updates": "history.npz 缺少 metric_updates",
    "{total} updates of metrics, chunk_lengths say {updates}": (
        "指标有 {total} 次更新，chunk_lengths 却是 {updates}"
    ),
    "metric_lengths is {dtype}{shape}, not {seeds} counts of at most {updates}": (
        "metric_lengths 是 {dtype}{shape}，而不是 {seeds} 个不超过 {updates} 的计数"
    ),
    "unexpected array {key} in history.npz": "history.npz 中有多余的数组 {key}",
    "{key}: snapshot of seed {row}, the run has {seeds}": (
        "{key}：种子 {row} 的快照，而该运行只有 {seeds} 个种子"
    ),
    "{name} is not a list of {seeds} value(s)": "{name} 不是 {seeds} 个值的列表",
    "{name} holds {values}": "{name} 存的是 {values}",
    "{key} is {dtype}{shape}, expected [{seeds}, {updates}]": (
        "{key} 是 {dtype}{shape}，应为 [{seeds}, {updates}]"
    ),
    "{key} is {dtype}{shape}, expected [{total}] by metric_lengths": (
        "{key} 是 {dtype}{shape}，按 metric_lengths 应为 [{total}]"
    ),
    # -- sweep -------------------------------------------------------------------------------
    "sweep {study}": "调参 {study}",
    "interrupted by {signal}": "被 {signal} 中断",
    "trial {numbers} marked failed": "试验 {numbers} 已标记为失败",
    "trials {numbers} marked failed": "试验 {numbers} 已标记为失败",
    "the study has {finished} of {trials} trials finished (run the same command to go on)": (
        "研究已完成 {finished}/{trials} 个试验（再次运行同一命令即可继续）"
    ),
    "poleax sweep: stopped at once (second signal)": "poleax sweep：已立即停止（第二个信号）",
    "sweep supports algorithms {algos}; got {algo}": "调参支持的算法是 {algos}；得到 {algo}",
    "--{name} must be >= 1{bound}; got {value}": "--{name} 必须 >= 1{bound}；得到 {value}",
    " (at most {most:,})": "（最多 {most:,}）",
    "--total-steps must be a whole number in [1, 2^31); got {steps}": (
        "--total-steps 必须是 [1, 2^31) 内的整数；得到 {steps}"
    ),
    "--sampler-seed must be a whole number in [0, 2^32); got {seed}": (
        "--sampler-seed 必须是 [0, 2^32) 内的整数；得到 {seed}"
    ),
    "--study must be a name of 1 to {most} characters": "--study 必须是 1 到 {most} 个字符的名字",
    "--objective must be one of {names}; got {value}": (
        "--objective 必须是 {names} 之一；得到 {value}"
    ),
    "study {study} scores its trials by --objective {found}; got --objective {objective} "
    "(use another --study)": (
        "研究 {study} 按 --objective {found} 给试验打分；得到 --objective {objective}"
        "（请换一个 --study）"
    ),
    "sweep settings cannot train ({rows} rows: batch x seeds): {error}": (
        "这些调参设置无法训练（{rows} 行：batch x seeds）：{error}"
    ),
    "--out {out} is a file, not a folder": "--out {out} 是文件，不是文件夹",
    "cannot write to --out {out}: {existing} is not a folder": (
        "无法写入 --out {out}：{existing} 不是文件夹"
    ),
    "cannot write to --out {out}: {existing} is not writable": (
        "无法写入 --out {out}：{existing} 不可写"
    ),
    "cannot open study storage {storage}: {reason}": "无法打开研究存储 {storage}：{reason}",
    "expected a URL like sqlite:///study.db or journal:/shared/file.log": (
        "应为 URL，例如 sqlite:///study.db 或 journal:/shared/file.log"
    ),
    "journal: needs a file path, like journal:/shared/sweep.log": (
        "journal: 需要一个文件路径，例如 journal:/shared/sweep.log"
    ),
    "{reason} (expected e.g. sqlite:///study.db, postgresql://host/db or "
    "journal:/shared/file.log)": (
        "{reason}（应为例如 sqlite:///study.db、postgresql://host/db 或 journal:/shared/file.log）"
    ),
    "no driver for {driver}: {error}": "没有 {driver} 的驱动：{error}",
    "{file} is a folder, not a file": "{file} 是文件夹，不是文件",
    "{file} is not a regular file": "{file} 不是普通文件",
    "{file} is not readable and writable": "{file} 不可读写",
    "cannot read {file}: {error}": "无法读取 {file}：{error}",
    "{file} is not an Optuna journal": "{file} 不是 Optuna 日志文件",
    "{file} is not a SQLite database": "{file} 不是 SQLite 数据库",
    "folder {parent} does not exist": "文件夹 {parent} 不存在",
    "folder {parent} is not writable": "文件夹 {parent} 不可写",
    "--tensorboard needs tensorboardX: pip install 'poleax[tensorboard]'": (
        "--tensorboard 需要 tensorboardX：pip install 'poleax[tensorboard]'"
    ),
}
