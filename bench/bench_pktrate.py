#!/usr/bin/env python3
"""Packet rate of hpn.p4 on bmv2, per load-balancing mode, against a minimal IPv4 router.

One simple_switch_grpc in a private namespace with five veth ports: port 0 receives the
offered load, ports 1-4 are where it leaves. The same switch process runs, one after the
other and in interleaved rounds, the baseline (bench/p4/ipv4_router.p4: one LPM lookup,
compiled here with p4c-bm2-ss) and hpn.p4 with one next-hop group over ports 1-4 in each
mode; `--previous REV` adds the hpn.p4 of an earlier commit (its compiled JSON and P4Info
from git) so a change can be measured against what it replaces. Every program gets the
same offered load: one flow set of UDP flows sent round robin at a saturating rate by
bench/pktgen.py. Delivered packets/s are the kernel's receive counters of the far ends of
ports 1-4 over the measured window; each row is the median over the rounds, and each
ratio is taken against the baseline of the same round.

Needs root, p4c-bm2-ss and simple_switch_grpc; without them it says what is missing and
exits 4. This is a benchmark: absolute rates drift with the machine, only the ratios
measured side by side mean anything. The ratios also depend on how bmv2 was built: with
its logging macros (the default) every table a packet meets formats its key and entry
even when nothing is logged. The simple_switch_grpc first on PATH runs, and its path is
printed, so `PATH=<a bmv2 configured with --disable-logging-macros>/bin:$PATH` measures
that build.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "controller"))

import finsy as fy  # noqa: E402

from hpn.netlab.bmv2 import BMV2_BINARY, bmv2_missing  # noqa: E402
from hpn.netlab.rig import SwitchRig, unique_prefix  # noqa: E402
from hpn.pipeline import BMV2_JSON_PATH, P4INFO_PATH, switch_entities  # noqa: E402
from hpn.routing.state import Group, LbMode, LbParams, PortConfig, Route, SwitchState  # noqa: E402
from hpn.runtime import FabricSession, SessionOptions, SwitchTarget  # noqa: E402

OUT_PORTS = (1, 2, 3, 4)
SWITCH_MAC = "02:00:00:00:00:fe"
DST_NET = "10.1.0.0/24"
BASELINE_P4 = ROOT / "bench" / "p4" / "ipv4_router.p4"
PREVIOUS_RESULT = "0.24x (ECMP; 0.17x adaptive, 0.24x flowlet and spray: the 256-bit port-bitmap core)"

Entities = Callable[[fy.P4Schema], list[object]]


@dataclass(frozen=True)
class Program:
    name: str
    p4info: Path
    blob: Path
    entities: Callable[[], Sequence[object]]


def missing() -> list[str]:
    reasons = []
    if os.geteuid() != 0:
        reasons.append("needs root (network namespaces)")
    if shutil.which("p4c-bm2-ss") is None:
        reasons.append("p4c-bm2-ss not on PATH (install p4c)")
    bmv2 = bmv2_missing()
    if bmv2:
        reasons.append(bmv2)
    return reasons


def refuse(bench: str, reasons: list[str]) -> bool:
    """Print why `bench` cannot run, if it cannot (its exit status is then 4)."""
    if reasons:
        print(f"{bench}: cannot run:", "; ".join(reasons))
    return bool(reasons)


def neighbor_mac(port: int) -> str:
    return f"02:00:00:00:01:{port:02x}"


def hpn_state(mode: LbMode) -> SwitchState:
    ports = tuple(PortConfig(p, 0, f"port{p}", neighbor_mac(p)) for p in (0, *OUT_PORTS))
    return SwitchState(
        name="bench",
        switch_mac=SWITCH_MAC,
        routes=(Route(0, IPv4Network(DST_NET), 1),),
        groups=(Group(1, mode, frozenset(OUT_PORTS)),),
        ports=ports,
        lb=LbParams(hash_seed=0x5EED, flowlet_gap_us=1000, load_window_us=1000, congested_bytes=1 << 30),
    )


def mac(text: str) -> int:
    return int(text.replace(":", ""), 16)


def baseline_entities() -> list[object]:
    """The four /26s of DST_NET, one per output port: the same spread as a 4-way group."""
    return [
        fy.P4TableEntry(
            "RouterIngress.ipv4_lpm",
            match=fy.P4TableMatch(dst_addr=(0x0A010000 + 64 * i, 26)),
            action=fy.P4TableAction(
                "forward", port=port, src_mac=mac(SWITCH_MAC), dst_mac=mac(neighbor_mac(port))
            ),
        )
        for i, port in enumerate(OUT_PORTS)
    ]


def previous_entities() -> list[object]:
    """Entries of the port-bitmap hpn.p4 (before the selector core): one group of ports 1-4."""
    mask = sum(1 << p for p in OUT_PORTS)
    base = "HpnIngress"
    out: list[object] = [
        fy.P4TableEntry(
            f"{base}.dual_plane.plane_ports",
            match=fy.P4TableMatch(plane=0),
            action=fy.P4TableAction(f"{base}.dual_plane.set_plane_ports", ports=mask | 1),
        ),
        fy.P4TableEntry(
            f"{base}.routing.ipv4_lpm",
            match=fy.P4TableMatch(plane=0, dst_addr=(0x0A010000, 24)),
            action=fy.P4TableAction(f"{base}.routing.set_next_hop_group", group_id=1),
        ),
        fy.P4TableEntry(
            f"{base}.load_balancing.group_table",
            match=fy.P4TableMatch(group_id=1),
            action=fy.P4TableAction(f"{base}.load_balancing.set_group", lb_mode=0, member_ports=mask),
        ),
    ]
    for port in (0, *OUT_PORTS):
        out.append(
            fy.P4TableEntry(
                f"{base}.dual_plane.ingress_port_plane",
                match=fy.P4TableMatch(ingress_port=port),
                action=fy.P4TableAction(f"{base}.dual_plane.set_plane", plane=0),
            )
        )
        out.append(
            fy.P4TableEntry(
                f"{base}.next_hop.port_mac",
                match=fy.P4TableMatch(port=port),
                action=fy.P4TableAction(
                    f"{base}.next_hop.rewrite_macs", src_mac=mac(SWITCH_MAC), dst_mac=mac(neighbor_mac(port))
                ),
            )
        )
    return out


def frames(count: int, size: int) -> list[bytes]:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    out = []
    for i in range(count):
        pkt = (
            Ether(src="02:00:00:00:aa:01", dst=SWITCH_MAC)
            / IP(src=f"10.0.{i // 250}.{1 + i % 250}", dst=f"10.1.0.{1 + (i * 7) % 254}")
            / UDP(sport=10000 + i, dport=20000 + i % 97)
        )
        out.append(bytes(pkt / Raw(b"\x00" * max(0, size - len(pkt)))))
    return out


def compile_baseline(out: Path) -> tuple[Path, Path]:
    p4info, blob = out / "router.p4info.txtpb", out / "router.json"
    subprocess.run(
        [
            "p4c-bm2-ss",
            "--arch",
            "v1model",
            "-o",
            str(blob),
            "--p4runtime-files",
            str(p4info),
            str(BASELINE_P4),
        ],
        check=True,
    )
    return p4info, blob


def previous_outputs(rev: str, out: Path) -> tuple[Path, Path]:
    p4info, blob = out / "previous.p4info.txtpb", out / "previous.json"
    for path, name in ((p4info, "hpn.p4info.txtpb"), (blob, "hpn.json")):
        data = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{rev}:p4src/out/bmv2/{name}"], capture_output=True, check=True
        ).stdout
        path.write_bytes(data)
    return p4info, blob


def previous_programs(rev: str, out: Path) -> list[Program]:
    """hpn.p4 as compiled at `rev`: in ECMP mode if it is the port-bitmap core (its
    tables differ), else in every mode with today's entries (the same P4Runtime names)."""
    old_info, old_blob = previous_outputs(rev, out)
    if "next_hop.port_mac" in old_info.read_text():
        return [Program("previous", old_info, old_blob, previous_entities)]
    return [
        Program(f"prev-{mode.name.lower()}", old_info, old_blob, lambda m=mode: switch_entities(hpn_state(m)))
        for mode in LbMode
    ]


