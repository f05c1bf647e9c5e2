"""Where each switch is: `--targets FILE`, `--host HOST`, or the running emulation's file.

A targets file is JSON `{switch: address}` naming every switch the command talks to,
with addresses `host:port`, `[IPv6]:port` or `unix:PATH`. Without one, `--host` (default
127.0.0.1) with each switch's `grpc_port`; without `--host` the running emulation's
targets file is used when there is one. Every problem is bad input (exit 2), named with
the file and the switch, before any switch is contacted.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

from hpn.cli import common
from hpn.cli.common import Exit, fail
from hpn.runtime import SwitchTarget
from hpn.runtime.targets import address_problem, grpc_address, host_problem
from hpn.topology.model import Fabric

DEFAULT_HOST = "127.0.0.1"


def switch_targets(
    fabric: Fabric,
    host: str | None,
    targets_file: Path | None,
    names: Collection[str],
    pipeline: tuple[Path, Path] | None = None,
) -> list[SwitchTarget]:
    """Targets of the switches in `names` (in the topology's order), with the (P4Info,
    device config) to push: bmv2's compiled program unless `pipeline` says otherwise."""
    if host is not None and targets_file is not None:
        fail(Exit.BAD_INPUT, "--host and --targets exclude each other: give one of them")
    emulation_file = common.run_dir(fabric) / "targets.json"
    if host is None and (targets_file is not None or emulation_file.exists()):
        addresses = read_targets_file(targets_file or emulation_file, fabric, names)
    else:
        addresses = _host_addresses(fabric, host or DEFAULT_HOST)
    p4info, blob = pipeline or (common.P4INFO_PATH, common.BMV2_JSON_PATH)
    return [
        SwitchTarget(sw.name, addresses[sw.name], sw.device_id, p4info, blob)
        for sw in fabric.switches
        if sw.name in names
    ]


def _host_addresses(fabric: Fabric, host: str) -> dict[str, str]:
    why = host_problem(host)
    if why is not None:
        fail(Exit.BAD_INPUT, f"--host: {why}; each switch is reached on its grpc_port (--targets for others)")
    return {sw.name: grpc_address(host, sw.grpc_port) for sw in fabric.switches}


def read_targets_file(path: Path, fabric: Fabric, names: Collection[str]) -> dict[str, str]:
    """{switch: address} from a targets file that names only switches of `fabric` and every
    one in `names`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(Exit.BAD_INPUT, f"{path}: no such targets file")
    except (OSError, UnicodeDecodeError) as exc:
        fail(Exit.BAD_INPUT, f"{path}: cannot read the targets file ({exc})")
    try:
        data = json.loads(text)
    except ValueError as exc:
        line = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        fail(Exit.BAD_INPUT, f"{path}: not JSON: {getattr(exc, 'msg', exc)}{line}")
    if not isinstance(data, dict):
        fail(Exit.BAD_INPUT, f'{path}: expected a JSON object {{"switch": "host:port", ...}}')
    unknown = sorted(name for name in data if not fabric.has_switch(name))
    if unknown:
        fail(Exit.BAD_INPUT, f"{path}: unknown switch(es) {', '.join(unknown)}: not in fabric {fabric.name}")
    for name, address in data.items():
        if not isinstance(address, str):
            fail(Exit.BAD_INPUT, f"{path}: {name}: the address must be a string, not {json.dumps(address)}")
        why = address_problem(address)
        if why is not None:
            fail(Exit.BAD_INPUT, f"{path}: {name}: {why}")
    missing = [sw.name for sw in fabric.switches if sw.name in names and sw.name not in data]
    if missing:
        fail(Exit.BAD_INPUT, f"{path}: no address for {', '.join(missing)}")
    return {str(name): str(address) for name, address in data.items()}
