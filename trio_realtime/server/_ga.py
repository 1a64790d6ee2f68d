"""What a GA connection's events add to the beta sequence, decided in one place.

The protocol core (:class:`~._state.ConnectionState`, :mod:`._responses`) produces the beta
sequence in the library's event classes; the GA codec renames and reshapes each event on its
way out (``response.output_audio.delta``, nested sessions...). What remains differs in
*content*, and :class:`GaEvents` adds it to each batch of events before they are sent:

* every item the conversation gains is finished by ``conversation.item.done`` (the item's
  final state): right after ``conversation.item.added`` (the GA name of
  ``conversation.item.created``) for a user item or a created one, which is complete at
  once; just before ``response.output_item.done`` for an item a response writes, which is
  complete only then [inf: the head spec says "when an item is finalized"; the order next to
  ``output_item.done`` is not documented];
* ``response.function_call_arguments.done`` carries the function's ``name`` (required in the
  GA types; the beta event had none);
* a response object has no ``temperature`` (GA has no such setting).

Bounded: an output item is remembered from its ``response.output_item.added`` to its
``response.output_item.done``, which every response sends for every item it opens (a
cancelled response closes them first), so at most the items of the running responses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, final

import attrs

from .._core._events import (
    ConversationItem,
    ConversationItemCreated,
    ConversationItemDone,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ServerEvent,
)
from .._core._unset import UNSET, Unset

__all__ = ["GaEvents"]

#: Output items open at once, at most (responses write one or two; a bug must not grow this).
_MAX_OPEN_ITEMS: Final = 1024


@final
class GaEvents:
    """Completes a batch of beta-sequence events for a GA connection (module docstring).

    Args:
        new_event_id: Makes the ``event_id`` of each event added (the connection's own).
    """

    __slots__ = ("_in_conversation", "_names", "_new_event_id")

    def __init__(self, new_event_id: Callable[[], str]) -> None:
        self._new_event_id = new_event_id
        self._names: dict[str, str] = {}  # function_call item id -> function name
        # Output items written to the conversation, and the item before each.
        self._in_conversation: dict[str, str | Unset | None] = {}

    def adapt(self, events: list[ServerEvent]) -> list[ServerEvent]:
        """``events`` with the GA additions (a new list when something changed)."""
        out: list[ServerEvent] | None = None
        for index, event in enumerate(events):
            kind = type(event)
            if kind not in _TOUCHED:
                if out is not None:
                    out.append(event)
                continue
            if out is None:
                out = events[:index]
            out += self._adapt(event)
        return events if out is None else out

    def _adapt(self, event: ServerEvent) -> list[ServerEvent]:
        if isinstance(event, ResponseOutputItemAdded):
            item = event.item
            if (
                isinstance(item.id, str)
                and item.type == "function_call"
                and isinstance(item.name, str)
                and len(self._names) < _MAX_OPEN_ITEMS
            ):
                self._names[item.id] = item.name
            return [event]
        if isinstance(event, ConversationItemCreated):
            item = event.item
            if item.status == "in_progress" and isinstance(item.id, str):
                if len(self._in_conversation) < _MAX_OPEN_ITEMS:
                    self._in_conversation[item.id] = event.previous_item_id
                return [event]
            return [event, self._done(event.item, event.previous_item_id)]
        if isinstance(event, ResponseOutputItemDone):
            item_id = event.item.id
            if isinstance(item_id, str):
                self._names.pop(item_id, None)
                if item_id in self._in_conversation:
                    previous = self._in_conversation.pop(item_id)
                    return [self._done(event.item, previous), event]
            return [event]
        if isinstance(event, ResponseFunctionCallArgumentsDone):
            name = self._names.get(event.item_id)
            if name is not None and "name" not in event.extra:
                return [attrs.evolve(event, extra={**event.extra, "name": name})]
            return [event]
        if isinstance(event, ResponseCreated | ResponseDone):
            return [attrs.evolve(event, response=attrs.evolve(event.response, temperature=UNSET))]
        return [event]  # pragma: no cover - _TOUCHED lists exactly the types above

    def _done(self, item: ConversationItem, previous: str | Unset | None) -> ConversationItemDone:
        return ConversationItemDone(
            event_id=self._new_event_id(), item=item, previous_item_id=previous
        )


_TOUCHED: Final = frozenset(
    {
        ResponseOutputItemAdded,
        ConversationItemCreated,
        ResponseOutputItemDone,
        ResponseFunctionCallArgumentsDone,
        ResponseCreated,
        ResponseDone,
    }
)
