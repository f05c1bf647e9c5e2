"""Desired state -> P4Runtime entities. The only package that knows P4 names."""

from hpn.pipeline.build import Entity, switch_entities
from hpn.pipeline.p4info import (
    BMV2_JSON_PATH,
    P4INFO_PATH,
    TOFINO_P4INFO_PATH,
    PipelineMismatch,
    check_schema,
    load_schema,
    load_target_schema,
)
from hpn.pipeline.targets import Target

__all__ = [
    "BMV2_JSON_PATH",
    "P4INFO_PATH",
    "TOFINO_P4INFO_PATH",
    "Entity",
    "PipelineMismatch",
    "Target",
    "check_schema",
    "load_schema",
    "load_target_schema",
    "switch_entities",
]
