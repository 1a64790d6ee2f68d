"""Property tests: the state machine survives any client, and its output stays coherent.

Rules these tests follow:

* Hypothesis draws whole sessions: valid and invalid client events, junk frames, random
  audio and random time steps, against an engine with random outputs and pacing.
* Every emitted event goes through :class:`server_helpers.Harness`, which validates it
  against the relaxed schemas and checks event ids (checklist 54-57).
* The properties: nothing raises; every ``error`` has a type and a message; response events
  name a response that is running; each ``response.created`` gets exactly one
  ``response.done``; the session never closes before its limit.
"""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from server_helpers import FakeEngine, Harness, audio_reply, call_reply

from trio_realtime._core._audio import silence, speech_like, tone
from trio_realtime.server._engine_api import PlannedText

IDS = st.sampled_from(["item_x", "root", "c1", "msg_1"])
SMALL_MS = st.integers(min_value=0, max_value=1200)

AUDIO = st.one_of(
    SMALL_MS.map(lambda ms: silence(ms)),
    SMALL_MS.map(lambda ms: tone(ms)),
    SMALL_MS.map(lambda ms: speech_like(ms, seed=ms)),
    st.binary(max_size=301),
)

VALID_SESSION = st.fixed_dictionaries(
    {},
    optional={
        "voice": st.sampled_from(["alloy", "ash"]),
        "instructions": st.sampled_from(["", "be brief"]),
        "modalities": st.sampled_from([["text"], ["text", "audio"]]),
        "input_audio_format": st.sampled_from(["pcm16", "g711_ulaw", "g711_alaw"]),
        "output_audio_format": st.sampled_from(["pcm16", "g711_alaw"]),
        "turn_detection": st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {"type": st.just("server_vad")},
                optional={
                    "create_response": st.booleans(),
                    "interrupt_response": st.booleans(),
                    "silence_duration_ms": st.integers(0, 800),
                    "threshold": st.floats(0.0, 1.0),
                },
            ),
            st.fixed_dictionaries(
                {"type": st.just("semantic_vad")},
                optional={"eagerness": st.sampled_from(["low", "high", "auto"])},
            ),
        ),
        "input_audio_transcription": st.sampled_from(
            [None, {"model": "whisper-1"}, {"model": "gpt-4o-transcribe"}]
        ),
        "temperature": st.floats(0.6, 1.2),
        "max_response_output_tokens": st.sampled_from([1, 5, 4096, "inf"]),
        "tools": st.sampled_from([[], [{"type": "function", "name": "f"}]]),
    },
)
BAD_SESSION_FIELDS = st.sampled_from(
    [
        {"voice": "robot"},
        {"voice": None},
        {"modalities": ["audio"]},
        {"input_audio_format": "wav"},
        {"turn_detection": {"type": "other"}},
        {"turn_detection": {"threshold": 1.5}},
        {"input_audio_transcription": {"enabled": True}},
        {"temperature": 2.0},
        {"max_response_output_tokens": "x"},
        {"tools": [{"description": "x" * 1100, "name": "g"}]},
        {"include": ["item.input_audio_transcription.logprobs"]},
        {"model": "other-model"},
    ]
)
SESSION_FIELDS = st.one_of(
    VALID_SESSION,
    VALID_SESSION,
    st.builds(lambda good, bad: {**good, **bad}, VALID_SESSION, BAD_SESSION_FIELDS),
)
TRANSCRIPTION_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "input_audio_format": st.sampled_from(["pcm16", "g711_ulaw"]),
        "input_audio_transcription": st.sampled_from(
            [None, {"model": "whisper-1"}, {"model": "gpt-4o-mini-transcribe", "language": "en"}]
        ),
        "include": st.sampled_from([None, ["item.input_audio_transcription.logprobs"], ["bogus"]]),
        "turn_detection": st.sampled_from([None, {"type": "server_vad"}]),
    },
)

ITEMS = st.one_of(
    st.builds(
        lambda text, role, item_id: {
            "type": "message",
            "role": role,
            "content": [{"type": "text" if role == "assistant" else "input_text", "text": text}],
            **({"id": item_id} if item_id else {}),
        },
        st.text(max_size=20),
        st.sampled_from(["user", "assistant", "system"]),
        st.sampled_from([None, "msg_1", "msg_2"]),
    ),
    st.builds(
        lambda call_id: {"type": "function_call_output", "call_id": call_id, "output": "{}"}, IDS
    ),
    st.builds(
        lambda call_id: {
            "type": "function_call",
            "call_id": call_id,
            "name": "f",
            "arguments": "{}",
        },
        IDS,
    ),
    st.just(
        {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": "%%"}]}
    ),
    st.just({"role": "user"}),
)

RESPONSE = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "conversation": st.sampled_from(["auto", "none"]),
            "modalities": st.sampled_from([["text"], ["audio", "text"]]),
            "max_response_output_tokens": st.sampled_from([1, 3, 50, "inf"]),
            "metadata": st.sampled_from([{"a": "b"}, None]),
            "input": st.sampled_from([[], [{"type": "item_reference", "id": "msg_1"}]]),
            "voice": st.sampled_from(["alloy", "sage"]),
        },
    ),
    st.sampled_from([{"conversation": "other"}, {"max_output_tokens": 5}, {"temperature": 9.0}]),
)
TURN = silence(300) + tone(600) + silence(700)


