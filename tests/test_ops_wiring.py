"""The wiring check: a correctly cabled fabric passes; swapped, missing, extra and strange
cables are each named at the port where they are, switch and host cables alike; the
one-shot `hpnctl wiring` reads the observed file and exits by what it found."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hpn.cli import app
from hpn.operations.wiring import (
    HostSeen,
    NeighbourSeen,
    Observed,
    ObservedError,
    Verdict,
    check_wiring,
    intact_observation,
    observed_from_json,
    observed_to_json,
)
from hpn.topology import Fabric, load_fabric
from hpn.topology.model import SwitchPort

TOPOLOGIES = Path(__file__).resolve().parent.parent / "topologies"
MINI = TOPOLOGIES / "hpn-mini.yaml"
runner = CliRunner()


@pytest.fixture(scope="module")
def mini() -> Fabric:
    return load_fabric(MINI)


def _swap_uplinks(fabric: Fabric, observed: Observed, a: SwitchPort, b: SwitchPort) -> Observed:
    """The cables plugged into ToR ports `a` and `b` swapped at the ToR end: each ToR port
    hears the other's agg, and each agg port hears the other ToR port."""
    pa, pb = fabric.peer(a.switch, a.port), fabric.peer(b.switch, b.port)
    assert isinstance(pa, SwitchPort) and isinstance(pb, SwitchPort)
    swap = {
        a: NeighbourSeen(a, pb.switch, pb.port),
        b: NeighbourSeen(b, pa.switch, pa.port),
        pa: NeighbourSeen(pa, b.switch, b.port),
        pb: NeighbourSeen(pb, a.switch, a.port),
    }
    return dataclasses.replace(observed, neighbours=tuple(swap.get(n.at, n) for n in observed.neighbours))


def test_an_intact_fabric_has_no_problems_and_every_cable_end_is_checked(mini: Fabric) -> None:
    report = check_wiring(mini, intact_observation(mini))
    assert report.ok
    ends = sum(1 for link in mini.links for end in link.ends() if isinstance(end, SwitchPort))
    assert report.counts()[Verdict.OK] == ends


def test_two_swapped_cables_are_named_at_all_four_ports(mini: Fabric) -> None:
    a, b = SwitchPort("tor-s0-r0-p0", 129), SwitchPort("tor-s1-r0-p0", 130)
    report = check_wiring(mini, _swap_uplinks(mini, intact_observation(mini), a, b))
    assert sorted(str(f) for f in report.problems) == [
        "agg-p0-a0:1 expected tor-s0-r0-p0:129, found tor-s1-r0-p0:130",
        "agg-p0-a1:3 expected tor-s1-r0-p0:130, found tor-s0-r0-p0:129",
        "tor-s0-r0-p0:129 expected agg-p0-a0:1, found agg-p0-a1:3",
        "tor-s1-r0-p0:130 expected agg-p0-a1:3, found agg-p0-a0:1",
    ]
    assert {f.verdict for f in report.problems} == {Verdict.MISMATCH}


def test_missing_unexpected_and_unknown_neighbours_are_told_apart(mini: Fabric) -> None:
    intact = intact_observation(mini)
    silent = SwitchPort("tor-s0-r0-p0", 130)
    spare = SwitchPort("agg-p0-a0", 40)  # no cable in the topology
    stranger = SwitchPort("agg-p0-a1", 1)
    kept = [NeighbourSeen(stranger, "agg-p9-a9", 4) if n.at == stranger else n for n in intact.neighbours]
    neighbours = (*(n for n in kept if n.at != silent), NeighbourSeen(spare, "tor-s1-r1-p0", 200))
    observed = Observed(neighbours, intact.hosts)
    report = check_wiring(mini, observed)
    found = {f.at: (f.verdict, str(f)) for f in report.problems}
    assert found == {
        silent: (Verdict.MISSING, "tor-s0-r0-p0:130 expected agg-p0-a1:1, found nothing"),
        spare: (Verdict.UNEXPECTED, "agg-p0-a0:40 expected nothing, found tor-s1-r1-p0:200"),
        stranger: (
            Verdict.UNKNOWN_NEIGHBOUR,
            "agg-p0-a1:1 expected tor-s0-r0-p0:130, found agg-p9-a9:4, which is not in the topology",
        ),
    }


