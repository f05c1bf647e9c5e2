"""`hpnctl wiring TOPOLOGY` on the switches (no --observed), against fake P4Runtime
switches of hpn-mini (tests/fake_p4rt.py) programmed by `hpnctl push`.

The fakes are cabled as the topology says unless a test swaps two cables: a probe sent
out of a switch port is punted by the switch at the cable's far end, an ARP request sent
out of a ToR host port is answered by the host on it as Linux does (tests/linux_arp.py)
and the reply punted by the ToR; a fake punts a frame only when its cpu_punt table has an
entry for the frame's ethertype, as the P4 program does.

A correct fabric exits 0 with every port seen and nothing written; two crossed switch
cables are named at all four ports and two swapped host cables at both, each exit 1;
a switch another controller holds exits 5 naming it, with nothing sent; a switch that
is down is named (exit 3) and its ports are left out; a fabric not pushed is named as
not programmed (exit 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner, Result

from fake_p4rt import FakeP4RuntimeServer
from hpn.cli import app
from hpn.pipeline import BMV2_JSON_PATH, P4INFO_PATH, Target, names
from hpn.runtime import FabricSession, SessionOptions, SwitchTarget
from hpn.topology import Fabric, load_fabric
from hpn.topology.model import Endpoint, NicPort, SwitchPort
from linux_arp import linux_reply

MINI = Path(__file__).resolve().parents[1] / "topologies" / "hpn-mini.yaml"
COLLECT_MS = "1500"
"""The answers' collection time the tests give: the fakes answer within milliseconds."""
PORTS = 48
"""hpn-mini's cabled switch ports: 8 ToRs x (2 host ports + 2 uplinks) + 4 aggs x 4."""

T = TypeVar("T")

pytestmark = pytest.mark.skipif(not P4INFO_PATH.exists(), reason=f"{P4INFO_PATH} missing: run `make p4`")
runner = CliRunner()


