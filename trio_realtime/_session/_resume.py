"""Carrying a session on over a new connection: the resumer task (``connect(resume=...)``).

::

    connection lost (receiver, sender or keepalive)         expires_at near, at a quiet point
          |  Lifecycle asks Resumer.lost(): recoverable?            |  Resumer._watch()
          v                                                         v
    leave it: the outbound queue holds every send (a full queue makes send() wait); running
    responses end "interrupted"; requests written and unanswered are noted
          |                                   (a recycle first closes the old one with 1000)
          v
    reconnect, exponential backoff with full jitter, bounded by attempts and total time:
    session.created -> the last configuration (session.update) -> the conversation
    (conversation.item.create each, under their old ids), answers read here, not delivered
          |
          v
    take over: requests sent again, then what waited; the receiver and the keepalive on the
    new connection; SessionResumed first in the stream

The resumer is one task of the session's nursery; every transport it opens is closed when its
connection is left, and when the task is cancelled. It holds the key only inside the
connection settings, which never print it.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Final, Protocol, final

import attrs
import trio

from .._core._conversation import Conversation
from .._core._events import ConversationItemTruncate, ErrorDetails, InputAudioBufferCommit
from .._core._recording import Recorder
from .._wire._connection import ConnectionConfig, Transport, redact
from .._wire._errors import ConnectionClosed
from .._wire._websocket import ClientWebSocket
from ._history import Replay, plan_replay
from ._layer import ResponseLayer
from ._lifecycle import Ending, Lifecycle
from ._outbound import Outbound, Outgoing
from ._reconnect import Fatal, Reconnector, Replayed, Retry
from ._requests import Replies
from ._resume_policy import ConnectionInterrupted, ResumePolicy, SessionResumed
from ._stream import EventStream
from ._waiters import Waiters

__all__ = ["Host", "Resumer"]

logger = logging.getLogger("trio_realtime")

#: How often a session in its recycling window looks for a quiet point.
QUIET_POLL: Final = 0.1


class Host(Protocol):
    """What the resumer needs of the session's parts: leaving a connection, taking one over."""

    @property
    def transport(self) -> Transport:
        """The connection in use (the one being left, during a gap)."""
        ...

    def leave_connection(self) -> None:
        """Stop writing to the connection and stop its keepalive."""

    def stop_receiver(self) -> None:
        """Stop reading the connection being left (what it had not handled is dropped)."""

    def take_over(self, transport: Transport, first: list[Outgoing]) -> None:
        """Use ``transport`` from now on: write ``first``, then what waited; read it; keep
        it alive."""


@final
@attrs.define(kw_only=True, eq=False)
class _Loss:
    """One gap: why the connection was left, and what was in flight then."""

    cause: str
    code: int | None
    reason: str | None = None
    error: ErrorDetails | None = None
    at: float
    recycle: bool = False
    pending: frozenset[str] = frozenset()  # events awaiting an answer at the loss
    interrupted: tuple[str, ...] = ()
    lost_input_ms: float = 0.0
    plan: Replay = Replay(config=None, items=(), as_text=(), as_audio=(), lost=())


