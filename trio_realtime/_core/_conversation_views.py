"""Read-only live views of a :class:`~trio_realtime.Conversation`'s items, parts and responses.

:class:`ItemView`, :class:`ContentPartView` and :class:`ResponseView` are *live*: the
conversation updates them in place as events arrive, and reading a property always shows the
current state. Only the conversation creates them; their public surface is read-only
properties. Text arrives as a list of chunks and is joined on first read (then kept joined),
so a delta costs one list append, never a string concatenation.
"""

from __future__ import annotations

import binascii
from collections import deque
from collections.abc import Mapping
from typing import Any, TypeAlias, final

from ._codec import pack, unpack
from ._events import Response as WireResponse
from ._events import (
    ResponseStatusDetails,
    TranscriptionDurationUsage,
    TranscriptionError,
    TranscriptionTokenUsage,
    Usage,
)

#: The ``usage`` of a completed input transcription, as decoded.
TranscriptionUsage: TypeAlias = (
    TranscriptionTokenUsage | TranscriptionDurationUsage | dict[str, Any]
)

__all__ = ["ContentPartView", "ItemView", "ResponseView", "TranscriptionUsage"]


def _joined(chunks: list[str]) -> str:
    """Join ``chunks`` and keep the result as the only chunk, so later reads are O(1)."""
    if len(chunks) == 1:
        return chunks[0]
    text = "".join(chunks)
    chunks[:] = [text] if text else []
    return text


