"""Credentials: where a client puts its API key, and whether the server accepts it.

Sans-I/O. The live service checked credentials *after* the WebSocket upgrade and reported a
failure in-band: one ``error`` event, then close code 3000 (server-behaviour.md section 2).
This module finds the key (``Authorization: Bearer`` header, or the browser subprotocol
``openai-insecure-api-key.<KEY>``; the header wins when both are present), checks it in
constant time against every configured key, and describes the failure; the shell sends it.

Keys are secrets: nothing here puts a key into an exception, a log record or a ``repr``. The
one place a fragment appears is the ``invalid_api_key`` message the client itself receives,
which shows the last four characters of the rejected key, as the live service did, and only
for keys long enough that four characters say little about them.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from typing import ClassVar, Final, Literal, final

import attrs

__all__ = [
    "AUTH_CLOSE_CODE",
    "KEY_SUBPROTOCOL_PREFIX",
    "ApiKeys",
    "AuthFailure",
    "Credential",
    "find_credential",
    "mask_key",
]

AUTH_CLOSE_CODE: Final = 3000
"""Close code after an authentication failure."""
KEY_SUBPROTOCOL_PREFIX: Final = "openai-insecure-api-key."
"""Browser clients put their key in a subprotocol with this prefix."""
_MISSING_MESSAGE: Final = "Missing bearer or basic authentication in header"
_INVALID_MESSAGE: Final = (
    "Incorrect API key provided: {masked}. "
    "You can find your API key at https://platform.openai.com/account/api-keys."
)
#: Keys this short are shown as ``****`` alone: four characters would be most of them.
_MIN_LENGTH_TO_SHOW_SUFFIX: Final = 12


@final
@attrs.frozen(kw_only=True, repr=False)
class Credential:
    """The key a client presented, and where.

    Attributes:
        key: The API key. Never shown in a ``repr``.
        source: ``"header"`` (``Authorization: Bearer``) or ``"subprotocol"``.
    """

    key: str
    source: Literal["header", "subprotocol"]

    def __repr__(self) -> str:
        return f"Credential(key={mask_key(self.key)!r}, source={self.source!r})"


@final
@attrs.frozen(kw_only=True)
class AuthFailure:
    """Why a connection is refused: the ``error`` event's fields and the close frame's.

    Attributes:
        code: ``error.code``: ``"invalid_api_key"``, or ``None`` for missing credentials.
        message: ``error.message``.
        close_reason: The close frame's reason, ``<error.type>[.<error.code>]``.
        close_code: Always 3000.
    """

    code: str | None
    message: str
    close_reason: str
    close_code: int = AUTH_CLOSE_CODE

    #: ``error.type`` of both failures.
    error_type: ClassVar[str] = "invalid_request_error"


def mask_key(key: str) -> str:
    """``****`` plus the key's last four characters (``****`` alone for short keys)."""
    return "****" + (key[-4:] if len(key) >= _MIN_LENGTH_TO_SHOW_SUFFIX else "")


def find_credential(
    headers: Sequence[tuple[str, str]], subprotocols: Sequence[str]
) -> Credential | None:
    """The key in the handshake, if any.

    Args:
        headers: Request headers as ``(name, value)``; names are compared case-insensitively.
        subprotocols: The offered ``Sec-WebSocket-Protocol`` tokens, in order.

    Returns:
        The ``Authorization: Bearer`` key when there is a non-empty one, else the first
        non-empty ``openai-insecure-api-key.<KEY>`` subprotocol's key, else ``None``.
    """
    for name, value in headers:
        if name.lower() == "authorization":
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return Credential(key=token.strip(), source="header")
    for token in subprotocols:
        if token.startswith(KEY_SUBPROTOCOL_PREFIX) and len(token) > len(KEY_SUBPROTOCOL_PREFIX):
            return Credential(key=token[len(KEY_SUBPROTOCOL_PREFIX) :], source="subprotocol")
    return None


@final
class ApiKeys:
    """The keys a server accepts.

    Args:
        keys: The accepted keys, or ``None`` to accept any non-empty key (the offline
            default: tests and demos pass whatever key their client was given).

    Raises:
        ValueError: ``keys`` is empty or holds an empty key. (Pass ``None`` to accept any key;
            an empty set would refuse every client, which is never what was meant.)
    """

    __slots__ = ("_keys",)

    def __init__(self, keys: Iterable[str] | None = None) -> None:
        if keys is None:
            self._keys: tuple[bytes, ...] | None = None
            return
        encoded = tuple(k.encode("utf-8") for k in keys)
        if not encoded:
            raise ValueError("api_keys is empty; pass None to accept any key")
        if not all(encoded):
            raise ValueError("api_keys holds an empty key")
        self._keys = encoded

    def __repr__(self) -> str:
        return "ApiKeys(any)" if self._keys is None else f"ApiKeys(<{len(self._keys)} keys>)"

    @property
    def accepts_any(self) -> bool:
        """Whether any non-empty key is accepted."""
        return self._keys is None

    def is_valid(self, key: str) -> bool:
        """Whether ``key`` is accepted, compared in constant time against every key."""
        if self._keys is None:
            return bool(key)
        candidate = key.encode("utf-8")
        valid = False
        # No early exit: the time taken does not depend on which key (if any) matched.
        for accepted in self._keys:
            valid |= hmac.compare_digest(candidate, accepted)
        return valid

    def check(self, credential: Credential | None) -> AuthFailure | None:
        """``None`` if ``credential`` is accepted, else how to refuse the connection."""
        if credential is None:
            return AuthFailure(
                code=None, message=_MISSING_MESSAGE, close_reason=AuthFailure.error_type
            )
        if self.is_valid(credential.key):
            return None
        return AuthFailure(
            code="invalid_api_key",
            message=_INVALID_MESSAGE.format(masked=mask_key(credential.key)),
            close_reason=f"{AuthFailure.error_type}.invalid_api_key",
        )
