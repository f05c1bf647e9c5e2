"""hpn.runtime against several real simple_switch_grpc instances at once (rig-4 topology)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path

import finsy as fy
import pytest

from hpn.netlab.bmv2 import Bmv2Switch
from hpn.netlab.netns import Netns
from hpn.netlab.rig import unique_prefix
from hpn.pipeline import BMV2_JSON_PATH, P4INFO_PATH, switch_entities
from hpn.routing.compute import compute_fabric_state
from hpn.runtime import FabricSession, SessionOptions, SwitchReport, SwitchTarget
from hpn.topology.loader import load_fabric

pytestmark = [pytest.mark.integration, pytest.mark.root]

RIG = Path(__file__).resolve().parents[1] / "topologies" / "rig-4.yaml"
TIMEOUT = 120.0


@pytest.fixture
def switches() -> Iterator[dict[str, Bmv2Switch]]:
    fabric = load_fabric(RIG)
    ns = Netns(unique_prefix("f")).create()
    run_dir = Path(tempfile.mkdtemp(prefix="hpn-fabric-"))
    started: dict[str, Bmv2Switch] = {}
    try:
        for i, sw in enumerate(fabric.switches):
            # Ports exist only as numbers here: these tests check the control plane.
            bmv2 = Bmv2Switch(sw.name, ns, {}, run_dir, device_id=sw.device_id, thrift_port=9190 + i)
            bmv2.start()
            started[sw.name] = bmv2
        yield started
    finally:
        for bmv2 in started.values():
            bmv2.stop()
        ns.delete()


def desired() -> dict[str, list[fy.P4TableEntry]]:
    states = compute_fabric_state(load_fabric(RIG))
    return {name: switch_entities(state) for name, state in states.items()}


def targets(switches: dict[str, Bmv2Switch]) -> list[SwitchTarget]:
    return [
        SwitchTarget(name, sw.grpc_address, sw.device_id, P4INFO_PATH, BMV2_JSON_PATH)
        for name, sw in switches.items()
    ]


def test_push_read_back_repush_nothing(switches: dict[str, Bmv2Switch]) -> None:
    want = desired()

    async def scenario() -> None:
        async with FabricSession(targets(switches), SessionOptions(own_all_tables=True)) as fabric:
            first = await fabric.push(want)
            assert first.ok, first.errors
            for name, report in first.switches.items():
                assert report.pipeline_pushed, name
                # Defaults equal to the program's own count as unchanged.
                total = report.inserted + report.modified + report.unchanged
                assert total == len(want[name]), report.summary()
            diffs = await fabric.diff(want)
            assert all(d.is_empty for d in diffs.values()), {n: d.summary() for n, d in diffs.items()}
            again = await fabric.push(want)
            assert again.ok and again.updates == 0
            assert not any(r.pipeline_pushed for r in again.switches.values())

    asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))


def test_killed_switch_is_resynced_when_it_returns(switches: dict[str, Bmv2Switch]) -> None:
    want = desired()
    victim = "agg1"

    async def scenario() -> None:
        async with FabricSession(targets(switches), SessionOptions(own_all_tables=True)) as fabric:
            assert (await fabric.push(want)).ok
            synced: asyncio.Queue[SwitchReport] = asyncio.Queue()
            watcher = asyncio.create_task(fabric.keep_in_sync(on_sync=synced.put_nowait))
            try:
                switches[victim].kill()
                # A fresh bmv2 has no pipeline and no entries; the watcher must notice and re-sync.
                await asyncio.to_thread(switches[victim].start)
                report = await asyncio.wait_for(synced.get(), TIMEOUT)
                assert report.name == victim
                assert report.ok and report.pipeline_pushed, report.summary()
                assert report.inserted + report.modified + report.unchanged == len(want[victim])
                diffs = await fabric.diff(want)
                assert all(d.is_empty for d in diffs.values())
                assert synced.empty(), "only the restarted switch is re-synced"
            finally:
                watcher.cancel()

    asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
