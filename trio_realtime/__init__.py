"""trio-realtime: the structured-concurrency way for Python to talk to a Realtime speech API.

The public API is re-exported here; the modules behind it are private.
"""

from __future__ import annotations

import typing as _typing

from . import events as events
from ._core._codec import (
    converter as converter,
)
from ._core._codec import (
    decode as decode,
)
from ._core._codec import (
    encode as encode,
)
from ._core._codec import (
    encode_bytes as encode_bytes,
)
from ._core._codec import (
    to_json_dict as to_json_dict,
)
from ._core._conversation import Conversation as Conversation
from ._core._conversation_stats import Anomaly as Anomaly
from ._core._conversation_stats import ConversationStatistics as ConversationStatistics
from ._core._conversation_stats import UsageTotals as UsageTotals
from ._core._conversation_views import ContentPartView as ContentPartView
from ._core._conversation_views import ItemView as ItemView
from ._core._conversation_views import ResponseView as ResponseView
from ._core._errors import (
    AudioFormatError as AudioFormatError,
)
from ._core._errors import (
    ProtocolError as ProtocolError,
)
from ._core._errors import (
    RealtimeError as RealtimeError,
)
from ._core._playback import Playback as Playback
from ._core._playback import PlaybackInterrupted as PlaybackInterrupted
from ._core._recording import RecordedEvent as RecordedEvent
from ._core._recording import Recording as Recording
from ._core._recording import read_recording as read_recording
from ._core._tools import FunctionTool as FunctionTool
from ._core._tools import ToolArgumentsError as ToolArgumentsError
from ._core._tools import tool as tool
from ._core._unset import (
    UNSET as UNSET,
)
from ._core._unset import (
    Unset as Unset,
)
from ._core._unset import (
    UnsetType as UnsetType,
)
from ._core._version import __version__ as __version__
from ._session._client import connect as connect
from ._session._pump import AudioSource as AudioSource
from ._session._pump import AudioStream as AudioStream
from ._session._replay import TurnLatency as TurnLatency
from ._session._replay import TurnTimer as TurnTimer
from ._session._replay import conversation_from_recording as conversation_from_recording
from ._session._replay import resend_recording as resend_recording
from ._session._replay import turn_latencies as turn_latencies
from ._session._requests import RequestRefused as RequestRefused
from ._session._response_handles import HandleOverflow as HandleOverflow
from ._session._response_handles import ResponseDelta as ResponseDelta
from ._session._response_handles import ResponseHandle as ResponseHandle
from ._session._response_handles import ResponseRefused as ResponseRefused
from ._session._response_handles import ResponseResult as ResponseResult
from ._session._response_handles import ResponseWatch as ResponseWatch
from ._session._resume_policy import ConnectionInterrupted as ConnectionInterrupted
from ._session._resume_policy import ResumePolicy as ResumePolicy
from ._session._resume_policy import SessionResumed as SessionResumed
from ._session._session import RealtimeSession as RealtimeSession
from ._session._tool_calls import ToolCall as ToolCall
from ._session._types import DecodeFailure as DecodeFailure
from ._session._types import ReceivedEvent as ReceivedEvent
from ._session._types import SessionStatistics as SessionStatistics
from ._session._waiters import EventMatch as EventMatch
from ._wire._connection import BETA_URL as BETA_URL
from ._wire._connection import DEFAULT_URL as DEFAULT_URL
from ._wire._connection import GA_URL as GA_URL
from ._wire._errors import AuthenticationError as AuthenticationError
from ._wire._errors import ConnectionClosed as ConnectionClosed
from ._wire._errors import ConnectionRejected as ConnectionRejected
from ._wire._errors import ConnectTimeout as ConnectTimeout
from ._wire._errors import DialectRefused as DialectRefused
from ._wire._errors import HandshakeError as HandshakeError
from .events import (
    NO_EXTRA as NO_EXTRA,
)
from .events import (
    AnyEvent as AnyEvent,
)
from .events import (
    ClientEvent as ClientEvent,
)
from .events import (
    ClientSecret as ClientSecret,
)
from .events import (
    ContentPart as ContentPart,
)
from .events import (
    ConversationCreated as ConversationCreated,
)
from .events import (
    ConversationInfo as ConversationInfo,
)
from .events import (
    ConversationItem as ConversationItem,
)
from .events import (
    ConversationItemCreate as ConversationItemCreate,
)
from .events import (
    ConversationItemCreated as ConversationItemCreated,
)
from .events import (
    ConversationItemDelete as ConversationItemDelete,
)
from .events import (
    ConversationItemDeleted as ConversationItemDeleted,
)
from .events import (
    ConversationItemDone as ConversationItemDone,
)
from .events import (
    ConversationItemRetrieve as ConversationItemRetrieve,
)
from .events import (
    ConversationItemRetrieved as ConversationItemRetrieved,
)
from .events import (
    ConversationItemTruncate as ConversationItemTruncate,
)
from .events import (
    ConversationItemTruncated as ConversationItemTruncated,
)
from .events import (
    ErrorDetails as ErrorDetails,
)
from .events import (
    ErrorEvent as ErrorEvent,
)
from .events import (
    Event as Event,
)
from .events import (
    ExpiresAfter as ExpiresAfter,
)
from .events import (
    InputAudioBufferAppend as InputAudioBufferAppend,
)
from .events import (
    InputAudioBufferClear as InputAudioBufferClear,
)
from .events import (
    InputAudioBufferCleared as InputAudioBufferCleared,
)
from .events import (
    InputAudioBufferCommit as InputAudioBufferCommit,
)
from .events import (
    InputAudioBufferCommitted as InputAudioBufferCommitted,
)
from .events import (
    InputAudioBufferDtmfEventReceived as InputAudioBufferDtmfEventReceived,
)
from .events import (
    InputAudioBufferSpeechStarted as InputAudioBufferSpeechStarted,
)
from .events import (
    InputAudioBufferSpeechStopped as InputAudioBufferSpeechStopped,
)
from .events import (
    InputAudioBufferTimeoutTriggered as InputAudioBufferTimeoutTriggered,
)
from .events import (
    InputAudioTranscription as InputAudioTranscription,
)
from .events import (
    InputAudioTranscriptionCompleted as InputAudioTranscriptionCompleted,
)
from .events import (
    InputAudioTranscriptionDelta as InputAudioTranscriptionDelta,
)
from .events import (
    InputAudioTranscriptionFailed as InputAudioTranscriptionFailed,
)
from .events import (
    InputAudioTranscriptionSegment as InputAudioTranscriptionSegment,
)
from .events import (
    Logprob as Logprob,
)
from .events import (
    McpListToolsCompleted as McpListToolsCompleted,
)
from .events import (
    McpListToolsFailed as McpListToolsFailed,
)
from .events import (
    McpListToolsInProgress as McpListToolsInProgress,
)
from .events import (
    Model as Model,
)
from .events import (
    NoiseReduction as NoiseReduction,
)
from .events import (
    OutputAudioBufferClear as OutputAudioBufferClear,
)
from .events import (
    OutputAudioBufferCleared as OutputAudioBufferCleared,
)
from .events import (
    OutputAudioBufferStarted as OutputAudioBufferStarted,
)
from .events import (
    OutputAudioBufferStopped as OutputAudioBufferStopped,
)
from .events import (
    RateLimit as RateLimit,
)
from .events import (
    RateLimitsUpdated as RateLimitsUpdated,
)
from .events import (
    Response as Response,
)
from .events import (
    ResponseAudioDelta as ResponseAudioDelta,
)
from .events import (
    ResponseAudioDone as ResponseAudioDone,
)
from .events import (
    ResponseAudioTranscriptDelta as ResponseAudioTranscriptDelta,
)
from .events import (
    ResponseAudioTranscriptDone as ResponseAudioTranscriptDone,
)
from .events import (
    ResponseCancel as ResponseCancel,
)
from .events import (
    ResponseConfig as ResponseConfig,
)
from .events import (
    ResponseContentPartAdded as ResponseContentPartAdded,
)
from .events import (
    ResponseContentPartDone as ResponseContentPartDone,
)
from .events import (
    ResponseCreate as ResponseCreate,
)
from .events import (
    ResponseCreated as ResponseCreated,
)
from .events import (
    ResponseDone as ResponseDone,
)
from .events import (
    ResponseError as ResponseError,
)
from .events import (
    ResponseFunctionCallArgumentsDelta as ResponseFunctionCallArgumentsDelta,
)
from .events import (
    ResponseFunctionCallArgumentsDone as ResponseFunctionCallArgumentsDone,
)
from .events import (
    ResponseMcpCallArgumentsDelta as ResponseMcpCallArgumentsDelta,
)
from .events import (
    ResponseMcpCallArgumentsDone as ResponseMcpCallArgumentsDone,
)
from .events import (
    ResponseMcpCallCompleted as ResponseMcpCallCompleted,
)
from .events import (
    ResponseMcpCallFailed as ResponseMcpCallFailed,
)
from .events import (
    ResponseMcpCallInProgress as ResponseMcpCallInProgress,
)
from .events import (
    ResponseOutputItemAdded as ResponseOutputItemAdded,
)
from .events import (
    ResponseOutputItemDone as ResponseOutputItemDone,
)
from .events import (
    ResponseStatusDetails as ResponseStatusDetails,
)
from .events import (
    ResponseTextDelta as ResponseTextDelta,
)
from .events import (
    ResponseTextDone as ResponseTextDone,
)
from .events import (
    ServerEvent as ServerEvent,
)
from .events import (
    Session as Session,
)
from .events import (
    SessionCreated as SessionCreated,
)
from .events import (
    SessionUpdate as SessionUpdate,
)
from .events import (
    SessionUpdated as SessionUpdated,
)
from .events import (
    TokenDetails as TokenDetails,
)
from .events import (
    Tool as Tool,
)
from .events import (
    TracingConfiguration as TracingConfiguration,
)
from .events import (
    TranscriptionDurationUsage as TranscriptionDurationUsage,
)
from .events import (
    TranscriptionError as TranscriptionError,
)
from .events import (
    TranscriptionSession as TranscriptionSession,
)
from .events import (
    TranscriptionSessionCreated as TranscriptionSessionCreated,
)
from .events import (
    TranscriptionSessionUpdate as TranscriptionSessionUpdate,
)
from .events import (
    TranscriptionSessionUpdated as TranscriptionSessionUpdated,
)
from .events import (
    TranscriptionTokenUsage as TranscriptionTokenUsage,
)
from .events import (
    TurnDetection as TurnDetection,
)
from .events import (
    UnknownEvent as UnknownEvent,
)
from .events import (
    Usage as Usage,
)
from .events import (
    decode_audio as decode_audio,
)
from .events import (
    encode_audio as encode_audio,
)

