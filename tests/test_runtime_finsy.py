"""What hpn.runtime relies on in finsy beyond its documented API (hpn.runtime.finsy_stream),
and the session's own pipeline handling built on it.

Each test of the first part names one behaviour of finsy's `Switch`; it fails when a finsy
release changes that behaviour, and finsy_stream (and its docstring) must follow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import finsy as fy
import grpc
import pytest
from finsy.proto import p4r

from fake_p4rt import FakeP4RuntimeServer, reserved_port
from hpn.runtime import Backoff, FabricSession, SessionOptions, SwitchReport, SwitchTarget
from hpn.runtime.finsy_stream import HandshakeAborted, connected, stream_switch

DATA = Path(__file__).parent / "data"
P4INFO = DATA / "runtime_fixture.p4info.txtpb"
P4BLOB = DATA / "runtime_fixture.json"
OPTIONS = SessionOptions(
    election_id=30, backoff=Backoff(initial=0.02, maximum=0.2, jitter=0.0), connect_timeout=5.0
)
TIMEOUT = 20.0

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def target(fake: FakeP4RuntimeServer, blob: Path = P4BLOB) -> SwitchTarget:
    return SwitchTarget("sw0", fake.address, fake.device_id, P4INFO, blob)


# --- finsy's Switch as finsy_stream uses it ---------------------------------------------------


@pytest.mark.parametrize("on_switch", ["nothing", "another program"])
def test_a_switch_without_device_config_arbitrates_and_never_sets_the_pipeline(on_switch: str) -> None:
    async def main() -> None:
        async with FakeP4RuntimeServer() as fake:
            if on_switch == "another program":
                fake.config = p4r.ForwardingPipelineConfig(
                    p4info=fy.P4Schema(DATA / "encoding_fixture.p4info.txtpb").p4info,
                    cookie=p4r.ForwardingPipelineConfig.Cookie(cookie=12345),
                )
            switch = stream_switch(target(fake), OPTIONS)
            async with connected(switch):
                assert switch.is_up and switch.is_primary and switch.election_id == 30
            assert fake.set_pipeline_calls == 0

    run(main())


def test_one_switch_object_connects_again_after_closing() -> None:
    """finsy calls `async with switch` one-time; a session enters it once per connection."""

    async def main() -> None:
        async with FakeP4RuntimeServer() as fake:
            switch = stream_switch(target(fake), OPTIONS)
            for _ in range(2):
                async with connected(switch):
                    assert switch.is_up and switch.is_primary
                assert not switch.is_up

    run(main())


def test_a_failed_task_of_finsy_aborts_the_handshake() -> None:
    """finsy only logs why its task failed and cancels the connection: `connected` raises
    HandshakeAborted instead of a CancelledError nobody asked for."""

    async def main() -> None:
        async with FakeP4RuntimeServer() as fake:
            fake.fail_pipeline_reads = (grpc.StatusCode.INTERNAL, "pipeline store broken")
            switch = stream_switch(target(fake), OPTIONS)
            with pytest.raises(HandshakeAborted):
                async with connected(switch):
                    pytest.fail("connected although finsy's pipeline read failed")
            fake.fail_pipeline_reads = None
            async with connected(switch):  # finsy cleaned up after itself
                assert switch.is_primary

    run(main())


def test_a_switch_that_is_not_there_raises_finsys_error() -> None:
    async def main() -> None:
        with reserved_port() as port:  # nothing listens
            address = f"127.0.0.1:{port}"
            switch = stream_switch(SwitchTarget("sw0", address, 1, P4INFO, P4BLOB), OPTIONS)
            with pytest.raises(fy.P4ClientError) as failure:
                async with connected(switch):
                    pytest.fail("connected to nothing")
        assert failure.value.code == fy.GRPCStatusCode.UNAVAILABLE

    run(main())


def test_cancelling_the_caller_is_a_cancellation_not_an_abort() -> None:
    async def main() -> None:
        accepted = asyncio.Event()
        held: list[asyncio.StreamWriter] = []

        def mute(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            held.append(writer)  # accepts the TCP connection and never answers
            accepted.set()

        server = await asyncio.start_server(mute, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        switch = stream_switch(SwitchTarget("sw0", f"127.0.0.1:{port}", 1, P4INFO, P4BLOB), OPTIONS)

        async def attempt() -> None:
            async with connected(switch):
                pytest.fail("connected to a server that never answers")

        task = asyncio.create_task(attempt())
        await accepted.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()

    run(main())


# --- the session's pipeline -------------------------------------------------------------------


def test_the_session_reads_the_cookie_and_pushes_only_when_it_differs() -> None:
    async def main() -> None:
        async with FakeP4RuntimeServer() as fake:
            for expect_push in (True, False):
                async with FabricSession([target(fake)], OPTIONS) as fabric:
                    report = (await fabric.push({"sw0": []}))["sw0"]
                    link = fabric.switch("sw0")
                    assert report.ok and report.pipeline_pushed is expect_push
                    assert fake.cookie == link.schema.p4cookie
            assert fake.set_pipeline_calls == 1
            assert p4r.GetForwardingPipelineConfigRequest.COOKIE_ONLY in fake.pipeline_reads

    run(main())


def test_finsys_abort_is_reported_as_the_switch_unreachable() -> None:
    async def main() -> tuple[SwitchReport, str]:
        async with FakeP4RuntimeServer() as fake:
            fake.fail_pipeline_reads = (grpc.StatusCode.INTERNAL, "pipeline store broken")
            async with FabricSession([target(fake)], OPTIONS) as fabric:
                return (await fabric.push({"sw0": []}))["sw0"], fake.address

    report, address = run(main())
    assert not report.reachable
    assert report.errors == [
        f"sw0 ({address}): unreachable: P4Runtime handshake aborted by finsy (its log names the reason)"
    ]


def test_a_backup_that_becomes_primary_puts_its_pipeline_in_place_and_is_resynced(tmp_path: Path) -> None:
    """The other controller leaves: finsy arbitrates again, and the session checks the
    cookie as on a new connection (its program differs here, so it pushes)."""
    other_blob = tmp_path / "other.json"
    other_blob.write_bytes(P4BLOB.read_bytes() + b"\n")

    async def main() -> None:
        async with FakeP4RuntimeServer() as fake:
            high = SessionOptions(election_id=50, backoff=OPTIONS.backoff)
            async with (
                FabricSession([target(fake)], high) as primary,
                FabricSession([target(fake, other_blob)], OPTIONS) as backup,
            ):
                await primary.wait_connected()
                await backup.wait_connected()
                link = backup.switch("sw0")
                assert not link.is_primary and fake.set_pipeline_calls == 1
                reports: asyncio.Queue[SwitchReport] = asyncio.Queue()
                keeper = asyncio.create_task(backup.keep_in_sync({"sw0": []}, on_sync=reports.put_nowait))
                first = await reports.get()  # synced as a backup: refused
                assert not first.ok and "NOT_PRIMARY" in first.errors[0]
                await primary.close()
                second = await reports.get()
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)
                assert second.ok and second.pipeline_pushed
                assert link.is_primary and fake.cookie == link.schema.p4cookie
                assert fake.set_pipeline_calls == 2

    run(main())
