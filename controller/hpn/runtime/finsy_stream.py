"""finsy's `Switch`, used for the StreamChannel only: the runtime's one adapter to finsy.

A session takes from finsy the P4Runtime StreamChannel: connecting, the arbitration with
our election id and role (and its later changes), and counter reads. The connect loop and
the pipeline are the session's own (hpn.runtime.session). Everything used here is in
finsy's public API (`Switch`, `SwitchOptions`, `async with switch`); what finsy does not
document, and the runtime relies on, is kept to this module, each point checked by
tests/test_runtime_finsy.py, which fails when a finsy release behaves otherwise:

- a `Switch` given a P4Info but no device config (`p4blob`) never sends
  SetForwardingPipelineConfig: its schema is not authoritative (`P4Schema.is_authoritative`),
  so once arbitrated it only reads the switch's P4Info and cookie;
- one `Switch` can be entered again once it has been exited (finsy calls its context
  manager "one-time"): a session enters the same object once per connection;
- `async with switch` returns once the switch is arbitrated (CHANNEL_READY) and raises
  what failed the connection (e.g. P4ClientError UNAVAILABLE) -- except when one of the
  Switch's own tasks fails, such as that P4Info read answered with an error: finsy logs
  the error and cancels the connection, so `async with` raises CancelledError although
  nobody cancelled the caller. `connected` turns that into `HandshakeAborted`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import finsy as fy

from hpn.runtime.options import SessionOptions
from hpn.runtime.targets import SwitchTarget


class HandshakeAborted(ConnectionError):
    """finsy cancelled the connection itself (one of its tasks failed; finsy logs which)."""


def stream_switch(target: SwitchTarget, options: SessionOptions) -> fy.Switch:
    """A finsy `Switch` for `target` that arbitrates with `options` and leaves the pipeline
    alone (it gets the P4Info, for counter reads, and no device config)."""
    return fy.Switch(
        target.name,
        target.address,
        fy.SwitchOptions(
            p4info=target.p4info,
            p4blob=None,
            device_id=target.device_id,
            initial_election_id=options.election_id,
            channel_credentials=options.credentials,
            role_name=options.role,
            role_config=options.role_config,
        ),
    )


@contextlib.asynccontextmanager
async def connected(switch: fy.Switch) -> AsyncIterator[fy.Switch]:
    """`async with switch`, arbitrated on entry; raises `HandshakeAborted` when finsy aborted
    the connection itself, and CancelledError only when the caller was cancelled."""
    async with contextlib.AsyncExitStack() as stack:
        # Entered in a task of its own: finsy's abort then shows as that task cancelled,
        # while a cancellation of the caller interrupts the wait below.
        entering = asyncio.ensure_future(stack.enter_async_context(switch))
        try:
            await asyncio.wait({entering})
        finally:
            if not entering.done():
                entering.cancel()
                await asyncio.gather(entering, return_exceptions=True)
        if entering.cancelled():
            raise HandshakeAborted("P4Runtime handshake aborted by finsy (its log names the reason)")
        entering.result()
        yield switch
