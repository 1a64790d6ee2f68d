"""A recogniser process: pocketsphinx decoding the utterances the server pipes to it.

Run as ``python -m trio_realtime.server._speech._recognise_main`` by
:class:`~._recogniser.RecogniserPool`; it speaks :mod:`._frames` on stdin and stdout and
exits at the end of its input. pocketsphinx holds the GIL while it decodes, so recognition
runs here, in a process of its own, never in a thread of the server: the server's event loop
only moves bytes. Audio arrives in the protocol's format (24 kHz PCM16 or 8 kHz G.711) and
is converted to the 16 kHz PCM16 the bundled en-US model expects, chunk by chunk
(:class:`~._resampling.StreamResampler`), then decoded as it comes, so the transcript is ready
moments after the utterance ends.

pocketsphinx normalises features by a running cepstral mean, which it adapts at the end of
each utterance. Left alone, one process would carry a mean from one session's speaker and
microphone to the next session's; instead the server sends each utterance the mean to start
from (the session's own, from its previous turn) and gets the adapted one back.
"""

from __future__ import annotations

import sys
import time
from typing import Any, BinaryIO

import numpy as np
import orjson

from ..._core._audio import audio_format, from_protocol
from ._frames import (
    ABANDON,
    AUDIO,
    BEGIN,
    END,
    FAILED,
    HEADER,
    MAX_PAYLOAD,
    READY,
    TRANSCRIPT,
    frame,
)
from ._resampling import StreamResampler

MODEL_RATE = 16000


def _read_exactly(stream: BinaryIO, n: int) -> bytes | None:
    data = stream.read(n)
    if len(data) < n:
        return None
    return data


class _Utterance:
    def __init__(self, decoder: Any, fmt: str, cmn: str | None) -> None:
        self.decoder = decoder
        self.fmt = audio_format(fmt)
        self.resampler = StreamResampler(self.fmt.sample_rate, MODEL_RATE)
        self.carry = b""  # a split pcm16 sample
        self.audio_bytes = 0
        self.cpu = 0.0
        started = time.process_time()
        if cmn:
            decoder.set_cmn(cmn)
        decoder.start_utt()
        self.cpu += time.process_time() - started

    def feed(self, audio: bytes) -> None:
        started = time.process_time()
        self.audio_bytes += len(audio)
        data = self.carry + audio
        width = self.fmt.sample_width
        whole = len(data) - len(data) % width
        self.carry = data[whole:]
        if whole:
            samples, _ = from_protocol(data[:whole], self.fmt)
            self._decode(self.resampler.feed(samples))
        self.cpu += time.process_time() - started

    def _decode(self, samples: Any) -> None:
        if len(samples):
            self.decoder.process_raw(samples.astype("<i2").tobytes(), False, False)

    def end(self) -> dict[str, Any]:
        started = time.process_time()
        self._decode(self.resampler.feed(np.zeros(0, dtype=np.int16), final=True))
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        self.cpu += time.process_time() - started
        return {
            "text": hyp.hypstr if hyp is not None else "",
            "cpu_seconds": self.cpu,
            "audio_ms": self.audio_bytes / self.fmt.bytes_per_ms,
            "cmn": self.decoder.get_cmn(False),
        }

    def abandon(self) -> None:
        self.decoder.end_utt()


def serve(stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Answer frames from ``stdin`` on ``stdout`` until ``stdin`` ends; the exit status."""

    def send(op: bytes, payload: bytes = b"") -> None:
        stdout.write(frame(op, payload))
        stdout.flush()

    try:
        from pocketsphinx import Decoder

        decoder = Decoder(loglevel="FATAL")  # the en-US model bundled in the wheel
    except Exception as exc:
        send(FAILED, f"cannot load pocketsphinx: {type(exc).__name__}: {exc}".encode())
        return 1
    send(READY)
    utterance: _Utterance | None = None
    failure: str | None = None  # why the utterance in progress cannot be decoded
    while True:
        header = _read_exactly(stdin, HEADER.size)
        if header is None:
            return 0
        op, size = HEADER.unpack(header)
        if size > MAX_PAYLOAD:
            send(FAILED, f"frame of {size} bytes is too large".encode())
            return 1
        payload = _read_exactly(stdin, size) if size else b""
        if payload is None:
            return 0
        try:
            if op in (BEGIN, ABANDON):
                previous, utterance, failure = utterance, None, None
                if previous is not None:
                    previous.abandon()
                if op == BEGIN:
                    begin = orjson.loads(payload)
                    utterance = _Utterance(decoder, str(begin["format"]), begin.get("cmn"))
            elif op == AUDIO:
                if utterance is not None:
                    utterance.feed(payload)
            elif op == END:
                ending, utterance = utterance, None
                if failure is not None:
                    send(FAILED, failure.encode())
                else:
                    result = ending.end() if ending is not None else {"text": ""}
                    send(TRANSCRIPT, orjson.dumps(result))
                failure = None
        except Exception as exc:  # one bad utterance must not end the process
            if utterance is not None:
                try:
                    decoder.end_utt()
                except Exception:
                    pass  # it was not in an utterance after all
            utterance = None
            failure = f"{type(exc).__name__}: {exc}"
            if op == END:
                send(FAILED, failure.encode())
                failure = None


if __name__ == "__main__":
    sys.exit(serve(sys.stdin.buffer, sys.stdout.buffer))
