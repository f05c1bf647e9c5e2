"""Tunables of a fabric session: election id, batch size, timeouts, reconnect backoff, TLS, role."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from finsy import GRPCCredentialsTLS
from google.protobuf.message import Message


@dataclass(frozen=True)
class Backoff:
    """Exponential reconnect delays: initial, initial*factor, ... capped at `maximum`.

    `jitter` spreads each delay by +/- that fraction so a fabric of switches that went down
    together does not reconnect in lockstep.
    """

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 10.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.maximum < self.initial or self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError(f"invalid backoff {self}")

    def delays(self) -> Iterator[float]:
        """Endless delays for consecutive failed attempts."""
        delay = self.initial
        while True:
            spread = delay * self.jitter
            yield min(self.maximum, delay + random.uniform(-spread, spread)) if spread else delay
            delay = min(self.maximum, delay * self.factor)


@dataclass(frozen=True)
class SessionOptions:
    """How a `FabricSession` talks to its switches.

    election_id: P4Runtime election id of this controller (the highest id is primary).
    batch_size: most updates in one WriteRequest. Fewer, bigger requests install faster
        (bmv2 spends about half a millisecond on each request besides its entries); bmv2
        reports per-update errors in gRPC trailing metadata, about 100 bytes each, which
        the runtime's channel accepts up to 4 MB (hpn.runtime.channel).
    connect_timeout: seconds for one connection attempt (handshake + pipeline push).
    backoff: delays between reconnect attempts of a switch that is down.
    p4force: push the pipeline on every connect even when the cookie matches.
    own_all_tables: the desired state is complete for every non-const table of the P4Info,
        so entries of tables it does not mention are deleted too. By default only tables
        that appear in the desired state are reconciled (a table whose last desired entry
        went away is then left as it is).
    credentials: TLS for every channel to a switch (finsy's stream channel and the bulk
        channel of hpn.runtime.channel alike); None: plain TCP.
    role: P4Runtime role name, sent with the arbitration and every Read and Write ("":
        the default role, the whole switch).
    role_config: the target's role configuration (a protobuf message, packed into the
        arbitration's `Role.config`); a role needs one.
    """

    election_id: int = 10
    batch_size: int = 1000
    connect_timeout: float = 30.0
    backoff: Backoff = field(default_factory=Backoff)
    p4force: bool = False
    own_all_tables: bool = False
    credentials: GRPCCredentialsTLS | None = None
    role: str = ""
    role_config: Message | None = None

    def __post_init__(self) -> None:
        if self.election_id <= 0:
            raise ValueError("election_id must be positive (0 is reserved in P4Runtime)")
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if self.connect_timeout <= 0:
            raise ValueError("connect_timeout must be positive")
        if self.credentials is not None and not isinstance(self.credentials, GRPCCredentialsTLS):
            kind = type(self.credentials).__name__
            raise TypeError(f"credentials must be finsy's GRPCCredentialsTLS, not {kind}")
        if bool(self.role) != (self.role_config is not None):
            raise ValueError("a role needs a role_config and a role_config a role (P4Runtime Role)")
