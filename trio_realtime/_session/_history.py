"""What a resumed session replays on its new connection, decided from the conversation (sans-I/O).

A server keeps nothing across connections, so the client replays its view:

* the **configuration** the server last reported (``session.updated``, or ``session.created``
  when nothing changed it), without the fields a server sets itself (``id``, ``object``,
  ``expires_at``, ``client_secret``, ``include``, ``model``) and without fields this library
  does not model (a server may report what it refuses in an update);
* the **items** of the default conversation, in order, under their own ids: user, system and
  assistant text; audio as its transcript (a user ``input_text``, an assistant ``text``:
  the only content a client may create for the assistant), or a user's audio as audio when
  the conversation kept it (``keep_input_audio_seconds``) and ``audio`` asks; function calls
  with their outputs.

Some history cannot be carried over, and every such case is named in :attr:`Replay.lost`:
an audio item with no transcript (transcription failed or unfinished, or the assistant audio
was truncated, which drops its transcript), the function calls of a response that was cut off
(nothing will answer them, and an unanswered call stalls the model) with their outputs, and
items past ``max_items``.
"""

from __future__ import annotations

from typing import final

import attrs

from .._core._conversation import Conversation
from .._core._conversation_views import ItemView
from .._core._events import (
    NO_EXTRA,
    ContentPart,
    ConversationItem,
    SessionUpdate,
    TranscriptionSession,
    TranscriptionSessionUpdate,
)
from .._core._unset import UNSET

__all__ = ["Replay", "plan_replay", "replayable_config"]

#: Session fields the server sets itself: an update naming them is refused.
_SERVER_SET = ("id", "object", "expires_at", "client_secret", "include", "model")
_TRANSCRIPTION_SERVER_SET = ("id", "object", "expires_at", "client_secret")


@final
@attrs.frozen(kw_only=True)
class Replay:
    """What to send on the new connection, and what cannot be carried over.

    Attributes:
        config: The configuration update, or ``None`` when the server never reported one.
        items: The items to create, in order, each under its old id.
        as_text: Ids of the items whose audio is replayed as its transcript.
        as_audio: Ids of the user items replayed with their audio.
        lost: One line per thing left out.
    """

    config: SessionUpdate | TranscriptionSessionUpdate | None
    items: tuple[ConversationItem, ...]
    as_text: tuple[str, ...]
    as_audio: tuple[str, ...]
    lost: tuple[str, ...]


def replayable_config(
    conversation: Conversation,
) -> SessionUpdate | TranscriptionSessionUpdate | None:
    """The update that gives a new session the configuration the old one last reported."""
    session = conversation.session
    if session is not None:
        cleared = dict.fromkeys(_SERVER_SET, UNSET)
        return SessionUpdate(session=attrs.evolve(session, extra=NO_EXTRA, **cleared))
    transcription = conversation.transcription_session
    if transcription is not None:
        cleared = dict.fromkeys(_TRANSCRIPTION_SERVER_SET, UNSET)
        update: TranscriptionSession = attrs.evolve(transcription, extra=NO_EXTRA, **cleared)
        return TranscriptionSessionUpdate(session=update)
    return None


def plan_replay(
    conversation: Conversation,
    *,
    interrupted: frozenset[str] = frozenset(),
    max_items: int | None = None,
    audio: bool = False,
) -> Replay:
    """The :class:`Replay` of ``conversation`` (see the module docstring).

    Args:
        conversation: The session's conversation, after
            :meth:`~trio_realtime.Conversation.connection_lost`.
        interrupted: Ids of the responses cut off by the loss: their function calls are
            left out.
        max_items: Replay at most the newest this many items.
        audio: Replay user audio the conversation kept as audio (in the session's input
            format at the time, else as its transcript).
    """
    lost: list[str] = []
    config = replayable_config(conversation)
    items = list(conversation.items)
    if conversation.transcription_session is not None and conversation.session is None:
        items = []  # a transcription session has no conversation to carry on
    if max_items is not None and len(items) > max_items:
        dropped = len(items) - max_items
        items = items[dropped:]
        lost.append(f"{dropped} older items (max_replay_items={max_items})")
    out: list[ConversationItem] = []
    as_text: list[str] = []
    as_audio: list[str] = []
    calls: set[str] = set()
    audio_format = conversation.input_audio_format if audio else None
    for item in items:
        if item.type == "function_call":
            if item.response_id in interrupted:
                lost.append(f"item {item.id}: function call {item.name!r} of interrupted response")
                continue
            if item.call_id is None or item.name is None:
                lost.append(f"item {item.id}: function call without call_id or name")
                continue
            calls.add(item.call_id)
            out.append(
                ConversationItem(
                    id=item.id,
                    type="function_call",
                    call_id=item.call_id,
                    name=item.name,
                    arguments=item.arguments,
                )
            )
        elif item.type == "function_call_output":
            if item.call_id not in calls or item.output is None:
                lost.append(f"item {item.id}: output of a function call not replayed")
                continue
            out.append(ConversationItem.function_call_output(item.call_id, item.output, id=item.id))
        elif item.type == "message":
            message = _message(item, lost, audio_format)
            if message is not None:
                content, kind = message
                out.append(
                    ConversationItem(id=item.id, type="message", role=item.role, content=content)
                )
                if kind == "text":
                    as_text.append(item.id)
                elif kind == "audio":
                    as_audio.append(item.id)
        else:
            lost.append(f"item {item.id}: type {item.type!r} cannot be created")
    return Replay(
        config=config,
        items=tuple(out),
        as_text=tuple(as_text),
        as_audio=tuple(as_audio),
        lost=tuple(lost),
    )


def _message(
    item: ItemView, lost: list[str], audio_format: str | None
) -> tuple[list[ContentPart], str | None] | None:
    """The content to create ``item`` with, and what its audio became (``"text"``,
    ``"audio"`` or ``None``); ``None`` (with a line in ``lost``) when nothing of it can be
    carried over."""
    role = item.role
    if role not in ("user", "assistant", "system"):
        lost.append(f"item {item.id}: message with role {role!r}")
        return None
    text_type = "text" if role == "assistant" else "input_text"
    content: list[ContentPart] = []
    kind = None
    for part in item.parts:
        if part.type in ("text", "input_text"):
            if part.text or role != "assistant":  # an assistant cut off before its first word
                content.append(ContentPart(type=text_type, text=part.text))
            continue
        if part.type not in ("audio", "input_audio"):
            lost.append(f"item {item.id}: content part of type {part.type!r}")
            continue
        transcript = part.transcript
        pcm = part.audio if audio_format is not None and part.type == "input_audio" else b""
        if pcm and part.audio_format == audio_format:
            content.append(ContentPart.input_audio(pcm, transcript=transcript or UNSET))
            kind = "audio"
        elif transcript:
            content.append(ContentPart(type=text_type, text=transcript))
            kind = kind or "text"
        else:
            lost.append(f"item {item.id}: {role} audio without a transcript ({_why(part)})")
    if not content:
        if not any(part.type in ("audio", "input_audio") for part in item.parts):
            lost.append(f"item {item.id}: {role} message without content")
        return None
    return content, kind


def _why(part: object) -> str:
    truncated = getattr(part, "truncated_at_ms", None)
    if truncated is not None:
        return f"truncated at {truncated} ms"
    status = getattr(part, "transcription_status", None)
    if status == "failed":
        return "its transcription failed"
    if status == "in_progress":
        return "its transcription had not finished"
    return "none was made"
