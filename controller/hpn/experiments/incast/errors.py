"""How an incast run ends other than with its numbers."""

from __future__ import annotations


class IncastError(RuntimeError):
    """The experiment could not run: the message says which agent or switch, and where its log is."""


class IncastStopped(Exception):
    """The caller's stop event was set: the run ended early, its agents stopped, the port restored."""
