"""The ``poleax`` command. Imports nothing heavy until a subcommand runs, so ``--help`` is fast.

Exit status: 0 done, 1 training failed (e.g. non-finite values), 2 bad input, 128 + signal
number when interrupted (the last checkpoint is saved first).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, NoReturn

# Set before numpy loads: the command's numpy multiplies small matrices (the gymnasium
# judge's forward passes, the maps), where OpenBLAS's thread pool only spins beside the
# training threads (2% of a CartPole run's CPU). A user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from poleax._version import __version__
from poleax.config import (
    ALGO_DEFAULTS,
    PRESETS,
    ConfigError,
    TrainConfig,
    default_algo,
    defaults_for,
)
from poleax.envs.registry import ENV_IDS, STANDARD_ENV, env_spec
from poleax.envs.spec import EVAL_SEED
from poleax.lang import ENV_VAR, LANGS, speaking, tr, translate
from poleax.sweep.settings import OBJECTIVES

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        line = tr("{prog}: error: {message}", prog=self.prog, message=translate(message))
        self.exit(EXIT_BAD_INPUT, line + "\n")


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected widths like 64,64; got {text!r}") from None
    if not widths:
        raise argparse.ArgumentTypeError("expected at least one width, like 64,64")
    return widths


def _path(text: str) -> Path:
    """A path argument; an empty one is an error (``Path("")`` would mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path; got an empty one")
    return Path(text)


def _number(kind: type):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            name = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {name}; got {text!r}") from None
        if kind is float and value != value:
            raise argparse.ArgumentTypeError("expected a number; got nan")
        return value

    parse.__name__ = kind.__name__
    return parse


def _default_text(name: str, base: Any) -> str:
    """``default: X``, then the algorithms whose default differs from X, then the envs whose
    tuned default differs from their algorithm's (an equal value is not repeated)."""
    others = [
        f"{algo} {_show(values[name])}"
        for algo, values in ALGO_DEFAULTS.items()
        if name in values and values[name] != base
    ]
    for env in ENV_IDS if name not in ("env", "algo") else ():
        for algo in ALGO_DEFAULTS:
            general = defaults_for(algo, TrainConfig.env).get(name, base)
            tuned = defaults_for(algo, env).get(name, general)
            if tuned != general:
                others.append(f"{algo} on {env} {_show(tuned)}")
    if name == "algo":  # a task names its own default algorithm
        others = [f"{default_algo(env)} on {env}" for env in ENV_IDS if default_algo(env) != base]
    text = f"default: {_show(base)}"
    return f"{text}; {', '.join(others)}" if others else text


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


#: ``train --help``'s groups, in the order it prints them, and the settings in each (a
#: setting named nowhere lands in "algorithm settings").
TRAIN_GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "task": (
        "task and algorithm",
        ("config", "preset", "resume", "env", "algo", "seed", "seeds"),
    ),
    "algorithm": (
        "algorithm settings (defaults are tuned per algorithm, and per env where shown)",
        (),
    ),
    "budget": (
        "budget and stopping",
        ("total_steps", "stop_when_solved", "stop_rule", "running_reward_threshold"),
    ),
    "evaluation": ("evaluation", ("eval_every", "eval_episodes", "eval_screen")),
    "outputs": (
        "outputs",
        ("out", "no_gifs", "no_progress", "tensorboard", "log_every_episodes", "lang"),
    ),
    "engine": ("engine", ("executor", "vmap_width")),
}

TRAIN_EXAMPLES = """\
examples:
  poleax train                                 PPO on CartPole-v0 until solved
  poleax train --env Pendulum-v1               PPO with the defaults tuned for Pendulum
  poleax train --env CartPole-v1 --algo a2c --seeds 8
                                               8 seeds in one process, each until solved
  poleax train --total-steps 20000 --no-stop-when-solved --out runs/short
                                               a fixed budget, into a folder of your choice
  poleax train --preset tutorial --lang en     the tutorial's program, then the truth
  poleax train --config runs/RUN/config.json   run a run's (or a sweep's) settings again
  poleax train --resume runs/RUN               continue an interrupted run

after a run: poleax evaluate RUN, poleax render RUN --out episode.gif, poleax report RUN
"""


