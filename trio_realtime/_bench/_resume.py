"""The ``resume`` scenario: sessions that outlive their connections, under load.

``trio-realtime bench --scenario resume`` runs N sessions with ``connect(resume=...)`` against
the reference server in its own process, started with a short session limit
(``--session-seconds``, 20 s) so every session recycles before each expiry, through a TCP
proxy in the harness that resets one connection at random every ``--drop-every`` seconds (an
RST, as a network or a crashed server would). Each session streams silence at real time (100
ms appends, server VAD on), asks for a text reply every ``--turn-every`` seconds, and reads its
stream. The report gives, per cause (``recycled``, ``connection lost``, ``session_expired``):
how many resumes, the time each took (``SessionResumed.gap_s``: from the loss, or the start of
a recycle, until the new connection took over; a loss's includes its backoff) as p50 / p90 /
p99 / max, the attempts, what was replayed (items, audio as text); and what was lost: the
replies interrupted by a drop, the notices' ``lost`` lines, sessions that ended, and, checked
at the end against each session's own conversation, user turns missing or duplicated.

The proxy runs in the harness's process, in its one trio loop with the clients: the resume
times include its forwarding, which a real network would do elsewhere.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
from collections.abc import AsyncIterator, Callable
from typing import Any, Final
from urllib.parse import urlsplit

import attrs
import trio

from .._core._audio import silence
from .._core._events import ConversationItem, Session, SessionUpdate
from .._session._client import connect
from .._session._resume_policy import ResumePolicy, SessionResumed
from .._wire._errors import ConnectionClosed
from ._environment import load_average
from ._processes import BenchError, ServerProcess
from ._stats import Histogram

__all__ = ["ResumeWorkload", "render_resume", "run_resume"]

#: The model the sessions ask for.
_MODEL: Final = "gpt-4o-realtime-preview"
_TEXT: Final = Session(modalities=["text"])


@attrs.frozen(kw_only=True)
class ResumeWorkload:
    """The settings of a ``resume`` run.

    Attributes:
        sessions: Concurrent sessions.
        window: Seconds every session runs after connecting.
        session_seconds: The embedded server's session limit; sessions recycle a quarter of
            it before each expiry.
        drop_every: Seconds between two connection resets by the proxy (``0``: none).
        turn_every: Seconds between two replies each session asks for.
        ramp: Seconds over which the sessions start.
    """

    sessions: int = 50
    window: float = 30.0
    session_seconds: float = 20.0
    drop_every: float = 1.0
    turn_every: float = 3.0
    ramp: float = 2.0


@attrs.define
class _Tally:
    """What every session saw, pooled."""

    gaps: dict[str, Histogram] = attrs.Factory(dict)
    attempt_ms: dict[str, Histogram] = attrs.Factory(dict)
    attempts: Histogram = attrs.Factory(Histogram)
    replayed: Histogram = attrs.Factory(Histogram)
    causes: dict[str, int] = attrs.Factory(dict)
    as_text: int = 0
    resent: int = 0
    lost_lines: list[str] = attrs.Factory(list)
    lost_input_ms: float = 0.0
    interrupted_requests: int = 0
    turns: int = 0
    completed: int = 0
    interrupted: int = 0
    failed: int = 0
    missing: int = 0
    duplicated: int = 0
    sessions_ended: list[str] = attrs.Factory(list)
    connected: int = 0

    def notice(self, notice: SessionResumed) -> None:
        cause = "connection lost" if notice.cause.startswith("keepalive") else notice.cause
        self.causes[cause] = self.causes.get(cause, 0) + 1
        self.gaps.setdefault(cause, Histogram()).record(notice.gap_s * 1000)
        self.attempt_ms.setdefault(cause, Histogram()).record(notice.attempt_s * 1000)
        self.attempts.record(notice.attempts)
        self.replayed.record(len(notice.items_replayed))
        self.as_text += len(notice.items_as_text)
        self.resent += len(notice.resent)
        self.lost_lines.extend(notice.lost)
        self.lost_input_ms += notice.lost_input_audio_ms
        self.interrupted_requests += len(notice.interrupted_requests)


class _Proxy:
    """Forwards TCP connections to the server; resets one at random on demand."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self._upstream = upstream
        self._links: list[tuple[trio.SocketStream, trio.CancelScope]] = []
        self.port = 0
        self.resets = 0

    async def serve(
        self, task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        await trio.serve_listeners(self._link, listeners, task_status=task_status)

    async def _link(self, client: trio.SocketStream) -> None:
        try:
            server = await trio.open_tcp_stream(*self._upstream)
        except OSError:
            await client.aclose()
            return
        scope = trio.CancelScope()
        entry = (client, scope)
        self._links.append(entry)
        try:
            with scope:
                async with client, server, trio.open_nursery() as nursery:
                    nursery.start_soon(_pipe, client, server)
                    nursery.start_soon(_pipe, server, client)
        finally:
            self._links.remove(entry)

    def reset_one(self, rng: random.Random) -> None:
        """An RST to one client, chosen at random (if any is connected)."""
        if not self._links:
            return
        client, scope = rng.choice(self._links)
        with contextlib.suppress(OSError):
            client.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.socket.close()
        scope.cancel()
        self.resets += 1


async def _pipe(source: trio.SocketStream, sink: trio.SocketStream) -> None:
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        async for data in source:
            await sink.send_all(data)
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        await sink.send_eof()


async def _silence() -> AsyncIterator[bytes]:
    chunk = silence(100)
    while True:
        yield chunk


async def _session(n: int, url: str, api_key: str, workload: ResumeWorkload, tally: _Tally) -> None:
    """One session: stream, ask, read; then check its conversation."""
    policy = ResumePolicy(recycle_before=workload.session_seconds / 4, seed=n, max_gap=30)
    rng = random.Random(n)
    asked: list[str] = []
    try:
        async with connect(model=_MODEL, url=url, api_key=api_key, resume=policy) as session:
            tally.connected += 1
            await session.request(SessionUpdate(session=_TEXT))
            async with trio.open_nursery() as nursery:

                async def read() -> None:
                    async for event in session:
                        if isinstance(event, SessionResumed):
                            tally.notice(event)

                nursery.start_soon(read)
                await session.stream_audio(_silence(), realtime=True)
                end = trio.current_time() + workload.window
                await trio.sleep(rng.uniform(0, workload.turn_every))
                while trio.current_time() < end:
                    text = f"session {n} turn {len(asked)}"
                    asked.append(text)
                    tally.turns += 1
                    await session.create_item(ConversationItem.user_text(text))
                    handle = await session.create_response()
                    result = await handle.done(timeout=60)
                    if result.status == "completed":
                        tally.completed += 1
                    elif result.status == "interrupted":
                        tally.interrupted += 1
                    else:
                        tally.failed += 1
                    await trio.sleep(workload.turn_every)
                said = [item.text for item in session.conversation.items if item.role == "user"]
                tally.missing += sum(1 for text in asked if text not in said)
                tally.duplicated += len(said) - len(set(said))
                nursery.cancel_scope.cancel()
    except (ConnectionClosed, trio.TooSlowError, OSError) as exc:
        tally.sessions_ended.append(f"session {n}: {type(exc).__name__}: {exc}")


async def run_resume(
    workload: ResumeWorkload,
    *,
    api_key: str,
    url: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the scenario and return its report (see the module docstring).

    Raises:
        BenchError: The embedded server did not start, or no session connected.
    """
    tally = _Tally()
    load_before = load_average()
    rng = random.Random(16)
    async with trio.open_nursery() as nursery:
        server = None
        if url is None:
            server = await ServerProcess.start(
                "reference", extra=("--session-seconds", f"{workload.session_seconds:g}")
            )
            url = server.url
        host, port = _host_port(url)
        proxy = _Proxy((host, port))
        await nursery.start(proxy.serve)
        proxied = url.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}", 1)
        started = trio.current_time()
        try:
            async with trio.open_nursery() as sessions:
                for n in range(workload.sessions):
                    sessions.start_soon(_session, n, proxied, api_key, workload, tally)
                    if workload.ramp:
                        await trio.sleep(workload.ramp / workload.sessions)
                if workload.drop_every:
                    while trio.current_time() - started < workload.ramp + workload.window:
                        await trio.sleep(workload.drop_every)
                        proxy.reset_one(rng)
                        if progress is not None:
                            progress(
                                f"{trio.current_time() - started:5.1f} s: "
                                f"{sum(tally.causes.values())} resumes, {proxy.resets} resets"
                            )
        finally:
            if server is not None:
                with trio.CancelScope(shield=True):
                    await server.stop()
            nursery.cancel_scope.cancel()
    if not tally.connected:
        raise BenchError("no session connected")
    return _report(workload, tally, proxy.resets, load_before)


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise BenchError(f"the resume scenario needs a URL with a port, not {url!r}")
    return parts.hostname, parts.port


def _report(
    workload: ResumeWorkload, tally: _Tally, resets: int, load_before: list[float] | None
) -> dict[str, Any]:
    return {
        "scenario": "resume",
        "workload": attrs.asdict(workload),
        "resets": resets,
        "resumes": {
            cause: {
                "count": tally.causes[cause],
                "gap_ms": tally.gaps[cause].summary(),
                "attempt_ms": tally.attempt_ms[cause].summary(),
            }
            for cause in sorted(tally.causes)
        },
        "attempts": tally.attempts.summary(),
        "replayed_items": tally.replayed.summary(),
        "replayed_as_text": tally.as_text,
        "resent": tally.resent,
        "turns": {
            "asked": tally.turns,
            "completed": tally.completed,
            "interrupted": tally.interrupted,
            "failed": tally.failed,
        },
        "lost": {
            "user_turns_missing": tally.missing,
            "user_turns_duplicated": tally.duplicated,
            "notice_lines": len(tally.lost_lines),
            "notice_examples": sorted(set(tally.lost_lines))[:5],
            "interrupted_requests": tally.interrupted_requests,
            "uncommitted_input_ms": round(tally.lost_input_ms, 1),
            "sessions_ended": tally.sessions_ended[:10],
        },
        "connected": tally.connected,
        "load_average": {"before": load_before, "after": load_average()},
    }


def render_resume(report: dict[str, Any]) -> str:
    """The report as a table."""
    w = report["workload"]
    lines = [
        f"trio-realtime bench: scenario resume ({w['sessions']} sessions, {w['window']:g} s "
        f"each, server limit {w['session_seconds']:g} s, a reset every {w['drop_every']:g} s, "
        f"a reply every {w['turn_every']:g} s per session, silence streamed at real time)",
        "",
        "resume time (gap_s: loss to take-over, backoff included; attempt_s: connect and",
        "replay only), milliseconds:",
        f"{'cause':<18}{'resumes':>8}{'':>3}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}",
    ]
    for cause, data in report["resumes"].items():
        for label, key in (("gap", "gap_ms"), ("attempt", "attempt_ms")):
            values = data[key]
            count = str(data["count"]) if label == "gap" else ""
            lines.append(
                f"{cause if label == 'gap' else '':<18}{count:>8} {label:>9}"
                + "".join(f"{_ms(values[k]):>8}" for k in ("p50", "p90", "p99", "max"))
            )
    turns, lost = report["turns"], report["lost"]
    attempts, replayed = report["attempts"], report["replayed_items"]
    lines += [
        "",
        f"resets by the proxy: {report['resets']}; attempts per resume: p50 "
        f"{_n(attempts['p50'])}, max {_n(attempts['max'])}",
        f"replayed per resume: p50 {_n(replayed['p50'])} items, max {_n(replayed['max'])}; "
        f"audio items as text: {report['replayed_as_text']}; events sent again: "
        f"{report['resent']}",
        f"replies asked {turns['asked']}: completed {turns['completed']}, interrupted by a "
        f"reset {turns['interrupted']}, failed {turns['failed']}",
        f"lost: user turns missing {lost['user_turns_missing']}, duplicated "
        f"{lost['user_turns_duplicated']}; notice lines {lost['notice_lines']}; requests "
        f"not carried over {lost['interrupted_requests']}; uncommitted input audio "
        f"{lost['uncommitted_input_ms']} ms; sessions ended {len(lost['sessions_ended'])}",
    ]
    lines += [f"  {line}" for line in lost["notice_examples"] + lost["sessions_ended"]]
    load = report["load_average"]
    lines.append(f"load average before {load['before']}, after {load['after']}")
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _n(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"
