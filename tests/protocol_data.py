"""Loaders for the protocol contract: the event catalog and the spec schemas.

The JSON files in ``tests/data/protocol`` (provenance in its ``PROVENANCE.rst``) are data and
are never edited; the relaxations the protocol contract prescribes for validating real traffic
are applied here, in code.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

PROTOCOL = Path(__file__).resolve().parent / "data" / "protocol"


@functools.cache
def catalog() -> dict[str, Any]:
    """The event catalog ``realtime_beta_events.json``."""
    return json.loads((PROTOCOL / "realtime_beta_events.json").read_text())


def catalog_server_events() -> dict[str, Any]:
    """Every server event of the catalog, the one missing from the SDK union included."""
    data = catalog()
    return {**data["server_events"], **data["server_events_missing_from_sdk_union"]}


MODEL_NAMES = (
    "gpt-realtime",
    "gpt-realtime-2025-08-28",
    "gpt-4o-realtime-preview-2025-06-03",
    # The reference server's default allow-list also names the transcription models and the
    # project seed's model (trio_realtime.server.DEFAULT_MODELS), which a session echoes.
    "whisper-1",
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
    "opeai/AudioLLM/Voice2",
)


def _allow_null(schema: dict[str, Any]) -> None:
    """Let a (possibly ``$ref``) schema also accept ``null``."""
    inner = dict(schema)
    schema.clear()
    schema["anyOf"] = [inner, {"type": "null"}]


def _relaxed_schemas() -> dict[str, Any]:
    raw = json.loads((PROTOCOL / "openapi_realtime_schemas.json").read_text())
    schemas: dict[str, Any] = copy.deepcopy(raw["snapshots"]["beta_2025_04_29"]["schemas"])

    def walk(node: Any) -> None:
        # 1. OpenAPI ``nullable: true`` becomes a JSON-schema type that admits null.
        if isinstance(node, dict):
            if node.pop("nullable", False):
                inner = dict(node)
                node.clear()
                node["anyOf"] = [inner, {"type": "null"}]
            for value in list(node.values()):
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schemas)

    def props(name: str) -> dict[str, Any]:
        return schemas[name]["properties"]  # type: ignore[no-any-return]

    # 2. Nulls the live service sent although the spec does not say so.
    session_schemas = [
        name
        for name in schemas
        if name.startswith(("RealtimeSession", "RealtimeTranscriptionSession"))
    ]
    for name in session_schemas:
        for field in ("turn_detection", "input_audio_transcription", "input_audio_noise_reduction"):
            if field in props(name):
                _allow_null(props(name)[field])
    for field in ("status_details", "usage", "conversation_id"):
        _allow_null(props("RealtimeResponse")[field])
    for name in (
        "RealtimeServerEventConversationItemCreated",
        "RealtimeServerEventInputAudioBufferCommitted",
        "RealtimeClientEventConversationItemCreate",
    ):
        _allow_null(props(name)["previous_item_id"])
    failed = props("RealtimeServerEventConversationItemInputAudioTranscriptionFailed")["error"]
    for value in failed["properties"].values():
        _allow_null(value)
    # 3. ``in_progress`` is a status the service sends.
    for name in (
        "RealtimeResponse",
        "RealtimeConversationItem",
        "RealtimeConversationItemWithReference",
    ):
        status = props(name)["status"]
        target = status["anyOf"][0] if "anyOf" in status else status
        if "in_progress" not in target["enum"]:
            target["enum"].append("in_progress")
    # 5. Newer than the 2025 snapshot (catalog, SDK >= 1.96.1): assistant audio parts have
    #    type "audio", and later model names exist.
    content = schemas["RealtimeConversationItem"]["properties"]["content"]["items"]
    content["properties"]["type"]["enum"].append("audio")
    for name in session_schemas:
        model = props(name).get("model")
        if model and "enum" in model:
            model["enum"] += [m for m in MODEL_NAMES if m not in model["enum"]]
    #    The reference item's own description lists ``item_reference``; its enum forgot it.
    props("RealtimeConversationItemWithReference")["type"]["enum"].append("item_reference")
    # 6. ``response.create.response.conversation`` is a ``oneOf`` of two overlapping string
    #    schemas, so "auto" matches both and fails; any of them is what is meant.
    conversation = props("RealtimeResponseCreateParams")["conversation"]
    conversation["anyOf"] = conversation.pop("oneOf")
    # 7. A committed user audio item carries ``transcript: null`` until its transcript exists
    #    (server-behaviour.md 5.2 [doc, obs], checklist 21); the spec types it as a string.
    _allow_null(content["properties"]["transcript"])
    # 4. ``client_secret`` is absent on the WebSocket, or null: the live
    #    ``transcription_session.created`` capture of server-behaviour.md 3.2 has
    #    ``"client_secret": null`` (relaxation 2, for a field the README does not list).
    ts = schemas["RealtimeTranscriptionSessionCreateResponse"]
    ts["required"] = [r for r in ts.get("required", []) if r != "client_secret"]
    if not ts["required"]:
        del ts["required"]
    _allow_null(ts["properties"]["client_secret"])
    return schemas


@functools.cache
def schemas() -> dict[str, Any]:
    """The beta_2025_04_29 component schemas with the README's relaxations applied."""
    return _relaxed_schemas()


@functools.cache
def _registry() -> Registry:  # type: ignore[type-arg]
    return Registry().with_resource(
        "urn:rt",
        Resource.from_contents(
            {"components": {"schemas": schemas()}}, default_specification=DRAFT4
        ),
    )


