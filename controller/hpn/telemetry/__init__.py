"""INT telemetry: the one codec of the INT wire format, packet helpers and the collector.

``hpn.telemetry.packets`` (scapy) is not imported here, so decoding stays cheap to import.
"""

from hpn.telemetry.codec import (
    DSCP_INT,
    HOP_BYTES,
    INT_VERSION,
    MAX_HOPS,
    SHIM_BYTES,
    IntDecodeError,
    IntHop,
    IntShim,
    IntStack,
    decode_stack,
    decode_udp_payload,
    encode_probe_payload,
    make_int_probe,
    timestamp_delta,
    tx_bytes_delta,
)
from hpn.telemetry.collector import BMV2_UNITS, HPCC_UNITS, IntCollector, IntUnits, PathReport, bmv2_units

__all__ = [
    "BMV2_UNITS",
    "DSCP_INT",
    "HOP_BYTES",
    "HPCC_UNITS",
    "INT_VERSION",
    "MAX_HOPS",
    "SHIM_BYTES",
    "IntCollector",
    "IntDecodeError",
    "IntHop",
    "IntShim",
    "IntStack",
    "IntUnits",
    "PathReport",
    "bmv2_units",
    "decode_stack",
    "decode_udp_payload",
    "encode_probe_payload",
    "make_int_probe",
    "timestamp_delta",
    "tx_bytes_delta",
]
