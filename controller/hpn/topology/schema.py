"""Pydantic models of the two YAML forms (`kind: hpn` and `kind: explicit`).

Only structure and single-value rules live here; rules that relate several
entries (dangling links, duplicates, planes) are in validate.py and hpn.py.
Unknown keys are errors everywhere (extra="forbid").
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from hpn.params import EcnConfig, LbMode, LinkRate
from hpn.topology.model import FabricSettings

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def _require_str(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


def _check_mac(value: str) -> str:
    mac = value.lower()
    if not _MAC.match(mac):
        raise ValueError(f"{value!r} is not a MAC address like 02:00:0a:00:00:01")
    return mac


def _check_speed(gbps: int) -> int:
    LinkRate.from_gbps(gbps)  # raises ValueError naming the allowed speeds
    return gbps


IPv4Net = Annotated[IPv4Network, BeforeValidator(_require_str), Field(strict=False)]
IPv4Addr = Annotated[IPv4Address, BeforeValidator(_require_str), Field(strict=False)]
Mac = Annotated[str, AfterValidator(_check_mac)]
Gbps = Annotated[int, AfterValidator(_check_speed)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Count = Annotated[int, Field(ge=1)]
Index = Annotated[int, Field(ge=0)]
Plane = Annotated[int, Field(ge=0, le=3)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class LbSpec(_Spec):
    mode: Literal["ecmp", "flowlet", "spray", "adaptive"] = "ecmp"
    flowlet_gap_us: Count = 10_000
    load_window_us: Count = 1_000


class EcnSpec(_Spec):
    """RED thresholds on egress queue depth, in the target's unit (bmv2: packets)."""

    kmin: Index
    kmax: Index
    pmax: Annotated[float, Field(ge=0.0, le=1.0)]

    @model_validator(mode="after")
    def _ordered(self) -> EcnSpec:
        if self.kmin > self.kmax:
            raise ValueError(f"kmin ({self.kmin}) must not exceed kmax ({self.kmax})")
        return self


class AddressingSpec(_Spec):
    base: IPv4Net = IPv4Network("10.0.0.0/8")


class SpeedSpec(_Spec):
    host_gbps: Gbps = 200
    fabric_gbps: Gbps = 400


class HpnSpec(_Spec):
    """Parametric HPN pod: the generator (hpn.py) derives every switch, host and link."""

    kind: Literal["hpn"]
    name: Name
    segments: Count
    hosts_per_segment: Count
    rails: Count
    planes: Annotated[int, Field(ge=1, le=2)] = 2
    aggs_per_plane: Count
    planes_merged: bool = False
    speeds: SpeedSpec = SpeedSpec()
    addressing: AddressingSpec = AddressingSpec()
    lb: LbSpec = LbSpec()
    ecn: EcnSpec | None = None


class SwitchSpec(_Spec):
    name: Name
    role: Literal["tor", "agg"]
    plane: Plane = 0
    segment: Index | None = None
    rail: Index | None = None
    device_id: Count | None = None
    grpc_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    mac: Mac | None = None


class NicSpec(_Spec):
    rail: Index
    ip: IPv4Addr
    mac: Mac | None = None


class HostSpec(_Spec):
    name: Name
    segment: Index
    index: Index
    nics: Annotated[list[NicSpec], Field(min_length=1)]


class EndSpec(_Spec):
    """A link end: `{switch: s, port: n}` or `{host: h, rail: r, port: 0|1}`."""

    switch: Name | None = None
    host: Name | None = None
    rail: Index | None = None
    port: Index

    @model_validator(mode="after")
    def _one_kind(self) -> EndSpec:
        if (self.switch is None) == (self.host is None):
            raise ValueError("a link end names exactly one of 'switch' or 'host'")
        if self.host is not None and self.rail is None:
            raise ValueError("a host end needs 'rail' (which NIC)")
        if self.switch is not None and self.rail is not None:
            raise ValueError("'rail' belongs to host ends only")
        return self


class LinkSpec(_Spec):
    a: EndSpec
    b: EndSpec
    gbps: Gbps = 400


class ExplicitSpec(_Spec):
    """Every switch, host and link spelled out: for test rigs and odd fabrics."""

    kind: Literal["explicit"]
    name: Name
    planes_merged: bool = False
    addressing: AddressingSpec = AddressingSpec()
    lb: LbSpec = LbSpec()
    ecn: EcnSpec | None = None
    switches: Annotated[list[SwitchSpec], Field(min_length=1)]
    hosts: list[HostSpec] = []
    links: list[LinkSpec] = []


def settings_of(lb: LbSpec, ecn: EcnSpec | None) -> FabricSettings:
    return FabricSettings(
        lb_mode=LbMode[lb.mode.upper()],
        flowlet_gap_us=lb.flowlet_gap_us,
        load_window_us=lb.load_window_us,
        ecn=None if ecn is None else EcnConfig(kmin=ecn.kmin, kmax=ecn.kmax, pmax=ecn.pmax),
    )
