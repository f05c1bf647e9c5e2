"""What `hpnctl demo` runs and reports: the emulation's checks (hpn.emulation.checks) and the incast.

- `hpcc_check`: a short run of the HPCC incast experiment as one of the demo's checks;
- `report`: the demo's tables and PNG, every check's and the incast's.
"""