def _event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, **fields}


ACTIONS = st.one_of(
    AUDIO.map(lambda pcm: ("append", pcm)),
    st.just(("append", TURN)),
    st.sampled_from(["AAA", "!!!!", "ÄÄÄÄ", ""]).map(
        lambda bad: ("send", _event("input_audio_buffer.append", audio=bad))
    ),
    st.just(("send", _event("input_audio_buffer.commit", event_id="commit"))),
    st.just(("send", _event("input_audio_buffer.clear"))),
    SESSION_FIELDS.map(lambda s: ("send", _event("session.update", session=s))),
    TRANSCRIPTION_FIELDS.map(lambda s: ("send", _event("transcription_session.update", session=s))),
    st.builds(
        lambda item, prev: ("send", _event("conversation.item.create", item=item, **prev)),
        ITEMS,
        st.one_of(st.just({}), IDS.map(lambda i: {"previous_item_id": i})),
    ),
    IDS.map(lambda i: ("send", _event("conversation.item.delete", item_id=i))),
    st.just(("retrieve_last", None)),
    st.builds(
        lambda ms, ci: ("truncate_last", (ms, ci)), st.integers(-10, 3000), st.integers(0, 1)
    ),
    RESPONSE.map(lambda r: ("send", _event("response.create", response=r))),
    st.just(("send", _event("response.cancel"))),
    st.just(("cancel_last", None)),
    st.just(("send", _event("output_audio_buffer.clear"))),
    st.sampled_from(
        [
            '{"type": "nope"}',
            "[]",
            "{",
            '{"no": "type"}',
            '{"type": 1, "event_id": "e"}',
            '{"type": "session.update", "session": {"voice": 1}}',
        ]
    ).map(lambda raw: ("raw", raw)),
    st.binary(max_size=4).map(lambda data: ("binary", data)),
    st.floats(0.0, 3.0).map(lambda dt: ("wait", dt)),
)

ENGINES = st.builds(
    lambda outputs, pacing, delay: FakeEngine(
        outputs=outputs, pacing=pacing, transcription_delay=delay
    ),
    st.sampled_from(
        [
            (audio_reply(ms=300),),
            (PlannedText(text="Hello!"),),
            (call_reply(),),
            (PlannedText(text="Checking."), call_reply()),
            (audio_reply(ms=0, transcript=""),),
        ]
    ),
    st.sampled_from(
        [
            {},
            {"first_delta_delay": 0.2, "audio_realtime_factor": 1.0, "text_chars_per_second": 40.0},
            {"audio_realtime_factor": 4.0, "audio_chunk_ms": 33, "text_chunk_chars": 3},
        ]
    ),
    st.sampled_from([0.0, 0.5, 4.0]),
)


class Tracker:
    """Checks response-id coherence over a stream of wire events."""

    def __init__(self) -> None:
        self.running: set[str] = set()
        self.finished: set[str] = set()
        self.last_item: str | None = None
        self.last_response: str | None = None

    def see(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            kind = event["type"]
            if kind == "response.created":
                rid = event["response"]["id"]
                assert rid not in self.running
                assert rid not in self.finished
                self.running.add(rid)
                self.last_response = rid
            elif kind == "response.done":
                rid = event["response"]["id"]
                assert rid in self.running, "response.done for a response not running"
                self.running.remove(rid)
                self.finished.add(rid)
                usage = event["response"]["usage"]
                assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
            elif "response_id" in event:
                assert event["response_id"] in self.running, (kind, event["response_id"])
            if kind in ("conversation.item.created", "response.output_item.done"):
                self.last_item = event["item"]["id"]


@given(
    transcription=st.booleans(),
    engine=ENGINES,
    actions=st.lists(ACTIONS, max_size=30),
)
def test_any_client_gets_coherent_valid_answers(
    transcription: bool, engine: FakeEngine, actions: list[tuple[str, Any]]
) -> None:
    h = Harness(
        None if transcription else "gpt-realtime",
        intent="transcription" if transcription else None,
        engine=engine,
        session_seconds=600,
    )
    tracker = Tracker()
    tracker.see(h.opening)
    for action, arg in actions:
        if action == "append":
            events = h.send(
                {"type": "input_audio_buffer.append", "audio": base64.b64encode(arg).decode()}
            )
        elif action == "send" or action == "raw":
            events = h.send(arg)
        elif action == "binary":
            events = h.binary(arg)
        elif action == "wait":
            events = h.advance(h.now + arg)
        elif action == "retrieve_last":
            events = h.send(
                {"type": "conversation.item.retrieve", "item_id": tracker.last_item or "item_x"}
            )
        elif action == "truncate_last":
            ms, index = arg
            events = h.send(
                {
                    "type": "conversation.item.truncate",
                    "item_id": tracker.last_item or "item_x",
                    "content_index": index,
                    "audio_end_ms": ms,
                }
            )
        else:
            events = h.send(
                {"type": "response.cancel", "response_id": tracker.last_response or "resp_x"}
            )
        tracker.see(events)
        assert h.state.close is None
        if transcription:
            assert not [e for e in events if e["type"].startswith("response.")]
    tracker.see(h.run_until_idle())
    assert tracker.running == set(), "a response never finished"
    assert h.state.statistics().responses_active == 0
    expired = h.advance(h.state._expiry)
    assert expired[-1]["error"]["code"] == "session_expired"
