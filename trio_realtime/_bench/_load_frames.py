"""The load server's frames: one fixed reply stream per session, stamped at send time.

A session's stream is a run of responses, each ``response_ticks`` ticks of 100 ms long. Every
tick carries one ``response.audio.delta`` (100 ms of 24 kHz PCM16, about 6.6 KB of JSON) and
every second tick one ``response.audio_transcript.delta``: the standard workload's 15 events
per second. A response opens with ``response.created``, ``response.output_item.added``,
``conversation.item.created`` and ``response.content_part.added``, and closes with the four
``*.done`` events and ``response.done``, exactly as the reference server orders them, so a
client that keeps conversation state does its real work on every event.

Frames are built ahead as text *prefixes* ending in ``"server_sent_at":``; the shell appends
the send time (``time.monotonic()``, which on Linux is one clock for every process) and the
closing brace. Deltas are joined from a few shared strings (the base64 audio is encoded once
per server), so the server's cost per event is a string join and a socket write.

A GA client (no beta marker) gets the same stream in the GA dialect: the GA names
(``response.output_audio.delta``...), shapes, and what GA adds (``conversation.item.done``,
:mod:`trio_realtime.server._ga`).

Sans-I/O: no sockets and no clocks.
"""

from __future__ import annotations

import base64
import itertools
import random
import string
from typing import Any, Final, final

from .._core._audio import bytes_for_ms, speech_like
from .._core._dialects import BETA, GA, Dialect
from .._core._dialects._ga_codec import GA_NAMES
from .._core._events import (
    ContentPart,
    ConversationItem,
    ConversationItemCreated,
    Response,
    ResponseAudioDelta,
    ResponseAudioDone,
    ResponseAudioTranscriptDelta,
    ResponseAudioTranscriptDone,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseCreated,
    ResponseDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ServerEvent,
    TokenDetails,
    Usage,
)
from ..server._ga import GaEvents

__all__ = [
    "STAMP_FIELD",
    "TICK_SECONDS",
    "LoadStream",
    "audio_payloads",
    "finish",
]

#: The extra field carrying the server's send time (``time.monotonic()``, seconds).
STAMP_FIELD: Final = "server_sent_at"
#: Seconds between two audio deltas of one session.
TICK_SECONDS: Final = 0.1
_STAMP_KEY: Final = f',"{STAMP_FIELD}":'
#: The delta heads by dialect: ``{"type":"<name>","event_id":"``.
_HEADS: Final[dict[str, tuple[str, str]]] = {
    dialect.name: tuple(  # type: ignore[misc]
        '{"type":"' + name + '","event_id":"'
        for name in (
            names.get(ResponseAudioDelta, ResponseAudioDelta.type),
            names.get(ResponseAudioTranscriptDelta, ResponseAudioTranscriptDelta.type),
        )
    )
    for dialect, names in ((BETA, {}), (GA, GA_NAMES))
}
_DELTA_TAIL: Final = '",' + _STAMP_KEY[1:]
_WORDS: Final = ("Sure, ", "here ", "is ", "a ", "steady ", "stream ", "of ", "words. ")
_ALNUM: Final = string.ascii_letters + string.digits


def audio_payloads(count: int = 10, seed: int = 11) -> tuple[str, ...]:
    """``count`` consecutive 100 ms chunks of speech-like 24 kHz PCM16, base64-encoded."""
    size = bytes_for_ms(TICK_SECONDS * 1000, "pcm16")
    pcm = speech_like(count * TICK_SECONDS * 1000, seed=seed)
    return tuple(base64.b64encode(pcm[i * size : (i + 1) * size]).decode() for i in range(count))


def finish(prefix: str, sent_at: float) -> str:
    """The frame: ``prefix`` with the send time and the closing brace appended."""
    return prefix + repr(sent_at) + "}"


def _assistant_item(item_id: str, status: str, content: list[ContentPart]) -> ConversationItem:
    """The response's one assistant message, as its lifecycle events carry it."""
    return ConversationItem(
        id=item_id,
        object="realtime.item",
        type="message",
        status=status,
        role="assistant",
        content=content,
    )


def _prefix(event: ServerEvent, dialect: Dialect) -> str:
    """The encoded event with its closing brace replaced by the stamp key."""
    text = dialect.encode(event)
    return text[:-1] + _STAMP_KEY