def all_programs(previous: str | None, work: Path) -> list[Program]:
    """The baseline (compiled into `work`), hpn.p4 at `previous` if given, hpn.p4 in each mode."""
    p4info, blob = compile_baseline(work)
    programs = [Program("baseline", p4info, blob, baseline_entities)]
    if previous:
        programs += previous_programs(previous, work)
    for mode in LbMode:
        programs.append(
            Program(
                mode.name.lower(), P4INFO_PATH, BMV2_JSON_PATH, lambda m=mode: switch_entities(hpn_state(m))
            )
        )
    return programs


def add_load_args(parser: argparse.ArgumentParser, rate: float, seconds: float, warmup: float) -> None:
    """The offered load and how long it is measured, with a benchmark's defaults."""
    parser.add_argument(
        "--rate", type=float, default=rate, help="offered pkt/s (0: as fast as the sender can)"
    )
    parser.add_argument(
        "--seconds", type=float, default=seconds, help="measured window per program (and round)"
    )
    parser.add_argument("--warmup", type=float, default=warmup, help="seconds sent before the window")


def add_workload_args(parser: argparse.ArgumentParser) -> None:
    """The flow set and the programs: the same options in every packet benchmark."""
    parser.add_argument("--flows", type=int, default=1000)
    parser.add_argument("--size", type=int, default=128, help="frame bytes")
    parser.add_argument(
        "--previous", metavar="REV", help="also run hpn.p4 as compiled at git revision REV (each mode)"
    )


