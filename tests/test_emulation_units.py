"""The emulation's pure parts (names, host routes, commands, state) and its host plumbing.

The plumbing test needs root but no bmv2: two hosts of hpn-mini get exactly
the configuration the emulation gives them, with their NIC ports cabled
straight to each other (each port's "ToR" is the other host's port), and
real traffic checks what the routes promise.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from rich.console import Console

from hpn.desired import with_lb_mode
from hpn.emulation.checks import (
    FailoverEvent,
    FailoverResult,
    IntHopReport,
    IntResult,
    LoadBalancingResult,
    ModeLoad,
    PolarizationResult,
    max_mean,
)
from hpn.emulation.hosts import (
    GATEWAY,
    HOST_SYSCTLS,
    desired_routes,
    nic_routes,
    port_sysctls,
    rail_table,
    route_commands,
    setup_commands,
    sysctl_argv,
    usable_ports,
)
from hpn.emulation.layout import Layout, LayoutError
from hpn.emulation.state import EmulationState, Proc
from hpn.emulation.traffic import EmulatedNic, Flow, FlowLog, FlowSet, fabric_nics, ping, tcp_transfer
from hpn.experiments.demo.report import DemoReport, PlottingUnavailable, plot, render
from hpn.netlab.ethtool import disable_tx_checksum
from hpn.netlab.netns import entered, existing_namespaces, require_tools
from hpn.routing.compute import compute_fabric_state
from hpn.routing.failures import FailureView
from hpn.routing.state import LbMode
from hpn.topology.loader import load_fabric
from hpn.topology.model import Fabric

TOPO = Path(__file__).resolve().parents[1] / "topologies"
MINI = load_fabric(TOPO / "hpn-mini.yaml")
MERGED = load_fabric(TOPO / "hpn-mini-merged.yaml")


def layout(fabric: Fabric = MINI, run_dir: Path = Path("/tmp/hpn-test-run")) -> Layout:
    return Layout(fabric, run_dir)


# -- layout ----------------------------------------------------------------------------------


def test_layout_names_every_cable_end_uniquely_within_ifnamsiz() -> None:
    lay = layout()
    assert len(lay.cables) == len(MINI.links)
    emu_ns = [
        i
        for c in lay.cables
        for e in c.ends()
        for i in (e.patch_iface, *([] if e.is_host else [e.device_iface]))
    ]
    emu_ns += [c.bridge for c in lay.cables]
    assert len(emu_ns) == len(set(emu_ns)), "names in the emulation namespace collide"
    assert all(len(n) <= 15 for n in emu_ns)
    macs = [e.patch_mac for c in lay.cables for e in c.ends()] + [c.bridge_mac for c in lay.cables]
    assert len(macs) == len(set(macs))
    assert all(int(m.split(":")[0], 16) & 1 == 0 for m in macs), "a multicast MAC cannot be an interface's"


def test_layout_ports_follow_the_topology() -> None:
    lay = layout()
    assert lay.switch_ports("tor-s0-r0-p0") == {1: "s1p1", 2: "s1p2", 129: "s1p129", 130: "s1p130"}
    assert lay.host_ports(MINI.host("host-s1-h1")) == {
        (0, 0): "h3r0p0",
        (0, 1): "h3r0p1",
        (1, 0): "h3r1p0",
        (1, 1): "h3r1p1",
    }
    assert lay.namespace == "hpn-emu-hpn-mini"
    assert lay.host_namespace("host-s0-h0") == "hpn-emu-hpn-mini-host-s0-h0"
    assert lay.grpc_address("agg-p0-a0") == "unix:/tmp/hpn-test-run/sw/agg-p0-a0.grpc.sock"
    assert len({lay.thrift_port(s.name) for s in MINI.switches}) == len(MINI.switches)


def test_layout_refuses_socket_paths_too_long() -> None:
    with pytest.raises(LayoutError, match="HPN_RUN_DIR"):
        layout(run_dir=Path("/tmp/" + "x" * 100))


# -- host routing under failures ----------------------------------------------------------------


def test_intact_fabric_uses_both_ports_for_everything() -> None:
    routes = nic_routes(MINI, FailureView())
    assert len(routes) == 8
    for r in routes.values():
        assert r.ports == (0, 1)
        assert not r.exceptions


def test_dead_host_link_moves_both_ends_of_every_flow_to_the_other_plane() -> None:
    view = FailureView.parse(MINI, ["host-s0-h0/nic0/p0"])
    routes = nic_routes(MINI, view)
    assert routes[("host-s0-h0", 0)].ports == (1,)
    h0 = MINI.host("host-s0-h0").nic(0)
    assert h0 is not None
    # Everyone else may still send on port 0 in general, but not to that NIC: plane 0 cannot deliver it.
    for (host, rail), r in routes.items():
        if host != "host-s0-h0":
            assert r.ports == (0, 1)
            assert dict(r.exceptions) == {h0.ip: (1,)}, (host, rail)


def test_tor_losing_its_uplinks_is_avoided_for_remote_destinations_only() -> None:
    view = FailureView.parse(MINI, ["tor-s0-r0-p0:129", "tor-s0-r0-p0:130"])
    assert usable_ports(MINI, view, ("host-s0-h0", 0), ("host-s1-h0", 0)) == (1,)
    assert usable_ports(MINI, view, ("host-s0-h0", 0), ("host-s0-h1", 0)) == (0, 1), "same ToR still works"
    assert usable_ports(MINI, view, ("host-s1-h0", 0), ("host-s0-h0", 0)) == (1,)


def test_one_agg_down_changes_no_host_route() -> None:
    view = FailureView.parse(MINI, switches=["agg-p0-a0"])
    assert all(not r.exceptions and r.ports == (0, 1) for r in nic_routes(MINI, view).values())


def test_merged_planes_deliver_to_either_port() -> None:
    view = FailureView.parse(MERGED, ["host-s0-h0/nic0/p0"])
    routes = nic_routes(MERGED, view)
    assert routes[("host-s0-h0", 0)].ports == (1,)
    assert all(not r.exceptions for (h, _), r in routes.items() if h != "host-s0-h0")


def test_both_ports_dead_makes_the_nic_unreachable_not_misrouted() -> None:
    view = FailureView.parse(MINI, ["host-s0-h0/nic0/p0", "host-s0-h0/nic0/p1"])
    lay = layout()
    routes = nic_routes(MINI, view)
    mine = desired_routes(lay, MINI.host("host-s0-h0"), routes)
    assert mine[("100", "10.0.0.0/8")] == "unreachable"
    theirs = desired_routes(lay, MINI.host("host-s1-h0"), routes)
    assert theirs[("100", "10.0.0.1/32")] == "unreachable"
    assert theirs[("main", "10.0.0.1/32")] == "unreachable"


def test_route_commands_replace_changes_and_delete_leftovers_only() -> None:
    lay = layout()
    host = MINI.host("host-s1-h0")
    intact = desired_routes(lay, host, nic_routes(MINI, FailureView()))
    failed = desired_routes(lay, host, nic_routes(MINI, FailureView.parse(MINI, ["host-s0-h0/nic0/p0"])))
    assert route_commands(intact, intact) == []
    down = route_commands(intact, failed)
    # Rail 0 (same rail, also in the main table) and rail 1 (cross-rail) both avoid plane 0 toward it.
    assert down == [
        "route replace 10.0.0.1/32 table 100 proto static nexthop via 169.254.0.1 dev h2r0p1 onlink",
        "route replace 10.0.0.1/32 table 101 proto static nexthop via 169.254.0.1 dev h2r1p1 onlink",
        "route replace 10.0.0.1/32 table main proto static src 10.1.0.1 "
        "nexthop via 169.254.0.1 dev h2r0p1 onlink",
    ]
    assert route_commands(failed, intact) == [
        "route del 10.0.0.1/32 table 100",
        "route del 10.0.0.1/32 table 101",
        "route del 10.0.0.1/32 table main",
    ]
    first = route_commands({}, intact)
    assert (
        f"route replace 10.0.0.0/8 table {rail_table(0)} proto static "
        f"nexthop via {GATEWAY} dev h2r0p0 onlink nexthop via {GATEWAY} dev h2r0p1 onlink" in first
    )


def test_setup_commands_give_each_nic_one_address_and_rule_and_no_static_neighbour() -> None:
    """The hosts ask for the gateway's MAC (their ToR answers: gateway_arp), as a stock
    Linux host with a default route does: no permanent neighbour entries."""
    lines = setup_commands(layout(), MINI.host("host-s0-h0"))
    assert "address add 10.0.0.1/32 dev lo" in lines
    assert "rule add from 10.0.1.1 lookup 101 pref 1001" in lines
    assert "link set h0r0p1 up" in lines
    assert not [line for line in lines if line.startswith("neighbour")]


# -- other pure parts ----------------------------------------------------------------------------


def test_lb_mode_override_keeps_ids_and_members() -> None:
    states = compute_fabric_state(MINI)
    spray = with_lb_mode(states, LbMode.SPRAY)
    for name, st in states.items():
        assert [(g.group_id, g.ports) for g in spray[name].groups] == [
            (g.group_id, g.ports) for g in st.groups
        ]
        assert {g.mode for g in spray[name].groups} == {LbMode.SPRAY}


def test_max_mean() -> None:
    assert max_mean([1, 1, 1, 1]) == 1.0
    assert max_mean([3, 1, 0, 0]) == 3.0
    assert max_mean([0, 0]) != max_mean([0, 0])  # nan: no load at all


def test_int_probe_flows_go_to_the_rocev2_port() -> None:
    a, b = list(fabric_nics(layout()).values())[:2]
    assert Flow(a, b, sport=22000, dport=4791, int_probe=True).int_probe
    with pytest.raises(ValueError, match="dport must be 4791, not 5003"):
        Flow(a, b, sport=22000, dport=5003, int_probe=True)


def test_recovery_is_the_end_of_the_outage_the_step_began() -> None:
    nic = fabric_nics(layout())[("host-s0-h0", 0)]
    log = FlowLog(Flow(nic, nic, sport=1))
    log.sent = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    log.received = {0: 0.01, 1: 0.11, 4: 0.42, 5: 0.51, 7: 0.71}
    assert log.lost == [2, 3, 6]
    assert log.recovery_after(0.15, grace=0.1) == pytest.approx(0.27), "outage 2-3, back with 4"
    assert log.recovery_after(0.15, grace=0.1, until=0.25) == pytest.approx(0.27)
    assert log.recovery_after(0.35, grace=0.01, until=0.45) == 0.0, (
        "a later, separate loss is not this step's"
    )
    log.received = {0: 0.01, 1: 0.11}
    assert log.recovery_after(0.15, grace=0.1) is None


def test_state_file_round_trip_and_process_identity(tmp_path: Path) -> None:
    me = Proc.of(os.getpid())
    assert me is not None and me.alive()
    assert not Proc(me.pid, me.start + 1).alive(), "a reused pid is not our process"
    state = EmulationState("f", "t.yaml", "ready", me, switches={"s": me})
    state.write(tmp_path / "s.json")
    assert EmulationState.read(tmp_path / "s.json") == state
    (tmp_path / "bad.json").write_text("{")
    assert EmulationState.read(tmp_path / "bad.json") is None


# -- host plumbing on real namespaces (root, no bmv2) ------------------------------------------------------

needs_root = pytest.mark.skipif(bool(require_tools()), reason="; ".join(require_tools()) or "ok")


@dataclass
class Pair:
    """host-s0-h0 and host-s0-h1 of hpn-mini, NIC ports cabled straight to each other."""

    lay: Layout
    names: dict[str, str]  # host -> namespace

    def ip(self, host: str, *args: str, stdin: str | None = None) -> str:
        proc = subprocess.run(
            ["ip", "-n", self.names[host], *args], input=stdin, capture_output=True, text=True
        )
        assert proc.returncode == 0, f"ip {' '.join(args)}: {proc.stderr}"
        return proc.stdout

    def apply(self, view: FailureView, previous: dict[str, dict[tuple[str, str], str]]) -> None:
        routes = nic_routes(MINI, view)
        for host in self.names:
            want = desired_routes(self.lay, MINI.host(host), routes)
            lines = route_commands(previous.get(host, {}), want)
            if lines:
                self.ip(host, "-batch", "-", stdin="\n".join(lines) + "\n")
            previous[host] = want

    def tx_packets(self, host: str, iface: str) -> int:
        with entered(self.names[host]):
            for line in Path("/proc/thread-self/net/dev").read_text().splitlines():
                name, _, rest = line.partition(":")
                if name.strip() == iface:
                    return int(rest.split()[9])
        raise KeyError(iface)


@pytest.fixture
def pair() -> Iterator[Pair]:
    lay = layout()
    hosts = ["host-s0-h0", "host-s0-h1"]
    names = {h: f"hpnu{os.getpid() % 100000}-{i}" for i, h in enumerate(hosts)}
    for ns in names.values():
        assert ns not in existing_namespaces()
        subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        p = Pair(lay, names)
        for h in hosts:
            subprocess.run(["ip", "netns", "exec", names[h], *sysctl_argv(HOST_SYSCTLS)], check=True)
        a, b = (MINI.host(h) for h in hosts)
        mac = {(h.name, n.rail): n.mac for h in (a, b) for n in h.nics}
        for (rail, port), iface in lay.host_ports(a).items():
            peer = lay.host_ports(b)[(rail, port)]
            veth = ["link", "add", iface, "address", mac[(a.name, rail)], "type", "veth"]
            veth += ["peer", "name", peer, "address", mac[(b.name, rail)], "netns", names[b.name]]
            p.ip(a.name, *veth)
        for host in (a, b):
            ifaces = sorted(lay.host_ports(host).values())
            with entered(names[host.name]):
                for iface in ifaces:
                    disable_tx_checksum(iface)
            subprocess.run(
                ["ip", "netns", "exec", names[host.name], *sysctl_argv(port_sysctls(ifaces))], check=True
            )
            p.ip(host.name, "-batch", "-", stdin="\n".join(setup_commands(lay, host)) + "\n")
            # Cabled straight to the other host: its NIC is where the "ToR" would be.
            other = b if host is a else a
            for (rail, _port), iface in lay.host_ports(host).items():
                gateway_mac = mac[(other.name, rail)]
                p.ip(
                    host.name,
                    "neighbour",
                    "replace",
                    str(GATEWAY),
                    "lladdr",
                    gateway_mac,
                    "dev",
                    iface,
                    "nud",
                    "permanent",
                )
        yield p
    finally:
        for ns in names.values():
            subprocess.run(["ip", "netns", "del", ns], check=False)


RTMGRP_LINK = 0x1
RTMGRP_IPV4_ROUTE = 0x40


@contextmanager
def link_events(netns: str) -> Iterator[socket.socket]:
    """A netlink socket in `netns` that the kernel tells of every link and IPv4 route change."""
    with entered(netns):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    with sock:
        sock.bind((0, RTMGRP_LINK | RTMGRP_IPV4_ROUTE))
        sock.setblocking(False)
        yield sock


def wait_for_event(holds: Callable[[], bool], events: socket.socket, timeout: float) -> bool:
    """Whether `holds()` became true, looked at now and after each message on `events`."""
    deadline = time.monotonic() + timeout
    while not holds():
        ready, _, _ = select.select([events], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return False
        with contextlib.suppress(BlockingIOError):
            while events.recv(65536):  # every message so far: one look covers them all
                pass
    return True


def _nics(p: Pair) -> tuple[EmulatedNic, EmulatedNic]:
    """The two rail-0 NICs, in the test's namespaces."""
    nics = fabric_nics(p.lay)
    a, b = nics[("host-s0-h0", 0)], nics[("host-s0-h1", 0)]
    return replace(a, netns=p.names[a.host]), replace(b, netns=p.names[b.host])


