"""The ``driftline`` argument parser's conventions: one-line errors, defaults in help, paths
checked before a command starts.

A user's mistake (a missing file, a directory given for a file, an unknown choice) is one
line on stderr naming the problem, and exit code 2: never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path
from typing import NoReturn, TypeAlias

from streams.env_reader import variable
from streams.settings import Settings

__all__ = [
    "USAGE_ERROR",
    "CliParser",
    "Commands",
    "field_default",
    "from_setting",
    "input_file",
    "output_file",
]

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


# What ``add_subparsers`` returns; each ``add_<command>`` adds its command to it.
Commands: TypeAlias = "argparse._SubParsersAction[CliParser]"


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


def from_setting(name: str) -> str:
    """``default: DRIFTLINE_<NAME>, else <its default>``, for the help of a flag that
    overrides a setting."""
    return f"default: {variable(name)}, else {field_default(Settings, name)}"


def field_default(cls: type, name: str) -> object:
    """The default of dataclass field ``name``, shown in help, written only in ``cls``."""
    (spec,) = [spec for spec in fields(cls) if spec.name == name]
    return spec.default


def add_judging_options(command: argparse.ArgumentParser) -> None:
    """What ``replay`` and ``report`` share: the models' specs and profiles, the window and
    the reference size (flags default to None: the setting holds unless given)."""
    command.add_argument(
        "--spec", type=Path, action="append", default=[],
        help="model spec file or folder (repeatable; default: none, and DRIFTLINE_SPECS_DIR if "
        "set); models without one are inferred from their first events",
    )  # fmt: skip
    command.add_argument(
        "--profile", type=input_file, action="append", default=[],
        help="reference profile from `driftline profile` (repeatable); others are learned",
    )  # fmt: skip
    command.add_argument(
        "--window", type=int, dest="window_events",
        help=f"events per window ({from_setting('window_events')})",
    )  # fmt: skip
    command.add_argument(
        "--reference-events", type=int,
        help=f"events that form the reference ({from_setting('reference_events')})",
    )  # fmt: skip