class Cabled:
    """hpn-mini's fake switches, served from a loop of their own, and the cables between
    them and the hosts (`ends`: what a frame sent out of a switch port reaches)."""

    def __init__(self, fabric: Fabric) -> None:
        self.fabric = fabric
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fakes = {s.name: FakeP4RuntimeServer(device_id=s.device_id) for s in fabric.switches}
        self.ends: dict[SwitchPort, Endpoint] = {
            SwitchPort(sw.name, port): peer
            for sw in fabric.switches
            for port, peer in fabric.peers(sw.name).items()
        }
        for name, fake in self.fakes.items():
            self.call(fake.start())
            fake.on_packet_out = self._cable(name)

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(20)

    def close(self) -> None:
        for fake in self.fakes.values():
            self.call(fake.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def swap(self, a: SwitchPort, b: SwitchPort) -> None:
        """The cables plugged into `a` and `b` trade places."""
        far_a, far_b = self.ends[a], self.ends[b]
        self.ends[a], self.ends[b] = far_b, far_a
        if isinstance(far_a, SwitchPort):
            self.ends[far_a] = b
        if isinstance(far_b, SwitchPort):
            self.ends[far_b] = a

    def _cable(self, name: str) -> Any:
        def packet_out(frame: bytes, port: int) -> None:
            far = self.ends.get(SwitchPort(name, port))
            if isinstance(far, SwitchPort):
                self._punt(far.switch, frame, far.port)
            elif isinstance(far, NicPort):
                nic = self.fabric.nic(far.host, far.rail)
                assert nic is not None
                holds = {str(n.ip) for n in self.fabric.host(far.host).nics}  # Linux answers for all
                reply = linux_reply(frame, nic.mac, holds)
                if reply is not None:
                    self._punt(name, reply, port)

        return packet_out

    def _punt(self, switch: str, frame: bytes, port: int) -> None:
        """Punted when the switch is up and its cpu_punt table takes the frame's ethertype."""
        fake = self.fakes[switch]
        if not fake.running or not fake.config:
            return
        ethertype = int.from_bytes(frame[12:14], "big")
        punts = fake.table_entries(Target.BMV2.qualify(names.CPU_PUNT.name))
        if any(int.from_bytes(e.match[0].exact.value, "big") == ethertype for e in punts):
            fake.punt(frame, port)


@pytest.fixture
def cabled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Cabled, Path]]:
    monkeypatch.setenv("HPN_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("COLUMNS", "200")
    fabric = Cabled(load_fabric(MINI))
    targets = tmp_path / "targets.json"
    targets.write_text(json.dumps({n: f.address for n, f in fabric.fakes.items()}))
    try:
        yield fabric, targets
    finally:
        fabric.close()


def push(targets: Path) -> None:
    res = runner.invoke(app, ["push", str(MINI), "--targets", str(targets)])
    assert res.exit_code == 0, res.output


def wiring(targets: Path, *args: str) -> Result:
    res = runner.invoke(
        app, ["wiring", str(MINI), "--targets", str(targets), "--collect-ms", COLLECT_MS, *args]
    )
    print(res.output)
    return res


def problems(res: Result) -> list[str]:
    return sorted(line for line in res.stdout.splitlines() if " expected " in line)


def written(fabric: Cabled) -> list[tuple[int, int]]:
    return [(len(f.write_updates), f.set_pipeline_calls) for f in fabric.fakes.values()]


def test_a_correct_fabric_exits_0_every_port_seen_and_nothing_written(cabled: tuple[Cabled, Path]) -> None:
    fabric, targets = cabled
    push(targets)
    before = written(fabric)
    res = wiring(targets)
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == [f"hpn-mini: {PORTS} ports checked: {PORTS} ok"]
    assert "12 of 12 switches; 32 fabric ports and 16 host ports probed, 3 rounds in 1.5 s" in res.stderr
    assert "heard 96 probes and 48 host replies; 0 punted frames refused" in res.stderr
    assert written(fabric) == before


def test_two_crossed_switch_cables_are_named_at_all_four_ports(cabled: tuple[Cabled, Path]) -> None:
    fabric, targets = cabled
    push(targets)
    fabric.swap(SwitchPort("agg-p0-a0", 1), SwitchPort("agg-p0-a0", 2))
    res = wiring(targets)
    assert res.exit_code == 1, res.output
    assert problems(res) == [
        "mismatch: agg-p0-a0:1 expected tor-s0-r0-p0:129, found tor-s0-r1-p0:129",
        "mismatch: agg-p0-a0:2 expected tor-s0-r1-p0:129, found tor-s0-r0-p0:129",
        "mismatch: tor-s0-r0-p0:129 expected agg-p0-a0:1, found agg-p0-a0:2",
        "mismatch: tor-s0-r1-p0:129 expected agg-p0-a0:2, found agg-p0-a0:1",
    ]
    assert f"hpn-mini: {PORTS} ports checked: {PORTS - 4} ok, 4 mismatch" in res.stdout


def test_a_host_port_answered_by_the_wrong_nic_names_the_nic(cabled: tuple[Cabled, Path]) -> None:
    """The hosts' cables on tor-s0-r0-p0's ports 1 and 2 swapped: each port's expected NIC
    does not answer; the one found there does, once asked for in the second round."""
    fabric, targets = cabled
    push(targets)
    fabric.swap(SwitchPort("tor-s0-r0-p0", 1), SwitchPort("tor-s0-r0-p0", 2))
    res = wiring(targets)
    assert res.exit_code == 1, res.output
    assert problems(res) == [
        "mismatch: tor-s0-r0-p0:1 expected host-s0-h0/nic0/p0, found host-s0-h1/nic0/p0",
        "mismatch: tor-s0-r0-p0:2 expected host-s0-h1/nic0/p0, found host-s0-h0/nic0/p0",
    ]


@contextlib.contextmanager
def held_by_another_controller(fabric: Cabled, name: str, election_id: int) -> Iterator[None]:
    fake = fabric.fakes[name]
    other = FabricSession(
        [SwitchTarget(name, fake.address, fake.device_id, P4INFO_PATH, BMV2_JSON_PATH)],
        SessionOptions(election_id=election_id),
    )
    fabric.call(other.__aenter__())
    try:
        fabric.call(other.wait_connected())
        yield
    finally:
        fabric.call(other.__aexit__(None, None, None))


def test_a_switch_another_controller_holds_exits_5_naming_it_and_nothing_is_sent(
    cabled: tuple[Cabled, Path],
) -> None:
    """Held as `hpnctl run` holds it by default (election id 10): the check's own (1) is lower."""
    fabric, targets = cabled
    push(targets)
    with held_by_another_controller(fabric, "agg-p1-a1", election_id=10):
        res = wiring(targets)
    assert res.exit_code == 5, res.output
    assert "another controller is primary on agg-p1-a1 (ours is election id 1)" in res.output
    assert "hpn_cable_wiring_ok" in res.output
    assert "ports checked" not in res.stdout
    assert all(not f.packet_outs for f in fabric.fakes.values())


def test_a_switch_that_is_down_is_named_and_its_ports_are_not_checked(cabled: tuple[Cabled, Path]) -> None:
    fabric, targets = cabled
    push(targets)
    down = fabric.fakes["agg-p0-a0"]
    fabric.call(down.stop())
    res = wiring(targets, "--connect-timeout", "1")
    assert res.exit_code == 3, res.output
    assert f"agg-p0-a0 ({down.address}): unreachable" in res.stderr
    assert problems(res) == []  # the ToR uplinks facing it heard nothing: not checked either
    assert f"hpn-mini: {PORTS - 8} ports checked: {PORTS - 8} ok; 8 not checked" in res.stdout


def test_a_fabric_not_pushed_is_named_not_programmed(cabled: tuple[Cabled, Path]) -> None:
    fabric, targets = cabled
    res = wiring(targets)
    assert res.exit_code == 1, res.output
    fresh = "(its pipeline was not this program: it was put on it now, with no entries)"
    aggs = "agg-p0-a0, agg-p0-a1, agg-p1-a0, agg-p1-a1"
    tors = ", ".join(sorted(t.name for t in fabric.fabric.tors()))
    assert f"not programmed: {aggs}: cpu_punt does not punt ethertype 0x88b5, 0x88cc {fresh}" in res.stderr
    assert f"not programmed: {tors}: cpu_punt does not punt ethertype 0x0806, 0x88b5, 0x88cc" in res.stderr
    assert "hpnctl push programs them" in res.stderr
    assert f"hpn-mini: 0 ports checked: 0 ok; {PORTS} not checked" in res.stdout
    assert all(not f.write_updates for f in fabric.fakes.values()), "an entry was written"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--collect-ms", "0"], "--collect-ms must be at least 1, not 0"),
        (["--rounds", "0"], "--rounds must be at least 1, not 0"),
        (["--election-id", "0"], "--election-id must be at least 1, not 0"),
        (
            ["--collect-ms", "2", "--rounds", "3"],
            "--collect-ms 2 leaves less than 1 ms to each of --rounds 3",
        ),
        (["--connect-timeout", "0"], "--connect-timeout must be a positive number of seconds, not 0.0"),
    ],
)
def test_bad_options_are_named(args: list[str], message: str) -> None:
    res = runner.invoke(app, ["wiring", str(MINI), "--host", "127.0.0.1", *args])
    assert res.exit_code == 2, res.output
    assert message in res.output


def test_no_switch_reachable_names_them_all_and_checks_nothing(cabled: tuple[Cabled, Path]) -> None:
    fabric, targets = cabled
    for fake in fabric.fakes.values():
        fabric.call(fake.stop())
    res = wiring(targets, "--connect-timeout", "1")
    assert res.exit_code == 3, res.output
    assert all(f"{name} ({fake.address}): unreachable" in res.stderr for name, fake in fabric.fakes.items())
    assert res.stdout.splitlines() == [f"hpn-mini: 0 ports checked: 0 ok; {PORTS} not checked"]
