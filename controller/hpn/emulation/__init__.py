"""The emulated fabric: Mininet hosts with dual-port NICs, one bmv2 per switch (docs/emulation.md).

Built on hpn.netlab (namespaces, bmv2 processes); the experiments run on it live in
hpn.experiments, which this package never imports.
"""
