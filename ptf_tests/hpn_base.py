"""Base class of every PTF suite: a clean switch, programmed through hpn.pipeline.

Each test starts from a switch whose registers are reset and whose tables are
reconciled to exactly the state the test programs (hpn.runtime reads back
and writes only the difference), so no test depends on what ran before.
Entries are always built by hpn.pipeline from a SwitchState: tests exercise
the controller's own entity building.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ptf
from ptf import testutils
from ptf.base_tests import BaseTest

from hpn.pipeline import names
from hpn.pipeline.drop_reasons import DropReason
from hpn.routing.state import SwitchState
from switch_control import SwitchControl, control_for

RESULTS_FILE = "ptf-results.jsonl"


def _tolerate_link_errors(port: Any) -> None:
    """PTF's receive thread dies on the error a socket returns while its link changes
    state (and every later test then fails): read such an error as "no packet"."""
    if getattr(port, "_hpn_guarded", False):
        return
    recv = port.recv

    def guarded() -> Any:
        try:
            return recv()
        except (OSError, RuntimeError):
            return None

    port.recv = guarded
    port._hpn_guarded = True


class HpnTest(BaseTest):  # type: ignore[misc]
    nports: int
    control: SwitchControl

    def setUp(self) -> None:
        BaseTest.setUp(self)
        self.dataplane = ptf.dataplane_instance
        self.dataplane.flush()
        params = testutils.test_params_get()
        self.nports = int(params["nports"])
        self.control = control_for(params)
        self.control.reset()
        self._links_down: set[int] = set()
        for port in list(self.dataplane.ports.values()):
            _tolerate_link_errors(port)

    def tearDown(self) -> None:
        for port in sorted(self._links_down):
            self.set_peer_link(port, up=True)
        self.set_queue_defaults()
        BaseTest.tearDown(self)

    # -- links -----------------------------------------------------------------------
    def set_peer_link(self, port: int, *, up: bool) -> None:
        """Take the far end of switch port `port` down (or up). The switch's own interface
        then reads oper-down ("lowerlayerdown"), which bmv2 reports to its P4Runtime server
        within ~0.2 s; the server deactivates every member watching that port. (Taking the
        switch's own interface down can freeze bmv2: behavioral-model issue 1215.)"""
        iface = ptf.config["port_map"][(0, port)]
        if up:
            subprocess.run(["ip", "link", "set", iface, "up"], check=True)
            # a socket on a link that is not yet oper-up fails too: wait for carrier
            operstate = Path(f"/sys/class/net/{iface}/operstate")
            self.wait_until(f"{iface} up", lambda: operstate.read_text().strip() == "up")
            # and bmv2's own port monitor (which reactivates the members watching the
            # port) has seen it: the next test must not meet members still inactive
            self.wait_until(f"bmv2 sees port {port} up", lambda: self.bmv2_port_up(port))
            self.dataplane.port_add(iface, 0, port)
            _tolerate_link_errors(self.dataplane.ports[(0, port)])
            self._links_down.discard(port)
        else:
            # PTF's receive thread dies on the error a downed socket returns: let go of
            # the port first, take it back once it is up again.
            self.dataplane.port_remove(0, port)
            subprocess.run(["ip", "link", "set", iface, "down"], check=True)
            self._links_down.add(port)

    def bmv2_port_up(self, port: int) -> bool:
        """Whether bmv2's port monitor reports `port` up (simple_switch_CLI show_ports)."""
        for line in self.control.cli(["show_ports"]).splitlines():
            fields = line.split()
            if fields and fields[0] == str(port):
                return "UP" in fields
        return False

    def wait_until(self, what: str, condition: Callable[[], bool], timeout: float = 10.0) -> float:
        """Evaluate `condition` (which itself sends and receives) until it holds; the
        seconds it took. Fails naming `what` after `timeout`."""
        start = time.monotonic()
        while not condition():
            if time.monotonic() - start > timeout:
                self.fail(f"{what}: not within {timeout}s")
        return time.monotonic() - start

    def try_receive(self, pkt: Any, in_port: int = 0, timeout: float = 0.3) -> int | None:
        """Send `pkt`; the port it came out of, or None when it did not come out in time."""
        testutils.send_packet(self, in_port, pkt)
        res = self.dataplane.poll(device_number=0, port_number=None, timeout=timeout)
        if isinstance(res, self.dataplane.PollFailure):
            return None
        return int(res.port)

    # -- control plane ---------------------------------------------------------------
    def program(self, state: SwitchState) -> dict[str, int]:
        """Reconcile the switch to `state`; returns the counts of writes it took."""
        return self.control.program(state)

    def counter(self, name: str, index: int) -> tuple[int, int]:
        """(packets, bytes) of an indirect counter cell."""
        return self.control.counter(name, index)

    def register(self, name: str, index: int) -> int:
        """One cell of a bmv2 register array, read over Thrift."""
        out = self.control.cli([f"register_read {name} {index}"])
        match = re.search(rf"{re.escape(name)}\[{index}\]\s*=\s*(\d+)", out)
        if match is None:
            self.fail(f"register_read {name} {index}: no value in {out!r}")
        return int(match.group(1))

    def assert_dropped_since(self, reason: DropReason, before: int, expected: int) -> None:
        """`expected` more drops of `reason` than `before`: waits until the switch has
        counted them (bmv2 may still be taking in frames the test sent), then checks that
        it counted exactly those."""
        self.wait_until(
            f"{expected} {reason.name} drops", lambda: self.drop_count(reason) - before >= expected
        )
        self.assertEqual(self.drop_count(reason) - before, expected, reason.name)

    def drop_count(self, reason: DropReason) -> int:
        return self.counter(names.DROP_COUNTER, int(reason))[0]

    def set_queue(self, port: int, *, rate_pps: int, depth: int | None = None) -> None:
        """Slow (or restore) an egress queue through bmv2's queue controls."""
        cmds = [f"set_queue_rate {rate_pps} {port}"]
        if depth is not None:
            cmds.append(f"set_queue_depth {depth} {port}")
        self.control.cli(cmds)

    def set_queue_defaults(self) -> None:
        self.control.cli([f"set_queue_rate 1000000 {p}" for p in range(self.nports)])

    # -- data plane ------------------------------------------------------------------
    def receive_one(self, timeout: float = 3.0) -> tuple[int, bytes]:
        res = self.dataplane.poll(device_number=0, port_number=None, timeout=timeout)
        if isinstance(res, self.dataplane.PollFailure):
            self.fail(f"no packet within {timeout}s")
        return int(res.port), bytes(res.packet)

    def receive_n(self, n: int, timeout: float = 10.0) -> list[tuple[int, bytes]]:
        """n packets from any port in arrival order (fails if fewer arrive in time)."""
        got = []
        for i in range(n):
            res = self.dataplane.poll(device_number=0, port_number=None, timeout=timeout)
            if isinstance(res, self.dataplane.PollFailure):
                self.fail(f"received {i} of {n} packets")
            got.append((int(res.port), bytes(res.packet)))
        return got

    def receive_until_quiet(self, quiet: float, port: int | None = None) -> list[bytes]:
        """Frames (from `port`, or any) in arrival order until none arrives for `quiet` s:
        for a queue draining at a known rate, a gap of many departures means it is empty."""
        got = []
        while True:
            res = self.dataplane.poll(device_number=0, port_number=port, timeout=quiet)
            if isinstance(res, self.dataplane.PollFailure):
                return got
            got.append(bytes(res.packet))

    def send_and_receive(self, pkt: Any, in_port: int = 0, timeout: float = 3.0) -> tuple[int, bytes]:
        testutils.send_packet(self, in_port, pkt)
        return self.receive_one(timeout)

    def send_flow_packets(self, pkts: list[Any], in_port: int = 0) -> list[int]:
        """Send packets one by one; the egress port of each, in order."""
        return [self.send_and_receive(p, in_port)[0] for p in pkts]

    def log_result(self, key: str, value: Any) -> None:
        """Record a measured value for the run's summary."""
        with open(RESULTS_FILE, "a") as f:
            f.write(json.dumps({"test": self.id(), "key": key, "value": value, "pid": os.getpid()}) + "\n")
