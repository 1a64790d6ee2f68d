"""One WebSocket connection of the reference server, as a sans-I/O state machine.

:class:`ConnectionState` (:mod:`._connection_state`) is the facade: client frames and the time
in, server events out. It composes the user's turns (:mod:`._input_turns`) and the responses
that run (:mod:`._response_control`), which share one :mod:`._shared` state.
"""

from __future__ import annotations

from .._options import ConnectionStatistics as ConnectionStatistics
from .._options import ServerOptions as ServerOptions
from ._connection_state import ConnectionState as ConnectionState

__all__ = ["ConnectionState", "ConnectionStatistics", "ServerOptions"]
