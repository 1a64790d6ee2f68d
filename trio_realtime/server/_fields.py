"""Validators for the configuration fields a session update and a response share.

Each takes the decoded value (already of the right JSON type: the codec refused wrong types)
and the dotted ``path`` used in errors, and returns the normalised value or raises
:class:`~._errors.Refusal`. Ranges and enumerations are those of server-behaviour.md 3.3
and 7; out-of-range and out-of-enum values are ``invalid_value`` with the dotted ``param``
(4.7 [inf]).

A JSON ``null`` never reaches them: :func:`given` sorts it out first. ``null`` in an optional
request field means "not given" unless the field has an "off" state (``turn_detection``,
``input_audio_transcription``, ``input_audio_noise_reduction``, ``tracing``); the whole table
is in README.rst, "Nulls in requests".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, TypeGuard, TypeVar

from .._core._events import Tool
from .._core._unset import UNSET, Unset
from ._errors import Refusal, invalid_enum, invalid_type, invalid_value, missing_parameter

__all__ = [
    "AUDIO_FORMATS",
    "MAX_OUTPUT_TOKENS_LIMIT",
    "VOICES",
    "check_audio_format",
    "check_max_output_tokens",
    "check_metadata",
    "check_modalities",
    "check_range",
    "check_temperature",
    "check_tool_choice",
    "check_tools",
    "check_voice",
    "given",
]

VOICES: Final = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "sage",
    "shimmer",
    "verse",
    "fable",
    "onyx",
    "nova",
    "marin",
    "cedar",
)
"""Every voice the beta service named (3.3); the first eight are the documented set."""
AUDIO_FORMATS: Final = ("pcm16", "g711_ulaw", "g711_alaw")
MAX_OUTPUT_TOKENS_LIMIT: Final = 4096
MAX_TOOL_DESCRIPTION: Final = 1024
MAX_METADATA_PAIRS: Final = 16
MAX_METADATA_KEY: Final = 64
MAX_METADATA_VALUE: Final = 512
TOOL_CHOICES: Final = ("auto", "none", "required")

_T = TypeVar("_T")


def given(value: _T | Unset | None) -> TypeGuard[_T]:
    """Whether an optional request field carries a value: neither absent nor ``null``.

    The live service read ``null`` in an optional field as "not given": livekit-plugins-openai
    sent ``"instructions": null`` in every ``response.create`` without instructions, its only
    beta path for over a year (server-behaviour.md, and README.rst "Nulls in requests").
    """
    return value is not UNSET and value is not None


def check_range(value: float, path: str, low: float, high: float, *, decimal: bool) -> None:
    """Refuse a number outside ``[low, high]`` in the service's wording."""
    kind = "decimal" if decimal else "integer"
    if value < low:
        raise invalid_value(
            path,
            f"Invalid '{path}': {kind} below minimum value. "
            f"Expected a value >= {low:g}, but got {value:g} instead.",
        )
    if value > high:
        raise invalid_value(
            path,
            f"Invalid '{path}': {kind} above maximum value. "
            f"Expected a value <= {high:g}, but got {value:g} instead.",
        )


def check_modalities(modalities: list[str], path: str) -> tuple[str, ...]:
    """``["text"]`` or ``["text", "audio"]`` in either order; ``["audio"]`` alone is refused."""
    for i, modality in enumerate(modalities):
        if modality not in ("text", "audio"):
            raise invalid_enum(f"{path}[{i}]", modality, ["text", "audio"])
    if sorted(modalities) not in (["text"], ["audio", "text"]):
        shown = "[" + ", ".join(f"'{m}'" for m in modalities) + "]"
        raise invalid_value(
            path,
            f"Invalid modalities: {shown}. "
            "Supported combinations are: ['text'] and ['audio', 'text'].",
        )
    return tuple(modalities)


