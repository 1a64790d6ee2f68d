"""Property tests: random but valid sessions from the server model keep every invariant.

Each example plays a whole session (interleaved default and out-of-band responses, deltas
split at random points, barge-ins, cancellations, late or early input transcripts, client
items inserted anywhere, deletes, truncations at random played times) and checks, after every
action and at the end, that the conversation agrees with the model that produced the events.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_conversation_model import WIDTH, ServerModel, run_session

from trio_realtime._core._audio import bytes_for_ms, bytes_per_ms
from trio_realtime._core._conversation import Conversation
from trio_realtime._core._conversation_stats import UsageTotals
from trio_realtime._core._events import (
    InputAudioTranscriptionDelta,
    ResponseAudioDelta,
    ResponseAudioTranscriptDelta,
    ResponseFunctionCallArgumentsDelta,
    ResponseTextDelta,
)

KEEP = st.sampled_from([None, 0, 0.004, 0.02])
TEXT_PIECES = st.text(max_size=6)
FORMAT = st.sampled_from(sorted(WIDTH))


def play(
    data: st.DataObject, conversation: Conversation, fmt: str, *, wire: bool = False
) -> ServerModel:
    """Run a random session into ``conversation``, checking the live invariants as it goes."""

    def check_truncate(model: ServerModel, item_id: str, played: float) -> None:
        truncate = conversation.truncation_for(item_id, played)
        model.check_truncation(truncate, item_id, played)
        if truncate is not None and model.items[item_id].done:
            model.apply_truncate(truncate)

    def check_step(model: ServerModel) -> None:
        active = conversation.active_response
        assert (None if active is None else active.id) == model.active_id
        assert conversation.item_ids == tuple(model.order)
        assert conversation.user_speaking == model.speaking

    return run_session(
        data,
        conversation,
        output_format=fmt,
        wire=wire,
        check_truncate=check_truncate,
        check_step=check_step,
        max_actions=60,
    )


def expected_deltas(model: ServerModel) -> dict[str, dict[tuple[str, int], list[str]]]:
    """Every text-like delta the model sent, by kind and by (item id, content index)."""
    found: dict[str, dict[tuple[str, int], list[str]]] = defaultdict(lambda: defaultdict(list))
    for e in model.events:
        if isinstance(e, ResponseTextDelta):
            found["text"][e.item_id, e.content_index].append(e.delta)
        elif isinstance(e, ResponseAudioTranscriptDelta):
            found["transcript"][e.item_id, e.content_index].append(e.delta)
        elif isinstance(e, ResponseFunctionCallArgumentsDelta):
            found["arguments"][e.item_id, 0].append(e.delta)
        elif isinstance(e, InputAudioTranscriptionDelta):
            found["input"][e.item_id, 0].append(str(e.delta))
    return found


def assert_every_delta_lands_in_exactly_one_part(
    conversation: Conversation, model: ServerModel
) -> None:
    deltas = expected_deltas(model)
    audio: dict[tuple[str, int], int] = defaultdict(int)
    for e in model.events:
        if isinstance(e, ResponseAudioDelta):
            audio[e.item_id, e.content_index] += len(e.pcm)
    total_audio = sum(audio.values())
    seen_audio = 0
    for item in conversation.items_by_id.values():
        assert item.arguments == "".join(deltas["arguments"].pop((item.id, 0), []))
        for part in item.parts:
            key = (item.id, part.index)
            if part.type == "text":
                assert part.text == "".join(deltas["text"].pop(key, []))
            if part.type == "audio":
                transcript = "".join(deltas["transcript"].pop(key, []))
                assert part.transcript == (None if part.truncated_at_ms is not None else transcript)
                sent = audio.pop(key, 0)
                assert part.audio_received_ms == sent / bytes_per_ms(part.audio_format)
                seen_audio += sent
    assert seen_audio == total_audio
    assert not any(deltas[kind] for kind in ("text", "transcript", "arguments")), deltas
    assert not audio


def assert_matches_the_model(
    conversation: Conversation, model: ServerModel, keep: float | None
) -> None:
    assert conversation.anomalies == ()
    assert conversation.anomaly_count == 0
    assert conversation.active_response is None
    assert conversation.item_ids == tuple(model.order)
    assert [item.id for item in conversation.items] == model.order

    for m in model.items.values():
        view = conversation.item(m.id)
        assert view.in_conversation == m.in_conversation
        assert view.deleted == m.deleted
        assert view.done
        assert view.response_id == m.response_id
        if m.kind == "assistant":
            assert (view.type, view.role) == ("message", "assistant")
        elif m.kind == "function_call":
            assert (view.type, view.name) == ("function_call", "get_weather")
            assert view.arguments == "".join(m.arguments)
        elif m.kind == "function_call_output":
            assert (view.type, view.output) == ("function_call_output", m.text)
        elif m.kind in ("user_text", "system_text"):
            assert view.text == m.text
        for index, part in enumerate(m.parts):
            got = view.parts[index]
            assert got.audio_format == part.fmt
            full = bytes(part.audio)
            assert got.audio_ms == len(full) / part.bpm  # what the server holds
            kept = got.audio
            if keep is None:
                assert kept == full
            elif keep == 0:
                assert kept == b""
            else:
                cap = bytes_for_ms(keep * 1000, part.fmt)
                assert len(kept) <= cap
                assert full.endswith(kept)
                if not part.truncated:
                    assert len(kept) == min(cap, len(full))
            if part.kind == "text":
                assert got.text == "".join(part.deltas)
            elif part.truncated:
                assert got.transcript is None
                assert view.transcript is None
            else:
                assert got.transcript == "".join(part.deltas)

    for item_id, t in model.transcripts.items():
        view = conversation.item(item_id)
        assert view.input_transcription_status == t.status
        if t.status == "completed":
            assert view.input_transcript == t.final
        else:
            assert view.input_transcript == ("".join(t.deltas) if t.deltas else None)

    for r in model.responses.values():
        rview = conversation.response(r.id)
        assert rview.done
        assert rview.status == r.status
        assert rview.out_of_band == r.oob
        assert rview.output_item_ids == tuple(r.output)
        assert rview.usage == r.usage
        assert rview.output_audio_format == r.fmt
        if r.cancel:
            assert rview.status_details is not None
            assert rview.status_details.reason == r.cancel
        if r.oob:
            assert not set(r.output) & set(conversation.item_ids)
    assert [r.id for r in conversation.responses] == list(model.responses)

    usages = [r.usage for r in model.responses.values() if r.usage is not None]
    totals = conversation.usage_totals
    assert totals == UsageTotals.of(usages)
    assert totals.responses == len(usages)
    assert totals.input_tokens == sum(u.input_tokens for u in usages)  # type: ignore[misc]
    assert totals.output_tokens == sum(u.output_tokens for u in usages)  # type: ignore[misc]
    assert totals.total_tokens == sum(u.total_tokens for u in usages)  # type: ignore[misc]
    assert totals.total_tokens == totals.input_tokens + totals.output_tokens

    assert conversation.input_audio_sent_bytes == model.input_bytes
    assert conversation.input_audio_sent_ms == pytest.approx(model.input_ms)
    stats = conversation.statistics()
    assert stats.items == len(model.order)
    assert stats.pending_transcripts == 0
    if keep is not None:
        parts = sum(len(m.parts) for m in model.items.values())
        assert stats.audio_bytes_kept <= parts * bytes_for_ms(keep * 1000, "pcm16")


@given(st.data(), KEEP, FORMAT)
def test_random_sessions_agree_with_the_server_model(
    data: st.DataObject, keep: float | None, fmt: str
) -> None:
    conversation = Conversation(keep_audio_seconds=keep)
    model = play(data, conversation, fmt)
    assert_every_delta_lands_in_exactly_one_part(conversation, model)
    assert_matches_the_model(conversation, model, keep)


@given(st.data(), KEEP)
def test_random_sessions_decoded_from_the_wire_agree_with_the_server_model(
    data: st.DataObject, keep: float | None
) -> None:
    conversation = Conversation(keep_audio_seconds=keep)
    model = play(data, conversation, "pcm16", wire=True)
    assert_every_delta_lands_in_exactly_one_part(conversation, model)
    assert_matches_the_model(conversation, model, keep)


@given(st.data(), KEEP)
def test_keep_audio_seconds_changes_only_the_audio_kept(
    data: st.DataObject, keep: float | None
) -> None:
    everything = Conversation()
    bounded = Conversation(keep_audio_seconds=keep)
    model = play(data, everything, "pcm16")
    for event in model.events:
        bounded.apply(event)  # type: ignore[arg-type]
    for full, part in zip(
        everything.items_by_id.values(), bounded.items_by_id.values(), strict=True
    ):
        assert (full.id, full.text, full.transcript, full.arguments) == (
            part.id,
            part.text,
            part.transcript,
            part.arguments,
        )
        assert full.audio_received_ms == part.audio_received_ms
        assert full.audio.endswith(part.audio)
    assert everything.usage_totals == bounded.usage_totals


@given(
    st.sampled_from(sorted(WIDTH)),
    st.lists(st.integers(1, 500), max_size=8),
    st.lists(st.floats(-10, 10_000) | st.integers(-10, 10_000), min_size=1, max_size=6),
)
def test_truncation_for_never_exceeds_what_was_heard_or_received(
    fmt: str, chunks: list[int], plays: list[float]
) -> None:
    from test_conversation_factories import (
        At,
        assistant_item,
        item_created,
        item_truncated,
        output_item_added,
        response_created,
    )

    conversation = Conversation(output_audio_format=fmt)
    at = At("resp_1", "item_1")
    for event in (
        response_created("resp_1"),
        output_item_added("resp_1", 0, assistant_item("item_1")),
        item_created(assistant_item("item_1"), None),
        at.part_added("audio"),
        *(at.audio(bytes(n * WIDTH[fmt])) for n in chunks),
    ):
        conversation.apply(event)
    held = sum(chunks) * WIDTH[fmt]  # bytes the server holds for the item
    for played in plays:
        truncate = conversation.truncation_for("item_1", played)
        if truncate is None:
            assert held == 0 or not played > 0
            continue
        assert type(truncate.audio_end_ms) is int
        assert truncate.content_index == 0
        assert 0 <= truncate.audio_end_ms <= played
        assert truncate.audio_end_ms * bytes_per_ms(fmt) <= held
        assert truncate.audio_end_ms == min(held // bytes_per_ms(fmt), math.floor(played))
        conversation.sent(truncate)
        conversation.apply(item_truncated("item_1", truncate.audio_end_ms))
        held = min(held, truncate.audio_end_ms * bytes_per_ms(fmt))
        assert conversation.item("item_1").audio_ms * bytes_per_ms(fmt) == held
    assert conversation.anomalies == ()


@given(
    st.sampled_from(sorted(WIDTH)),
    st.lists(st.integers(1, 400), max_size=6),
    st.lists(TEXT_PIECES, max_size=6),
    st.integers(0, 12),
    st.floats(-1, 10_000) | st.integers(-1, 10_000),
    KEEP,
    st.randoms(use_true_random=False),
)
def test_barge_in_at_any_point_then_truncation_leaves_a_consistent_item(
    fmt: str,
    chunks: list[int],
    words: list[str],
    cut: int,
    played: float,
    keep: float | None,
    rnd: random.Random,
) -> None:
    """5.3: speech cancels the reply after ``cut`` deltas; the client truncates at what it played."""
    from test_conversation_factories import (
        At,
        assistant_item,
        cancelled,
        item_created,
        item_truncated,
        output_item_added,
        output_item_done,
        response_created,
        response_done,
        speech_started,
    )

    from trio_realtime._core._events import ContentPart

    conversation = Conversation(output_audio_format=fmt, keep_audio_seconds=keep)
    at = At("resp_1", "item_a")
    for event in (
        response_created("resp_1"),
        output_item_added("resp_1", 0, assistant_item("item_a")),
        item_created(assistant_item("item_a"), None),
        at.part_added("audio"),
    ):
        conversation.apply(event)
    noise = bytes(range(256)) * 8
    deltas: list[ResponseAudioDelta | ResponseAudioTranscriptDelta] = [
        at.audio(noise[: n * WIDTH[fmt]]) for n in chunks
    ]
    deltas += [at.transcript(w) for w in words]
    rnd.shuffle(deltas)  # audio and transcript deltas interleave
    sent = deltas[:cut]
    for delta in sent:
        conversation.apply(delta)
    audio = b"".join(e.pcm for e in sent if isinstance(e, ResponseAudioDelta))
    said = "".join(e.delta for e in sent if isinstance(e, ResponseAudioTranscriptDelta))
    final = assistant_item("item_a", "incomplete", [ContentPart(type="audio", transcript=said)])
    for closing in (
        speech_started("item_u2", 5000),
        at.audio_done(),
        at.transcript_done(said),
        at.part_done("audio", said),
        output_item_done("resp_1", 0, final),
        response_done("resp_1", "cancelled", output=[final], details=cancelled("turn_detected")),
    ):
        conversation.apply(closing)
    assert conversation.active_response is None
    assert conversation.user_speaking
    item = conversation.item("item_a")
    assert item.transcript == said
    bpm = bytes_per_ms(fmt)
    assert item.audio_received_ms == len(audio) / bpm
    truncate = conversation.truncation_for("item_a", played)
    if not audio or not played > 0:
        assert truncate is None
        return
    assert truncate is not None
    assert truncate.audio_end_ms == min(len(audio) // bpm, math.floor(played))
    conversation.sent(truncate)
    conversation.apply(item_truncated("item_a", truncate.audio_end_ms))
    kept = audio[: truncate.audio_end_ms * bpm]
    assert item.audio_ms == len(kept) / bpm
    assert item.transcript is None
    assert kept.endswith(item.audio)
    if keep is None:
        assert item.audio == kept
    assert conversation.anomalies == ()


@given(
    st.sampled_from(sorted(WIDTH)),
    st.sampled_from([0, 0.001, 0.004, 0.02, 1.0]),
    st.lists(st.integers(1, 200), max_size=60),
)
def test_the_audio_kept_is_always_the_last_seconds_received(
    fmt: str, keep: float, chunks: list[int]
) -> None:
    from test_conversation_factories import At, assistant_item, output_item_added

    conversation = Conversation(output_audio_format=fmt, keep_audio_seconds=keep)
    at = At("resp_1", "item_a")
    conversation.apply(output_item_added("resp_1", 0, assistant_item("item_a")))
    conversation.apply(at.part_added("audio"))
    cap = bytes_for_ms(keep * 1000, fmt)
    received = b""
    for n in chunks:
        pcm = random.Random(n).randbytes(n * WIDTH[fmt])
        conversation.apply(at.audio(pcm))
        received += pcm
        kept = conversation.item("item_a").audio
        assert kept == received[len(received) - min(cap, len(received)) :]
        assert conversation.statistics().audio_bytes_kept == len(kept)
    assert conversation.item("item_a").audio_received_ms == len(received) / bytes_per_ms(fmt)
