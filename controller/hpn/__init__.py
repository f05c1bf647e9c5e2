"""hpn-p4 controller: topology -> fabric model -> per-switch state -> P4Runtime."""

__version__ = "0.1.0"
