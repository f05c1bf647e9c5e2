"""The emulation process: Mininet, the bmv2 switches and the hosts of one fabric.

`hpnctl emulate up` starts it as
`ip netns exec hpn-emu-<fabric> python -m hpn.emulation.daemon TOPOLOGY RUN_DIR --ready-fd 3`
(posix_spawn, its own session), so everything it creates lives in namespaces
made for the fabric. It writes its processes to the state file as it starts
them, tells the caller on the ready fd when the fabric is wired and every
switch listens (or why it failed), then serves the control socket
(hpn.emulation.control_socket) until `stop` or SIGTERM, and stops what it started.
It never opens a gRPC channel.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from hpn.emulation.control_socket import serve_one
from hpn.emulation.layout import Layout, parse_crossing
from hpn.emulation.network import EmulatedNetwork
from hpn.emulation.state import EmulationState, Proc
from hpn.routing.failures import FailureView
from hpn.topology.loader import load_fabric

LOG = logging.getLogger("hpn.emulation")


class Stop(Exception):
    """SIGTERM/SIGINT: stop what was started and exit."""


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


class Daemon:
    def __init__(self, layout: Layout, topology: Path, log_level: str) -> None:
        self.layout = layout
        self.net = EmulatedNetwork(layout, log_level)
        me = Proc.of(os.getpid())
        assert me is not None
        self.state = EmulationState(layout.fabric.name, str(topology), "starting", me)
        self.failed_links: list[str] = []
        self.failed_switches: list[str] = []

    def save(self, phase: str | None = None) -> None:
        if phase:
            self.state.phase = phase
        self.state.hosts = {n: p for n, node in self.net.hosts.items() if (p := Proc.of(node.pid))}
        self.state.switches = {
            n: p for n, node in self.net.switches.items() if node.bmv2.pid and (p := Proc.of(node.bmv2.pid))
        }
        self.state.write(self.layout.state_file)

    def handle(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        if op == "status":
            unplugged = [
                str(c)
                for c in self.layout.cables
                if not self.net.panel or not self.net.panel.plugged.get(c.index, True)
            ]
            return {
                "phase": self.state.phase,
                "switches": {n: node.bmv2.alive() for n, node in self.net.switches.items()},
                "failures": {"links": self.failed_links, "switches": self.failed_switches},
                "unplugged": unplugged,
            }
        if op == "failures":
            links = [str(x) for x in args.get("links", [])]
            switches = [str(x) for x in args.get("switches", [])]
            view = FailureView.parse(self.layout.fabric, links, switches)
            started = time.monotonic()
            cables, hosts = bool(args.get("cables", True)), bool(args.get("hosts", True))
            changes = self.net.apply_failures(view, cables=cables, hosts=hosts)
            if hosts:
                self.failed_links, self.failed_switches = links, switches
            LOG.info("failure view: %s (%d changes)", view.describe(), len(changes))
            return {"changes": changes, "seconds": time.monotonic() - started}
        if op in ("kill", "start"):
            name = str(args.get("switch"))
            if name not in self.net.switches:
                raise ValueError(f"no such switch {name!r}")
            if op == "kill":
                self.net.kill_switch(name)
            else:
                self.net.start_switch(name)
            self.save()
            LOG.info("%s %s", "killed" if op == "kill" else "started", name)
            return {"switch": name}
        if op == "stop":
            return {}
        raise ValueError(f"unknown op {op!r}")

    def run(self, failures: tuple[list[str], list[str]], ready_fd: int | None) -> int:
        server: socket.socket | None = None
        try:
            self.save()
            view = FailureView.parse(self.layout.fabric, *failures)
            self.failed_links, self.failed_switches = failures
            self.net.build(view, progress=self.save)
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.layout.control_socket.unlink(missing_ok=True)
            server.bind(str(self.layout.control_socket))
            server.listen(8)
            self.save("ready")
            LOG.info("ready: %d switches, %d hosts", len(self.net.switches), len(self.net.hosts))
            _tell(ready_fd, {"ok": True})
            ready_fd = None
            while True:
                conn, _ = server.accept()
                with conn:
                    if not serve_one(conn, self.handle):
                        LOG.info("stop requested")
                        return 0
        except Stop as why:
            LOG.info("stopping on %s", why)
            _tell(ready_fd, {"ok": False, "error": f"interrupted ({why})"})
            return 0
        except Exception as exc:
            LOG.exception("emulation failed")
            self.state.error = str(exc)
            self.save("failed")
            _tell(ready_fd, {"ok": False, "error": str(exc)})
            return 1
        finally:
            # A second signal must not cut the cleanup short.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            if server is not None:
                server.close()
            self.layout.control_socket.unlink(missing_ok=True)
            if self.state.phase != "failed":
                self.save("stopping")
            self.net.shutdown()
            if self.state.phase != "failed":
                self.save("stopped")
            LOG.info("stopped")


def _tell(fd: int | None, message: dict[str, Any]) -> None:
    if fd is None:
        return
    try:
        os.write(fd, json.dumps(message).encode() + b"\n")
        os.close(fd)
    except OSError:
        pass  # the caller is gone (interrupted); the state file says the rest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hpn.emulation.daemon", description=__doc__)
    parser.add_argument("topology", type=Path)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--ready-fd", type=int, default=None)
    parser.add_argument(
        "--log-level", default="warn", help="bmv2 log level (trace|debug|info|warn|error|off)"
    )
    parser.add_argument("--failed-link", action="append", default=[])
    parser.add_argument("--failed-switch", action="append", default=[])
    parser.add_argument(
        "--cross", action="append", default=[], help="SWITCH:PORT,SWITCH:PORT: swap these two cables"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    fabric = load_fabric(args.topology)
    crossed = tuple(parse_crossing(fabric, text) for text in args.cross)
    layout = Layout(fabric, args.run_dir.resolve(), crossed)
    daemon = Daemon(layout, args.topology, args.log_level)
    return daemon.run((args.failed_link, args.failed_switch), args.ready_fd)


if __name__ == "__main__":
    sys.exit(main())
