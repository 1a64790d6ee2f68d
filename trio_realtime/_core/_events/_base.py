"""Base classes shared by every event and nested object of the wire protocol."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Final

import attrs

from .._unset import UNSET, Unset

#: The shared, immutable "no unknown fields" mapping; every model defaults to it.
NO_EXTRA: Final[Mapping[str, Any]] = MappingProxyType({})


def _short_repr(value: object) -> str:
    """Shorten long strings (base64 audio) in reprs so a log line stays a line."""
    if isinstance(value, str) and len(value) > 48:
        return f"<{len(value)} chars: {value[:24]!r}...>"
    return repr(value)


def _redacted_repr(value: object) -> str:
    return "'***'" if isinstance(value, str) else repr(value)


def short_field(**kwargs: Any) -> Any:
    """An attrs field whose repr is shortened (used for base64 audio fields)."""
    return attrs.field(repr=_short_repr, **kwargs)


def secret_field(**kwargs: Any) -> Any:
    """An attrs field whose value never appears in a repr (ephemeral keys)."""
    return attrs.field(repr=_redacted_repr, **kwargs)


def extra_field() -> Any:
    """The ``extra`` field every model carries: unknown wire fields, kept and re-encoded."""
    return attrs.field(default=NO_EXTRA)


def _model_repr(self: Any) -> str:
    """``Name(field=value, ...)`` listing only the fields that are set, extra last."""
    parts = []
    extra: Mapping[str, Any] = NO_EXTRA
    for field in attrs.fields(type(self)):
        value = getattr(self, field.name)
        if field.name == "extra":
            extra = value
        elif value is not UNSET:
            show = field.repr if callable(field.repr) else repr
            parts.append(f"{field.name}={show(value)}")
    if extra:
        parts.append(f"extra={dict(extra)!r}")
    return f"{type(self).__name__}({', '.join(parts)})"


@attrs.frozen(kw_only=True, repr=False)
class Model:
    """Base of every nested protocol object.

    Attributes:
        extra: Fields the server sent that this version of the library does not know. They are
            kept on decode and written back out on encode, so nothing is lost in a round trip.
    """

    extra: Mapping[str, Any] = extra_field()

    __repr__ = _model_repr


@attrs.frozen(kw_only=True, repr=False)
class Event:
    """Base of every protocol event; ``type`` is a class attribute, never passed by users.

    Attributes:
        extra: Unknown wire fields, kept on decode and written back out on encode.
    """

    type: ClassVar[str]

    extra: Mapping[str, Any] = extra_field()

    __repr__ = _model_repr


@attrs.frozen(kw_only=True, repr=False)
class ClientEvent(Event):
    """Base of the 12 events a client sends.

    Attributes:
        event_id: Optional client-chosen id; the server echoes it in ``error.event_id`` when
            it refuses the event. :meth:`trio_realtime.RealtimeSession.send` fills it in.
    """

    event_id: str | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class ServerEvent(Event):
    """Base of the 35 events a server sends.

    Attributes:
        event_id: The server-made id of this event (``event_`` plus 21 alphanumerics).
    """

    event_id: str


@attrs.frozen(kw_only=True)
class UnknownEvent:
    """An event whose ``type`` this library does not know, kept whole.

    Decoding never fails on a new event type: the raw JSON object is kept here, and
    encoding an ``UnknownEvent`` writes ``raw`` back out unchanged. It can also be used to
    send an event type the library does not model.

    Attributes:
        raw: The whole JSON object, ``type`` included.
    """

    raw: Mapping[str, Any]

    @property
    def type(self) -> str:
        """The wire ``type`` of the event."""
        return str(self.raw["type"])

    @property
    def event_id(self) -> str | None:
        """The event's ``event_id``, or ``None`` when it has none (or not a string)."""
        value = self.raw.get("event_id")
        return value if isinstance(value, str) else None


def encode_audio(pcm: bytes) -> str:
    """Encode raw audio bytes as the base64 text the protocol carries."""
    return base64.b64encode(pcm).decode("ascii")


def decode_audio(audio: str) -> bytes:
    """Decode protocol base64 text to raw audio bytes.

    Raises:
        ValueError: ``audio`` is not valid base64 (strict: no stray characters).
    """
    try:
        return binascii.a2b_base64(audio, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"invalid base64 audio: {exc}") from None
