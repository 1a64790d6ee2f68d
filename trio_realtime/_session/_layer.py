"""The session's conversation layer: response requests, handles, tool calls and barge-in.

The decisions live in sans-I/O objects (:class:`~._turns.TurnQueue`: when a request may go;
:func:`~._tool_calls.plan_calls`: what every function call gets; :class:`~._playback.Playback`:
what a barge-in cancels and truncates). :class:`ResponseLayer` executes them, given only what
it needs: an :class:`Outbox` to send through, a way to start tasks, and the wait gauge its
handles report to. It never sees the session.

* The receiver calls :meth:`~ResponseLayer.response_created`,
  :meth:`~ResponseLayer.response_done`, :meth:`~ResponseLayer.speech_started` and
  :meth:`~ResponseLayer.error` for those four event types only; each is a few dict
  operations and never waits. What they decide to send goes to :attr:`ResponseLayer.followups`,
  which the receiver sends right after the event (without waiting, unless the outbound queue
  is full).
* Requests the caller can send at once go from the caller's own task, so ``create_response``
  keeps program order with the caller's other sends.
* Each finished response with function calls gets one task that runs the calls
  concurrently, sends one ``function_call_output`` per call, then the one follow-up request.

**Matching a response to its request.** Each ``response.create`` carries a tag in its
``metadata``; a server that echoes metadata (the protocol says it does) names the request in
``response.created``. A server that does not, is matched by order instead: one
default-conversation request is in flight at a time, so an untagged ``response.created``
answers it when the server is known not to echo tags (it refused ``response.metadata``, as
speaches does, after which no tag is sent) or leaves ``metadata`` out of its responses
altogether. Out-of-band requests are matched by order among out-of-band responses likewise.

**Errors.** Every event the layer sends carries an ``event_id`` chosen before it is queued.
An ``error`` naming a request ends that request's handle with :class:`ResponseRefused`,
except ``conversation_already_has_active_response``, after which the request goes again
(not delivered, counted in ``statistics().errors_handled``), as is
``response_cancel_not_active`` for the layer's own barge-in cancel. A request that gets
neither its ``response.created`` nor an error within ``request_timeout`` fails its handle
with :class:`trio.TooSlowError` and frees the queue.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import re
import weakref
from collections.abc import Callable, Iterator
from typing import Any, Final, Literal, Protocol, TypeAlias, final

import attrs
import trio

from .._core._conversation import Conversation
from .._core._events import (
    ClientEvent,
    ConversationItem,
    ConversationItemCreate,
    ErrorEvent,
    InputAudioBufferSpeechStarted,
    ResponseConfig,
    ResponseCreate,
    ResponseCreated,
    ResponseDone,
)
from .._core._playback import Playback, PlaybackInterrupted
from .._core._tools import FunctionTool
from .._core._turns import TurnQueue
from .._core._unset import UNSET, Unset
from ._requests import WaitGauge
from ._response_handles import (
    REQUEST_KEY,
    Notes,
    ResponseHandle,
    ResponseOrigin,
    ResponseRefused,
    ResponseWatch,
    build_result,
)
from ._tool_calls import ToolCall, ToolPlan, plan_calls, run_call

__all__ = ["Alarm", "Outbox", "ResponseLayer"]

logger = logging.getLogger("trio_realtime")

#: The server's limit on response ``metadata`` pairs (server-behaviour.md 5.6).
MAX_METADATA_PAIRS: Final = 16
ACTIVE_RESPONSE: Final = "conversation_already_has_active_response"
CANCEL_NOT_ACTIVE: Final = "response_cancel_not_active"
#: speaches: "Specifying `response.metadata` is not supported. ..." (an error with no
#: ``event_id``, after which it runs the response anyway).
_METADATA_REFUSED: Final = re.compile(r"response\.metadata.*not supported", re.IGNORECASE)
#: How many of the layer's own sent events are remembered for matching errors.
MAX_OWN_EVENTS: Final = 256
#: How many answered call ids are remembered, so a repeated response.done answers nothing twice.
MAX_ANSWERED_CALLS: Final = 256

_OwnKind: TypeAlias = Literal["create", "cancel", "truncate", "tool_output"]
#: What the receiver hands on after an event: a notice for the application, an event to
#: send, or :data:`READY` (send the request the queue lets out now, if any).
Followup: TypeAlias = PlaybackInterrupted | ClientEvent | str
READY: Final = "ready"


class Alarm(Protocol):
    """Whoever keeps the layer's deadlines."""

    def poke(self) -> None:
        """A deadline was set: look again."""


