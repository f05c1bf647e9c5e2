"""matplotlib for the reports' PNGs, an optional dependency (the ``plot`` extra; `make setup` installs it)."""

from __future__ import annotations

from typing import Any

PLOT_EXTRA = "pip install 'hpn-p4[plot]'"


class PlottingUnavailable(RuntimeError):
    """matplotlib is not installed: the report has no PNG (the message says how to get one)."""


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (files only); raises PlottingUnavailable without it."""
    try:
        import matplotlib
    except ImportError:
        raise PlottingUnavailable(
            f"no PNG of the report: it needs matplotlib, which is not installed ({PLOT_EXTRA})"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
