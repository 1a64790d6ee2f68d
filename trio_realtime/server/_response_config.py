"""Setting up a response: the effective settings of ``response.create`` (5.6), the
engine request, and the :class:`~._responses.ResponseRun` that streams the plan.

Every field of ``response`` is optional and overrides the session for this response only
[doc]: ``instructions``, ``modalities``, ``voice``, ``output_audio_format``, ``tools``,
``tool_choice``, ``temperature``, ``max_response_output_tokens``, plus ``metadata``,
``conversation`` (``"auto"`` or ``"none"``) and ``input``. A ``null`` in any of them is "not
given": the session's value holds (livekit-plugins-openai sends ``"instructions": null`` on
every reply it asks for; README.rst, "Nulls in requests"). Values are checked exactly as in a
session update, with ``param`` paths under ``response.``; the request field
``max_output_tokens`` (the response object's name) is an unknown parameter, refused before
this module runs.

The engine is called once, when the response starts. An engine that raises fails that one
response (``response.done`` ``failed``, ``status_details.error.code`` ``engine_error``), not
the connection: engines are pluggable, and the session outlives a bad reply.
"""

from __future__ import annotations

from .._core._events import ConversationItem, ResponseConfig
from .._core._unset import UNSET
from ._engine_api import Deferred, Engine, ResponsePlan, ResponseRequest
from ._engine_work import EngineWork
from ._errors import cannot_update_voice, invalid_enum
from ._fields import (
    check_audio_format,
    check_max_output_tokens,
    check_metadata,
    check_modalities,
    check_temperature,
    check_tool_choice,
    check_tools,
    check_voice,
    given,
)
from ._ids import IdFactory
from ._items import Conversation, StoredItem
from ._responses import ResponseOptions, ResponseRun
from ._session_config import SessionConfig
from ._usage import PromptCache, RateLimits, context_segments

__all__ = ["ResponseOptions", "response_options", "start_response"]


def response_options(
    config: ResponseConfig, session: SessionConfig, *, assistant_audio: bool
) -> ResponseOptions:
    """Merge ``response.create``'s ``response`` over the session configuration.

    Raises:
        Refusal: The first invalid override; nothing starts.
    """
    conversation = config.conversation if given(config.conversation) else "auto"
    if conversation not in ("auto", "none"):
        raise invalid_enum("response.conversation", conversation, ["auto", "none"])
    items: list[ConversationItem] | None = config.input if given(config.input) else None
    instructions = session.instructions
    if given(config.instructions):
        instructions = config.instructions
    modalities = session.modalities
    if given(config.modalities):
        modalities = check_modalities(config.modalities, "response.modalities")
    voice = session.voice
    if given(config.voice):
        voice = check_voice(config.voice, "response.voice")
        if voice != session.voice and assistant_audio:
            raise cannot_update_voice()
    output_format = session.output_audio_format
    if given(config.output_audio_format):
        output_format = check_audio_format(
            config.output_audio_format, "response.output_audio_format"
        )
    tools = session.tools
    if given(config.tools):
        tools = check_tools(config.tools, "response.tools")
    tool_choice = session.tool_choice
    if given(config.tool_choice):
        tool_choice = check_tool_choice(config.tool_choice, "response.tool_choice", tools)
    elif tool_choice not in ("auto", "none", "required") and not any(
        t.name == tool_choice for t in tools
    ):
        tool_choice = "auto"  # the session named a tool this response's tools lack
    temperature = session.temperature
    if given(config.temperature):
        temperature = check_temperature(config.temperature, "response.temperature")
    max_tokens = session.max_output_tokens
    tokens = config.max_response_output_tokens
    if tokens is not UNSET and tokens is not None:  # ``given`` cannot narrow a union
        max_tokens = check_max_output_tokens(tokens, "response.max_response_output_tokens")
    metadata = None
    if given(config.metadata):
        metadata = check_metadata(config.metadata, "response.metadata")
    return ResponseOptions(
        in_conversation=conversation == "auto",
        input=items,
        instructions=instructions,
        modalities=modalities,
        voice=voice,
        output_audio_format=output_format,
        tools=tools,
        tool_choice=tool_choice,
        temperature=temperature,
        max_output_tokens=max_tokens,
        metadata=metadata,
    )


def start_response(
    options: ResponseOptions,
    context: list[StoredItem],
    *,
    now: float,
    engine: Engine,
    conversation: Conversation,
    ids: IdFactory,
    rate_limits: RateLimits,
    prompt_cache: PromptCache,
    work: EngineWork | None = None,
) -> ResponseRun:
    """Ask the engine for a plan and make the run that streams it from ``now``.

    A deferred plan goes to ``work``: the run sends ``response.created`` at once and streams
    from when the plan is in (or fails, if the engine fails), unless it was cancelled first.

    Args:
        options: The response's settings.
        context: The items the response sees (the default conversation or ``input``).
        now: When ``response.created`` goes out.
        engine: The engine.
        conversation: The default conversation (used only when ``options`` write to it).
        ids: The connection's id factory.
        rate_limits: The connection's rate-limit buckets.
        prompt_cache: The connection's prompt cache (``cached_tokens``).
        work: The connection's deferred engine work.
    """
    request = ResponseRequest(
        items=tuple(item.wire(for_engine=True) for item in context),
        instructions=options.instructions,
        modalities=options.modalities,
        tools=options.tools,
        tool_choice=options.tool_choice,
        voice=options.voice,
        output_audio_format=options.output_audio_format,
        temperature=options.temperature,
        max_output_tokens=options.max_output_tokens,
        metadata=options.metadata,
        audio_ms=tuple(
            sum((part.audio_ms for part in item.parts if part.type == "input_audio"), 0.0)
            for item in context
        ),
    )
    plan: ResponsePlan | None = None
    deferred: Deferred[ResponsePlan] | None = None
    failure = None
    try:
        planned = engine.respond(request)
    except Exception as exc:
        failure = ("engine_error", f"{type(exc).__name__}: {exc}")
    else:
        if not isinstance(planned, Deferred):
            plan = planned
        elif work is None:
            failure = ("engine_error", "a deferred plan needs the connection's work")
        else:
            deferred = planned
    target = conversation if options.in_conversation else None
    run = ResponseRun(
        response_id=ids.new("resp"),
        options=options,
        plan=plan,
        start=now,
        conversation=target,
        input_tokens=prompt_cache.charge(
            context_segments(context, options.instructions, options.tools), now
        ),
        ids=ids,
        rate_limits=rate_limits,
        failure=failure,
        waiting=deferred is not None,
    )
    if deferred is not None:
        assert work is not None
        work.submit(deferred, run.resolve, skip=lambda: run.finished)
    return run
