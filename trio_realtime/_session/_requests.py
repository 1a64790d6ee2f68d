"""Request and reply: the client events the protocol answers, matched to their answers.

Eight client events get an answer from the server (server-behaviour.md 4, 5.4, 5.5, 5.11):

=================================  ======================================  ==================
sent                               answered by                             matched by
=================================  ======================================  ==================
``session.update``                 ``session.updated``                     order
``transcription_session.update``   ``transcription_session.updated``       order
``conversation.item.create``       ``conversation.item.created``           item id, or order
``conversation.item.delete``       ``conversation.item.deleted``           item id
``conversation.item.retrieve``     ``conversation.item.retrieved``         item id
``conversation.item.truncate``     ``conversation.item.truncated``         item id
``input_audio_buffer.commit``      ``input_audio_buffer.committed``        order
``input_audio_buffer.clear``       ``input_audio_buffer.cleared``          order
=================================  ======================================  ==================

or by an ``error`` whose ``event_id`` names the request. :class:`Replies` is the bookkeeping,
without I/O: the outbound path tells it of every such event *before the frame can leave*
(:meth:`Replies.sent`), fire-and-forget ones included, so that answers matched by order go
to the right request; the receiver hands it every answer and every error.

"By order" has limits a client cannot see past, and they are documented: a
``conversation.item.created`` without a client-chosen id goes to the oldest pending create
of the same shape (item type, role, content types, ``call_id``), so the items a response or
server VAD adds do not answer it; with server VAD on, a commit VAD made itself answers a
pending manual commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Protocol, TypeAlias, final

import trio

from .._core._errors import RealtimeError
from .._core._events import (
    ClientEvent,
    ConversationItem,
    ConversationItemCreate,
    ConversationItemCreated,
    ConversationItemDelete,
    ConversationItemDeleted,
    ConversationItemRetrieve,
    ConversationItemRetrieved,
    ConversationItemTruncate,
    ConversationItemTruncated,
    ErrorDetails,
    ErrorEvent,
    InputAudioBufferClear,
    InputAudioBufferCleared,
    InputAudioBufferCommit,
    InputAudioBufferCommitted,
    ServerEvent,
    SessionUpdate,
    SessionUpdated,
    TranscriptionSessionUpdate,
    TranscriptionSessionUpdated,
)

__all__ = ["ANSWERS", "Expected", "Replies", "RequestRefused", "Requester", "WaitGauge"]

#: Each client event the protocol answers, and the server event that answers it.
ANSWERS: Final[dict[type[ClientEvent], type[ServerEvent]]] = {
    SessionUpdate: SessionUpdated,
    TranscriptionSessionUpdate: TranscriptionSessionUpdated,
    ConversationItemCreate: ConversationItemCreated,
    ConversationItemDelete: ConversationItemDeleted,
    ConversationItemRetrieve: ConversationItemRetrieved,
    ConversationItemTruncate: ConversationItemTruncated,
    InputAudioBufferCommit: InputAudioBufferCommitted,
    InputAudioBufferClear: InputAudioBufferCleared,
}
#: How many unanswered fire-and-forget events are remembered (a server that never answers
#: some type must not grow this without bound).
MAX_UNANSWERED: Final = 256


class RequestRefused(RealtimeError):
    """The server answered a request with an ``error`` naming its ``event_id``.

    Attributes:
        error: The error's details (``code``, ``message``, ``param``).
        request: The client event it refused, when known.
    """

    def __init__(self, error: ErrorDetails, request: ClientEvent | None = None) -> None:
        self.error = error
        self.request = request
        code = error.code if isinstance(error.code, str) else error.type
        what = "the request" if request is None else f"{request.type} {request.event_id}"
        super().__init__(f"the server refused {what}: {code}: {error.message}")


class WaitGauge(Protocol):
    """Told when a task starts and stops waiting for something only the receiver brings."""

    def enter(self) -> None:
        """A task starts waiting."""

    def exit(self) -> None:
        """It stopped."""


def _shape(item: ConversationItem) -> tuple[Any, ...]:
    content = item.content
    kinds = tuple(part.type for part in content) if isinstance(content, list) else ()
    return (item.type, item.role, kinds, item.call_id)


@final
class Expected:
    """One sent event awaiting its answer.

    Attributes:
        event: The event as sent.
        reply: The answer, once it came.
        error: The ``error`` that refused it, once it came.
    """

    __slots__ = ("_done", "awaited", "error", "event", "reply", "shape")

    def __init__(self, event: ClientEvent) -> None:
        self.event = event
        self.reply: ServerEvent | None = None
        self.error: ErrorDetails | Callable[[], BaseException] | None = None
        self.awaited = False
        self._done: trio.Event | None = None
        self.shape: tuple[Any, ...] | None = None

    def _settle(self) -> None:
        if self._done is not None:
            self._done.set()

    async def wait(self) -> None:
        """Wait until the answer or an error came (or the session ended)."""
        if self.reply is not None or self.error is not None:
            await trio.lowlevel.checkpoint()
            return
        if self._done is None:
            self._done = trio.Event()
        await self._done.wait()


@final
class _Book:
    """The pending expectations: by ``event_id``, by answer type in order, by item id."""

    __slots__ = ("by_id", "fifo", "keyed")

    def __init__(self) -> None:
        self.by_id: dict[str, Expected] = {}
        self.fifo: dict[type, list[Expected]] = {}
        self.keyed: dict[tuple[type, str], Expected] = {}

    def forget(self, event_id: str, expected: Expected) -> None:
        self.by_id.pop(event_id, None)
        answer = ANSWERS[type(expected.event)]
        key = _request_key(expected.event)
        if key is not None:
            if self.keyed.get((answer, key)) is expected:
                del self.keyed[(answer, key)]
        else:
            queue = self.fifo.get(answer)
            if queue is not None and expected in queue:
                queue.remove(expected)


@final
class Replies:
    """The bookkeeping of sent events and their answers (see the module docstring)."""

    __slots__ = ("_book",)

    def __init__(self) -> None:
        # Made with the first answerable event (most sessions of the load harness send none).
        self._book: _Book | None = None

    @property
    def pending(self) -> int:
        """Sent events still awaiting their answer."""
        return 0 if self._book is None else len(self._book.by_id)

    def sent(self, event: ClientEvent) -> Expected | None:
        """``event`` is about to leave: expect its answer (None if the protocol gives none)."""
        answer = ANSWERS.get(type(event))
        event_id = event.event_id
        if answer is None or not isinstance(event_id, str):
            return None
        book = self._book
        if book is None:
            book = self._book = _Book()
        expected = Expected(event)
        key = _request_key(event)
        if key is not None:
            book.keyed[(answer, key)] = expected
        else:
            if isinstance(event, ConversationItemCreate):
                expected.shape = _shape(event.item)
            book.fifo.setdefault(answer, []).append(expected)
        by_id = book.by_id
        by_id.pop(event_id, None)
        by_id[event_id] = expected
        if len(by_id) > MAX_UNANSWERED:
            for old_id, old in list(by_id.items()):
                if not old.awaited:
                    book.forget(old_id, old)
                    break
        return expected

    def unsent(self, event: ClientEvent | Any) -> None:
        """``event`` never left (cancelled before it was queued): expect nothing for it."""
        event_id = getattr(event, "event_id", None)
        book = self._book
        if isinstance(event_id, str) and book is not None:
            expected = book.by_id.get(event_id)
            if expected is not None and expected.event is event:
                book.forget(event_id, expected)

    def unanswered(self) -> list[Expected]:
        """Every event still awaiting its answer, in the order they were sent."""
        return [] if self._book is None else list(self._book.by_id.values())

    def interrupt(self, expected: Expected, make_error: Callable[[], BaseException]) -> None:
        """``expected`` can never be answered (its connection is gone and it is not sent
        again): its ``request()`` raises a fresh ``make_error()``."""
        book = self._book
        if book is None or expected.reply is not None or expected.error is not None:
            return
        book.forget(str(expected.event.event_id), expected)
        expected.error = make_error
        expected._settle()

    def expected(self, event_id: str) -> Expected | None:
        """The pending expectation of the event sent with ``event_id``."""
        return None if self._book is None else self._book.by_id.get(event_id)

    # --- the receiver's side -----------------------------------------------------------------

    def answer(self, event: ServerEvent) -> None:
        """A server event of an answering type arrived: settle the request it answers."""
        book = self._book
        if book is None:
            return
        cls = type(event)
        key = _answer_key(event)
        found = book.keyed.pop((cls, key), None) if key is not None else None
        if found is None:
            queue = book.fifo.get(cls)
            if not queue:
                return
            if isinstance(event, ConversationItemCreated):
                shape = _shape(event.item)
                found = next((e for e in queue if e.shape == shape), None)
                if found is None:
                    return  # an item the server made (a response's, VAD's): not an answer
                queue.remove(found)
            else:
                found = queue.pop(0)
        book.by_id.pop(str(found.event.event_id), None)
        found.reply = event
        found._settle()

    def error(self, event: ErrorEvent) -> Expected | None:
        """An ``error`` arrived: settle the request it names, if it is one of these."""
        event_id = event.error.event_id
        book = self._book
        if book is None or not isinstance(event_id, str):
            return None
        found = book.by_id.get(event_id)
        if found is None:
            return None
        book.forget(event_id, found)
        found.error = event.error
        found._settle()
        return found

    def fail_all(self, make_error: Callable[[], BaseException]) -> None:
        """The session ended: every awaited request raises a fresh ``make_error()``."""
        book = self._book
        if book is None:
            return
        for expected in book.by_id.values():
            if expected.error is None and expected.reply is None:
                expected.error = make_error
                expected._settle()
        self._book = None


#: One outbound item as :class:`Outbox.prepare` makes it: the event, its frame, its audio ms.
_Item: TypeAlias = tuple[Any, str, float]


class Outbox(Protocol):
    """What :class:`Requester` needs of the outbound path."""

    def prepare(self, event: Any) -> _Item:
        """The event with its ``event_id``, encoded, its answer expected."""
        ...

    async def put(self, item: _Item) -> None:
        """Send it (one checkpoint, before it leaves)."""
        ...


class State(Protocol):
    """What :class:`Requester` needs of the session's lifecycle."""

    def raise_if_closed(self) -> None:
        """Raise if the session can send no more."""

    def last_error_note(self) -> str:
        """``"; last server error: ..."`` or ``""``."""
        ...


