"""The speech engine on the wire: spoken turns heard by pocketsphinx, replies spoken by eSpeak NG.

Skipped without the ``speech`` extra. The speech is eSpeak NG's own (the engine's voice), made
by the test, on sentences its recogniser hears word for word; assertions name words, not
whole transcripts, so a recogniser update that changes a word elsewhere does not break them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import trio

import trio_realtime as rt
from trio_realtime.audio import silence
from trio_realtime.testing import open_local_server

pytest.importorskip("pocketsphinx")
pytest.importorskip("espeakng_loader")

from speech_helpers import spoken as speak

from trio_realtime.server._speech import open_speech_engine

MODEL = "gpt-4o-realtime-preview"
KITCHEN = "Turn off the lights in the kitchen."
BROTHER = "Send a message to my brother."


def spoken(text: str, fmt: str = "pcm16") -> bytes:
    """``text`` in the engine's default voice (the same bytes on every run)."""
    kitchen, brother = speak((KITCHEN, BROTHER), "alloy", fmt)
    return kitchen if text == KITCHEN else brother


def words(text: str) -> set[str]:
    return set(text.lower().replace(":", " ").split())


async def test_a_spoken_turn_is_heard_answered_and_the_reply_is_speech() -> None:
    async with (
        open_speech_engine(recognisers=1) as engine,
        open_local_server(engine=engine) as server,
    ):
        with trio.fail_after(30):
            async with rt.connect(model=MODEL, url=server.url, api_key="k") as session:
                await session.update_session(
                    rt.Session(
                        modalities=["audio", "text"],
                        input_audio_transcription=rt.InputAudioTranscription(model="whisper-1"),
                    )
                )
                await session.wait_for(rt.SessionUpdated, timeout=10)
                stream = await session.stream_audio(
                    silence(300) + spoken(KITCHEN) + silence(1000), realtime=False
                )
                await stream.wait()
                deltas: list[str] = []
                transcript = reply = None
                done = False
                audio = bytearray()
                async for event in session:
                    if isinstance(event, rt.InputAudioTranscriptionDelta):
                        deltas.append(event.delta)
                    elif isinstance(event, rt.InputAudioTranscriptionCompleted):
                        transcript = event.transcript
                    elif isinstance(event, rt.ResponseAudioDelta):
                        audio += event.pcm
                    elif isinstance(event, rt.ResponseAudioTranscriptDone):
                        reply = event.transcript
                    elif isinstance(event, rt.ResponseDone):
                        assert event.response.status == "completed"
                        done = True
                    elif isinstance(event, rt.ErrorEvent):
                        pytest.fail(f"error: {event.error}")
                    if done and transcript is not None:
                        break
                assert transcript is not None
                assert {"lights", "kitchen"} <= words(transcript)
                assert deltas == [transcript]  # whisper-1: one delta
                assert reply == f"You said: {transcript}"
                # The reply is real speech: the recogniser hears its words in it.
                assert len(audio) > 48_000  # more than a second
            async with rt.connect(intent="transcription", url=server.url, api_key="k") as again:
                await again.update_transcription_session(
                    rt.TranscriptionSession(
                        turn_detection=None,
                        input_audio_transcription=rt.InputAudioTranscription(model="whisper-1"),
                    )
                )
                await again.wait_for(rt.TranscriptionSessionUpdated, timeout=10)
                await again.append_audio(bytes(audio))
                await again.commit_audio()
                heard = await again.wait_for(rt.InputAudioTranscriptionCompleted, timeout=20)
                # The reply's audio is made in this process, after whatever other tests spoke,
                # and eSpeak NG's voicing carries over: the words heard vary a little from run
                # to run, so this asks for some of them, not all.
                assert words(heard.transcript) & {"turn", "off", "lights", "kitchen"}
        assert engine.statistics.utterances == 2
        assert engine.statistics.streamed == 2
        assert engine.statistics.syntheses == 1


@pytest.mark.parametrize("fmt", ["pcm16", "g711_ulaw"])
async def test_a_transcription_session_streams_word_deltas_of_what_was_said(fmt: str) -> None:
    async with (
        open_speech_engine(recognisers=1) as engine,
        open_local_server(engine=engine) as server,
    ):
        with trio.fail_after(30):
            async with rt.connect(intent="transcription", url=server.url, api_key="k") as session:
                await session.update_transcription_session(
                    rt.TranscriptionSession(
                        input_audio_format=fmt,
                        input_audio_transcription=rt.InputAudioTranscription(
                            model="gpt-4o-transcribe"
                        ),
                    )
                )
                await session.wait_for(rt.TranscriptionSessionUpdated, timeout=10)
                audio = silence(300, fmt) + spoken(BROTHER, fmt) + silence(1000, fmt)
                for start in range(0, len(audio), 1600):  # 200 ms of G.711, 33 ms of pcm16
                    await session.append_audio(audio[start : start + 1600])
                deltas: list[str] = []
                async for event in session:
                    if isinstance(event, rt.InputAudioTranscriptionDelta):
                        deltas.append(event.delta)
                    elif isinstance(event, rt.InputAudioTranscriptionCompleted):
                        assert "".join(deltas) == event.transcript
                        assert len(deltas) == len(event.transcript.split())
                        if fmt == "pcm16":  # 8 kHz G.711 is heard poorly: a wideband model
                            assert {"message", "brother"} <= words(event.transcript)
                        break
        assert engine.statistics.streamed == 1


