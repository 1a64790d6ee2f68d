"""The opening handshake, read: path, query, beta marker, subprotocols, credentials.

Sans-I/O: :func:`read_handshake` takes what :mod:`._upgrade` parsed from the HTTP upgrade request
and returns a :class:`Handshake` (safe to keep, log and show: credentials are redacted) plus
the :class:`~._auth.Credential`, if any, which only the auth check ever sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs
import orjson

from ._auth import KEY_SUBPROTOCOL_PREFIX, Credential, find_credential

__all__ = [
    "REALTIME_PATH",
    "Handshake",
    "not_found_body",
    "read_handshake",
    "select_subprotocol",
]

REALTIME_PATH: Final = "/v1/realtime"
"""The one path the server upgrades; any other gets HTTP 404."""
BETA_HEADER_VALUE: Final = "realtime=v1"
BETA_SUBPROTOCOL: Final = "openai-beta.realtime-v1"
REALTIME_SUBPROTOCOL: Final = "realtime"
_REDACTED: Final = "<redacted>"
#: Query parameters whose values are credentials (Azure-style browser URLs carry ``api-key``).
_SECRET_QUERY: Final = frozenset({"api-key", "api_key", "key", "token", "access_token"})
#: Headers whose values are credentials (or may be, behind proxies and Azure gateways).
_SECRET_HEADERS: Final = frozenset(
    {"authorization", "proxy-authorization", "api-key", "cookie", "openai-api-key"}
)


@final
@attrs.frozen(kw_only=True)
class Handshake:
    """What a client sent when it connected, with every credential redacted.

    Attributes:
        target: The request target as sent (path and query string; a key-like query
            parameter such as ``api-key`` reads ``<redacted>``).
        path: The path alone.
        query: The query parameters in order, blank values kept.
        model: The first ``model`` query parameter, if any.
        intent: The first ``intent`` query parameter, if any.
        headers: Request headers with lower-case names; credential values are replaced by
            ``<redacted>`` (an ``Authorization`` header keeps its scheme: ``Bearer <redacted>``).
        subprotocols: The offered subprotocols; a key token reads
            ``openai-insecure-api-key.<redacted>``.
        beta_header: Whether an ``OpenAI-Beta`` header included ``realtime=v1``.
        beta_subprotocol: Whether the ``openai-beta.realtime-v1`` subprotocol was offered.
    """

    target: str
    path: str
    query: tuple[tuple[str, str], ...]
    model: str | None
    intent: str | None
    headers: tuple[tuple[str, str], ...]
    subprotocols: tuple[str, ...]
    beta_header: bool
    beta_subprotocol: bool

    @property
    def beta(self) -> bool:
        """Whether the client asked for the beta protocol, by header or subprotocol."""
        return self.beta_header or self.beta_subprotocol

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)


def read_handshake(
    target: str,
    headers: Sequence[tuple[bytes, bytes]],
    subprotocols: Sequence[str],
) -> tuple[Handshake, Credential | None]:
    """Read an upgrade request.

    Args:
        target: The request target (``/v1/realtime?model=...``).
        headers: The request headers as raw ``(name, value)`` bytes.
        subprotocols: The offered ``Sec-WebSocket-Protocol`` tokens.

    Returns:
        The redacted :class:`Handshake` and the credential found, if any.
    """
    decoded = [(k.decode("latin-1").lower(), v.decode("latin-1").strip()) for k, v in headers]
    credential = find_credential(decoded, subprotocols)
    split = urlsplit(target)
    query = tuple(parse_qsl(split.query, keep_blank_values=True))
    if any(k.lower() in _SECRET_QUERY for k, _v in query):
        # Browser clients of some gateways put the key in the URL; keep it out of the record.
        query = tuple((k, _REDACTED if k.lower() in _SECRET_QUERY else v) for k, v in query)
        target = urlunsplit(split._replace(query=urlencode(query, safe="<>")))
    handshake = Handshake(
        target=target,
        path=split.path,
        query=query,
        model=next((v for k, v in query if k == "model"), None),
        intent=next((v for k, v in query if k == "intent"), None),
        headers=tuple((k, _redact_header(k, v)) for k, v in decoded),
        subprotocols=tuple(_redact_subprotocol(p) for p in subprotocols),
        beta_header=any(
            k == "openai-beta"
            and any(token.strip().lower() == BETA_HEADER_VALUE for token in v.split(","))
            for k, v in decoded
        ),
        beta_subprotocol=BETA_SUBPROTOCOL in subprotocols,
    )
    return handshake, credential


def select_subprotocol(offered: Sequence[str]) -> str | None:
    """The subprotocol to select in the 101: ``realtime`` when offered, else none.

    Never a credential token: a server that echoed ``openai-insecure-api-key.<KEY>`` would
    put the key into every proxy log on the way back.
    """
    return REALTIME_SUBPROTOCOL if REALTIME_SUBPROTOCOL in offered else None


def not_found_body(path: str) -> bytes:
    """The JSON body of the HTTP 404 for a path other than ``/v1/realtime``."""
    error = {
        "message": f"Invalid URL (GET {path})",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    return orjson.dumps({"error": error})


def _redact_header(name: str, value: str) -> str:
    if name not in _SECRET_HEADERS:
        return value
    scheme, sep, _rest = value.partition(" ")
    return f"{scheme} {_REDACTED}" if sep and name.endswith("authorization") else _REDACTED


def _redact_subprotocol(token: str) -> str:
    if token.startswith(KEY_SUBPROTOCOL_PREFIX):
        return KEY_SUBPROTOCOL_PREFIX + _REDACTED
    return token
