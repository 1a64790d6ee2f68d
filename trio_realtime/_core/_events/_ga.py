"""The server events only the GA dialect has, each its own class.

The GA protocol (no ``OpenAI-Beta`` marker) renames most beta events, and those are decoded
into the beta classes (see :mod:`trio_realtime._core._dialects`), so an application's code is
the same in both dialects. The events below have no beta counterpart; they come only from a GA
server, and only a GA connection decodes them (on a beta connection they stay
:class:`~trio_realtime.UnknownEvent`, as before). Shapes follow the openai SDK's
``openai/types/realtime/`` (3.63) and the head OpenAPI snapshot (``head_2026_08_21``).
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from .._unset import UNSET, Unset
from ._base import ServerEvent
from ._objects import ConversationItem

__all__ = [
    "ConversationItemDone",
    "InputAudioBufferDtmfEventReceived",
    "InputAudioBufferTimeoutTriggered",
    "InputAudioTranscriptionSegment",
    "McpListToolsCompleted",
    "McpListToolsFailed",
    "McpListToolsInProgress",
    "ResponseMcpCallArgumentsDelta",
    "ResponseMcpCallArgumentsDone",
    "ResponseMcpCallCompleted",
    "ResponseMcpCallFailed",
    "ResponseMcpCallInProgress",
]


@attrs.frozen(kw_only=True, repr=False)
class ConversationItemDone(ServerEvent):
    """``conversation.item.done`` (GA): an item is final, content included (audio bytes not).

    A GA server announces an item with ``conversation.item.added`` (decoded as
    :class:`~trio_realtime.events.ConversationItemCreated`, the beta event it replaces) and
    finishes it with this one; the conversation takes its final content from it.
    """

    type: ClassVar[str] = "conversation.item.done"
    item: ConversationItem
    previous_item_id: str | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class InputAudioBufferTimeoutTriggered(ServerEvent):
    """``input_audio_buffer.timeout_triggered`` (GA): server VAD's ``idle_timeout_ms`` passed
    without speech; the silent audio from ``audio_start_ms`` to ``audio_end_ms`` is committed
    as item ``item_id`` and a response follows."""

    type: ClassVar[str] = "input_audio_buffer.timeout_triggered"
    audio_start_ms: int
    audio_end_ms: int
    item_id: str


@attrs.frozen(kw_only=True, repr=False)
class InputAudioBufferDtmfEventReceived(ServerEvent):
    """``input_audio_buffer.dtmf_event_received`` (GA, SIP calls only): a keypad tone.

    Attributes:
        event: The key pressed (``"0"``-``"9"``, ``"*"``, ``"#"``, ``"A"``-``"D"``).
        received_at: Unix seconds when the server received it.
        event_id: Absent in the SDK's type, unlike every other server event.
    """

    type: ClassVar[str] = "input_audio_buffer.dtmf_event_received"
    event_id: str | Unset | None = UNSET  # type: ignore[assignment]
    event: str
    received_at: int


@attrs.frozen(kw_only=True, repr=False)
class InputAudioTranscriptionSegment(ServerEvent):
    """``conversation.item.input_audio_transcription.segment`` (GA): one diarized segment of
    a user item's transcript (``speaker``, ``text``, ``start`` / ``end`` in seconds)."""

    type: ClassVar[str] = "conversation.item.input_audio_transcription.segment"
    item_id: str
    content_index: int
    id: str
    speaker: str
    text: str
    start: float
    end: float


@attrs.frozen(kw_only=True, repr=False)
class McpListToolsInProgress(ServerEvent):
    """``mcp_list_tools.in_progress`` (GA): the server is listing an MCP server's tools."""

    type: ClassVar[str] = "mcp_list_tools.in_progress"
    item_id: str


@attrs.frozen(kw_only=True, repr=False)
class McpListToolsCompleted(ServerEvent):
    """``mcp_list_tools.completed`` (GA)."""

    type: ClassVar[str] = "mcp_list_tools.completed"
    item_id: str


@attrs.frozen(kw_only=True, repr=False)
class McpListToolsFailed(ServerEvent):
    """``mcp_list_tools.failed`` (GA)."""

    type: ClassVar[str] = "mcp_list_tools.failed"
    item_id: str


@attrs.frozen(kw_only=True, repr=False)
class ResponseMcpCallArgumentsDelta(ServerEvent):
    """``response.mcp_call_arguments.delta`` (GA): a piece of an MCP tool call's arguments."""

    type: ClassVar[str] = "response.mcp_call_arguments.delta"
    response_id: str
    item_id: str
    output_index: int
    delta: str
    obfuscation: str | Unset | None = UNSET


@attrs.frozen(kw_only=True, repr=False)
class ResponseMcpCallArgumentsDone(ServerEvent):
    """``response.mcp_call_arguments.done`` (GA): an MCP tool call's whole arguments."""

    type: ClassVar[str] = "response.mcp_call_arguments.done"
    response_id: str
    item_id: str
    output_index: int
    arguments: str


@attrs.frozen(kw_only=True, repr=False)
class ResponseMcpCallInProgress(ServerEvent):
    """``response.mcp_call.in_progress`` (GA)."""

    type: ClassVar[str] = "response.mcp_call.in_progress"
    item_id: str
    output_index: int


@attrs.frozen(kw_only=True, repr=False)
class ResponseMcpCallCompleted(ServerEvent):
    """``response.mcp_call.completed`` (GA)."""

    type: ClassVar[str] = "response.mcp_call.completed"
    item_id: str
    output_index: int


@attrs.frozen(kw_only=True, repr=False)
class ResponseMcpCallFailed(ServerEvent):
    """``response.mcp_call.failed`` (GA)."""

    type: ClassVar[str] = "response.mcp_call.failed"
    item_id: str
    output_index: int