@needs_root
def test_dual_port_nic_spreads_flows_and_follows_failures(pair: Pair) -> None:
    routes: dict[str, dict[tuple[str, str], str]] = {}
    pair.apply(FailureView(), routes)
    a, b = _nics(pair)
    assert all(v is not None for v in ping([(a, b), (b, a)]).values())

    def send(n: int) -> list[FlowLog]:
        flows = [Flow(a, b, sport=30000 + i) for i in range(n)]
        flows += [Flow(b, a, sport=31000 + i) for i in range(n)]
        with FlowSet(flows) as fs:
            return fs.run(rounds=5, interval=0.002)

    def tx() -> tuple[int, int]:
        return pair.tx_packets("host-s0-h0", "h0r0p0"), pair.tx_packets("host-s0-h0", "h0r0p1")

    t0 = tx()
    logs = send(32)
    assert all(not log.lost for log in logs)
    t1 = tx()
    spread = (t1[0] - t0[0], t1[1] - t0[1])
    assert sum(spread) >= 160 and min(spread) >= 20, f"flows should use both ports: {spread}"

    # The controller says port 0 of host-s0-h0's NIC is down: both hosts stop using plane 0 between them.
    pair.apply(FailureView.parse(MINI, ["host-s0-h0/nic0/p0"]), routes)
    back = pair.tx_packets("host-s0-h1", "h1r0p0")
    logs = send(16)
    assert all(not log.lost for log in logs)
    t2 = tx()
    assert t2[0] == t1[0], "no flow may stay on the dead port"
    assert pair.tx_packets("host-s0-h1", "h1r0p0") == back, "the peer may not send to the dead port's plane"

    # A port that loses carrier is skipped by the kernel before any route changes (bond link monitor).
    pair.apply(FailureView(), routes)
    with link_events(pair.names["host-s0-h0"]) as events:
        pair.ip("host-s0-h1", "link", "set", "h1r0p1", "down")
        # Carrier loss reaches the routes asynchronously (linkwatch): the kernel announces the
        # link change after it has marked the routes, so look again at each announcement.
        marked = wait_for_event(
            lambda: "linkdown" in pair.ip("host-s0-h0", "route", "show", "table", "100"), events, 5.0
        )
    assert marked, "the nexthop on the port without carrier was never marked linkdown"
    t3 = tx()
    logs = send(16)
    assert all(not log.lost for log in logs)
    assert tx()[1] == t3[1], "the port without carrier carried traffic"


