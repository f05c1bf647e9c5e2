"""hpnctl: parsing, messages and exit codes; push/diff/status against fake switches."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fake_p4rt import FakeP4RuntimeServer
from hpn.cli import app
from hpn.pipeline import BMV2_JSON_PATH, P4INFO_PATH
from hpn.runtime import FabricSession, SessionOptions, SwitchTarget
from hpn.topology.loader import load_fabric

TOPO = Path(__file__).resolve().parents[1] / "topologies"
MINI = str(TOPO / "hpn-mini.yaml")
RIG = str(TOPO / "rig-4.yaml")
runner = CliRunner()


@pytest.fixture(autouse=True)
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HPN_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path / "run"


def test_validate_ok() -> None:
    res = runner.invoke(app, ["validate", MINI])
    assert res.exit_code == 0, res.output
    assert "12 switches" in res.output


def test_validate_reports_file_path_and_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: hpn\nname: x\nsegments: two\nhosts_per_segment: 2\nrails: 2\naggs_per_plane: 2\n")
    res = runner.invoke(app, ["validate", str(bad)])
    assert res.exit_code == 2
    assert f"{bad}: segments:" in res.output


def test_missing_file_is_bad_input(tmp_path: Path) -> None:
    res = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert res.exit_code == 2
    assert "cannot read the file" in res.output


def test_plan_json_has_every_switch() -> None:
    res = runner.invoke(app, ["plan", MINI, "--entries", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert set(data) == {s.name for s in load_fabric(MINI).switches}


def test_plan_rejects_unknown_switch_and_format() -> None:
    assert runner.invoke(app, ["plan", MINI, "--switch", "tor-x"]).exit_code == 2
    res = runner.invoke(app, ["plan", MINI, "--entries", "yaml"])
    assert res.exit_code == 2
    assert "--entries must be json, text or p4rt" in res.output


def test_plan_p4rt_prints_the_entities_a_push_writes() -> None:
    res = runner.invoke(app, ["plan", MINI, "--entries", "p4rt", "--switch", "tor-s0-r0-p0"])
    assert res.exit_code == 0, res.output
    entities = json.loads(res.stdout)["tor-s0-r0-p0"]
    kinds = {next(iter(entity)) for entity in entities}
    # selector members and groups come with the table entries that point at them
    assert kinds == {"tableEntry", "actionProfileMember", "actionProfileGroup"}
    group_refs = [
        e["tableEntry"]
        for e in entities
        if "tableEntry" in e and "actionProfileGroupId" in e["tableEntry"]["action"]
    ]
    assert group_refs, "next_hop entries point at selector groups"


def test_push_to_tofino_without_device_config_names_the_missing_option() -> None:
    res = runner.invoke(app, ["push", MINI, "--target", "tofino", "--host", "127.0.0.1"])
    assert res.exit_code == 2
    assert "--device-config" in res.output


def test_plan_rejects_an_unknown_target() -> None:
    res = runner.invoke(app, ["plan", MINI, "--entries", "p4rt", "--target", "tofino2"])
    assert res.exit_code == 2
    assert "tofino2" in res.output


def test_plan_check_reports_reachability_under_failure() -> None:
    res = runner.invoke(app, ["plan", MINI, "--check", "--failed-switch", "agg-p0-a0"])
    assert res.exit_code == 0, res.output
    assert "reachability:" in res.output and "0 plane crossings" in res.output


def test_link_down_up_records_the_failure_view(run_dir: Path) -> None:
    res = runner.invoke(app, ["link", "down", MINI, "tor-s0-r0-p0:129", "--no-apply"])
    assert res.exit_code == 0, res.output
    saved = json.loads((run_dir / "hpn-mini" / "failures.json").read_text())
    assert saved["links"] == ["tor-s0-r0-p0:129"]
    # The recorded failure shapes later plans: the ToR's uplink group loses the port.
    text = runner.invoke(app, ["plan", MINI, "--entries", "text", "--switch", "tor-s0-r0-p0"]).stdout
    assert "ports 130" in text and "ports 129-130" not in text
    res = runner.invoke(app, ["link", "up", MINI, "tor-s0-r0-p0:129", "--no-apply"])
    assert res.exit_code == 0
    assert json.loads((run_dir / "hpn-mini" / "failures.json").read_text())["links"] == []


def test_link_down_unknown_link_is_bad_input() -> None:
    res = runner.invoke(app, ["link", "down", MINI, "tor-s0-r0-p0:77", "--no-apply"])
    assert res.exit_code == 2
    assert "no link at 'tor-s0-r0-p0:77'" in res.output


def test_bad_connect_timeout_is_bad_input() -> None:
    res = runner.invoke(app, ["push", MINI, "--connect-timeout", "0"])
    assert res.exit_code == 2


class FakeFabric:
    """One fake P4Runtime switch per topology switch, served from a background loop."""

    def __init__(self, devices: dict[str, int]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fakes = {n: FakeP4RuntimeServer(device_id=d) for n, d in devices.items()}
        for fake in self.fakes.values():
            self.call(fake.start())

    def call(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(20)  # type: ignore[arg-type]

    def close(self) -> None:
        for fake in self.fakes.values():
            self.call(fake.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def fake_rig(tmp_path: Path) -> Iterator[tuple[FakeFabric, Path]]:
    if not P4INFO_PATH.exists():
        pytest.skip(f"{P4INFO_PATH} missing: run `make p4`")
    fabric = FakeFabric({s.name: s.device_id for s in load_fabric(RIG).switches})
    targets = tmp_path / "targets.json"
    targets.write_text(json.dumps({n: f.address for n, f in fabric.fakes.items()}))
    try:
        yield fabric, targets
    finally:
        fabric.close()


def test_push_then_diff_then_repush_writes_nothing(fake_rig: tuple[FakeFabric, Path]) -> None:
    fabric, targets = fake_rig
    res = runner.invoke(app, ["push", RIG, "--targets", str(targets)])
    assert res.exit_code == 0, res.output
    assert all(f.set_pipeline_calls == 1 and f.entries for f in fabric.fakes.values())
    assert runner.invoke(app, ["diff", RIG, "--targets", str(targets)]).exit_code == 0
    writes = [len(f.write_updates) for f in fabric.fakes.values()]
    res = runner.invoke(app, ["push", RIG, "--targets", str(targets)])
    assert res.exit_code == 0
    assert "0 updates" in res.output
    assert [len(f.write_updates) for f in fabric.fakes.values()] == writes
    assert all(f.set_pipeline_calls == 1 for f in fabric.fakes.values())
    assert runner.invoke(app, ["status", RIG, "--targets", str(targets)]).exit_code == 0


def test_diff_sees_a_failure_view_and_link_down_applies_it(fake_rig: tuple[FakeFabric, Path]) -> None:
    _, targets = fake_rig
    assert runner.invoke(app, ["push", RIG, "--targets", str(targets)]).exit_code == 0
    fabric_model = load_fabric(RIG)
    tor = fabric_model.tors()[0].name
    uplink = max(fabric_model.switch_ports(tor))
    res = runner.invoke(
        app, ["diff", RIG, "--targets", str(targets), "--failed-link", f"{tor}:{uplink}", "-v"]
    )
    assert res.exit_code == 1, res.output
    res = runner.invoke(app, ["link", "down", RIG, f"{tor}:{uplink}", "--targets", str(targets)])
    assert res.exit_code == 0, res.output
    assert runner.invoke(app, ["diff", RIG, "--targets", str(targets)]).exit_code == 0


def test_unreachable_switch_is_named_and_others_programmed(fake_rig: tuple[FakeFabric, Path]) -> None:
    fabric, targets = fake_rig
    down = next(iter(fabric.fakes))
    fabric.call(fabric.fakes[down].stop())
    res = runner.invoke(app, ["push", RIG, "--targets", str(targets), "--connect-timeout", "1"])
    assert res.exit_code == 3, res.output
    assert down in res.output and "unreachable" in res.output
    assert all(f.entries for n, f in fabric.fakes.items() if n != down)


@contextlib.contextmanager
def held_by_another_controller(fabric: FakeFabric, name: str) -> Iterator[None]:
    """Switch `name` held, for the block, by a controller with a higher election id (50)."""
    fake = fabric.fakes[name]
    other = FabricSession(
        [SwitchTarget(name, fake.address, fake.device_id, P4INFO_PATH, BMV2_JSON_PATH)],
        SessionOptions(election_id=50),
    )
    fabric.call(other.__aenter__())
    try:
        fabric.call(other.wait_connected())
        yield
    finally:
        fabric.call(other.__aexit__(None, None, None))


def test_push_that_loses_arbitration_exits_5_not_1(fake_rig: tuple[FakeFabric, Path]) -> None:
    """Another controller (a higher election id) holds one switch: push names it and exits
    NOT_PRIMARY (5), not FAILED (1), which means the switch rejected entries."""
    fabric, targets = fake_rig
    held = next(iter(fabric.fakes))
    with held_by_another_controller(fabric, held):
        res = runner.invoke(app, ["push", RIG, "--targets", str(targets)])
    assert res.exit_code == 5, res.output
    assert held in res.output and "another controller is primary" in res.output


def test_a_second_run_on_a_held_fabric_refuses_with_exit_5(fake_rig: tuple[FakeFabric, Path]) -> None:
    """`hpnctl run` does not fight the controller that holds the fabric: it says so and
    exits NOT_PRIMARY before writing anything."""
    fabric, targets = fake_rig
    held = next(iter(fabric.fakes))
    with held_by_another_controller(fabric, held):
        res = runner.invoke(app, ["run", RIG, "--targets", str(targets), "--election-id", "10"])
    assert res.exit_code == 5, res.output
    assert f"{held}: another controller is primary" in res.output
    assert not any(f.entries for f in fabric.fakes.values()), "nothing written"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--interval-ms", "0"], "--interval-ms must be at least 1, not 0"),
        (["--misses", "0"], "--misses must be at least 1, not 0"),
        (["--hold-down-ms", "-1"], "--hold-down-ms must be at least 0, not -1"),
    ],
)
def test_run_refuses_bad_timers(args: list[str], message: str) -> None:
    res = runner.invoke(app, ["run", RIG, *args])
    assert res.exit_code == 2, res.output
    assert message in res.output


def test_link_down_and_up_move_the_emulation_around_the_push_in_order(
    fake_rig: tuple[FakeFabric, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    fabric, targets = fake_rig
    assert runner.invoke(app, ["push", RIG, "--targets", str(targets)]).exit_code == 0
    calls: list[tuple[bool, bool, int]] = []  # (cables, hosts, updates the switches had got by then)

    def follow(_run_dir: Path, links: object, switches: object, cables: bool, hosts: bool) -> list[str]:
        calls.append((cables, hosts, sum(len(f.write_updates) for f in fabric.fakes.values())))
        return []

    monkeypatch.setattr("hpn.emulation.control_socket.apply_failures", follow)
    before = sum(len(f.write_updates) for f in fabric.fakes.values())
    assert runner.invoke(app, ["link", "down", RIG, "tor0:129", "--targets", str(targets)]).exit_code == 0
    after_down = sum(len(f.write_updates) for f in fabric.fakes.values())
    assert calls == [(True, True, before)] and after_down > before  # emulation first, then the push
    calls.clear()
    assert runner.invoke(app, ["link", "up", RIG, "tor0:129", "--targets", str(targets)]).exit_code == 0
    assert [c[:2] for c in calls] == [(True, False), (False, True)]
    (_, _, first), (_, _, second) = calls
    assert first == after_down < second  # cable, push, then hosts


def test_a_real_run_prints_each_unreachable_switch_once_on_whole_lines(tmp_path: Path) -> None:
    """In a process of its own (no test logging handlers, output into pipes)."""
    targets = tmp_path / "t.json"
    targets.write_text(json.dumps({s.name: f"unix:{tmp_path}/none.sock" for s in load_fabric(RIG).switches}))
    argv = ["push", RIG, "--targets", str(targets), "--connect-timeout", "1"]
    run = subprocess.run(
        [sys.executable, "-c", "from hpn.cli import main; main()", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HPN_RUN_DIR": str(tmp_path / "run"), "COLUMNS": ""},
    )
    out = run.stdout + run.stderr
    assert run.returncode == 3, out
    assert "retrying" not in out and "Traceback" not in out
    for name in ("tor0", "tor1", "agg0", "agg1"):
        (line,) = [line for line in out.splitlines() if f"{name} (unix:" in line]
        assert line.startswith(f"{name} (unix:") and line.endswith("No such file or directory"), line