class Outbox(Protocol):
    """What the layer needs of the outbound path."""

    def new_id(self) -> str:
        """A fresh ``event_id``."""
        ...

    async def send(self, event: Any) -> Any:
        """The application's send: raises once the session can send no more."""
        ...

    async def send_quietly(self, event: ClientEvent) -> bool:
        """The library's send: False once the session can send no more."""
        ...


@final
@attrs.define
class _Request:
    handle: ResponseHandle
    config: ResponseConfig
    event_id: str | Unset
    out_of_band: bool
    user_metadata: bool
    deadline: float = math.inf  # set when sent: its answer is due by then


@final
class ResponseLayer:
    """Requests, handles, tools and barge-in for one session (see the module docstring).

    Args:
        outbox: Where events go.
        spawn: Starts a task in the session's nursery (``nursery.start_soon``).
        gauge: Told when a task starts or stops waiting on a handle or watch.
        state: Gives ``last_error_note()`` (``"; last server error: ..."``) for messages.
        alarm: Its ``poke()`` is called when a request's deadline is set.
        conversation: The tracked conversation, if any.
    """

    def __init__(
        self,
        outbox: Outbox,
        spawn: Callable[..., object],
        gauge: WaitGauge,
        state: Notes,
        alarm: Alarm,
        conversation: Conversation | None,
        *,
        tools: dict[str, FunctionTool],
        tool_timeout: float,
        request_timeout: float,
        handle_interruptions: bool,
        max_queued_responses: int,
    ) -> None:
        self._outbox = outbox
        self._spawn = spawn
        self._gauge = gauge
        self._state = state
        self._alarm = alarm
        self._conversation = conversation
        self.queue = TurnQueue(max_waiting=max_queued_responses)
        self.tools = tools
        self.tool_timeout = tool_timeout
        self._request_timeout = request_timeout
        self.playback = (
            None
            if conversation is None
            else Playback(conversation, handle_interruptions=handle_interruptions)
        )
        self._requests: dict[str, _Request] = {}  # tag -> request not yet created
        #: Handles of running responses by response id; the receiver copies deltas into them.
        #: Weak: a handle the application dropped is not fed (nobody could read it).
        self.routes: dict[str, weakref.ref[ResponseHandle]] = {}
        self.watches: list[ResponseWatch] = []
        self._own: dict[str, tuple[_OwnKind, str | None]] = {}
        self._answered: dict[str, None] = {}
        #: Filled by the receiver's handlers, emptied by the receiver after each event.
        self.followups: list[Followup] = []
        self._room: trio.Event | None = None
        #: Whether the server echoes the request tag: None until known.
        self._echoes: bool | None = None
        #: How the session ended (the error to raise, whether iteration just ends), once it has.
        self.ended: tuple[Callable[[], BaseException], bool] | None = None
        self.closing = False
        self.errors_handled = 0
        self.tool_calls_running = 0
        self._again: list[str] = []  # out-of-band requests to send again after a resume

    @property
    def live_handles(self) -> int:
        """Handles waiting for their response to start or to finish."""
        return len(self._requests) + len(self.routes)

    def _handle(
        self, origin: ResponseOrigin, tag: str | None, config: ResponseConfig | None, deltas: int
    ) -> ResponseHandle:
        return ResponseHandle._create(
            origin=origin,
            tag=tag,
            config=config,
            max_deltas=deltas,
            conversation=self._conversation,
            gauge=self._gauge,
            state=self._state,
        )

    # --- the application's requests ----------------------------------------------------------

    async def request(
        self,
        config: ResponseConfig | Unset | None,
        event_id: str | Unset,
        max_deltas: int,
    ) -> ResponseHandle:
        """Tag and send, or queue, one ``response.create``; return its handle at once."""
        if max_deltas < 0:
            raise ValueError(f"max_deltas must be >= 0, got {max_deltas!r}")
        config = config if isinstance(config, ResponseConfig) else ResponseConfig()
        metadata = config.metadata if isinstance(config.metadata, dict) else {}
        if REQUEST_KEY in metadata:
            raise ValueError(f"metadata key {REQUEST_KEY!r} is reserved for the session's tag")
        if len(metadata) >= MAX_METADATA_PAIRS and self._echoes is not False:
            raise ValueError(
                f"metadata holds {len(metadata)} pairs; the session needs one of the server's "
                f"{MAX_METADATA_PAIRS} to match the response to this request"
            )
        tag = self._outbox.new_id()
        handle = self._handle("request", tag, config, max_deltas)
        out_of_band = config.conversation == "none"
        self._requests[tag] = _Request(handle, config, event_id, out_of_band, bool(metadata))
        try:
            if out_of_band:  # outside the one-at-a-time rule
                await self._send_request(tag, quiet=False)
                return handle
            queue = self.queue
            while queue.full:
                room = self._room = self._room or trio.Event()
                await room.wait()
                self._raise_if_ended()
            # The caller sends its own request when the queue is idle, keeping program order
            # with its other sends; otherwise it goes when its turn comes.
            idle = not queue.busy and not queue.waiting
            queue.submit(tag)
            if idle:
                await self._send_ready(quiet=False)
        except BaseException:
            self._forget(tag)
            raise
        return handle

    def _raise_if_ended(self) -> None:
        if self.ended is not None:
            raise self.ended[0]()
        if self.closing:
            raise trio.ClosedResourceError("the session is closing")

    def _forget(self, tag: str) -> None:
        """A request that never left: clear it everywhere and let the next one go."""
        request = self._requests.pop(tag, None)
        if request is not None:
            request.handle._fail(lambda: trio.ClosedResourceError("the request was not sent"))
        self.queue.abandon(tag)
        self._room_freed()
        self._send_ready_soon()

    def take_ready(self) -> ResponseCreate | None:
        """The request the queue lets out now, as its event (marked sent), if any."""
        tag = self.queue.take_ready()
        if tag is None:
            return None
        self._room_freed()
        return self._request_event(tag)

    async def _send_ready(self, *, quiet: bool) -> None:
        """Send the request the queue lets out now, if any, from the calling task."""
        tag = self.queue.take_ready()
        if tag is None:
            return
        self._room_freed()
        try:
            await self._send_request(tag, quiet=quiet)
        except BaseException:
            self._forget(tag)
            raise

    def _send_ready_soon(self) -> None:
        """Send the next request from a task of its own: nobody else is about to."""
        if self.queue.waiting and not self.queue.busy and self.ended is None and not self.closing:
            send = functools.partial(self._send_ready, quiet=True)
            self._spawn(send, name="trio_realtime.request")

    async def _send_request(self, tag: str, *, quiet: bool) -> None:
        event = self._request_event(tag)
        if event is None:
            return
        if quiet:
            await self._outbox.send_quietly(event)
        else:
            await self._outbox.send(event)

    def _request_event(self, tag: str) -> ResponseCreate | None:
        request = self._requests.get(tag)
        if request is None:
            return None
        config = request.config
        if self._echoes is not False:  # a server that refused metadata gets no tag
            metadata = dict(config.metadata) if isinstance(config.metadata, dict) else {}
            metadata[REQUEST_KEY] = tag
            config = attrs.evolve(config, metadata=metadata)
        event_id = request.event_id
        if not isinstance(event_id, str) or request.handle.request is not None:
            event_id = self._outbox.new_id()  # a retry gets an id of its own
        event = ResponseCreate(response=config, event_id=event_id)
        self._remember(event_id, "create", tag)
        request.handle._sent(event)
        request.deadline = trio.current_time() + self._request_timeout
        self._alarm.poke()
        return event

    def _remember(self, event_id: str, kind: _OwnKind, tag: str | None = None) -> None:
        own = self._own
        own[event_id] = (kind, tag)
        if len(own) > MAX_OWN_EVENTS:
            del own[next(iter(own))]  # the oldest (dicts keep order)

    def _room_freed(self) -> None:
        room = self._room
        if room is not None:
            self._room = None
            room.set()

    # --- the response stream -----------------------------------------------------------------

    @contextlib.contextmanager
    def watch(self, max_handles: int, max_deltas: int) -> Iterator[ResponseWatch]:
        """A :class:`ResponseWatch` open for the block (``RealtimeSession.watch_responses``)."""
        if max_handles < 1 or max_deltas < 0:
            raise ValueError("max_handles must be >= 1 and max_deltas >= 0")
        watch = ResponseWatch._create(max_handles, max_deltas, self._gauge)
        if self.ended is not None:  # nothing more can start
            make_error, ends_iteration = self.ended
            watch._close(None if ends_iteration else make_error)
        self.watches.append(watch)
        try:
            yield watch
        finally:
            self.watches.remove(watch)
            watch._close()

    # --- deadlines (the watchdog calls) ------------------------------------------------------

    @property
    def deadline(self) -> float:
        """When the oldest request awaiting its ``response.created`` is overdue."""
        return min((r.deadline for r in self._requests.values()), default=math.inf)

    def expire(self, now: float) -> None:
        """Fail the requests the server never answered; let the queue go on."""
        for tag, request in list(self._requests.items()):
            if request.deadline > now:
                continue
            del self._requests[tag]
            sent = request.handle.request
            what = f"{sent.type} {sent.event_id}" if sent is not None else "response.create"
            message = (
                f"no response.created (nor error) for {what} within "
                f"{self._request_timeout:g} s" + self._state.last_error_note()
            )
            request.handle._fail(functools.partial(trio.TooSlowError, message))
            if sent is not None and isinstance(sent.event_id, str):
                self._own.pop(sent.event_id, None)
            self.queue.abandon(tag)
            logger.debug("%s", message)
        self._send_ready_soon()

    # --- the receiver's handlers (never wait) ------------------------------------------------

    def response_created(self, event: ResponseCreated) -> None:
        """Match the response to its request; mark the conversation busy; hand the handle to
        the watches."""
        wire = event.response
        response_id = wire.id
        if not isinstance(response_id, str):
            return
        out_of_band = wire.conversation_id is None
        metadata = wire.metadata
        tag = metadata.get(REQUEST_KEY) if isinstance(metadata, dict) else None
        request = self._requests.pop(tag, None) if isinstance(tag, str) else None
        if request is not None:
            self._echoes = True
        elif self._echoes is False or (self._echoes is None and metadata is UNSET):
            tag = self._by_order(out_of_band)
            request = self._requests.pop(tag) if tag is not None else None
        if not out_of_band:
            self.queue.created(response_id, tag if request is not None else None)
        handle = request.handle if request is not None else None
        if handle is not None and handle.request is not None:
            self._own.pop(str(handle.request.event_id), None)  # answered: no error will come
        if handle is None and self.watches:
            handle = self._handle("server", None, None, 0)
        if handle is not None:
            handle._created(response_id, out_of_band)
            self.routes[response_id] = weakref.ref(handle)
            for watch in self.watches:
                watch._offer(handle)

    def _by_order(self, out_of_band: bool) -> str | None:
        """The tag of the request an untagged ``response.created`` answers, by order."""
        if not out_of_band:
            tag = self.queue.in_flight
            return tag if tag is not None and tag in self._requests else None
        for tag, request in self._requests.items():
            if request.out_of_band and request.handle.request is not None:
                return tag
        return None

    def response_done(self, event: ResponseDone) -> None:
        """Finish the handle; start the tool calls (holding the queue for their follow-up);
        free the conversation and let the next request go."""
        wire = event.response
        response_id = wire.id
        if not isinstance(response_id, str):
            return
        ref = self.routes.pop(response_id, None)
        handle = None if ref is None else ref()
        if handle is not None:
            view = None
            if self._conversation is not None:
                try:
                    view = self._conversation.response(response_id)
                except KeyError:  # pragma: no cover - the conversation saw this response.done
                    view = None
            handle._finish(build_result(wire, view))
        if self.tools and wire.conversation_id is not None:
            plan = plan_calls(wire)
            if plan is not None:
                self._start_tools(plan)
        self.queue.done(response_id)
        self.followups.append(READY)

    def speech_started(self, event: InputAudioBufferSpeechStarted) -> None:
        """Barge-in: queue the cancel and truncate :class:`Playback` decides on, then the
        notice for the application."""
        playback = self.playback
        decision = playback.barge_in(event) if playback is not None else None
        if decision is None:
            return
        new_id = self._outbox.new_id
        if decision.cancel is not None:
            event_id = new_id()
            self._remember(event_id, "cancel")
            self.followups.append(attrs.evolve(decision.cancel, event_id=event_id))
        if decision.truncate is not None:
            event_id = new_id()
            self._remember(event_id, "truncate")
            self.followups.append(attrs.evolve(decision.truncate, event_id=event_id))
        if decision.notice is not None:
            self.followups.append(decision.notice)

    def error(self, event: ErrorEvent) -> bool:
        """Match an ``error`` to the layer's own event; True if it was handled (not delivered)."""
        details = event.error
        event_id = details.event_id
        if _METADATA_REFUSED.search(details.message) and self._echoes is not True:
            return self._metadata_refused(event_id)
        if not isinstance(event_id, str):
            return False
        own = self._own.pop(event_id, None)
        if own is None:
            return False
        kind, tag = own
        if kind == "cancel" and details.code == CANCEL_NOT_ACTIVE:
            self.errors_handled += 1
            logger.debug("barge-in cancel raced response.done (harmless)")
            return True
        if kind != "create" or tag is None:
            return False
        if details.code == ACTIVE_RESPONSE and self.queue.refused(tag, retry=True):
            retried = self._requests.get(tag)
            if retried is not None:
                retried.deadline = math.inf  # waits its turn again; due once sent again
            self.errors_handled += 1
            self.followups.append(READY)
            return True
        self.queue.refused(tag, retry=False)
        request = self._requests.pop(tag, None)
        if request is not None:
            sent = request.handle.request
            request.handle._fail(lambda: ResponseRefused(details, sent))
        self.followups.append(READY)
        return False

    def _metadata_refused(self, event_id: object) -> bool:
        """The server refused ``response.metadata`` (speaches), and runs the response anyway:
        send no more tags and match by order. Delivered only if the application's own
        metadata was in the request."""
        awaiting = [r for r in self._requests.values() if r.handle.request is not None]
        named = [
            r
            for r in awaiting
            if r.handle.request is not None and r.handle.request.event_id == event_id
        ]
        if not awaiting:
            return False
        self._echoes = False
        logger.debug("the server refused response.metadata: matching responses by order")
        if any(r.user_metadata for r in (named or awaiting)):
            return False
        self.errors_handled += 1
        return True

    # --- tools -------------------------------------------------------------------------------

    def _start_tools(self, plan: ToolPlan) -> None:
        answered = self._answered
        fresh = [c for c in plan.run if c.call_id not in answered]
        skipped = [(c, out) for c, out in plan.answer if c.call_id not in answered]
        if not fresh and not skipped:
            return  # a repeated response.done: every call has its output already
        for call in (*fresh, *(c for c, _ in skipped)):
            answered[call.call_id] = None
            if len(answered) > MAX_ANSWERED_CALLS:
                del answered[next(iter(answered))]  # the oldest (dicts keep order)
        plan = attrs.evolve(plan, run=tuple(fresh), answer=tuple(skipped))
        if plan.follow_up:
            self.queue.hold()  # before response.done frees the queue: the follow-up goes first
        self._spawn(self._run_tools, plan, name="trio_realtime.tools")

    async def _run_tools(self, plan: ToolPlan) -> None:
        outputs: dict[str, str] = {c.call_id: out for c, out in plan.answer}
        held = plan.follow_up
        try:
            tools, timeout = self.tools, self.tool_timeout

            async def run_one(call_id: str, call: ToolCall) -> None:
                outputs[call_id] = await run_call(tools, call, timeout)

            self.tool_calls_running += len(plan.run)
            try:
                async with trio.open_nursery() as nursery:
                    for call in plan.run:
                        nursery.start_soon(run_one, call.call_id, call, name=f"tool {call.name}")
            finally:
                self.tool_calls_running -= len(plan.run)
            outbox = self._outbox
            for call in (*plan.run, *(c for c, _ in plan.answer)):
                event_id = outbox.new_id()
                self._remember(event_id, "tool_output")
                item = ConversationItem.function_call_output(call.call_id, outputs[call.call_id])
                if not await outbox.send_quietly(
                    ConversationItemCreate(item=item, event_id=event_id)
                ):
                    return
            if held:
                tag = outbox.new_id()
                handle = self._handle("tool_followup", tag, ResponseConfig(), 0)
                self._requests[tag] = _Request(handle, ResponseConfig(), UNSET, False, False)
                self.queue.submit_first(tag)
                self.queue.release()
                held = False
                await self._send_ready(quiet=True)
        finally:
            if held:
                self.queue.release()

    # --- a resumed session -------------------------------------------------------------------

    def connection_lost(self) -> None:
        """The connection is gone and a new one will carry the session on: the running
        responses' handles end with their result as the conversation ended them (status
        ``"interrupted"``). Requests sent and not yet started are noted for
        :meth:`resume_events`. Tool calls run on: their outputs wait in the outbound queue."""
        self.followups.clear()
        for response_id in self.queue.active:
            self.queue.done(response_id)
        conversation = self._conversation
        for response_id, ref in self.routes.items():
            handle = ref()
            if handle is not None and conversation is not None:
                view = conversation.response(response_id)
                handle._finish(build_result(view.raw, view))
        self.routes.clear()
        self._again = [tag for tag, r in self._requests.items() if r.handle.request is not None]

    def resume_events(self, queued: frozenset[str]) -> list[ResponseCreate]:
        """The requests to send first on the new connection (marked sent): those sent before
        the loss that never started, unless their ``response.create`` is still ``queued``
        (it goes with the queue)."""
        lost, self._again = self._again, []
        again = []
        for tag in lost:
            request = self._requests.get(tag)
            sent = None if request is None else request.handle.request
            if request is None or sent is None or sent.event_id in queued:
                continue  # answered meanwhile (a recycle's old connection), or not written
            request.deadline = math.inf  # due again once sent again
            if request.out_of_band:
                again.append(tag)
            elif tag == self.queue.in_flight:
                self.queue.abandon(tag)
                self.queue.submit_first(tag)
        events = [event for event in (self.take_ready(),) if event is not None]
        return events + [e for e in map(self._request_event, again) if e is not None]

    # --- the end -----------------------------------------------------------------------------

    def close(self) -> None:
        """The application closes the session: the layer sends nothing more."""
        self.closing = True

    def terminate(self, make_error: Callable[[], BaseException], ends_iteration: bool) -> None:
        """The session ended: fail what waits for the server, close the watches."""
        self.ended = (make_error, ends_iteration)
        self.followups.clear()
        for request in self._requests.values():
            request.handle._fail(make_error)
        self._requests.clear()
        for ref in self.routes.values():
            handle = ref()
            if handle is not None:
                handle._fail(make_error)
        self.routes.clear()
        for watch in self.watches:
            watch._close(None if ends_iteration else make_error)
        self._room_freed()
