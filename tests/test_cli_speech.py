"""``--engine``: which engine the embedded server runs, and the line that says which answered.

The speech-engine runs need the ``speech`` extra (skipped without it); the WAV files are
spoken by eSpeak NG (the engine's own voice, a sentence its recogniser hears word for word).
"""

from __future__ import annotations

import importlib.util
import wave
from pathlib import Path

import pytest
from cli_helpers import run_cli
from speech_helpers import spoken

from trio_realtime.audio import write_wav

HAS_SPEECH = all(importlib.util.find_spec(m) for m in ("pocketsphinx", "espeakng_loader"))
needs_speech = pytest.mark.skipif(not HAS_SPEECH, reason='needs "trio-realtime[speech]"')
SENTENCE = "Turn off the lights in the kitchen."


def spoken_wav(path: Path) -> None:
    (pcm,) = spoken((SENTENCE,))
    write_wav(path, pcm, 24000)


async def test_the_simulated_engine_says_it_hears_no_words(tmp_path: Path) -> None:
    result = await run_cli("transcribe", "--fast", cwd=tmp_path)
    assert result.status == 0, result
    assert "answers come from the simulated engine: it hears no words" in result.stderr
    assert "--engine speech" in result.stderr


async def test_an_engine_cannot_be_chosen_for_another_server(tmp_path: Path) -> None:
    result = await run_cli(
        "talk", "--engine", "speech", "--url", "ws://127.0.0.1:9/v1/realtime", cwd=tmp_path
    )
    assert result.status == 2
    assert "--engine speech applies to the embedded server" in result.stderr


@needs_speech
async def test_talk_with_the_speech_engine_shows_the_words_and_answers_with_speech(
    tmp_path: Path,
) -> None:
    spoken_wav(tmp_path / "q.wav")
    result = await run_cli("talk", "q.wav", "--engine", "speech", "--fast", cwd=tmp_path)
    assert result.status == 0, result
    you, assistant = result.lines[:2]
    assert you.startswith("you:")
    assert {"lights", "kitchen"} <= set(you.split())
    assert assistant == f"assistant: You said: {you.split(':', 1)[1].strip()}"
    assert "answers come from the speech engine" in result.stderr
    with wave.open(str(tmp_path / "q-reply.wav")) as reply:
        assert reply.getframerate() == 24000
        assert reply.getnframes() / 24000 > 1.5  # the reply spoken, not a beep


@needs_speech
async def test_transcribe_with_the_speech_engine_gives_what_was_said(tmp_path: Path) -> None:
    spoken_wav(tmp_path / "q.wav")
    result = await run_cli(
        "transcribe", "q.wav", "--engine", "speech", "--fast", "--json", "-q", cwd=tmp_path
    )
    assert result.status == 0, result
    assert '"type":"transcript"' in result.stdout
    assert "turn off the lights in the kitchen" in result.stdout