@needs_root
def test_tcp_crosses_a_dual_port_nic_intact(pair: Pair) -> None:
    pair.apply(FailureView(), {})
    a, b = _nics(pair)
    result = tcp_transfer(a, b, 200_000)
    assert result.ok, result


# -- report -------------------------------------------------------------------------------------


def _report(tmp_path: Path) -> DemoReport:
    lb_links = {"tor-s0-r0-p0:129": 6000, "tor-s0-r0-p0:130": 2000}
    even = {"tor-s0-r0-p0:129": 4000, "tor-s0-r0-p0:130": 4000}
    modes = {
        LbMode.ECMP: ModeLoad(LbMode.ECMP, lb_links, 1.5, {"tor-s0-r0-p0": 1.5}, 16, 0),
        LbMode.SPRAY: ModeLoad(LbMode.SPRAY, even, 1.0, {"tor-s0-r0-p0": 1.0}, 16, 0),
    }
    report = DemoReport("hpn-mini", tmp_path)
    report.load_balancing = LoadBalancingResult(8, 2, modes, [], 1.0)
    slot = IntHopReport("tor-s0-r0-p0", 129, 400, 400, 4 * 1152, 5 * 1152, [5_012_000, 4_987_000])
    report.int_telemetry = IntResult(3, 3, [slot], [5_003_000, 4_996_000], [], 0.1)
    report.polarization = [
        PolarizationResult(
            "hpn-mini",
            False,
            "host-s1-h0/nic0",
            6,
            72,
            {"agg-p0-a0:3": 10, "agg-p0-a1:3": 12},
            {},
            1.09,
            360,
            0,
            [],
            1.0,
        ),
        PolarizationResult(
            "hpn-mini-merged",
            True,
            "host-s1-h0/nic0",
            6,
            72,
            {"agg-p0-a0:5": 20, "agg-p0-a0:6": 2},
            {},
            1.8,
            360,
            2,
            [],
            1.0,
        ),
    ]
    events = [
        FailoverEvent("host-ToR link", ("h/nic0/p0",), (), 0.02, 0.2, 0.05, 3, 4, (24, 24), []),
        FailoverEvent(
            "agg switch",
            (),
            ("agg-p0-a1",),
            0.02,
            0.3,
            None,
            2,
            40,
            (23, 24),
            ["a flow never delivered again"],
        ),
    ]
    report.failover = FailoverResult(24, 0.025, events, ["agg switch: a flow never delivered again"], 5.0)
    return report


