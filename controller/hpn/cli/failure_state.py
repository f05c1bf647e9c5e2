"""The failure view `hpnctl link down|up` records, and the one every command applies.

`run/<fabric>/failures.json` holds `{"links": [...], "switches": [...]}` by name. Every
command that computes tables applies it, together with `--failed-link` and
`--failed-switch`, and says so on stderr. A file that is not such an object, or that
names links or switches the topology does not have (it was recorded for another
version of the file), is bad input naming the file, and nothing is computed from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from hpn.cli.common import Exit, fail, note, run_dir
from hpn.routing.failures import FailureView
from hpn.topology.model import Fabric

_KEYS = ("links", "switches")
_FIX = "`hpnctl link up` what is not in the topology, or remove the file to start clean"


@dataclass(frozen=True)
class FailureFile:
    """The failure view `hpnctl link down|up` maintains, as names."""

    path: Path

    def read(self) -> tuple[list[str], list[str]]:
        """(links, switches) recorded; both empty when there is no file."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return [], []
        except UnicodeDecodeError as exc:
            self._bad(f"not UTF-8 ({exc.reason} at byte {exc.start})")
        except OSError as exc:
            fail(Exit.BAD_INPUT, f"{self.path}: cannot read the recorded failure view: {exc.strerror or exc}")
        try:
            data = json.loads(text)
        except ValueError as exc:
            line = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
            self._bad(f"not JSON: {getattr(exc, 'msg', exc)}{line}")
        if not isinstance(data, dict):
            self._bad('expected a JSON object {"links": [...], "switches": [...]}')
        unknown = sorted(str(k) for k in data if k not in _KEYS)
        if unknown:
            self._bad(f"unknown key(s) {', '.join(unknown)} (allowed: {', '.join(_KEYS)})")
        names: list[list[str]] = []
        for key in _KEYS:
            value = data.get(key, [])
            if not isinstance(value, list):
                self._bad(f"{key}: expected a list of names, not {json.dumps(value)}")
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    self._bad(f"{key}[{i}]: expected a string, not {json.dumps(item)}")
            names.append(list(value))
        return names[0], names[1]

    def _bad(self, why: str) -> NoReturn:
        fail(Exit.BAD_INPUT, f"{self.path}: not a failure-view file: {why}; remove it to start clean")

    def write(self, links: list[str], switches: list[str]) -> None:
        """Replace the file at once (a reader never sees half of it)."""
        tmp = self.path.with_suffix(".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"links": sorted(links), "switches": sorted(switches)}, indent=1))
            tmp.replace(self.path)
        except OSError as exc:
            fail(Exit.BAD_INPUT, f"{self.path}: cannot record the failure view: {exc.strerror or exc}")


def failure_file(fabric: Fabric) -> FailureFile:
    return FailureFile(run_dir(fabric) / "failures.json")


def recorded_view(fabric: Fabric, store: FailureFile, links: list[str], switches: list[str]) -> FailureView:
    """The recorded names as a view of `fabric`; a name it does not have is bad input."""
    try:
        return FailureView.parse(fabric, links, switches)
    except ValueError as exc:
        fail(
            Exit.BAD_INPUT,
            f"{store.path}: the recorded failures do not fit fabric {fabric.name}: {exc}; {_FIX}",
        )


def failure_view(fabric: Fabric, links: list[str], switches: list[str]) -> FailureView:
    """Failures from the command line plus those recorded by `hpnctl link down`."""
    store = failure_file(fabric)
    saved_links, saved_switches = store.read()
    saved = recorded_view(fabric, store, saved_links, saved_switches)
    if saved:
        note(f"applying the failure view recorded in {store.path}: {saved.describe()}")
    try:
        given = FailureView.parse(fabric, links, switches)
    except ValueError as exc:
        fail(Exit.BAD_INPUT, f"--failed-link/--failed-switch: {exc}")
    return FailureView(saved.links | given.links, saved.switches | given.switches)
