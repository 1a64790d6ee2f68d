"""Driving one session for a client subcommand: the event reader, audio sending, waiting.

A command runs two tasks on its session: its own flow (configure, send audio, wait for the
answers) and :meth:`LiveSession.read`, which takes every event, times it, hands it to the
command's views, and wakes the flow whenever something changed. The flow never reads events
itself; it waits on conditions over the state the reader keeps (:meth:`LiveSession.wait_until`),
so no event is ever read by the wrong task or missed between two waits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Final

import trio

from .._core._audio import PCM16, bytes_for_ms
from .._core._events import ErrorDetails, SessionUpdate, TranscriptionSessionUpdate
from .._core._events._objects import Session, TranscriptionSession
from .._core._events._server import (
    ErrorEvent,
    InputAudioBufferCleared,
    SessionUpdated,
    TranscriptionSessionUpdated,
)
from .._session._pump import AudioStream
from .._session._replay import TurnTimer
from .._session._requests import RequestRefused
from .._session._session import RealtimeSession
from .._session._types import DecodeFailure, ReceivedEvent
from .._wire._errors import ConnectionClosed
from ._common import EXIT_SESSION, fail
from ._console import Console

__all__ = ["CHUNK_MS", "LiveSession", "trailing_silence_ms"]

CHUNK_MS: Final = 100
"""Audio per ``input_audio_buffer.append``, as the live service's examples send it."""


