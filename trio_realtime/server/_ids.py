"""Server-made identifiers: a prefix, an underscore and 21 alphanumerics (section 8).

``event_C9G5RJeJ2gF77mV7f2B1j``, ``sess_…``, ``conv_…``, ``item_…``, ``resp_…``, ``call_…``.
Ids are opaque to clients; the reference server only promises the shape and that no id
repeats within a connection.
"""

from __future__ import annotations

import os
import random
import string
from typing import Final

__all__ = ["ID_ALPHABET", "ID_LENGTH", "IdFactory"]

ID_ALPHABET: Final = string.ascii_letters + string.digits
"""The 62 characters of the random part."""
ID_LENGTH: Final = 21
"""Characters in the random part."""

#: The generator of unseeded factories, seeded from the OS's entropy (again in a forked child,
#: so that parent and child do not make the same ids).
_SHARED: Final = random.Random()
os.register_at_fork(after_in_child=_SHARED.seed)


class IdFactory:
    """Makes the ids of one connection.

    Seeded, the sequence is reproducible (tests, recordings); unseeded, it is seeded from the
    OS's entropy. Ids are not secrets, so :mod:`random` is fine and far faster than
    :mod:`secrets`.

    The random part has 62**21 (about 4e37) values, so the chance that a connection ever sees
    a repeat is below 1e-25 even after a million ids; the factory therefore keeps no record
    of what it made (a long session sends hundreds of thousands of events, and 200 sessions
    share one process). Where a repeat *would* matter because the other side also makes ids,
    namely client-chosen item ids, the conversation checks for it.

    Unseeded factories share one generator: a generator's state is 2.5 KiB, paid per
    connection otherwise.

    Args:
        seed: Seed for a reproducible sequence; ``None`` for a random one.
    """

    __slots__ = ("_choices",)

    def __init__(self, seed: int | None = None) -> None:
        self._choices = (_SHARED if seed is None else random.Random(seed)).choices

    def new(self, prefix: str) -> str:
        """A fresh id: ``prefix`` + ``"_"`` + 21 alphanumerics."""
        return prefix + "_" + "".join(self._choices(ID_ALPHABET, k=ID_LENGTH))
