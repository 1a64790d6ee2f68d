"""README.rst's Python code runs as pasted.

Every ``.. code-block:: python`` block is a complete program or says on its first line that
it is a fragment (``# Fragment: ...``). Each complete one is written to a file and run as a
user would run it, with ``--url`` pointing at a local reference server this test runs (paced
like the live service, which the voice agent needs) and a key in ``API_KEY``; programs that
take no ``--url`` ignore it. A block that shows an ``examples/`` file is that file, verbatim.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import attrs
import pytest
import trio
from cli_helpers import environment

from trio_realtime.server import SimulatedEngine
from trio_realtime.testing import open_local_server

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.rst"
FRAGMENT = re.compile(r"#\s*fragment\b", re.IGNORECASE)
DEADLINE = 30.0


@attrs.frozen
class Block:
    line: int  # where the directive is, 1-based
    code: str

    @property
    def fragment(self) -> bool:
        first = next((line for line in self.code.splitlines() if line.strip()), "")
        return bool(FRAGMENT.match(first.strip()))

    @property
    def name(self) -> str:
        return f"README.rst:{self.line}"


def python_blocks(text: str) -> list[Block]:
    """The ``.. code-block:: python`` blocks of an RST text, dedented."""
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        if not re.fullmatch(r"\.\. code-block::\s*python3?\s*", lines[i]):
            i += 1
            continue
        start = i + 1
        while start < len(lines) and lines[start].strip().startswith(":"):
            start += 1  # directive options
        body = []
        j = start
        while j < len(lines) and (not lines[j].strip() or lines[j].startswith((" ", "\t"))):
            body.append(lines[j])
            j += 1
        while body and not body[-1].strip():
            body.pop()
        indents = [len(line) - len(line.lstrip()) for line in body if line.strip()]
        cut = min(indents, default=0)
        blocks.append(Block(i + 1, "\n".join(line[cut:] for line in body).strip("\n") + "\n"))
        i = j
    return blocks


BLOCKS = python_blocks(README.read_text())
COMPLETE = [block for block in BLOCKS if not block.fragment]


def test_the_readme_has_complete_programs_and_the_parser_finds_them() -> None:
    assert len(COMPLETE) >= 2, [block.name for block in BLOCKS]
    sample = ".. code-block:: python\n   :class: x\n\n    a = 1\n\n      b = 2\n\ntext\n"
    assert python_blocks(sample) == [Block(1, "a = 1\n\n  b = 2\n")]


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.name)
def test_every_block_compiles(block: Block) -> None:
    compile(block.code, block.name, "exec")


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.py")), ids=lambda p: p.name)
def test_a_block_showing_an_example_file_is_that_file(example: Path) -> None:
    text = README.read_text()
    mention = f"``examples/{example.name}``"
    if mention not in text:
        pytest.skip(f"README.rst does not show examples/{example.name}")
    after = text.index(mention)
    shown = next(block for block in BLOCKS if _offset(text, block) > after)
    assert shown.code == example.read_text()


def _offset(text: str, block: Block) -> int:
    return len("\n".join(text.splitlines()[: block.line - 1]))


@pytest.mark.slow  # the voice agent's reply is paced at real time
@pytest.mark.parametrize("block", COMPLETE, ids=lambda block: block.name)
async def test_every_complete_block_runs_against_the_local_server(
    block: Block, tmp_path: Path
) -> None:
    program = tmp_path / "block.py"
    await trio.Path(program).write_text(block.code)
    with trio.fail_after(DEADLINE):
        async with open_local_server(engine=SimulatedEngine.realistic()) as server:
            done = await trio.run_process(
                [sys.executable, str(program), "--url", server.url],
                cwd=tmp_path,
                env=environment(API_KEY="sk-readme"),
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.strip(), "a README program should show what it did"
    assert b"Traceback" not in done.stderr