def b64_decoded_len(text: str) -> int:
    """Bytes a base64 string decodes to, computed without decoding it."""
    pad = 2 if text.endswith("==") else 1 if text.endswith("=") else 0
    return max(0, len(text) * 3 // 4 - pad)


def _chunk_len(chunk: bytes | str) -> int:
    return len(chunk) if isinstance(chunk, bytes) else b64_decoded_len(chunk)


def _decode_chunk(text: str) -> bytes:
    """Decode a held base64 delta; one that proves invalid reads as silence of its length.

    The conversation screens deltas cheaply when they arrive (their length); a delta that
    passes that screen but is not base64 is so rare a server fault that keeping the item's
    duration right matters more than its bytes.
    """
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        return bytes(b64_decoded_len(text))


@final
class ContentPartView:
    """One content part of an item, live.

    Created only by :class:`~trio_realtime.Conversation`. Assistant parts are ``text`` or
    ``audio``; user parts are ``input_text`` or ``input_audio``.
    """

    __slots__ = (
        "_audio_end",
        "_audio_received",
        "_bpm",
        "_cap",
        "_chunks",
        "_done",
        "_format",
        "_held",
        "_index",
        "_text",
        "_transcript",
        "_transcription_error",
        "_transcription_status",
        "_transcription_usage",
        "_truncate_limit_ms",
        "_truncated_ms",
        "_type",
    )

    def __init__(self, index: int, type: str | None, fmt: str, bpm: int, cap: int | None) -> None:
        self._index = index
        self._type = type
        self._text: list[str] | None = None  # made by the first text: audio parts have none
        self._transcript: list[str] | None = None
        # Audio held: raw bytes, or base64 text not decoded yet (deltas are decoded only when
        # the audio is read: most sessions never read most of it). Only the last ``_cap``
        # bytes are kept.
        self._chunks: deque[bytes | str] | None = None  # made when audio is first kept
        self._held = 0  # bytes in ``_chunks``
        self._audio_end = 0  # bytes of audio the server holds for this part (after truncation)
        self._audio_received = 0  # bytes of audio received by deltas, ever
        self._done = False
        self._format = fmt
        self._bpm = bpm
        self._cap = cap  # bytes of audio kept, None for all
        self._truncated_ms: int | None = None
        self._truncate_limit_ms: int | None = None  # smallest truncate the client sent
        self._transcription_status: str | None = None
        self._transcription_error: TranscriptionError | None = None
        self._transcription_usage: TranscriptionUsage | None = None

    def __repr__(self) -> str:
        return (
            f"<ContentPartView {self._index} {self._type!r}, {self._kept_len()} audio bytes kept>"
        )

    # --- internal mutation (used by the conversation) ----------------------------------------

    def _add_audio(self, data: bytes | str, n: int | None = None) -> None:
        """Add an audio delta, raw or as base64 text of ``n`` bytes: one deque append.

        Whole chunks are dropped once the rest still holds the last ``_cap`` bytes.
        """
        if n is None:
            n = len(data)
        self._audio_received += n
        self._audio_end += n
        cap = self._cap
        if cap == 0:
            return
        chunks = self._chunks
        if chunks is None:
            chunks = self._chunks = deque()
        chunks.append(data)
        held = self._held + n
        if cap is not None and held > cap:
            first = _chunk_len(chunks[0])
            while held - first >= cap:  # the other chunks still hold the last ``cap`` bytes
                chunks.popleft()
                held -= first
                first = _chunk_len(chunks[0])
        self._held = held

    def _count_audio(self, nbytes: int) -> None:
        """Count audio that is not kept (``keep_audio_seconds=0``)."""
        self._audio_received += nbytes
        self._audio_end += nbytes

    def _joined_audio(self) -> bytes:
        """Every byte held, as one chunk (compacting the deque)."""
        chunks = self._chunks
        if not chunks:
            return b""
        if len(chunks) == 1 and type(chunks[0]) is bytes:
            return chunks[0]
        data = b"".join([c if isinstance(c, bytes) else _decode_chunk(c) for c in chunks])
        chunks.clear()
        chunks.append(data)
        return data

    def _kept_audio(self) -> bytes:
        data = self._joined_audio()
        cap = self._cap
        return data[len(data) - cap :] if cap is not None and len(data) > cap else data

    def _kept_len(self) -> int:
        cap = self._cap
        return self._held if cap is None or self._held < cap else cap

    def _set_audio(self, data: bytes) -> None:
        """Replace the audio with the server's copy (``input_audio`` of a retrieved item)."""
        self._audio_end = len(data)
        cap = self._cap
        if cap is not None and len(data) > cap:
            data = data[len(data) - cap :]
        self._chunks = deque((data,)) if data else None
        self._held = len(data)

    def _truncate(self, audio_end_ms: int) -> None:
        end = audio_end_ms * self._bpm
        if end < self._audio_end:
            cut = self._audio_end - end
            data = self._joined_audio()
            self._chunks = deque((data[: len(data) - cut],)) if cut < len(data) else None
            self._held = max(0, len(data) - cut)
            self._audio_end = end
        self._transcript = None
        self._truncated_ms = audio_end_ms

    # --- public read API ---------------------------------------------------------------------

    @property
    def index(self) -> int:
        """The part's ``content_index`` within its item."""
        return self._index

    @property
    def type(self) -> str | None:
        """``"text"``, ``"audio"``, ``"input_text"``, ``"input_audio"``, or ``None`` if unknown."""
        return self._type

    @property
    def text(self) -> str:
        """The part's text (``text`` and ``input_text`` parts); ``""`` when it has none."""
        return _joined(self._text) if self._text else ""

    @property
    def transcript(self) -> str | None:
        """The transcript of the part's audio.

        For an assistant ``audio`` part, the transcript streamed with the audio; ``None`` once
        the part is truncated (the server drops it). For a user ``input_audio`` part, the input
        transcription (see :attr:`ItemView.input_transcript`). ``None`` when there is none.
        """
        return None if self._transcript is None else _joined(self._transcript)

    @property
    def audio(self) -> bytes:
        """The audio kept for this part: raw bytes in :attr:`audio_format`.

        With ``keep_audio_seconds`` set, only the last seconds are kept; cut by truncation.
        """
        return self._kept_audio()

    @property
    def audio_format(self) -> str:
        """The format of :attr:`audio`: ``"pcm16"``, ``"g711_ulaw"`` or ``"g711_alaw"``."""
        return self._format

    @property
    def audio_received_ms(self) -> float:
        """Milliseconds of assistant audio received in deltas, whatever was kept or truncated."""
        return self._audio_received / self._bpm

    @property
    def audio_ms(self) -> float:
        """Milliseconds of audio the server holds for this part (received, cut by truncation)."""
        return self._audio_end / self._bpm

    @property
    def done(self) -> bool:
        """Whether the part's final values arrived (``content_part.done``, or its item ended)."""
        return self._done

    @property
    def truncated_at_ms(self) -> int | None:
        """The ``audio_end_ms`` of the last ``conversation.item.truncated``, or ``None``."""
        return self._truncated_ms

    @property
    def transcription_status(self) -> str | None:
        """Input transcription: ``None`` (none yet), ``"in_progress"``, ``"completed"``, ``"failed"``."""
        return self._transcription_status

    @property
    def transcription_error(self) -> TranscriptionError | None:
        """The error of ``conversation.item.input_audio_transcription.failed``, if any."""
        return self._transcription_error

    @property
    def transcription_usage(self) -> TranscriptionUsage | None:
        """The ``usage`` of ``…input_audio_transcription.completed`` (``None`` until then)."""
        return self._transcription_usage


@final
class ItemView:
    """One conversation item (message, function call or function call output), live.

    Created only by :class:`~trio_realtime.Conversation`. Items of out-of-band responses are
    views too, reachable from :attr:`ResponseView.output`, with :attr:`in_conversation` false.
    """

    __slots__ = (
        "_arguments",
        "_call_id",
        "_deleted",
        "_done",
        "_id",
        "_in_conversation",
        "_name",
        "_output",
        "_parts",
        "_response",
        "_role",
        "_status",
        "_type",
    )

    def __init__(self, item_id: str) -> None:
        self._id = item_id
        self._type: str | None = None
        self._role: str | None = None
        self._status: str | None = None
        self._parts: list[ContentPartView] = []
        self._call_id: str | None = None
        self._name: str | None = None
        self._arguments: list[str] | None = None  # made by the first arguments delta
        self._output: str | None = None
        self._response: ResponseView | None = None
        self._in_conversation = False
        self._deleted = False
        self._done = False

    def __repr__(self) -> str:
        where = "deleted" if self._deleted else "in" if self._in_conversation else "out of"
        return f"<ItemView {self._id!r} {self._type} {self._role} {self._status}, {where} conversation>"

    @property
    def id(self) -> str:
        """The item id."""
        return self._id

    @property
    def type(self) -> str | None:
        """``"message"``, ``"function_call"`` or ``"function_call_output"`` (``None`` if unknown)."""
        return self._type

    @property
    def role(self) -> str | None:
        """``"user"``, ``"assistant"`` or ``"system"`` for messages, else ``None``."""
        return self._role

    @property
    def status(self) -> str | None:
        """``"in_progress"``, ``"completed"`` or ``"incomplete"``, as last reported."""
        return self._status

    @property
    def parts(self) -> tuple[ContentPartView, ...]:
        """The content parts, by ``content_index`` (empty for function items)."""
        return tuple(self._parts)

    @property
    def text(self) -> str:
        """The text of the ``text`` and ``input_text`` parts, joined (``""`` when none)."""
        return "".join(p.text for p in self._parts if p._text)

    @property
    def transcript(self) -> str | None:
        """The transcript of the assistant audio; ``None`` without audio or once truncated."""
        found = [p.transcript for p in self._parts if p._type == "audio"]
        texts = [t for t in found if t is not None]
        return "".join(texts) if texts else None

    @property
    def input_transcript(self) -> str | None:
        """The user audio's transcript: partial while deltas stream, ``None`` before any.

        Transcripts are attributed by ``item_id``, so one that arrives after the reply, or
        before the item itself, still lands here.
        """
        found = [p.transcript for p in self._parts if p._type == "input_audio"]
        texts = [t for t in found if t is not None]
        return "".join(texts) if texts else None

    @property
    def input_transcription_status(self) -> str | None:
        """``None``, ``"in_progress"``, ``"completed"`` or ``"failed"`` (first audio part)."""
        for p in self._parts:
            if p._transcription_status is not None:
                return p._transcription_status
        return None

    @property
    def audio(self) -> bytes:
        """The audio kept for the item (assistant output, or retrieved user audio)."""
        return b"".join(p._kept_audio() for p in self._parts if p._held)

    @property
    def audio_format(self) -> str | None:
        """The format of the first audio part, or ``None`` when the item has no audio part."""
        for p in self._parts:
            if p._type in ("audio", "input_audio"):
                return p._format
        return None

    @property
    def audio_received_ms(self) -> float:
        """Milliseconds of assistant audio received for this item, independent of what is kept."""
        return sum(p._audio_received / p._bpm for p in self._parts)

    @property
    def audio_ms(self) -> float:
        """Milliseconds of audio the server holds for the item (received, cut by truncation)."""
        return sum(p._audio_end / p._bpm for p in self._parts)

    @property
    def truncated_at_ms(self) -> int | None:
        """Where the item's audio was truncated, or ``None`` if it never was."""
        for p in self._parts:
            if p._truncated_ms is not None:
                return p._truncated_ms
        return None

    @property
    def call_id(self) -> str | None:
        """The ``call_id`` of a function call or function call output."""
        return self._call_id

    @property
    def name(self) -> str | None:
        """The function name of a function call."""
        return self._name

    @property
    def arguments(self) -> str:
        """A function call's JSON arguments: the deltas so far, then the ``.done`` value."""
        return _joined(self._arguments) if self._arguments else ""

    @property
    def output(self) -> str | None:
        """A function call output's ``output``."""
        return self._output

    @property
    def response_id(self) -> str | None:
        """The id of the response that produced the item (``None`` for client or user items)."""
        return None if self._response is None else self._response._id

    @property
    def in_conversation(self) -> bool:
        """Whether the item is in the default conversation now (not deleted, not out-of-band)."""
        return self._in_conversation

    @property
    def deleted(self) -> bool:
        """Whether ``conversation.item.deleted`` removed the item."""
        return self._deleted

    @property
    def done(self) -> bool:
        """Whether the item is complete (``response.output_item.done`` seen, or not an output)."""
        return self._done


@final
class ResponseView:
    """One response, live, from ``response.created`` (or its first sign) to ``response.done``.

    Created only by :class:`~trio_realtime.Conversation`.
    """

    __slots__ = ("_audio_format", "_counted", "_id", "_output", "_packed", "_wire")

    def __init__(self, response_id: str, wire: WireResponse, audio_format: str) -> None:
        self._id = response_id
        self._wire: WireResponse | None = wire  # None once finished: see _finish
        self._packed = ""  # the final wire Response, once done
        self._audio_format = audio_format  # fixed when the response starts
        self._output: list[ItemView] = []
        self._counted: tuple[int, ...] | None = None  # the usage added to the totals

    def _update(self, wire: WireResponse) -> None:
        """A newer wire ``Response`` of a running response (a second ``response.created``)."""
        self._wire = wire

    def _finish(self, wire: WireResponse) -> None:
        """Keep the final wire ``Response`` (from ``response.done``) packed as JSON text.

        A finished response is kept as long as the conversation, and its wire form is some
        nine objects the garbage collector tracks (the response, its output items, their
        content, the usage and its details, two lists). Every one of them kept makes the next
        young collection come sooner, and a session finishes a response every few seconds;
        a string is not tracked. Packing costs 3 us, and reading :attr:`raw` (or the fields
        drawn from it) unpacks an equal value in about 10 us.
        """
        self._packed = pack(wire)
        self._wire = None

    @property
    def _response(self) -> WireResponse:
        wire = self._wire
        return wire if wire is not None else unpack(self._packed, WireResponse)

    def __repr__(self) -> str:
        kind = "out-of-band" if self.out_of_band else "default conversation"
        return f"<ResponseView {self._id!r} {self.status}, {kind}, {len(self._output)} items>"

    @property
    def id(self) -> str:
        """The response id."""
        return self._id

    @property
    def status(self) -> str | None:
        """``"in_progress"``, then ``"completed"``, ``"cancelled"``, ``"incomplete"`` or ``"failed"``;
        ``"interrupted"`` (the client's own) when the connection was lost while it ran."""
        status = self._response.status
        return status if isinstance(status, str) else None

    @property
    def status_details(self) -> ResponseStatusDetails | None:
        """Why the response ended as it did (``reason`` ``turn_detected``, ...), or ``None``."""
        details = self._response.status_details
        return details if isinstance(details, ResponseStatusDetails) else None

    @property
    def done(self) -> bool:
        """Whether ``response.done`` has been seen."""
        return bool(self._packed)

    @property
    def usage(self) -> Usage | None:
        """The response's usage (from ``response.done``), or ``None``."""
        if not self._packed:
            return None  # usage comes with response.done
        usage = unpack(self._packed, WireResponse).usage
        return usage if isinstance(usage, Usage) else None

    @property
    def metadata(self) -> Mapping[str, str] | None:
        """The ``metadata`` given in ``response.create``, echoed by the server."""
        metadata = self._response.metadata
        return metadata if isinstance(metadata, dict) else None

    @property
    def conversation_id(self) -> str | None:
        """The conversation the response writes to; ``None`` for an out-of-band response."""
        cid = self._response.conversation_id
        return cid if isinstance(cid, str) else None

    @property
    def out_of_band(self) -> bool:
        """Whether the response is out-of-band (``conversation: "none"``, null conversation id).

        Its items are not in :attr:`Conversation.items`; read them from :attr:`output`.
        """
        return self._response.conversation_id is None

    @property
    def output_audio_format(self) -> str:
        """The format of the response's audio.

        The response's own ``output_audio_format`` when the server gave one, else the
        session's when the response started (a running response keeps its settings).
        """
        return self._audio_format

    @property
    def modalities(self) -> tuple[str, ...] | None:
        """The response's modalities, when the server gave them."""
        modalities = self._response.modalities
        return tuple(modalities) if isinstance(modalities, list) else None

    @property
    def output(self) -> tuple[ItemView, ...]:
        """The response's output items, by ``output_index``."""
        return tuple(self._output)

    @property
    def output_item_ids(self) -> tuple[str, ...]:
        """The ids of :attr:`output`."""
        return tuple(item._id for item in self._output)

    @property
    def raw(self) -> WireResponse:
        """The last wire ``Response`` seen (from ``response.created`` or ``.done``).

        Once the response is done this is unpacked anew on each read: an equal value, not
        the same object (see :class:`~trio_realtime.Conversation` on memory).
        """
        return self._response
