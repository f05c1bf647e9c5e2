"""What the integration suites need, and why each one would skip here."""

from __future__ import annotations

import os
import shutil

from hpn.netlab.bmv2 import bmv2_missing
from hpn.netlab.netns import require_tools

P4C_BINARY = "p4c-bm2-ss"
BF_P4C_BINARY = "bf-p4c"


def p4c_missing() -> str | None:
    if shutil.which(P4C_BINARY) is None:
        return f"{P4C_BINARY} not on PATH (install p4c from p4lang's packages)"
    return None


def bf_p4c_missing() -> str | None:
    if shutil.which(BF_P4C_BINARY) is None:
        return (
            f"{BF_P4C_BINARY} not on PATH (install p4c's open Tofino backend, e.g. from Intel's open "
            "P4 Studio, and put bf-p4c on PATH)"
        )
    return None


def bmv2_rig_missing() -> str | None:
    """Why a bmv2-in-a-namespace test cannot run here, or None."""
    reasons = [r for r in (bmv2_missing(), *require_tools()) if r]
    return "; ".join(reasons) if reasons else None


def mininet_missing() -> str | None:
    reasons = []
    if shutil.which("mn") is None:
        reasons.append("Mininet (`mn`) not installed (make setup installs it on Debian as root)")
    rig = bmv2_rig_missing()
    if rig:
        reasons.append(rig)
    if os.environ.get("HPN_SKIP_EMULATION"):
        reasons.append("HPN_SKIP_EMULATION is set")
    return "; ".join(reasons) if reasons else None
