"""Public face of the protocol events: every event class, nested object and registry.

Import from here (``from trio_realtime.events import SessionUpdate``) or from
:mod:`trio_realtime` itself, which re-exports the same names.
"""

from __future__ import annotations

from ._core._events import (
    CLIENT_EVENTS as CLIENT_EVENTS,
)
from ._core._events import (
    GA_SERVER_EVENTS as GA_SERVER_EVENTS,
)
from ._core._events import (
    NO_EXTRA as NO_EXTRA,
)
from ._core._events import (
    SERVER_EVENTS as SERVER_EVENTS,
)
from ._core._events import (
    AnyEvent as AnyEvent,
)
from ._core._events import (
    ClientEvent as ClientEvent,
)
from ._core._events import (
    ClientSecret as ClientSecret,
)
from ._core._events import (
    ContentPart as ContentPart,
)
from ._core._events import (
    ConversationCreated as ConversationCreated,
)
from ._core._events import (
    ConversationInfo as ConversationInfo,
)
from ._core._events import (
    ConversationItem as ConversationItem,
)
from ._core._events import (
    ConversationItemCreate as ConversationItemCreate,
)
from ._core._events import (
    ConversationItemCreated as ConversationItemCreated,
)
from ._core._events import (
    ConversationItemDelete as ConversationItemDelete,
)
from ._core._events import (
    ConversationItemDeleted as ConversationItemDeleted,
)
from ._core._events import (
    ConversationItemDone as ConversationItemDone,
)
from ._core._events import (
    ConversationItemRetrieve as ConversationItemRetrieve,
)
from ._core._events import (
    ConversationItemRetrieved as ConversationItemRetrieved,
)
from ._core._events import (
    ConversationItemTruncate as ConversationItemTruncate,
)
from ._core._events import (
    ConversationItemTruncated as ConversationItemTruncated,
)
from ._core._events import (
    ErrorDetails as ErrorDetails,
)
from ._core._events import (
    ErrorEvent as ErrorEvent,
)
from ._core._events import (
    Event as Event,
)
from ._core._events import (
    ExpiresAfter as ExpiresAfter,
)
from ._core._events import (
    InputAudioBufferAppend as InputAudioBufferAppend,
)
from ._core._events import (
    InputAudioBufferClear as InputAudioBufferClear,
)
from ._core._events import (
    InputAudioBufferCleared as InputAudioBufferCleared,
)
from ._core._events import (
    InputAudioBufferCommit as InputAudioBufferCommit,
)
from ._core._events import (
    InputAudioBufferCommitted as InputAudioBufferCommitted,
)
from ._core._events import (
    InputAudioBufferDtmfEventReceived as InputAudioBufferDtmfEventReceived,
)
from ._core._events import (
    InputAudioBufferSpeechStarted as InputAudioBufferSpeechStarted,
)
from ._core._events import (
    InputAudioBufferSpeechStopped as InputAudioBufferSpeechStopped,
)
from ._core._events import (
    InputAudioBufferTimeoutTriggered as InputAudioBufferTimeoutTriggered,
)
from ._core._events import (
    InputAudioTranscription as InputAudioTranscription,
)
from ._core._events import (
    InputAudioTranscriptionCompleted as InputAudioTranscriptionCompleted,
)
from ._core._events import (
    InputAudioTranscriptionDelta as InputAudioTranscriptionDelta,
)
from ._core._events import (
    InputAudioTranscriptionFailed as InputAudioTranscriptionFailed,
)
from ._core._events import (
    InputAudioTranscriptionSegment as InputAudioTranscriptionSegment,
)
from ._core._events import (
    Logprob as Logprob,
)
from ._core._events import (
    McpListToolsCompleted as McpListToolsCompleted,
)
from ._core._events import (
    McpListToolsFailed as McpListToolsFailed,
)
from ._core._events import (
    McpListToolsInProgress as McpListToolsInProgress,
)
from ._core._events import (
    Model as Model,
)
from ._core._events import (
    NoiseReduction as NoiseReduction,
)
from ._core._events import (
    OutputAudioBufferClear as OutputAudioBufferClear,
)
from ._core._events import (
    OutputAudioBufferCleared as OutputAudioBufferCleared,
)
from ._core._events import (
    OutputAudioBufferStarted as OutputAudioBufferStarted,
)
from ._core._events import (
    OutputAudioBufferStopped as OutputAudioBufferStopped,
)
from ._core._events import (
    RateLimit as RateLimit,
)
from ._core._events import (
    RateLimitsUpdated as RateLimitsUpdated,
)
from ._core._events import (
    Response as Response,
)
from ._core._events import (
    ResponseAudioDelta as ResponseAudioDelta,
)
from ._core._events import (
    ResponseAudioDone as ResponseAudioDone,
)
from ._core._events import (
    ResponseAudioTranscriptDelta as ResponseAudioTranscriptDelta,
)
from ._core._events import (
    ResponseAudioTranscriptDone as ResponseAudioTranscriptDone,
)
from ._core._events import (
    ResponseCancel as ResponseCancel,
)
from ._core._events import (
    ResponseConfig as ResponseConfig,
)
from ._core._events import (
    ResponseContentPartAdded as ResponseContentPartAdded,
)
from ._core._events import (
    ResponseContentPartDone as ResponseContentPartDone,
)
from ._core._events import (
    ResponseCreate as ResponseCreate,
)
from ._core._events import (
    ResponseCreated as ResponseCreated,
)
from ._core._events import (
    ResponseDone as ResponseDone,
)
from ._core._events import (
    ResponseError as ResponseError,
)
from ._core._events import (
    ResponseFunctionCallArgumentsDelta as ResponseFunctionCallArgumentsDelta,
)
from ._core._events import (
    ResponseFunctionCallArgumentsDone as ResponseFunctionCallArgumentsDone,
)
from ._core._events import (
    ResponseMcpCallArgumentsDelta as ResponseMcpCallArgumentsDelta,
)
from ._core._events import (
    ResponseMcpCallArgumentsDone as ResponseMcpCallArgumentsDone,
)
from ._core._events import (
    ResponseMcpCallCompleted as ResponseMcpCallCompleted,
)
from ._core._events import (
    ResponseMcpCallFailed as ResponseMcpCallFailed,
)
from ._core._events import (
    ResponseMcpCallInProgress as ResponseMcpCallInProgress,
)
from ._core._events import (
    ResponseOutputItemAdded as ResponseOutputItemAdded,
)
from ._core._events import (
    ResponseOutputItemDone as ResponseOutputItemDone,
)
from ._core._events import (
    ResponseStatusDetails as ResponseStatusDetails,
)
from ._core._events import (
    ResponseTextDelta as ResponseTextDelta,
)
from ._core._events import (
    ResponseTextDone as ResponseTextDone,
)
from ._core._events import (
    ServerEvent as ServerEvent,
)
from ._core._events import (
    Session as Session,
)
from ._core._events import (
    SessionCreated as SessionCreated,
)
from ._core._events import (
    SessionUpdate as SessionUpdate,
)
from ._core._events import (
    SessionUpdated as SessionUpdated,
)
from ._core._events import (
    TokenDetails as TokenDetails,
)
from ._core._events import (
    Tool as Tool,
)
from ._core._events import (
    TracingConfiguration as TracingConfiguration,
)
from ._core._events import (
    TranscriptionDurationUsage as TranscriptionDurationUsage,
)
from ._core._events import (
    TranscriptionError as TranscriptionError,
)
from ._core._events import (
    TranscriptionSession as TranscriptionSession,
)
from ._core._events import (
    TranscriptionSessionCreated as TranscriptionSessionCreated,
)
from ._core._events import (
    TranscriptionSessionUpdate as TranscriptionSessionUpdate,
)
from ._core._events import (
    TranscriptionSessionUpdated as TranscriptionSessionUpdated,
)
from ._core._events import (
    TranscriptionTokenUsage as TranscriptionTokenUsage,
)
from ._core._events import (
    TurnDetection as TurnDetection,
)
from ._core._events import (
    UnknownEvent as UnknownEvent,
)
from ._core._events import (
    Usage as Usage,
)
from ._core._events import (
    decode_audio as decode_audio,
)
from ._core._events import (
    encode_audio as encode_audio,
)

