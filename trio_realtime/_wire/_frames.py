"""WebSocket framing of RFC 6455, both sides: a sans-I/O reader and the frame writers.

Why by hand rather than wsproto's ``FrameProtocol``: receiving is the hot path (15 audio
deltas per second per session, thousands of sessions), and RFC 6455 without extensions is
small: the only state is a fragmented message in progress. A straight-line parser over one
buffer costs about a quarter of wsproto's generator layers and per-frame objects for the
same 6.6 KB delta (see ``benchmarks/README.rst``). The rules it enforces are the RFC's:
reserved bits clear, frames masked by clients and never by servers (5.1), lengths in their
shortest form (checked of clients' frames only), control frames final and at most 125
bytes, continuation only inside a fragmented message, UTF-8 text, and a size limit checked
from the header, before any payload is buffered. The client reads with
``FrameReader(limit)`` and writes with :func:`encode_frame`; the reference server reads with
``FrameReader(limit, masked=True)`` and writes with :func:`encode_server_frame`.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import Final, cast, final

__all__ = [
    "BINARY",
    "CLOSE",
    "CONTINUATION",
    "PING",
    "PONG",
    "TEXT",
    "ControlFrame",
    "FrameError",
    "FrameReader",
    "close_payload",
    "encode_frame",
    "encode_server_frame",
    "load_numpy",
    "parse_close",
]

CONTINUATION: Final = 0x0
TEXT: Final = 0x1
BINARY: Final = 0x2
CLOSE: Final = 0x8
PING: Final = 0x9
PONG: Final = 0xA

#: Close codes a peer may send (RFC 6455 7.4.1 and 7.4.2); 1005, 1006 and 1015 never travel.
_SENDABLE_CODES: Final = frozenset(
    {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
)


class FrameError(Exception):
    """The peer broke the framing rules; the connection must close with ``code``.

    Attributes:
        code: The close code to send: 1002 (protocol error), 1007 (bad UTF-8) or 1009
            (message too big).
        reason: What was wrong, for the close frame and the logs.
        completed: What the same :meth:`FrameReader.feed` call completed before the bad
            frame, in order (deliverable: those frames were valid).
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason
        self.completed: list[str | bytes | ControlFrame] = []


@final
class ControlFrame:
    """A ping, pong or close frame, in the order it arrived among the messages.

    Attributes:
        opcode: :data:`PING`, :data:`PONG` or :data:`CLOSE`.
        payload: Its payload (at most 125 bytes).
    """

    __slots__ = ("opcode", "payload")

    def __init__(self, opcode: int, payload: bytes) -> None:
        self.opcode = opcode
        self.payload = payload

    def __repr__(self) -> str:
        return f"ControlFrame({self.opcode:#x}, {self.payload!r})"


