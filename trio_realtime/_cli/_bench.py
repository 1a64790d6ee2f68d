"""``trio-realtime bench``: many sessions, real latencies, the peer side by side.

::

    trio-realtime bench                                   # 50 sessions, 2 s warm-up, 10 s window
    trio-realtime bench --peer openai-sdk                 # the SDK both ways, in the same run
    trio-realtime bench --check                           # exit 5 if ours missed the target
    trio-realtime bench --sweep 150,250,350,450 --peer openai-sdk --json out.json
    trio-realtime bench --processes 2 --sessions 800      # sharded; reports 1 -> 2 scaling
    trio-realtime bench --cluster local:2 --no-scaling    # the same shards as Dask tasks
    trio-realtime bench --cluster tcp://sched:8786 --scenario turns --url wss://...
    trio-realtime bench --scenario turns --sessions 20    # spoken turns, reference server
    trio-realtime bench --scenario resume --window 60     # sessions outliving connections

By default the standard load workload runs against an embedded load server in its own
process; ``--url`` points the harness at any server instead. A default run takes about 15 s
and never waits for the machine: ``--wait-quiet`` and ``--retries`` are for record runs.
See :mod:`trio_realtime._bench` for what is measured and how.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import sys
from typing import Any, Final

import trio

from .._bench._environment import environment, load_average
from .._bench._orchestrator import BenchOptions, profile_path
from .._bench._plot import write_plot
from .._bench._processes import BenchError
from .._bench._profile import summarize
from .._bench._resume import ResumeWorkload, render_resume, run_resume
from .._bench._sweep import run_bench
from .._bench._tables import label, render_report
from .._bench._workload import BASELINES, ENGINES, PEERS, SCENARIOS, Workload
from .._wire._connection import API_KEY_ENV_VARS
from ._common import Subcommand

__all__ = ["BENCH", "EXIT_MISSED", "EXIT_STATUS_HELP", "missed_target"]

_EMBEDDED_KEY = "sk-bench-local"
#: ``--check``: our client missed the target.
EXIT_MISSED: Final = 5
#: The exit statuses of ``trio-realtime bench`` (its ``--help`` epilog).
EXIT_STATUS_HELP: Final = """exit status:
  0    the run finished (whatever its verdicts, unless --check)
  1    the harness could not run: a server or worker failed, no session connected
  2    usage error
  5    --check: our client failed at a size it ran (median p99 over --p99-ms, or a run
       with errors, missed events, or sessions that did not connect or ended early)
  130  interrupted (Ctrl-C)"""
#: The ``resume`` scenario, for ``--help`` (it runs apart from the others: _bench._resume).
_RESUME: Final = (
    "sessions with connect(resume=...) under resets and session expiries: resume times "
    "and what was lost"
)
#: What ``--peer`` names, as clients.
_PEER_CHOICES: Final[dict[str, tuple[str, ...]]] = {
    "openai-sdk": PEERS,
    **{peer: (peer,) for peer in PEERS},
}


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 100,200,300, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive integers")
    return tuple(sorted(set(sizes)))


def _positive(kind: type[float] | type[int]) -> Any:
    def parse(text: str) -> float | int:
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def _keep_audio(text: str) -> float | None:
    if text == "all":
        return None
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0 or 'all'")
    return value


def _configure(parser: argparse.ArgumentParser) -> None:
    load = parser.add_argument_group("workload")
    load.add_argument(
        "--scenario",
        choices=(*SCENARIOS, "resume"),
        default="standard",
        help="; ".join(f"{k}: {v}" for k, v in {**SCENARIOS, "resume": _RESUME}.items()),
    )
    load.add_argument("--sessions", type=_positive(int), default=50, help="sessions (50)")
    load.add_argument(
        "--handshakes", type=_positive(int), default=64, help="handshakes in flight at most (64)"
    )
    load.add_argument("--ramp", type=float, default=0.0, help="spread session starts over S s")
    load.add_argument(
        "--warmup", type=float, help="warm-up seconds (2; 4 when sweeping, as the workload says)"
    )
    load.add_argument(
        "--window", type=_positive(float), help="measured seconds (10; 20 when sweeping)"
    )
    load.add_argument("--chunk-ms", type=_positive(int), default=100, help="ms per append (100)")
    load.add_argument(
        "--speed", type=_positive(float), default=1.0, help="pacing: 1 is real time, 2 twice (1)"
    )
    load.add_argument("--speech-ms", type=_positive(int), default=1500, help="speech per turn")
    load.add_argument("--silence-ms", type=_positive(int), default=3500, help="silence per turn")
    load.add_argument("--wav", metavar="PATH", help="stream this WAV file (any rate/width)")
    load.add_argument("--model", default="gpt-4o-realtime-preview")
    load.add_argument(
        "--dialect",
        choices=("beta", "ga"),
        default="beta",
        help="the wire shape of every client: beta (default) or ga (ours with dialect='ga', "
        "the SDK peer with its GA client, client.realtime.connect)",
    )
    load.add_argument(
        "--engine",
        choices=ENGINES,
        default="simulated",
        help="turns, transcription: the embedded server's engine (simulated; speech hears "
        "and speaks for real, with the speech extra: stream real speech with --wav)",
    )
    load.add_argument(
        "--no-conversation",
        action="store_true",
        help="ours without conversation tracking (track_conversation=False)",
    )
    load.add_argument(
        "--keep-audio-seconds",
        type=_keep_audio,
        default=0.0,
        metavar="S|all",
        help="assistant audio the conversation keeps (0: counted, not kept, like the peer)",
    )
    load.add_argument(
        "--response-seconds",
        type=_positive(float),
        default=5.0,
        help="length of the load server's streamed responses (5)",
    )
    resume = parser.add_argument_group("--scenario resume")
    resume.add_argument(
        "--session-seconds",
        type=_positive(float),
        default=20.0,
        help="the embedded server's session limit: sessions recycle before it (20)",
    )
    resume.add_argument(
        "--drop-every",
        type=float,
        default=1.0,
        metavar="S",
        help="reset one connection at random every S s through a proxy (1; 0: never)",
    )
    resume.add_argument(
        "--turn-every", type=_positive(float), default=3.0, help="a reply per session every S s"
    )
    where = parser.add_argument_group("server and clients")
    where.add_argument("--url", help="a server to load instead of the embedded one")
    where.add_argument(
        "--api-key",
        help="key to send (default: $API_KEY or $OPENAI_API_KEY with --url; a dummy otherwise)",
    )
    where.add_argument(
        "--peer",
        choices=tuple(_PEER_CHOICES),
        help="also drive the same workload with the openai SDK and print the ratios: "
        "openai-sdk runs it both ways (openai-sdk-send: connection.send(model), its fast "
        "path; openai-sdk-append: input_audio_buffer.append(), its documented method) and "
        "takes every ratio against the better of the two",
    )
    where.add_argument("--peer-only", action="store_true", help="run the peer alone")
    where.add_argument(
        "--baseline",
        action="store_true",
        help="also run bare trio-websocket and bare asyncio websockets, each with orjson "
        "(untyped): what a typed layer costs on each event loop",
    )
    where.add_argument(
        "--processes",
        type=_positive(int),
        help="shard sessions over K processes (1); with --cluster, over K of its workers (all)",
    )
    where.add_argument(
        "--cluster",
        metavar="ADDRESS|local:K",
        help="run the workers as Dask tasks, one per Dask worker: on a running scheduler "
        "(tcp://host:8786), or on a local cluster of K worker processes; needs "
        "pip install 'trio-realtime[cluster]'",
    )
    where.add_argument(
        "--no-scaling",
        action="store_true",
        help="with K > 1 processes or cluster workers, skip the 1-worker run",
    )
    where.add_argument(
        "--gc-threshold",
        type=_positive(int),
        metavar="N",
        help="every client process: GC threshold N and a gc.freeze() once connected "
        "(as a long-running application would tune it; default: Python's)",
    )
    sweep = parser.add_argument_group("sweep")
    sweep.add_argument("--sweep", type=_sizes, metavar="N,N,...", help="run each size in turn")
    sweep.add_argument(
        "--refine",
        type=_positive(int),
        metavar="STEP",
        help="then bisect between each client's limit and first failure down to STEP "
        "(every client runs every size added)",
    )
    sweep.add_argument(
        "--repeats",
        type=_positive(int),
        metavar="R",
        help="runs per size and client, the clients interleaved; a size passes when the "
        "median p99 is under target and no run had a problem (1; 3 with --sweep)",
    )
    sweep.add_argument(
        "--compare-at",
        type=_positive(int),
        metavar="N",
        help="the size of the side-by-side ratios (default: the largest every client passed)",
    )
    sweep.add_argument(
        "--p99-ms", type=_positive(float), default=20.0, help="p99 delivery target (20)"
    )
    out = parser.add_argument_group("output")
    out.add_argument("--json", metavar="PATH", help="write the whole report as JSON")
    out.add_argument("--plot", metavar="PATH", help="PNG of latencies and sessions (matplotlib)")
    out.add_argument(
        "--profile", metavar="PATH", help="cProfile each client's first worker to PATH.CLIENT"
    )
    out.add_argument(
        "--tracemalloc", action="store_true", help="trace allocations until idle (memory; slow)"
    )
    out.add_argument(
        "--trace-stalls",
        action="store_true",
        help="time every task step, so the longest event-loop stalls name what ran (costs a "
        "little CPU)",
    )
    out.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    out.add_argument(
        "--check",
        action="store_true",
        help=f"exit with status {EXIT_MISSED} if our client failed at any size it ran",
    )
    record = parser.add_argument_group("record runs (opt-in; each wait and retry is announced)")
    record.add_argument(
        "--wait-quiet",
        action="store_true",
        help="before each run, wait up to 120 s for other processes to use under 10%% of a core",
    )
    record.add_argument(
        "--retries",
        type=int,
        default=0,
        metavar="K",
        help="run a window again (up to K times) when other processes used over 10%% of a "
        "core in it; the quietest is kept (0)",
    )
    parser.epilog = EXIT_STATUS_HELP
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def _api_key(args: argparse.Namespace) -> str:
    if args.api_key:
        return str(args.api_key)
    if args.url is None:
        return _EMBEDDED_KEY  # the embedded servers accept any non-empty key
    for name in API_KEY_ENV_VARS:
        if os.environ.get(name):
            return os.environ[name]
    raise ValueError("--url needs a key: --api-key, or $API_KEY / $OPENAI_API_KEY")


def options_from(args: argparse.Namespace) -> BenchOptions:
    """The :class:`BenchOptions` for parsed arguments.

    Raises:
        ValueError: Contradictory or out-of-range arguments.
    """
    sweeping = args.sweep is not None
    workload = Workload(
        scenario=args.scenario,
        sessions=args.sessions,
        handshakes=args.handshakes,
        ramp=args.ramp,
        warmup=args.warmup if args.warmup is not None else (4.0 if sweeping else 2.0),
        window=args.window if args.window is not None else (20.0 if sweeping else 10.0),
        chunk_ms=args.chunk_ms,
        speed=args.speed,
        speech_ms=args.speech_ms,
        silence_ms=args.silence_ms,
        wav=args.wav,
        model=args.model,
        track_conversation=not args.no_conversation,
        keep_audio_seconds=args.keep_audio_seconds,
        response_seconds=args.response_seconds,
        dialect=args.dialect,
        engine=args.engine,
    )
    if args.engine != "simulated" and (args.scenario == "standard" or args.url is not None):
        raise ValueError("--engine is for the turns and transcription scenarios' embedded server")
    if args.peer_only and args.peer is None:
        raise ValueError("--peer-only needs --peer openai-sdk")
    clients = (
        (("ours",) if not args.peer_only else ())
        + (_PEER_CHOICES[args.peer] if args.peer else ())
        + (BASELINES if args.baseline else ())
    )
    if args.peer is not None and importlib.util.find_spec("openai") is None:
        raise ValueError("--peer openai-sdk needs the SDK: pip install 'trio-realtime[bench]'")
    if args.baseline and not all(
        importlib.util.find_spec(name) for name in ("websockets", "trio_websocket")
    ):
        raise ValueError(
            "--baseline needs websockets and trio-websocket for its bare clients: "
            "pip install 'trio-realtime[bench]'"
        )
    if args.baseline and args.scenario == "transcription":
        raise ValueError("--baseline runs speech-to-speech sessions only")
    if args.compare_at is not None and args.compare_at not in (args.sweep or (args.sessions,)):
        raise ValueError("--compare-at must be one of the sizes run")
    if args.peer is not None and args.scenario == "transcription" and args.dialect == "beta":
        raise ValueError(
            "the openai SDK's beta realtime client cannot open transcription sessions "
            "(it always sends ?model=); run --scenario transcription with --dialect ga "
            "(its GA client can) or without --peer"
        )
    if args.refine is not None and not sweeping:
        raise ValueError("--refine needs --sweep")
    if args.wav is not None and not os.path.exists(args.wav):
        raise ValueError(f"--wav {args.wav}: no such file")
    if args.cluster is not None:
        if importlib.util.find_spec("distributed") is None:
            raise ValueError(
                "--cluster needs Dask distributed: pip install 'trio-realtime[cluster]'"
            )
        from .._bench._cluster import parse_target

        local = parse_target(args.cluster)
        if local is not None and args.processes is not None and args.processes > local:
            raise ValueError(
                f"--processes {args.processes}: --cluster {args.cluster} has {local} workers"
            )
    return BenchOptions(
        workload=workload,
        clients=clients,
        processes=args.processes or (0 if args.cluster is not None else 1),
        scaling=not args.no_scaling,
        sweep=args.sweep or (),
        refine=args.refine,
        p99_ms=args.p99_ms,
        url=args.url,
        api_key=_api_key(args),
        profile=os.path.abspath(args.profile) if args.profile else None,
        trace_memory=args.tracemalloc,
        trace_stalls=args.trace_stalls,
        progress=not args.quiet,
        repeats=args.repeats if args.repeats is not None else (3 if sweeping else 1),
        compare_at=args.compare_at,
        retries=max(0, args.retries),
        wait_quiet=args.wait_quiet,
        gc_threshold=args.gc_threshold,
        cluster=args.cluster,
    )


def _announce(run: dict[str, Any]) -> None:
    delivery = run["delivery_ms"]["p99"]
    p99 = "-" if delivery is None else f"{delivery:.2f} ms"
    print(
        f"  {label(run['client'])}: N={run['sessions']} run {run.get('repeat', 0) + 1} "
        f"x{run['processes']}p  {run['events_per_s']:,.0f} events/s  p99 {p99}  "
        f"CPU {run['cpu_percent'] or 0:.0f}%  {'pass' if run['pass'] else 'FAIL'}",
        file=sys.stderr,
        flush=True,
    )


def _print_profile(options: BenchOptions) -> None:
    for client in options.clients:
        path = profile_path(options.profile, client)
        if path is None or not os.path.exists(path):
            continue
        print(
            f"\ncProfile of {label(client)}'s first worker (last run, under the profiler), {path}:"
        )
        print(summarize(path))


def _run_resume(args: argparse.Namespace) -> int:
    workload = ResumeWorkload(
        sessions=args.sessions,
        window=args.window if args.window is not None else 30.0,
        session_seconds=args.session_seconds,
        drop_every=max(0.0, args.drop_every),
        turn_every=args.turn_every,
        ramp=args.ramp or 2.0,
    )

    def progress(line: str) -> None:
        if not args.quiet:
            print(f"\r{line}", end="", file=sys.stderr, flush=True)

    try:
        report = trio.run(
            functools.partial(
                run_resume, workload, api_key=_api_key(args), url=args.url, progress=progress
            ),
            restrict_keyboard_interrupt_to_checkpoints=True,
        )
    except BenchError as exc:
        print(f"trio-realtime bench: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(file=sys.stderr)
    report["environment"] = environment()
    print(render_resume(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"\nJSON report written to {args.json}")
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.scenario == "resume":
        return _run_resume(args)
    try:
        options = options_from(args)
    except ValueError as exc:
        print(f"trio-realtime bench: {exc}", file=sys.stderr)
        return 2
    load_before = load_average()
    try:
        # Ctrl-C (in a group or bare) is reported by trio_realtime._cli._main: exit 130.
        report = trio.run(
            run_bench, options, _announce, restrict_keyboard_interrupt_to_checkpoints=True
        )
    except BenchError as exc:
        print(f"trio-realtime bench: {exc}", file=sys.stderr)
        return 1
    report["environment"] = environment()
    report["environment"]["load_average_before"] = load_before
    print(render_report(report))
    traced = [line for run in report["runs"] for line in run["traced_top"]]
    if traced:
        print("\nLargest idle allocations (tracemalloc, per session):")
        print("\n".join(traced[:8]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"\nJSON report written to {args.json}")
    if args.plot:
        print(write_plot(report, args.plot))
    if options.profile:
        _print_profile(options)
    if args.check and missed_target(report):
        print(
            "trio-realtime bench: --check: our client missed the target "
            f"(see the verdicts above); exit status {EXIT_MISSED}",
            file=sys.stderr,
        )
        return EXIT_MISSED
    return 0


def missed_target(report: dict[str, Any]) -> bool:
    """Whether our client failed at any size it ran (what ``--check`` tests)."""
    return any(not v["pass"] for v in report["verdicts"] if v["client"] == "ours")


BENCH = Subcommand(
    help="benchmark: many concurrent sessions, real latencies, the openai SDK side by side",
    configure=_configure,
    run=_run,
)
"""The ``bench`` subcommand."""
