"""Desired state -> P4Runtime entities. The only package that knows P4 names."""

from hpn.pipeline.build import switch_entities
from hpn.pipeline.p4info import BMV2_JSON_PATH, P4INFO_PATH, PipelineMismatch, check_schema, load_schema

__all__ = [
    "BMV2_JSON_PATH",
    "P4INFO_PATH",
    "PipelineMismatch",
    "check_schema",
    "load_schema",
    "switch_entities",
]
