"""The package's layers import only downward, and the sans-I/O core never touches trio.

Layers, lowest first: ``_core`` (events, codec, audio, conversation: no I/O), ``_wire``
(framing, sockets, the WebSocket), ``_session`` (the client session), ``server`` (the reference
server), ``_bench`` (the harness), ``_cli`` (the command). The public modules at the top
(``trio_realtime``, ``audio``, ``events``, ``testing``) may import any layer; no layer imports
them.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

import trio_realtime

PACKAGE = pathlib.Path(trio_realtime.__file__).parent
LAYERS = ("_core", "_wire", "_session", "server", "_bench", "_cli")


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: pathlib.Path) -> set[str]:
    """Every trio_realtime module ``path`` imports, as absolute dotted names."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module.startswith("trio_realtime"):
                found.add(module)
                found.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("trio_realtime"))
    return found


def _layer(module: str) -> int | None:
    """The layer index of a module, or None for the public modules at the top."""
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in LAYERS:
        return None
    return LAYERS.index(parts[1])


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: _module_name(p))
def test_imports_only_go_down(path: pathlib.Path) -> None:
    own = _layer(_module_name(path))
    if own is None:
        return  # the public face may import any layer
    upward = []
    for module in _imports(path):
        other = _layer(module)
        if module == "trio_realtime" or (other is None and module.count(".") == 1):
            if module.split(".")[-1] in {"trio_realtime", "audio", "events", "testing"}:
                upward.append(module)
            continue
        if other is not None and other > own:
            upward.append(module)
    assert not upward, f"{_module_name(path)} imports from a higher layer: {sorted(upward)}"


@pytest.mark.parametrize(
    "path", sorted((PACKAGE / "_core").rglob("*.py")), ids=lambda p: _module_name(p)
)
def test_the_core_does_no_io(path: pathlib.Path) -> None:
    tree = ast.parse(path.read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and not node.level
    }
    assert not imported & {"trio", "socket", "ssl", "asyncio", "trio_websocket"}
