"""Client requests on conversation items (5.11): create, delete, retrieve, truncate, and
the items of ``response.create``'s ``input``.

Content by role [doc]: ``system`` holds only ``input_text``; ``user`` ``input_text`` and
``input_audio``; ``assistant`` only ``text`` (assistant audio cannot be created). A missing
field is ``missing_required_parameter``, an explicit ``null`` where a value is needed
``invalid_type``, anything else out of bounds ``invalid_value``; ``param`` is the dotted path
inside the client event. ``item.status`` is accepted and ignored [doc]; a client-chosen
``item.id`` is kept.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from typing import Final

from .._core._audio import audio_format
from .._core._events import (
    ContentPart,
    ConversationItem,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemDeleted,
    ConversationItemRetrieve,
    ConversationItemRetrieved,
    ConversationItemTruncate,
    ConversationItemTruncated,
)
from .._core._unset import UNSET, Unset
from ._errors import invalid_enum, invalid_type, invalid_value, missing_parameter
from ._ids import IdFactory
from ._input_audio import bad_audio
from ._items import Conversation, PartType, StoredItem, StoredPart, truncate_audio

__all__ = [
    "create_item",
    "decode_base64_audio",
    "delete_item",
    "item_from_client",
    "resolve_input",
    "retrieve_item",
    "truncate_item",
]

ITEM_TYPES: Final = ("message", "function_call", "function_call_output")
ROLES: Final = ("user", "assistant", "system")
PARTS_BY_ROLE: Final[dict[str, tuple[PartType, ...]]] = {
    "system": ("input_text",),
    "user": ("input_text", "input_audio"),
    "assistant": ("text",),
}


def decode_base64_audio(audio: str, path: str, fmt: str) -> bytes:
    """Strict base64 (no stray characters, correct padding) to raw bytes.

    Raises:
        Refusal: Not valid base64.
    """
    try:
        return binascii.a2b_base64(audio, strict_mode=True)
    except (binascii.Error, ValueError):
        raise bad_audio(path, fmt) from None


def _need(value: str | Unset | None, path: str) -> str:
    """A required string field: absent is missing, ``null`` is the wrong type."""
    if value is UNSET:
        raise missing_parameter(path)
    if value is None:
        raise invalid_type(path, "a string", None)
    return value


def _part(part: ContentPart, role: str, path: str, input_format: str) -> StoredPart:
    allowed = PARTS_BY_ROLE[role]
    kind = part.type
    if kind is UNSET:
        raise missing_parameter(f"{path}.type")
    if kind is None:
        raise invalid_type(f"{path}.type", "a string", None)
    if kind not in allowed:
        raise invalid_enum(f"{path}.type", kind, allowed)
    if kind in ("input_text", "text"):
        text = _need(part.text, f"{path}.text")
        return StoredPart(type=kind, text=text)
    audio_text = _need(part.audio, f"{path}.audio")
    audio = decode_base64_audio(audio_text, f"{path}.audio", input_format)
    transcript = part.transcript if isinstance(part.transcript, str) else None
    return StoredPart(
        type="input_audio",
        transcript=transcript,
        audio=bytearray(audio),
        audio_format=input_format,
        audio_ms=len(audio) / audio_format(input_format).bytes_per_ms,
    )


def item_from_client(
    item: ConversationItem, path: str, *, new_id: Callable[[], str], input_format: str
) -> StoredItem:
    """Validate a client item and build the server's record of it.

    Args:
        item: The decoded item (unknown fields already refused).
        path: Its dotted path in the client event (``item``, ``response.input[2]``).
        new_id: Makes a server item id when the client chose none.
        input_format: The session's ``input_audio_format``, for ``input_audio`` parts.

    Raises:
        Refusal: The first rule of 5.11 the item breaks.
    """
    kind = item.type
    if kind is UNSET:
        raise missing_parameter(f"{path}.type")
    if kind is None:
        raise invalid_type(f"{path}.type", "a string", None)
    if kind not in ITEM_TYPES:
        raise invalid_enum(f"{path}.type", kind, ITEM_TYPES)
    if item.id is None or item.id is UNSET:
        item_id = new_id()
    elif not item.id:
        raise invalid_value(f"{path}.id", f"Invalid '{path}.id': empty string.")
    else:
        item_id = item.id
    if kind == "message":
        role = _need(item.role, f"{path}.role")
        if role not in ROLES:
            raise invalid_enum(f"{path}.role", role, ROLES)
        if item.content is UNSET:
            raise missing_parameter(f"{path}.content")
        if item.content is None:
            raise invalid_type(f"{path}.content", "an array of content parts", None)
        parts = [
            _part(part, role, f"{path}.content[{i}]", input_format)
            for i, part in enumerate(item.content)
        ]
        return StoredItem(id=item_id, type="message", role=role, parts=parts)
    call_id = _need(item.call_id, f"{path}.call_id")
    if kind == "function_call":
        name = _need(item.name, f"{path}.name")
        arguments = _need(item.arguments, f"{path}.arguments")
        return StoredItem(
            id=item_id, type="function_call", call_id=call_id, name=name, arguments=arguments
        )
    output = _need(item.output, f"{path}.output")
    return StoredItem(id=item_id, type="function_call_output", call_id=call_id, output=output)


def resolve_input(
    items: list[ConversationItem],
    conversation: Conversation,
    *,
    new_id: Callable[[], str],
    input_format: str,
) -> list[StoredItem]:
    """The context of a response given ``response.input``: items and item references.

    References (``{type: "item_reference", id}``) resolve to the default conversation's items;
    inline items are validated like created items but enter no conversation.

    Raises:
        Refusal: An invalid item, or a reference to an item that does not exist.
    """
    out = []
    for i, item in enumerate(items):
        path = f"response.input[{i}]"
        if item.type == "item_reference":
            ref = _need(item.id, f"{path}.id")
            stored = conversation.get(ref)
            if stored is None:
                raise invalid_value(
                    f"{path}.id", f"Invalid '{path}.id': no item with id '{ref}' exists."
                )
            out.append(stored)
        else:
            out.append(item_from_client(item, path, new_id=new_id, input_format=input_format))
    return out


def create_item(
    event: ConversationItemCreate,
    conversation: Conversation,
    *,
    new_id: Callable[[], str],
    input_format: str,
    keep_audio: bool,
) -> tuple[StoredItem, str | None]:
    """Apply ``conversation.item.create``: validate, then insert (42, 43, 38).

    Returns:
        The new item and the id of the item before it (``None`` when first).

    Raises:
        Refusal: An invalid item, a taken id, an unknown ``previous_item_id``, or a
            ``function_call_output`` whose ``call_id`` matches no ``function_call`` [doc].
            Nothing is added.
    """
    item = item_from_client(event.item, "item", new_id=new_id, input_format=input_format)
    call_id = item.call_id
    if item.type == "function_call_output" and not conversation.has_call(call_id or ""):
        raise invalid_value("item.call_id", f"Tool call ID '{call_id}' not found in conversation.")
    if not keep_audio:
        for part in item.parts:
            part.audio = None
    previous = None if event.previous_item_id is UNSET else event.previous_item_id
    return item, conversation.insert(item, previous)


def delete_item(
    conversation: Conversation, event: ConversationItemDelete, ids: IdFactory
) -> ConversationItemDeleted:
    """Apply ``conversation.item.delete`` (44). Raises Refusal for an unknown item."""
    conversation.delete(event.item_id)
    return ConversationItemDeleted(event_id=ids.new("event"), item_id=event.item_id)


def retrieve_item(
    conversation: Conversation, event: ConversationItemRetrieve, ids: IdFactory
) -> ConversationItemRetrieved:
    """Answer ``conversation.item.retrieve`` with the item, audio bytes included (44).

    Raises Refusal for an unknown item.
    """
    item = conversation.require(event.item_id, "retrieving")
    return ConversationItemRetrieved(event_id=ids.new("event"), item=item.wire(with_audio=True))


def truncate_item(
    conversation: Conversation, event: ConversationItemTruncate, ids: IdFactory
) -> ConversationItemTruncated:
    """Apply ``conversation.item.truncate`` (45, 46); see :func:`~._items.truncate_audio`.

    Raises Refusal for an unknown item or a truncation the item does not allow.
    """
    item = conversation.require(event.item_id, "truncating")
    truncate_audio(item, event.content_index, event.audio_end_ms)
    return ConversationItemTruncated(
        event_id=ids.new("event"),
        item_id=event.item_id,
        content_index=event.content_index,
        audio_end_ms=event.audio_end_ms,
    )
