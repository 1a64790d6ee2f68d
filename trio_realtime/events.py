"""Public face of the protocol events: every event class, nested object and registry.

Import from here (``from trio_realtime.events import SessionUpdate``) or from
:mod:`trio_realtime` itself, which re-exports the same names.
"""

from __future__ import annotations

from ._events import (
    CLIENT_EVENTS as CLIENT_EVENTS,
)
from ._events import (
    NO_EXTRA as NO_EXTRA,
)
from ._events import (
    SERVER_EVENTS as SERVER_EVENTS,
)
from ._events import (
    AnyEvent as AnyEvent,
)
from ._events import (
    ClientEvent as ClientEvent,
)
from ._events import (
    ClientSecret as ClientSecret,
)
from ._events import (
    ContentPart as ContentPart,
)
from ._events import (
    ConversationCreated as ConversationCreated,
)
from ._events import (
    ConversationInfo as ConversationInfo,
)
from ._events import (
    ConversationItem as ConversationItem,
)
from ._events import (
    ConversationItemCreate as ConversationItemCreate,
)
from ._events import (
    ConversationItemCreated as ConversationItemCreated,
)
from ._events import (
    ConversationItemDelete as ConversationItemDelete,
)
from ._events import (
    ConversationItemDeleted as ConversationItemDeleted,
)
from ._events import (
    ConversationItemRetrieve as ConversationItemRetrieve,
)
from ._events import (
    ConversationItemRetrieved as ConversationItemRetrieved,
)
from ._events import (
    ConversationItemTruncate as ConversationItemTruncate,
)
from ._events import (
    ConversationItemTruncated as ConversationItemTruncated,
)
from ._events import (
    ErrorDetails as ErrorDetails,
)
from ._events import (
    ErrorEvent as ErrorEvent,
)
from ._events import (
    Event as Event,
)
from ._events import (
    ExpiresAfter as ExpiresAfter,
)
from ._events import (
    InputAudioBufferAppend as InputAudioBufferAppend,
)
from ._events import (
    InputAudioBufferClear as InputAudioBufferClear,
)
from ._events import (
    InputAudioBufferCleared as InputAudioBufferCleared,
)
from ._events import (
    InputAudioBufferCommit as InputAudioBufferCommit,
)
from ._events import (
    InputAudioBufferCommitted as InputAudioBufferCommitted,
)
from ._events import (
    InputAudioBufferSpeechStarted as InputAudioBufferSpeechStarted,
)
from ._events import (
    InputAudioBufferSpeechStopped as InputAudioBufferSpeechStopped,
)
from ._events import (
    InputAudioTranscription as InputAudioTranscription,
)
from ._events import (
    InputAudioTranscriptionCompleted as InputAudioTranscriptionCompleted,
)
from ._events import (
    InputAudioTranscriptionDelta as InputAudioTranscriptionDelta,
)
from ._events import (
    InputAudioTranscriptionFailed as InputAudioTranscriptionFailed,
)
from ._events import (
    Logprob as Logprob,
)
from ._events import (
    Model as Model,
)
from ._events import (
    NoiseReduction as NoiseReduction,
)
from ._events import (
    OutputAudioBufferClear as OutputAudioBufferClear,
)
from ._events import (
    OutputAudioBufferCleared as OutputAudioBufferCleared,
)
from ._events import (
    OutputAudioBufferStarted as OutputAudioBufferStarted,
)
from ._events import (
    OutputAudioBufferStopped as OutputAudioBufferStopped,
)
from ._events import (
    RateLimit as RateLimit,
)
from ._events import (
    RateLimitsUpdated as RateLimitsUpdated,
)
from ._events import (
    Response as Response,
)
from ._events import (
    ResponseAudioDelta as ResponseAudioDelta,
)
from ._events import (
    ResponseAudioDone as ResponseAudioDone,
)
from ._events import (
    ResponseAudioTranscriptDelta as ResponseAudioTranscriptDelta,
)
from ._events import (
    ResponseAudioTranscriptDone as ResponseAudioTranscriptDone,
)
from ._events import (
    ResponseCancel as ResponseCancel,
)
from ._events import (
    ResponseConfig as ResponseConfig,
)
from ._events import (
    ResponseContentPartAdded as ResponseContentPartAdded,
)
from ._events import (
    ResponseContentPartDone as ResponseContentPartDone,
)
from ._events import (
    ResponseCreate as ResponseCreate,
)
from ._events import (
    ResponseCreated as ResponseCreated,
)
from ._events import (
    ResponseDone as ResponseDone,
)
from ._events import (
    ResponseError as ResponseError,
)
from ._events import (
    ResponseFunctionCallArgumentsDelta as ResponseFunctionCallArgumentsDelta,
)
from ._events import (
    ResponseFunctionCallArgumentsDone as ResponseFunctionCallArgumentsDone,
)
from ._events import (
    ResponseOutputItemAdded as ResponseOutputItemAdded,
)
from ._events import (
    ResponseOutputItemDone as ResponseOutputItemDone,
)
from ._events import (
    ResponseStatusDetails as ResponseStatusDetails,
)
from ._events import (
    ResponseTextDelta as ResponseTextDelta,
)
from ._events import (
    ResponseTextDone as ResponseTextDone,
)
from ._events import (
    ServerEvent as ServerEvent,
)
from ._events import (
    Session as Session,
)
from ._events import (
    SessionCreated as SessionCreated,
)
from ._events import (
    SessionUpdate as SessionUpdate,
)
from ._events import (
    SessionUpdated as SessionUpdated,
)
from ._events import (
    TokenDetails as TokenDetails,
)
from ._events import (
    Tool as Tool,
)
from ._events import (
    TracingConfiguration as TracingConfiguration,
)
from ._events import (
    TranscriptionDurationUsage as TranscriptionDurationUsage,
)
from ._events import (
    TranscriptionError as TranscriptionError,
)
from ._events import (
    TranscriptionSession as TranscriptionSession,
)
from ._events import (
    TranscriptionSessionCreated as TranscriptionSessionCreated,
)
from ._events import (
    TranscriptionSessionUpdate as TranscriptionSessionUpdate,
)
from ._events import (
    TranscriptionSessionUpdated as TranscriptionSessionUpdated,
)
from ._events import (
    TranscriptionTokenUsage as TranscriptionTokenUsage,
)
from ._events import (
    TurnDetection as TurnDetection,
)
from ._events import (
    UnknownEvent as UnknownEvent,
)
from ._events import (
    Usage as Usage,
)
from ._events import (
    decode_audio as decode_audio,
)
from ._events import (
    encode_audio as encode_audio,
)

__all__ = [
    "CLIENT_EVENTS",
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
    "InputAudioBufferSpeechStarted",
    "InputAudioBufferSpeechStopped",
    "InputAudioTranscription",
    "InputAudioTranscriptionCompleted",
    "InputAudioTranscriptionDelta",
    "InputAudioTranscriptionFailed",
    "Logprob",
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
