"""Both channels of a switch session use the session's TLS credentials and role.

finsy's Switch holds the StreamChannel; hpn.runtime.channel opens a second channel for
bulk reads and writes. Against a fake switch that only speaks TLS, a push (which reads
and writes over the second channel) succeeds only if both channels use the credentials;
a role is carried by the arbitration and by every Read and Write.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import finsy as fy
import grpc
import pytest
from google.protobuf.empty_pb2 import Empty

from fake_p4rt import FakeP4RuntimeServer
from hpn.runtime import Backoff, FabricSession, SessionOptions, SwitchTarget

DATA = Path(__file__).parent / "data"
P4INFO = DATA / "runtime_fixture.p4info.txtpb"
P4BLOB = DATA / "runtime_fixture.json"
QUICK = SessionOptions(backoff=Backoff(initial=0.05, maximum=0.2), connect_timeout=5.0)
ROUTES = [
    fy.P4TableEntry(
        "ipv4_lpm", match=fy.Match(plane=0, dst_addr=f"10.0.{i}.0/24"), action=fy.Action("set_port", port=1)
    )
    for i in range(5)
]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not on PATH: cannot make test certificates")
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
             "-keyout", "ca.key", "-out", "ca.crt", cwd=d)  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for who in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={who}",
                 "-keyout", f"{who}.key", "-out", f"{who}.csr", cwd=d)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-extfile", "san.ext", "-out", f"{who}.crt", cwd=d)  # fmt: skip
    return d


def _push(fake: FakeP4RuntimeServer, options: SessionOptions) -> tuple[bool, list[str]]:
    async def run() -> tuple[bool, list[str]]:
        await fake.start()
        try:
            target = SwitchTarget("sw", fake.address, fake.device_id, P4INFO, P4BLOB)
            async with FabricSession([target], options) as session:
                report = await asyncio.wait_for(session.push({"sw": ROUTES}), 30)
            return report.ok, report.errors
        finally:
            await fake.stop()

    return asyncio.run(run())


def test_tls_is_used_by_both_channels(pki: Path) -> None:
    server = fy.GRPCCredentialsTLS(
        cacert=pki / "ca.crt", cert=pki / "server.crt", private_key=pki / "server.key"
    )
    client = fy.GRPCCredentialsTLS(
        cacert=pki / "ca.crt", cert=pki / "client.crt", private_key=pki / "client.key"
    )
    fake = FakeP4RuntimeServer(credentials=server.to_server_credentials())
    ok, errors = _push(fake, SessionOptions(backoff=QUICK.backoff, connect_timeout=5.0, credentials=client))
    assert ok, errors
    assert len(fake.table_entries("ipv4_lpm")) == len(ROUTES)  # written over the bulk channel


def test_plain_channels_do_not_reach_a_tls_switch(pki: Path) -> None:
    server = fy.GRPCCredentialsTLS(
        cacert=pki / "ca.crt", cert=pki / "server.crt", private_key=pki / "server.key"
    )
    fake = FakeP4RuntimeServer(credentials=server.to_server_credentials())
    options = SessionOptions(backoff=QUICK.backoff, connect_timeout=1.0)
    ok, errors = _push(fake, options)
    assert not ok and "unreachable" in errors[0]
    assert not fake.write_updates


def test_the_role_goes_with_the_arbitration_and_every_read_and_write() -> None:
    fake = FakeP4RuntimeServer()
    role = SessionOptions(backoff=QUICK.backoff, connect_timeout=5.0, role="hpn", role_config=Empty())
    ok, errors = _push(fake, role)
    assert ok, errors
    kinds = {kind for kind, _ in fake.roles}
    assert {"arbitration", "read", "write"} <= kinds
    assert {role for _, role in fake.roles} == {"hpn"}, fake.roles


def test_without_a_role_none_is_sent() -> None:
    fake = FakeP4RuntimeServer()
    ok, errors = _push(fake, QUICK)
    assert ok, errors
    assert {role for _, role in fake.roles} == {""}


def test_a_role_needs_its_config() -> None:
    with pytest.raises(ValueError, match="role_config"):
        SessionOptions(role="hpn")


def test_credentials_must_be_tls_credentials() -> None:
    with pytest.raises(TypeError, match="GRPCCredentialsTLS"):
        SessionOptions(credentials=grpc.ssl_channel_credentials())  # type: ignore[arg-type]
