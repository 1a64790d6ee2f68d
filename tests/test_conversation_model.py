"""A small Realtime server model for the ``Conversation`` property tests.

:class:`ServerModel` plays a server (server-behaviour.md 5.2-5.11): responses, user turns and input transcriptions
run as generators that it interleaves at random (hypothesis draws every choice), and it keeps
what it sent so a test can compare the conversation's view with the truth. The tests in this
module check the model itself: what it emits must validate against the relaxed beta schemas.

Rules the model follows:

* At most one default-conversation response runs at a time; out-of-band ones run beside it.
* ``speech_started`` during a default-conversation response cancels it at once
  (``turn_detected``): its open part and item get their done events, then ``response.done``.
* Input transcripts may start as soon as speech starts, so some arrive before their item.
* Items are deleted and truncated only once complete; a truncate is whatever
  ``Conversation.truncation_for`` proposed, checked against the model before it is "sent".
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_conversation_factories import (
    At,
    assistant_item,
    cancelled,
    committed,
    eid,
    function_call_item,
    function_output_item,
    item_created,
    item_deleted,
    item_truncated,
    new_id,
    output_item_added,
    output_item_done,
    rate_limits,
    response_created,
    response_done,
    session_created,
    session_updated,
    speech_started,
    speech_stopped,
    text_message,
    transcript_completed,
    transcript_delta,
    transcript_failed,
    usage,
    user_audio_item,
    wire_errors,
)

from trio_realtime import decode, encode
from trio_realtime._core._audio import bytes_per_ms
from trio_realtime._core._conversation import Conversation
from trio_realtime._core._events import (
    ContentPart,
    ConversationItem,
    ConversationItemTruncate,
    ErrorDetails,
    ErrorEvent,
    Event,
    InputAudioBufferAppend,
    ResponseCreated,
    ResponseDone,
    ServerEvent,
    UnknownEvent,
    Usage,
)

# --- the server model --------------------------------------------------------------------------

WIDTH = {"pcm16": 2, "g711_ulaw": 1, "g711_alaw": 1}


@dataclass
class PartModel:
    kind: str  # "audio" or "text"
    fmt: str
    deltas: list[str] = field(default_factory=list)  # transcript or text deltas
    audio: bytearray = field(default_factory=bytearray)  # what the server holds now
    audio_sent: int = 0  # every audio byte sent in deltas
    truncated: bool = False

    @property
    def bpm(self) -> int:
        return bytes_per_ms(self.fmt)


@dataclass
class ItemModel:
    id: str
    kind: str  # user_audio, user_text, system_text, assistant, function_call, function_call_output
    response_id: str | None = None
    in_conversation: bool = False
    deleted: bool = False
    done: bool = False
    parts: list[PartModel] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)
    text: str = ""


@dataclass
class TranscriptModel:
    deltas: list[str] = field(default_factory=list)
    final: str | None = None
    status: str = "in_progress"


@dataclass
class ResponseModel:
    id: str
    oob: bool
    fmt: str  # effective audio format
    fmt_field: str | None  # what response.created says
    status: str = "in_progress"
    output: list[str] = field(default_factory=list)
    usage: Usage | None = None
    cancel: str | None = None
    done: bool = False


Batch = list[Event | UnknownEvent]
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)


class ServerModel:
    """A small server: emits valid event sequences, feeds them to ``feed``, remembers the truth."""

    def __init__(
        self,
        data: st.DataObject,
        feed: Callable[[Any], None],
        *,
        output_format: str = "pcm16",
        on_sent: Callable[[Any], None] = lambda event: None,
    ) -> None:
        self.data = data
        self.feed = feed
        self.on_sent = on_sent
        self.session_fmt = output_format
        self.items: dict[str, ItemModel] = {}
        self.order: list[str] = []
        self.responses: dict[str, ResponseModel] = {}
        self.transcripts: dict[str, TranscriptModel] = {}
        self.streams: list[Iterator[Batch]] = []
        self.default_stream: Iterator[Batch] | None = None
        self.default_response: ResponseModel | None = None
        self.active_id: str | None = None  # default response between created and done
        self.turn_running = False
        self.speaking = False
        self.input_bytes = 0
        self.input_ms = 0.0
        self.audio_clock = 0
        self.events: list[Event | UnknownEvent] = []

    def draw(self, strategy: st.SearchStrategy[Any]) -> Any:
        return self.data.draw(strategy)

    def emit(self, batch: Batch) -> None:
        for event in batch:
            self.events.append(event)
            self.feed(event)

    # --- splitting ---------------------------------------------------------------------------

    def split_text(self) -> list[str]:
        """A drawn text cut at drawn points (empty pieces allowed)."""
        text = self.draw(TEXT)
        cuts = sorted(self.draw(st.lists(st.integers(0, len(text)), max_size=4)))
        bounds = [0, *cuts, len(text)]
        return [text[a:b] for a, b in itertools.pairwise(bounds)]

    def split_audio(self, fmt: str) -> list[bytes]:
        # an audio part may get no audio at all (sampled_from draws evenly, integers do not)
        silent = self.draw(st.sampled_from([False, False, False, True]))
        sizes = [] if silent else self.draw(st.lists(st.integers(1, 60), min_size=1, max_size=5))
        rng = random.Random(self.draw(st.integers(0, 2**16)))
        return [rng.randbytes(n * WIDTH[fmt]) for n in sizes]

    # --- streams -----------------------------------------------------------------------------

    def drain(self, stream: Iterator[Batch]) -> Batch:
        """Run ``stream`` to its end at once (a cancellation's closing events)."""
        if stream in self.streams:
            self.streams.remove(stream)
        return [event for batch in stream for event in batch]

    def step(self) -> None:
        if not self.streams:
            return
        stream = self.streams[self.draw(st.integers(0, len(self.streams) - 1))]
        batch = next(stream, None)
        if batch is None:
            self.streams.remove(stream)
        else:
            self.emit(batch)

    def finish(self) -> None:
        """Run every stream to completion (new ones included), round robin."""
        while self.streams:
            for stream in list(self.streams):
                if stream not in self.streams:  # drained by a cancellation meanwhile
                    continue
                batch = next(stream, None)
                if batch is None:
                    self.streams.remove(stream)
                else:
                    self.emit(batch)

    # --- responses ---------------------------------------------------------------------------

    def start_response(self, *, oob: bool) -> None:
        fmt_field = self.draw(st.sampled_from([None, None, "pcm16", "g711_ulaw", "g711_alaw"]))
        r = ResponseModel(new_id("resp"), oob, fmt_field or self.session_fmt, fmt_field)
        stream = self.response_stream(r)
        self.streams.append(stream)
        if not oob:
            self.default_stream = stream
            self.default_response = r

    def response_stream(self, r: ResponseModel) -> Iterator[Batch]:
        self.responses[r.id] = r
        r.fmt = r.fmt_field or self.session_fmt  # settings are fixed when the response starts
        if not r.oob:
            self.active_id = r.id
        yield [response_created(r.id, oob=r.oob, fmt=r.fmt_field)]
        final_items: list[ConversationItem] = []
        for index in range(self.draw(st.integers(0, 2))):
            if r.cancel:
                break
            kind = self.draw(st.sampled_from(["audio", "audio", "text", "function"]))
            item_id = new_id("item")
            m = ItemModel(item_id, "function_call" if kind == "function" else "assistant", r.id)
            self.items[item_id] = m
            r.output.append(item_id)
            call_id, name = new_id("call"), "get_weather"
            wire = (
                function_call_item(item_id, call_id, name)
                if kind == "function"
                else assistant_item(item_id)
            )
            batch: Batch = [output_item_added(r.id, index, wire)]
            if not r.oob:
                previous = self.order[-1] if self.order else None
                self.order.append(item_id)
                m.in_conversation = True
                batch.append(item_created(wire, previous))
            yield batch
            at = At(r.id, item_id, index)
            if kind == "function":
                for piece in self.split_text():
                    if r.cancel:
                        break
                    m.arguments.append(piece)
                    yield [at.arguments(call_id, piece)]
                arguments = "".join(m.arguments)
                status = "incomplete" if r.cancel else "completed"
                final = function_call_item(item_id, call_id, name, arguments, status)
                m.done = True
                yield [at.arguments_done(call_id, arguments), output_item_done(r.id, index, final)]
            else:
                part = PartModel(kind, r.fmt)
                m.parts.append(part)
                yield [at.part_added(kind)]
                texts = self.split_text()
                sounds = self.split_audio(r.fmt) if kind == "audio" else []
                while (texts or sounds) and not r.cancel:
                    if texts and (not sounds or self.draw(st.booleans())):
                        piece = texts.pop(0)
                        part.deltas.append(piece)
                        yield [at.transcript(piece) if kind == "audio" else at.text(piece)]
                    else:
                        pcm = sounds.pop(0)
                        part.audio += pcm
                        part.audio_sent += len(pcm)
                        yield [at.audio(pcm)]
                text = "".join(part.deltas)
                status = "incomplete" if r.cancel else "completed"
                content = [
                    ContentPart(type="audio", transcript=text)
                    if kind == "audio"
                    else ContentPart(type="text", text=text)
                ]
                final = assistant_item(item_id, status, content)
                m.done = True
                closing: Batch = (
                    [at.audio_done(), at.transcript_done(text)]
                    if kind == "audio"
                    else [at.text_done(text)]
                )
                yield [*closing, at.part_done(kind, text), output_item_done(r.id, index, final)]
            final_items.append(final)
        r.status = "cancelled" if r.cancel else "completed"
        n = self.draw(st.lists(st.integers(0, 500), min_size=5, max_size=5))
        r.usage = usage(n[0], n[1], n[2], n[3], cached=min(n[4], n[0] + n[1]))
        r.done = True
        if not r.oob:
            self.active_id = None
            self.default_stream = None
            self.default_response = None
        yield [
            response_done(
                r.id,
                r.status,
                oob=r.oob,
                output=final_items,
                usage=r.usage,
                details=cancelled(r.cancel) if r.cancel else None,
                fmt=r.fmt_field,
            ),
            rate_limits(),
        ]

    def cancel_default(self, reason: str) -> Batch:
        stream, r = self.default_stream, self.default_response
        if stream is None or r is None:
            return []
        r.cancel = reason
        return self.drain(stream)

    # --- user turns and transcripts ------------------------------------------------------------

    def start_user_turn(self) -> None:
        if not self.turn_running:
            self.turn_running = True
            self.streams.append(self.user_turn())

    def user_turn(self) -> Iterator[Batch]:
        item_id = new_id("item")
        for n in self.draw(st.lists(st.integers(1, 400), max_size=3)):
            append = InputAudioBufferAppend.from_pcm(bytes(n * 2))
            self.on_sent(append)
            self.input_bytes += n * 2
            self.input_ms += n * 2 / 48
        start = self.audio_clock
        self.audio_clock += 500
        self.speaking = True
        batch: Batch = [speech_started(item_id, start)]
        if self.draw(st.booleans()):  # transcription on: it may even beat the item
            self.streams.append(self.transcription(item_id))
        batch += self.cancel_default("turn_detected")  # barge-in (5.3)
        yield batch
        self.speaking = False
        yield [speech_stopped(item_id, self.audio_clock)]
        previous = self.order[-1] if self.order else None
        self.items[item_id] = ItemModel(item_id, "user_audio", in_conversation=True, done=True)
        self.order.append(item_id)
        self.turn_running = False
        yield [committed(item_id, previous), item_created(user_audio_item(item_id), previous)]
        if self.default_stream is None and self.draw(st.booleans()):
            self.start_response(oob=False)

    def transcription(self, item_id: str) -> Iterator[Batch]:
        t = self.transcripts[item_id] = TranscriptModel()
        for piece in self.split_text():
            t.deltas.append(piece)
            yield [transcript_delta(item_id, piece)]
        if self.draw(st.integers(0, 4)) == 0:
            t.status = "failed"
            yield [transcript_failed(item_id)]
        else:
            t.status = "completed"
            t.final = "".join(t.deltas)
            yield [transcript_completed(item_id, t.final)]

    # --- client actions ----------------------------------------------------------------------

    def create_item(self) -> None:
        kind = self.draw(st.sampled_from(["user_text", "system_text", "function_call_output"]))
        where = self.draw(st.sampled_from(["append", "root", "after"]))
        item_id = new_id("item")
        m = ItemModel(item_id, kind, in_conversation=True, done=True, text=self.draw(TEXT))
        if kind == "function_call_output":
            wire = function_output_item(item_id, new_id("call"), m.text)
        else:
            wire = text_message(item_id, m.text, "user" if kind == "user_text" else "system")
        if where == "after" and self.order:
            after: str = self.draw(st.sampled_from(self.order))
            previous: str | None = after
            self.order.insert(self.order.index(after) + 1, item_id)
        elif where == "root" or not self.order:
            previous = None
            self.order.insert(0, item_id)
        else:
            previous = self.order[-1]
            self.order.append(item_id)
        self.items[item_id] = m
        self.emit([item_created(wire, previous)])

    def delete_item(self) -> None:
        done = [item_id for item_id in self.order if self.items[item_id].done]
        if done:
            item_id = self.draw(st.sampled_from(done))
            self.order.remove(item_id)
            m = self.items[item_id]
            m.in_conversation, m.deleted = False, True
            self.emit([item_deleted(item_id)])

    def check_truncation(
        self, truncate: ConversationItemTruncate | None, item_id: str, played: float
    ) -> None:
        """Check a ``truncation_for`` answer against the model (raises AssertionError)."""
        m = self.items.get(item_id)
        index = None
        if m is not None and m.kind == "assistant" and m.in_conversation:
            index = next((i for i, p in enumerate(m.parts) if p.kind == "audio" and p.audio), None)
        heard = played > 0  # False for NaN too
        if truncate is None:
            assert index is None or not heard, (item_id, played)
            return
        assert m is not None
        assert index is not None
        assert heard
        part = m.parts[index]
        assert type(truncate.audio_end_ms) is int
        assert truncate.item_id == item_id
        assert truncate.content_index == index
        assert 0 <= truncate.audio_end_ms <= played
        assert truncate.audio_end_ms * part.bpm <= len(part.audio)  # never past the audio
        expected = min(len(part.audio) // part.bpm, math.floor(min(played, 1e12)))
        assert truncate.audio_end_ms == expected

    def apply_truncate(self, truncate: ConversationItemTruncate) -> None:
        part = self.items[truncate.item_id].parts[truncate.content_index]
        del part.audio[truncate.audio_end_ms * part.bpm :]
        part.truncated = True
        self.on_sent(truncate)
        self.emit([item_truncated(truncate.item_id, truncate.audio_end_ms, truncate.content_index)])

    def update_session(self) -> None:
        self.session_fmt = self.draw(st.sampled_from(sorted(WIDTH)))
        self.emit([session_updated(self.session_fmt)])

    def noise(self) -> None:
        """Events the conversation must shrug off."""
        self.emit(
            [
                self.draw(
                    st.sampled_from(
                        [
                            ErrorEvent(
                                event_id=eid(),
                                error=ErrorDetails(
                                    type="invalid_request_error",
                                    code="response_cancel_not_active",
                                    message="Cancellation failed: no active response found",
                                    param=None,
                                    event_id=None,
                                ),
                            ),
                            UnknownEvent(raw={"type": "response.future_thing", "event_id": eid()}),
                            rate_limits(),
                        ]
                    )
                )
            ]
        )


def run_session(
    data: st.DataObject,
    conversation: Conversation,
    *,
    output_format: str = "pcm16",
    wire: bool = False,
    check_truncate: Callable[[ServerModel, str, float], None] | None = None,
    check_step: Callable[[ServerModel], None] | None = None,
    max_actions: int = 40,
) -> ServerModel:
    """Drive ``conversation`` with a random, valid session; return the model holding the truth."""

    def feed(event: Any) -> None:
        conversation.apply(decode(encode(event)) if wire else event)

    model = ServerModel(data, feed, output_format=output_format, on_sent=conversation.sent)
    model.emit([session_created(output_format)])
    actions = [
        "step", "step", "step", "step", "step", "step", "turn", "respond", "oob", "cancel",
        "create", "delete", "truncate", "truncate", "truncate", "session", "noise",
    ]  # fmt: skip

    def truncate() -> None:
        assert check_truncate is not None
        audio = [
            i
            for i, m in model.items.items()
            if m.done and m.in_conversation and any(p.audio for p in m.parts)
        ]
        ids = [*model.order, *model.items, "item_never_seen"]
        item_id = data.draw(st.sampled_from(audio if audio and data.draw(st.booleans()) else ids))
        played = data.draw(
            st.one_of(
                st.floats(0.001, 3000),
                st.integers(1, 3000),
                st.sampled_from([0, -2.5, 0.5, math.nan, math.inf, -math.inf]),
            )
        )
        check_truncate(model, item_id, played)

    for _ in range(data.draw(st.integers(0, max_actions), label="actions")):
        action = data.draw(st.sampled_from(actions))
        if action == "step":
            model.step()
        elif action == "turn":
            model.start_user_turn()
        elif action == "respond" and model.default_stream is None:
            model.start_response(oob=False)
        elif action == "oob" and len(model.streams) < 4:
            model.start_response(oob=True)
        elif action == "cancel":
            model.emit(model.cancel_default("client_cancelled"))
        elif action == "create":
            model.create_item()
        elif action == "delete":
            model.delete_item()
        elif action == "truncate" and check_truncate is not None:
            truncate()
        elif action == "session":
            model.update_session()
        elif action == "noise":
            model.noise()
        if check_step is not None:
            check_step(model)
    model.finish()
    if check_truncate is not None:  # barge-ins of the items the loop left running
        for _ in range(data.draw(st.integers(0, 4), label="late truncates")):
            truncate()
    if check_step is not None:
        check_step(model)
    return model


# --- tests of the model itself -----------------------------------------------------------------


@settings(max_examples=25)
@given(st.data(), st.sampled_from(sorted(WIDTH)))
def test_the_server_model_emits_only_schema_valid_events(data: st.DataObject, fmt: str) -> None:
    model = run_session(data, Conversation(), output_format=fmt)
    for event in model.events:
        if isinstance(event, ServerEvent):
            assert wire_errors(event) == [], event


@settings(max_examples=25)
@given(st.data())
def test_the_server_model_keeps_one_default_response_at_a_time(data: st.DataObject) -> None:
    model = run_session(data, Conversation())
    running: str | None = None
    for event in model.events:
        if isinstance(event, ResponseCreated) and event.response.conversation_id is not None:
            assert running is None
            running = str(event.response.id)
        elif isinstance(event, ResponseDone) and event.response.id == running:
            running = None
    assert running is None
