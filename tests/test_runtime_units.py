"""hpn.runtime pieces that need no server: canonical form, diff, errors, options."""

from __future__ import annotations

from pathlib import Path

import finsy as fy
import grpc
import pytest
from finsy import pbutil
from finsy.proto import p4r, rpc_code, rpc_status

from hpn.runtime import Backoff, SessionOptions, SwitchTarget
from hpn.runtime.canonical import canonical_bytes, canonical_entry
from hpn.runtime.encoding import EntryEncoder, encode_message
from hpn.runtime.errors import decode_write_error, describe_action, describe_entry, format_value
from hpn.runtime.reconcile import plan_diff, read_plan
from hpn.runtime.targets import address_problem, grpc_address, host_problem

DATA = Path(__file__).parent / "data"
SCHEMA = fy.P4Schema(DATA / "runtime_fixture.p4info.txtpb", DATA / "runtime_fixture.json")
ENCODER = EntryEncoder(SCHEMA)


def encode(entity: fy.P4TableEntry) -> p4r.TableEntry:
    return ENCODER.encode(entity).entry()


def lpm(dst: str, port: int, plane: int = 0) -> p4r.TableEntry:
    return encode(
        fy.P4TableEntry(
            "ipv4_lpm", match=fy.Match(plane=plane, dst_addr=dst), action=fy.Action("set_port", port=port)
        )
    )


def padded(entry: p4r.TableEntry) -> p4r.TableEntry:
    """What a server may send back: padded bytestrings, reversed order, counter data."""
    out = p4r.TableEntry()
    out.CopyFrom(entry)
    for m in out.match:
        if m.HasField("exact"):
            m.exact.value = m.exact.value.rjust(2, b"\x00")
        if m.HasField("lpm"):
            m.lpm.value = m.lpm.value.rjust(4, b"\x00")
    for p in out.action.action.params:
        p.value = p.value.rjust(2, b"\x00")
    out.match.reverse()
    out.counter_data.packet_count = 9
    return out


# --- canonical form -------------------------------------------------------------------------


def test_canonical_bytes() -> None:
    assert canonical_bytes(b"\x00\x00\x0a") == b"\x0a"
    assert canonical_bytes(b"\x00\x00") == b"\x00"
    assert canonical_bytes(b"") == b"\x00"
    assert canonical_bytes(b"\x01\x00") == b"\x01\x00"


def test_padded_readback_equals_desired_in_canonical_form() -> None:
    entry = lpm("10.1.0.0/24", 3)
    back = canonical_entry(padded(entry))
    assert encode_message(back) == encode_message(canonical_entry(entry))
    assert not back.HasField("counter_data")


def test_key_ignores_action_but_value_does_not() -> None:
    a, b = ENCODER.encode(lpm("10.1.0.0/24", 3)), ENCODER.encode(lpm("10.1.0.0/24", 4))
    assert a.key == b.key
    assert a.data != b.data
    assert a.key != ENCODER.encode(lpm("10.1.0.0/24", 3, plane=1)).key


# --- diff -----------------------------------------------------------------------------------


def test_plan_diff_counts_and_order() -> None:
    desired = [lpm("10.0.1.0/24", 1), lpm("10.0.2.0/24", 9), lpm("10.0.4.0/24", 4)]
    default = encode(
        fy.P4TableEntry(
            "lb_params",
            is_default_action=True,
            action=fy.Action("set_lb_params", hash_seed=1, flowlet_gap_us=2),
        )
    )
    actual = [padded(lpm("10.0.1.0/24", 1)), padded(lpm("10.0.2.0/24", 2)), padded(lpm("10.0.3.0/24", 3))]
    actual.append(p4r.TableEntry(table_id=default.table_id, is_default_action=True))
    diff = plan_diff([*desired, default], actual, ENCODER)
    assert diff.summary() == "+1 ~2 -1 =1"
    assert [describe_entry(e.entry(), SCHEMA) for e in diff.deletes] == [
        "ingress.routing.ipv4_lpm {plane=0, dst_addr=10.0.3.0/24}"
    ]
    assert diff.modifies[-1].is_default_action  # default entries are modified, never inserted


def test_default_entries_are_never_deleted_and_other_tables_are_ignored() -> None:
    desired = [lpm("10.0.1.0/24", 1)]
    stray_default = p4r.TableEntry(table_id=desired[0].table_id, is_default_action=True)
    other_table = encode(
        fy.P4TableEntry("port_mac", match=fy.Match(port=1), action=fy.Action("set_mac", mac=1))
    )
    diff = plan_diff(desired, [stray_default, other_table], ENCODER)
    assert diff.summary() == "+1 ~0 -0 =0"


def test_read_plan_excludes_const_tables() -> None:
    const = encode(fy.P4TableEntry("const_planes", match=fy.Match(port=1), action=fy.Action("NoAction")))
    plan = read_plan([lpm("10.0.0.0/8", 1), const], ENCODER)
    assert [SCHEMA.tables[t].name for t in plan.tables] == ["ingress.routing.ipv4_lpm"]
    diff = plan_diff([const], [], ENCODER)
    assert diff.skipped_const == 1 and diff.total == 0


def test_unsupported_desired_entities_are_refused_by_type() -> None:
    with pytest.raises(TypeError, match="P4CounterEntry"):
        ENCODER.encode(fy.P4CounterEntry("port_rx", index=1))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="P4CounterEntry"):
        read_plan([fy.P4CounterEntry("port_rx", index=1)], ENCODER)  # type: ignore[list-item]


