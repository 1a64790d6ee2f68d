"""CPU and memory of processes, read from ``/proc`` (Linux), apart for each process."""

from __future__ import annotations

import os
import time
from typing import Final

import attrs

__all__ = ["CpuMeter", "cpu_seconds", "cpu_times", "machine_busy_seconds", "memory_kib"]

_CLK_TCK: Final = os.sysconf("SC_CLK_TCK")


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process so far, from ``/proc/<pid>/stat``."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / _CLK_TCK, int(fields[12]) / _CLK_TCK  # utime, stime (14, 15)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    return sum(cpu_times(pid))


def memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak RSS) of a process, in KiB, from ``/proc/<pid>/status``."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def machine_busy_seconds() -> float:
    """CPU time all processes of the machine have used so far (``/proc/stat``), in seconds."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq = map(int, f.readline().split()[1:8])
    return (user + nice + system + irq + softirq) / _CLK_TCK


@attrs.define
class CpuMeter:
    """CPU of a set of processes between :meth:`start` and :meth:`stop`, in % of one core."""

    pids: list[int]
    system_only: bool = False
    _cpu: float = 0.0
    _wall: float = 0.0

    def _now(self) -> float:
        return sum(cpu_times(p)[1] if self.system_only else cpu_seconds(p) for p in self.pids)

    def start(self) -> None:
        self._cpu = self._now()
        self._wall = time.monotonic()

    def stop(self) -> float:
        return 100.0 * (self._now() - self._cpu) / max(time.monotonic() - self._wall, 1e-9)
