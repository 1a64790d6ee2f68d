"""The local reference server: the Realtime API over WebSocket, beta v1 and GA, offline.

:func:`serve` runs it; :class:`ConnectionState` is its sans-I/O protocol core, one per
connection; an :class:`Engine` (by default the deterministic :class:`SimulatedEngine`) decides
what the assistant says and what the user said. Real speech, offline, is the speech engine of
:mod:`trio_realtime.server._speech` (the ``speech`` extra), imported only when used. For tests, see
:func:`trio_realtime.testing.open_local_server`.
"""

from __future__ import annotations

from ._connection_info import ConnectionInfo as ConnectionInfo
from ._engine import SimulatedEngine as SimulatedEngine
from ._engine_api import Deferred as Deferred
from ._engine_api import Engine as Engine
from ._engine_api import EngineSession as EngineSession
from ._engine_api import Listener as Listener
from ._engine_api import PlannedAudio as PlannedAudio
from ._engine_api import PlannedFunctionCall as PlannedFunctionCall
from ._engine_api import PlannedOutput as PlannedOutput
from ._engine_api import PlannedText as PlannedText
from ._engine_api import ResponsePlan as ResponsePlan
from ._engine_api import ResponseRequest as ResponseRequest
from ._engine_api import SessionfulEngine as SessionfulEngine
from ._engine_api import TranscriptionPlan as TranscriptionPlan
from ._engine_api import TranscriptionRequest as TranscriptionRequest
from ._handshake import Handshake as Handshake
from ._options import DEFAULT_MODELS as DEFAULT_MODELS
from ._serve import DEFAULT_MAX_MESSAGE_SIZE as DEFAULT_MAX_MESSAGE_SIZE
from ._serve import ServerHandle as ServerHandle
from ._serve import serve as serve
from ._state import ConnectionState as ConnectionState
from ._state import ServerOptions as ServerOptions

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_MODELS",
    "ConnectionInfo",
    "ConnectionState",
    "Deferred",
    "Engine",
    "EngineSession",
    "Handshake",
    "Listener",
    "PlannedAudio",
    "PlannedFunctionCall",
    "PlannedOutput",
    "PlannedText",
    "ResponsePlan",
    "ResponseRequest",
    "ServerHandle",
    "ServerOptions",
    "SessionfulEngine",
    "SimulatedEngine",
    "TranscriptionPlan",
    "TranscriptionRequest",
    "serve",
]
