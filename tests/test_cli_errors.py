"""A user's mistake is one line naming it, exit code 2, no traceback; every option explains
itself in ``--help``, with its default."""

from __future__ import annotations

import argparse

import pytest

from streams.cli import _parser, main


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A valid events file, in a folder where ``missing`` and ``folder`` mean what they say."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "events.jsonl").write_text("{}\n")
    (tmp_path / "array.json").write_text("[1, 2]")
    (tmp_path / "event.json").write_text('{"model_id": "m", "features": {"age": 41}}')
    (tmp_path / "folder").mkdir()
    return tmp_path


def run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit:  # argparse's errors leave through sys.exit
        return int(exit.code or 0)


MISTAKES = [
    (["replay", "missing.jsonl"], "missing.jsonl: no such file"),
    (["replay", "folder"], "folder is a directory"),
    (["replay", "events.jsonl", "--profile", "missing.json"], "missing.json: no such file"),
    (["replay", "events.jsonl", "--profile", "folder"], "folder is a directory"),
    (["replay", "events.jsonl", "--labels", "missing.jsonl"], "missing.jsonl: no such file"),
    (["replay", "events.jsonl", "--labels", "folder"], "folder is a directory"),
    (["replay", "events.jsonl", "--dlq", "no/dlq.jsonl"], "the folder no does not exist"),
    (["replay", "events.jsonl", "--dlq", "folder"], "folder is a directory"),
    (["replay", "events.jsonl", "--spec", "missing.json"], "missing.json"),
    (["replay", "events.jsonl", "--spec", "array.json"], "array.json is not a model spec"),
    (["replay", "events.jsonl", "--spec", "event.json"], "feature 'age' must be an object"),
    (["replay", "events.jsonl", "--profile", "array.json"], "array.json is not a Driftline prof"),
    (["replay", "events.jsonl", "--profile", "event.json"], "event.json is not a Driftline prof"),
    (["report", "events.jsonl", "--out", "r", "--profile", "array.json"], "array.json is not a"),
    (["profile", "missing.csv", "--model-id", "m"], "missing.csv: no such file"),
    (["profile", "folder", "--model-id", "m"], "folder is a directory"),
    (["simulate", "--out", "no/events.jsonl"], "the folder no does not exist"),
    (["simulate", "--out", "folder"], "folder is a directory"),
    (["simulate", "--out", "x.jsonl", "--scenario", "garbage"], "'garbage' is not name=value"),
    (["simulate", "--out", "x.jsonl", "--scenario", "kind=abrupt,start=a"], "start='a' is not"),
    (["simulate", "--out", "x.jsonl", "--scenario", "kind=wild"], "kind must be one of"),
    (["simulate", "--out", "x.jsonl", "--scenario", "start=5"], "kind=... is missing"),
    (["replay"], "required: events"),
]


@pytest.mark.parametrize(("argv", "problem"), MISTAKES, ids=[" ".join(m[0]) for m in MISTAKES])
def test_a_mistake_is_one_line_and_exit_code_2(files, capsys, argv, problem):
    assert run(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert problem in err and "Traceback" not in err


def _options(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                yield from ((f"{name} {label}", a, command) for label, a, _ in _options(command))
        elif not isinstance(action, argparse._HelpAction):
            yield (action.option_strings or [action.dest])[0], action, parser


def test_every_option_has_help_and_its_default_is_shown():
    options = list(_options(_parser()))
    assert len(options) > 25  # the walk reached the commands' options
    for label, action, parser in options:
        assert action.help, f"{label} has no help"
        text = " ".join(parser.format_help().split())
        default = action.default
        if default not in (None, [], False) and not isinstance(default, bool):
            assert f"default: {default}" in text, f"{label}'s default {default!r} is not shown"
