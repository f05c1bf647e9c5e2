"""Experiments run on a running emulation (hpn.emulation), above it and the checks.

- `incast`: HPCC's N:1 incast through one slowed port, without congestion control and with
  HPCC (docs/hpcc.md, "The incast experiment");
- `demo`: what `hpnctl demo` runs and reports: the checks of hpn.emulation.checks, then a
  short incast.
"""
