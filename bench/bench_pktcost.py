#!/usr/bin/env python3
"""CPU instructions bmv2 spends per packet on hpn.p4, per load-balancing mode, against
a minimal IPv4 router, and where they go.

The same programs, entries and flow set as bench_pktrate.py, but each program runs in
its own simple_switch_grpc under valgrind's callgrind, at a low rate the instrumented
switch keeps up with. Counting starts after a warm-up (bmv2 builds a packet's field
store, its PHV, the first times only) and stops when every measured packet has left;
the count of the whole process is divided by the packets forwarded. Unlike pkt/s, the
count does not drift with the machine: ECMP and spray repeat to within 0.5% and the
baseline to within 5% (flowlet and adaptive follow timing, whether a packet starts a
flowlet: a few percent), so it shows small changes that pkt/s noise hides. It leaves
out what the kernel does (thread hand-offs, veths), which is the same per packet for
every program, so its ratio is a bound the pkt/s ratio approaches from above. The
breakdown says which part of bmv2 the instructions are spent in; "log text" is the text
bmv2's logging macros build for every table, action and condition even when the log
level drops it (zero on a bmv2 built with --disable-logging-macros).

Needs root, p4c-bm2-ss, simple_switch_grpc and valgrind; without them it says what is
missing and exits 4.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_pktrate as rate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "controller"))

from hpn.netlab.bmv2 import BMV2_BINARY  # noqa: E402
from hpn.netlab.rig import SwitchRig, unique_prefix  # noqa: E402

# Parts of the per-packet work, by the bmv2 functions that do it (inclusive counts).
# They nest (a table's log text is inside its pipeline), so they do not add up.
PARTS: dict[str, tuple[str, ...]] = {
    "metadata reset": (r"bm::PHV::reset_metadata\(\)",),
    "parser": (r"bm::Parser::parse\(",),
    "ingress+egress": (r"bm::Pipeline::apply\(",),
    "tables": (r"bm::MatchActionTable::operator\(\)",),
    "actions": (r"bm::ActionFnEntry::execute\(",),
    "log text": (
        r"bm::MatchTableAbstract::dump_entry_string_",
        r"bm::MatchUnitAbstract_::key_to_string_with_names",
        r"bm::Packet::get_unique_id",
        r"bm::SourceInfo::to_string",
    ),
    "deparser": (r"bm::Deparser::deparse\(",),
}
# "  28,871,117 ( 9.49%)  ???:bm::PHV::reset_metadata() [/usr/local/bin/simple_switch_grpc]"
ANNOTATE_LINE = re.compile(r"^\s*([\d,]+) \([ \d.]+%\)\s+(?:[^\s:]+:(?!:))?(.+?) \[")


def missing() -> list[str]:
    reasons = rate.missing()
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate"):
        if shutil.which(tool) is None:
            reasons.append(f"{tool} not on PATH (install valgrind)")
    return reasons


def callgrind(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def rx_total(rig: SwitchRig) -> int:
    """Packets the far ends of the output ports received (netlink: their sysfs is the namespace's)."""
    links = json.loads(rig.netns.ip("-s", "-j", "link", "show").stdout)
    ends = {rig.host_iface(p) for p in rate.OUT_PORTS}
    return sum(int(link["stats64"]["rx"]["packets"]) for link in links if link["ifname"] in ends)


def wait_forwarded(rig: SwitchRig, target: int, timeout: float) -> int:
    """Poll the far ends' receive counters until they reach `target` or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while (seen := rx_total(rig)) < target and time.monotonic() < deadline:
        time.sleep(0.05)  # polling a counter: the condition is checked each time
    return seen


def parts(dump: Path) -> tuple[int, dict[str, int]]:
    """Total instructions of a callgrind dump, and the inclusive count of each part."""
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(dump)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return parse_annotate(text, str(dump))


def parse_annotate(text: str, where: str) -> tuple[int, dict[str, int]]:
    """The PROGRAM TOTALS of callgrind_annotate's inclusive listing, and each part's sum."""
    totals = re.search(r"^\s*([\d,]+) .*PROGRAM TOTALS", text, re.M)
    if totals is None:
        raise RuntimeError(f"{where}: no PROGRAM TOTALS in callgrind_annotate's output")
    total = int(totals.group(1).replace(",", ""))
    found = dict.fromkeys(PARTS, 0)
    for line in text.splitlines():
        m = ANNOTATE_LINE.match(line)
        if not m:
            continue
        count, name = int(m.group(1).replace(",", "")), m.group(2)
        for part, patterns in PARTS.items():
            if any(re.search(p, name) for p in patterns):
                found[part] += count
    return total, found


async def program_switch(rig: SwitchRig, program: rate.Program) -> None:
    async with rate.programmed(rig.switch.grpc_address, program, election=10):
        pass


def measure(
    program: rate.Program, frame_file: Path, work: Path, args: argparse.Namespace
) -> tuple[int, int, dict[str, int]]:
    """(packets forwarded, instructions, parts) of one program, in a switch of its own."""
    out = work / program.name
    out.mkdir()
    # Instrumented only between --instr=on and off: the switch starts at full speed.
    wrapper = ("valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}/cg")
    with SwitchRig(unique_prefix("c"), nports=5, log_level="error", wrapper=wrapper) as rig:
        pid = rig.switch.pid
        assert pid is not None
        pktgen = rate.Pktgen(rig, frame_file)
        try:
            asyncio.run(program_switch(rig, program))
            callgrind(pid, "--instr=on")
            # Warm-up: bmv2 builds a PHV for each packet in flight the first times only.
            start = rx_total(rig)
            warm = int(pktgen.run(args.warmup, 0.0, args.rate)["sent"])
            wait_forwarded(rig, start + warm, args.drain)
            callgrind(pid, "--zero")
            start = rx_total(rig)
            sent = int(pktgen.run(args.seconds, 0.0, args.rate)["sent"])
            forwarded = wait_forwarded(rig, start + sent, args.drain) - start
            callgrind(pid, "--dump")
            callgrind(pid, "--instr=off")
        finally:
            pktgen.close()
    dumps = [d for d in out.glob("cg.*") if d.suffix != ".0"]
    if not dumps:
        raise RuntimeError(f"{program.name}: callgrind wrote no profile in {out}")
    total, found = parts(max(dumps, key=lambda d: d.stat().st_size))
    if forwarded < sent:
        print(f"  {program.name}: {sent - forwarded} of {sent} packets not forwarded", flush=True)
    return forwarded, total, found


def report(results: dict[str, tuple[int, int, dict[str, int]]]) -> None:
    base_packets, base_total, _ = results["baseline"]
    base = base_total / base_packets
    names = list(PARTS)
    print(
        f"\n{'program':12s} {'instr/packet':>12s} {'baseline/this':>13s}  "
        + "  ".join(f"{n:>14s}" for n in names)
    )
    for name, (packets, total, found) in results.items():
        per = total / packets
        cells = "  ".join(f"{found[n] / packets:14,.0f}" for n in names)
        print(f"{name:12s} {per:12,.0f} {base / per:12.2f}x  {cells}")
    print("\nbaseline/this: the packet rate ratio the instructions allow (kernel work not counted).")
    print("parts are inclusive and nest (tables hold their log text), so they do not add up.")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    rate.add_load_args(parser, rate=100, seconds=5.0, warmup=2.0)  # the instrumented switch is slow
    parser.add_argument("--drain", type=float, default=30.0, help="seconds to wait for the last packets")
    rate.add_workload_args(parser)
    args = parser.parse_args()
    if rate.refuse("bench_pktcost", missing()):
        return 4
    with tempfile.TemporaryDirectory(prefix="hpn-pktcost-") as tmp:
        work = Path(tmp)
        frame_file = rate.write_frames(work, args)
        print(f"switch: {shutil.which(BMV2_BINARY)} under callgrind; {args.flows} flows of {args.size} B")
        results = {}
        for program in rate.all_programs(args.previous, work):
            results[program.name] = measure(program, frame_file, work, args)
            packets, total, _ = results[program.name]
            print(
                f"  {program.name:12s} {packets} packets, {total / packets:,.0f} instructions each",
                flush=True,
            )
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