def _train_groups(parser: argparse.ArgumentParser) -> dict[str, argparse._ArgumentGroup]:
    return {key: parser.add_argument_group(title) for key, (title, _) in TRAIN_GROUPS.items()}


def _group_of(name: str, groups: dict[str, argparse._ArgumentGroup]):
    for key, (_, names) in TRAIN_GROUPS.items():
        if name in names:
            return groups[key]
    return groups["algorithm"]


def _add_config_flags(parser: argparse.ArgumentParser, groups=None) -> None:
    for f in fields(TrainConfig):
        if f.name in ("preset",):
            continue
        target = _group_of(f.name, groups) if groups else parser
        flag = "--" + f.name.replace("_", "-")
        base = f.default if f.default is not MISSING else None
        help_text = f"{f.metadata['help']} ({_default_text(f.name, base)})"
        if f.name == "lang":
            help_text = LANG_HELP + "; the tutorial's running-reward log lines default to zh"
        choices = f.metadata.get("choices")
        if isinstance(base, bool):
            target.add_argument(
                flag,
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        elif f.name == "hidden":
            target.add_argument(flag, dest=f.name, type=_widths, default=None, help=help_text)
        else:
            kind = type(base) if base is not None else str
            kind = _number(kind) if kind in (int, float) else kind
            target.add_argument(
                flag,
                dest=f.name,
                type=kind,
                default=None,
                choices=choices,
                help=help_text,
                metavar=None if choices else f.name.upper(),
            )


def _add_seed_index(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed-index",
        type=_number(int),
        default=0,
        help="which seed of a multi-seed run (default: 0)",
    )


#: ``--lang``'s help (train's names the tutorial's own default too).
LANG_HELP = f"language of every line poleax prints (default: en, or ${ENV_VAR})"


def _add_lang(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", choices=("zh", "en"), default=None, help=LANG_HELP)


def _lang_of(words: list[str]) -> str | None:
    """The ``--lang`` among the words of a command line (None: not given; the last wins,
    as the command's own follows poleax's), read before argparse parses them, so that its
    errors speak it too."""
    found = None
    for i, word in enumerate(words):
        value = words[i + 1] if word == "--lang" and i + 1 < len(words) else None
        if word.startswith("--lang="):
            value = word.partition("=")[2]
        if value in LANGS:
            found = value
    return found


def _add_import(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first, for the tasks it registers with poleax.envs.register "
        "(repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="poleax",
        description="Train actor-critic agents on classic control tasks, fast (jit-compiled JAX).",
    )
    parser.add_argument("--version", action="version", version=f"poleax {__version__}")
    parser.add_argument(  # before the command too: poleax --lang zh evaluate RUN
        "--lang", dest="global_lang", choices=("zh", "en"), default=None, help=LANG_HELP
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    train = sub.add_parser(
        "train",
        help="train an agent and write a run folder",
        description="Train an agent and write a run folder. With no options: PPO on "
        "CartPole-v0 until solved.",
        epilog=TRAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    groups = _train_groups(train)
    task, outputs = groups["task"], groups["outputs"]
    task.add_argument("--config", type=_path, help="config.json of an earlier run or sweep")
    task.add_argument("--preset", choices=tuple(PRESETS), help="named preset (tutorial)")
    task.add_argument("--resume", type=_path, metavar="RUN", help="continue an interrupted run")
    outputs.add_argument("--out", type=_path, help="run folder (default runs/<env>__<algo>__...)")
    outputs.add_argument("--no-gifs", action="store_true", help="skip before/after GIFs")
    outputs.add_argument("--no-progress", action="store_true", help="no progress bar")
    outputs.add_argument("--tensorboard", action="store_true", help="write TensorBoard events")
    _add_import(task)
    _add_config_flags(train, groups)

    evaluate = sub.add_parser("evaluate", help="evaluate a run on gymnasium's own env")
    evaluate.add_argument("run", type=_path, metavar="RUN")
    evaluate.add_argument("--episodes", type=_number(int), default=100, help="(default: 100)")
    evaluate.add_argument(
        "--seed",
        type=_number(int),
        default=EVAL_SEED,
        help=f"reset seed of the first episode (default: {EVAL_SEED})",
    )
    evaluate.add_argument("--env", help="environment id (default: the run's)")
    _add_seed_index(evaluate)
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    _add_import(evaluate)
    _add_lang(evaluate)

    render = sub.add_parser("render", help="write a GIF or MP4 of a run's policy")
    render.add_argument("run", type=_path, metavar="RUN")
    render.add_argument("--out", type=_path, required=True, help="FILE.gif or FILE.mp4")
    render.add_argument("--seed", type=_number(int), default=0, help="episode seed (default: 0)")
    render.add_argument("--sampled", action="store_true", help="sample actions (default: greedy)")
    _add_seed_index(render)
    _add_import(render)
    _add_lang(render)

    report = sub.add_parser("report", help="(re)write a run's report.html")
    report.add_argument("run", type=_path, metavar="RUN")
    _add_lang(report)

    export = sub.add_parser("export", help="write a run's policy as ONNX or JSON")
    export.add_argument("run", type=_path, metavar="RUN")
    export.add_argument("--format", required=True, choices=("onnx", "json"), help="onnx or json")
    export.add_argument("--out", type=_path, help="output file (default: RUN/policy.FORMAT)")
    _add_seed_index(export)
    _add_import(export)
    _add_lang(export)

    play = sub.add_parser("play", help="watch a run's policy in a window")
    play.add_argument("run", type=_path, metavar="RUN")
    play.add_argument("--episodes", type=_number(int), default=1)
    _add_import(play)
    _add_lang(play)

    sweep = sub.add_parser(
        "sweep",
        help="hyperparameter sweep on Optuna (pip install 'poleax[sweep]')",
        description="Tune with Optuna: each worker trains a batch of trials (and their seeds) "
        "together, a row per core at a time. Start the same command on many machines with one "
        "--storage.",
    )
    sweep.add_argument(
        "--algo",
        default=None,
        help=f"ppo, a2c, sac, td3 or ddpg ({_default_text('algo', TrainConfig.algo)})",
    )
    sweep.add_argument("--env", default=STANDARD_ENV, help=f"(default: {STANDARD_ENV})")
    sweep.add_argument("--trials", type=_number(int), default=20, help="(default: 20)")
    sweep.add_argument(
        "--batch",
        type=_number(int),
        default=None,
        help="trials asked for and trained together (default: as many as fill the CPU "
        "cores, a core per seed)",
    )
    sweep.add_argument("--seeds", type=_number(int), default=2, help="seeds per trial (default: 2)")
    sweep.add_argument("--study", default="poleax", help="study name (default: poleax)")
    sweep.add_argument(
        "--storage",
        help="Optuna storage URL, e.g. postgresql://host/db or "
        "journal:/shared/file.log (default: SQLite in the sweep folder)",
    )
    sweep.add_argument("--out", type=_path, help="sweep folder (default: sweeps/<study>)")
    sweep.add_argument(
        "--total-steps",
        type=_number(int),
        default=50_000,
        help="env-step budget per seed (default: 50000)",
    )
    sweep.add_argument("--seed", type=_number(int), default=0, help="(default: 0)")
    sweep.add_argument(
        "--sampler-seed",
        type=_number(int),
        default=None,
        help="seed Optuna's sampler: trial n's settings are drawn from (seed, n), so a rerun "
        "proposes the same trials and workers sharing a study never the same one",
    )
    sweep.add_argument(
        "--search-shapes",
        action="store_true",
        help="also search envs, rollout length, minibatches and epochs",
    )
    sweep.add_argument(
        "--objective",
        default="steps",
        choices=OBJECTIVES,
        help="a trial's score: its seeds' mean env steps to solve, or the core-seconds "
        "(process CPU time) per solved seed; an unsolved seed counts at the budget "
        "(default: steps)",
    )
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_lang(sweep)

    compare = sub.add_parser(
        "compare",
        help="compare algorithms over many seeds (IQM, bootstrap intervals, report)",
        description="Train every algorithm x seed to the same env-step budget (no early stop), "
        "evaluate on a fixed grid of env steps, and write results.csv, plots, summary.json and "
        "report.html.",
    )
    compare.add_argument(
        "--env",
        action="append",
        help=f"environment id; repeat or comma-separate for several (default: {STANDARD_ENV})",
    )
    compare.add_argument("--algos", default=None, help="(default: ppo,a2c,td-ac,mc-ac)")
    compare.add_argument("--seeds", type=_number(int), default=None, help="(default: 20)")
    compare.add_argument(
        "--budget",
        type=_number(int),
        help="env steps per seed (default: each task's compare budget, e.g. "
        f"{env_spec(STANDARD_ENV).compare_budget} on {STANDARD_ENV})",
    )
    compare.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="ALGO=FILE",
        help="start ALGO from a config.json instead of its defaults (repeatable)",
    )
    compare.add_argument("--seed", type=_number(int), default=None, help="first seed (default: 0)")
    compare.add_argument(
        "--eval-episodes",
        type=_number(int),
        default=None,
        help="greedy and sampled episodes per grid point (default: 20)",
    )
    compare.add_argument("--out", type=_path, help="folder (default: compare/<env>)")
    compare.add_argument("--resume", type=_path, metavar="DIR", help="continue a comparison")
    compare.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_import(compare)
    _add_lang(compare)
    return parser


#: Commands that take SIGINT/SIGTERM themselves (saving what they did); a signal that comes
#: before they install their handlers is held for them from the first instant.
SIGNALLED_COMMANDS = ("train", "compare", "sweep")


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    with speaking(_lang_of(words)):
        return _signalled_main(argv, words)


def _signalled_main(argv: list[str] | None, words: list[str]) -> int:
    if not (words[:1] and words[0] in SIGNALLED_COMMANDS):
        return _main(argv)
    import poleax.signals as signals

    signals.catch_early()
    try:
        status = _main(argv)
    finally:
        held = signals.release_early()
    if held is not None and status == 0:  # it came after the command's own handlers left
        print(tr("{prog}: interrupted", prog=f"poleax {words[0]}"), file=sys.stderr)
        return 128 + held
    return status


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if getattr(args, "lang", None) is None:  # the command's own --lang comes first
        args.lang = args.global_lang
    try:
        _import_tasks(getattr(args, "imports", []))
        status = COMMANDS[args.command](args)
        sys.stdout.flush()  # a failing output is an error here, not at the interpreter's exit
        return status
    except (ConfigError, ValueError, FileNotFoundError, OverflowError) as error:
        print(_error_line(args.command, str(error)), file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # output piped into a reader that stopped (e.g. `| head`)
        _silence_stdout()
        return 0
    except OSError as error:  # a name too long, a full disk, an output that takes nothing
        where = f": {error.filename}" if error.filename else ""
        message = f"{translate(str(error.strerror or error))}{where}"
        print(_error_line(args.command, message), file=sys.stderr)
        _silence_stdout()
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:  # Ctrl-C where no handler of ours was installed (imports)
        print(tr("{prog}: interrupted", prog=f"poleax {args.command}"), file=sys.stderr)
        _silence_stdout()
        return 128 + 2


def _error_line(command: str, message: str) -> str:
    """``poleax COMMAND: error: MESSAGE``, in the language in force."""
    return tr("{prog}: error: {message}", prog=f"poleax {command}", message=translate(message))


def _import_tasks(modules: list[str]) -> None:
    """``--import``: the modules that register tasks, before any config is built."""
    if not modules:
        return
    from poleax.envs import import_tasks

    try:
        import_tasks(modules)
    except ImportError as error:
        raise ConfigError(str(error)) from None
    except Exception as error:  # the module itself failed: its error, in one line
        what = f"{type(error).__name__}: {error}".splitlines()[0]
        raise ConfigError(f"--import {','.join(modules)} failed: {what}") from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's flush at exit cannot fail again."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _config_from_args(args: argparse.Namespace) -> TrainConfig:
    from poleax.config import build_config, load_config

    overrides = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if f.name != "preset"}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if args.config is not None:
        base = load_config(args.config).to_dict()
        if args.preset:
            base["preset"] = args.preset
        return TrainConfig.from_dict({**base, **overrides})
    algo, env = overrides.pop("algo", None), overrides.pop("env", None)
    return build_config(algo=algo, env=env, preset=args.preset, **overrides)


def cmd_train(args: argparse.Namespace) -> int:
    if args.resume is not None:
        if (
            args.config
            or args.preset
            or any(
                getattr(args, f.name) is not None
                for f in fields(TrainConfig)
                if f.name not in ("preset", "lang")  # --lang only sets what is printed here
            )
        ):
            raise ConfigError("--resume takes the run's own config; drop the other settings")
        from poleax.run.folder import resume_config

        config = resume_config(args.resume)
    else:
        config = _config_from_args(args)
    from poleax.checkpoint import CheckpointError
    from poleax.run import RunInterrupted, print_files, run_training
    from poleax.trainer import TrainingError

    # Tracing the programs allocates heavily; with the imported modules frozen out of the
    # collector's view, its full collections stay cheap (lowering ~10% faster).
    gc.freeze()

    try:
        run = run_training(
            config,
            out=args.out,
            resume=args.resume,
            gifs=not args.no_gifs,
            progress=not args.no_progress,
            tensorboard=args.tensorboard,
        )
    except CheckpointError as error:
        raise ConfigError(str(error)) from None
    except RunInterrupted as stop:
        _leave_interrupted("poleax train", stop)
    except TrainingError as error:
        print(_error_line("train", str(error)), file=sys.stderr)
        return 1
    print_files(run)
    return 0


def _load_policy(run: Path, seed_index: int, finished: bool = False):
    """The run's policy; with ``finished``, only from a finished run (one line otherwise)."""
    from poleax.api import load
    from poleax.checkpoint import CheckpointError
    from poleax.files import check_kind

    check_kind(run, "run", "")
    if finished:
        from poleax.run.folder import check_finished_run

        check_finished_run(run)
    try:
        return load(run, seed_index=seed_index)
    except CheckpointError as error:
        raise ConfigError(str(error)) from None


def _evaluation_verdict(result: dict, task) -> str:
    """ "solved" only by the margin the runs use (2 standard errors); a pass without it is
    said as such."""
    from poleax.reference import confident

    criterion = task.solve.with_episodes(result["episodes"])
    if confident(criterion, result):
        return tr("solved, by {confidence:g} standard errors", confidence=criterion.confidence)
    return tr("passed, not confidently") if result["solved"] else tr("not solved")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from poleax.envs.registry import env_spec
    from poleax.reference import evaluate_both

    if args.episodes < 1:
        raise ConfigError(f"--episodes must be >= 1; got {args.episodes}")
    if args.seed < 0:
        raise ConfigError(f"--seed must be >= 0; got {args.seed}")
    policy = _load_policy(args.run, args.seed_index, finished=True)
    task = env_spec(args.env) if args.env else policy.env_spec
    env_id = task.id
    result = evaluate_both(policy, task, args.episodes, args.seed)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        tr(
            "{env}, {episodes} episodes from reset seed {seed}:",
            env=env_id,
            episodes=args.episodes,
            seed=args.seed,
        )
    )
    for mode in ("greedy", "sampled"):
        r = result[mode]
        print(
            tr(
                "  {mode:<8} mean {mean:7.2f} ± {std:6.2f}  solved: {solved}",
                mode=translate(mode),
                mean=r["mean"],
                std=r["std"],
                solved=translate(str(bool(r["solved"]))),
            )
        )
    verdict = _evaluation_verdict(result, task)
    print(
        tr("  {verdict} (threshold {threshold:g})", verdict=verdict, threshold=result["threshold"])
    )
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from poleax.render import render_episode

    if args.out.is_dir():
        raise ConfigError(f"--out {args.out} is a folder; name a file like episode.gif")
    if args.out.suffix.lower() not in (".gif", ".mp4"):
        raise ConfigError(f"--out must end in .gif or .mp4; got {args.out.name}")
    if not args.out.parent.exists() or not os.access(args.out.parent, os.W_OK):
        raise ConfigError(f"cannot write to {args.out.parent}")
    if not 0 <= args.seed < 2**31:
        raise ConfigError(f"--seed must be a whole number in [0, 2^31); got {args.seed}")
    _check_out_in_run(args.run, args.out)
    if args.out.suffix.lower() == ".mp4":
        from poleax.render import check_mp4_writer

        try:
            check_mp4_writer()
        except RuntimeError as error:
            raise ConfigError(str(error)) from None
    policy = _load_policy(args.run, args.seed_index)
    try:
        path, length = render_episode(
            policy.env_spec, policy.params, policy.spec, args.out, args.seed, not args.sampled
        )
    except RuntimeError as error:
        raise ConfigError(str(error)) from None
    print(tr("wrote {path} ({length} steps)", path=path, length=length))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from poleax.report import write_report
    from poleax.run.folder import check_finished_run

    check_finished_run(args.run)
    print(tr("wrote {path}", path=write_report(args.run)))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from poleax.export import ExportUnavailable, export

    if args.format == "onnx":
        try:
            import onnx  # noqa: F401
        except ImportError:
            raise ConfigError('ONNX export needs onnx: pip install "poleax[export]"') from None
    out = args.out or args.run / f"policy.{args.format}"
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; name a file like policy.{args.format}")
    policy = _load_policy(args.run, args.seed_index, finished=True)
    _check_out_in_run(args.run, out, EXPORTED_NAMES)
    try:
        path = export(policy, args.format, out)
    except ExportUnavailable as error:
        raise ConfigError(str(error)) from None
    print(tr("wrote {path}", path=path))
    return 0


#: Files an export may replace inside a run folder: an earlier export's.
EXPORTED_NAMES = ("policy.onnx", "policy.json")


def _check_out_in_run(run: Path, out: Path, allowed: tuple[str, ...] = ()) -> None:
    """Refuse an ``--out`` that would replace one of the run's own files (its config, its
    summary, its pictures, its checkpoint ...); a new file, or one named in ``allowed`` (an
    earlier export), may be written there."""
    try:
        inside = out.resolve().relative_to(run.resolve())
    except ValueError:
        return  # outside the run folder
    own = inside.parts[0] in ("checkpoint", ".checkpoints") or (
        out.exists() and not (len(inside.parts) == 1 and inside.name in allowed)
    )
    if own or inside.name.startswith("."):
        raise ConfigError(
            f"--out {out} would replace a file of run {run}; name a new file, or write it elsewhere"
        )


#: Most episodes ``play`` shows (each one in a window, in real time).
MAX_PLAY_EPISODES = 10_000


def cmd_play(args: argparse.Namespace) -> int:
    if not 1 <= args.episodes <= MAX_PLAY_EPISODES:
        raise ConfigError(f"--episodes must be in [1, {MAX_PLAY_EPISODES:,}]; got {args.episodes}")
    policy = _load_policy(args.run, 0)
    spec = policy.env_spec
    if not spec.gymnasium_id:
        raise ConfigError(
            f"{policy.env_id} names no gymnasium env to show in a window; write a video "
            f"instead: poleax render {args.run} --out play.gif"
        )
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise ConfigError(
            "no display found (DISPLAY is not set); write a video instead: "
            f"poleax render {args.run} --out play.gif"
        )
    import gymnasium as gym

    env = gym.make(spec.gymnasium_id, render_mode="human")
    try:
        for episode in range(args.episodes):
            obs, _ = env.reset(seed=episode)
            done, total = False, 0.0
            while not done:
                obs, reward, terminated, truncated, _ = env.step(policy.act(obs))
                total += float(reward)
                done = terminated or truncated
            print(tr("episode {episode}: return {total:.0f}", episode=episode, total=total))
    finally:
        env.close()
    return 0


def _leave_interrupted(prog: str, stop: BaseException) -> NoReturn:
    """Print a stopped run's or comparison's line and exit ``128 + signal``, without
    interpreter teardown: a chunk may still be compiling or running on a worker thread, and
    teardown would wait for it (or abort inside XLA)."""
    print(tr("{prog}: {message}", prog=prog, message=translate(str(stop))), file=sys.stderr)
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(128 + int(stop.signum))  # type: ignore[attr-defined]


def cmd_sweep(args: argparse.Namespace) -> int:
    try:
        from poleax.sweep import SweepSettings, run_sweep
    except ImportError:
        raise ConfigError("sweep needs optuna: pip install 'poleax[sweep]'") from None
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise ConfigError("sweep needs optuna: pip install 'poleax[sweep]'") from None
    settings = SweepSettings(
        algo=args.algo,
        env=args.env,
        trials=args.trials,
        batch=args.batch,
        seeds=args.seeds,
        study=args.study,
        storage=args.storage,
        out=args.out or Path("sweeps") / args.study,
        total_steps=args.total_steps,
        seed=args.seed,
        search_shapes=args.search_shapes,
        sampler_seed=args.sampler_seed,
        objective=args.objective,
    )
    from poleax.sweep import SweepInterrupted
    from poleax.trainer import TrainingError

    try:
        summary = run_sweep(settings, progress=not args.no_progress)
    except SweepInterrupted as stop:  # its one line is printed; leave without XLA's teardown
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(stop.code))
    except TrainingError as error:  # the batch's trials are marked failed
        print(_error_line("sweep", str(error)), file=sys.stderr)
        return 1
    print(
        tr(
            "study {study}: {finished} trials finished",
            study=summary["study"],
            finished=summary["finished_trials"],
        )
    )
    if summary.get("solved") is False:
        print(
            tr(
                "no trial solved {env} within {steps:,} env steps per seed: no best config "
                "(try a larger --total-steps)",
                env=settings.env,
                steps=settings.total_steps,
            )
        )
    elif "best_value" in summary:
        print(
            tr(
                "best: trial {trial}, {steps:.0f} env steps to solve (mean over seeds)",
                trial=summary["best_trial"],
                steps=summary["best_mean_steps"],
            )
        )
        if settings.objective == "core-seconds":
            print(
                tr(
                    "its score: {seconds:.2f} core-seconds per solved seed",
                    seconds=summary["best_value"],
                )
            )
        best = settings.out / "best_config.json"
        print(tr("best config: {path} (poleax train --config {path})", path=best))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from poleax.compare import (
        CompareInterrupted,
        CompareSettings,
        differences,
        print_table,
        read_settings,
        run_compare,
    )

    given = _compare_given(args)
    if args.resume is not None:
        if args.out is not None and Path(args.out).absolute() != Path(args.resume).absolute():
            raise ConfigError("--resume continues a comparison in its own folder; drop --out")
        from poleax.files import check_kind

        check_kind(args.resume, "comparison", "--resume")
        settings = read_settings(args.resume)
        differ = differences(given, settings)
        if differ:
            raise ConfigError(
                f"--resume {args.resume} continues the recorded comparison; these settings "
                f"differ from it: {'; '.join(differ)} (drop them, or start a new --out)"
            )
    else:
        defaults = CompareSettings()
        settings = CompareSettings(
            envs=given.get("envs", defaults.envs),
            algos=given.get("algos", defaults.algos),
            seeds=given.get("seeds", defaults.seeds),
            budget=given.get("budget"),
            seed=given.get("seed", defaults.seed),
            eval_episodes=given.get("eval_episodes", defaults.eval_episodes),
            configs=given.get("configs", {}),
            out=args.out,
        )
    gc.freeze()
    try:
        out, summary = run_compare(
            settings,
            resume=args.resume is not None,
            progress=not args.no_progress,
        )
    except CompareInterrupted as stop:
        _leave_interrupted("poleax compare", stop)
    print_table(summary)
    print(tr("wrote {out}/ (results.csv, summary.json, report.html and four plots)", out=out))
    return 0


def _compare_given(args: argparse.Namespace) -> dict[str, Any]:
    """The comparison settings given on the command line (named as in ``CompareSettings``)."""
    given: dict[str, Any] = {}
    if args.env is not None:
        given["envs"] = tuple(e.strip() for part in args.env for e in part.split(",") if e.strip())
    if args.algos is not None:
        given["algos"] = tuple(a.strip() for a in args.algos.split(",") if a.strip())
    for name in ("seeds", "budget", "seed", "eval_episodes"):
        if getattr(args, name) is not None:
            given[name] = getattr(args, name)
    if args.config:
        configs = {}
        for item in args.config:
            algo, sep, path = item.partition("=")
            if not sep or not algo.strip() or not path.strip():
                raise ConfigError(f"--config takes ALGO=FILE, like ppo=config.json; got {item!r}")
            configs[algo.strip()] = path.strip()
        given["configs"] = configs
    return given


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "render": cmd_render,
    "report": cmd_report,
    "export": cmd_export,
    "play": cmd_play,
    "sweep": cmd_sweep,
    "compare": cmd_compare,
}
