"""Config files shipped as package data in ``streams/stack/resources``."""

from __future__ import annotations

from importlib import resources
from string import Template


def read(name: str) -> str:
    """Return the text of resource ``name``."""
    return resources.files("streams.stack").joinpath("resources", name).read_text("utf-8")


def render(name: str, **values: object) -> str:
    """Return resource ``name`` with its ``$placeholders`` filled in.

    Raises
    ------
    KeyError
        If the template uses a placeholder missing from ``values``.
    """
    return Template(read(name)).substitute({k: str(v) for k, v in values.items()})
