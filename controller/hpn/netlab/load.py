"""How busy the machine was while something ran: the CPU other processes took, steal, pressure.

An emulated fabric forwards as fast as the machine runs it, so a measurement that depends on
speed (a queue, a goodput) is worth reading next to this. Two snapshots of the kernel's
cumulative counters bound the interval: ``snapshot()`` before, ``since(before)`` after.

- **Others' share**: CPU time (user, nice, system; /proc/stat) spent by processes outside the
  caller's process tree (itself and every living descendant, with what they reaped; from
  /proc/<pid>/stat), over all CPUs' time. Interrupt time is left out: forwarding between
  veths is counted there, and it is the caller's own traffic.
- **Steal**: time a hypervisor gave this machine's CPUs to another guest.
- **CPU pressure** (/proc/pressure/cpu, ``some``): the share of the time at least one
  runnable task waited for a CPU. It counts the caller's own tasks queueing for each other
  too, so it is reported, not used to call the machine loaded. None without PSI.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
LOADED_OTHERS_SHARE = 0.2
"""Other processes took at least this share of the machine's CPU time: the machine was loaded."""
LOADED_STEAL_SHARE = 0.1
"""A hypervisor took at least this share: the machine was loaded."""


@dataclass(frozen=True)
class CpuTimes:
    """The first line of /proc/stat: every CPU's time together, in clock ticks."""

    user: int
    nice: int
    system: int
    idle: int
    iowait: int
    irq: int
    softirq: int
    steal: int

    @property
    def total(self) -> int:
        return (
            self.user
            + self.nice
            + self.system
            + self.idle
            + self.iowait
            + self.irq
            + self.softirq
            + self.steal
        )

    @property
    def processes(self) -> int:
        """Time spent running processes (guest time is inside user and nice)."""
        return self.user + self.nice + self.system


def parse_proc_stat(text: str) -> tuple[CpuTimes, int]:
    """/proc/stat: the machine's CPU times, and how many CPUs it has."""
    lines = text.splitlines()
    words = lines[0].split()
    if not words or words[0] != "cpu":
        raise ValueError(f"/proc/stat does not start with the cpu line: {lines[0]!r}")
    values = [int(w) for w in words[1:9]] + [0] * max(0, 9 - len(words))
    cpus = sum(1 for line in lines[1:] if line.startswith("cpu"))
    return CpuTimes(*values), max(1, cpus)


def parse_pressure(text: str) -> int | None:
    """/proc/pressure/cpu: the ``some`` line's total stall time, in microseconds."""
    for line in text.splitlines():
        words = line.split()
        if words and words[0] == "some":
            for word in words[1:]:
                key, _, value = word.partition("=")
                if key == "total":
                    return int(value)
    return None


def parse_process_stat(text: str) -> tuple[int, int]:
    """/proc/<pid>/stat: the parent's pid, and the process's CPU ticks with its reaped children's."""
    fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces and parentheses
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return ppid, utime + stime + cutime + cstime


def tree_ticks(root: int, proc: Path = PROC) -> int:
    """CPU ticks of `root` and of every living descendant, each with what it reaped."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid, t = parse_process_stat((entry / "stat").read_text())
        except (OSError, ValueError, IndexError):  # gone since the listing, or unreadable
            continue
        pid = int(entry.name)
        parents[pid], ticks[pid] = ppid, t
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


@dataclass(frozen=True)
class Snapshot:
    """The counters at one moment."""

    monotonic_ns: int
    cpu: CpuTimes
    cpus: int
    own_ticks: int
    """The caller's process tree (``tree_ticks``)."""
    pressure_us: int | None


def snapshot(root: int | None = None, proc: Path = PROC) -> Snapshot:
    """The counters now; `root` is the process whose tree is "ours" (default: this one).

    Raises OSError where /proc/stat cannot be read (not Linux).
    """
    cpu, cpus = parse_proc_stat((proc / "stat").read_text())
    try:
        pressure = parse_pressure((proc / "pressure" / "cpu").read_text())
    except OSError:  # a kernel without PSI
        pressure = None
    own = tree_ticks(os.getpid() if root is None else root, proc)
    return Snapshot(time.monotonic_ns(), cpu, cpus, own, pressure)


@dataclass(frozen=True)
class MachineLoad:
    """How busy the machine was between two snapshots; shares are of all CPUs' time."""

    seconds: float
    cpus: int
    others_share: float
    """CPU time of processes outside the caller's tree."""
    own_share: float
    """CPU time of the caller's tree."""
    steal_share: float
    iowait_share: float
    pressure_share: float | None
    """Share of the wall time some runnable task waited for a CPU (None: no PSI)."""

    @property
    def loaded(self) -> bool:
        """Other processes, or a hypervisor, took enough CPU to slow what ran."""
        return self.others_share >= LOADED_OTHERS_SHARE or self.steal_share >= LOADED_STEAL_SHARE

    def describe(self) -> str:
        """One line, e.g. ``other processes 45% of 2 CPUs, ours 50%, steal 0%, CPU pressure 80%``."""
        text = (
            f"other processes {self.others_share:.0%} of {self.cpus} CPUs, ours {self.own_share:.0%}, "
            f"steal {self.steal_share:.0%}, iowait {self.iowait_share:.0%}"
        )
        if self.pressure_share is not None:
            text += f", CPU pressure {self.pressure_share:.0%}"
        return f"{text} over {self.seconds:.1f} s"


def between(before: Snapshot, after: Snapshot) -> MachineLoad:
    """The load over the interval between two snapshots."""
    total = max(1, after.cpu.total - before.cpu.total)
    own = max(0, after.own_ticks - before.own_ticks)
    busy = max(0, after.cpu.processes - before.cpu.processes)
    wall_ns = max(1, after.monotonic_ns - before.monotonic_ns)
    pressure = None
    if before.pressure_us is not None and after.pressure_us is not None:
        pressure = min(1.0, max(0, after.pressure_us - before.pressure_us) * 1000 / wall_ns)
    return MachineLoad(
        seconds=wall_ns / 1e9,
        cpus=after.cpus,
        others_share=max(0, busy - own) / total,
        own_share=min(own, busy) / total,
        steal_share=max(0, after.cpu.steal - before.cpu.steal) / total,
        iowait_share=max(0, after.cpu.iowait - before.cpu.iowait) / total,
        pressure_share=pressure,
    )


def since(before: Snapshot, root: int | None = None, proc: Path = PROC) -> MachineLoad:
    """The load from `before` until now."""
    return between(before, snapshot(root, proc))