@functools.cache
def schema_name_for_type() -> dict[str, str]:
    """Wire ``type`` → name of its event schema (46 events; no transcription_session.created)."""
    return {
        schema["properties"]["type"]["enum"][0]: name
        for name, schema in schemas().items()
        if name.startswith(("RealtimeServerEvent", "RealtimeClientEvent"))
        and "properties" in schema
    }


@functools.cache
def validator(event_type: str) -> Draft4Validator:
    """A validator for one event type (``transcription_session.created`` like ``.updated``)."""
    if event_type == "transcription_session.created":
        event_type = "transcription_session.updated"
    ref = "urn:rt#/components/schemas/" + schema_name_for_type()[event_type]
    return Draft4Validator({"$ref": ref}, registry=_registry())


def schema_errors(event: dict[str, Any]) -> list[str]:
    """Every schema violation of one wire event, as readable strings (empty when valid)."""
    event_type = event["type"]
    if event_type == "transcription_session.created":
        event = {**event, "type": "transcription_session.updated"}
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator(event_type).iter_errors(event)
    ]


# --- the GA dialect: the head snapshot's own (non-``RealtimeBeta``) event schemas -------------


def _relaxed_ga_schemas() -> dict[str, Any]:
    """``head_2026_08_21`` with the relaxations GA traffic needs (each one explained here)."""
    raw = json.loads((PROTOCOL / "openapi_realtime_schemas.json").read_text())
    schemas: dict[str, Any] = copy.deepcopy(raw["snapshots"]["head_2026_08_21"]["schemas"])

    def walk(node: Any) -> None:
        # The one OpenAPI 3.0 ``nullable: true`` left in the 3.1 document (as in the beta
        # relaxation 1).
        if isinstance(node, dict):
            if node.pop("nullable", False):
                inner = dict(node)
                node.clear()
                node["anyOf"] = [inner, {"type": "null"}]
            for value in list(node.values()):
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schemas)
    # The head spec's own ``session.created`` example (RealtimeServerEventSessionCreated)
    # sends ``"transcription": null``, ``"noise_reduction": null`` and ``"include": null``,
    # which its session schemas type as object / array only; null is what "off" looks like
    # (the SDK's GA types make all three Optional).
    # Requests likewise: their descriptions say "set to null to turn off", and the SDK's
    # ``session.update`` docstring sends ``"noise_reduction": null``.
    for name in (
        "RealtimeSessionCreateResponseGA",
        "RealtimeTranscriptionSessionCreateResponseGA",
        "RealtimeSessionCreateRequestGA",
        "RealtimeTranscriptionSessionCreateRequestGA",
    ):
        props = schemas[name]["properties"]
        if name.endswith("ResponseGA"):
            _allow_null(props["include"])
        audio_in = props["audio"]["properties"]["input"]["properties"]
        for field in ("transcription", "noise_reduction"):
            _allow_null(audio_in[field])
    # ``response.create.response.conversation`` is a ``oneOf`` of two overlapping string
    # schemas, so "auto" matches both and fails (beta relaxation 6).
    conversation = schemas["RealtimeResponseCreateParams"]["properties"]["conversation"]
    conversation["anyOf"] = conversation.pop("oneOf")
    # Its ``response.created`` example sends ``"status_details": null`` and ``"usage": null``
    # (as the beta service did: beta relaxation 2);
    # ``conversation_id`` is null for an out-of-band response, as its own description says.
    for field in ("status_details", "usage", "conversation_id"):
        _allow_null(schemas["RealtimeResponse"]["properties"][field])
    # A committed user audio item carries ``transcript: null`` until its transcript exists
    # (beta relaxation 7; the SDK's GA type makes it Optional).
    user = schemas["RealtimeConversationItemMessageUser"]["properties"]["content"]["items"]
    _allow_null(user["properties"]["transcript"])
    return schemas


@functools.cache
def ga_schemas() -> dict[str, Any]:
    """The head snapshot's schemas, for validating GA traffic (never beta: see README.md)."""
    return _relaxed_ga_schemas()


@functools.cache
def _ga_registry() -> Registry:  # type: ignore[type-arg]
    return Registry().with_resource(
        "urn:ga",
        Resource.from_contents(
            {"components": {"schemas": ga_schemas()}}, default_specification=DRAFT202012
        ),
    )


@functools.cache
def ga_schema_name_for_type() -> dict[str, str]:
    """GA wire ``type`` → name of its event schema (the ``RealtimeBeta*`` ones excluded)."""
    return {
        schema["properties"]["type"]["enum"][0]: name
        for name, schema in ga_schemas().items()
        if name.startswith(("RealtimeServerEvent", "RealtimeClientEvent"))
        and "properties" in schema
    }


@functools.cache
def _ga_validator(event_type: str) -> Draft202012Validator:
    # OpenAPI 3.1 is JSON Schema 2020-12 (``const``, ``anyOf`` with null), unlike 3.0's draft 4.
    ref = "urn:ga#/components/schemas/" + ga_schema_name_for_type()[event_type]
    return Draft202012Validator({"$ref": ref}, registry=_ga_registry())


def ga_schema_errors(event: dict[str, Any]) -> list[str]:
    """Every GA schema violation of one wire event, as readable strings (empty when valid)."""
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in _ga_validator(event["type"]).iter_errors(event)
    ]
