"""The tokens of a worker's saves of each model, and what another token Redis holds means.

A token is the writer's id and a count (``new``). Each model's is read with its fence
(``read``: another worker's save, or none) and replaced by each save of this worker's
(``wrote``). A save expects its model's token, so Redis holding another one refuses it;
that other token is:

- none (''): the model's keys are gone (``AppliedOffsets`` saves it again whole);
- an earlier save of this writer's, or, once this worker has saved the model, the save it
  read the model at or an earlier one of that writer's: Redis went back past this worker's
  saves (it restarted from a persistence file behind its last writes, or a replica was
  promoted before it had them), and the model is saved again whole too (``went_back``);
- else another worker's save since: the model was taken over.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Collection

__all__ = ["SaveTokens"]


class SaveTokens:
    """This writer's id, and each model's last save token as read or written here."""

    def __init__(self) -> None:
        self.writer_id = secrets.token_hex(8)
        self._count = itertools.count()
        self._last: dict[str, str] = {}
        self._read: dict[str, str] = {}

    def new(self) -> str:
        """The token of a save (one for every retry of it)."""
        return f"{self.writer_id}.{next(self._count)}"

    def read(self, model_id: str, token: str) -> None:
        """The token read with the model's fence ('' for none)."""
        self._last[model_id] = self._read[model_id] = token

    def wrote(self, model_id: str, token: str) -> None:
        """The token of the model's save written here, or the one a save of it is to expect."""
        self._last[model_id] = token

    def last(self, model_id: str) -> str | None:
        """The token the model's next save expects; None if unknown here."""
        return self._last.get(model_id)

    def forget(self, models: Collection[str] | None = None) -> None:
        """Forget ``models`` (all, with None): their tokens are read again."""
        for known in (self._last, self._read):
            if models is None:
                known.clear()
            for model_id in models or ():
                known.pop(model_id, None)

    def went_back(self, model_id: str, stored: str) -> bool:
        """Whether ``stored``, the token Redis holds of the model, is Redis gone back past
        this worker's saves of it (see the module's docstring)."""
        last = self._last.get(model_id)
        if not stored or stored == last:
            return False
        if self.is_own(stored):
            return True
        read = self._read.get(model_id)
        if not read or last is None or not self.is_own(last):
            return False
        return _not_after(stored, read)

    def is_own(self, token: str) -> bool:
        return token.startswith(self.writer_id)


def _not_after(token: str, than: str) -> bool:
    """Whether ``token`` is ``than`` or an earlier save of its writer's.

    >>> _not_after("a.3", "a.7"), _not_after("a.8", "a.7"), _not_after("b.1", "a.7")
    (True, False, False)
    """
    writer, _, count = token.rpartition(".")
    than_writer, _, than_count = than.rpartition(".")
    if writer != than_writer or not (count.isdecimal() and than_count.isdecimal()):
        return token == than
    return int(count) <= int(than_count)
