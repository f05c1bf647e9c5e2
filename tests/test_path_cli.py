"""hpnctl trace and hpnctl paths: output, JSON and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hpn.cli import app

TOPO = Path(__file__).resolve().parents[1] / "topologies"
MINI = str(TOPO / "hpn-mini.yaml")
runner = CliRunner()
TRACE = ["trace", MINI, "--src", "10.0.0.1", "--dst", "10.1.0.2", "--sport", "50000"]


@pytest.fixture(autouse=True)
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HPN_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path / "run"


def test_trace_prints_every_switch_with_its_ports() -> None:
    res = runner.invoke(app, TRACE)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith("10.0.0.1:50000 -> 10.1.0.2:4791")
    hops = [line.split() for line in lines[2:-1]]
    assert [h[0] for h in hops][0::2] == ["tor-s0-r0-p0", "tor-s1-r0-p0"]
    assert hops[0][1] == "1" and hops[-1][2] == "2"  # host port 1 in, host port 2 out
    assert lines[-1] == "delivered to host-s1-h1/nic0/p0"


def test_trace_json_and_the_other_plane() -> None:
    res = runner.invoke(app, [*TRACE, "--nic-port", "1", "--target", "tofino", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["target"] == "tofino" and data["source"] == "host-s0-h0/nic0/p1"
    assert ["-p1" in h["switch"] for h in data["hops"]] == [True] * 3
    assert data["delivered_to"] == "host-s1-h1/nic0/p1"


def test_trace_around_a_failed_link() -> None:
    first = json.loads(runner.invoke(app, [*TRACE, "--json"]).output)
    uplink = f"{first['hops'][0]['switch']}:{first['hops'][0]['out_port']}"
    for extra in ([], ["--unannounced"]):
        res = runner.invoke(app, [*TRACE, "--json", "--failed-link", uplink, *extra])
        assert res.exit_code == 0, res.output
        hops = json.loads(res.output)["hops"]
        assert f"{hops[0]['switch']}:{hops[0]['out_port']}" != uplink


def test_trace_of_a_dropped_flow_exits_1_and_says_why() -> None:
    res = runner.invoke(app, [*TRACE, "--failed-link", "host-s0-h0/nic0/p0"])
    assert res.exit_code == 1
    assert "not delivered: the link of host-s0-h0/nic0/p0 is down" in res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--src", "10.0.0.99"], "--src: no NIC in fabric hpn-mini has address 10.0.0.99"),
        (["--src", "ten"], "--src: 'ten' is not an IPv4 address"),
        (["--sport", "70000"], "Invalid value for '--sport'"),
        (["--failed-link", "tor-x:1"], "--failed-link"),
    ],
)
def test_trace_bad_arguments_are_exit_2(args: list[str], message: str) -> None:
    res = runner.invoke(app, [*TRACE, *args])
    assert res.exit_code == 2
    assert message in res.output


def _flows(tmp_path: Path, body: str) -> str:
    path = tmp_path / "flows.yaml"
    path.write_text(body)
    return str(path)


FLOWS = """
flows:
  - {src: host-s0-h0/nic0, dst: host-s1-h0/nic0, size: 1MiB}
  - {src: host-s0-h1/nic0, dst: host-s1-h1/nic0, size: 1MiB}
"""


def test_paths_prints_ports_and_link_loads(tmp_path: Path) -> None:
    res = runner.invoke(app, ["paths", MINI, _flows(tmp_path, FLOWS), "--baseline"])
    assert res.exit_code == 0, res.output
    assert "planned source ports: uplinks max/mean 1.000, max/share 1.000" in res.output
    assert "random source ports (ECMP)" in res.output


def test_paths_json_spreads_two_flows_over_both_uplinks(tmp_path: Path) -> None:
    res = runner.invoke(app, ["paths", MINI, _flows(tmp_path, FLOWS), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert [49152 <= f["sport"] <= 65535 for f in data["flows"]] == [True, True]
    first_uplinks = {tuple(f["hops"][0]) for f in data["flows"]}
    assert len(first_uplinks) == 2
    up = [row for row in data["links"] if row["direction"] == "up"]
    assert sorted(row["bytes"] for row in up) == [1 << 20, 1 << 20]
    assert data["balance"]["up"]["max_over_share"] == 1.0


def test_paths_with_a_bad_flows_file_is_exit_2_naming_the_line(tmp_path: Path) -> None:
    res = runner.invoke(app, ["paths", MINI, _flows(tmp_path, "flows:\n  - {src: nope/nic0}\n")])
    assert res.exit_code == 2
    assert "flows.yaml: flows[0]: missing `dst` (line 2)" in res.output