def write_frames(work: Path, args: argparse.Namespace) -> Path:
    """The flow set as pktgen.py reads it: one frame in hex per line."""
    frame_file = work / "frames.hex"
    frame_file.write_text("\n".join(f.hex() for f in frames(args.flows, args.size)))
    return frame_file


class Pktgen:
    """bench/pktgen.py inside the rig's namespace, driven over its stdin."""

    def __init__(self, rig: SwitchRig, frame_file: Path) -> None:
        argv = rig.netns.exec_argv(
            [
                sys.executable,
                str(ROOT / "bench" / "pktgen.py"),
                "--tx",
                rig.host_iface(0),
                "--rx",
                ",".join(rig.host_iface(p) for p in OUT_PORTS),
                "--frames",
                str(frame_file),
            ]
        )
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._answer()

    def _answer(self) -> dict[str, float]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("pktgen exited")
        reply: dict[str, float] = json.loads(line)
        return reply

    def run(self, seconds: float, warmup: float, rate: float) -> dict[str, float]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"run {seconds} {warmup} {rate}\n")
        self.proc.stdin.flush()
        return self._answer()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


@asynccontextmanager
async def programmed(address: str, program: Program, election: int) -> AsyncIterator[None]:
    """A P4Runtime session that has pushed `program` and its entries to the switch at `address`."""
    target = SwitchTarget(program.name, address, 1, program.p4info, program.blob)
    async with FabricSession([target], SessionOptions(own_all_tables=True, election_id=election)) as fabric:
        await fabric.wait_connected()
        report = await fabric.push({program.name: list(program.entities())})  # type: ignore[dict-item]
        if not report[program.name].ok:
            raise RuntimeError(f"{program.name}: " + "; ".join(report[program.name].errors))
        yield


