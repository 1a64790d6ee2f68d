"""What every part of one connection's protocol state reads and writes.

:class:`~._connection_state.ConnectionState` owns one :class:`SharedState` and hands it to the
parts it composes (:mod:`._input_turns`, :mod:`._response_control`); the session configuration
in it changes only through ``session.update`` / ``transcription_session.update``.
"""

from __future__ import annotations

from typing import final

from .._engine_api import Engine
from .._engine_work import EngineWork
from .._ids import IdFactory
from .._items import Conversation
from .._options import ServerOptions
from .._session_config import SessionConfig
from .._timeline import Timeline

__all__ = ["SharedState"]


@final
class SharedState:
    """One connection's ids, conversation, configuration, engine and clock-scheduled work.

    Attributes:
        ids: The connection's id factory.
        options: Server options.
        engine: What produces replies and transcripts (the connection's own session of a
            :class:`~.._engine_api.SessionfulEngine`, if it has one).
        engine_work: The engine's deferred work.
        transcription: Whether this is a transcription session.
        config: The session configuration (replaced whole by each update).
        conversation: The default conversation's items.
        timeline: Running responses and pending transcripts.
    """

    __slots__ = (
        "config",
        "conversation",
        "engine",
        "engine_work",
        "ids",
        "options",
        "timeline",
        "transcription",
    )

    def __init__(
        self,
        *,
        ids: IdFactory,
        options: ServerOptions,
        engine: Engine,
        engine_work: EngineWork,
        transcription: bool,
        config: SessionConfig,
    ) -> None:
        self.ids = ids
        self.options = options
        self.engine = engine
        self.engine_work = engine_work
        self.transcription = transcription
        self.config = config
        self.conversation = Conversation(ids.new("conv"))
        self.timeline = Timeline()

    def event_id(self) -> str:
        """A new server ``event_id``."""
        return self.ids.new("event")

    def new_item_id(self) -> str:
        """A new item id that no item of the conversation has (a client may choose ids)."""
        item_id = self.ids.new("item")
        while item_id in self.conversation:
            item_id = self.ids.new("item")
        return item_id
