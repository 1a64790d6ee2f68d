"""Peer conformance: clients no one here wrote, against the local reference server.

Not part of the test suite (pytest collects ``test_*.py`` only, and this needs the network
for its installs). Run it from the repository root::

    python tests/peers/run.py [--work DIR] [--clients openai-sdk,openai-agents,livekit,openai-node]
                              [--realistic]

For each client it makes an environment of its own under ``DIR`` (a fresh temporary
directory by default; with ``--work`` the environments are kept and reused): a virtual
environment with the client pinned from PyPI, or for the Node SDK a directory with the npm
packages. Then it starts ``trio-realtime serve`` from this checkout on a free port (paced with
``--realistic``) and runs each client's driver (``drive_*.py`` / ``drive_openai_node.mjs``
beside this file) through three scenarios, each on a fresh connection:

* **text**: a user text item and ``response.create`` (text only); the reply must be the
  simulated model's ``You said: hello peers``;
* **audio**: speech then silence as 100 ms appends; server VAD (semantic VAD for
  openai-agents, which asks for it) must end the turn and the reply must come with audio;
* **tool**: a ``get_weather`` tool, a user text naming it, the client's answer to the call,
  and a follow-up reply that repeats the tool's output.

The openai Node SDK always connects with ``wss://``, so its driver goes through a TLS proxy
that this script runs in front of the server, with the test certificate of
``tests/fake_server.py`` (trusted through ``NODE_EXTRA_CA_CERTS``).

It prints one table row per client and exits 0 when every scenario passed. Nothing it
installs or writes lands in the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import attrs
import trio

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fake_server import TEST_CERT_PEM, server_ssl_context  # noqa: E402

from trio_realtime.audio import silence, speech_like  # noqa: E402

SCENARIOS = ("text", "audio", "tool")
INSTALL_SECONDS = 900.0
DRIVER_SECONDS = 240.0


@attrs.frozen
class Client:
    """One foreign client: what to install and which driver runs it."""

    label: str
    packages: tuple[str, ...]
    driver: str
    node: bool = False


CLIENTS = {
    "openai-sdk": Client(
        "openai Python SDK 1.68.2, client.beta.realtime.connect",
        ("openai[realtime]==1.68.2",),
        "drive_openai_sdk.py",
    ),
    "openai-agents": Client(
        "openai-agents 0.2.11, RealtimeRunner (openai 1.x)",
        ("openai-agents[realtime]==0.2.11",),
        "drive_openai_agents.py",
    ),
    "livekit": Client(
        "livekit-plugins-openai 1.2.18, RealtimeModelBeta (livekit-agents 1.2.18)",
        (
            "livekit-plugins-openai==1.2.18",
            "livekit-agents==1.2.18",
            "openai[realtime]>=1.107.2,<2",
        ),
        "drive_livekit.py",
    ),
    "openai-node": Client(
        "openai Node SDK 4.104.0, OpenAIRealtimeWS (ws 8), over wss://",
        ("openai@4.104.0", "ws@8"),
        "drive_openai_node.mjs",
        node=True,
    ),
}


@attrs.define
class Outcome:
    """What one client did: per scenario ``(ok, detail)``; or why it could not run."""

    results: dict[str, tuple[bool, str]] = attrs.Factory(dict)
    setup_error: str | None = None


# --- environments --------------------------------------------------------------------------------


async def prepare(client: Client, home: Path) -> list[str]:
    """Install ``client`` under ``home`` (once); the command that runs its driver."""
    marker = trio.Path(home / ".installed")
    wanted = "\n".join(client.packages)
    installed = await marker.exists() and await marker.read_text() == wanted
    driver = str(HERE / client.driver)
    if client.node:
        if not installed:
            await trio.Path(home).mkdir(parents=True, exist_ok=True)
            await trio.Path(home / "package.json").write_text('{"private": true}\n')
            await _run(["npm", "install", "--no-audit", "--no-fund", *client.packages], cwd=home)
            await marker.write_text(wanted)
        return ["node", driver]
    python = home / "bin" / "python"
    if not installed:
        await _run([sys.executable, "-m", "venv", "--clear", str(home)], cwd=home.parent)
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        await _run([*pip, *client.packages], cwd=home)
        await marker.write_text(wanted)
    return [str(python), driver]


async def _run(command: Sequence[str], *, cwd: Path) -> None:
    with trio.fail_after(INSTALL_SECONDS):
        done = await trio.run_process(
            list(command), cwd=cwd, capture_stdout=True, capture_stderr=True, check=False
        )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"{' '.join(command[:4])}... failed: {' | '.join(tail)}")


# --- the server and the TLS proxy ----------------------------------------------------------------


async def start_server(nursery: trio.Nursery, *, realistic: bool) -> tuple[trio.Process, int]:
    """``trio-realtime serve --port 0`` from this checkout; its process and port."""
    command = [sys.executable, "-m", "trio_realtime", "serve", "--port", "0"]
    if realistic:
        command.append("--realistic")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    process: trio.Process = await nursery.start(
        partial(trio.run_process, command, env=env, stdout=subprocess.PIPE, check=False)
    )
    assert process.stdout is not None
    line = b""
    with trio.fail_after(30):
        while not line.endswith(b"\n"):
            chunk = await process.stdout.receive_some(1)
            if not chunk:
                raise RuntimeError("the server exited before it listened")
            line += chunk
    port = int(line.decode().strip().rsplit(":", 1)[1].split("/", 1)[0])
    nursery.start_soon(_drain, process.stdout)
    return process, port


async def _drain(stream: trio.abc.ReceiveStream) -> None:
    while await stream.receive_some():
        pass


async def tls_proxy(
    target_port: int, context: ssl.SSLContext, *, task_status: trio.TaskStatus[int]
) -> None:
    """Terminate TLS on a free loopback port and relay each connection to ``target_port``."""

    async def relay(tls: trio.SSLStream[trio.SocketStream]) -> None:
        plain = await trio.open_tcp_stream("127.0.0.1", target_port)
        async with tls, plain, trio.open_nursery() as nursery:

            async def pump(source: trio.abc.Stream, sink: trio.abc.Stream) -> None:
                try:
                    while data := await source.receive_some(65536):
                        await sink.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
                nursery.cancel_scope.cancel()

            nursery.start_soon(pump, tls, plain)
            nursery.start_soon(pump, plain, tls)

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    tls_listeners = [trio.SSLListener(listener, context) for listener in listeners]
    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, relay, tls_listeners)
        task_status.started(port)


# --- drivers -------------------------------------------------------------------------------------


async def drive(
    command: list[str], url: str, audio: Path, *, cwd: Path, env: dict[str, str]
) -> Outcome:
    with trio.move_on_after(DRIVER_SECONDS) as scope:
        done = await trio.run_process(
            [*command, url, str(audio)],
            cwd=cwd,
            env=env,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    outcome = Outcome()
    if scope.cancelled_caught:
        outcome.setup_error = f"the driver did not finish within {DRIVER_SECONDS:g} s"
        return outcome
    for line in done.stdout.decode(errors="replace").splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line.removeprefix("RESULT "))
            outcome.results[result["scenario"]] = (bool(result["ok"]), str(result["detail"]))
    if not outcome.results:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        outcome.setup_error = f"no results (exit {done.returncode}): {' | '.join(tail)}"
    return outcome


def print_table(outcomes: dict[str, Outcome]) -> bool:
    """Print the table and the details; whether every scenario of every client passed."""
    width = max(len(name) for name in outcomes)
    print(f"{'client':<{width}}  {'text':<5} {'audio':<5} {'tool':<5}  version")
    print(f"{'-' * width}  {'-' * 5} {'-' * 5} {'-' * 5}  {'-' * 7}")
    passed = True
    for name, outcome in outcomes.items():
        marks = []
        for scenario in SCENARIOS:
            ok, _detail = outcome.results.get(scenario, (False, ""))
            passed &= ok
            marks.append(f"{'pass' if ok else 'FAIL':<5}")
        print(f"{name:<{width}}  {' '.join(marks)}  {CLIENTS[name].label}")
    print()
    for name, outcome in outcomes.items():
        if outcome.setup_error is not None:
            print(f"{name}: {outcome.setup_error}")
        for scenario in SCENARIOS:
            if scenario in outcome.results:
                ok, detail = outcome.results[scenario]
                print(f"{name} {scenario}: {'ok' if ok else 'FAILED'}: {detail}")
    return passed


def lay_out(work: Path) -> None:
    """The files every driver reads: the audio turn's speech and the proxy's certificate."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "speech.pcm").write_bytes(silence(300) + speech_like(1200, seed=3) + silence(1200))
    (work / "cert.pem").write_text(TEST_CERT_PEM)