def trailing_silence_ms(session: Session | TranscriptionSession | None) -> int:
    """Silence to send after a file so server VAD ends its last turn.

    The configured ``silence_duration_ms`` plus 300 ms of margin, rounded up to whole chunks;
    1 s when the session does not say (semantic VAD, or no configuration seen yet).
    """
    detection = session.turn_detection if session is not None else None
    silence_ms = getattr(detection, "silence_duration_ms", None)
    wanted = silence_ms + 300 if isinstance(silence_ms, int) and silence_ms >= 0 else 1000
    return -(-wanted // CHUNK_MS) * CHUNK_MS


class LiveSession:
    """The state a command's flow waits on, kept by :meth:`read` from the session's events.

    Args:
        session: The open session.
        console: Where server errors are reported.
        timer: Timed with every event sent and received (see :class:`TurnTimer`).
        views: Called with ``(time, event)`` for every event, after the timer.
    """

    def __init__(
        self,
        session: RealtimeSession,
        console: Console,
        timer: TurnTimer,
        views: list[Callable[[float, ReceivedEvent], None]],
    ) -> None:
        self.session = session
        self.timer = timer
        self.events = 0
        self.updates = 0
        self.cleared = 0
        self.errors: list[ErrorDetails] = []
        self.advisories: list[ErrorDetails] = []
        self.closed = False
        self._console = console
        self._views = views
        self._changed = trio.Event()

    async def read(self) -> None:
        """Read every event until the session ends (run it as a task).

        An abnormal end raises (:class:`~trio_realtime.ConnectionClosed`); a normal one sets
        :attr:`closed`, which fails the flow's pending wait.
        """
        try:
            async for event in self.session:
                now = trio.current_time()
                self.events += 1
                self.timer.received(now, event)
                if isinstance(event, SessionUpdated | TranscriptionSessionUpdated):
                    self.updates += 1
                elif isinstance(event, InputAudioBufferCleared):
                    self.cleared += 1
                elif isinstance(event, ErrorEvent):
                    self._report_error(event)
                elif isinstance(event, DecodeFailure):
                    self._console.message(
                        f"warning: an event from the server was not understood: {event.error}"
                    )
                for view in self._views:
                    view(now, event)
                self._notify()
        finally:
            self.closed = True
            self._notify()

    def _report_error(self, event: ErrorEvent) -> None:
        self.errors.append(event.error)
        cause = self.session.cause_of(event)
        where = f" (in reply to {cause.type})" if cause is not None else ""
        code = event.error.code if isinstance(event.error.code, str) else event.error.type
        self._console.message(f"server error{where}: {code}: {event.error.message}")

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_until(self, done: Callable[[], bool], *, within: float, what: str) -> None:
        """Wait until ``done()`` holds, re-checking after every event.

        Raises:
            CliError: The session ended first, or ``within`` seconds passed (exit 1); the
                message says it was waiting for ``what``.
        """
        if not await self.wait_for_condition(done, within=within, what=what):
            fail(EXIT_SESSION, f"no {what} within {within:g} s")

    async def wait_for_condition(
        self, done: Callable[[], bool], *, within: float, what: str
    ) -> bool:
        """Like :meth:`wait_until`, but a timeout returns ``False`` instead of failing."""
        with trio.move_on_after(within):
            while not done():
                if self.closed:
                    fail(EXIT_SESSION, f"the server closed the session while waiting for {what}")
                await self._changed.wait()
            return True
        return False

    async def configure(
        self, config: Session | TranscriptionSession, *, within: float, what: str
    ) -> None:
        """Send a session configuration and wait for the server's verdict on it.

        The verdict is the ``session.updated`` (``transcription_session.updated``) that
        follows, not an ``error`` before it. The live service refused an update with one
        ``error`` and no ``session.updated`` (server-behaviour.md 4.6); speaches sends
        advisory errors about fields it ignores (the audio formats) and then
        ``session.updated`` with the rest applied. To tell the two apart without guessing a
        delay, an ``error`` that comes first is followed by an ``input_audio_buffer.clear``
        (harmless: no audio was sent yet), and the verdict is read once its
        ``input_audio_buffer.cleared`` arrives, since a server answers events in order.
        Errors before an update that was applied are moved to :attr:`advisories`: they do
        not make the command fail.

        Raises:
            CliError: The server refused the configuration, or did not answer within
                ``within`` seconds (exit 1).
        """
        updates, errors = self.updates, len(self.errors)
        if isinstance(config, TranscriptionSession):
            await self.session.update_transcription_session(config)
        else:
            await self.session.update_session(config)
        await self.wait_until(
            lambda: self.updates > updates or len(self.errors) > errors, within=within, what=what
        )
        if self.updates == updates:  # an error first: refused, or only advice?
            cleared = self.cleared
            await self.session.clear_audio()
            await self.wait_until(lambda: self.cleared > cleared, within=within, what=what)
        if self.updates == updates:
            fail(EXIT_SESSION, f"the server refused the configuration: {self.errors[-1].message}")
        advice = self.errors[errors:]
        if advice:
            del self.errors[errors:]
            self.advisories += advice
            plural = "s" * (len(advice) != 1)
            self._console.message(
                f"the server applied the configuration; the error{plural} above "
                "only advised about it"
            )

    async def sync(self, *, transcription: bool, within: float) -> None:
        """Wait until the server has handled everything sent so far.

        The protocol has no ping event, so this sends an empty ``session.update`` (or
        ``transcription_session.update``), which changes nothing, and waits for its answer:
        the server handles events in order, so the appends before it have been through VAD.
        Its own answer, matched as a request's (not just the next ``.updated``: an update
        sent just before may not have been answered yet).
        """
        what = "the server to catch up"
        update: SessionUpdate | TranscriptionSessionUpdate = (
            TranscriptionSessionUpdate(session=TranscriptionSession())
            if transcription
            else SessionUpdate(session=Session())
        )
        try:
            await self.session.request(update, timeout=within)
        except RequestRefused:
            pass  # answered all the same: the server has handled what came before
        except trio.TooSlowError:
            fail(EXIT_SESSION, f"no {what} within {within:g} s")
        except ConnectionClosed:
            fail(EXIT_SESSION, f"the server closed the session while waiting for {what}")
        # The answer, and all before it, are in the session's stream or read: wait until
        # this session's reader has taken them all.
        seen = self.events + self.session.statistics().inbound_buffer_used
        await self.wait_until(lambda: self.events >= seen, within=within, what=what)

    async def send_audio(self, pcm: bytes, *, realtime: bool) -> AudioStream:
        """Start streaming 24 kHz PCM16 in 100 ms appends; the timer learns when each went.

        The audio is padded with silence to whole chunks, so every append is handed to the
        session (and timed) as soon as the pump takes it.
        """
        chunk = bytes_for_ms(CHUNK_MS, PCM16)
        padded = pcm + bytes(-len(pcm) % chunk)
        timer = self.timer

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(padded), chunk):
                piece = padded[start : start + chunk]
                yield piece
                # The pump asks for the next piece once this one is queued for sending.
                timer.audio_sent(trio.current_time(), len(piece))

        return await self.session.stream_audio(
            chunks(),
            realtime=realtime,
            chunk_ms=CHUNK_MS,
            input_format=PCM16,
        )
