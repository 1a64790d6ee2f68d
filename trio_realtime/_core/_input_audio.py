"""Keeping the user's input audio with the items it was committed into, within a bound.

A :class:`~trio_realtime.Conversation` never keeps the audio the client appends unless asked
(``keep_input_audio_seconds``): a resumed session replays user turns as audio only if it still
has them. :class:`InputAudioKeeper` follows the input buffer from the client's side: the
appends written since the buffer was last emptied, the commit that takes them (the client's,
or server VAD's), and the item the commit names. With server VAD the audio given to an item is
everything appended since the previous commit, so it starts with the silence before the speech.

Bounded: at most ``max_bytes`` in all, the newest kept; older items lose their audio first
(their transcripts stay).
"""

from __future__ import annotations

import binascii
from collections import deque
from typing import Final, final

from ._conversation_views import ContentPartView, b64_decoded_len

__all__ = ["InputAudioKeeper"]

#: Committed audio whose item has not been announced yet is held for at most this many items.
_MAX_AWAITING: Final = 8


@final
class InputAudioKeeper:
    """Appends since the buffer was emptied, and the audio of committed user items.

    Args:
        max_bytes: Audio kept in all, uncommitted and committed.
    """

    __slots__ = ("_awaiting", "_committing", "_kept", "_kept_bytes", "_max", "_pending", "_size")

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._pending: deque[str] = deque()  # base64 appends since the buffer was emptied
        self._size = 0
        self._committing: deque[str] | None = None  # taken by a commit we sent
        self._awaiting: dict[str, bytes] = {}  # committed audio by item id, item not seen yet
        self._kept: deque[tuple[ContentPartView, int]] = deque()  # oldest first
        self._kept_bytes = 0

    def appended(self, audio: str) -> None:
        """An append was written."""
        pending = self._pending
        pending.append(audio)
        self._size += b64_decoded_len(audio)
        while self._size > self._max and len(pending) > 1:  # the newest is cut at commit
            self._size -= b64_decoded_len(pending.popleft())

    def commit_sent(self) -> None:
        """The client's commit was written: what was appended is its audio."""
        self._committing = self._pending
        self._pending, self._size = deque(), 0

    def cleared(self) -> None:
        """The buffer was emptied without a commit (a clear, or the connection was lost)."""
        self._pending.clear()
        self._size = 0
        self._committing = None

    def committed(self, item_id: str) -> None:
        """``input_audio_buffer.committed`` named ``item_id``: its audio is the client's
        commit's, or (server VAD) everything appended since the buffer was emptied."""
        chunks = self._committing if self._committing is not None else self._pending
        if chunks is self._pending:
            self._pending, self._size = deque(), 0
        self._committing = None
        if not chunks:
            return
        data = b"".join(_decode(chunk) for chunk in chunks)
        if len(data) > self._max:
            data = data[len(data) - self._max :]  # whole samples: both are multiples of one
        awaiting = self._awaiting
        awaiting[item_id] = data
        if len(awaiting) > _MAX_AWAITING:
            del awaiting[next(iter(awaiting))]

    def attach(self, item_id: str, parts: list[ContentPartView]) -> None:
        """The item ``item_id`` was announced: give its input audio part the audio, if any."""
        data = self._awaiting.pop(item_id, None)
        if data is None:
            return
        part = next((p for p in parts if p._type == "input_audio"), None)
        if part is None:
            return
        part._set_audio(data)
        kept = part._kept_len()
        self._kept.append((part, kept))
        self._kept_bytes += kept
        while self._kept_bytes > self._max and self._kept:
            old, size = self._kept.popleft()
            old._chunks = None  # the oldest item lets its audio go; its duration stays known
            old._held = 0
            self._kept_bytes -= size


def _decode(chunk: str) -> bytes:
    try:
        return binascii.a2b_base64(chunk, strict_mode=True)
    except (binascii.Error, ValueError):
        return bytes(b64_decoded_len(chunk))
