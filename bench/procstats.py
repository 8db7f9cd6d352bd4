"""What a process costs, read from /proc (Linux), and what machine it runs on."""

from __future__ import annotations

import os
import platform
from collections.abc import Collection
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MiB = 1024 * 1024


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")


def peak_rss_mib(pid: int) -> float:
    """Peak resident memory so far (VmHWM), in MiB."""
    return _status_kib(pid, "VmHWM") / 1024


def rss_mib(pid: int) -> float:
    """Resident memory now (VmRSS), in MiB."""
    return _status_kib(pid, "VmRSS") / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime


def tree_cpu_seconds(pid: int, exclude: Collection[int] = ()) -> float:
    """CPU time of a process and of its children alive now (a server and its backends),
    except the children in `exclude`."""
    total = cpu_seconds(pid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and int(stat.parent.name) not in exclude:  # ppid
            total += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return total


def machine() -> str:
    """One line: cores, CPU model, Python version."""
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return (
        f"{os.cpu_count()} cores ({model}), {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()} {platform.release()}"
    )
