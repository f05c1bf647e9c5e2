"""Push throughput of hpn.runtime next to its baselines, measured side by side in one run.

    python bench/bench_push.py --fake                       # in-process fake P4Runtime server
    python bench/bench_push.py --bmv2                       # a simple_switch_grpc started for the run
    python bench/bench_push.py --address 127.0.0.1:9559     # a running simple_switch_grpc
        [--device-id 1] [--p4info p4src/out/bmv2/hpn.p4info.txtpb] [--json p4src/out/bmv2/hpn.json]

It measures, on the same switch and the same entries (a few thousand, generated for the
largest writable exact/LPM table of the P4Info, or --table):
  1. hpn.runtime `FabricSession.push` of finsy entities: encoding, read back, diff and
     batched writes, all inside the clock; and the same push of entries encoded
     beforehand (as a push has those it encoded while the switch was connecting);
  2. one entry per WriteRequest over plain gRPC (what interactive tools do);
  3. one WriteRequest holding every entry over plain gRPC (the limit for this switch):
     its Update messages are built before the clock starts, so only building the request,
     serializing and the RPC are timed;
  4. p4runtime-shell's per-entry inserts, in a subprocess, when .tools/p4rt-shell exists;
then encoding alone (ours vs finsy's encoder), the no-op re-push as a fraction of a full
push (and the ReadRequest it cannot avoid), and a batch with rejected entries, checking
each rejected entry is reported by name while the others land.
Ours, the no-op, the read and the single-request baseline run --rounds times,
interleaved, and the median of each is compared (the others once: they take seconds). The switch is emptied
(that table) before each measurement. The plain-gRPC baselines write under our session's
election id, so one session stays primary for the whole run. Ratios are printed;
nothing is asserted on timings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

import finsy as fy
import grpc
from finsy.proto import U128, p4i, p4r, p4r_grpc

from hpn.runtime import Diff, FabricSession, SessionOptions, SwitchTarget
from hpn.runtime.canonical import canonicalize
from hpn.runtime.encoding import DesiredEntity, EntryEncoder, encode_message
from hpn.runtime.reconcile import apply_diff

ROOT = Path(__file__).resolve().parent.parent
P4RT_SHELL_PYTHON = ROOT / ".tools" / "p4rt-shell" / "bin" / "python"
SHELL_ELECTION_ID = 1000
SWITCH = "bench-sw"


@dataclass(frozen=True)
class Workload:
    """Entries for one table in two forms: finsy entities and p4runtime-shell strings."""

    table: p4i.Table
    entities: list[fy.P4TableEntry]
    shell_entries: list[dict[str, Any]]


def _pick_table(p4info: p4i.P4Info, name: str | None) -> tuple[p4i.Table, p4i.Action]:
    actions = {a.preamble.id: a for a in p4info.actions}
    candidates = []
    for table in p4info.tables:
        if name is not None and name not in (table.preamble.name, table.preamble.alias):
            continue
        kinds = {f.match_type for f in table.match_fields}
        if table.is_const_table or not kinds or not kinds <= {p4i.MatchField.EXACT, p4i.MatchField.LPM}:
            continue
        if table.implementation_id:  # its entries take an action-profile member or group
            continue
        usable = [actions[r.id] for r in table.action_refs if r.scope != p4i.ActionRef.DEFAULT_ONLY]
        if usable and table.size:
            candidates.append((table.size, table, max(usable, key=lambda a: len(a.params))))
    if not candidates:
        raise SystemExit(f"no writable exact/LPM table{f' named {name}' if name else ''} in the P4Info")
    _, table, action = max(candidates, key=lambda c: c[0])
    return table, action


def make_workload(schema: fy.P4Schema, count: int, table_name: str | None) -> Workload:
    """`count` distinct entries: the widest match field counts up, the others stay fixed."""
    table, action = _pick_table(schema.p4info, table_name)
    if count > table.size:
        print(f"note: {table.preamble.name} holds {table.size} entries; using that many", file=sys.stderr)
        count = table.size
    widest = max(table.match_fields, key=lambda f: f.bitwidth)
    if count >= 1 << widest.bitwidth:
        raise SystemExit(f"{widest.name} ({widest.bitwidth} bits) cannot key {count} entries")
    entities, shell = [], []
    for i in range(count):
        match: dict[str, Any] = {}
        text: dict[str, str] = {}
        for f in table.match_fields:
            value = i + 1 if f is widest else 0
            if f.match_type == p4i.MatchField.LPM:
                match[f.name] = (value, f.bitwidth)
                text[f.name] = f"{value}/{f.bitwidth}"
            else:
                match[f.name] = value
                text[f.name] = str(value)
        params = {p.name: 1 for p in action.params}
        entities.append(
            fy.P4TableEntry(
                table.preamble.name, match=fy.Match(match), action=fy.Action(action.preamble.name, **params)
            )
        )
        shell.append(
            {
                "table": table.preamble.name,
                "match": text,
                "action": action.preamble.name,
                "params": {k: str(v) for k, v in params.items()},
            }
        )
    return Workload(table, entities, shell)


class RawClient:
    """Plain gRPC P4Runtime client: unary Write/Read under a given election id.

    It opens no StreamChannel: P4Runtime authorizes writes by election id, so it writes
    as the controller that is already primary (our session) without taking over.
    """

    def __init__(self, address: str, device_id: int, election_id: int) -> None:
        self.address = address
        self.device_id = device_id
        self.election = U128.encode(election_id)
        self._channel = grpc.aio.insecure_channel(address, options=[("grpc.max_metadata_size", 64 * 1024)])
        self.stub = p4r_grpc.P4RuntimeStub(self._channel)

    async def __aenter__(self) -> RawClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._channel.close()

    async def write(self, updates: Sequence[p4r.Update]) -> None:
        request = p4r.WriteRequest(device_id=self.device_id, election_id=self.election, updates=updates)
        await self.stub.Write(request, timeout=120)

    async def read_table(self, table_id: int) -> list[p4r.TableEntry]:
        request = p4r.ReadRequest(
            device_id=self.device_id, entities=[p4r.Entity(table_entry=p4r.TableEntry(table_id=table_id))]
        )
        return [e.table_entry async for reply in self.stub.Read(request, timeout=120) for e in reply.entities]

    async def clear(self, table_id: int) -> None:
        entries = await self.read_table(table_id)
        for start in range(0, len(entries), 500):
            chunk = entries[start : start + 500]
            await self.write(
                [p4r.Update(type=p4r.Update.DELETE, entity=p4r.Entity(table_entry=e)) for e in chunk]
            )


def inserts(entries: Sequence[p4r.TableEntry]) -> list[p4r.Update]:
    return [p4r.Update(type=p4r.Update.INSERT, entity=p4r.Entity(table_entry=e)) for e in entries]


async def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    await action()
    return time.perf_counter() - started


_SHELL_SCRIPT = r"""
import json, sys, time
import p4runtime_sh.shell as sh
args = json.load(sys.stdin)
sh.setup(device_id=args["device_id"], grpc_addr=args["address"], election_id=(0, args["election_id"]),
         verbose=False)
