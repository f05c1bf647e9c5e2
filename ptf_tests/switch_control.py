"""The PTF suites' handle on the switch: hpn.runtime on a background event loop.

PTF tests are synchronous unittest code; hpn.runtime is asyncio. One loop
thread holds one FabricSession for the whole run, and each call is submitted
to it and awaited. bmv2's queue controls go through simple_switch_CLI
(Thrift), which never writes tables, so it does not race P4Runtime.
"""

from __future__ import annotations

import asyncio
import json
import queue
import subprocess
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from hpn.pipeline import switch_entities
from hpn.routing.state import SwitchState
from hpn.runtime import FabricSession, SessionOptions, SwitchTarget
from hpn.runtime.packet_io import packet_ins, send_frame

T = TypeVar("T")
SWITCH = "ptf-switch"


class SwitchControl:
    def __init__(self, params: dict[str, Any]) -> None:
        self.thrift_port = int(params["thrift_port"])
        self.bmv2_json = Path(params["bmv2_json"])
        target = SwitchTarget(
            name=SWITCH,
            address=params["grpc_addr"],
            device_id=1,
            p4info=Path(params["p4info"]),
            p4blob=self.bmv2_json,
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="hpn-runtime", daemon=True)
        self.thread.start()
        self.session = FabricSession([target], SessionOptions(own_all_tables=True))
        self.packet_ins: queue.Queue[tuple[int, bytes]] = queue.Queue()
        self._run(self._open())

    async def _open(self) -> None:
        await self.session.__aenter__()
        await self.session.wait_connected()
        self._reader = asyncio.ensure_future(self._read_packet_ins())

    async def _read_packet_ins(self) -> None:
        """Every packet-in (the primary gets them all), as (ingress port, frame)."""
        async for packet in packet_ins(self.session.switch(SWITCH), queue_size=4096):
            self.packet_ins.put((packet.port, packet.frame))

    def packet_out(self, frame: bytes, port: int) -> None:
        """Send `frame` out of `port` through the switch's CPU path (P4Runtime PacketOut)."""
        self._run(send_frame(self.session.switch(SWITCH), frame, port))

    def next_packet_in(self, timeout: float = 3.0) -> tuple[int, bytes] | None:
        if self._reader.done():
            raise AssertionError(f"the packet-in reader stopped: {self._reader.exception()!r}")
        try:
            return self.packet_ins.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain_packet_ins(self) -> None:
        while not self.packet_ins.empty():
            self.packet_ins.get_nowait()

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def program(self, state: SwitchState) -> dict[str, int]:
        report = self._run(self.session.push({SWITCH: switch_entities(state)}))
        sw = report[SWITCH]
        if not sw.ok:
            raise AssertionError("programming the switch failed:\n  " + "\n  ".join(sw.errors))
        return {"inserted": sw.inserted, "modified": sw.modified, "deleted": sw.deleted}

    def diff_lines(self, state: SwitchState) -> list[str]:
        """The updates the switch would need to hold `state` ([]: it holds exactly that)."""
        diff = self._run(self.session.diff({SWITCH: switch_entities(state)}))[SWITCH]
        if diff.error is not None:
            raise AssertionError(f"reading the switch back failed: {diff.error}")
        return diff.lines(self.session.switch(SWITCH).schema)

    def counter(self, name: str, index: int) -> tuple[int, int]:
        values = self._run(self.session.read_counters(name, [index]))[SWITCH][index]
        return values.packets, values.bytes

    def cli(self, commands: list[str]) -> str:
        proc = subprocess.run(
            ["simple_switch_CLI", "--thrift-port", str(self.thrift_port)],
            input="\n".join(commands) + "\n",
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or "Error" in proc.stdout:
            raise AssertionError(f"simple_switch_CLI {commands}: {proc.stdout}{proc.stderr}")
        return proc.stdout

    def reset(self) -> None:
        """A clean switch: the pipeline in place, no entries, members or groups, and the
        flowlet, spray, load and queue registers cleared, so no test sees another's state.
        (bmv2 aborts on a register command before it has a pipeline: push first.)"""
        report = self._run(self.session.push({SWITCH: []}))[SWITCH]
        if not report.ok:
            raise AssertionError("clearing the switch failed:\n  " + "\n  ".join(report.errors))
        registers = [r["name"] for r in json.loads(self.bmv2_json.read_text()).get("register_arrays", [])]
        self.cli([f"register_reset {name}" for name in registers])


_CONTROL: SwitchControl | None = None


def control_for(params: dict[str, Any]) -> SwitchControl:
    """One control per PTF process, opened by the first test."""
    global _CONTROL
    if _CONTROL is None:
        _CONTROL = SwitchControl(params)
    return _CONTROL
