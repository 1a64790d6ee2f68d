"""The simulated engine: deterministic replies and transcripts for the reference server.

An engine decides *what* the assistant says and *what* the user said; the per-connection state
machine owns every protocol rule and turns a :class:`~._engine_api.ResponsePlan` into events.
This module holds :class:`SimulatedEngine`, the default engine, whose rules are simple enough
to predict in a test and rich enough to drive every path of the protocol (text, audio, function
calls, tool outputs, streaming transcripts, failed transcripts, pacing).
"""

from __future__ import annotations

import math
import re
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Final, final

import attrs
import numpy as np
import orjson

from .._core._audio import audio_format, bytes_for_ms, duration_ms, pcm16_to_array, speech_like
from .._core._events import ContentPart, ConversationItem, TranscriptionError, decode_audio
from .._core._vad import SpeechStarted, VadConfig, VoiceActivityDetector
from ._engine_api import (
    PlannedAudio,
    PlannedFunctionCall,
    PlannedOutput,
    PlannedText,
    ResponsePlan,
    ResponseRequest,
    TranscriptionPlan,
    TranscriptionRequest,
)

__all__ = ["REALISTIC_AUDIO_SPEED", "SimulatedEngine"]

REALISTIC_AUDIO_SPEED: Final = 3.0
"""How much faster than real time :meth:`SimulatedEngine.realistic` generates reply audio."""

#: Audio loops are cut from this much speech-like signal, at a syllable onset.
_LOOP_MS: Final = 8000
_LOOP_SEARCH_MS: Final = 600
#: One voice's loop in one format is a few hundred KiB; a few dozen cover any realistic use.
_AUDIO_CACHE_ENTRIES: Final = 32
#: Quiet means a 1 ms frame peaks below 1 % of full scale; gaps are at least 40 ms long.
_QUIET_PEAK: Final = 328
_MIN_GAP_MS: Final = 30

_SENTENCE_END: Final = ".,;:!?"
# key=value pairs; a value is a double-quoted JSON string or runs to the next whitespace.
_PAIR: Final = re.compile(r'([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S+)')
_WORD: Final = re.compile(r"\s*\S+")