@final
class Requester:
    """Send one answerable event and wait for its answer (``RealtimeSession.request``).

    The answer is expected before the event is queued, so it cannot slip past; the wait is
    counted in ``gauge`` (the receiver must keep going for it) and bounded by ``timeout``.
    """

    __slots__ = ("_gauge", "_outbox", "_replies", "_state")

    def __init__(self, outbox: Outbox, replies: Replies, gauge: WaitGauge, state: State) -> None:
        self._outbox = outbox
        self._replies = replies
        self._gauge = gauge
        self._state = state

    # A timeout argument (ASYNC109): the message says what was awaited.
    async def request(
        self,
        event: ClientEvent,
        timeout: float | None,  # noqa: ASYNC109
    ) -> ServerEvent:
        """Send ``event`` and return its answer.

        Raises:
            TypeError: The protocol does not answer ``event``.
            RequestRefused: The server answered with an ``error`` naming it.
            trio.TooSlowError: No answer within ``timeout`` seconds.
        """
        answer = ANSWERS.get(type(event))
        if answer is None:
            raise TypeError(
                f"the protocol does not answer {event.type}; send it with send(). Answered: "
                + ", ".join(sorted(cls.type for cls in ANSWERS))
            )
        if timeout is not None and not timeout >= 0:
            raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")
        self._state.raise_if_closed()
        item = self._outbox.prepare(event)
        sent: ClientEvent = item[0]
        expected = self._replies.expected(str(sent.event_id))
        if expected is None:  # an event_id of None: nothing could name it
            raise ValueError(f"request() needs an event_id to match errors; got {sent.event_id!r}")
        expected.awaited = True
        try:
            await self._outbox.put(item)
        except BaseException:
            self._replies.unsent(sent)
            raise
        self._gauge.enter()
        try:
            with trio.move_on_after(float("inf") if timeout is None else timeout):
                await expected.wait()
        finally:
            self._gauge.exit()
        if expected.reply is not None:
            return expected.reply
        error = expected.error
        if isinstance(error, ErrorDetails):
            raise RequestRefused(error, sent)
        if error is not None:
            raise error()
        expected.awaited = False  # a late answer still settles it, not a later request
        raise trio.TooSlowError(
            f"no {answer.type} for {sent.type} {sent.event_id} within {timeout:g} s"
            + self._state.last_error_note()
        )


def _request_key(event: ClientEvent) -> str | None:
    """The item id a request's answer will carry, when it is known in advance."""
    if isinstance(event, ConversationItemDelete | ConversationItemRetrieve):
        return event.item_id
    if isinstance(event, ConversationItemTruncate):
        return event.item_id
    if isinstance(event, ConversationItemCreate):
        item_id = event.item.id
        return item_id if isinstance(item_id, str) else None
    return None


def _answer_key(event: ServerEvent) -> str | None:
    if isinstance(event, ConversationItemCreated | ConversationItemRetrieved):
        item_id = event.item.id
        return item_id if isinstance(item_id, str) else None
    if isinstance(event, ConversationItemDeleted | ConversationItemTruncated):
        item_id = event.item_id
        return item_id if isinstance(item_id, str) else None
    return None
