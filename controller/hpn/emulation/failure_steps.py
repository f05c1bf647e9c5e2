"""The order in which a new failure view reaches cables, switches and hosts.

Chosen to lose the least traffic, for `hpnctl link down|up` and the emulation's
controller alike:

- something goes down: cables and hosts first (the failure happens, hosts stop
  using the dead paths at once), then the switches' tables;
- something comes back: the cable first (a link is up before anyone notices),
  then the switches' tables (they route over it again), then the hosts (they use
  the path only once the switches route it).

When both happen at once, everything that fails goes first (with what stays
failed), then what comes back. Nothing changing is treated as coming back: each
step is then a no-op that re-asserts the view.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Step:
    """Bring `target` to the failure view (`links`, `switches`).

    target "emulation": the running emulation's cables and/or hosts' routes (`cables`,
    `hosts` say which); "switches": the switches' tables (a push).
    """

    target: Literal["emulation", "switches"]
    links: tuple[str, ...]
    switches: tuple[str, ...]
    cables: bool = False
    hosts: bool = False


def failure_steps(
    old_links: Iterable[str],
    old_switches: Iterable[str],
    new_links: Iterable[str],
    new_switches: Iterable[str],
) -> list[Step]:
    """The steps from the view (old_links, old_switches) to (new_links, new_switches)."""
    old_l, old_s, new_l, new_s = set(old_links), set(old_switches), set(new_links), set(new_switches)
    going_down = bool(new_l - old_l or new_s - old_s)
    coming_back = bool(old_l - new_l or old_s - new_s)
    steps: list[Step] = []
    if going_down:
        links, switches = tuple(sorted(old_l | new_l)), tuple(sorted(old_s | new_s))
        steps += [
            Step("emulation", links, switches, cables=True, hosts=True),
            Step("switches", links, switches),
        ]
    if coming_back or not going_down:
        links, switches = tuple(sorted(new_l)), tuple(sorted(new_s))
        steps += [
            Step("emulation", links, switches, cables=True),
            Step("switches", links, switches),
            Step("emulation", links, switches, hosts=True),
        ]
    return steps