def check_voice(voice: str, path: str) -> str:
    """One of :data:`VOICES`."""
    if voice not in VOICES:
        raise invalid_enum(path, voice, VOICES)
    return voice


def check_audio_format(fmt: str, path: str) -> str:
    """``pcm16``, ``g711_ulaw`` or ``g711_alaw``."""
    if fmt not in AUDIO_FORMATS:
        raise invalid_enum(path, fmt, AUDIO_FORMATS)
    return fmt


def check_temperature(temperature: float, path: str) -> float:
    """0.6 to 1.2 inclusive (7)."""
    check_range(temperature, path, 0.6, 1.2, decimal=True)
    return float(temperature)


def check_max_output_tokens(tokens: int | str, path: str) -> int | None:
    """1 to 4096, or ``"inf"`` (returned as ``None``)."""
    if isinstance(tokens, str):
        if tokens != "inf":
            raise invalid_enum(path, tokens, ["inf"])
        return None
    check_range(tokens, path, 1, MAX_OUTPUT_TOKENS_LIMIT, decimal=False)
    return tokens


def check_tools(tools: list[Tool], path: str) -> tuple[Tool, ...]:
    """Function tools: ``type`` ``function``, a ``name``, a description of ≤ 1024 chars.

    Returns the tools as the server echoes them: ``type`` filled in, unset fields left out.
    """
    out = []
    for i, tool in enumerate(tools):
        where = f"{path}[{i}]"
        kind = tool.type if given(tool.type) else "function"
        if kind != "function":
            raise invalid_enum(f"{where}.type", kind, ["function"])
        if tool.name is UNSET:
            raise missing_parameter(f"{where}.name")
        if tool.name is None:
            raise invalid_type(f"{where}.name", "a string", None)
        if not tool.name:
            raise invalid_value(
                f"{where}.name",
                f"Invalid '{where}.name': empty string. Expected a string with minimum "
                "length 1, but got an empty string instead.",
            )
        description = tool.description
        if isinstance(description, str) and len(description) > MAX_TOOL_DESCRIPTION:
            raise Refusal(
                "string_above_max_length",
                f"Invalid '{where}.description': string too long. Expected a string with "
                f"maximum length {MAX_TOOL_DESCRIPTION}, but got a string with length "
                f"{len(description)} instead.",
                f"{where}.description",
            )
        parameters = tool.parameters
        if parameters is not None and parameters is not UNSET and type(parameters) is not dict:
            raise invalid_type(f"{where}.parameters", "an object", parameters)
        out.append(
            Tool(type="function", name=tool.name, description=description, parameters=parameters)
        )
    return tuple(out)


def check_tool_choice(choice: str, path: str, tools: tuple[Tool, ...]) -> str:
    """``auto``, ``none``, ``required``, or the name of one of ``tools`` [inf]."""
    names = [t.name for t in tools if isinstance(t.name, str)]
    if choice not in TOOL_CHOICES and choice not in names:
        raise invalid_enum(path, choice, [*TOOL_CHOICES, *names])
    return choice


def check_metadata(value: Mapping[str, str], path: str) -> dict[str, str]:
    """At most 16 pairs; keys up to 64 characters, values up to 512 (7)."""
    if len(value) > MAX_METADATA_PAIRS:
        raise invalid_value(
            path,
            f"Invalid '{path}': too many properties. Expected an object with at most "
            f"{MAX_METADATA_PAIRS} properties, but got an object with {len(value)} "
            "properties instead.",
        )
    for key, item in value.items():
        for what, text, limit in (
            ("key", key, MAX_METADATA_KEY),
            ("value", item, MAX_METADATA_VALUE),
        ):
            if len(text) > limit:
                raise Refusal(
                    "string_above_max_length",
                    f"Invalid '{path}': metadata {what} too long. Expected a string with "
                    f"maximum length {limit}, but got a string with length {len(text)} "
                    "instead.",
                    f"{path}.{key}",
                )
    return dict(value)
