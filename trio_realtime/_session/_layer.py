"""The session's conversation layer: response requests, handles, tool calls and barge-in.

The decisions live in sans-I/O objects (:class:`~._turns.TurnQueue`: when a request may go;
:func:`~._tool_calls.plan_calls`: what every function call gets; :class:`~._playback.Playback`:
what a barge-in cancels and truncates). :class:`ResponseLayer` only executes them:

* The receiver calls :meth:`ResponseLayer.response_created`, :meth:`~ResponseLayer.response_done`,
  :meth:`~ResponseLayer.speech_started` and :meth:`~ResponseLayer.error` for those four event
  types only; each is a few dict operations and never waits. What they decide to send goes
  to :attr:`ResponseLayer.followups`, which the receiver hands to the *control task* over a
  bounded channel (so the receiver never waits on the outbound channel itself).
* The control task sends those events in order. Requests the caller can send at once go
  from the caller's own task instead, so ``create_response`` keeps program order with the
  caller's other sends.
* Each finished response with function calls gets one task in the session's nursery that
  runs the calls concurrently, sends one ``function_call_output`` per call, then queues the
  one follow-up request.

Every event the layer sends carries an ``event_id`` chosen before it is queued, so an
``error`` naming it is matched even if it overtakes the sending task. Errors the layer
caused and handled are not delivered to the application (they are counted in
``statistics().errors_handled``): ``conversation_already_has_active_response`` for its own
request (sent again later) and ``response_cancel_not_active`` for its own cancel (the
response had already ended). Every other error is delivered.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Literal, TypeAlias, final

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
from ._mailbox import Mailbox
from ._response_handles import (
    REQUEST_KEY,
    ResponseHandle,
    ResponseOrigin,
    ResponseRefused,
    ResponseWatch,
    build_result,
)
from ._tool_calls import ToolCall, ToolPlan, plan_calls, run_call

if TYPE_CHECKING:
    from ._keepalive import Heartbeat
    from ._session import RealtimeSession

__all__ = ["ResponseLayer"]

logger = logging.getLogger("trio_realtime")

#: The server's limit on response ``metadata`` pairs (server-behaviour.md 5.6).
MAX_METADATA_PAIRS: Final = 16
ACTIVE_RESPONSE: Final = "conversation_already_has_active_response"
CANCEL_NOT_ACTIVE: Final = "response_cancel_not_active"
#: How many of the layer's own sent events are remembered for matching errors.
MAX_OWN_EVENTS: Final = 256
#: How many answered call ids are remembered, so a repeated response.done answers nothing twice.
MAX_ANSWERED_CALLS: Final = 256
CONTROL_QUEUE_SIZE: Final = 16

_OwnKind: TypeAlias = Literal["create", "cancel", "truncate", "tool_output"]
#: What the receiver hands on after an event: a notice for the application, or an event to
#: send through the control task.
Followup: TypeAlias = PlaybackInterrupted | ClientEvent
#: Tells the control task to look at the queue.
_PUMP: Final = "pump"


@final
@attrs.define
class _Request:
    handle: ResponseHandle
    config: ResponseConfig
    event_id: str | Unset


@final
class ResponseLayer:
    """Requests, handles, tools and barge-in for one session (see the module docstring)."""

    def __init__(
        self,
        session: RealtimeSession,
        conversation: Conversation | None,
        *,
        tools: dict[str, FunctionTool],
        tool_timeout: float,
        handle_interruptions: bool,
        max_queued_responses: int,
    ) -> None:
        self._session = session
        self._conversation = conversation
        self.queue = TurnQueue(max_waiting=max_queued_responses)
        self.tools = tools
        self.tool_timeout = tool_timeout
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
        self._control: Mailbox[ClientEvent | str] = Mailbox(CONTROL_QUEUE_SIZE)
        self._room: trio.Event | None = None
        #: How the session ended (the error to raise, whether iteration just ends), once it has.
        self.ended: tuple[Callable[[], BaseException], bool] | None = None
        self.errors_handled = 0
        self.tool_calls_running = 0

    @property
    def live_handles(self) -> int:
        """Handles waiting for their response to start or to finish."""
        return len(self._requests) + len(self.routes)

    # --- the application's requests ----------------------------------------------------------

    async def request(
        self,
        config: ResponseConfig | Unset | None,
        event_id: str | Unset,
        max_deltas: int,
        origin: ResponseOrigin = "request",
    ) -> ResponseHandle:
        """Tag and send, or queue, one ``response.create``; return its handle at once."""
        if max_deltas < 0:
            raise ValueError(f"max_deltas must be >= 0, got {max_deltas!r}")
        config = config if isinstance(config, ResponseConfig) else ResponseConfig()
        metadata = config.metadata if isinstance(config.metadata, dict) else {}
        if REQUEST_KEY in metadata:
            raise ValueError(f"metadata key {REQUEST_KEY!r} is reserved for the session's tag")
        if len(metadata) >= MAX_METADATA_PAIRS:
            raise ValueError(
                f"metadata holds {len(metadata)} pairs; the session needs one of the server's "
                f"{MAX_METADATA_PAIRS} to match the response to this request"
            )
        session = self._session
        tag = session._next_id()
        handle = ResponseHandle._create(
            origin=origin,
            tag=tag,
            config=config,
            max_deltas=max_deltas,
            conversation=self._conversation,
        )
        self._requests[tag] = _Request(handle, config, event_id)
        try:
            if config.conversation == "none":  # out-of-band: outside the one-at-a-time rule
                await self._send_request(tag, quiet=False)
                return handle
            queue = self.queue
            while queue.full:
                room = self._room = self._room or trio.Event()
                await room.wait()
                session._raise_closed()
            # The caller sends its own request when the queue is idle, keeping program order
            # with its other sends; otherwise the control task sends it when its turn comes.
            idle = not queue.busy and not queue.waiting
            queue.submit(tag)
            if idle:
                await self._send_ready(quiet=False)
            else:
                self._pump()
        except BaseException:
            self._forget(tag)
            raise
        return handle

    def _forget(self, tag: str) -> None:
        """A request that never left: clear it everywhere and let the next one go."""
        request = self._requests.pop(tag, None)
        if request is not None:
            request.handle._fail(lambda: trio.ClosedResourceError("the request was not sent"))
        self.queue.abandon(tag)
        self._room_freed()
        self._pump()

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

    async def _send_request(self, tag: str, *, quiet: bool) -> None:
        request = self._requests.get(tag)
        if request is None:
            return
        config = request.config
        metadata = dict(config.metadata) if isinstance(config.metadata, dict) else {}
        metadata[REQUEST_KEY] = tag
        event_id = request.event_id
        if not isinstance(event_id, str) or request.handle.request is not None:
            event_id = self._session._next_id()  # a retry gets an id of its own
        event = ResponseCreate(response=attrs.evolve(config, metadata=metadata), event_id=event_id)
        self._remember(event_id, "create", tag)
        request.handle._sent(event)
        if quiet:
            await self._session._send_quietly(event)
        else:
            await self._session.send(event)

    def _remember(self, event_id: str, kind: _OwnKind, tag: str | None = None) -> None:
        own = self._own
        own[event_id] = (kind, tag)
        if len(own) > MAX_OWN_EVENTS:
            del own[next(iter(own))]  # the oldest (dicts keep order)

    def _pump(self) -> None:
        """Poke the control task to send the next queued request (never waits).

        If the control channel is full the poke is not needed: the control task looks at the
        queue after every item it handles.
        """
        if self.queue.waiting:
            try:
                self._control.put_nowait(_PUMP)
            except (trio.WouldBlock, trio.ClosedResourceError):
                pass

    def _room_freed(self) -> None:
        room = self._room
        if room is not None:
            self._room = None
            room.set()

    # --- the receiver's handlers (never wait) ------------------------------------------------

    def response_created(self, event: ResponseCreated) -> None:
        """Match the response to its request by tag; mark the conversation busy; hand the
        handle to the watches."""
        wire = event.response
        response_id = wire.id
        if not isinstance(response_id, str):
            return
        metadata = wire.metadata
        tag = metadata.get(REQUEST_KEY) if isinstance(metadata, dict) else None
        request = self._requests.pop(tag, None) if isinstance(tag, str) else None
        out_of_band = wire.conversation_id is None
        if not out_of_band:
            self.queue.created(response_id, tag if request is not None else None)
        handle = request.handle if request is not None else None
        if handle is not None and handle.request is not None:
            self._own.pop(str(handle.request.event_id), None)  # answered: no error will come
        if handle is None and self.watches:
            handle = ResponseHandle._create(
                origin="server",
                tag=None,
                config=None,
                max_deltas=0,
                conversation=self._conversation,
            )
        if handle is not None:
            handle._created(response_id, out_of_band)
            self.routes[response_id] = weakref.ref(handle)
            for watch in self.watches:
                watch._offer(handle)

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
        self._pump()

    def speech_started(self, event: InputAudioBufferSpeechStarted) -> None:
        """Barge-in: queue the cancel and truncate :class:`Playback` decides on, then the
        notice for the application."""
        playback = self.playback
        decision = playback.barge_in(event) if playback is not None else None
        if decision is None:
            return
        session = self._session
        if decision.cancel is not None:
            event_id = session._next_id()
            self._remember(event_id, "cancel")
            self.followups.append(attrs.evolve(decision.cancel, event_id=event_id))
        if decision.truncate is not None:
            event_id = session._next_id()
            self._remember(event_id, "truncate")
            self.followups.append(attrs.evolve(decision.truncate, event_id=event_id))
        if decision.notice is not None:
            self.followups.append(decision.notice)

    def error(self, event: ErrorEvent) -> bool:
        """Match an ``error`` to the layer's own event; True if it was handled (not delivered)."""
        details = event.error
        event_id = details.event_id
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
            self.errors_handled += 1
            self._pump()
            return True
        self.queue.refused(tag, retry=False)
        request = self._requests.pop(tag, None)
        if request is not None:
            request.handle._fail(lambda: ResponseRefused(details))
        self._pump()
        return False

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
        self._session._nursery.start_soon(self._run_tools, plan, name="trio_realtime.tools")

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
            session = self._session
            order = [*plan.run, *(c for c, _ in plan.answer)]
            for call in order:
                event_id = session._next_id()
                self._remember(event_id, "tool_output")
                item = ConversationItem.function_call_output(call.call_id, outputs[call.call_id])
                if not await session._send_quietly(
                    ConversationItemCreate(item=item, event_id=event_id)
                ):
                    return
            if held:
                tag = session._next_id()
                handle = ResponseHandle._create(
                    origin="tool_followup",
                    tag=tag,
                    config=ResponseConfig(),
                    max_deltas=0,
                    conversation=self._conversation,
                )
                self._requests[tag] = _Request(handle, ResponseConfig(), UNSET)
                self.queue.submit_first(tag)
                self.queue.release()
                held = False
                await self._send_ready(quiet=True)
        finally:
            if held:
                self.queue.release()

    # --- the control task --------------------------------------------------------------------

    async def control(self, heartbeat: Heartbeat | None = None) -> None:
        """Send what the receiver decided, in order, and keep ``heartbeat`` going (runs in
        the session's nursery until the session closes)."""
        session = self._session
        receive = self._control.get
        try:
            while True:
                if heartbeat is None:
                    item = await receive()
                else:
                    with trio.move_on_at(heartbeat.due) as timer:
                        item = await receive()
                    if timer.cancelled_caught:
                        if not await heartbeat.beat():
                            heartbeat = None  # over: the peer is gone or the socket closed
                        continue
                if not isinstance(item, str):
                    await session._send_quietly(item)
                await self._send_ready(quiet=True)
        except (trio.EndOfChannel, trio.ClosedResourceError):
            pass

    def hand_over_nowait(self, event: ClientEvent) -> bool:
        """From the receiver: queue an event for the control task; False if that must wait.

        Once the session is closing the event is dropped (the layer sends nothing more).
        """
        try:
            self._control.put_nowait(event)
        except trio.WouldBlock:
            return False
        except trio.ClosedResourceError:
            pass
        return True

    async def hand_over(self, event: ClientEvent) -> None:
        """Like :meth:`hand_over_nowait`, waiting for room."""
        try:
            await self._control.put(event)
        except trio.ClosedResourceError:
            pass

    # --- the end -----------------------------------------------------------------------------

    def closing(self) -> None:
        """The application closes the session: the layer sends nothing more."""
        self._control.close()

    def terminate(self, make_error: Callable[[], BaseException], ends_iteration: bool) -> None:
        """The session ended: fail what waits for the server, close the watches."""
        self.ended = (make_error, ends_iteration)
        self._control.close()
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
        room = self._room
        if room is not None:
            room.set()