async def test_other_languages_fail_the_transcript_clearly() -> None:
    async with (
        open_speech_engine(recognisers=1, preload=0) as engine,
        open_local_server(engine=engine) as server,
    ):
        with trio.fail_after(30):
            async with rt.connect(intent="transcription", url=server.url, api_key="k") as session:
                await session.update_transcription_session(
                    rt.TranscriptionSession(
                        turn_detection=None,
                        input_audio_transcription=rt.InputAudioTranscription(
                            model="gpt-4o-transcribe", language="fr"
                        ),
                    )
                )
                await session.wait_for(rt.TranscriptionSessionUpdated, timeout=10)
                await session.append_audio(spoken(KITCHEN))
                await session.commit_audio()
                failed = await session.wait_for(rt.InputAudioTranscriptionFailed, timeout=20)
                assert failed.error.code == "unsupported_language"
                assert "English" in (failed.error.message or "")


async def test_a_session_waits_its_turn_for_a_busy_recogniser_and_loses_nothing() -> None:
    # One recogniser, two sessions speaking at once: the second is decoded after the first.
    async with (
        open_speech_engine(recognisers=1) as engine,
        open_local_server(engine=engine) as server,
    ):
        results: dict[str, str] = {}

        async def speak(text: str) -> None:
            async with rt.connect(intent="transcription", url=server.url, api_key="k") as s:
                await s.update_transcription_session(
                    rt.TranscriptionSession(
                        input_audio_transcription=rt.InputAudioTranscription(model="whisper-1")
                    )
                )
                await s.wait_for(rt.TranscriptionSessionUpdated, timeout=10)
                stream = await s.stream_audio(
                    silence(300) + spoken(text) + silence(1000), realtime=False
                )
                await stream.wait()
                done = await s.wait_for(rt.InputAudioTranscriptionCompleted, timeout=30)
                results[text] = done.transcript

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(speak, KITCHEN)
                nursery.start_soon(speak, BROTHER)
        assert {"kitchen"} <= words(results[KITCHEN])
        assert {"brother"} <= words(results[BROTHER])
        assert engine.statistics.utterances == 2


async def test_a_client_leaving_mid_turn_gives_its_recogniser_back() -> None:
    async with (
        open_speech_engine(recognisers=1) as engine,
        open_local_server(engine=engine) as server,
    ):
        with trio.fail_after(30):
            async with rt.connect(intent="transcription", url=server.url, api_key="k") as s:
                await s.update_transcription_session(
                    rt.TranscriptionSession(
                        input_audio_transcription=rt.InputAudioTranscription(model="whisper-1")
                    )
                )
                await s.wait_for(rt.TranscriptionSessionUpdated, timeout=10)
                await s.append_audio(silence(300) + spoken(KITCHEN)[:48_000])
                await s.wait_for(rt.InputAudioBufferSpeechStarted, timeout=10)
            (connection,) = server.connections
            await connection.wait_ended()
            # The only recogniser was lent to that turn; the next session still gets it.
            async with rt.connect(intent="transcription", url=server.url, api_key="k") as s:
                await s.update_transcription_session(
                    rt.TranscriptionSession(
                        turn_detection=None,
                        input_audio_transcription=rt.InputAudioTranscription(model="whisper-1"),
                    )
                )
                await s.wait_for(rt.TranscriptionSessionUpdated, timeout=10)
                await s.append_audio(spoken(BROTHER))
                await s.commit_audio()
                done = await s.wait_for(rt.InputAudioTranscriptionCompleted, timeout=20)
                assert "brother" in words(done.transcript)


def test_importing_the_server_does_not_import_the_speech_engine() -> None:
    code = (
        "import sys, trio_realtime, trio_realtime.server; "
        "print(any(m.startswith(('pocketsphinx', 'espeakng_loader', "
        "'trio_realtime.server._speech')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_speech_benchmark_runs_and_writes_its_report(tmp_path: Path) -> None:
    out = tmp_path / "speech.json"
    benchmarks = Path(__file__).resolve().parent.parent / "benchmarks"
    code = (
        f"import sys; sys.path.insert(0, {str(benchmarks)!r}); import bench_speech; "
        f"sys.exit(bench_speech.main(['--quick', '--json', {str(out)!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1. word error rate" in done.stdout
    report = json.loads(out.read_text())
    (quality,) = report["quality"]
    assert quality["utterances"] == 2
    assert 0 <= quality["wer_first_turn"] <= 1
    (step,) = report["concurrency"]
    assert step["sessions"] == 1
    assert step["missing"] == 0