@final
class LoadStream:
    """The frames of one session's stream, tick by tick.

    Args:
        audio: Base64 audio chunks to rotate through (see :func:`audio_payloads`).
        response_ticks: Ticks per response (100 ms each); at least 2.
        seed: Seeds the ids, for reproducible tests; ``None`` for random ones.
        offset: Ticks by which this session's response cycle is shifted (its first response
            is that much shorter).
        dialect: The client's dialect (the beta marker in its handshake decides).
    """

    __slots__ = (
        "_audio",
        "_audio_head",
        "_audio_mid",
        "_dialect",
        "_event_ids",
        "_ga",
        "_item_id",
        "_offset",
        "_prefix",
        "_previous_item",
        "_random",
        "_response_id",
        "_response_ticks",
        "_text_head",
        "_text_mid",
        "_words",
        "responses_started",
    )

    def __init__(
        self,
        audio: tuple[str, ...],
        response_ticks: int = 50,
        seed: int | None = None,
        offset: int = 0,
        dialect: Dialect = BETA,
    ) -> None:
        if response_ticks < 2:
            raise ValueError(f"response_ticks must be >= 2, got {response_ticks}")
        if not audio:
            raise ValueError("audio must hold at least one chunk")
        self._audio = audio
        self._response_ticks = response_ticks
        self._offset = offset % response_ticks
        self._random = random.Random(seed)
        self._prefix = "event_" + self._token(9)
        self._event_ids = itertools.count(1)
        self._previous_item: str | None = None
        self._response_id = self._item_id = ""
        self._audio_mid = self._text_mid = ""
        self._words: list[str] = []
        self.responses_started = 0
        self._dialect = dialect
        self._ga = GaEvents(self._event_id) if dialect is GA else None
        self._audio_head, self._text_head = _HEADS[dialect.name]

    def _token(self, n: int) -> str:
        return "".join(self._random.choices(_ALNUM, k=n))

    def _event_id(self) -> str:
        return self._prefix + str(next(self._event_ids))

    def tick(self, k: int) -> list[str]:
        """The frame prefixes of tick ``k`` (0, 1, 2, ...), in sending order.

        Ticks must be asked for in order. Responses are ``response_ticks`` long, but the
        first one is cut short by ``offset`` ticks, so that sessions given different offsets
        have their response boundaries (the heavier lifecycle events) at different times.
        """
        position = (k + self._offset) % self._response_ticks
        out: list[str] = self._open_response() if position == 0 or k == 0 else []
        out.append(
            self._audio_head
            + self._event_id()
            + self._audio_mid
            + self._audio[k % len(self._audio)]
            + _DELTA_TAIL
        )
        if k % 2 == 0:
            word = _WORDS[(k // 2) % len(_WORDS)]
            self._words.append(word)
            out.append(self._text_head + self._event_id() + self._text_mid + word + _DELTA_TAIL)
        if position == self._response_ticks - 1:
            out += self._close_response()
        return out

    def _open_response(self) -> list[str]:
        self.responses_started += 1
        self._response_id = rid = "resp_" + self._token(21)
        self._item_id = iid = "item_" + self._token(21)
        self._words = []
        ids = f'","response_id":"{rid}","item_id":"{iid}","output_index":0,"content_index":0,'
        self._audio_mid = ids + '"delta":"'
        self._text_mid = ids + '"delta":"'
        item = _assistant_item(iid, "in_progress", [])
        previous, self._previous_item = self._previous_item, iid
        created = ResponseCreated(event_id=self._event_id(), response=self._response([]))
        added = ResponseOutputItemAdded(
            event_id=self._event_id(), response_id=rid, output_index=0, item=item
        )
        conversation = ConversationItemCreated(
            event_id=self._event_id(), item=item, previous_item_id=previous
        )
        part = ResponseContentPartAdded(
            event_id=self._event_id(),
            response_id=rid,
            item_id=iid,
            output_index=0,
            content_index=0,
            part=ContentPart(type="audio", transcript=""),
        )
        return self._frames([created, added, conversation, part])

    def _frames(self, events: list[ServerEvent]) -> list[str]:
        """The prefixes of ``events``, with what GA adds for a GA client."""
        if self._ga is not None:
            events = self._ga.adapt(events)
        return [_prefix(event, self._dialect) for event in events]

    def _response(self, output: list[ConversationItem], usage: Usage | None = None) -> Response:
        return Response(
            id=self._response_id,
            object="realtime.response",
            status="completed" if usage is not None else "in_progress",
            status_details=None,
            output=output,
            metadata=None,
            usage=usage,
            voice="alloy",
            modalities=["text", "audio"] if self._ga is None else ["audio"],
            output_audio_format="pcm16",
            temperature=0.8,
            max_output_tokens="inf",
        )

    def _close_response(self) -> list[str]:
        rid, iid = self._response_id, self._item_id
        transcript = "".join(self._words)
        part = ContentPart(type="audio", transcript=transcript)
        item = _assistant_item(iid, "completed", [part])
        where: dict[str, Any] = {
            "response_id": rid,
            "item_id": iid,
            "output_index": 0,
            "content_index": 0,
        }
        audio_tokens = self._response_ticks * 5  # about 50 audio tokens per second of speech
        text_tokens = len(self._words)
        usage = Usage(
            total_tokens=audio_tokens + text_tokens + 100,
            input_tokens=100,
            output_tokens=audio_tokens + text_tokens,
            input_token_details=TokenDetails(text_tokens=100, audio_tokens=0, cached_tokens=0),
            output_token_details=TokenDetails(text_tokens=text_tokens, audio_tokens=audio_tokens),
        )
        ids = self._event_id
        return self._frames(
            [
                ResponseAudioDone(event_id=ids(), **where),
                ResponseAudioTranscriptDone(event_id=ids(), transcript=transcript, **where),
                ResponseContentPartDone(event_id=ids(), part=part, **where),
                ResponseOutputItemDone(event_id=ids(), response_id=rid, output_index=0, item=item),
                ResponseDone(event_id=ids(), response=self._response([item], usage)),
            ]
        )