@final
class Resumer:
    """The session's resume task and the decisions it acts on (see the module docstring).

    Args:
        policy: The resume policy.
        config: How to open a connection (the key stays inside).
        connect_timeout: Seconds one attempt may take, up to the replay's last answer.
        close_timeout: Seconds a recycle waits for the old connection's close.
        host: The session's parts.
        life: The session's lifecycle.
        out: The outbound path (ids, preparing events, counting the replay's frames).
        layer: The response layer.
        replies: The request bookkeeping.
        stream: The session's stream (gets :class:`SessionResumed`).
        waiters: ``wait_for`` (sees :class:`SessionResumed`).
        conversation: The history to replay.
        recorder: Records the replay's frames too, if recording.

    Attributes:
        resumes: How many times the session moved to a new connection.
    """

    def __init__(
        self,
        *,
        policy: ResumePolicy,
        config: ConnectionConfig,
        connect_timeout: float,
        close_timeout: float,
        host: Host,
        life: Lifecycle,
        out: Outbound,
        layer: ResponseLayer,
        replies: Replies,
        stream: EventStream,
        waiters: Waiters,
        conversation: Conversation,
        recorder: Recorder | None,
    ) -> None:
        self._policy = policy
        self._rng = policy.random()
        self._config = config
        self._connect_timeout = connect_timeout
        self._close_timeout = close_timeout
        self._host = host
        self._life = life
        self._out = out
        self._layer = layer
        self._replies = replies
        self._stream = stream
        self._waiters = waiters
        self._conversation = conversation
        self._reconnector = Reconnector(
            config=config,
            policy=policy,
            life=life,
            out=out,
            conversation=conversation,
            recorder=recorder,
        )
        self._ws: ClientWebSocket | None = None  # the connection in use; None in a gap
        self._armed = False
        self._stack: AsyncExitStack | None = None  # owns the transport once we opened one
        self._loss: _Loss | None = None
        self._wake = trio.Event()
        self.resumes = 0

    # --- told by the parts (never waits) -----------------------------------------------------

    def lost(self, ws: object, code: int, reason: str | None, error: ErrorDetails | None) -> bool:
        """A connection ended (see :class:`~._lifecycle.LossListener`): leave it and wake the
        task if the session can carry on; False to let the session end."""
        if not self._armed:
            return False  # still connecting: connect() reports the failure
        if ws is not None and ws is not self._ws:
            return True  # a connection the session has left already
        if self._life.closing or not self._policy.recoverable(code, error):
            return False
        cause = _describe(code, reason, error, self._config.api_key)
        loss = _Loss(cause=cause, code=code, reason=reason, error=error, at=trio.current_time())
        self._leave()
        self._host.stop_receiver()
        self._interrupt(loss)
        self._loss = loss
        self._wake.set()
        logger.info("%s: %s; resuming on a new connection", self._url, cause)
        return True

    def _leave(self) -> None:
        """Stop writing to the connection (sends wait from now on) and judging it."""
        self._ws = None
        self._host.leave_connection()

    def _interrupt(self, loss: _Loss) -> None:
        """Nothing more comes from the old connection: end what cannot outlive it, and note
        what was in flight."""
        conversation = self._conversation
        loss.lost_input_ms = conversation.input_audio_uncommitted_ms
        loss.interrupted = tuple(view.id for view in conversation.connection_lost())
        self._layer.connection_lost()
        loss.pending = frozenset(str(e.event.event_id) for e in self._replies.unanswered())

    # --- the task ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Watch the connection and carry the session on when it goes; until cancelled (the
        session's nursery is, when its block ends)."""
        self._ws = self._host.transport.ws
        self._armed = True
        try:
            while True:
                loss = await self._watch()
                await self._carry_on(loss)
        finally:
            if self._stack is not None:
                await self._stack.aclose()  # closes the stream at once, cancelled or not

    async def _watch(self) -> _Loss:
        """Wait for a loss, or for a quiet point in the recycling window; return it."""
        recycle_at = self._recycle_at()
        while True:
            loss = self._loss
            if loss is not None:
                self._loss = None
                return loss
            if self._life.ending is not None:
                await trio.sleep_forever()  # over: the block is ending
            wake = self._wake = trio.Event()
            now = trio.current_time()
            if now < recycle_at:
                with trio.move_on_at(recycle_at):
                    await wake.wait()
            elif not self._life.closing and self._quiet():
                return _Loss(cause="recycled", code=None, at=now, recycle=True)
            else:
                with trio.move_on_after(QUIET_POLL):
                    await wake.wait()

    def _recycle_at(self) -> float:
        """When to start looking for a quiet point: at a random moment of the first half of
        the window ``recycle_before`` ahead of the session's ``expires_at`` (sessions that
        started together, after a restart say, do not all move at once), and never in the
        first half of the session's life."""
        before = self._policy.recycle_before
        conversation = self._conversation
        session = conversation.session or conversation.transcription_session
        expires_at = None if session is None else session.expires_at
        if before is None or not isinstance(expires_at, int) or isinstance(expires_at, bool):
            return math.inf
        now = trio.current_time()
        left = expires_at - time.time()
        start = max(left - before, left / 2)
        return now + start + self._rng.uniform(0.0, (left - start) / 2)

    def _quiet(self) -> bool:
        """No response running or asked for, no tool running, nothing said and uncommitted."""
        layer = self._layer
        if layer.queue.busy or layer.queue.waiting or layer.live_handles:
            return False
        if layer.tool_calls_running:
            return False
        conversation = self._conversation
        if conversation.active_response is not None or conversation.user_speaking:
            return False
        return conversation.input_audio_uncommitted_ms <= 0  # with server VAD: no speech

    # --- a gap -------------------------------------------------------------------------------

    async def _carry_on(self, loss: _Loss) -> None:
        """Leave the old connection for good, then reconnect until one takes over or the
        policy gives up."""
        if loss.recycle:
            old = self._ws
            self._leave()
            if old is not None:
                with trio.move_on_after(self._close_timeout):
                    await old.aclose(1000)  # its receiver reads the answer, and what came first
            self._host.stop_receiver()
            self._interrupt(loss)  # a response the server started meanwhile, if any
            logger.info("%s: recycling the session before it expires", self._url)
        await self._close_old()
        # What to replay is fixed now: nothing changes the conversation until a new
        # connection takes over.
        loss.plan = plan_replay(
            self._conversation,
            interrupted=frozenset(loss.interrupted),
            max_items=self._policy.max_replay_items,
            audio=self._policy.input_audio_seconds > 0,
        )
        policy = self._policy
        give_up_at = loss.at + policy.max_gap
        last = ""
        attempt = 0
        while attempt < policy.max_attempts:
            attempt += 1
            delay = 0.0 if loss.recycle and attempt == 1 else policy.backoff(attempt, self._rng)
            if trio.current_time() + delay >= give_up_at:
                break
            await trio.sleep(delay)
            if self._over():
                return
            deadline = min(trio.current_time() + self._connect_timeout, give_up_at)
            try:
                stack, transport, replayed = await self._reconnector.attempt(loss.plan, deadline)
            except Fatal as fatal:
                self._end(fatal.make_error)
                return
            except Retry as retry:
                last = str(retry)
                logger.debug("%s: attempt %d failed: %s", self._url, attempt, last)
                continue
            if self._over():  # the session ended meanwhile (its block is ending)
                await stack.aclose()
                return
            self._take_over(loss, stack, transport, replayed, attempt)
            return
        self._give_up(loss, attempt, last)

    async def _close_old(self) -> None:
        """Close the stream of the connection left (the first one belongs to ``connect``,
        which also closes it at the end; closing twice is harmless)."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()
        else:
            await self._host.transport.abort()

    # --- the end of a gap --------------------------------------------------------------------

    def _take_over(
        self,
        loss: _Loss,
        stack: AsyncExitStack,
        transport: Transport,
        replayed: Replayed,
        attempts: int,
    ) -> None:
        self._stack = stack
        self._ws = transport.ws
        queued = self._out.queued_ids()
        again, cut = self._requests_again(loss, queued)
        responses = self._layer.resume_events(queued)
        first = again + [self._out.prepare(event) for event in responses]
        self._host.take_over(transport, first)
        self.resumes += 1
        lost = replayed.lost
        if loss.lost_input_ms > 0:
            lost.append(f"{loss.lost_input_ms:.0f} ms of uncommitted input audio")
        session = replayed.created.session
        notice = SessionResumed(
            cause=loss.cause,
            code=loss.code,
            attempts=attempts,
            gap_s=trio.current_time() - loss.at,
            attempt_s=replayed.took,
            session_id=session.id if isinstance(session.id, str) else None,
            expires_at=session.expires_at if isinstance(session.expires_at, int) else None,
            config_replayed=replayed.config_replayed,
            items_replayed=tuple(replayed.items),
            items_as_text=replayed.as_text,
            items_as_audio=replayed.as_audio,
            resent=tuple(f"{item[0].type} {item[0].event_id}" for item in first),
            interrupted_responses=loss.interrupted,
            interrupted_requests=tuple(cut),
            lost_input_audio_ms=loss.lost_input_ms,
            lost=tuple(lost),
        )
        # First in the stream: the receiver of the new connection has not run yet.
        if self._waiters.pending:
            self._waiters.dispatch(notice)
        self._stream.offer(notice, 0)
        logger.info(
            "%s: resumed after %.3f s (%d attempts): %d items replayed, %d lost",
            self._url,
            notice.gap_s,
            attempts,
            len(notice.items_replayed),
            len(notice.lost),
        )

    def _requests_again(
        self, loss: _Loss, queued: frozenset[str]
    ) -> tuple[list[Outgoing], list[str]]:
        """The events written before the loss and still unanswered, to send again first;
        those that cannot be (a commit or truncate: their object did not survive) fail."""
        again: list[Outgoing] = []
        cut: list[str] = []
        for expected in self._replies.unanswered():
            event = expected.event
            event_id = str(event.event_id)
            if event_id not in loss.pending or event_id in queued:
                continue  # sent after the loss, or never written: it goes with the queue
            if isinstance(event, InputAudioBufferCommit | ConversationItemTruncate):
                what = (
                    "the uncommitted input audio"
                    if isinstance(event, InputAudioBufferCommit)
                    else "the item's audio"
                )
                message = (
                    f"the connection was lost before {event.type} {event_id} was answered; the "
                    f"session resumed on a new connection, but {what} did not survive, so it "
                    "was not sent again"
                )
                make = functools.partial(
                    ConnectionInterrupted, loss.code or 1006, loss.reason, message=message
                )
                self._replies.interrupt(expected, make)
                cut.append(f"{event.type} {event_id}")
            else:
                again.append((event, self._config.dialect.encode(event), 0.0))
        return again, cut

    def _give_up(self, loss: _Loss, attempts: int, last: str) -> None:
        gap = trio.current_time() - loss.at
        message = (
            f"connection closed: {loss.cause}; not resumed after {attempts} attempts in "
            f"{gap:.1f} s" + (f" (last: {last})" if last else "")
        )
        logger.info("%s: %s", self._url, message)
        code = 1006 if loss.code is None else loss.code
        make = functools.partial(ConnectionClosed, code, loss.reason, loss.error, message=message)
        self._end(make)

    def _end(self, make_error: Callable[[], Exception]) -> None:
        self._life.end(Ending(False, make_error))

    def _over(self) -> bool:
        return self._life.ending is not None

    @property
    def _url(self) -> str:
        return self._config.url


def _describe(code: int, reason: str | None, error: ErrorDetails | None, key: str) -> str:
    """A loss in words, for :attr:`SessionResumed.cause` and the log (the key scrubbed)."""
    if error is not None and isinstance(error.code, str):
        return error.code
    if reason and reason.startswith("keepalive: "):
        return redact(reason, key)
    if code == 1006:
        return "connection lost"
    return f"closed {code}" + (f" ({redact(reason, key)})" if reason else "")
