"""Response handles: one response's deltas and final result, without stealing from anyone.

A :class:`ResponseHandle` stands for one response: one the application asked for with
:meth:`RealtimeSession.create_response`, a tool follow-up, or one the server started (VAD),
handed out by :meth:`RealtimeSession.next_response` and
:meth:`RealtimeSession.watch_responses`. The session's receiver *copies* the response's
deltas into the handle, as it gives ``wait_for`` its matches: the session's own event stream
still gets every event, in order.

Bounded: a handle keeps at most ``max_deltas`` deltas that nobody has read yet. If it falls
that far behind, it stops keeping deltas (later ones would leave a gap); iteration yields
the ones it kept and then raises :class:`HandleOverflow`. A handle the application no longer
references is not fed at all (the session holds running responses' handles weakly). The
final result never depends on the deltas: :meth:`ResponseHandle.done` builds it from
``response.done`` and the conversation, so it is complete even for a handle nobody iterated.
Pass ``max_deltas=0`` when only the result matters.

A task waiting on a handle is counted in the session's wait gauge, so the session's own
stream never holds the receiver while it waits: reading only handles never stalls.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Literal, Protocol, TypeAlias, final

import attrs
import trio

from .._core._conversation import INTERRUPTED
from .._core._errors import RealtimeError
from .._core._events import (
    ErrorDetails,
    Response,
    ResponseAudioDelta,
    ResponseAudioTranscriptDelta,
    ResponseConfig,
    ResponseCreate,
    ResponseFunctionCallArgumentsDelta,
    ResponseStatusDetails,
    ResponseTextDelta,
    Usage,
)
from ._requests import RequestRefused, WaitGauge
from ._support import NoPublicConstructor
from ._tool_calls import ToolCall, function_calls

if TYPE_CHECKING:
    from .._core._conversation import Conversation
    from .._core._conversation_views import ResponseView

__all__ = [
    "DELTA_TYPES",
    "REQUEST_KEY",
    "HandleOverflow",
    "Notes",
    "ResponseDelta",
    "ResponseHandle",
    "ResponseOrigin",
    "ResponseRefused",
    "ResponseResult",
    "ResponseWatch",
    "build_result",
]

#: The ``metadata`` key the session tags its ``response.create`` requests with, to match
#: each ``response.created`` to its request (server-behaviour.md 5.6 echoes metadata).
REQUEST_KEY: Final = "trio_realtime_request"

#: What iterating a handle yields: the streamed content of that response only.
ResponseDelta: TypeAlias = (
    ResponseTextDelta
    | ResponseAudioDelta
    | ResponseAudioTranscriptDelta
    | ResponseFunctionCallArgumentsDelta
)
DELTA_TYPES: Final = frozenset(
    [
        ResponseTextDelta,
        ResponseAudioDelta,
        ResponseAudioTranscriptDelta,
        ResponseFunctionCallArgumentsDelta,
    ]
)

#: Who asked for a response: the application (``create_response``), the session after tool
#: calls, or someone else (server VAD, a raw ``send``).
ResponseOrigin: TypeAlias = Literal["request", "tool_followup", "server"]


class ResponseRefused(RequestRefused):
    """The server answered the ``response.create`` with an ``error``; no response started.

    Attributes:
        error: The error's details (``code``, ``message``, ``param``).
        request: The ``response.create`` it refused, when known.
    """

    def __init__(self, error: ErrorDetails, request: ResponseCreate | None = None) -> None:
        super().__init__(error, request)
        code = error.code if isinstance(error.code, str) else error.type
        self.args = (f"the server refused the response: {code}: {error.message}",)


class Notes(Protocol):
    """Where a timeout message finds the last server error."""

    def last_error_note(self) -> str:
        """``"; last server error: CODE: MESSAGE"``, or ``""``."""
        ...


class HandleOverflow(RealtimeError):
    """A handle or response watch fell ``max_*`` items behind and stopped keeping them.

    What it kept was delivered first. The response's final result is still complete
    (:meth:`ResponseHandle.done`, or the session's conversation).
    """


@final
@attrs.frozen(kw_only=True)
class ResponseResult:
    """A finished response, as of its ``response.done`` (a snapshot).

    Attributes:
        id: The response id.
        status: ``completed``, ``cancelled``, ``incomplete`` or ``failed``; ``interrupted``
            (the client's own status) when the connection was lost while it ran and the
            session resumed on a new one: the result holds what had arrived.
        status_details: Why it ended so (``reason`` ``turn_detected`` after a barge-in), or
            ``None``.
        out_of_band: Whether it was an out-of-band response (``conversation: "none"``).
        text: The text of its text parts, joined.
        transcript: The transcript of its audio, joined (``""`` without audio).
        audio: Its audio as the conversation kept it (all of it by default; ``b""`` with
            ``track_conversation=False`` or ``keep_audio_seconds=0``).
        audio_format: The format of :attr:`audio`, when the response had audio.
        function_calls: Its function calls, in order.
        usage: Its token usage.
        metadata: Its ``metadata``, without the session's request tag.
        raw: The wire ``response`` of ``response.done``.
    """

    id: str
    status: str | None
    status_details: ResponseStatusDetails | None
    out_of_band: bool
    text: str
    transcript: str
    audio: bytes = attrs.field(repr=lambda audio: f"<{len(audio)} bytes>")
    audio_format: str | None
    function_calls: tuple[ToolCall, ...]
    usage: Usage | None
    metadata: Mapping[str, str] | None
    raw: Response = attrs.field(repr=False)


def build_result(response: Response, view: ResponseView | None) -> ResponseResult:
    """The result of a finished response, from its wire ``response.done`` and its live view."""
    texts: list[str] = []
    transcripts: list[str] = []
    output = response.output if isinstance(response.output, list) else []
    for item in output:
        if item.type != "message" or not isinstance(item.content, list):
            continue
        for part in item.content:
            if isinstance(part.text, str) and part.type == "text":
                texts.append(part.text)
            if isinstance(part.transcript, str) and part.type == "audio":
                transcripts.append(part.transcript)
    if view is not None and response.status == INTERRUPTED:
        # No response.done came: what arrived is in the conversation's items.
        texts = [item.text for item in view.output if item.text]
        transcripts = [t for item in view.output if (t := item.transcript)]
    audio = b""
    fmt = None
    if view is not None:
        for view_item in view.output:
            if view_item.audio_format is not None and fmt is None:
                fmt = view_item.audio_format
            audio += view_item.audio
    wire_metadata = response.metadata
    metadata: Mapping[str, str] | None = None
    if isinstance(wire_metadata, dict):
        metadata = MappingProxyType({k: v for k, v in wire_metadata.items() if k != REQUEST_KEY})
    details = response.status_details
    return ResponseResult(
        id=response.id if isinstance(response.id, str) else "",
        status=response.status if isinstance(response.status, str) else None,
        status_details=details if isinstance(details, ResponseStatusDetails) else None,
        out_of_band=response.conversation_id is None,
        text="".join(texts),
        transcript="".join(transcripts),
        audio=audio,
        audio_format=fmt,
        function_calls=function_calls(response),
        usage=response.usage if isinstance(response.usage, Usage) else None,
        metadata=metadata,
        raw=response,
    )


@final
class ResponseHandle(metaclass=NoPublicConstructor):
    """One response: iterate its deltas, await its result.

    Handed out by the session only. ``async for delta in handle`` yields that response's
    :data:`ResponseDelta` events (text, audio, transcript and function-argument deltas) from
    its ``response.created`` on, and stops after its ``response.done``; iterate a handle in
    one task (each delta goes to one reader). ``await handle.done()`` returns its
    :class:`ResponseResult`.

    A handle never depends on anyone reading the session's own stream: while a task waits on
    a handle (iterating it, or in :meth:`done`), the stream does not hold the receiver (see
    "Who gets which event" in README.rst).

    Bounded: a handle keeps at most ``max_deltas`` deltas that nobody has read yet; past that
    it stops keeping them, iteration yields the ones it kept and then raises
    :class:`HandleOverflow`, and :meth:`done` still gives the whole result.

    Failures: :class:`ResponseRefused` when the server refused the request;
    :class:`HandleOverflow` (iteration only) after falling ``max_deltas`` behind;
    :class:`trio.TooSlowError` when the server never answered the request within the
    session's ``request_timeout``; the session's own exception if it ends before the
    response does.
    """

    __slots__ = (
        "__weakref__",
        "_config",
        "_conversation",
        "_deltas",
        "_dropped",
        "_error",
        "_finished",
        "_gauge",
        "_max_deltas",
        "_origin",
        "_out_of_band",
        "_overflowed",
        "_request",
        "_response_id",
        "_result",
        "_state",
        "_tag",
        "_wake",
    )

    def __init__(
        self,
        *,
        origin: ResponseOrigin,
        tag: str | None,
        config: ResponseConfig | None,
        max_deltas: int,
        conversation: Conversation | None,
        gauge: WaitGauge,
        state: Notes,
    ) -> None:
        self._origin: ResponseOrigin = origin
        self._gauge = gauge
        self._state = state
        self._tag = tag
        self._config = config
        self._conversation = conversation
        self._max_deltas = max_deltas
        self._deltas: deque[ResponseDelta] = deque()
        self._dropped = 0
        self._overflowed = False
        self._wake: trio.Event | None = None
        self._finished = trio.Event()
        self._request: ResponseCreate | None = None
        self._response_id: str | None = None
        self._out_of_band: bool | None = None if config is None else config.conversation == "none"
        self._result: ResponseResult | None = None
        self._error: Callable[[], BaseException] | None = None

    def __repr__(self) -> str:
        state = (
            self._result.status
            if self._result is not None
            else "failed"
            if self._error is not None
            else "running"
            if self._response_id is not None
            else "requested"
        )
        return f"<ResponseHandle {self._response_id or self._tag!r} {self._origin} {state}>"

    # --- read API ----------------------------------------------------------------------------

    @property
    def origin(self) -> ResponseOrigin:
        """Who asked for the response: ``"request"``, ``"tool_followup"`` or ``"server"``."""
        return self._origin

    @property
    def request_id(self) -> str | None:
        """The tag in the request's ``metadata`` (``None`` for server-started responses)."""
        return self._tag

    @property
    def request(self) -> ResponseCreate | None:
        """The ``response.create`` as sent; ``None`` while queued (or for server-started)."""
        return self._request

    @property
    def response_id(self) -> str | None:
        """The response id, once ``response.created`` has arrived."""
        return self._response_id

    @property
    def out_of_band(self) -> bool | None:
        """Whether the response is out-of-band (``None`` until known)."""
        return self._out_of_band

    @property
    def response(self) -> ResponseView | None:
        """The live view of the response in the conversation, once it has started."""
        if self._response_id is None or self._conversation is None:
            return None
        try:
            return self._conversation.response(self._response_id)
        except KeyError:
            return None

    @property
    def result(self) -> ResponseResult | None:
        """The result, once ``response.done`` has arrived (``None`` before)."""
        return self._result

    @property
    def dropped(self) -> int:
        """Deltas not kept because the handle was ``max_deltas`` behind."""
        return self._dropped

    # A timeout argument (ASYNC109), as in wait_for: the message can say what was waited for.
    async def done(self, *, timeout: float | None = None) -> ResponseResult:  # noqa: ASYNC109
        """Wait for ``response.done`` and return the result.

        Args:
            timeout: Seconds to wait; ``None`` waits as long as the session lives.

        Raises:
            ResponseRefused: The server refused the request.
            trio.TooSlowError: ``timeout`` passed first, or the server never answered the
                request (the message says what was waited for and the last server error).
            ConnectionClosed: The session ended before the response did.
            trio.ClosedResourceError: The session was closed by this side first.
        """
        if not self._finished.is_set():
            self._gauge.enter()
            try:
                with trio.move_on_after(float("inf") if timeout is None else timeout):
                    await self._finished.wait()
            finally:
                self._gauge.exit()
        else:
            await trio.lowlevel.checkpoint()
        if self._result is not None:
            return self._result
        if self._error is not None:
            raise self._error()
        raise trio.TooSlowError(
            f"{self._describe()} not done within {timeout:g} s "
            f"({len(self._deltas) + self._dropped} deltas so far){self._state.last_error_note()}"
        )

    def _describe(self) -> str:
        if self._response_id is not None:
            return f"response {self._response_id}"
        request = self._request
        if request is not None:
            return f"the response to {request.type} {request.event_id} (not started)"
        return "the queued response request (not sent yet)"

    def __aiter__(self) -> ResponseHandle:
        return self

    async def __anext__(self) -> ResponseDelta:
        while True:
            deltas = self._deltas
            if deltas:
                return deltas.popleft()
            if self._overflowed:
                raise HandleOverflow(
                    f"the handle fell {self._max_deltas} deltas behind; {self._dropped} "
                    "were not kept (read faster, raise max_deltas, or use done())"
                )
            if self._finished.is_set():
                if self._result is None and self._error is not None:
                    raise self._error()
                raise StopAsyncIteration
            wake = self._wake
            if wake is None:
                wake = self._wake = trio.Event()
            self._gauge.enter()
            try:
                await wake.wait()
            finally:
                self._gauge.exit()

    # --- fed by the session ------------------------------------------------------------------

    def _sent(self, request: ResponseCreate) -> None:
        self._request = request

    def _created(self, response_id: str, out_of_band: bool) -> None:
        self._response_id = response_id
        self._out_of_band = out_of_band

    def _keep_deltas(self, max_deltas: int) -> None:
        """Start (or widen) keeping deltas: the handle was handed to someone."""
        if max_deltas > self._max_deltas:
            self._max_deltas = max_deltas

    def _delta(self, event: ResponseDelta) -> None:
        """One delta of this response: O(1), never blocks."""
        if self._overflowed or len(self._deltas) >= self._max_deltas:
            if self._max_deltas == 0:
                return  # nobody asked for deltas: nothing is dropped from anyone
            self._overflowed = True
            self._dropped += 1
        else:
            self._deltas.append(event)
        self._notify()

    def _finish(self, result: ResponseResult) -> None:
        self._result = result
        self._finished.set()
        self._notify()

    def _fail(self, make_error: Callable[[], BaseException]) -> None:
        if self._finished.is_set():
            return
        self._error = make_error
        self._finished.set()
        self._notify()

    def _notify(self) -> None:
        wake = self._wake
        if wake is not None:
            self._wake = None
            wake.set()


@final
class ResponseWatch(metaclass=NoPublicConstructor):
    """The handles of responses as they start, from :meth:`RealtimeSession.watch_responses`.

    ``async for handle in watch`` yields one :class:`ResponseHandle` per response whose
    ``response.created`` arrives while the watch is open, whoever asked for it (check
    :attr:`ResponseHandle.origin`); an application's own requests come as the very handle
    ``create_response`` returned. Iteration ends when the session ends normally.

    Bounded: at most ``max_handles`` handles wait unread; past that the watch stops taking
    new ones, and iteration raises :class:`HandleOverflow` after the ones it kept.
    """

    __slots__ = (
        "_closed",
        "_error",
        "_gauge",
        "_handles",
        "_max_deltas",
        "_max_handles",
        "_overflowed",
        "_wake",
    )

    def __init__(self, max_handles: int, max_deltas: int, gauge: WaitGauge) -> None:
        self._gauge = gauge
        self._max_handles = max_handles
        self._max_deltas = max_deltas
        self._handles: deque[ResponseHandle] = deque()
        self._overflowed = False
        self._closed = False
        self._error: Callable[[], BaseException] | None = None
        self._wake: trio.Event | None = None

    def __repr__(self) -> str:
        return f"<ResponseWatch {len(self._handles)} waiting>"

    def __aiter__(self) -> ResponseWatch:
        return self

    async def __anext__(self) -> ResponseHandle:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    async def receive(self) -> ResponseHandle:
        """The next response's handle, waiting for one to start.

        Raises:
            trio.EndOfChannel: The watch was closed, or the session ended normally.
            HandleOverflow: The watch fell ``max_handles`` behind (after the kept ones).
            ConnectionClosed: The session ended abnormally.
        """
        while True:
            if self._handles:
                return self._handles.popleft()
            if self._overflowed:
                raise HandleOverflow(f"the response watch fell {self._max_handles} handles behind")
            if self._error is not None:
                raise self._error()
            if self._closed:
                raise trio.EndOfChannel
            wake = self._wake
            if wake is None:
                wake = self._wake = trio.Event()
            self._gauge.enter()
            try:
                await wake.wait()
            finally:
                self._gauge.exit()

    def _offer(self, handle: ResponseHandle) -> None:
        if self._closed or self._overflowed:
            return
        if len(self._handles) >= self._max_handles:
            self._overflowed = True
        else:
            handle._keep_deltas(self._max_deltas)
            self._handles.append(handle)
        self._notify()

    def _close(self, make_error: Callable[[], BaseException] | None = None) -> None:
        self._closed = True
        if make_error is not None and self._error is None:
            self._error = make_error
        self._notify()

    def _notify(self) -> None:
        wake = self._wake
        if wake is not None:
            self._wake = None
            wake.set()