def _positive(_inst: object, attr: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise ValueError(f"{attr.name} must be a finite number > 0 or None, got {value!r}")


def _non_negative(_inst: object, attr: attrs.Attribute[Any], value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{attr.name} must be a finite number >= 0, got {value!r}")


def _at_least_one(_inst: object, attr: attrs.Attribute[Any], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attr.name} must be >= 1, got {value!r}")


@final
@attrs.frozen(kw_only=True)
class SimulatedEngine:
    """A deterministic stand-in for the model, used by the reference server by default.

    Equal requests always get equal plans. The rules, applied to the context of each response:

    **Replies** look at the last item of the context that is not a system message:

    1. A ``function_call_output`` (or a run of them, with their calls): the reply is a message
       stating each output in order, ``"<name> returned: <output>"`` joined by ``"; "``, where
       ``<name>`` is the name on the matching ``function_call`` item (``"The tool"`` when the
       context does not hold it).
    2. Otherwise the reply answers the last *user* message. Its text is the user's text parts
       and audio transcripts, joined by spaces.

       * **Tools**: unless ``tool_choice`` is ``"none"``, each configured tool whose name
         appears in that text (case-insensitive, as a word; ``_``, ``-`` and spaces are
         interchangeable) is called, in order of appearance. Its arguments are the
         ``key=value`` pairs between its name and the next tool name, as a JSON object:
         values that parse as JSON become numbers, booleans, null, lists or objects;
         double-quoted values are JSON strings; anything else is a string with trailing
         sentence punctuation removed. No pairs give ``{}``. With ``tool_choice`` naming a
         function, only that function is called (with ``{}`` if the text does not name it);
         with ``"required"`` and no tool named, the first tool is called with ``{}``.
       * **Text**: with nothing to call, the reply is ``"You said: <text>"`` (the user text
         cut to ``max_echo_chars`` characters plus ``"…"``). A message of audio with no
         transcript gets ``"I heard <x.x> seconds of audio."``, the duration taken from the
         request's ``audio_ms`` (which the server fills for every item, committed turns
         included), or else from audio bytes its parts carry (read as pcm16); with neither,
         ``"I heard some audio."``. An empty message gets ``"I didn't catch that."``; a
         context without a user message ``"How can I help?"``.

    **Modality**: with ``"audio"`` among the modalities a message is spoken: the transcript is
    the reply and the audio is ``ms_per_char`` milliseconds per character (at least one
    character) of speech-like sound in the output format, whole samples, a different but
    fixed sound per voice. Otherwise the message is text. Function calls are the same in both.

    **Transcripts** of committed user audio: ``transcript`` (a string, or a function of the
    :class:`~._engine_api.TranscriptionRequest`), by default ``"<x.x> seconds of speech."``
    with the audio's duration. Audio with no speech in it (no 30 ms run of 10 ms frames at or
    above -40 dBFS, the level of the default server VAD) is transcribed as ``""`` with no
    delta, as a speech recogniser hears nothing in silence; a fixed ``transcript`` or a
    function decides for itself. ``whisper-1`` (and any model not starting with ``gpt-4o``)
    sends the transcript as one delta; ``gpt-4o-*`` models send one delta per word (each with
    its leading space). With ``transcription_error`` set every transcription fails with it.

    **Pacing** is copied into every plan; the defaults stream as fast as possible, for tests.
    :meth:`realistic` gives demo pacing. Synthesised audio is cached (one short loop per voice
    and format, repeated), so repeated replies cost a slice and a copy.

    Attributes:
        first_delta_delay: Seconds from ``response.created`` to the first delta.
        text_chars_per_second: Pacing of text, transcript and argument deltas; ``None`` is as
            fast as possible.
        audio_realtime_factor: ``1.0`` sends audio at real time, ``2.0`` twice as fast;
            ``None`` is as fast as possible.
        audio_chunk_ms: Audio per ``response.audio.delta``, in milliseconds.
        text_chunk_chars: Characters per text, transcript or argument delta.
        ms_per_char: Milliseconds of spoken audio per transcript character.
        max_echo_chars: How much of the user's text ``"You said: …"`` repeats.
        transcription_delay: Seconds from a commit to its first transcription event.
        transcript: Fixed transcript text, or a function computing it; ``None`` for the
            duration rule.
        transcription_error: If set, every transcription fails with this error.
    """

    first_delta_delay: float = attrs.field(default=0.0, validator=_non_negative)
    text_chars_per_second: float | None = attrs.field(default=None, validator=_positive)
    audio_realtime_factor: float | None = attrs.field(default=None, validator=_positive)
    audio_chunk_ms: int = attrs.field(default=100, validator=_at_least_one)
    text_chunk_chars: int = attrs.field(default=8, validator=_at_least_one)
    ms_per_char: float = attrs.field(default=60.0, validator=_positive)
    max_echo_chars: int = attrs.field(default=500, validator=_at_least_one)
    transcription_delay: float = attrs.field(default=0.0, validator=_non_negative)
    transcript: str | Callable[[TranscriptionRequest], str] | None = None
    transcription_error: TranscriptionError | None = None
    _audio: _AudioCache = attrs.field(
        init=False, factory=lambda: _AudioCache(), repr=False, eq=False
    )

    @classmethod
    def realistic(cls, **overrides: Any) -> SimulatedEngine:
        """An engine paced like the live service, for demos and manual testing.

        300 ms to the first delta, text at 360 characters per second (about 90 tokens a
        second, a model's text rate: transcripts run ahead of the audio they describe),
        audio :data:`REALISTIC_AUDIO_SPEED` (3) times faster than real time in 100 ms
        chunks, transcripts 400 ms after the commit. Keyword arguments override any
        attribute (``audio_realtime_factor=1.0`` streams audio at real time).

        The live service generated a reply faster than it plays, so a client held seconds
        of audio ahead of its speaker, had to pace playback itself, and learned on barge-in
        that it must truncate at what was *heard*, not what arrived (server-behaviour.md 5.3,
        client-pitfalls "Wrong audio_end_ms"; openai-agents documents that "the model generates
        audio much faster than realtime playback speed", ``RealtimeModelConfig.playback_tracker``
        in 0.2.11; bursts of deltas were reported in Azure-Samples/aisearch-openai-rag-audio#60).
        The factor 3 is our choice [inf]; audio
        paced at real time would leave a client less than one chunk ahead and hide those
        mistakes.
        """
        settings: dict[str, Any] = {
            "first_delta_delay": 0.3,
            "text_chars_per_second": 360.0,
            "audio_realtime_factor": REALISTIC_AUDIO_SPEED,
            "audio_chunk_ms": 100,
            "transcription_delay": 0.4,
        }
        settings.update(overrides)
        return cls(**settings)

    # --- Engine protocol ---------------------------------------------------------------------

    def respond(self, request: ResponseRequest) -> ResponsePlan:
        """Plan one response by the rules in the class docstring."""
        calls = self._function_calls(request)
        outputs: tuple[PlannedOutput, ...] = (
            tuple(calls) if calls else (self._message(self._reply_text(request), request),)
        )
        return ResponsePlan(
            outputs=outputs,
            first_delta_delay=self.first_delta_delay,
            text_chars_per_second=self.text_chars_per_second,
            audio_realtime_factor=self.audio_realtime_factor,
            audio_chunk_ms=self.audio_chunk_ms,
            text_chunk_chars=self.text_chunk_chars,
        )

    def transcribe(self, request: TranscriptionRequest) -> TranscriptionPlan:
        """Plan the transcription of one committed turn by the rules in the class docstring."""
        if self.transcription_error is not None:
            return TranscriptionPlan(
                failure=self.transcription_error, delay=self.transcription_delay
            )
        if callable(self.transcript):
            text = self.transcript(request)
        elif self.transcript is not None:
            text = self.transcript
        elif not _has_speech(request.audio, request.input_audio_format):
            text = ""
        else:
            seconds = duration_ms(len(request.audio), request.input_audio_format) / 1000
            text = f"{seconds:.1f} seconds of speech."
        if not text:
            deltas: tuple[str, ...] = ()
        elif request.model.startswith("gpt-4o"):
            deltas = _words(text)
        else:
            deltas = (text,)
        return TranscriptionPlan(transcript=text, deltas=deltas, delay=self.transcription_delay)

    # --- Rules -------------------------------------------------------------------------------

    def _function_calls(self, request: ResponseRequest) -> list[PlannedFunctionCall]:
        choice = request.tool_choice
        if choice == "none" or not request.tools or _last_is_tool_output(request.items):
            return []
        text = _user_text(_last_user_message(request.items))
        names = [t.name for t in request.tools if isinstance(t.name, str) and t.name]
        mentions = _mentions(text, names)
        if choice not in ("auto", "required"):
            # A forced function: called whether or not the text names it.
            forced = [m for m in mentions if m[0] == choice] or [(choice, "")]
            mentions = forced[:1]
        elif not mentions and choice == "required" and names:
            mentions = [(names[0], "")]
        return [
            PlannedFunctionCall(name=name, arguments=_arguments(span)) for name, span in mentions
        ]

    def _reply_text(self, request: ResponseRequest) -> str:
        items = request.items
        if _last_is_tool_output(items):
            return _describe_tool_outputs(items)
        index = _last_user_index(items)
        if index is None:
            return "How can I help?"
        user = items[index]
        text = _user_text(user)
        if not text:
            known = request.audio_ms[index] if len(request.audio_ms) == len(items) else None
            return _untranscribed_audio(user, known) or "I didn't catch that."
        if len(text) > self.max_echo_chars:
            text = text[: self.max_echo_chars] + "…"
        return f"You said: {text}"

    def _message(self, text: str, request: ResponseRequest) -> PlannedText | PlannedAudio:
        if "audio" not in request.modalities:
            return PlannedText(text=text)
        ms = max(len(text), 1) * self.ms_per_char
        audio = self._audio.speech(ms, request.output_audio_format, request.voice)
        return PlannedAudio(transcript=text, audio=audio)


# --- Reading the context -------------------------------------------------------------------------


def _has_speech(audio: bytes, fmt: str) -> bool:
    """Whether the default server VAD would hear speech start anywhere in ``audio``."""
    detector = VoiceActivityDetector(VadConfig(), fmt)
    return any(isinstance(event, SpeechStarted) for event in detector.feed(audio))


def _is_system(item: ConversationItem) -> bool:
    return item.type == "message" and item.role == "system"


def _last_is_tool_output(items: Sequence[ConversationItem]) -> bool:
    for item in reversed(items):
        if not _is_system(item):
            return item.type == "function_call_output"
    return False


def _last_user_index(items: Sequence[ConversationItem]) -> int | None:
    for index in range(len(items) - 1, -1, -1):
        item = items[index]
        if item.type == "message" and item.role == "user":
            return index
    return None


def _last_user_message(items: Sequence[ConversationItem]) -> ConversationItem | None:
    index = _last_user_index(items)
    return None if index is None else items[index]


def _user_text(item: ConversationItem | None) -> str:
    """The words of a user message: text parts and audio transcripts, joined by spaces."""
    words: list[str] = []
    for part in _parts(item):
        if part.type in ("input_text", "text") and isinstance(part.text, str):
            words.append(part.text.strip())
        elif part.type in ("input_audio", "audio") and isinstance(part.transcript, str):
            words.append(part.transcript.strip())
    return " ".join(w for w in words if w)


def _parts(item: ConversationItem | None) -> list[ContentPart]:
    if item is None or not isinstance(item.content, list):
        return []
    return item.content


def _untranscribed_audio(item: ConversationItem | None, known_ms: float | None) -> str | None:
    """How a message of audio the model has no words for is described, if it has audio.

    ``known_ms`` is the duration the request reports for the item, if it reports one.
    """
    audio = [p for p in _parts(item) if p.type in ("input_audio", "audio")]
    if not audio:
        return None
    if known_ms is not None:
        return f"I heard {known_ms / 1000:.1f} seconds of audio."
    nbytes = 0
    for part in audio:
        if not (isinstance(part.audio, str) and part.audio):
            return "I heard some audio."
        try:
            nbytes += len(decode_audio(part.audio))
        except ValueError:
            return "I heard some audio."
    return f"I heard {duration_ms(nbytes - nbytes % 2, 'pcm16') / 1000:.1f} seconds of audio."


def _describe_tool_outputs(items: Sequence[ConversationItem]) -> str:
    names = {
        item.call_id: item.name
        for item in items
        if item.type == "function_call" and isinstance(item.call_id, str)
    }
    run: list[ConversationItem] = []
    for item in reversed(items):
        if item.type == "function_call_output":
            run.append(item)
        elif not (_is_system(item) or item.type == "function_call"):
            break
    statements = []
    for item in reversed(run):
        name = names.get(item.call_id) if isinstance(item.call_id, str) else None
        output = item.output if isinstance(item.output, str) else ""
        statements.append(f"{name if isinstance(name, str) else 'The tool'} returned: {output}")
    return "; ".join(statements)


def _words(text: str) -> tuple[str, ...]:
    """``text`` in word pieces, each with its leading space, concatenating back to ``text``."""
    pieces = _WORD.findall(text)
    if not pieces:
        return (text,)
    tail = text[sum(map(len, pieces)) :]  # trailing whitespace rides on the last word
    return (*pieces[:-1], pieces[-1] + tail)


def _name_pattern(name: str) -> re.Pattern[str]:
    pieces = [re.escape(p) for p in re.split(r"[\s_-]+", name) if p]
    return re.compile(r"(?<!\w)" + r"[\s_-]+".join(pieces) + r"(?!\w)", re.IGNORECASE)


def _mentions(text: str, names: Sequence[str]) -> list[tuple[str, str]]:
    """``(tool name, text up to the next mention)`` for each tool named in ``text``, in order.

    Mentions never overlap: the leftmost, then longest, wins (``get_weather`` hides the
    ``get`` inside it). Each tool counts once, at its first mention.
    """
    found = sorted(
        (
            (m.start(), m.end(), name)
            for name in dict.fromkeys(names)
            for m in _name_pattern(name).finditer(text)
        ),
        key=lambda m: (m[0], m[0] - m[1]),
    )
    kept: list[tuple[int, int, str]] = []
    for start, end, name in found:
        if not kept or start >= kept[-1][1]:
            kept.append((start, end, name))
    spans: dict[str, str] = {}
    for i, (_start, end, name) in enumerate(kept):
        stop = kept[i + 1][0] if i + 1 < len(kept) else len(text)
        spans.setdefault(name, text[end:stop])
    return list(spans.items())


def _arguments(span: str) -> str:
    args: dict[str, Any] = {}
    for key, raw in _PAIR.findall(span):
        args[key] = _argument_value(raw)
    return orjson.dumps(args).decode()


def _argument_value(raw: str) -> Any:
    if raw.startswith('"'):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw.strip('"')
    for candidate in (raw, raw.rstrip(_SENTENCE_END)):
        try:
            return orjson.loads(candidate)
        except orjson.JSONDecodeError:
            continue
    return raw.rstrip(_SENTENCE_END) or raw


# --- Speech synthesis ----------------------------------------------------------------------------


@final
class _AudioCache:
    """Speech-like audio per (format, voice): one loop, synthesised once, repeated as needed.

    :func:`~trio_realtime._core._audio.speech_like` costs about 7 ms per second of audio, far too
    much to pay inside the server's event loop for every reply. Each voice gets a loop of about
    eight seconds that ends at a syllable onset (so the repeat is seamless), made once per
    format and kept in a small LRU.
    """

    def __init__(self) -> None:
        self._loops: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._loop_ms: dict[int, int] = {}

    def speech(self, ms: float, fmt: str, voice: str) -> bytes:
        """``ms`` milliseconds (whole samples) of the voice's speech in ``fmt``."""
        f = audio_format(fmt)
        seed = zlib.crc32(voice.encode("utf-8"))
        loop = self._loop(f.name, seed)
        n = bytes_for_ms(ms, f)
        repeats = -(-n // len(loop))
        return (loop * repeats)[:n] if repeats > 1 else loop[:n]

    def _loop(self, fmt: str, seed: int) -> bytes:
        key = (fmt, seed)
        loop = self._loops.get(key)
        if loop is None:
            loop = speech_like(self._seam_ms(seed), seed=seed, fmt=fmt)
            self._loops[key] = loop
            if len(self._loops) > _AUDIO_CACHE_ENTRIES:
                self._loops.popitem(last=False)
        else:
            self._loops.move_to_end(key)
        return loop

    def _seam_ms(self, seed: int) -> int:
        """Where the loop ends: the last syllable onset after a gap near ``_LOOP_MS``.

        ``speech_like``'s layout does not depend on the format, and it starts with a syllable,
        so cutting at an onset makes the repeat continue from a gap into a syllable.
        """
        seam = self._loop_ms.get(seed)
        if seam is None:
            pcm = speech_like(_LOOP_MS + _LOOP_SEARCH_MS, seed=seed)
            peaks = np.abs(pcm16_to_array(pcm).astype(np.int32)).reshape(-1, 24).max(axis=1)
            seam = _last_onset(peaks < _QUIET_PEAK, after=_LOOP_MS // 2) or _LOOP_MS
            self._loop_ms[seed] = seam
        return seam


def _last_onset(quiet: np.ndarray[Any, np.dtype[np.bool_]], *, after: int) -> int | None:
    """Index of the last loud frame that follows at least ``_MIN_GAP_MS`` quiet frames."""
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))  # i: frame i differs from i + 1
    starts = edges[quiet[edges + 1]] + 1  # first frame of each quiet run (after the first)
    onsets = edges[~quiet[edges + 1]] + 1  # first loud frame after each quiet run
    best = None
    for onset in onsets:
        previous = starts[starts < onset]
        if previous.size and onset - previous[-1] >= _MIN_GAP_MS and onset > after:
            best = int(onset)
    return best
