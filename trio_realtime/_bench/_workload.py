"""What the harness runs: the scenarios, their settings, and the audio each session streams.

The scenarios:

``standard``
    The standard load workload (``shared/benchmarks/standard-workload.md``): against the load
    server (:mod:`._load_server`), every session streams a 100 ms append every 100 ms and
    receives one ``response.audio.delta`` every 100 ms and one
    ``response.audio_transcript.delta`` every 200 ms, each stamped with the server's send
    time, so the client-added delivery latency can be measured.
``receive``
    Its receiving half: each session sends one append (which starts the load server's
    stream) and then only receives, so the CPU per event is the receive path's alone.
``send``
    Its sending half: a 100 ms append every 100 ms against the load server in ``--sink``
    mode, which never sends anything back: the CPU per append is the send path's alone.
``turns``
    Spoken turns against the reference server (``trio-realtime serve --realistic``): speech,
    then silence; server VAD ends each turn and the simulated model answers with audio.
    Measures end of speech to ``speech_stopped``, first audio delta, first transcript delta,
    and ``response.done``.
``transcription``
    Transcription sessions (``?intent=transcription``, set up with
    ``transcription_session.update`` naming :data:`TRANSCRIPTION_MODEL`) streaming the same
    turns; measures end of speech to the first transcription delta and to ``completed``.

Sans-I/O: plain settings and bytes, nothing here touches a socket or a clock.
"""

from __future__ import annotations

import math
from typing import Any, Final, Literal, TypeAlias

import attrs

from .._core._audio import audio_format, bytes_for_ms, load_wav_for_protocol, silence, speech_like

__all__ = [
    "BASELINES",
    "CLIENTS",
    "ENGINES",
    "PEERS",
    "SCENARIOS",
    "STAMPED",
    "TRANSCRIPTION_MODEL",
    "TURN_BASED",
    "AudioPlan",
    "Client",
    "Scenario",
    "Workload",
    "build_audio",
    "session_phase",
    "shard",
]

Scenario: TypeAlias = Literal["standard", "receive", "send", "turns", "transcription"]
Client: TypeAlias = Literal[
    "ours", "openai-sdk-send", "openai-sdk-append", "bare-trio", "bare-asyncio"
]

#: Scenario names and one line each, for ``--help`` and the report.
SCENARIOS: Final[dict[str, str]] = {
    "standard": "the standard load workload: 10 appends/s out, 15 stamped deltas/s in, per session",
    "receive": "its receiving half: one append, then 15 stamped deltas/s in, per session",
    "send": "its sending half: 10 appends/s out to a server that sends nothing back",
    "turns": "spoken turns against the reference server: server VAD, spoken replies",
    "transcription": "transcription sessions streaming spoken turns",
}
#: The clients the harness can drive, in the order a run interleaves them: this library; the
#: official SDK as the peer, appending through its fast public path (``connection.send`` of a
#: model) and through its documented method (``input_audio_buffer.append``); and the untyped
#: baselines that show what a typed layer costs, bare trio-websocket and bare asyncio
#: websockets, each with orjson.
CLIENTS: Final[tuple[Client, ...]] = (
    "ours",
    "openai-sdk-send",
    "openai-sdk-append",
    "bare-trio",
    "bare-asyncio",
)
#: The peer's variants: every headline ratio is taken against the better of them.
PEERS: Final[tuple[Client, ...]] = ("openai-sdk-send", "openai-sdk-append")
#: The untyped baselines.
BASELINES: Final[tuple[Client, ...]] = ("bare-trio", "bare-asyncio")
#: The scenarios whose events are stamped with the server's send time (delivery latency).
STAMPED: Final = ("standard", "receive")
#: The scenarios made of spoken turns against the reference server.
TURN_BASED: Final = ("turns", "transcription")
#: The reference server's engines (``--engine``).
ENGINES: Final = ("simulated", "speech")
#: The transcription model the ``transcription`` scenario asks for.
TRANSCRIPTION_MODEL: Final = "gpt-4o-transcribe"
#: Expected server events per session-second in the standard scenario (10 audio + 5 text).
STANDARD_EVENTS_PER_SECOND: Final = 15.0
#: Events that open and close each streamed response (created, item added, item created,
#: part added; audio done, transcript done, part done, item done, response done).
LIFECYCLE_EVENTS: Final = 9


