"""Flow paths: where each flow goes through the fabric, and source ports that place flows.

`predict` gives the exact path of a flow (every switch, ingress and egress port) from
the state the controller writes, for bmv2 and for the Tofino program; `planner` picks
each flow's UDP source port so that no uplink or downlink carries more than its share
(docs/collectives.md).
"""

from hpn.paths.flow import Flow
from hpn.paths.predict import Hop, Path, PathPredictor, predict_path

__all__ = ["Flow", "Hop", "Path", "PathPredictor", "predict_path"]
