"""The client's RFC 6455 framing, sans I/O: ``FrameReader``, ``encode_frame`` and close payloads.

Server frames are built here by :func:`server_frame`, a reference writer independent of the
module under test (unmasked, as a server sends them, with knobs for every rule a server can
break). Client frames are checked by unmasking them with :func:`unmask_client_frame`.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_realtime._wire._frames import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    PONG,
    TEXT,
    ControlFrame,
    FrameError,
    FrameReader,
    close_payload,
    encode_frame,
    parse_close,
)

BIG = 1 << 24  # a message limit no test here reaches unless it means to


def server_frame(
    opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, mask: bytes | None = None
) -> bytes:
    """One frame as a server writes it (unmasked unless ``mask`` is given), shortest length form."""
    first = (0x80 if fin else 0) | rsv | opcode
    mask_bit = 0x80 if mask is not None else 0
    size = len(payload)
    if size < 126:
        head = bytes((first, mask_bit | size))
    elif size < 65536:
        head = bytes((first, mask_bit | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((first, mask_bit | 127)) + size.to_bytes(8, "big")
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def unmask_client_frame(frame: bytes) -> tuple[int, bool, bytes]:
    """Reference decoder for exactly one client frame: (opcode, fin, unmasked payload)."""
    assert frame[1] & 0x80, "client frames must be masked"
    length = frame[1] & 0x7F
    pos = 2
    if length == 126:
        length = int.from_bytes(frame[2:4], "big")
        pos = 4
    elif length == 127:
        length = int.from_bytes(frame[2:10], "big")
        pos = 10
    key = frame[pos : pos + 4]
    masked = frame[pos + 4 :]
    assert len(masked) == length, "the frame holds exactly its announced payload"
    payload = bytes(b ^ key[i % 4] for i, b in enumerate(masked))
    return frame[0] & 0x0F, bool(frame[0] & 0x80), payload


def normalized(items: list[str | bytes | ControlFrame]) -> list[Any]:
    """Reader output in comparable form; checks each message has the exact promised type."""
    out: list[Any] = []
    for item in items:
        if isinstance(item, ControlFrame):
            assert type(item.payload) is bytes
            out.append(("control", item.opcode, item.payload))
        else:
            assert type(item) in (str, bytes)
            out.append(item)
    return out


def feed_all(reader: FrameReader, chunks: list[bytes]) -> list[Any]:
    out: list[Any] = []
    for chunk in chunks:
        out.extend(normalized(reader.feed(chunk)))
    return out


def pattern(size: int) -> bytes:
    return bytes(i * 7 % 251 for i in range(size))


# --- Reassembly: whatever the fragmentation and the read boundaries --------------------------

# Sizes around each length encoding's edge, plus small arbitrary ones.
binary_payloads = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([125, 126, 127, 65535, 65536, 65537]).map(pattern),
)
text_payloads = st.one_of(
    st.text(max_size=120),
    st.sampled_from([42, 70_000]).map(lambda n: "aé€😀" * n),
)
control_payloads = st.binary(max_size=125)


@st.composite
def server_script(draw: st.DrawFn) -> tuple[bytes, list[Any]]:
    """Bytes of several messages (some fragmented, with pings and pongs between fragments)
    and what a reader must return for them, in order."""
    frames: list[bytes] = []
    expected: list[Any] = []

    def control() -> None:
        opcode = draw(st.sampled_from([PING, PONG]))
        payload = draw(control_payloads)
        frames.append(server_frame(opcode, payload))
        expected.append(("control", opcode, payload))

    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["text", "binary", "control"]))
        if kind == "control":
            control()
            continue
        message: str | bytes
        if kind == "text":
            message = draw(text_payloads)
            payload, opcode = message.encode(), TEXT
        else:
            message = payload = draw(binary_payloads)
            opcode = BINARY
        # Cut points anywhere, even inside a UTF-8 character; repeats make empty fragments.
        cuts = sorted(draw(st.lists(st.integers(0, len(payload)), max_size=4)))
        bounds = [0, *cuts, len(payload)]
        pieces = [payload[a:b] for a, b in itertools.pairwise(bounds)]
        for index, piece in enumerate(pieces):
            final = index == len(pieces) - 1
            frames.append(server_frame(opcode if index == 0 else CONTINUATION, piece, fin=final))
            if not final and draw(st.booleans()):
                control()
        expected.append(message)
    return b"".join(frames), expected


@given(script=server_script(), data=st.data())
def test_messages_come_out_whole_and_in_order_whatever_the_read_boundaries(
    script: tuple[bytes, list[Any]], data: st.DataObject
) -> None:
    stream, expected = script
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=30), label="cuts"))
    bounds = [0, *cuts, len(stream)]
    chunks = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    assert feed_all(FrameReader(BIG), chunks) == expected


@given(script=server_script())
def test_one_read_per_byte_gives_the_same_messages(script: tuple[bytes, list[Any]]) -> None:
    stream, expected = script
    if len(stream) > 5000:  # keep the byte-at-a-time run cheap; big frames get the test above
        stream, expected = server_frame(TEXT, "é€".encode() * 300), ["é€" * 300]
    chunks = [stream[i : i + 1] for i in range(len(stream))]
    assert feed_all(FrameReader(BIG), chunks) == expected


def test_a_partial_frame_returns_nothing_until_its_last_byte() -> None:
    reader = FrameReader(BIG)
    frame = server_frame(BINARY, pattern(70_000))
    assert reader.feed(frame[:1]) == []
    assert reader.feed(frame[1:9]) == []  # 64-bit length still incomplete
    assert reader.feed(frame[9:5000]) == []
    assert reader.feed(frame[5000:-1]) == []
    assert normalized(reader.feed(frame[-1:] + server_frame(TEXT, b"next"))) == [
        pattern(70_000),
        "next",
    ]


def test_control_frames_between_fragments_arrive_before_the_message() -> None:
    stream = (
        server_frame(TEXT, "hé".encode()[:2], fin=False)
        + server_frame(PING, b"p1")
        + server_frame(CONTINUATION, "hé".encode()[2:], fin=False)
        + server_frame(PONG, b"")
        + server_frame(CONTINUATION, b"llo")
        + server_frame(CLOSE, (1000).to_bytes(2, "big"))
    )
    assert normalized(FrameReader(BIG).feed(stream)) == [
        ("control", PING, b"p1"),
        ("control", PONG, b""),
        "héllo",
        ("control", CLOSE, b"\x03\xe8"),
    ]


def test_empty_messages_are_messages() -> None:
    stream = (
        server_frame(TEXT, b"")
        + server_frame(BINARY, b"")
        + server_frame(BINARY, b"", fin=False)
        + server_frame(CONTINUATION, b"")
    )
    assert normalized(FrameReader(BIG).feed(stream)) == ["", b"", b""]


def test_an_empty_read_changes_nothing() -> None:
    reader = FrameReader(BIG)
    frame = server_frame(TEXT, b"hello")
    assert reader.feed(b"") == []
    assert reader.feed(frame[:3]) == []
    assert reader.feed(b"") == []
    assert reader.feed(frame[3:]) == ["hello"]


def test_control_frames_are_not_held_to_the_message_limit() -> None:
    reader = FrameReader(10)
    assert normalized(reader.feed(server_frame(PING, pattern(125)))) == [
        ("control", PING, pattern(125))
    ]
    assert reader.feed(server_frame(TEXT, b"0123456789")) == ["0123456789"]  # exactly the limit


def test_control_frame_repr_names_opcode_and_payload() -> None:
    assert repr(ControlFrame(PING, b"x")) == "ControlFrame(0x9, b'x')"


# --- Protocol errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param(server_frame(TEXT, b"x", rsv=0x40), id="rsv1"),
        pytest.param(server_frame(BINARY, b"x", rsv=0x20), id="rsv2"),
        pytest.param(server_frame(PING, b"", rsv=0x10), id="rsv3"),
        pytest.param(server_frame(TEXT, b"hi", mask=b"\x01\x02\x03\x04"), id="masked"),
        pytest.param(server_frame(PING, b"x", fin=False), id="fragmented-ping"),
        pytest.param(server_frame(CLOSE, b"\x03\xe8", fin=False), id="fragmented-close"),
        pytest.param(server_frame(PONG, bytes(126)), id="pong-126-bytes"),
        pytest.param(server_frame(CLOSE, bytes(2) + b"r" * 124), id="close-126-bytes"),
        *(pytest.param(server_frame(op, b"x"), id=f"opcode-{op:#x}") for op in range(3, 8)),
        *(pytest.param(server_frame(op, b"x"), id=f"opcode-{op:#x}") for op in range(0xB, 0x10)),
        pytest.param(server_frame(CONTINUATION, b"x"), id="lone-continuation"),
        pytest.param(server_frame(CONTINUATION, b"x", fin=False), id="lone-continuation-nonfinal"),
        pytest.param(
            server_frame(TEXT, b"a", fin=False) + server_frame(TEXT, b"b"), id="text-in-text"
        ),
        pytest.param(
            server_frame(BINARY, b"a", fin=False) + server_frame(TEXT, b"b", fin=False),
            id="text-in-binary",
        ),
        pytest.param(
            server_frame(TEXT, b"", fin=False) + server_frame(BINARY, b"b"), id="binary-in-text"
        ),
        pytest.param(
            server_frame(BINARY, b"a", fin=False)
            + server_frame(CONTINUATION, b"b")
            + server_frame(CONTINUATION, b"c"),
            id="continuation-after-final",
        ),
    ],
)
def test_protocol_violations_are_1002(stream: bytes) -> None:
    with pytest.raises(FrameError) as info:
        FrameReader(BIG).feed(stream)
    assert info.value.code == 1002
    assert info.value.reason
    assert str(info.value).startswith("1002 ")


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param(server_frame(TEXT, b"\xff"), id="whole"),
        pytest.param(server_frame(TEXT, "é".encode()[:1]), id="truncated-character"),
        pytest.param(server_frame(TEXT, b"\xed\xa0\x80"), id="surrogate"),
        pytest.param(
            server_frame(TEXT, b"ok", fin=False) + server_frame(CONTINUATION, b"\xc3"),
            id="fragmented",
        ),
    ],
)
def test_invalid_utf8_text_is_1007(stream: bytes) -> None:
    with pytest.raises(FrameError) as info:
        FrameReader(BIG).feed(stream)
    assert info.value.code == 1007


def test_binary_messages_are_not_utf8_checked() -> None:
    assert FrameReader(BIG).feed(server_frame(BINARY, b"\xff\xfe")) == [b"\xff\xfe"]


def test_a_protocol_error_after_a_split_header_is_found_once_the_header_is_whole() -> None:
    reader = FrameReader(BIG)
    frame = server_frame(BINARY, bytes(300), mask=b"abcd")
    assert reader.feed(frame[:3]) == []  # 16-bit length not whole yet: nothing to judge
    with pytest.raises(FrameError) as info:
        reader.feed(frame[3:4])
    assert info.value.code == 1002


# --- The size limit, from the header -----------------------------------------------------------


@pytest.mark.parametrize("size", [1001, 70_000, 1 << 40])
def test_an_oversized_message_fails_from_its_header_alone(size: int) -> None:
    header = server_frame(BINARY, b"")[:1] + (
        bytes((126,)) + size.to_bytes(2, "big")
        if size < 65536
        else bytes((127,)) + size.to_bytes(8, "big")
    )
    with pytest.raises(FrameError) as info:
        FrameReader(1000).feed(header)  # not one byte of payload
    assert info.value.code == 1009


def test_the_limit_is_checked_when_a_split_header_completes() -> None:
    reader = FrameReader(1000)
    header = bytes((0x81, 127)) + (2000).to_bytes(8, "big")
    assert reader.feed(header[:5]) == []
    with pytest.raises(FrameError) as info:
        reader.feed(header[5:])
    assert info.value.code == 1009


def test_fragments_count_toward_the_limit_before_the_next_payload_arrives() -> None:
    reader = FrameReader(1000)
    assert reader.feed(server_frame(BINARY, bytes(600), fin=False)) == []
    assert reader.feed(server_frame(CONTINUATION, bytes(300), fin=False)) == []
    continuation = server_frame(CONTINUATION, bytes(101))
    with pytest.raises(FrameError) as info:
        reader.feed(continuation[:2])  # the header of a fragment that would make 1001
    assert info.value.code == 1009


def test_a_message_of_exactly_the_limit_passes_fragmented_or_not() -> None:
    reader = FrameReader(1000)
    assert reader.feed(server_frame(BINARY, bytes(1000))) == [bytes(1000)]
    stream = server_frame(TEXT, b"a" * 999, fin=False) + server_frame(CONTINUATION, b"b")
    assert reader.feed(stream) == ["a" * 999 + "b"]
    # The count starts again with each message.
    assert reader.feed(server_frame(BINARY, bytes(1000))) == [bytes(1000)]


# --- encode_frame ------------------------------------------------------------------------------


# Around 1024 the masking changes from one big integer to numpy words (and a 1-3 byte tail).
ENCODE_SIZES = [0, 1, 125, 126, *range(1021, 1029), 6483, 65535, 65536]
ENCODE_SIZES.append(random.Random(6455).randrange(2, 300_000))


@pytest.mark.parametrize(
    ("opcode", "size"),
    [
        (op, size)
        for op in (TEXT, BINARY, PING)
        for size in ENCODE_SIZES
        if op != PING or size < 126
    ],
)
def test_encode_frame_is_one_final_masked_frame_of_the_payload(opcode: int, size: int) -> None:
    payload = pattern(size)
    frame = encode_frame(opcode, payload)
    header = 2 if size < 126 else 4 if size < 65536 else 10
    assert len(frame) == header + 4 + size
    assert frame[1] & 0x7F == (size if size < 126 else 126 if size < 65536 else 127)
    assert unmask_client_frame(frame) == (opcode, True, payload)
    assert frame[0] & 0x70 == 0  # no reserved bits


@given(payload=st.binary(max_size=2000), opcode=st.sampled_from([TEXT, BINARY, CLOSE, PONG]))
def test_encode_frame_unmasks_to_the_payload(payload: bytes, opcode: int) -> None:
    assert unmask_client_frame(encode_frame(opcode, payload)) == (opcode, True, payload)


def test_encode_frame_draws_a_fresh_mask_each_time() -> None:
    keys = {encode_frame(BINARY, bytes(8))[2:6] for _ in range(8)}
    assert len(keys) > 1  # eight equal random 32-bit keys: a 2**-224 chance


def test_a_client_frame_is_refused_by_a_reader_as_masked() -> None:
    with pytest.raises(FrameError) as info:
        FrameReader(BIG).feed(encode_frame(TEXT, b"hello"))
    assert info.value.code == 1002


# --- Close payloads ----------------------------------------------------------------------------


def test_an_empty_close_payload_is_1005_without_reason() -> None:
    assert parse_close(b"") == (1005, None)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ((1000).to_bytes(2, "big"), (1000, None)),
        ((1001).to_bytes(2, "big") + b"going away", (1001, "going away")),
        ((3000).to_bytes(2, "big") + "désolé".encode(), (3000, "désolé")),
        ((4999).to_bytes(2, "big"), (4999, None)),
        ((1014).to_bytes(2, "big"), (1014, None)),
    ],
)
def test_close_payloads_parse_to_code_and_reason(
    payload: bytes, expected: tuple[int, str | None]
) -> None:
    assert parse_close(payload) == expected


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"\x03", id="one-byte"),
        *(
            pytest.param(code.to_bytes(2, "big"), id=str(code))
            for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535)
        ),
    ],
)
def test_unsendable_close_payloads_are_1002(payload: bytes) -> None:
    with pytest.raises(FrameError) as info:
        parse_close(payload)
    assert info.value.code == 1002


def test_a_close_reason_that_is_not_utf8_is_1007() -> None:
    with pytest.raises(FrameError) as info:
        parse_close((1000).to_bytes(2, "big") + b"\xff")
    assert info.value.code == 1007


def test_close_payload_1005_is_empty() -> None:
    assert close_payload(1005, "ignored") == b""


@pytest.mark.parametrize(
    ("reason", "kept"),
    [
        (None, b""),
        ("", b""),
        ("bye", b"bye"),
        ("x" * 200, b"x" * 123),
        ("é" * 100, "é".encode() * 61),  # 122 bytes: a 123rd would split a character
        ("€" * 50, "€".encode() * 41),  # exactly 123
        ("a" + "😀" * 40, ("a" + "😀" * 30).encode()),  # 121 bytes
    ],
)
def test_close_payload_cuts_the_reason_to_123_bytes_on_a_character_boundary(
    reason: str | None, kept: bytes
) -> None:
    assert close_payload(1000, reason) == b"\x03\xe8" + kept


sendable_codes = st.one_of(
    st.sampled_from([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014]),
    st.integers(3000, 4999),
)


@given(code=sendable_codes, reason=st.text(max_size=200))
def test_close_payload_round_trips_through_parse_close(code: int, reason: str) -> None:
    payload = close_payload(code, reason)
    assert len(payload) <= 125  # fits a control frame
    parsed_code, parsed_reason = parse_close(payload)
    assert parsed_code == code
    assert reason.startswith(parsed_reason or "")
    assert len((parsed_reason or "").encode()) > 119 or parsed_reason == (reason or None)
