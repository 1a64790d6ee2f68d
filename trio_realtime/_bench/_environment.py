"""Where a run happened: the machine, the versions, the commit, the load around it.

Stored with every report, so a figure can be traced to what produced it and judged by how
busy the machine was.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["clock_id", "commit", "environment", "is_this_machine", "load_average"]

_PACKAGES = (
    "trio-realtime",
    "trio",
    "trio-websocket",
    "orjson",
    "attrs",
    "cattrs",
    "openai",
    "pydantic",
    "websockets",
)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_mib() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


@functools.cache
def clock_id() -> str:
    """Which ``time.monotonic()`` clock this process reads: the kernel's boot id on Linux.

    Processes under one kernel (containers included) share CLOCK_MONOTONIC, so a time stamped
    by one can be subtracted from a time read by another exactly when their ids are equal.
    Where there is no boot id, the host name stands in for it.
    """
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f"boot:{f.read().strip()}"
    except OSError:
        return f"host:{socket.gethostname()}"


def is_this_machine(host: str) -> bool:
    """Whether ``host`` (a name or an address) is one of this machine's own addresses.

    Loopback names and addresses are; any other address is when a socket can be bound to it
    (binding needs a local address), so nothing is sent anywhere.
    """
    host = host.strip("[]")
    if host in ("localhost", ""):
        return True
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except OSError:
        return False
    for family, kind, proto, _name, address in infos:
        if ipaddress.ip_address(address[0]).is_loopback:
            return True
        try:
            with socket.socket(family, kind, proto) as probe:
                probe.bind((address[0], 0))
        except OSError:
            continue
        return True
    return False


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (``None`` where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def commit() -> dict[str, Any] | None:
    """The git commit of the code that ran (and whether its tree had changes), when the package
    runs from a checkout."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"sha": head, "dirty": bool(status.strip())}


def environment() -> dict[str, Any]:
    """The machine, Python, the versions that matter, the commit and the load average."""
    versions = {name.replace("-", "_"): _version(name) for name in _PACKAGES}
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_mib": _memory_mib(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        **versions,
        "commit": commit(),
        "load_average": load_average(),
    }
