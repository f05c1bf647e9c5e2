"""A single bmv2 switch in a private namespace, with one veth pair per port.

Port i of the switch is veth `<prefix>s<i>`; its peer `<prefix>h<i>` is where
tests send and capture. Used by the integration tests, the PTF runner and the
one-switch demo. The namespace, the veths and the switch process are removed by
name on exit; the run directory (the switch's log and socket, a new temporary
directory unless `run_dir` is given) is kept, so the log can be read after a
failure.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from hpn.netlab import ethtool
from hpn.netlab.bmv2 import Bmv2Switch
from hpn.netlab.netns import Netns, entered


@dataclass
class SwitchRig:
    prefix: str
    nports: int = 4
    run_dir: Path | None = None
    log_level: str = "warn"
    wrapper: tuple[str, ...] = ()
    netns: Netns = field(init=False)
    switch: Bmv2Switch = field(init=False)

    def __post_init__(self) -> None:
        if len(self.prefix) > 8:
            raise ValueError(f"rig prefix {self.prefix!r} is too long for veth names (8 chars max)")
        self.netns = Netns(self.prefix)
        if self.run_dir is None:
            self.run_dir = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-"))
        self.switch = Bmv2Switch(
            name=f"{self.prefix}-sw",
            netns=self.netns,
            ports={i: self.switch_iface(i) for i in range(self.nports)},
            run_dir=self.run_dir,
            log_level=self.log_level,
            wrapper=self.wrapper,
        )

    def switch_iface(self, port: int) -> str:
        return f"{self.prefix}s{port}"

    def host_iface(self, port: int) -> str:
        return f"{self.prefix}h{port}"

    def __enter__(self) -> SwitchRig:
        self.netns.create()
        try:
            for i in range(self.nports):
                self.netns.add_veth(self.switch_iface(i), self.host_iface(i))
            with entered(self.netns.name):  # before libpcap sizes its ring (see ethtool.py)
                for i in range(self.nports):
                    ethtool.disable_segmentation(self.switch_iface(i))
            self.switch.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.switch.stop()
        self.netns.delete()

    def ptf_interface_args(self) -> list[str]:
        """`--interface` arguments for ptf, device 0."""
        args: list[str] = []
        for i in range(self.nports):
            args += ["--interface", f"0-{i}@{self.host_iface(i)}"]
        return args


def unique_prefix(kind: str) -> str:
    """A short, per-process prefix like 'hpt1234' (kind is one letter)."""
    return f"hp{kind}{os.getpid() % 100000}"
