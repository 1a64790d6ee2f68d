"""One method per client event, named after the protocol, for :class:`RealtimeSession`.

Each builds the event, queues it with ``send`` (which assigns the ``event_id``), and returns
the event as queued, so the caller can match a later ``error`` to it. Each takes an optional
keyword ``event_id`` to choose the id (``None`` sends an explicit ``null``).

``create_response`` is not here: it returns a response handle and queues
(:mod:`._conversation_methods`).
"""

from __future__ import annotations

from typing import TypeVar

from .._core._events import ClientEvent, UnknownEvent
from .._core._events._client import (
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    OutputAudioBufferClear,
    ResponseCancel,
    SessionUpdate,
    TranscriptionSessionUpdate,
)
from .._core._events._objects import ConversationItem, Session, TranscriptionSession
from .._core._unset import UNSET, Unset

__all__ = ["ClientEventMethods"]

_C = TypeVar("_C", bound=ClientEvent | UnknownEvent)


class ClientEventMethods:
    """The client-event methods; the session provides :meth:`send`."""

    __slots__ = ()

    async def send(self, event: _C) -> _C:  # pragma: no cover - RealtimeSession defines it
        raise NotImplementedError

    async def update_session(
        self, session: Session, *, event_id: str | Unset | None = UNSET
    ) -> SessionUpdate:
        """Send ``session.update``: change the fields of ``session`` that are set.

        Fields left :data:`~trio_realtime.UNSET` stay as they are; ``None`` sends ``null``
        (``Session(turn_detection=None)`` turns server VAD off). The server answers with
        ``session.updated`` carrying the whole configuration, or an ``error``.
        """
        return await self.send(SessionUpdate(session=session, event_id=event_id))

    async def update_transcription_session(
        self, session: TranscriptionSession, *, event_id: str | Unset | None = UNSET
    ) -> TranscriptionSessionUpdate:
        """Send ``transcription_session.update`` (transcription sessions only).

        The server answers with ``transcription_session.updated``.
        """
        return await self.send(TranscriptionSessionUpdate(session=session, event_id=event_id))

    async def commit_audio(self, *, event_id: str | Unset | None = UNSET) -> InputAudioBufferCommit:
        """Send ``input_audio_buffer.commit``: turn the input buffer into a user item.

        Needed only without server VAD. The server answers ``input_audio_buffer.committed``,
        or an ``input_audio_buffer_commit_empty`` error for less than 100 ms of audio.
        """
        return await self.send(InputAudioBufferCommit(event_id=event_id))

    async def clear_audio(self, *, event_id: str | Unset | None = UNSET) -> InputAudioBufferClear:
        """Send ``input_audio_buffer.clear``: drop the uncommitted input audio."""
        return await self.send(InputAudioBufferClear(event_id=event_id))

    async def create_item(
        self,
        item: ConversationItem,
        *,
        previous_item_id: str | Unset | None = UNSET,
        event_id: str | Unset | None = UNSET,
    ) -> ConversationItemCreate:
        """Send ``conversation.item.create``: add ``item`` after ``previous_item_id``.

        Without ``previous_item_id`` the item goes at the end; ``"root"`` puts it first. The
        server answers ``conversation.item.created``.
        """
        return await self.send(
            ConversationItemCreate(item=item, previous_item_id=previous_item_id, event_id=event_id)
        )

    async def delete_item(
        self, item_id: str, *, event_id: str | Unset | None = UNSET
    ) -> ConversationItemDelete:
        """Send ``conversation.item.delete``; the server answers ``conversation.item.deleted``."""
        return await self.send(ConversationItemDelete(item_id=item_id, event_id=event_id))

    async def retrieve_item(
        self, item_id: str, *, event_id: str | Unset | None = UNSET
    ) -> ConversationItemRetrieve:
        """Send ``conversation.item.retrieve``; the answer, ``conversation.item.retrieved``,
        carries the server's view of the item, audio included."""
        return await self.send(ConversationItemRetrieve(item_id=item_id, event_id=event_id))

    async def truncate_item(
        self,
        item_id: str,
        content_index: int,
        audio_end_ms: int,
        *,
        event_id: str | Unset | None = UNSET,
    ) -> ConversationItemTruncate:
        """Send ``conversation.item.truncate``: cut assistant audio at what was played.

        ``audio_end_ms`` is the duration actually played, measured in the item's own audio
        (not wall-clock time); ``content_index`` is 0 for assistant audio. The server answers
        ``conversation.item.truncated`` and drops the transcript past that point.
        """
        return await self.send(
            ConversationItemTruncate(
                item_id=item_id,
                content_index=content_index,
                audio_end_ms=audio_end_ms,
                event_id=event_id,
            )
        )

    async def cancel_response(
        self,
        response_id: str | Unset | None = UNSET,
        *,
        event_id: str | Unset | None = UNSET,
    ) -> ResponseCancel:
        """Send ``response.cancel``: stop the running response (or the one named).

        The running response ends with ``response.done``, status ``cancelled``; with none
        running the server answers a harmless ``response_cancel_not_active`` error.
        """
        return await self.send(ResponseCancel(response_id=response_id, event_id=event_id))

    async def clear_output_audio(
        self, *, event_id: str | Unset | None = UNSET
    ) -> OutputAudioBufferClear:
        """Send ``output_audio_buffer.clear``.

        This event exists for WebRTC connections; a WebSocket server answers it with an
        ``error``. It is here so every client event has its method.
        """
        return await self.send(OutputAudioBufferClear(event_id=event_id))
