"""Fabric model, YAML schema and loader, and the HPN generator."""

from hpn.topology.errors import Problem, TopologyError
from hpn.topology.loader import load_fabric, load_fabric_text
from hpn.topology.model import Fabric, Host, Link, Nic, NicPort, Role, Switch, SwitchPort

__all__ = [
    "Fabric",
    "Host",
    "Link",
    "Nic",
    "NicPort",
    "Problem",
    "Role",
    "Switch",
    "SwitchPort",
    "TopologyError",
    "load_fabric",
    "load_fabric_text",
]