def test_host_cables_are_checked_by_the_nic_mac_each_tor_port_sees(mini: Fabric) -> None:
    intact = intact_observation(mini)
    port1, port2 = SwitchPort("tor-s0-r0-p0", 1), SwitchPort("tor-s0-r0-p0", 2)
    mac = {h.at: h.mac for h in intact.hosts}
    stranger = SwitchPort("tor-s1-r0-p0", 2)
    changed = {
        port1: HostSeen(port1, mac[port2]),
        port2: HostSeen(port2, mac[port1]),
        stranger: HostSeen(stranger, "02:ff:ff:ff:ff:ff"),
    }
    silent = SwitchPort("tor-s0-r1-p0", 1)
    hosts = tuple(changed.get(h.at, h) for h in intact.hosts if h.at != silent)
    report = check_wiring(mini, Observed(intact.neighbours, hosts))
    assert sorted(str(f) for f in report.problems) == [
        "tor-s0-r0-p0:1 expected host-s0-h0/nic0/p0, found host-s0-h1/nic0/p0",
        "tor-s0-r0-p0:2 expected host-s0-h1/nic0/p0, found host-s0-h0/nic0/p0",
        "tor-s0-r1-p0:1 expected host-s0-h0/nic1/p0, found nothing",
        "tor-s1-r0-p0:2 expected host-s1-h1/nic0/p0, found MAC 02:ff:ff:ff:ff:ff, "
        "which is not in the topology",
    ]


def test_a_nic_on_a_tor_it_has_no_cable_to_is_named_without_a_port(mini: Fabric) -> None:
    intact = intact_observation(mini)
    at = SwitchPort("tor-s0-r0-p0", 1)
    nic = mini.nic("host-s1-h0", 1)
    assert nic is not None
    hosts = tuple(HostSeen(at, nic.mac) if h.at == at else h for h in intact.hosts)
    (problem,) = check_wiring(mini, Observed(intact.neighbours, hosts)).problems
    assert str(problem) == "tor-s0-r0-p0:1 expected host-s0-h0/nic0/p0, found host-s1-h0/nic1"


def test_the_observed_json_round_trips_and_bad_entries_are_named(mini: Fabric) -> None:
    intact = intact_observation(mini)
    assert observed_from_json(json.loads(json.dumps(observed_to_json(intact))), "f") == intact
    bad = [
        ([], 'f: expected a JSON object {"neighbours": [...], "hosts": [...]}'),
        ({"links": []}, "f: unknown key(s) links (allowed: neighbours, hosts)"),
        (
            {"neighbours": [{"switch": "a", "port": 1, "heard": "b"}]},
            'f: neighbours[0].heard: expected "SWITCH:PORT", not "b"',
        ),
        (
            {"neighbours": [{"switch": "a", "port": "1", "heard": "b:1"}]},
            'f: neighbours[0].port: expected a port number, not "1"',
        ),
        (
            {"hosts": [{"switch": "a", "port": 1, "mac": "x"}]},
            'f: hosts[0].mac: expected a MAC aa:bb:cc:dd:ee:ff, not "x"',
        ),
        ({"hosts": [3]}, "f: hosts[0]: expected an object, not 3"),
    ]
    for data, message in bad:
        with pytest.raises(ObservedError) as info:
            observed_from_json(data, "f")
        assert str(info.value) == message


def test_observations_at_a_switch_the_topology_lacks_are_refused(mini: Fabric) -> None:
    with pytest.raises(ObservedError, match="not in hpn-mini: tor-x"):
        check_wiring(mini, Observed((NeighbourSeen(SwitchPort("tor-x", 1), "agg-p0-a0", 1),)))


def _write(tmp_path: Path, observed: Observed) -> Path:
    path = tmp_path / "observed.json"
    path.write_text(json.dumps(observed_to_json(observed)))
    return path


def test_hpnctl_wiring_exits_0_when_intact_and_1_naming_swapped_cables(mini: Fabric, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["wiring", str(MINI), "--observed", str(_write(tmp_path, intact_observation(mini)))]
    )
    assert result.exit_code == 0, result.output
    assert "0 mismatch" not in result.output and "ok" in result.output
    swapped = _swap_uplinks(
        mini, intact_observation(mini), SwitchPort("tor-s0-r0-p0", 129), SwitchPort("tor-s1-r0-p0", 130)
    )
    result = runner.invoke(app, ["wiring", str(MINI), "--observed", str(_write(tmp_path, swapped))])
    assert result.exit_code == 1
    assert "mismatch: tor-s0-r0-p0:129 expected agg-p0-a0:1, found agg-p0-a1:3" in result.output
    assert "4 mismatch" in result.output


def test_hpnctl_wiring_bad_input_is_exit_2_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "observed.json"
    path.write_text("{nope")
    result = runner.invoke(app, ["wiring", str(MINI), "--observed", str(path)])
    assert result.exit_code == 2
    assert f"{path}: not JSON" in result.output
