"""Helpers for driving the reference server's sans-I/O state machine without a network.

:class:`Harness` wraps one :class:`~trio_realtime.server._state.ConnectionState` with a fake
clock and checks every event it returns against the protocol contract, so no test can see
an event that would not validate:

* it encodes with :func:`trio_realtime.encode` and validates the JSON against the relaxed
  beta schemas (``protocol_data.schema_errors``), checklist 57;
* its ``type`` is never a GA name (56), its ``event_id`` is ``event_`` + 21 alphanumerics
  and unique in the connection (54);
* every ``error`` has ``type`` and ``message`` (55).

:class:`FakeEngine` implements the engine Protocol with fixed, inspectable plans.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import attrs
import orjson
from openai.types.realtime import RealtimeServerEvent as GaServerEvent
from protocol_data import ga_schema_errors, schema_errors
from pydantic import TypeAdapter

from trio_realtime._core._dialects import BETA, Dialect
from trio_realtime.events import ClientEvent, ServerEvent
from trio_realtime.server._engine_api import (
    PlannedAudio,
    PlannedFunctionCall,
    PlannedOutput,
    PlannedText,
    ResponsePlan,
    ResponseRequest,
    TranscriptionPlan,
    TranscriptionRequest,
)
from trio_realtime.server._ids import IdFactory
from trio_realtime.server._state import ConnectionState, ServerOptions

ID_RE = re.compile(r"^(event|sess|conv|item|resp|call)_[A-Za-z0-9]{21}$")
GA_NAMES = re.compile(
    r"^(response\.output_(text|audio|audio_transcript)\.|conversation\.item\.(added|done)$)"
)
#: The beta names GA renamed: never on a GA connection.
BETA_ONLY_NAMES = re.compile(
    r"^(response\.(text|audio|audio_transcript)\.|conversation\.item\.created$|"
    r"transcription_session\.)"
)
START_UNIX = 1_750_000_000.0
_SDK_GA = TypeAdapter(GaServerEvent)


@attrs.define
class FakeEngine:
    """An engine with fixed answers; records every request it gets.

    Attributes:
        outputs: The outputs of every response plan (a callable gets the request).
        transcript: The transcript of every transcription.
        deltas: Transcription deltas (default: the transcript split into words).
        pacing: Extra :class:`ResponsePlan` fields (first_delta_delay, ...).
        transcription_delay: ``TranscriptionPlan.delay``.
        failure: A ``TranscriptionError`` to fail every transcription with.
    """

    outputs: tuple[PlannedOutput, ...] | Callable[[ResponseRequest], tuple[PlannedOutput, ...]] = (
        PlannedText(text="Hello there, how can I help?"),
    )
    transcript: str = "what is the weather"
    deltas: tuple[str, ...] | None = None
    pacing: dict[str, Any] = attrs.Factory(dict)
    transcription_delay: float = 0.0
    failure: Any = None
    requests: list[ResponseRequest] = attrs.Factory(list)
    transcriptions: list[TranscriptionRequest] = attrs.Factory(list)

    def respond(self, request: ResponseRequest) -> ResponsePlan:
        self.requests.append(request)
        outputs = self.outputs(request) if callable(self.outputs) else self.outputs
        return ResponsePlan(outputs=outputs, **self.pacing)

    def transcribe(self, request: TranscriptionRequest) -> TranscriptionPlan:
        self.transcriptions.append(request)
        deltas = self.deltas
        if deltas is None:
            deltas = tuple(re.findall(r"\s*\S+", self.transcript))
        return TranscriptionPlan(
            transcript=self.transcript,
            deltas=deltas,
            delay=self.transcription_delay,
            failure=self.failure,
        )


def audio_reply(transcript: str = "Sure, here you go.", ms: int = 500) -> PlannedAudio:
    """A spoken reply of ``ms`` ms of pcm16 (a ramp, so cuts are visible)."""
    samples = ms * 24
    pcm = b"".join(int(i % 2000 - 1000).to_bytes(2, "little", signed=True) for i in range(samples))
    return PlannedAudio(transcript=transcript, audio=pcm)


def call_reply(
    name: str = "get_weather", arguments: str = '{"city": "Paris"}'
) -> PlannedFunctionCall:
    return PlannedFunctionCall(name=name, arguments=arguments)


def check_event(event: ServerEvent, dialect: Dialect = BETA) -> dict[str, Any]:
    """The event's wire JSON, after asserting it meets the contract (54-57).

    For a GA connection: the GA frame, validated strictly by the openai SDK's GA types and the
    head snapshot's GA schemas, and never a beta-only name.
    """
    assert isinstance(event, ServerEvent), event
    text = dialect.encode(event)
    wire = orjson.loads(text)
    if dialect is BETA:
        errors = schema_errors(wire)
        assert not GA_NAMES.match(wire["type"]), wire["type"]
    else:
        _SDK_GA.validate_json(text, strict=True)
        errors = ga_schema_errors(wire)
        assert not BETA_ONLY_NAMES.match(wire["type"]), wire["type"]
    assert errors == [], (wire["type"], errors, wire)
    assert ID_RE.match(wire["event_id"]), wire
    assert wire["event_id"].startswith("event_"), wire
    if wire["type"] == "error":
        assert wire["error"]["type"], wire
        assert wire["error"]["message"], wire
    return wire


class Harness:
    """A connection state driven by hand, with a clock and contract checks.

    Args:
        model: ``?model=``; ``None`` with ``intent="transcription"``.
        intent: ``?intent=``.
        engine: Defaults to a :class:`FakeEngine`.
        open: Call ``open()`` at once and keep its events in ``opening``.
        dialect: The connection's dialect: client events are encoded, and server events
            checked, in its shapes.
        **options: :class:`ServerOptions` fields.
    """

    def __init__(
        self,
        model: str | None = "gpt-realtime",
        *,
        intent: str | None = None,
        engine: Any = None,
        open: bool = True,
        seed: int | None = 1,
        dialect: Dialect = BETA,
        **options: Any,
    ) -> None:
        self.dialect = dialect
        self.engine = FakeEngine() if engine is None else engine
        self.now = 100.0
        self.state = ConnectionState(
            intent=intent,
            model=model,
            now=self.now,
            engine=self.engine,
            options=ServerOptions(**options),
            ids=IdFactory(seed),
            wall_clock=lambda: START_UNIX,
            dialect=dialect,
        )
        self.seen_ids: set[str] = set()
        self.log: list[dict[str, Any]] = []
        self.opening: list[dict[str, Any]] = []
        if open:
            self.opening = self.open()

    def _check(self, events: Iterable[ServerEvent]) -> list[dict[str, Any]]:
        out = []
        for event in events:
            wire = check_event(event, self.dialect)
            assert wire["event_id"] not in self.seen_ids, "event_id repeated"
            self.seen_ids.add(wire["event_id"])
            out.append(wire)
        self.log += out
        return out

    def open(self) -> list[dict[str, Any]]:
        return self._check(self.state.open())

    def send(
        self, event: ClientEvent | dict[str, Any] | str, *, at: float | None = None
    ) -> list[dict[str, Any]]:
        """Send one client event (model, JSON object or raw text) at ``at`` (default: now)."""
        if at is not None:
            self.now = at
        if isinstance(event, str):
            text = event
        elif isinstance(event, dict):
            text = orjson.dumps(event).decode()
        else:
            text = self.dialect.encode(event)
        return self._check(self.state.receive_text(text, self.now))

    def binary(self, data: bytes) -> list[dict[str, Any]]:
        return self._check(self.state.receive_binary(data, self.now))

    def advance(self, to: float) -> list[dict[str, Any]]:
        self.now = to
        return self._check(self.state.advance(to))

    def run_until_idle(self, limit: float = 3600.0) -> list[dict[str, Any]]:
        """Advance deadline by deadline until only the session limit remains."""
        out = []
        while True:
            deadline = self.state.next_deadline()
            if deadline is None or deadline >= self.state._expiry or deadline > self.now + limit:
                return out
            out += self.advance(max(self.now, deadline))

    def append(self, pcm: bytes, **extra: Any) -> list[dict[str, Any]]:
        import base64

        return self.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode(), **extra}
        )

    def update(self, **session: Any) -> list[dict[str, Any]]:
        return self.send({"type": "session.update", "session": session})


def types(events: Iterable[dict[str, Any]]) -> list[str]:
    """The ``type`` of each wire event."""
    return [e["type"] for e in events]


def only(events: Iterable[dict[str, Any]], event_type: str) -> dict[str, Any]:
    """The one event of ``event_type``."""
    found = [e for e in events if e["type"] == event_type]
    assert len(found) == 1, (event_type, types(events))
    return found[0]


def error_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``error`` object of the single event, which must be an error."""
    assert types(events) == ["error"], types(events)
    return events[0]["error"]  # type: ignore[no-any-return]
