"""``poleax train --help``: grouped settings, examples at the end, per-env defaults only where
they differ from the algorithm's."""

from __future__ import annotations

import shlex

from poleax.cli import TRAIN_EXAMPLES, TRAIN_GROUPS, build_parser


def _train_help() -> str:
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    return train.format_help()


def test_train_help_prints_its_groups_in_order_then_the_examples():
    text = _train_help()
    titles = [title for title, _ in TRAIN_GROUPS.values()]
    places = [text.index(f"\n{title}:\n") for title in titles]
    assert places == sorted(places)
    assert text.index("\nexamples:\n") > places[-1]
    assert "poleax train --resume runs/RUN" in text


def test_every_flag_sits_in_the_group_named_for_it():
    text = _train_help()
    for title, names in TRAIN_GROUPS.values():
        section = text.split(f"\n{title}:\n", 1)[1].split("\n\n", 1)[0]
        for name in names:
            assert "--" + name.replace("_", "-") in section, (name, title)


def test_per_env_defaults_appear_only_where_they_differ():
    text = " ".join(_train_help().split("\noptions:\n", 1)[1].split())
    # gamma: 0.99 is PPO's default and MountainCar-v0's tuned value alike; Pendulum's differs.
    gamma = text.split("--gamma GAMMA", 1)[1].split("--gae-lambda", 1)[0]
    assert "Pendulum-v1 0.9" in gamma and "MountainCar-v0" not in gamma
    env = text.split("--env ENV", 1)[1].split("--algo", 1)[0]
    assert "(default: CartPole-v0)" in env and " on " not in env


def test_every_example_in_the_help_parses():
    examples = [
        line.split("  ")[1] if line.startswith("  poleax") else None
        for line in TRAIN_EXAMPLES.splitlines()
    ]
    commands = [shlex.split(e.strip()) for e in examples if e]
    assert len(commands) >= 6
    for words in commands:
        assert words[:2] == ["poleax", "train"]
        build_parser().parse_args(words[1:])  # a bad flag exits with status 2
