"""Load a topology YAML file into a validated `Fabric`.

Every failure is a `TopologyError` listing each problem as
`file: path.inside[3].the_file: what is wrong (line n)`.
"""

from __future__ import annotations

import difflib
import os
import reprlib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from hpn.bulk import gc_paused
from hpn.topology import hpn
from hpn.topology.errors import Path, Problem, TopologyError
from hpn.topology.model import (
    GRPC_PORT_BASE,
    Addressing,
    Endpoint,
    Fabric,
    Host,
    Link,
    Nic,
    NicPort,
    Role,
    Switch,
    SwitchPort,
)
from hpn.topology.schema import EndSpec, ExplicitSpec, HpnSpec, settings_of
from hpn.topology.source import read_topology_text
from hpn.topology.validate import check_fabric
from hpn.topology.yamldoc import LineIndex, parse_yaml

__all__ = ["TopologyError", "load_fabric", "load_fabric_text"]

_KINDS: dict[str, type[BaseModel]] = {"hpn": HpnSpec, "explicit": ExplicitSpec}


def load_fabric(path: str | os.PathLike[str]) -> Fabric:
    """Read, check and build the fabric of a topology file."""
    file = os.fspath(path)
    return load_fabric_text(read_topology_text(file), file)


def load_fabric_text(text: str, file: str = "<text>") -> Fabric:
    """Like `load_fabric` for text already in memory; `file` names it in errors."""
    # A large explicit file is ~10^6 objects, none in a cycle: collecting would rescan them
    # all again and again (for pydantic's models, 20 times the time of the validation).
    with gc_paused():
        return _load(text, file)


def _load(text: str, file: str) -> Fabric:
    node, data = parse_yaml(text, file)
    lines = LineIndex(node)

    def fail(problems: list[Problem]) -> TopologyError:
        return TopologyError(file, [lines.locate(p) for p in problems])

    if not isinstance(data, dict):
        raise fail([Problem((), "expected a mapping with 'kind: hpn' or 'kind: explicit'")])
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in _KINDS:
        raise fail([Problem(("kind",), f"expected one of {sorted(_KINDS)}, got {_shorten(kind)}")])
    model = _KINDS[kind]
    try:
        spec = model.model_validate(data)
    except ValidationError as exc:
        raise fail(_schema_problems(exc, model)) from None

    if isinstance(spec, HpnSpec):
        problems = hpn.check_spec(spec)
        if problems:
            raise fail(problems)
        # The generator's output passes check_fabric by construction (tested), so
        # large pods skip the per-link checks.
        return hpn.generate(spec)

    assert isinstance(spec, ExplicitSpec)
    fabric = _build_explicit(spec)
    problems = check_fabric(fabric)
    if problems:
        raise fail(problems)
    return fabric


# -- schema errors ------------------------------------------------------------


def _schema_problems(exc: ValidationError, root: type[BaseModel]) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc: Path = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            problems.append(Problem(loc, _unknown_key(root, loc)))
        elif err["type"] == "missing":
            problems.append(Problem(loc, "required key is missing"))
        elif err["type"] == "value_error":  # our validators name the bad value themselves
            problems.append(Problem(loc, str(err["msg"]).removeprefix("Value error, ")))
        else:
            problems.append(Problem(loc, f"{err['msg']} (got {_shorten(err['input'])})"))
    return problems


def _unknown_key(root: type[BaseModel], loc: Path) -> str:
    key = str(loc[-1])
    allowed = _keys_at(root, loc[:-1])
    if not allowed:
        return f"unknown key {key!r}"
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key {key!r} (allowed: {', '.join(allowed)}){hint}"


def _keys_at(root: type[BaseModel], path: Path) -> list[str]:
    """Field names of the model found at `path` (list indexes are skipped)."""
    model: type[BaseModel] | None = root
    for part in path:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        model = None if field is None else _model_in(field.annotation)
    return [] if model is None else list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation like `list[X]`, `X | None`, `Annotated[...]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return None
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _bounded_repr() -> reprlib.Repr:
    """A repr that looks at a few items of a few levels: a value in a message may be a huge
    (aliased) structure, whose full repr must not be built just to be cut."""
    bounded = reprlib.Repr()
    bounded.maxlevel = 3
    bounded.maxlist = bounded.maxtuple = bounded.maxset = bounded.maxdict = 4
    bounded.maxstring = bounded.maxother = 60
    return bounded


_REPR = _bounded_repr()


def _shorten(value: Any, limit: int = 60) -> str:
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- explicit form --------------------------------------------------------------


def _build_explicit(spec: ExplicitSpec) -> Fabric:
    switches = []
    for i, s in enumerate(spec.switches):
        device_id = s.device_id if s.device_id is not None else i + 1
        switches.append(
            Switch(
                name=s.name,
                role=Role(s.role),
                plane=s.plane,
                device_id=device_id,
                grpc_port=s.grpc_port if s.grpc_port is not None else GRPC_PORT_BASE + device_id,
                mac=s.mac if s.mac is not None else hpn.switch_mac(device_id),
                segment=s.segment,
                rail=s.rail,
            )
        )
    hosts = [
        Host(
            name=h.name,
            segment=h.segment,
            index=h.index,
            nics=tuple(
                Nic(rail=n.rail, ip=n.ip, mac=n.mac if n.mac is not None else hpn.nic_mac(n.ip))
                for n in h.nics
            ),
        )
        for h in spec.hosts
    ]
    links = [Link(_endpoint(link.a), _endpoint(link.b), link.gbps) for link in spec.links]
    return Fabric(
        name=spec.name,
        switches=tuple(switches),
        hosts=tuple(hosts),
        links=tuple(links),
        addressing=Addressing(spec.addressing.base),
        settings=settings_of(spec.lb, spec.ecn),
        planes_merged=spec.planes_merged,
    )


def _endpoint(end: EndSpec) -> Endpoint:
    if end.switch is not None:
        return SwitchPort(end.switch, end.port)
    assert end.host is not None and end.rail is not None
    return NicPort(end.host, end.rail, end.port)
