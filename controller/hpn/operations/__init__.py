"""The controller's operations loop, as pure parts with injected I/O.

- `probe`: the link probe frame (encode, strict decode);
- `arp_probe`: the host probe, an ARP request and the host's reply (encode, strict decode);
- `hosts`: host cables from those replies, seen and lost, with timestamps given by the caller;
- `liveness`: link discovery and liveness from probes, with timestamps given by the caller;
- `events`: what the loop did, as JSON lines with times;
- `wiring`: every cable compared with the topology, mismatches named;
- `failover`: a failure view change -> the affected switches' entity differences;
- `metrics`: the Prometheus exporter;
- `counters`: a switch's counters, read over its P4Runtime session (`hpnctl run` and
  `hpnctl status` read them);
- `loop`: the parts above together, as `OperationsLoop`, for a runner to drive.

Nothing here opens a socket to a switch or reads a clock of its own: the packet I/O
adapter and `hpnctl run` feed these parts and write what they return.
"""