__all__ = [
    "CLIENT_EVENTS",
    "GA_SERVER_EVENTS",
    "NO_EXTRA",
    "SERVER_EVENTS",
    "AnyEvent",
    "ClientEvent",
    "ClientSecret",
    "ContentPart",
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
    "ErrorDetails",
    "ErrorEvent",
    "Event",
    "ExpiresAfter",
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
    "RateLimit",
    "RateLimitsUpdated",
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
    "ResponseDone",
    "ResponseError",
    "ResponseFunctionCallArgumentsDelta",
    "ResponseFunctionCallArgumentsDone",
    "ResponseMcpCallArgumentsDelta",
    "ResponseMcpCallArgumentsDone",
    "ResponseMcpCallCompleted",
    "ResponseMcpCallFailed",
    "ResponseMcpCallInProgress",
    "ResponseOutputItemAdded",
    "ResponseOutputItemDone",
    "ResponseStatusDetails",
    "ResponseTextDelta",
    "ResponseTextDone",
    "ServerEvent",
    "Session",
    "SessionCreated",
    "SessionUpdate",
    "SessionUpdated",
    "TokenDetails",
    "Tool",
    "TracingConfiguration",
    "TranscriptionDurationUsage",
    "TranscriptionError",
    "TranscriptionSession",
    "TranscriptionSessionCreated",
    "TranscriptionSessionUpdate",
    "TranscriptionSessionUpdated",
    "TranscriptionTokenUsage",
    "TurnDetection",
    "UnknownEvent",
    "Usage",
    "decode_audio",
    "encode_audio",
]