def _positive(_instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:  # also refuses NaN
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


def _not_negative(_instance: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def _scenario(_instance: Any, _attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in SCENARIOS:
        raise ValueError(f"unknown scenario {value!r}; choose from {', '.join(SCENARIOS)}")


@attrs.frozen(kw_only=True)
class Workload:
    """One run's settings: how many sessions, for how long, streaming what.

    Attributes:
        scenario: One of :data:`SCENARIOS`.
        sessions: Concurrent sessions (over all worker processes).
        handshakes: Handshakes in flight at most while sessions connect.
        ramp: Seconds over which session starts are spread (0: as fast as ``handshakes``
            allows).
        warmup: Seconds streamed before the measurement window opens.
        window: Seconds measured.
        chunk_ms: Milliseconds of audio per append.
        speed: Pacing: 1.0 is real time, 2.0 twice as fast (an absolute schedule either way).
        speech_ms: Speech per turn (``turns``, ``transcription``).
        silence_ms: Silence after each turn's speech.
        wav: A WAV file to stream instead of the synthetic speech-like signal.
        model: The ``model`` query parameter.
        track_conversation: Keep ``session.conversation`` up to date (ours only).
        keep_audio_seconds: Assistant audio the conversation keeps (ours only; ``0`` counts
            it without keeping it, as the peer does; ``None`` keeps all of it).
        connect_timeout: Seconds allowed for one connection, handshake slot wait excluded.
        response_seconds: Length of each response the load server streams (``standard``);
            each adds nine lifecycle events to the 15 deltas per second.
        dialect: The wire shape every client speaks: ``beta`` or ``ga`` (ours connects with
            ``dialect=``; the SDK peer uses its GA client, ``client.realtime.connect``).
        engine: The embedded reference server's engine (``turns``, ``transcription``):
            ``simulated`` or ``speech`` (real recognition and synthesis; stream real speech
            with ``wav``).
    """

    scenario: Scenario = attrs.field(default="standard", validator=_scenario)
    sessions: int = attrs.field(default=50, validator=_positive)
    handshakes: int = attrs.field(default=64, validator=_positive)
    ramp: float = attrs.field(default=0.0, validator=_not_negative)
    warmup: float = attrs.field(default=2.0, validator=_not_negative)
    window: float = attrs.field(default=10.0, validator=_positive)
    chunk_ms: int = attrs.field(default=100, validator=_positive)
    speed: float = attrs.field(default=1.0, validator=_positive)
    speech_ms: int = attrs.field(default=1500, validator=_positive)
    silence_ms: int = attrs.field(default=3500, validator=_positive)
    wav: str | None = None
    model: str = "gpt-4o-realtime-preview"
    track_conversation: bool = True
    keep_audio_seconds: float | None = 0.0
    connect_timeout: float = attrs.field(default=30.0, validator=_positive)
    response_seconds: float = attrs.field(default=5.0, validator=_positive)
    dialect: Literal["beta", "ga"] = attrs.field(
        default="beta", validator=attrs.validators.in_(("beta", "ga"))
    )
    engine: str = attrs.field(default="simulated", validator=attrs.validators.in_(ENGINES))

    @property
    def interval(self) -> float:
        """Seconds between two appends of one session."""
        return self.chunk_ms / 1000.0 / self.speed

    @property
    def stamped(self) -> bool:
        """Whether events carry the server's send stamp (delivery latency is the verdict)."""
        return self.scenario in STAMPED

    @property
    def turn_based(self) -> bool:
        """Whether sessions stream spoken turns to the reference server."""
        return self.scenario in TURN_BASED

    @property
    def server_kind(self) -> str:
        """The embedded server: ``load``, ``sink`` (the load server, never streaming) or
        ``reference``."""
        if self.turn_based:
            return "reference"
        return "sink" if self.scenario == "send" else "load"

    @property
    def expected_events_per_second(self) -> float | None:
        """Server events per second over all sessions, where the scenario fixes it."""
        if self.stamped:
            lifecycle = LIFECYCLE_EVENTS / self.response_seconds
            return (STANDARD_EVENTS_PER_SECOND + lifecycle) * self.sessions
        return None

    def to_json(self) -> dict[str, Any]:
        """The settings as a JSON object (for worker command lines and the report)."""
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Workload:
        """Read what :meth:`to_json` wrote."""
        return cls(**data)


@attrs.frozen(kw_only=True)
class AudioPlan:
    """The appends one session sends, as a cycle of raw chunks.

    Attributes:
        chunks: Raw PCM16 chunks of ``chunk_ms`` each, sent in order, round and round.
        speech_end: Index of the last chunk of speech in each cycle (the chunk whose send is
            the end of speech), or ``None`` when the audio has no turns (``standard``).
    """

    chunks: tuple[bytes, ...]
    speech_end: int | None

    def chunk(self, k: int, rotation: int) -> bytes:
        """The ``k``-th chunk a session sends, its cycle started ``rotation`` chunks in."""
        return self.chunks[(k + rotation) % len(self.chunks)]

    def ends_speech(self, k: int, rotation: int) -> bool:
        """Whether the ``k``-th chunk sent is the last of a turn's speech."""
        return self.speech_end is not None and (k + rotation) % len(self.chunks) == self.speech_end


def _cut(pcm: bytes, size: int) -> list[bytes]:
    """``pcm`` in chunks of ``size`` bytes; a short last chunk is padded with silence."""
    chunks = [pcm[i : i + size] for i in range(0, len(pcm), size)]
    if chunks and len(chunks[-1]) < size:
        chunks[-1] = chunks[-1] + bytes(size - len(chunks[-1]))
    return chunks


def build_audio(workload: Workload) -> AudioPlan:
    """The audio every session of ``workload`` streams (24 kHz PCM16).

    ``standard`` (and its halves) streams speech continuously (two seconds looped, or the WAV file); the turn
    scenarios stream ``speech_ms`` of speech (or the whole WAV file) then ``silence_ms`` of
    digital silence, so server VAD ends every turn.

    Raises:
        ValueError: The WAV file holds less than one chunk of audio.
        AudioFormatError: The WAV file cannot be read.
    """
    fmt = audio_format("pcm16")
    size = bytes_for_ms(workload.chunk_ms, fmt)
    if workload.wav is not None:
        speech = load_wav_for_protocol(workload.wav, fmt)
        if len(speech) < size:
            raise ValueError(f"{workload.wav}: shorter than one {workload.chunk_ms} ms chunk")
    else:
        seconds = workload.speech_ms if workload.turn_based else 2000
        speech = speech_like(seconds, seed=7)
    speech_chunks = _cut(speech, size)
    if not workload.turn_based:
        return AudioPlan(chunks=tuple(speech_chunks), speech_end=None)
    quiet = silence(workload.chunk_ms)
    silent = math.ceil(workload.silence_ms / workload.chunk_ms)
    return AudioPlan(
        chunks=tuple(speech_chunks + [quiet] * silent), speech_end=len(speech_chunks) - 1
    )


def session_phase(index: int, total: int, interval: float) -> float:
    """Seconds session ``index`` of ``total`` offsets its append schedule.

    Sessions are spread evenly over one append interval, so the client sends a steady trickle
    rather than ``total`` appends at once every tick.
    """
    return interval * index / total


def shard(total: int, processes: int) -> list[list[int]]:
    """Session indices ``0..total-1`` dealt round-robin to ``processes`` workers.

    Round-robin keeps every worker's sessions spread over the whole append interval. Workers
    that would get no session are left out.
    """
    if processes < 1:
        raise ValueError(f"processes must be >= 1, got {processes}")
    return [list(range(p, total, processes)) for p in range(min(processes, total))]
