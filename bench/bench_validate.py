"""Time `hpnctl validate` of a large explicit topology: YAML, schema, build and checks.

    python bench/bench_validate.py [--hosts 20000] [--repeat 3] [--keep FILE]

Writes an explicit file (every switch, host and cable spelled out) of a
single-rail dual-plane fabric with about `--hosts` hosts, 128 per segment, two
aggs per plane, then loads it with `hpn.topology.load_fabric` `--repeat` times
and prints the best time of each phase, timed on its own: YAML (text to
nodes and data), schema (pydantic), build + cross-entry checks (of which the
connectivity checks, timed once more on their own), and then the whole
`load_fabric` (file read included). The timings are printed, not judged.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from hpn.bulk import gc_paused
from hpn.topology import load_fabric
from hpn.topology import loader as topo_loader
from hpn.topology.connectivity import check_connectivity
from hpn.topology.hpn import agg_name, host_name, tor_name
from hpn.topology.schema import ExplicitSpec
from hpn.topology.validate import check_fabric
from hpn.topology.yamldoc import parse_yaml

HOSTS_PER_SEGMENT = 128
AGGS_PER_PLANE = 2


def explicit_text(hosts: int) -> str:
    """An explicit topology of ceil(hosts / 128) segments, one rail, two planes."""
    segments = -(-hosts // HOSTS_PER_SEGMENT)
    lines = ["kind: explicit", "name: bench-explicit", "switches:"]
    for s in range(segments):
        for p in range(2):
            lines.append(f"  - {{name: {tor_name(s, 0, p)}, role: tor, plane: {p}, segment: {s}, rail: 0}}")
    for p in range(2):
        for a in range(AGGS_PER_PLANE):
            lines.append(f"  - {{name: {agg_name(p, a)}, role: agg, plane: {p}}}")
    lines.append("hosts:")
    links: list[str] = []
    for i in range(hosts):
        s, h = divmod(i, HOSTS_PER_SEGMENT)
        name = host_name(s, h)
        lines += [
            f"  - name: {name}",
            f"    segment: {s}",
            f"    index: {h}",
            f"    nics: [{{rail: 0, ip: 10.{s}.0.{h + 1}}}]",
        ]
        for p in range(2):
            links.append(
                f"  - {{a: {{host: {name}, rail: 0, port: {p}}}, "
                f"b: {{switch: {tor_name(s, 0, p)}, port: {h + 1}}}, gbps: 200}}"
            )
    for s in range(segments):
        for p in range(2):
            for a in range(AGGS_PER_PLANE):
                links.append(
                    f"  - {{a: {{switch: {tor_name(s, 0, p)}, port: {129 + a}}}, "
                    f"b: {{switch: {agg_name(p, a)}, port: {s + 1}}}}}"
                )
    return "\n".join([*lines, "links:", *links]) + "\n"


def _best(times: list[float]) -> str:
    return f"{min(times):6.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="also write the generated topology here")
    args = parser.parse_args(argv)
    text = explicit_text(args.hosts)
    if args.keep is not None:
        args.keep.write_text(text)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench-explicit.yaml"
        path.write_text(text)
        phases: dict[str, list[float]] = {
            "yaml": [],
            "schema": [],
            "build + checks": [],
            "  connectivity": [],
            "load": [],
        }
        for _ in range(args.repeat):
            with gc_paused():  # as in load_fabric
                start = time.perf_counter()
                _, data = parse_yaml(text, str(path))
                parsed = time.perf_counter()
                spec = ExplicitSpec.model_validate(data)
                validated = time.perf_counter()
                built_fabric = topo_loader._build_explicit(spec)
                problems = check_fabric(built_fabric)
                built = time.perf_counter()
                check_connectivity(built_fabric)
                connected = time.perf_counter()
            if problems:
                raise SystemExit(f"the generated topology is invalid: {problems[0]}")
            phases["yaml"].append(parsed - start)
            phases["schema"].append(validated - parsed)
            phases["build + checks"].append(built - validated)
            phases["  connectivity"].append(connected - built)
            start = time.perf_counter()
            fabric = load_fabric(path)
            phases["load"].append(time.perf_counter() - start)
    print(
        f"{len(fabric.hosts)} hosts, {len(fabric.switches)} switches, {len(fabric.links)} links, "
        f"{len(text) / 1e6:.1f} MB; best of {args.repeat}:"
    )
    for phase, times in phases.items():
        print(f"  {phase:15} {_best(times)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