def test_report_renders_every_section_and_flags_failures(tmp_path: Path) -> None:
    report = _report(tmp_path)
    assert report.polarization_verdict is True
    assert not report.ok, "a failed check fails the report"
    console = Console(record=True, width=200)
    render(console, report)
    text = console.export_text()
    for expected in (
        "INT hop slots (sender steps 5003, 4996 us)",
        "5012, 4987",
        "Load balancing",
        "spray",
        "1.50",
        "Hash polarization",
        "merged",
        "Failures",
        "never",
        "FAIL",
    ):
        assert expected in text, expected
    png = plot(report, tmp_path / "reports" / "demo.png")
    assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_the_report_says_how_to_get_its_png(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    with pytest.raises(PlottingUnavailable, match=r"matplotlib.*hpn-p4\[plot\]"):
        plot(_report(tmp_path), tmp_path / "reports" / "demo.png")
    assert not (tmp_path / "reports").exists()


def test_report_polarization_verdict_needs_both_fabrics(tmp_path: Path) -> None:
    report = _report(tmp_path)
    report.polarization = report.polarization[:1]
    assert report.polarization_verdict is None
    report.failover = None
    assert report.ok


# -- CLI without the prerequisites ------------------------------------------------------------------


def test_a_stand_in_switch_needs_everything_but_bmv2_and_the_p4_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hpn.emulation import emulation

    monkeypatch.setattr(emulation, "bmv2_missing", lambda: "no bmv2 here")
    monkeypatch.setattr(emulation, "P4INFO_PATH", Path("/nonexistent/hpn.p4info.txtpb"))
    monkeypatch.setattr(emulation.importlib.util, "find_spec", lambda name: None)
    full = emulation.missing_prerequisites()
    stand_in = emulation.missing_prerequisites(stand_in_switch=True)
    assert "no bmv2 here" in full and any("p4info" in m for m in full)
    assert "no bmv2 here" not in stand_in and not any("p4info" in m for m in stand_in)
    assert any("mininet Python package" in m for m in stand_in)  # what the lifecycle tests missed
    assert set(stand_in) <= set(full)


@pytest.mark.parametrize("args", [["demo"], ["emulate", "up"]])
def test_missing_prerequisites_are_named_and_exit_4(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from hpn.cli import app

    why = ["simple_switch_grpc not on PATH (install bmv2 with PI from p4lang's packages)"]
    monkeypatch.setattr("hpn.cli.emulate_cmds.missing_prerequisites", lambda: why)
    monkeypatch.setattr("hpn.emulation.emulation.missing_prerequisites", lambda: why)
    monkeypatch.setenv("HPN_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, [*args, str(TOPO / "hpn-mini.yaml")])
    assert result.exit_code == 4, result.output
    assert "simple_switch_grpc not on PATH" in result.output
    assert not existing_namespaces() & set(layout(run_dir=tmp_path / "hpn-mini").all_namespaces)


def test_emulate_status_and_down_of_a_fabric_that_never_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from hpn.cli import app

    topo = tmp_path / "never.yaml"
    topo.write_text((TOPO / "hpn-mini.yaml").read_text().replace("name: hpn-mini", "name: hpn-never-ran"))
    monkeypatch.setenv("HPN_RUN_DIR", str(tmp_path))
    runner = CliRunner()
    status = runner.invoke(app, ["emulate", "status", str(topo)])
    assert status.exit_code == 1 and "not up" in status.output
    down = runner.invoke(app, ["emulate", "down", str(topo)])
    assert down.exit_code == 0 and "nothing to remove" in down.output
