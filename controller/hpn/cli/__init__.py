"""hpnctl: topology -> per-switch tables -> a whole fabric over P4Runtime.

Exit codes: 0 ok; 1 a switch rejected entries (diff: differences found);
2 bad topology or arguments; 3 a switch was unreachable; 4 a needed tool
(bmv2, Mininet, root) is missing; 5 another controller is primary on a switch
(push, run: this one may not write; wiring: it gets the switches' packet-ins).
"""

from __future__ import annotations

import typer

from hpn.cli import emulate_cmds, fabric_cmds, path_cmds, run_cmds
from hpn.cli.common import quiet_logs

app = typer.Typer(
    name="hpnctl",
    help=__doc__,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    callback=quiet_logs,
    # Plain help: typer's rich help gives every flag a `<bool>` type column.
    rich_markup_mode=None,
)
app.command()(fabric_cmds.validate)
app.command()(fabric_cmds.plan)
app.command()(fabric_cmds.push)
app.command()(fabric_cmds.diff)
app.command()(fabric_cmds.status)
app.command()(fabric_cmds.link)
app.command()(path_cmds.trace)
app.command()(path_cmds.paths)
app.command()(run_cmds.wiring)
app.command()(run_cmds.run)
app.add_typer(emulate_cmds.emulate_app, name="emulate")
app.command()(emulate_cmds.demo)


def main() -> None:
    app()
