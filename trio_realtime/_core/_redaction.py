"""Redaction of secrets from recorded frames, by parsing, never by pattern over the raw bytes.

What counts as a secret in a frame:

* the value of any key whose name holds ``secret`` (``client_secret`` above all: a session's
  ephemeral key), or is ``api_key``, ``apikey``, ``api-key``, ``authorization`` or
  ``password``, case aside, at any depth, whatever the value's type: an object keeps its
  shape (and its numeric ``expires_at``) with every other value replaced, a bare value is
  replaced, ``null`` stays ``null``. Key names are compared after JSON unescaping, so
  ``client\\u005fsecret`` is ``client_secret``;
* anywhere in any string: an API key the :class:`Redactor` was given (the session's own, so
  an error message that echoes it is caught), and anything shaped like an OpenAI key
  (``sk-...``, ``ek_...``: 16 or more key characters after the prefix).

A frame that is not JSON (a text frame the session could not decode, a binary frame) cannot
be walked: the keys and key-shaped strings in it are replaced, and if it mentions a secret
field at all, the whole frame is.

Parsing every frame would cost ten times what recording an audio delta costs, so
:meth:`Redactor.screen` first looks at the raw bytes for anything that could need redacting,
with single-byte searches (``memchr``) rather than a scan per word: a backslash (an escape
can spell any key name or key, so it sends the frame down the parsing path), each ``-`` and
``_`` (a key-shaped string starts ``sk-`` or ``ek_``), and each ``:`` (the key before it).
Base64 audio has none of these characters, so a 6.5 KB delta costs a few microseconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final, final

__all__ = ["REDACTED", "Redactor"]

REDACTED: Final = "<redacted>"
_SECRET_KEY_NAMES: Final = frozenset({"api_key", "apikey", "api-key", "authorization", "password"})
_SECRET_KEY_NAMES_BYTES: Final = frozenset(name.encode() for name in _SECRET_KEY_NAMES)
_WHITESPACE: Final = b" \t\r\n"
#: What an OpenAI key looks like: standard and project keys, ephemeral session keys.
_KEY_SHAPED: Final = re.compile(r"(?<![A-Za-z0-9_-])(?:sk-|ek_)[A-Za-z0-9_-]{16,}")
#: Fields of a secret's object that are not secret.
_KEPT_IN_SECRETS: Final = frozenset({"expires_at"})
#: Known secrets shorter than this are not looked for.
_MIN_SECRET_LENGTH: Final = 8
#: A secret's value nested deeper than this is replaced whole.
_MAX_SECRET_DEPTH: Final = 8


def _is_secret_key(name: str) -> bool:
    lowered = name.lower()
    return "secret" in lowered or lowered in _SECRET_KEY_NAMES


@final
class Redactor:
    """Finds and replaces secrets in frames.

    Args:
        secrets: Strings that must never be written (an API key). Ones shorter than 8
            characters are not looked for: they would match ordinary text (ids, words),
            and no real key is that short.
    """

    __slots__ = ("_secrets", "_secrets_bytes")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        kept = {s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}
        self._secrets = tuple(sorted(kept, key=len, reverse=True))
        self._secrets_bytes = tuple(s.encode() for s in self._secrets)

    def screen(self, data: bytes) -> bool:
        """Whether ``data``, a JSON text, may hold something to redact (False: it certainly
        does not)."""
        if b"\\" in data or any(secret in data for secret in self._secrets_bytes):
            return True
        for separator, prefix in ((b"-", b"sk"), (b"_", b"ek")):
            at = data.find(separator)
            while at != -1:
                if data[at - 2 : at] == prefix:
                    return True
                at = data.find(separator, at + 1)
        # Without escapes, every key is `"name"` followed by optional whitespace and a colon.
        at = data.find(b":")
        while at != -1:
            end = at - 1
            while end >= 0 and data[end] in _WHITESPACE:
                end -= 1
            if end > 0 and data[end] == 0x22:  # a closing quote: a key ends there
                name = data[data.rfind(b'"', 0, end) + 1 : end].lower()
                if b"secret" in name or name in _SECRET_KEY_NAMES_BYTES:
                    return True
            at = data.find(b":", at + 1)
        return False

    def scrub_string(self, text: str) -> str:
        """``text`` with every known secret and key-shaped string replaced."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _KEY_SHAPED.sub(REDACTED, text) if ("sk-" in text or "ek_" in text) else text

    def scrub_json(self, value: Any) -> Any:
        """A parsed JSON value with every secret replaced (walked without recursion, so any
        nesting depth JSON allows is fine). Containers are changed in place."""
        if isinstance(value, str):
            return self.scrub_string(value)
        todo: list[Any] = [value]
        while todo:
            node = todo.pop()
            if isinstance(node, dict):
                for key, item in node.items():
                    if _is_secret_key(key):
                        node[key] = _blanked(item)
                    elif isinstance(item, str):
                        node[key] = self.scrub_string(item)
                    elif isinstance(item, dict | list):
                        todo.append(item)
            elif isinstance(node, list):
                for index, item in enumerate(node):
                    if isinstance(item, str):
                        node[index] = self.scrub_string(item)
                    elif isinstance(item, dict | list):
                        todo.append(item)
        return value

    def scrub_opaque(self, text: str) -> str:
        """A frame that is not JSON: its secrets replaced; all of it if it names a secret
        field (its structure cannot be trusted to say where the value ends)."""
        lowered = text.lower()
        if "secret" in lowered or any(name in lowered for name in _SECRET_KEY_NAMES):
            return REDACTED
        return self.scrub_string(text)


def _blanked(value: Any, depth: int = 0) -> Any:
    """A secret's value with everything in it replaced but ``null``, booleans and the numeric
    fields that are not secret (``expires_at``); nested deeper than any real one, replaced
    whole."""
    if value is None or isinstance(value, bool):
        return value
    if depth >= _MAX_SECRET_DEPTH:
        return REDACTED
    if isinstance(value, dict):
        return {
            key: item
            if key in _KEPT_IN_SECRETS and isinstance(item, int | float)
            else _blanked(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_blanked(item, depth + 1) for item in value]
    return REDACTED
