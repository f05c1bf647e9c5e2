"""What hpnctl prints, read by a person or a script: help without type noise, and no
line that grows with the console's unbounded width when the output is piped."""

from __future__ import annotations

import io

import pytest
from typer.testing import CliRunner

from hpn.cli import app
from hpn.cli.common import PIPED_RULE_WIDTH, UNWRAPPED, CliConsole

COMMANDS = [
    [],
    ["validate"],
    ["plan"],
    ["push"],
    ["diff"],
    ["status"],
    ["link"],
    ["demo"],
    ["emulate"],
    ["emulate", "up"],
    ["emulate", "down"],
    ["emulate", "status"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "hpnctl")
def test_help_gives_flags_no_type(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "--help" in result.output
    assert "<bool>" not in result.output, result.output


def test_a_rule_into_a_pipe_is_a_line_of_ordinary_width() -> None:
    out = io.StringIO()
    piped = CliConsole(file=out, soft_wrap=True)
    piped.rule("[bold]hpn emulation report: mini")
    piped.print("a long message " * 40)
    lines = out.getvalue().splitlines()
    assert len(lines[0]) == PIPED_RULE_WIDTH, "the rule"
    assert "hpn emulation report: mini" in lines[0]
    assert lines[1].rstrip() == ("a long message " * 40).rstrip(), "text is still not wrapped"
    assert piped.size.width == UNWRAPPED