def test_duplicate_keys_are_reported_and_the_last_one_wins() -> None:
    first, again, other = lpm("10.0.1.0/24", 1), lpm("10.0.1.0/24", 1), lpm("10.0.1.0/24", 7)
    diff = plan_diff([first, again, other], [], ENCODER)
    # The first is inserted (it may already be on its way to the switch when the third is
    # seen); the third, different, overwrites it with a modify.
    assert diff.summary() == "+1 ~1 -0 =0"
    assert describe_action(diff.modifies[0].entry(), SCHEMA) == "ingress.routing.set_port(port=7)"
    notes = [d.split(" (")[1] for d in diff.duplicates]
    assert notes == ["identical)", "different actions; the last one is kept)"]
    # Already on the switch as the last one says: nothing to write.
    diff = plan_diff([other, first], [padded(first)], ENCODER)
    assert diff.summary() == "+0 ~0 -0 =1"


# --- errors, targets, options ---------------------------------------------------------------


def test_describe_entry_and_action_read_like_p4() -> None:
    entry = lpm("10.1.0.0/24", 3)
    assert describe_entry(entry, SCHEMA) == "ingress.routing.ipv4_lpm {plane=0, dst_addr=10.1.0.0/24}"
    assert describe_action(entry, SCHEMA) == "ingress.routing.set_port(port=3)"
    mac = encode(
        fy.P4TableEntry(
            "port_mac", match=fy.Match(port=2), action=fy.Action("set_mac", mac="02:00:00:00:00:0a")
        )
    )
    assert describe_action(mac, SCHEMA) == "ingress.routing.set_mac(mac=02:00:00:00:00:0a)"


def test_decode_write_error_names_each_rejected_update() -> None:
    updates = [
        p4r.Update(type=p4r.Update.INSERT, entity=p4r.Entity(table_entry=lpm(f"10.0.{i}.0/24", 1)))
        for i in range(3)
    ]
    status = rpc_status.Status(code=rpc_code.UNKNOWN, message="Write failure.")
    status.details.extend(
        pbutil.to_any(p4r.Error(canonical_code=code, message=msg))
        for code, msg in [(rpc_code.OK, ""), (rpc_code.ALREADY_EXISTS, "exists"), (rpc_code.OK, "")]
    )
    trailer = grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString()))
    rpc_error = grpc.aio.AioRpcError(grpc.StatusCode.UNKNOWN, grpc.aio.Metadata(), trailer, "Write failure.")
    errors = decode_write_error("tor-s0-r0-p0", updates, fy.P4ClientError(rpc_error, "Write"), SCHEMA)
    assert [str(e) for e in errors] == [
        "tor-s0-r0-p0: INSERT ingress.routing.ipv4_lpm {plane=0, dst_addr=10.0.1.0/24}: ALREADY_EXISTS exists"
    ]


def test_format_value() -> None:
    assert format_value(b"\x0a\x00\x00\x01", 32, "IPV4_ADDRESS") == "10.0.0.1"
    assert format_value(b"\x07", 9, None) == "7"
    assert format_value(b"\x01" + b"\x00" * 8, 72, None) == "0x10000000000000000"


def test_switch_target_validation() -> None:
    t = SwitchTarget("tor0", "127.0.0.1:9559", 1, Path("a"), Path("b"))
    assert str(t) == "tor0 (127.0.0.1:9559)"
    with pytest.raises(ValueError, match="host:port"):
        SwitchTarget("tor0", "127.0.0.1", 1, Path("a"), Path("b"))


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1:9559", None),
        ("[::1]:9559", None),
        ("tor-1.lab:50001", None),
        ("unix:/run/sw.sock", None),
        ("host:notaport", "the port must be 1..65535"),
        ("127.0.0.1:70000", "not '70000'"),
        ("127.0.0.1:0", "not '0'"),
        ("unix:", "names no socket path"),
        ("5", "is not host:port"),
        ("::1:9559", "IPv6 host goes in brackets"),
        ("not a host!:1", "not a host name"),
    ],
)
def test_address_problems_are_named(address: str, problem: str | None) -> None:
    found = address_problem(address)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


@pytest.mark.parametrize(
    ("host", "address"),
    [("127.0.0.1", "127.0.0.1:1"), ("::1", "[::1]:1"), ("[::1]", "[::1]:1"), ("h", "h:1")],
)
def test_hosts_are_checked_and_ipv6_gets_brackets(host: str, address: str) -> None:
    assert host_problem(host) is None
    assert grpc_address(host, 1) == address


@pytest.mark.parametrize("host", ["127.0.0.1:50001", "[::1]:50001", "[127.0.0.1]", "a b", ""])
def test_a_host_with_a_port_or_not_a_host_is_refused(host: str) -> None:
    assert host_problem(host) is not None


def test_backoff_is_exponential_and_capped() -> None:
    delays = Backoff(initial=0.5, factor=2, maximum=3, jitter=0).delays()
    assert [next(delays) for _ in range(6)] == [0.5, 1.0, 2.0, 3, 3, 3]
    jittered = Backoff(initial=1, factor=2, maximum=4, jitter=0.5).delays()
    assert all(0 < next(jittered) <= 4 for _ in range(20))
    with pytest.raises(ValueError):
        SessionOptions(batch_size=0)