@final
class FrameReader:
    """Turns bytes from the peer into whole messages and control frames.

    Feed it every read; it returns what the bytes completed: ``str`` for a text message,
    ``bytes`` for a binary one, :class:`ControlFrame` for the rest, in order. A frame split
    across reads waits, in pieces, until its last byte arrives (then one join), so a large
    message costs one copy whatever the read size. The fragments of a fragmented message
    are gathered in one buffer, so however small its frames, a message never holds more
    memory than its own size.

    Args:
        max_message_size: Largest message (after reassembly) accepted; a larger one is a
            :class:`FrameError` with code 1009 as soon as a header announces it.
        masked: Read a client's frames (a server's reader): every frame must be masked,
            and is unmasked. By default frames must not be masked (a client's reader).
    """

    __slots__ = (
        "_fragment_opcode",
        "_fragments",
        "_mask_bit",
        "_max",
        "_need",
        "_pending",
        "_pending_size",
    )

    def __init__(self, max_message_size: int, *, masked: bool = False) -> None:
        self._max = max_message_size
        self._mask_bit = 0x80 if masked else 0
        self._pending: list[bytes] = []  # bytes of an incomplete frame, not yet joined
        self._pending_size = 0
        self._need = 0  # bytes the incomplete frame needs in all (0: unknown yet)
        self._fragments = bytearray()
        self._fragment_opcode = 0  # TEXT or BINARY while a fragmented message is open

    def feed(self, data: bytes) -> list[str | bytes | ControlFrame]:
        """Take the next bytes read from the server.

        Returns:
            The messages and control frames ``data`` completed (maybe none).

        Raises:
            FrameError: The bytes break the framing rules; nothing more may be fed.
        """
        if self._pending:
            self._pending.append(data)
            self._pending_size += len(data)
            if self._pending_size < self._need:
                return []
            buf = b"".join(self._pending)
            self._pending.clear()
        else:
            buf = data
        out: list[str | bytes | ControlFrame] = []
        try:
            return self._parse(buf, out)
        except FrameError as exc:
            exc.completed = out
            raise

    def _parse(
        self, buf: bytes, out: list[str | bytes | ControlFrame]
    ) -> list[str | bytes | ControlFrame]:
        """Append to ``out`` every frame ``buf`` completes; keep an incomplete one pending."""
        end = len(buf)
        pos = 0
        need = 0  # what an incomplete last frame needs in all; 0 while its header is short
        mask_bit = self._mask_bit
        while True:
            left = end - pos
            if left < 2:
                break
            first = buf[pos]
            second = buf[pos + 1]
            length = second & 0x7F
            head = 2
            if length == 126:
                if left < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if left < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if first & 0x70 or (second & 0x80) != mask_bit:
                if first & 0x70:
                    raise FrameError(1002, "reserved bits set")
                raise FrameError(1002, "unmasked frame" if mask_bit else "masked frame")
            if mask_bit and head > 2 and (length < (126 if head == 4 else 65536) or length >> 63):
                # A server is strict here (a client is lenient with servers, as it always was).
                raise FrameError(1002, "payload length not in its shortest form")
            opcode = first & 0x0F
            if opcode >= 8:
                if length > 125 or not first & 0x80:
                    raise FrameError(1002, "fragmented or oversized control frame")
            elif length + len(self._fragments) > self._max:
                raise FrameError(1009, f"message larger than {self._max} bytes")
            if mask_bit:
                head += 4  # the masking key
            stop = pos + head + length
            if stop > end:
                need = head + length
                break
            payload = buf[pos + head : stop]
            if mask_bit and length:
                payload = _masked(payload, buf[pos + head - 4 : pos + head])
            pos = stop
            if opcode == TEXT and first & 0x80 and not self._fragment_opcode:
                try:
                    out.append(payload.decode())
                except UnicodeDecodeError:
                    raise FrameError(1007, "invalid UTF-8 in a text message") from None
            else:
                self._frame(out, opcode, bool(first & 0x80), payload)
        if pos < end:
            rest = buf[pos:] if pos else buf
            self._pending.append(rest)
            self._pending_size = len(rest)
            self._need = need
        return out

    def _frame(
        self, out: list[str | bytes | ControlFrame], opcode: int, final: bool, payload: bytes
    ) -> None:
        """Everything but an unfragmented text message (the fast path in :meth:`feed`)."""
        if opcode >= 8:
            if opcode not in (CLOSE, PING, PONG):
                raise FrameError(1002, f"unknown opcode {opcode:#x}")
            out.append(ControlFrame(opcode, payload))
            return
        if opcode == CONTINUATION:
            if not self._fragment_opcode:
                raise FrameError(1002, "continuation frame outside a fragmented message")
        elif opcode in (TEXT, BINARY):
            if self._fragment_opcode:
                raise FrameError(1002, "new message inside a fragmented one")
            if final:
                out.append(self._message(opcode, payload))
                return
            self._fragment_opcode = opcode
        else:
            raise FrameError(1002, f"unknown opcode {opcode:#x}")
        self._fragments += payload
        if final:
            whole = bytes(self._fragments)
            kind = self._fragment_opcode
            self._fragments = bytearray()
            self._fragment_opcode = 0
            out.append(self._message(kind, whole))

    @staticmethod
    def _message(opcode: int, payload: bytes) -> str | bytes:
        if opcode == BINARY:
            return payload
        try:
            return payload.decode()
        except UnicodeDecodeError:
            raise FrameError(1007, "invalid UTF-8 in a text message") from None