async def measure(
    programs: Sequence[Program], address: str, pktgen: Pktgen, args: argparse.Namespace
) -> tuple[dict[str, list[float]], list[float]]:
    """Delivered pkt/s per program and round, and the load offered to the baseline each round."""
    rates: dict[str, list[float]] = {p.name: [] for p in programs}
    offered: list[float] = []
    election = 10
    for round_ in range(args.rounds):
        for program in programs:
            election += 1  # above the session before, whose stream may still be closing
            async with programmed(address, program, election):
                result = await asyncio.to_thread(pktgen.run, args.seconds, args.warmup, args.rate)
            rates[program.name].append(result["delivered_pps"])
            if program.name == "baseline":
                offered.append(result["offered_pps"])
            print(
                f"  round {round_ + 1} {program.name:10s} offered {result['offered_pps']:9.0f} pkt/s"
                f"  delivered {result['delivered_pps']:8.0f} pkt/s",
                flush=True,
            )
    return rates, offered


def pin(pid: int, cpus: set[int]) -> None:
    """Every thread of process `pid` onto `cpus` (threads it starts later inherit it)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), cpus)


def split_cpus() -> tuple[set[int], set[int]] | None:
    """(sender's CPUs, switch's CPUs), or None on a one-CPU machine.

    The sender gets one CPU and the switch the rest. Unpinned, a sender offering more
    than the switch forwards takes CPU time from the switch (its sends and the veth's
    receive work run where it runs), so the offered load would change what is measured.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return {cpus[0]}, set(cpus[1:])


def report(rates: dict[str, list[float]], offered: list[float], args: argparse.Namespace) -> None:
    base = rates["baseline"]
    header = f"{'program':12s} {'delivered pkt/s':>16s} {'ratio to baseline':>18s}"
    print(f"\n{header}   (median of {args.rounds} rounds)")
    for name, values in rates.items():
        ratios = [v / b for v, b in zip(values, base, strict=True) if b > 0]
        ratio = statistics.median(ratios) if ratios else float("nan")
        line = f"{name:12s} {statistics.median(values):16.0f} {ratio:17.2f}x"
        before = rates.get(f"prev-{name}")
        if before:  # the same mode at --previous REV, round by round
            change = [v / b for v, b in zip(values, before, strict=True) if b > 0]
            line += f"   {statistics.median(change):.2f}x of prev-{name}" if change else ""
        print(line)
    unsaturated = [o for o, d in zip(offered, base, strict=True) if d >= 0.95 * o]
    if unsaturated:
        print(f"\nwarning: the baseline forwarded >= 95% of the offered load in {len(unsaturated)} round(s):")
        print("the load did not saturate it, so its rate and every ratio are too low; raise --rate")
    print(f"\nbefore the selector core, as measured when it was reported: {PREVIOUS_RESULT}")
    print("targets: ECMP >= 0.70x; flowlet, spray, adaptive >= 0.50x")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    add_load_args(parser, rate=150000, seconds=4.0, warmup=1.0)
    add_workload_args(parser)
    args = parser.parse_args()
    if refuse("bench_pktrate", missing()):
        return 4

    with tempfile.TemporaryDirectory(prefix="hpn-pktrate-") as tmp:
        work = Path(tmp)
        programs = all_programs(args.previous, work)
        frame_file = write_frames(work, args)
        with SwitchRig(unique_prefix("r"), nports=5, log_level="error") as rig:
            # The generator is started before any gRPC channel exists in this process.
            pktgen = Pktgen(rig, frame_file)
            try:
                address = rig.switch.grpc_address
                binary = shutil.which(BMV2_BINARY)
                print(f"switch: {binary} {address}; {args.flows} flows of {args.size} B")
                split = split_cpus()
                if split is None:
                    print("one CPU: the sender and the switch share it")
                else:
                    assert rig.switch.pid is not None
                    pin(pktgen.proc.pid, split[0])
                    pin(rig.switch.pid, split[1])
                    print(f"sender on CPU {sorted(split[0])}, switch on CPUs {sorted(split[1])}")
                rates, offered = asyncio.run(measure(programs, rig.switch.grpc_address, pktgen, args))
            finally:
                pktgen.close()
    report(rates, offered, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
