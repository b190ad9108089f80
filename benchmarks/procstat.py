"""CPU time and memory of a process tree, and of the whole machine, read from ``/proc`` (Linux only).

The loader measures the server under test from the outside: the user + system time of its process and of every
descendant (a server may fork workers), its resident memory, and the machine's total busy time, so that a result
can say how much of the machine other jobs took while it ran. No third-party package: ``/proc`` has it all.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (every thread's list: a child belongs to the thread that forked it)."""
    out: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in threads:
        try:
            out.extend(int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split())
        except OSError:
            continue
    return out


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants that still exist."""
    found: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        if os.path.exists(f"/proc/{p}"):
            found.append(p)
            todo.extend(children(p))
    return found


def proc_cpu(pid: int) -> float:
    """User + system seconds of one process (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # the command name (field 2) may hold spaces and parentheses: count fields after its closing one
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime and stime, fields 14 and 15 of proc(5)


def tree_cpu(pid: int) -> float:
    """User + system seconds of ``pid`` and its descendants."""
    return sum(proc_cpu(p) for p in tree(pid))


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants."""
    total = 0
    for p in tree(pid):
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
        except OSError:
            continue
    return total


def self_cpu() -> float:
    """User + system seconds of the calling process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy() -> float:
    """Seconds of CPU the whole machine has spent not idle since boot, all cores summed (``/proc/stat``)."""
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    values = [int(v) for v in parts]
    # user nice system idle iowait irq softirq steal [guest guest_nice: already counted in user and nice]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / TICKS


def raise_nofile() -> None:
    """Lift the soft limit of open files to the hard one (thousands of sockets; children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
