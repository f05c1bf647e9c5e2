"""The controller's constants are the P4 programs' constants, for bmv2 and for Tofino.

An installed hpnctl has no p4src, so Python keeps its own copy of every value it shares
with the data plane (drop reasons, LB modes, link-rate indices, table sizes, the INT
layout); these tests read the P4 sources of each target (tests/p4_constants.py) and
fail on any drift between the copies, and on any compiled P4Info or BF Runtime schema
whose sizes are not the ones the sources declare.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from finsy.proto import p4i
from google.protobuf import text_format
from scapy.data import ETH_P_ARP

from hpn import params
from hpn.params import LbMode, LinkRate
from hpn.paths import bmv2_model, flow
from hpn.pipeline import buckets, load_balancing, values
from hpn.pipeline.drop_reasons import DropReason
from hpn.pipeline.p4info import P4INFO_PATH, TOFINO_OUT, TOFINO_P4INFO_PATH
from hpn.routing import groups, plan, state
from hpn.telemetry import codec, packets
from hpn.topology import model
from p4_constants import MAIN, P4SRC, Declared, P4Program, P4SourceError, disagreements, unmatched

TARGETS = tuple(MAIN)


def _ptf_constant(name: str) -> int:
    """A constant of ptf_tests/test_cpu_path.py (PTF suites run apart, with their own copy)."""
    source = (Path(__file__).resolve().parents[1] / "ptf_tests" / "test_cpu_path.py").read_text()
    found = re.search(rf"^{name} = (\d+)", source, re.M)
    assert found, f"ptf_tests/test_cpu_path.py defines no {name}"
    return int(found.group(1))


P4INFO = {"bmv2": P4INFO_PATH, "tofino": TOFINO_P4INFO_PATH}
BFRT = {"tofino": TOFINO_OUT / "bfrt.json"}

ENUMS: dict[str, dict[str, int]] = {
    "LB_MODE_": {f"LB_MODE_{m.name}": m.value for m in LbMode},
    "DROP_": {f"DROP_{m.name}": m.value for m in DropReason},
    "LINK_RATE_": {f"LINK_RATE_{m.name[1:]}G": m.value for m in LinkRate},  # G25 <-> LINK_RATE_25G
}
FAMILY_TYPE = {"DROP_": "drop_reason_t"}
"""A family is the constants of its prefix, of this type if given (DROP_REASON_BITS is no reason)."""
P4_ONLY = {
    "DROP_NONE": "0 means 'not dropped': no reason, and drop counter cell 0 is never counted",
    "LINK_RATE_UNKNOWN": "no speed: LINK_RATE_GBPS maps the index to 0 (test_int_layout_is_the_codecs)",
}


def python_values(target: str) -> dict[str, int]:
    """The controller's copy of each P4 constant, by its P4 name."""
    out = {
        "IPV4_LPM_SIZE": plan.IPV4_LPM_SIZE,
        "MAX_GROUPS": groups.MAX_GROUPS,
        "MAX_PORTS": state.PORT_LIMIT,
        "BUCKET_BITS": buckets.MAX_BUCKET_BITS,
        "MAX_BUCKETS": load_balancing.MAX_BUCKETS,
        "INT_HOP_SLOTS": codec.MAX_HOPS,
        "UDP_PORT_ROCEV2": codec.ROCEV2_UDP_PORT,
        "ETHERTYPE_IPV4": packets.ETHERTYPE_IPV4,
        "ETHERNET_MIN_FRAME": packets.MIN_FRAME_BYTES,
        "ETHERTYPE_ARP": ETH_P_ARP,
        "BMV2_CPU_PORT": params.BMV2_CPU_PORT,
        "TOFINO_CPU_PORT": params.TOFINO_CPU_PORT,
        "PUNT_PER_WINDOW": _ptf_constant("PUNT_PER_WINDOW"),
    }
    for members in ENUMS.values():
        out.update(members)
    if target == "bmv2":  # Tofino's ECN is a table of ranges (ecn_ramp), with no scaled pmax
        out["ECN_PMAX_ONE"] = values.PMAX_ONE
    return out