started = time.perf_counter()
for e in args["entries"]:
    te = sh.TableEntry(e["table"])(action=e["action"])
    for k, v in e["match"].items():
        te.match[k] = v
    for k, v in e["params"].items():
        te.action[k] = v
    te.insert()
print(json.dumps({"seconds": time.perf_counter() - started}))
sh.teardown()
"""


async def p4runtime_shell_seconds(address: str, device_id: int, workload: Workload) -> float | str:
    """Per-entry inserts by p4runtime-shell in its own venv, in a subprocess.

    Asynchronous, so an in-process fake server keeps answering; spawned without preexec
    so no forked copy of this process's gRPC state runs (docs/traps.md, gRPC).
    """
    if not P4RT_SHELL_PYTHON.exists():
        return "not installed (.tools/p4rt-shell)"
    payload = {
        "address": address,
        "device_id": device_id,
        "election_id": SHELL_ELECTION_ID,
        "entries": workload.shell_entries,
    }
    proc = await asyncio.create_subprocess_exec(
        str(P4RT_SHELL_PYTHON),
        "-c",
        _SHELL_SCRIPT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(json.dumps(payload).encode()), 1800)
    if proc.returncode != 0:
        lines = err.decode().strip().splitlines()
        return f"failed: {lines[-1] if lines else proc.returncode}"
    return float(json.loads(out.decode().strip().splitlines()[-1])["seconds"])


async def bench(args: argparse.Namespace, address: str, p4info: Path, blob: Path) -> None:
    schema = fy.P4Schema(p4info, blob)
    work = make_workload(schema, args.entries, args.table)
    n = len(work.entities)
    table_id = work.table.preamble.id
    encoder = EntryEncoder(schema)
    encoded = [encoder.encode(e) for e in work.entities]
    entries = [item.entry() for item in encoded]
    target = SwitchTarget(SWITCH, address, args.device_id, p4info, blob)
    options = SessionOptions(batch_size=args.batch_size)
    ours: list[float] = []
    pre: list[float] = []
    noops: list[float] = []
    reads: list[float] = []
    batches: list[float] = []

    async with FabricSession([target], options) as fabric:
        await asyncio.wait_for(fabric.wait_connected(), 60)
        link = fabric.switch(SWITCH)
        async with RawClient(address, args.device_id, link.switch.election_id) as raw:
            for _ in range(args.rounds):
                await raw.clear(table_id)
                ours.append(await _timed_push(fabric, work.entities, n))
                started = time.perf_counter()
                await raw.read_table(table_id)
                reads.append(time.perf_counter() - started)
                started = time.perf_counter()
                noop = await fabric.push({SWITCH: work.entities})
                noops.append(time.perf_counter() - started)
                await raw.clear(table_id)
                pre.append(await _timed_push(fabric, encoded, n))
                await raw.clear(table_id)
                updates = inserts(entries)  # built outside the clock
                started = time.perf_counter()
                await raw.write(updates)
                batches.append(time.perf_counter() - started)

            await raw.clear(table_id)
            one_by_one = inserts(entries)
            t_single = await timed(lambda: _each(raw, one_by_one))

            # A batch with rejected entries: re-insert a slice that already exists among new ones.
            await fabric.push({SWITCH: work.entities[: n // 2]})
            clash = n // 2 - min(args.rejected, n // 2)
            applied = await apply_diff(
                Diff(inserts=encoded[clash:]),
                link.write,
                switch=SWITCH,
                schema=link.schema,
                batch_size=args.batch_size,
            )
            await raw.clear(table_id)

    t_encode, t_finsy = _encoding_seconds(schema, work.entities)
    shell = await p4runtime_shell_seconds(address, args.device_id, work)

    t_ours, t_pre, t_noop, t_batch = median(ours), median(pre), median(noops), median(batches)
    rows: list[tuple[str, float | str]] = [
        (f"hpn.runtime push, finsy entities (batch {args.batch_size})", t_ours),
        ("hpn.runtime push, entries encoded beforehand", t_pre),
        ("one entry per WriteRequest (plain gRPC, pre-encoded)", t_single),
        ("one WriteRequest of all entries (pre-encoded)", t_batch),
        ("p4runtime-shell, per entry", shell),
    ]
    print(f"switch {address}, table {work.table.preamble.name}, {n} entries, {args.rounds} rounds (median)")
    print(f"{'method':52} {'seconds':>9} {'entries/s':>10} {'time vs ours':>13}")
    for name, seconds in rows:
        if isinstance(seconds, str):
            print(f"{name:52} {seconds}")
        else:
            print(f"{name:52} {seconds:9.3f} {n / seconds:10.0f} {seconds / t_ours:12.2f}x")
    print("rounds, ours:     " + " ".join(f"{t:.3f}" for t in ours))
    print("rounds, encoded:  " + " ".join(f"{t:.3f}" for t in pre))
    print("rounds, limit:    " + " ".join(f"{t:.3f}" for t in batches))
    print(f"ours vs one entry per RPC: {t_single / t_ours:.1f}x faster")
    if not isinstance(shell, str):
        print(f"ours vs p4runtime-shell per entry: {shell / t_ours:.1f}x faster")
    print(
        "ours vs one request holding everything (the limit): "
        f"{t_batch / t_pre:.2f} of its speed with entries encoded beforehand, "
        f"{t_batch / t_ours:.2f} encoding inside the push"
    )
    print(
        f"encoding {n} finsy entities alone: {t_encode * 1e3:.1f} ms (hpn.runtime.encoding) vs "
        f"{t_finsy * 1e3:.1f} ms (finsy encode_entry + canonicalize): {t_finsy / t_encode:.1f}x"
    )
    print(
        f"no-op re-push: {t_noop:.3f}s = {t_noop / t_ours:.2f} of a full push, "
        f"{noop[SWITCH].updates} updates, {noop[SWITCH].requests} WriteRequests; "
        f"reading the table back alone (plain gRPC): {median(reads):.3f}s"
    )
    expected = n // 2 - clash
    named = sum(
        1 for e in applied.errors if e.code == "ALREADY_EXISTS" and work.table.preamble.name in e.entry
    )
    print(
        f"batch with {expected} rejected entries: {named} reported by name, "
        f"{applied.inserted} of {n - clash - expected} others written"
        + (f'; e.g. "{applied.errors[0]}"' if applied.errors else "")
    )
    if named != expected or applied.inserted != n - clash - expected:
        raise SystemExit("rejected-entry check FAILED")


async def _timed_push(fabric: FabricSession, entities: Sequence[DesiredEntity], n: int) -> float:
    started = time.perf_counter()
    report = await fabric.push({SWITCH: entities})
    seconds = time.perf_counter() - started
    if not report.ok or report[SWITCH].inserted != n:
        raise SystemExit("push failed: " + "; ".join(report.errors[:5]))
    return seconds


def _encoding_seconds(schema: fy.P4Schema, entities: Sequence[fy.P4TableEntry]) -> tuple[float, float]:
    """Medians of encoding every entity with a fresh EntryEncoder, and with finsy."""
    ours, theirs = [], []
    for _ in range(3):
        encoder = EntryEncoder(schema)
        started = time.perf_counter()
        for entity in entities:
            encoder.encode(entity)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        for entity in entities:
            encode_message(canonicalize(entity.encode_entry(schema)))
        theirs.append(time.perf_counter() - started)
    return median(ours), median(theirs)


async def _each(raw: RawClient, updates: Sequence[p4r.Update]) -> None:
    for update in updates:
        await raw.write([update])


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--fake", action="store_true", help="run against the in-process fake P4Runtime server"
    )
    parser.add_argument("--address", help="host:port (or unix:PATH) of a P4Runtime switch (bmv2)")
    parser.add_argument(
        "--bmv2", action="store_true", help="start a simple_switch_grpc in a private namespace for the run"
    )
    parser.add_argument("--device-id", type=int, default=1)
    parser.add_argument("--p4info", type=Path, default=ROOT / "p4src/out/bmv2/hpn.p4info.txtpb")
    parser.add_argument("--json", type=Path, default=ROOT / "p4src/out/bmv2/hpn.json")
    parser.add_argument("--table", help="table to fill (default: the largest writable exact/LPM table)")
    parser.add_argument("--entries", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=SessionOptions().batch_size)
    parser.add_argument("--rounds", type=int, default=15, help="rounds of the fast measurements (median)")
    parser.add_argument("--rejected", type=int, default=25, help="entries to make fail in the error check")
    args = parser.parse_args()
    if args.fake:
        sys.path.insert(0, str(ROOT / "tests"))
        from fake_p4rt import FakeP4RuntimeServer

        if not args.p4info.exists():
            args.p4info = ROOT / "tests/data/runtime_fixture.p4info.txtpb"
            args.json = ROOT / "tests/data/runtime_fixture.json"
        async with FakeP4RuntimeServer(device_id=args.device_id) as fake:
            print("target: in-process fake P4Runtime server (shares this process's CPU)")
            await bench(args, fake.address, args.p4info, args.json)
    elif args.address:
        await bench(args, args.address, args.p4info, args.json)
    elif args.bmv2:
        from hpn.netlab.rig import SwitchRig, unique_prefix

        # Started before any gRPC channel exists in this process; bmv2 logs at error level.
        with SwitchRig(unique_prefix("b"), nports=1, log_level="error") as rig:
            print(f"target: simple_switch_grpc {rig.switch.grpc_address}")
            await bench(args, rig.switch.grpc_address, args.p4info, args.json)
    else:
        parser.error("give --fake, --bmv2 or --address")


if __name__ == "__main__":
    asyncio.run(main())
