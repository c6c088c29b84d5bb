"""The ``driftline`` argument parser's conventions: one-line errors, defaults in help, paths
checked before a command starts.

A user's mistake (a missing file, a directory given for a file, an unknown choice) is one
line on stderr naming the problem, and exit code 2: never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

__all__ = ["USAGE_ERROR", "CliParser", "input_file", "output_file"]

#: The exit code of a user error (argparse's own).
USAGE_ERROR = 2


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default unless it has none worth showing (None, False, [])."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        default = action.default
        if default is None or isinstance(default, bool) or default == []:
            return action.help
        return super()._get_help_string(action)


class CliParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line, and whose subcommands are the same."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(USAGE_ERROR)


def input_file(text: str) -> Path:
    """An existing, readable file (the ``type`` of a path argument read from).

    >>> input_file("/")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: / is a directory, not a file
    """
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    return path


def output_file(text: str) -> Path:
    """A file that can be created or overwritten: not a directory, in a folder that exists.

    >>> output_file("/no/such/folder/out.jsonl")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: /no/such/folder/out.jsonl: the folder /no/such/folder does not exist
    """
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a file")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: the folder {path.parent} does not exist")
    return path