@pytest.fixture(scope="module", params=TARGETS)
def target(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def program(target: str) -> P4Program:
    return P4Program.of_target(target)


def test_python_constants_equal_their_p4_counterparts(target: str, program: P4Program) -> None:
    assert disagreements(python_values(target), program.constants) == []


def test_every_p4_drop_reason_lb_mode_and_link_rate_has_a_python_member(program: P4Program) -> None:
    for prefix, members in ENUMS.items():
        family = program.family(prefix, FAMILY_TYPE.get(prefix))
        assert family, f"no P4 constants named {prefix}*: the family was renamed"
        found = unmatched({k: v for k, v in family.items() if k not in P4_ONLY}, members)
        assert found == [], prefix
    assert set(P4_ONLY) <= set(program.constants), "an exception names a constant P4 no longer has"


def test_planes_are_as_many_as_the_plane_field_holds(program: P4Program) -> None:
    assert 1 << program.constants["PLANE_BITS"] == model.MAX_PLANES


def _bits_of(fields: list[tuple[str, int]], prefix: str) -> int:
    return sum(bits for name, bits in fields if name.startswith(prefix))


def test_the_path_predictor_hashes_the_programs_flow_key(program: P4Program) -> None:
    """hpn.paths keeps its own copies: the flow key's fields, widths and values."""
    copies = {
        "PROTO_TCP": flow.PROTO_TCP,
        "PROTO_UDP": flow.PROTO_UDP,
        "UDP_PORT_ROCEV2": flow.ROCEV2_PORT,
        "FLOWLET_ID_MASK": bmv2_model.FLOWLET_ID_MASK,
        "FLOWLET_ALTERNATE": bmv2_model.FLOWLET_ALTERNATE,
    }
    assert disagreements(copies, program.constants) == []
    fields = [f.strip() for f in program.macros["FLOW_KEY_FIELDS"].split(",")]
    widths = [program.field_width(f) for f in fields]
    assert sum(widths) == flow.KEY_BYTES * 8
    source_port = next(i for i, f in enumerate(fields) if f.endswith("src_port"))
    assert sum(widths[:source_port]) == flow.SPORT_OFFSET * 8


def test_int_layout_is_the_codecs(target: str, program: P4Program) -> None:
    bth = program.header("bth_t")
    assert sum(bits for _, bits in bth) == codec.BTH_BYTES * 8
    offset = 0
    masks = {}
    for name, bits in bth:
        if offset // 8 == codec.BTH_FLAGS_OFFSET:
            masks[name] = ((1 << bits) - 1) << (8 - offset % 8 - bits)
        offset += bits
    assert (masks["int_fill"], masks["int_echo"]) == (codec.BTH_INT_FILL, codec.BTH_INT_ECHO)

    hop = program.header("int_hop_t")
    assert sum(bits for _, bits in hop) == codec.HOP_BYTES * 8
    assert sum(bits for _, bits in program.header("int_nhop_t")) == codec.NHOP_BYTES * 8
    if target == "bmv2":  # Tofino's hop is two 32-bit words (HPN_INT_HOP_AS_WORDS)
        widths = {p: _bits_of(hop, p) for p in ("line_rate", "time_", "bytes_", "qlen_")}
        assert widths == {
            "line_rate": codec.LINK_RATE_BITS,
            "time_": codec.TIMESTAMP_BITS,
            "bytes_": codec.TX_BYTES_BITS,
            "qlen_": codec.QLEN_BITS,
        }
    rate_bits = program.width(program.types["LINK_RATE_UNKNOWN"])
    assert rate_bits == codec.LINK_RATE_BITS
    assert len(codec.LINK_RATE_GBPS) == 1 << rate_bits
    assert codec.LINK_RATE_GBPS[program.constants["LINK_RATE_UNKNOWN"]] == 0


# --- the compiled programs declare what the sources do ----------------------------------


def compiled_sizes(target: str, p4info: Path | None = None) -> dict[str, dict[str, int]]:
    """Sizes of every object of the target's compiled output, by its kind and local name."""
    info = p4i.P4Info()
    text_format.Parse((p4info or P4INFO[target]).read_text(), info)
    out: dict[str, dict[str, int]] = {}
    for t in info.tables:
        out[f"table {_local(t.preamble.name)}"] = {"size": t.size}
    for objects in (info.counters, info.direct_counters, info.meters, info.registers):
        for o in objects:
            out[f"extern {_local(o.preamble.name)}"] = {"size": o.size}
    for a in info.action_profiles:
        out[f"extern {_local(a.preamble.name)}"] = {"size": a.size, "max_group_size": a.max_group_size}
    if target in BFRT:  # a selector's group count and an Lpf's size are in BF Runtime only
        declared = {d.name for d in P4Program.of_target(target).declared()}
        for t in json.loads(BFRT[target].read_text())["tables"]:
            name = _local(t["name"])  # it lists the compiler's own objects too: only declared ones
            if name in declared and f"table {name}" not in out and f"extern {name}" not in out:
                out[f"extern {name}"] = {"size": t["size"]}
    return out


def _local(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def declared_sizes(program: P4Program) -> dict[str, dict[str, int]]:
    """What the compiled output should hold for each declaration, keyed as compiled_sizes."""
    decls = program.declared()
    groups_of = {d.profile: d.max_group_size for d in decls if d.profile and d.max_group_size}
    out: dict[str, dict[str, int]] = {}
    for d in decls:
        sizes = {"size": d.size}
        max_group = groups_of.get(d.name, d.max_group_size)
        if d.kind in ("action_selector", "ActionProfile"):
            sizes["max_group_size"] = max_group or 0
        key = f"{'table' if d.kind == 'table' else 'extern'} {d.name}"
        assert out.setdefault(key, sizes) == sizes, f"two declarations of {key}, unlike in size"
    return out


def size_mismatches(compiled: dict[str, dict[str, int]], declared: dict[str, dict[str, int]]) -> list[str]:
    out = []
    for key in sorted(compiled.keys() | declared.keys()):
        if key not in declared:
            out.append(f"{key}: compiled, but no declaration in the sources")
        elif key not in compiled:
            out.append(f"{key}: declared, but not in the compiled output")
        elif compiled[key] != declared[key]:
            out.append(f"{key}: compiled {compiled[key]}, declared {declared[key]}")
    return out


def test_compiled_sizes_are_the_declared_sizes(target: str, program: P4Program) -> None:
    compiled = compiled_sizes(target)
    assert size_mismatches(compiled, declared_sizes(program)) == []


def test_the_route_and_group_tables_hold_what_the_planner_allows(target: str) -> None:
    compiled = compiled_sizes(target)
    assert compiled["table ipv4_lpm"]["size"] == plan.IPV4_LPM_SIZE
    assert compiled["table lb_group"]["size"] == groups.MAX_GROUPS


# --- the checks see drift ----------------------------------------------------------------


def _altered(path: Path, old: str, new: str) -> Callable[[Path], str]:
    def read(p: Path) -> str:
        text = p.read_text()
        if p.resolve() == path.resolve():
            assert old in text, f"{path.name} no longer has {old!r}"
            return text.replace(old, new)
        return text

    return read


def test_a_changed_size_define_is_named(target: str) -> None:
    read = _altered(
        P4SRC / "shared" / "sizes.p4", "#define IPV4_LPM_SIZE 8192", "#define IPV4_LPM_SIZE 16384"
    )
    changed, unchanged = P4Program.load(MAIN[target], read), P4Program.of_target(target)
    python = python_values(target)
    found = set(disagreements(python, changed.constants)) - set(disagreements(python, unchanged.constants))
    assert found == {f"IPV4_LPM_SIZE: Python has {plan.IPV4_LPM_SIZE}, P4 has 16384"}
    compiled = compiled_sizes(target)
    before = set(size_mismatches(compiled, declared_sizes(unchanged)))
    assert set(size_mismatches(compiled, declared_sizes(changed))) - before == {
        "table ipv4_lpm: compiled {'size': 8192}, declared {'size': 16384}"
    }


def test_a_new_drop_reason_and_a_renumbered_lb_mode_are_named() -> None:
    last = "const drop_reason_t DROP_IPV4_LENGTH = 10;"
    read = _altered(P4SRC / "shared" / "defines.p4", last, last + "\nconst drop_reason_t DROP_NEW = 11;")
    changed = P4Program.load(MAIN["bmv2"], read)
    assert unmatched(changed.family("DROP_", "drop_reason_t"), ENUMS["DROP_"]) == [
        "DROP_NEW = 11: P4 only",
        "DROP_NONE = 0: P4 only",
    ]
    read = _altered(P4SRC / "shared" / "defines.p4", "LB_MODE_SPRAY = 2;", "LB_MODE_SPRAY = 5;")
    changed = P4Program.load(MAIN["bmv2"], read)
    assert disagreements(python_values("bmv2"), changed.constants) == [
        "LB_MODE_SPRAY: Python has 2, P4 has 5"
    ]


def test_a_python_constant_p4_lacks_is_named() -> None:
    assert disagreements({"NO_SUCH_SIZE": 1}, P4Program.of_target("bmv2").constants) == [
        "NO_SUCH_SIZE: Python has 1, P4 has no such constant"
    ]


def test_a_constant_defined_twice_with_two_values_is_an_error() -> None:
    with pytest.raises(P4SourceError, match="PROTO_UDP is 17"):
        P4Program.load(Path("x.p4"), lambda _: "#define PROTO_UDP 17\nconst bit<8> PROTO_UDP = 18;")


def test_a_compiled_size_unlike_the_declared_one_is_named(tmp_path: Path) -> None:
    p4info = tmp_path / "hpn.p4info.txtpb"
    p4info.write_text(P4INFO_PATH.read_text().replace("size: 8192", "size: 4096"))
    declared = declared_sizes(P4Program.of_target("bmv2"))
    before = set(size_mismatches(compiled_sizes("bmv2"), declared))
    found = set(size_mismatches(compiled_sizes("bmv2", p4info), declared)) - before
    assert found == {"table ipv4_lpm: compiled {'size': 4096}, declared {'size': 8192}"}


def test_declarations_are_read_with_their_sizes_selector_groups_and_macros() -> None:
    text = """
        #define N 7
        #define COUNTER_OF_N counter(N, \\
                                 CounterType.packets)
        control C() {
            @name(".C.renamed") COUNTER_OF_N c;
            ActionProfile(N) prof;
            ActionSelector(prof, h, SelectorMode_t.FAIR, 2, 0x20) sel;
            table t { key = { x: exact; } size = N; }
            table no_size { key = { x: exact; } }
        }
    """
    program = P4Program.load(Path("x.p4"), lambda _: text)
    assert program.declared() == [
        Declared("table", "t", 7),
        Declared("counter", "renamed", 7),
        Declared("ActionProfile", "prof", 7),
        Declared("ActionSelector", "sel", 32, max_group_size=2, profile="prof"),
    ]
