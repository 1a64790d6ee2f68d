"""The ``UNSET`` sentinel: an omitted field, as opposed to an explicit JSON ``null``."""

from __future__ import annotations

import enum
from typing import Final, Literal, TypeAlias


class UnsetType(enum.Enum):
    """Type of :data:`UNSET`; a one-member enum so type checkers can narrow on ``is UNSET``."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


#: Default of every optional field: the field is absent from the wire JSON.
#: ``None`` is different: it is sent as an explicit JSON ``null``.
UNSET: Final = UnsetType.UNSET

#: Annotation helper: ``str | None | Unset`` reads "may be omitted, may be null".
Unset: TypeAlias = Literal[UnsetType.UNSET]
