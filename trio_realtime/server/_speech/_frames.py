"""The pipe protocol between the server and a recogniser process: small binary frames.

A frame is one opcode byte, a 4-byte big-endian payload length, and the payload. Server to
recogniser: ``B`` begin an utterance (payload: a JSON object, ``format`` the audio format name
and ``cmn`` the cepstral means to start from), ``A`` audio (raw, in that format), ``E`` end it
(the recogniser answers ``T``), ``X`` abandon it (no answer). Recogniser to server: ``R``
ready (sent once, after the model loaded), ``T`` the transcript (a JSON object: ``text``,
``cpu_seconds``, ``audio_ms``, and ``cmn``, the means adapted to this utterance), ``F`` a
failure (UTF-8 message).
"""

from __future__ import annotations

import struct
from typing import Final

__all__ = [
    "ABANDON",
    "AUDIO",
    "BEGIN",
    "END",
    "FAILED",
    "HEADER",
    "MAX_PAYLOAD",
    "READY",
    "TRANSCRIPT",
    "frame",
]

BEGIN: Final = b"B"
AUDIO: Final = b"A"
END: Final = b"E"
ABANDON: Final = b"X"
READY: Final = b"R"
TRANSCRIPT: Final = b"T"
FAILED: Final = b"F"

HEADER: Final = struct.Struct(">cI")
#: Larger payloads are a protocol error (an append carries at most 15 MiB of audio).
MAX_PAYLOAD: Final = 32 * 1024 * 1024


def frame(op: bytes, payload: bytes = b"") -> bytes:
    """One frame, ready to write."""
    return HEADER.pack(op, len(payload)) + payload
