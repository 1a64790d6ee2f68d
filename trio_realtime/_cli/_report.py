"""How the client subcommands describe a conversation: transcript lines, turn latencies, usage.

``talk`` and ``replay --send`` print a conversation live with :class:`ConversationView`;
``replay`` prints a finished one with :func:`describe_item`, :func:`describe_turn` and
:func:`describe_usage`, or as JSON with the ``*_json`` functions. All of it is text in, text
out: no I/O beyond the :class:`~trio_realtime._cli._console.OrderedLines` it is given.
"""

from __future__ import annotations

from typing import Any, Final

import attrs

from .._core._conversation import Conversation
from .._core._conversation_stats import UsageTotals
from .._core._conversation_views import ItemView
from .._core._events._server import (
    InputAudioBufferCommitted,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionDelta,
    InputAudioTranscriptionFailed,
    ResponseAudioTranscriptDelta,
    ResponseCreated,
    ResponseDone,
    ResponseTextDelta,
)
from .._core._unset import UNSET
from .._session._replay import TurnLatency, TurnTimer
from ._console import OrderedLines

__all__ = [
    "ConversationView",
    "describe_item",
    "describe_turn",
    "describe_usage",
    "item_json",
    "turn_json",
    "usage_json",
]

_LABEL_WIDTH: Final = 11
_TRIGGERS: Final = {
    "server_vad": "server VAD",
    "commit": "manual commit",
    "response.create": "response.create",
}


def label(role: str) -> str:
    """``"you:"`` padded so that every speaker's text starts in the same column."""
    return f"{role}:".ljust(_LABEL_WIDTH)


def _role(item: ItemView) -> str:
    if item.type in ("function_call", "function_call_output"):
        return "tool" if item.type == "function_call_output" else "assistant"
    return "you" if item.role == "user" else (item.role or "?")


def describe_item(item: ItemView) -> str | None:
    """One line for an item (``"you:       hello"``), or ``None`` for an item with nothing to say."""
    if item.type == "function_call":
        text = f"calls {item.name}({item.arguments})"
    elif item.type == "function_call_output":
        text = item.output or ""
    elif item.role == "user":
        has_audio = any(p.type == "input_audio" for p in item.parts)
        text = item.input_transcript or item.text or ("(audio, no transcript)" if has_audio else "")
    else:
        text = item.transcript or item.text
    return label(_role(item)) + text if text else None


def _ms(seconds: float | None) -> str | None:
    return None if seconds is None else f"{seconds * 1000:.0f} ms"


def describe_turn(number: int, turn: TurnLatency) -> str:
    """One line of a turn's latencies, e.g.

    ``turn 1 (server VAD, speech ended at 2.90 s): first audio 302 ms, first text 302 ms,
    response done 2223 ms; your transcript 402 ms``

    The end of speech is placed in the input audio (seconds since the session's first audio);
    the latencies are from that moment (see :mod:`trio_realtime._session._replay`).
    """
    trigger = _TRIGGERS[turn.trigger]
    if turn.audio_end_ms is None:
        head = f"turn {number} ({trigger})"
    else:
        head = f"turn {number} ({trigger}, speech ended at {turn.audio_end_ms / 1000:.2f} s)"
    measures = [
        (name, _ms(value))
        for name, value in (
            ("first audio", turn.first_audio),
            ("first text", turn.first_text),
            ("response done", turn.response_done),
        )
    ]
    parts = [f"{name} {value}" for name, value in measures if value is not None]
    if turn.response_status not in (None, "completed"):
        parts.append(f"({turn.response_status})")
    segments = [", ".join(parts)] if parts else []
    transcript = _ms(turn.input_transcript_done)
    if transcript is not None:
        segments.append(f"your transcript {transcript}")
    return f"{head}: " + ("; ".join(segments) or "no answer")


def describe_usage(totals: UsageTotals) -> str:
    """One line of token usage summed over the responses."""
    return (
        f"usage: {totals.responses} response{'s' * (totals.responses != 1)}, "
        f"{totals.input_tokens} input tokens ({totals.input_audio_tokens} audio, "
        f"{totals.input_cached_tokens} cached), {totals.output_tokens} output tokens "
        f"({totals.output_audio_tokens} audio)"
    )


def item_json(item: ItemView) -> dict[str, Any]:
    """An item as JSON: id, type, role, text, transcripts, audio duration."""
    return {
        "id": item.id,
        "type": item.type,
        "role": item.role,
        "status": item.status,
        "text": item.text or None,
        "transcript": item.transcript,
        "input_transcript": item.input_transcript,
        "audio_ms": item.audio_ms,
        "name": item.name,
        "arguments": item.arguments or None,
        "output": item.output,
    }