def parse_close(payload: bytes) -> tuple[int, str | None]:
    """The code and reason of a close frame's payload (1005 and ``None`` when it is empty).

    Raises:
        FrameError: A one-byte payload, a code no peer may send, or a reason that is not UTF-8.
    """
    if not payload:
        return 1005, None
    if len(payload) < 2:
        raise FrameError(1002, "close frame with a one-byte payload")
    code = int.from_bytes(payload[:2], "big")
    if code not in _SENDABLE_CODES and not 3000 <= code <= 4999:
        raise FrameError(1002, f"close code {code} may not be sent")
    try:
        reason = payload[2:].decode()
    except UnicodeDecodeError:
        raise FrameError(1007, "close reason is not UTF-8") from None
    return code, reason or None


def close_payload(code: int, reason: str | None) -> bytes:
    """The payload of a close frame for ``code`` (none for 1005), the reason cut to fit."""
    if code == 1005:
        return b""
    data = (reason or "").encode()[:123]
    while True:  # never cut a character in half
        try:
            data.decode()
            break
        except UnicodeDecodeError:
            data = data[:-1]
    return code.to_bytes(2, "big") + data


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked frame (clients must mask every frame, RFC 6455 5.3)."""
    size = len(payload)
    if size < 126:
        head = bytes((0x80 | opcode, 0x80 | size))
    elif size < 65536:
        head = bytes((0x80 | opcode, 0xFE)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0xFF)) + size.to_bytes(8, "big")
    mask = _mask_keys.take()
    if not size:
        return head + mask
    return b"".join((head, mask, _masked(payload, mask)))


@final
class _MaskKeys:
    """Masking keys from the system's strong source of randomness (RFC 6455 10.3), drawn
    4 KiB at a time: one ``urandom`` call per 1,024 frames instead of one per frame (a
    system call, a tenth of the cost of framing an append). Keys are independent random
    bytes either way, so none tells anything about the next."""

    __slots__ = ("_next", "_pool")

    def __init__(self) -> None:
        self._pool = b""
        self._next = 0

    def take(self) -> bytes:
        at = self._next
        if at >= len(self._pool):
            self._pool = os.urandom(_KEY_POOL_BYTES)
            at = 0
        self._next = at + 4
        return self._pool[at : at + 4]


_KEY_POOL_BYTES: Final = 4096
_mask_keys = _MaskKeys()


def encode_server_frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame (servers never mask, RFC 6455 5.1)."""
    size = len(payload)
    if size < 126:
        head = bytes((0x80 | opcode, size))
    elif size < 65536:
        head = bytes((0x80 | opcode, 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 127)) + size.to_bytes(8, "big")
    return head + payload


def _masked(payload: bytes, mask: bytes) -> bytes:
    """``payload`` XOR the repeated ``mask``."""
    size = len(payload)
    if size < _NUMPY_FROM:
        # As one big integer: C speed, and cheaper than numpy's fixed cost for small frames.
        key = int.from_bytes((mask * (size // 4 + 1))[:size], "little")
        return (int.from_bytes(payload, "little") ^ key).to_bytes(size, "little")
    # Word by word in numpy: 1.3 us for a 100 ms pcm16 append instead of 12 us as an integer
    # (three conversions of 6.5 KB), and an append is the hot path of sending.
    np = _numpy if _numpy is not None else load_numpy()
    whole = size & ~3
    words = np.frombuffer(payload, np.uint32, whole >> 2)
    key = np.uint32(int.from_bytes(mask, sys.byteorder))  # the mask as one native word
    masked = cast(bytes, (words ^ key).tobytes())
    return masked if whole == size else masked + _masked(payload[whole:], mask)


_numpy: ModuleType | None = None


def load_numpy() -> ModuleType:
    """Import numpy for masking large frames, once; the client calls it as it connects.

    Not at import time: numpy takes longer to import than the rest of the package together,
    and ``import trio_realtime`` should stay light for code that only uses the codec. Nor at
    the first large frame, which would stall a session's first audio append.
    """
    global _numpy
    if _numpy is None:
        import numpy

        _numpy = numpy
    return _numpy


#: Frames from this size up are masked with numpy (the two ways cost the same near 600 bytes).
_NUMPY_FROM: Final = 1024
