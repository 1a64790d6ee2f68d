"""Slow engines on the wire: deferred plans, per-connection sessions that hear the input audio.

A gated engine stands in for real speech: its plans wait for the test to open a gate, so what
the server does while an engine works can be seen event by event, against the real client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs
import pytest
import trio

import trio_realtime as rt
from trio_realtime.audio import silence, speech_like
from trio_realtime.server import (
    Deferred,
    EngineSession,
    ResponsePlan,
    ResponseRequest,
    SessionfulEngine,
    SimulatedEngine,
    TranscriptionPlan,
    TranscriptionRequest,
)
from trio_realtime.testing import open_local_server

MODEL = "gpt-4o-realtime-preview"


@attrs.define(eq=False)
class GatedEngine:
    """Answers like the simulated engine, once the gate opens; records what it heard."""

    gate: trio.Event = attrs.Factory(trio.Event)
    fail: bool = False
    backlog: float = 0.0
    heard: list[tuple[str, object]] = attrs.Factory(list)
    sessions: list[GatedSession] = attrs.Factory(list)
    replies: SimulatedEngine = attrs.Factory(SimulatedEngine)

    def open_session(self) -> GatedSession:
        session = GatedSession(self)
        self.sessions.append(session)
        return session

    def respond(self, request: ResponseRequest) -> ResponsePlan:
        return self.replies.respond(request)

    def transcribe(self, request: TranscriptionRequest) -> TranscriptionPlan:
        return self.replies.transcribe(request)


@attrs.define(eq=False)
class GatedSession:
    engine: GatedEngine
    closed: int = 0
    cancelled: int = 0

    def _later(self, make: Callable[[], object], what: str) -> Deferred[object]:
        async def compute() -> object:
            try:
                await self.engine.gate.wait()
            except trio.Cancelled:
                self.cancelled += 1
                raise
            if self.engine.fail:
                raise RuntimeError("the engine broke")
            return make()

        return Deferred(compute, what)

    def respond(self, request: ResponseRequest) -> Deferred[ResponsePlan]:
        return self._later(lambda: self.engine.replies.respond(request), "reply")  # type: ignore[return-value]

    def transcribe(self, request: TranscriptionRequest) -> Deferred[TranscriptionPlan]:
        plan = TranscriptionPlan(transcript="heard it", deltas=("heard", " it"))
        return self._later(lambda: plan, "transcript")  # type: ignore[return-value]

    def turn_started(self, audio: bytes, fmt: str) -> None:
        self.engine.heard.append(("started", len(audio)))

    def audio_appended(self, audio: bytes, fmt: str) -> None:
        self.engine.heard.append(("appended", len(audio)))

    def turn_committed(self, item_id: str, audio: bytes, fmt: str) -> None:
        self.engine.heard.append(("committed", len(audio)))

    def turn_dropped(self) -> None:
        self.engine.heard.append(("dropped", None))

    def backlog_ms(self) -> float:
        return self.engine.backlog

    def close(self) -> None:
        self.closed += 1


def test_the_gated_engine_is_what_the_server_takes_for_a_slow_engine() -> None:
    engine = GatedEngine()
    assert isinstance(engine, SessionfulEngine)
    session: EngineSession = engine.open_session()
    assert session.backlog_ms() == 0.0


async def text_turn(session: rt.RealtimeSession, text: str) -> None:
    await session.create_item(rt.ConversationItem.user_text(text))
    await session.create_response()


async def next_of(session: rt.RealtimeSession, kind: type[rt.Event], within: float = 5) -> rt.Event:
    return await session.wait_for(kind, timeout=within)


async def connected(
    server_url: str, configure: rt.Session, run: Callable[[rt.RealtimeSession], Awaitable[None]]
) -> None:
    async with rt.connect(model=MODEL, url=server_url, api_key="k") as session:
        await session.update_session(configure)
        await session.wait_for(rt.SessionUpdated, timeout=5)
        await run(session)


TEXT = rt.Session(modalities=["text"], turn_detection=None)


async def test_a_deferred_reply_is_created_at_once_and_streams_when_the_plan_is_in() -> None:
    engine = GatedEngine()
    async with open_local_server(engine=engine) as server:

        async def run(session: rt.RealtimeSession) -> None:
            await text_turn(session, "good morning")
            created = await next_of(session, rt.ResponseCreated)
            assert created.response.status == "in_progress"
            with trio.move_on_after(0.2) as waiting:
                await session.wait_for(rt.ResponseTextDelta)
            assert waiting.cancelled_caught  # nothing streams while the engine works
            engine.gate.set()
            done = await next_of(session, rt.ResponseDone)
            assert done.response.status == "completed"
            assert done.response.output[0].content[0].text == "You said: good morning"

        with trio.fail_after(10):
            await connected(server.url, TEXT, run)
        assert engine.sessions[0].closed == 1


async def test_a_slow_engine_delays_its_own_session_and_no_other() -> None:
    engine = GatedEngine()  # every session's plans wait for the same gate...
    fast = SimulatedEngine()
    async with (
        open_local_server(engine=engine) as slow_server,
        open_local_server(engine=fast) as fast_server,
    ):
        with trio.fail_after(10):
            async with rt.connect(model=MODEL, url=slow_server.url, api_key="k") as stuck:
                await stuck.update_session(TEXT)
                await stuck.wait_for(rt.SessionUpdated, timeout=5)
                await text_turn(stuck, "wait for me")
                await next_of(stuck, rt.ResponseCreated)

                # ...so a second session of the same server still gets every protocol event
                # that needs no plan, at once,
                async with rt.connect(model=MODEL, url=slow_server.url, api_key="k") as other:
                    await other.update_session(TEXT)
                    await other.wait_for(rt.SessionUpdated, timeout=1)
                    await other.create_item(rt.ConversationItem.user_text("hello"))
                    await next_of(other, rt.ConversationItemCreated, within=1)
                # and a session of another server is not slowed at all.
                async with rt.connect(model=MODEL, url=fast_server.url, api_key="k") as quick:
                    await quick.update_session(TEXT)
                    await text_turn(quick, "hello")
                    done = await next_of(quick, rt.ResponseDone, within=1)
                    assert done.response.status == "completed"
                engine.gate.set()
                assert (await next_of(stuck, rt.ResponseDone)).response.status == "completed"


async def test_a_reply_cancelled_while_planned_ends_cancelled_and_its_plan_is_dropped() -> None:
    engine = GatedEngine()
    async with open_local_server(engine=engine) as server:

        async def run(session: rt.RealtimeSession) -> None:
            await text_turn(session, "never mind")
            await next_of(session, rt.ResponseCreated)
            await session.cancel_response()
            done = await next_of(session, rt.ResponseDone)
            assert done.response.status == "cancelled"
            assert done.response.output == []
            engine.gate.set()
            await text_turn(session, "again")  # the next reply is not blocked by the old plan
            second = await next_of(session, rt.ResponseDone)
            assert second.response.status == "completed"
            assert second.response.output[0].content[0].text == "You said: again"

        with trio.fail_after(10):
            await connected(server.url, TEXT, run)


async def test_an_engine_failing_later_fails_that_reply_and_transcript_only() -> None:
    engine = GatedEngine(fail=True)
    engine.gate.set()
    config = rt.Session(
        modalities=["text"],
        turn_detection=None,
        input_audio_transcription=rt.InputAudioTranscription(model="whisper-1"),
    )
    async with open_local_server(engine=engine) as server:

        async def run(session: rt.RealtimeSession) -> None:
            await text_turn(session, "hello")
            done = await next_of(session, rt.ResponseDone)
            assert done.response.status == "failed"
            assert done.response.status_details is not None
            assert done.response.status_details.error is not None
            assert done.response.status_details.error.code == "engine_error"
            await session.append_audio(speech_like(500))
            await session.commit_audio()
            failed = await next_of(session, rt.InputAudioTranscriptionFailed)
            assert failed.error.code == "engine_error"
            assert "the engine broke" in (failed.error.message or "")

        with trio.fail_after(10):
            await connected(server.url, config, run)


async def test_a_deferred_transcript_comes_after_the_commit_with_its_deltas() -> None:
    engine = GatedEngine()
    config = rt.Session(
        turn_detection=None,
        input_audio_transcription=rt.InputAudioTranscription(model="gpt-4o-transcribe"),
    )
    async with open_local_server(engine=engine) as server:

        async def run(session: rt.RealtimeSession) -> None:
            await session.append_audio(speech_like(500))
            await session.commit_audio()
            committed = await next_of(session, rt.InputAudioBufferCommitted)
            engine.gate.set()
            deltas = []
            async for event in session:
                if isinstance(event, rt.InputAudioTranscriptionDelta):
                    deltas.append(event.delta)
                elif isinstance(event, rt.InputAudioTranscriptionCompleted):
                    assert event.item_id == committed.item_id
                    assert event.transcript == "heard it"
                    break
            assert deltas == ["heard", " it"]

        with trio.fail_after(10):
            await connected(server.url, config, run)


async def test_the_session_hears_vad_turns_manual_turns_and_clears() -> None:
    engine = GatedEngine()
    engine.gate.set()
    async with open_local_server(engine=engine) as server:

        async def run(session: rt.RealtimeSession) -> None:
            # Server VAD: the turn starts at speech (prefix padding included) and is
            # committed at its end.
            stream = await session.stream_audio(
                silence(500) + speech_like(1000) + silence(1000), realtime=False
            )
            await stream.wait()
            committed = await next_of(session, rt.InputAudioBufferCommitted)
            assert committed.item_id
            kinds = [kind for kind, _ in engine.heard]
            assert kinds[0] == "started"
            assert set(kinds[1:-1]) == {"appended"}
            assert kinds[-1] == "committed"
            engine.heard.clear()
            # Manual turns: every append is heard; a clear drops the turn.
            await session.update_session(rt.Session(turn_detection=None))
            await session.wait_for(rt.SessionUpdated, timeout=5)
            await session.clear_audio()  # the silence after the VAD turn: nothing heard
            await next_of(session, rt.InputAudioBufferCleared)
            await session.append_audio(speech_like(200))
            await session.append_audio(speech_like(200))
            await session.clear_audio()
            await next_of(session, rt.InputAudioBufferCleared)
            await session.append_audio(speech_like(300))
            await session.commit_audio()
            await next_of(session, rt.InputAudioBufferCommitted)
            assert engine.heard == [
                ("started", 9600),
                ("appended", 9600),
                ("dropped", None),
                ("started", 14400),
                ("committed", 14400),
            ]

        with trio.fail_after(10):
            await connected(server.url, rt.Session(modalities=["text"]), run)


async def test_a_connection_ending_mid_plan_cancels_the_work_and_closes_the_session() -> None:
    engine = GatedEngine()
    async with open_local_server(engine=engine) as server:

        async def run(session: rt.RealtimeSession) -> None:
            await text_turn(session, "hello")
            await next_of(session, rt.ResponseCreated)

        with trio.fail_after(10):
            await connected(server.url, TEXT, run)
            (connection,) = server.connections
            await connection.wait_ended()
        (gated,) = engine.sessions
        assert gated.cancelled == 1
        assert gated.closed == 1


async def test_a_saturated_engine_stops_the_server_reading_until_it_catches_up() -> None:
    engine = GatedEngine(backlog=60_000.0)  # a minute of audio behind
    async with open_local_server(engine=engine) as server:

        async def run(session: rt.RealtimeSession) -> None:
            await text_turn(session, "hello")  # queues a plan: the engine is now behind
            await next_of(session, rt.ResponseCreated)
            await session.update_session(rt.Session(instructions="Be brief."))
            with trio.move_on_after(0.3) as unread:
                await session.wait_for(rt.SessionUpdated)
            assert unread.cancelled_caught  # the client's event waits, unread
            engine.backlog = 0.0
            engine.gate.set()  # the plan finishes: the server reads again
            await next_of(session, rt.ResponseDone)
            await next_of(session, rt.SessionUpdated)

        with trio.fail_after(10):
            await connected(server.url, TEXT, run)


@pytest.mark.parametrize("fmt", ["pcm16", "g711_ulaw"])
async def test_a_plain_engine_never_starts_engine_work(fmt: str) -> None:
    async with open_local_server() as server:

        async def run(session: rt.RealtimeSession) -> None:
            await text_turn(session, "hi")
            await next_of(session, rt.ResponseDone)
            (connection,) = server.connections
            assert connection.state is not None
            assert connection.state.engine_work.pending == 0

        config = rt.Session(modalities=["text"], input_audio_format=fmt, turn_detection=None)
        with trio.fail_after(10):
            await connected(server.url, config, run)
