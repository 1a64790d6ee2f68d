"""The conversation layer's face on :class:`~trio_realtime.RealtimeSession`.

Responses as handles (:meth:`~ConversationMethods.create_response`,
:meth:`~ConversationMethods.next_response`, :meth:`~ConversationMethods.watch_responses`),
tools (:meth:`~ConversationMethods.set_tools`, :attr:`~ConversationMethods.tools`) and
playback for barge-in (:attr:`~ConversationMethods.playback`). The work is done by
:class:`~._session_layer.ResponseLayer`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

import trio

from .._core._events import (
    ClientEvent,
    ErrorEvent,
    ResponseConfig,
    Session,
    SessionUpdate,
    SessionUpdated,
    UnknownEvent,
)
from .._core._playback import Playback
from .._core._tools import FunctionTool, tool_registry
from .._core._unset import UNSET, Unset
from ._layer import ResponseLayer
from ._response_handles import ResponseHandle, ResponseWatch
from ._types import ReceivedEvent
from ._waiters import Waiters

__all__ = ["ConversationMethods"]

_C = TypeVar("_C", bound=ClientEvent | UnknownEvent)


class ConversationMethods:
    """Response handles, tools and playback; the session provides the state."""

    __slots__ = ()

    _layer: ResponseLayer
    _waiters: Waiters

    def _raise_closed(self) -> None:  # pragma: no cover - RealtimeSession defines it
        raise NotImplementedError

    def _next_id(self) -> str:  # pragma: no cover - RealtimeSession defines it
        raise NotImplementedError

    async def send(self, event: _C) -> _C:  # pragma: no cover - RealtimeSession defines it
        raise NotImplementedError

    async def create_response(
        self,
        response: ResponseConfig | Unset | None = UNSET,
        *,
        event_id: str | Unset = UNSET,
        max_deltas: int = 1024,
    ) -> ResponseHandle:
        """Ask for a response; return its :class:`~trio_realtime.ResponseHandle` at once.

        The request carries ``metadata={"trio_realtime_request": <tag>}`` (merged into the
        ``metadata`` of ``response``), which the server echoes in ``response.created``; that
        is how the handle finds its response.

        Default-conversation requests go one at a time (server-behaviour.md 5.9): if a
        response is running (whoever started it, VAD included), a request of the session's
        is awaiting its answer, or tool calls are running whose follow-up goes first, the
        request waits in a queue and the session sends it once the conversation is free, in
        order. Otherwise it is sent now, from this task. Should VAD start a response while
        the request travels, the server's ``conversation_already_has_active_response`` is
        handled (not delivered) and the request is sent again after that response. So the
        library never causes that error. ``send(ResponseCreate(...))`` bypasses all this.

        Out-of-band requests (``ResponseConfig(conversation="none")``) are never queued.

        Args:
            response: The response's configuration, or nothing for the session's defaults.
            event_id: The ``event_id`` of the (first) ``response.create``.
            max_deltas: How many unread deltas the handle keeps (see
                :class:`~trio_realtime.ResponseHandle`); 0 when only ``done()`` matters.

        Raises:
            ValueError: ``metadata`` already holds 16 pairs, uses the reserved key, or
                ``max_deltas`` is negative.
            ConnectionClosed: The connection has ended.
            trio.ClosedResourceError: The session was closed by this side.
        """
        self._raise_closed()
        return await self._layer.request(response, event_id, max_deltas)

    # A timeout argument (ASYNC109), as in wait_for.
    async def next_response(
        self,
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        max_deltas: int = 1024,
    ) -> ResponseHandle:
        """The handle of the next response to start (whoever asked for it).

        Registered when called, like ``wait_for``: it gets the first ``response.created``
        the receiver handles from then on, and every delta of that response. To follow every
        response without a gap between calls, use :meth:`watch_responses`.

        Raises:
            trio.TooSlowError: ``timeout`` passed first.
            ConnectionClosed: The connection ended first.
            trio.ClosedResourceError: The session was closed by this side.
        """
        self._raise_closed()
        with (
            self.watch_responses(max_handles=1, max_deltas=max_deltas) as watch,
            trio.fail_after(float("inf") if timeout is None else timeout),
        ):
            try:
                return await watch.receive()
            except trio.EndOfChannel:
                self._raise_closed()
                raise  # pragma: no cover - an ended watch means an ended session

    @contextlib.contextmanager
    def watch_responses(
        self, *, max_handles: int = 16, max_deltas: int = 1024
    ) -> Iterator[ResponseWatch]:
        """Follow every response that starts while the block is open::

            with session.watch_responses() as responses:
                async for handle in responses:
                    async for delta in handle:
                        ...

        Each response is one :class:`~trio_realtime.ResponseHandle`: the one
        ``create_response`` returned for the application's own requests, a new one for tool
        follow-ups and responses the server started (see ``handle.origin``). Handles given
        out keep up to ``max_deltas`` unread deltas; at most ``max_handles`` handles wait
        unread (see :class:`~trio_realtime.ResponseWatch` for what happens past that).

        Raises:
            ValueError: A bound below 1.
        """
        if max_handles < 1 or max_deltas < 0:
            raise ValueError("max_handles must be >= 1 and max_deltas >= 0")
        watch = ResponseWatch._create(max_handles, max_deltas)
        layer = self._layer
        if layer.ended is not None:  # nothing more can start
            make_error, ends_iteration = layer.ended
            watch._close(None if ends_iteration else make_error)
        layer.watches.append(watch)
        try:
            yield watch
        finally:
            layer.watches.remove(watch)
            watch._close()

    @property
    def tools(self) -> Mapping[str, FunctionTool]:
        """The tools the session runs, by name (read-only; change them with :meth:`set_tools`)."""
        return MappingProxyType(self._layer.tools)

    async def set_tools(
        self,
        tools: Iterable[FunctionTool | Callable[..., Any]],
        *,
        tool_timeout: float | None = None,
    ) -> SessionUpdate:
        """Replace the tools: run these from now on, and send them in ``session.update``.

        Plain callables are made tools with :func:`~trio_realtime.tool`. The server's
        ``session.updated`` comes later, in the event stream. With no tools, function calls
        are left to the application.

        Args:
            tools: The new tools.
            tool_timeout: The default per-call timeout in seconds (unchanged if ``None``).

        Raises:
            ValueError: Two tools share a name, or ``tool_timeout`` is not positive.
        """
        registry = tool_registry(tools)
        if tool_timeout is not None and not tool_timeout > 0:
            raise ValueError(f"tool_timeout must be positive, got {tool_timeout!r}")
        self._raise_closed()
        layer = self._layer
        event = await self.send(
            SessionUpdate(session=Session(tools=[t.definition for t in registry.values()]))
        )
        layer.tools = registry
        if tool_timeout is not None:
            layer.tool_timeout = tool_timeout
        return event

    async def _install_tools(self) -> None:
        """Send the tools given to ``connect`` and wait until the server has them.

        Raises:
            ValueError: The server refused them (the message is the server's).
        """
        event_id = self._next_id()

        def answer(event: ReceivedEvent) -> bool:
            return isinstance(event, SessionUpdated) or (
                isinstance(event, ErrorEvent) and event.error.event_id == event_id
            )

        waiter = self._waiters.add(answer)  # before sending: the answer cannot slip past
        try:
            definitions = [t.definition for t in self._layer.tools.values()]
            await self.send(SessionUpdate(session=Session(tools=definitions), event_id=event_id))
            await waiter.done.wait()
        finally:
            self._waiters.discard(waiter)
        if waiter.error is not None:
            raise waiter.error
        if isinstance(waiter.event, ErrorEvent):
            raise ValueError(f"the server refused the tools: {waiter.event.error.message}")

    @property
    def playback(self) -> Playback:
        """Playback progress for barge-in: report what the user heard here.

        ``session.playback.played(item_id, ms)`` (or ``played_bytes``) as audio leaves the
        speaker; ``session.playback.handle_interruptions = False`` turns barge-in handling
        off. See :class:`~trio_realtime.Playback` and
        :class:`~trio_realtime.PlaybackInterrupted`.

        Raises:
            RuntimeError: The session was opened with ``track_conversation=False``.
        """
        playback = self._layer.playback
        if playback is None:
            raise RuntimeError("this session was opened with track_conversation=False")
        return playback