__all__ = [
    "BETA_URL",
    "DEFAULT_URL",
    "GA_URL",
    "NO_EXTRA",
    "UNSET",
    "Anomaly",
    "AnyEvent",
    "AudioFormatError",
    "AudioSource",
    "AudioStream",
    "AuthenticationError",
    "ClientEvent",
    "ClientSecret",
    "ConnectTimeout",
    "ConnectionClosed",
    "ConnectionInterrupted",
    "ConnectionRejected",
    "ContentPart",
    "ContentPartView",
    "Conversation",
    "ConversationCreated",
    "ConversationInfo",
    "ConversationItem",
    "ConversationItemCreate",
    "ConversationItemCreated",
    "ConversationItemDelete",
    "ConversationItemDeleted",
    "ConversationItemDone",
    "ConversationItemRetrieve",
    "ConversationItemRetrieved",
    "ConversationItemTruncate",
    "ConversationItemTruncated",
    "ConversationStatistics",
    "DecodeFailure",
    "DialectRefused",
    "ErrorDetails",
    "ErrorEvent",
    "Event",
    "EventMatch",
    "ExpiresAfter",
    "FunctionTool",
    "HandleOverflow",
    "HandshakeError",
    "InputAudioBufferAppend",
    "InputAudioBufferClear",
    "InputAudioBufferCleared",
    "InputAudioBufferCommit",
    "InputAudioBufferCommitted",
    "InputAudioBufferDtmfEventReceived",
    "InputAudioBufferSpeechStarted",
    "InputAudioBufferSpeechStopped",
    "InputAudioBufferTimeoutTriggered",
    "InputAudioTranscription",
    "InputAudioTranscriptionCompleted",
    "InputAudioTranscriptionDelta",
    "InputAudioTranscriptionFailed",
    "InputAudioTranscriptionSegment",
    "ItemView",
    "Logprob",
    "McpListToolsCompleted",
    "McpListToolsFailed",
    "McpListToolsInProgress",
    "Model",
    "NoiseReduction",
    "OutputAudioBufferClear",
    "OutputAudioBufferCleared",
    "OutputAudioBufferStarted",
    "OutputAudioBufferStopped",
    "Playback",
    "PlaybackInterrupted",
    "ProtocolError",
    "RateLimit",
    "RateLimitsUpdated",
    "RealtimeError",
    "RealtimeSession",
    "ReceivedEvent",
    "RecordedEvent",
    "Recording",
    "RequestRefused",
    "Response",
    "ResponseAudioDelta",
    "ResponseAudioDone",
    "ResponseAudioTranscriptDelta",
    "ResponseAudioTranscriptDone",
    "ResponseCancel",
    "ResponseConfig",
    "ResponseContentPartAdded",
    "ResponseContentPartDone",
    "ResponseCreate",
    "ResponseCreated",
    "ResponseDelta",
    "ResponseDone",
    "ResponseError",
    "ResponseFunctionCallArgumentsDelta",
    "ResponseFunctionCallArgumentsDone",
    "ResponseHandle",
    "ResponseMcpCallArgumentsDelta",
    "ResponseMcpCallArgumentsDone",
    "ResponseMcpCallCompleted",
    "ResponseMcpCallFailed",
    "ResponseMcpCallInProgress",
    "ResponseOutputItemAdded",
    "ResponseOutputItemDone",
    "ResponseRefused",
    "ResponseResult",
    "ResponseStatusDetails",
    "ResponseTextDelta",
    "ResponseTextDone",
    "ResponseView",
    "ResponseWatch",
    "ResumePolicy",
    "ServerEvent",
    "Session",
    "SessionCreated",
    "SessionResumed",
    "SessionStatistics",
    "SessionUpdate",
    "SessionUpdated",
    "TokenDetails",
    "Tool",
    "ToolArgumentsError",
    "ToolCall",
    "TracingConfiguration",
    "TranscriptionDurationUsage",
    "TranscriptionError",
    "TranscriptionSession",
    "TranscriptionSessionCreated",
    "TranscriptionSessionUpdate",
    "TranscriptionSessionUpdated",
    "TranscriptionTokenUsage",
    "TurnDetection",
    "TurnLatency",
    "TurnTimer",
    "UnknownEvent",
    "Unset",
    "UnsetType",
    "Usage",
    "UsageTotals",
    "audio",
    "connect",
    "conversation_from_recording",
    "converter",
    "decode",
    "decode_audio",
    "encode",
    "encode_audio",
    "encode_bytes",
    "events",
    "read_recording",
    "resend_recording",
    "to_json_dict",
    "tool",
    "turn_latencies",
]

if _typing.TYPE_CHECKING:
    from . import audio as audio


def __getattr__(name: str) -> object:
    # ``trio_realtime.audio`` imports numpy, which costs more than the rest of the package:
    # it loads on first use (``rt.audio.tone(...)`` or ``import trio_realtime.audio``).
    if name == "audio":
        import importlib

        return importlib.import_module(f"{__name__}.audio")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