def turn_json(turn: TurnLatency) -> dict[str, Any]:
    """A turn as JSON: the fields of :class:`~trio_realtime.TurnLatency` (seconds)."""
    return attrs.asdict(turn)


def usage_json(totals: UsageTotals) -> dict[str, Any]:
    """Usage totals as JSON: the fields of :class:`~trio_realtime.UsageTotals`."""
    return attrs.asdict(totals)


class ConversationView:
    """Prints a conversation as it happens.

    A ``you:`` line per committed user turn (its input transcript, streaming), an
    ``assistant:`` line per response (its transcript or text, streaming), and after each
    answered turn its latency line; in that order, whatever order the events arrive in (the
    input transcript often lands after the reply has begun).

    Args:
        lines: Where the lines go.
        timer: The session's timer, already fed each event before this view is.
        conversation: The session's conversation (for the configuration and final texts).
    """

    def __init__(
        self,
        lines: OrderedLines,
        timer: TurnTimer,
        conversation: Conversation,
    ) -> None:
        self._lines = lines
        self._timer = timer
        self._conversation = conversation
        self._reported: set[int] = set()

    def __call__(self, t: float, event: object) -> None:
        """Take one event (after the timer took it)."""
        lines = self._lines
        if isinstance(event, InputAudioBufferCommitted):
            lines.open(("you", event.item_id), label("you"))
            if not self._transcripts_expected():
                lines.finish(("you", event.item_id), "(audio, not transcribed)")
        elif isinstance(event, InputAudioTranscriptionDelta):
            lines.open(("you", event.item_id), label("you"))
            if isinstance(event.delta, str):
                lines.add(("you", event.item_id), event.delta)
        elif isinstance(event, InputAudioTranscriptionCompleted):
            lines.open(("you", event.item_id), label("you"))
            lines.finish(("you", event.item_id), event.transcript)
        elif isinstance(event, InputAudioTranscriptionFailed):
            message = event.error.message if isinstance(event.error.message, str) else "?"
            lines.open(("you", event.item_id), label("you"))
            lines.finish(("you", event.item_id), f"(transcription failed: {message})")
        elif isinstance(event, ResponseCreated):
            if isinstance(event.response.id, str):
                lines.open(("assistant", event.response.id), label("assistant"))
                if self._timer.turn_of(event.response.id) is not None:
                    lines.open(("turn", event.response.id), "")
        elif isinstance(event, ResponseAudioTranscriptDelta | ResponseTextDelta):
            if lines.is_open(("assistant", event.response_id)):
                lines.add(("assistant", event.response_id), event.delta)
        elif isinstance(event, ResponseDone):
            self._response_done(event)
        self._report_turns(final=False)

    def _response_done(self, event: ResponseDone) -> None:
        response_id = event.response.id
        if not isinstance(response_id, str) or not self._lines.is_open(("assistant", response_id)):
            return
        try:
            items = self._conversation.response(response_id).output
        except KeyError:
            items = ()
        said = [text for text in map(describe_item, items) if text is not None]
        text = " / ".join(t[_LABEL_WIDTH:] for t in said) or "(no output)"
        status = event.response.status
        if isinstance(status, str) and status != "completed":
            text += f" [{status}]"
        self._lines.finish(("assistant", response_id), text)

    def _transcripts_expected(self) -> bool:
        session = self._conversation.session or self._conversation.transcription_session
        transcription = session.input_audio_transcription if session is not None else None
        return transcription is not None and transcription is not UNSET

    def _report_turns(self, *, final: bool) -> None:
        expect_transcript = self._transcripts_expected()
        transcription_only = self._conversation.transcription_session is not None
        for index, turn in enumerate(self._timer.turns):
            if index in self._reported:
                continue
            transcribed = turn.input_transcript_done is not None or not expect_transcript
            transcribed = transcribed or turn.item_id is None
            if turn.response_id is not None:
                if not (final or (turn.response_done is not None and transcribed)):
                    continue
                key: object = ("turn", turn.response_id)
            elif transcription_only or final:
                if not (final or transcribed):
                    continue
                key = ("turn", "item", turn.item_id)
                self._lines.open(key, "")
            else:
                continue  # a conversation turn waits for its response
            self._reported.add(index)
            self._lines.finish(key, describe_turn(index + 1, turn))

    def close(self) -> None:
        """Report every turn with what is known, then write every held line."""
        self._report_turns(final=True)
        self._lines.close()
