"""Namespaces, veths and bmv2 processes: what every test rig, PTF run and benchmark stands on.

- `netns`: network namespaces and veths made by name, entering one (`entered`,
  `entered_process`), raw sockets inside one;
- `spawn`: starting a program with posix_spawn, in its own session, logged to a file;
- `processes`: stopping processes, TERM then KILL after a timeout;
- `ethtool`: the NIC offloads a veth must not have;
- `bmv2`: one simple_switch_grpc (start, wait until it listens, stop) and its runtime CLI;
- `rig`: one bmv2 in a private namespace with a veth pair per port.
- `load`: how busy the machine was over an interval (other processes' CPU, steal, pressure).

Nothing here knows of Mininet, the emulated fabric (hpn.emulation) or the experiments
(hpn.experiments); tests/test_emulation_layers.py keeps it so.
"""
