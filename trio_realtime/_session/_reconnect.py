"""One attempt to carry a session over to a new connection: open it, replay, read the answers.

:class:`Reconnector` is what a :class:`~._resume.Resumer` runs for each attempt. It opens a
transport as ``connect`` does, waits for the new ``session.created``, then writes the
:class:`~._history.Replay` (the configuration update, then one ``conversation.item.create``
per item) while it reads the answers: a long history must not fill both ends' buffers. The
answers are the library's own doing: they are counted and recorded, never delivered, and the
conversation takes only the settled configuration (``session.updated``).

An attempt ends in one of three ways: a ready connection (its transport held by an
:class:`~contextlib.AsyncExitStack` the caller closes when it leaves the connection),
:class:`Retry` (another attempt may work: the host was unreachable, the connection dropped,
time ran out), or :class:`Fatal` (none can: the key or the request was refused).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any, Final, final

import attrs
import trio

from .._core._audio_format import FORMATS
from .._core._conversation import Conversation
from .._core._errors import ProtocolError
from .._core._events import (
    ConversationItemCreate,
    ConversationItemCreated,
    ErrorDetails,
    ErrorEvent,
    ServerEvent,
    SessionCreated,
    SessionUpdated,
    TranscriptionSessionCreated,
    TranscriptionSessionUpdated,
)
from .._core._recording import Recorder
from .._wire._connection import ConnectionConfig, Transport, close_error, open_transport, redact
from .._wire._errors import (
    AuthenticationError,
    ConnectionClosed,
    ConnectionRejected,
    HandshakeError,
    UpgradeAuthenticationError,
)
from .._wire._websocket import ClientWebSocket, WebSocketClosed
from ._history import Replay
from ._lifecycle import Lifecycle
from ._outbound import Outbound
from ._resume_policy import ResumePolicy

__all__ = ["Fatal", "Reconnector", "Replayed", "Retry"]

#: HTTP answers to a reconnection's upgrade worth another attempt (the rest end the session).
_RETRY_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
_CREATED: Final = (SessionCreated, TranscriptionSessionCreated)
_UPDATED: Final = (SessionUpdated, TranscriptionSessionUpdated)


@final
@attrs.define(kw_only=True, eq=False)
class Replayed:
    """What the new connection said to the replay.

    Attributes:
        created: Its ``session.created`` (or the transcription form).
        config_replayed: Whether it accepted the configuration.
        items: Ids of the items it created, in order.
        as_text: Those replayed as transcripts.
        as_audio: Those replayed with their user audio.
        lost: What it refused, and what the replay left out, one line each.
        took: Seconds from the attempt's start to the replay's last answer.
    """

    created: SessionCreated | TranscriptionSessionCreated
    config_replayed: bool
    items: list[str]
    as_text: tuple[str, ...]
    as_audio: tuple[str, ...]
    lost: list[str]
    took: float = 0.0


class Retry(Exception):
    """This attempt failed; another may not (the message says why)."""


class Fatal(Exception):
    """Reconnecting cannot work (the key was refused, the request is bad): end the session.

    Attributes:
        make_error: Makes the exception the session ends with (a fresh one each call).
    """

    def __init__(self, make_error: Callable[[], Exception]) -> None:
        super().__init__()
        self.make_error = make_error


@final
class Reconnector:
    """Opens connections for a resumer and replays the session on them.

    Args:
        config: How to open a connection (the key stays inside).
        policy: Which closes are worth another attempt.
        life: The lifecycle (events counted, server errors remembered and scrubbed).
        out: The outbound path (ids, the input format, counting the replay's frames).
        conversation: Takes the new session's settled configuration.
        recorder: Records the replay's frames too, if recording.
    """

    def __init__(
        self,
        *,
        config: ConnectionConfig,
        policy: ResumePolicy,
        life: Lifecycle,
        out: Outbound,
        conversation: Conversation,
        recorder: Recorder | None,
    ) -> None:
        self._config = config
        self._encode = config.dialect.encode  # the session's dialect, both ways
        self._decode = config.dialect.decode_server_event
        self._policy = policy
        self._life = life
        self._out = out
        self._conversation = conversation
        self._recorder = recorder

    async def attempt(
        self, plan: Replay, deadline: float
    ) -> tuple[AsyncExitStack, Transport, Replayed]:
        """Open a connection and replay the session on it, by ``deadline``.

        Raises:
            Retry: It failed in a way another attempt may not.
            Fatal: Reconnecting cannot work.
        """
        began = trio.current_time()
        stack = AsyncExitStack()
        try:
            try:
                transport = await stack.enter_async_context(open_transport(self._config, deadline))
            except AuthenticationError as exc:
                raise Fatal(_refused(exc)) from None
            except ConnectionRejected as exc:
                if exc.status_code not in _RETRY_STATUSES:
                    raise Fatal(_refused(exc)) from None
                raise Retry(str(exc)) from None
            except (HandshakeError, OSError, trio.TooSlowError) as exc:
                raise Retry(redact(str(exc), self._config.api_key) or type(exc).__name__) from None
            try:
                with trio.fail_at(deadline):
                    replayed = await self._replay(transport.ws, plan)
            except WebSocketClosed as exc:
                code, reason = exc.closed.code, exc.closed.reason
                last = self._life.last_error
                error = None if last is None else last.error
                if not self._policy.recoverable(code, error):
                    key = self._config.api_key
                    raise Fatal(functools.partial(close_error, code, reason, error, key)) from None
                raise Retry(f"connection closed: code {code}") from None
            except trio.TooSlowError:
                raise Retry("no session.created, or no answer to the replay, in time") from None
        except BaseException:
            await stack.aclose()
            raise
        replayed.took = trio.current_time() - began
        return stack, transport, replayed

    async def _replay(self, ws: ClientWebSocket, plan: Replay) -> Replayed:
        """Wait for the new session, then send its configuration and history and read the
        answers. The conversation takes the new session's configuration once it is settled."""
        created: SessionCreated | TranscriptionSessionCreated | None = None
        while created is None:
            for event in await self._read(ws):
                if isinstance(event, _CREATED) and created is None:
                    created = event
        new_id = self._out.new_id
        sends: list[tuple[Any, str]] = []
        config_id = None
        if plan.config is not None:
            config = attrs.evolve(plan.config, event_id=new_id())
            config_id = config.event_id
            sends.append((config, self._encode(config)))
        items_by_event: dict[str, str] = {}
        waiting: list[str] = []
        for item in plan.items:
            create = ConversationItemCreate(item=item, event_id=new_id())
            items_by_event[str(create.event_id)] = str(item.id)
            waiting.append(str(item.id))
            sends.append((create, self._encode(create)))
        lost = list(plan.lost)
        replayed: list[str] = []
        settled: ServerEvent = created
        config_replayed = False
        config_waiting = config_id is not None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._write_all, ws, sends)
            while config_waiting or waiting:
                for event in await self._read(ws):
                    if isinstance(event, _UPDATED) and config_waiting:
                        config_waiting, config_replayed = False, True
                        settled = event
                    elif isinstance(event, ConversationItemCreated) and waiting:
                        item_id = event.item.id
                        found = item_id if item_id in waiting else waiting[0]  # else by order
                        waiting.remove(found)
                        replayed.append(found)
                    elif isinstance(event, ErrorEvent):
                        details = event.error
                        refused = details.event_id
                        if refused == config_id and config_waiting:
                            config_waiting = False
                            lost.append(f"configuration refused: {_code(details)}")
                        elif isinstance(refused, str) and refused in items_by_event:
                            item_id = items_by_event[refused]
                            if item_id in waiting:
                                waiting.remove(item_id)
                                lost.append(f"item {item_id} refused: {_code(details)}")
        self._conversation.apply(settled)
        name = settled.session.input_audio_format  # type: ignore[attr-defined]
        if isinstance(name, str) and name in FORMATS:
            self._out.input_format = FORMATS[name]
        return Replayed(
            created=created,
            config_replayed=config_replayed,
            items=replayed,
            as_text=tuple(i for i in plan.as_text if i in replayed),
            as_audio=tuple(i for i in plan.as_audio if i in replayed),
            lost=lost,
        )

    async def _write_all(self, ws: ClientWebSocket, sends: list[tuple[Any, str]]) -> None:
        for event, text in sends:
            await ws.send_message(text)
            self._out.record_written(event, text)

    async def _read(self, ws: ClientWebSocket) -> list[ServerEvent | None]:
        """One socket read of the new connection, decoded (in the session's dialect),
        recorded and counted."""
        events: list[ServerEvent | None] = []
        for message in await ws.receive_messages():
            self._life.events_received += 1
            try:
                event: Any = self._decode(message)
            except ProtocolError:
                event = None
            if self._recorder is not None:
                self._recorder.record("server", getattr(event, "type", ""), message)
            if isinstance(event, ErrorEvent):
                event = self._life.server_error(event)
            events.append(event if isinstance(event, ServerEvent) else None)
        return events


def _code(details: ErrorDetails) -> str:
    code = details.code if isinstance(details.code, str) else details.type
    return f"{code}: {details.message}"


def _refused(exc: ConnectionClosed | HandshakeError) -> Callable[[], Exception]:
    """A factory of fresh copies of a refusal met while reconnecting (its message was made
    without the key)."""
    if isinstance(exc, ConnectionRejected):
        status, headers, body, message = exc.status_code, exc.headers, exc.body, str(exc)
        if isinstance(exc, AuthenticationError):
            return functools.partial(
                UpgradeAuthenticationError, status, headers, body, message=message
            )
        return functools.partial(ConnectionRejected, status, headers, body, message=message)
    assert isinstance(exc, ConnectionClosed)
    return functools.partial(type(exc), exc.code, exc.reason, exc.error, message=str(exc))