async def main(args: argparse.Namespace) -> int:
    work: Path = args.work
    audio = work / "speech.pcm"
    names = [name.strip() for name in args.clients.split(",") if name.strip()]
    unknown = [name for name in names if name not in CLIENTS]
    if unknown:
        print(f"unknown clients: {', '.join(unknown)}; known: {', '.join(CLIENTS)}")
        return 2
    outcomes: dict[str, Outcome] = {}
    commands: dict[str, list[str]] = {}
    for name in names:  # one at a time: a machine of two cores, several installs at once crawl
        print(f"preparing {name} ...", flush=True)
        try:
            commands[name] = await prepare(CLIENTS[name], work / name)
        except Exception as exc:  # a client that cannot install is a result, not a crash
            outcomes[name] = Outcome(setup_error=f"install failed: {exc}")
    async with trio.open_nursery() as nursery:
        process, port = await start_server(nursery, realistic=args.realistic)
        tls_port = await nursery.start(tls_proxy, port, server_ssl_context(work))
        for name, command in commands.items():
            print(f"driving {name} ...", flush=True)
            client = CLIENTS[name]
            env = {k: v for k, v in os.environ.items() if k not in ("API_KEY", "OPENAI_API_KEY")}
            if client.node:
                url = f"wss://127.0.0.1:{tls_port}/v1/realtime"
                env["NODE_EXTRA_CA_CERTS"] = str(work / "cert.pem")
                cwd = work / name
            else:
                url = f"ws://127.0.0.1:{port}/v1/realtime"
                cwd = HERE
            outcomes[name] = await drive(command, url, audio, cwd=cwd, env=env)
        process.terminate()
        nursery.cancel_scope.cancel()
    print()
    return 0 if print_table({name: outcomes[name] for name in names}) else 1


def _parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, help="where the environments go (kept and reused)")
    parser.add_argument("--clients", default=",".join(CLIENTS), help="comma-separated client names")
    parser.add_argument("--realistic", action="store_true", help="serve --realistic (paced)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = _parse()
    temporary = arguments.work is None
    if temporary:
        arguments.work = Path(tempfile.mkdtemp(prefix="trio-realtime-peers-"))
    try:
        lay_out(arguments.work)
        status = trio.run(main, arguments)
    finally:
        if temporary:
            shutil.rmtree(arguments.work, ignore_errors=True)
    raise SystemExit(status)
