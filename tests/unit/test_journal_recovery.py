"""Recovery is exact: journaled commands replayed into a fresh venue give the live run's events
byte for byte (running event hash included) and its state (engine, clearing, gateway tracks);
from a snapshot plus the journal after it as well as from the journal alone. A damaged snapshot
is skipped for an older one; another configuration's files are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.journal_bench import order_stream, stamp
from gateway.demo import demo_exchange
from gateway.server import GatewayServer, demo_venue
from journal.config import JournalConfig
from journal.eventhash import EventHash
from journal.reader import read_segments
from journal.records import JournalError
from journal.recovery import Replayer, rebuild_gateway, recover, replay_journal
from journal.service import Durability
from journal.snapshot import snapshot_files
from matching import reasons as R
from matching.api import packed_bytes
from matching.records import (
    CMD_AMEND,
    CMD_CLOCK,
    CMD_MASS_CANCEL,
    CMD_NEW,
    GTC,
    STOP_LIMIT,
)
from venue.cli import main

CFG = JournalConfig(rotate_bytes=64 * 1024, snapshot_every_cmds=3000, snapshot_interval_s=0)


def rich_stream(n: int, seed: int, first_cl: int = 1) -> np.ndarray:
    """order_stream plus icebergs, stop-limits, amends and kill-switch mass cancels."""
    c = order_stream(n, seed, first_cl)
    rng = np.random.default_rng(seed + 100)
    new = (c["kind"] == CMD_NEW) & (c["tif"] == GTC)
    ice = new & (rng.random(n) < 0.1)
    c["display_lots"][ice] = np.maximum(1, c["qty_lots"][ice] // 3)
    stop = new & ~ice & (rng.random(n) < 0.06)
    c["order_type"][stop] = STOP_LIMIT
    c["trigger_ticks"][stop] = c["price_ticks"][stop]
    amend = rng.random(n) < 0.08
    idx = np.flatnonzero(amend)
    ref = np.maximum(0, idx - rng.integers(1, 100, len(idx)))
    c["kind"][idx] = CMD_AMEND
    c["client_order_id"][idx] = c["client_order_id"][ref]
    c["account"][idx] = c["account"][ref]
    c["price_ticks"][idx] = np.where(rng.random(len(idx)) < 0.5, c["price_ticks"][ref], 0)
    c["qty_lots"][idx] = rng.integers(1, 60, len(idx))
    c["display_lots"][idx] = c["trigger_ticks"][idx] = c["order_type"][idx] = 0
    kill = np.flatnonzero(rng.random(n) < 0.002)
    c["kind"][kill] = CMD_MASS_CANCEL
    c["instrument"][kill] = -1
    c["reason"][kill] = R.CANCEL_KILL_SWITCH
    lift = np.flatnonzero(rng.random(n) < 0.001)  # and some lifted again (journaled as CLOCK)
    c[lift] = np.zeros(1, dtype=c.dtype)
    c["kind"][lift] = CMD_CLOCK
    c["account"][lift] = rng.integers(1, 4, len(lift))
    c["reason"][lift] = R.CANCEL_KILL_SWITCH
    return c


def live(srv: GatewayServer, cmds: np.ndarray, batch: int = 64, ts0: int = 10**18) -> None:
    """What the gateway's loop does per wakeup with a stamped batch: journal, run, commit,
    then the listeners with the batch's events."""
    for at in range(0, len(cmds), batch):
        b = cmds[at : at + batch].copy()
        stamp(b, srv.ex.next_seq, ts0 + at * 1000)
        srv.journal.append(b)
        k = srv.replay_batch(b)
        srv.journal.commit()
        view = srv._events[:k]
        for listener in srv.listeners:
            listener(view)


def _venue(d: Path) -> tuple[GatewayServer, Durability]:
    srv, _ = demo_venue()
    dur = Durability(srv, d, CFG, warn=lambda m: None)
    dur.open()
    return srv, dur


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A venue that ran 12,000 commands (snapshots every 3,000, files of 64 KiB) and then
    'crashed': no shutdown snapshot. Keeps its live events and final state."""
    d = tmp_path_factory.mktemp("crashed")
    srv, dur = _venue(d)
    events: list[bytes] = []
    srv.listeners.append(lambda ev: events.append(packed_bytes(ev)))
    live(srv, rich_stream(12_000, seed=9))
    srv.ex.check_invariants()
    out = {
        "dir": d,
        "events": b"".join(events),
        "state_hash": srv.ex.state_hash(),
        "event_hash": dur.hash.hexdigest(),
        "gateway": srv.export_state(),
        "bal": srv.ex.cs.bal.copy(),
        "pos": srv.ex.cs.pos.copy(),
        "transfers": dict(srv.ex.transfers),
        "next_seq": srv.ex.next_seq,
        "totals": srv.ex.totals(),
        "pauses": list(dur.snapshot_pause_ms),
    }
    dur._queue.put(None)  # let the snapshot thread finish its file, as time would
    assert dur._thread is not None
    dur._thread.join(10)
    dur.writer.sync()  # type: ignore[union-attr]
    srv.stop()
    return out


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_clean_replay_gives_the_live_events_byte_for_byte(crashed: dict) -> None:
    ex = demo_exchange()
    got: list[bytes] = []
    eh, n = replay_journal(ex, crashed["dir"], on_events=lambda ev: got.append(packed_bytes(ev)))
    assert n == 12_000
    assert b"".join(got) == crashed["events"]
    assert eh.hexdigest() == crashed["event_hash"]
    assert ex.state_hash() == crashed["state_hash"]
    ex.check_invariants()


def test_recovery_from_snapshot_and_journal_equals_the_live_state(
    crashed: dict, tmp_path: Path
) -> None:
    d = _copy(crashed["dir"], tmp_path / "d")
    srv, _ = demo_venue()
    res, eh, _g = recover(srv, d)
    assert res.snapshot_seq > 0 and res.replayed == crashed["next_seq"] - 1 - res.snapshot_seq
    assert res.replayed > 0  # the tail after the last snapshot
    assert res.state_hash == crashed["state_hash"]
    assert eh.hexdigest() == crashed["event_hash"] == res.event_hash
    assert srv.export_state() == crashed["gateway"]
    assert np.array_equal(srv.ex.cs.bal, crashed["bal"])
    assert np.array_equal(srv.ex.cs.pos, crashed["pos"])
    assert srv.ex.transfers == crashed["transfers"]
    assert srv.ex.next_seq == crashed["next_seq"]
    assert srv.ex.totals() == crashed["totals"]
    srv.ex.check_invariants()
    srv.stop()


def test_fast_recovery_rebuilds_the_gateway_exactly_as_a_full_replay(
    crashed: dict, tmp_path: Path
) -> None:
    a = _copy(crashed["dir"], tmp_path / "a")
    b = _copy(crashed["dir"], tmp_path / "b")
    for p in snapshot_files(a) + snapshot_files(b):
        p.unlink()  # from the initial state: every track rebuilt from the journal
    fast, _ = demo_venue()
    exact, _ = demo_venue()
    recover(fast, a)
    recover(exact, b, exact=True)
    state = fast.export_state()
    assert state == exact.export_state() == crashed["gateway"]
    assert state["killed"]  # the workload's kill switches survive recovery
    assert state["fills"]  # partially filled live orders
    every = [
        {oid: (t.account, t.cl_ord_id, t.instrument, t.side, t.order_type, t.tif, t.price,
               t.qty, t.trigger, t.cum, t.notional) for oid, t in srv.tracks.items()}
        for srv in (fast, exact)
    ]  # fmt: skip
    assert every[0] == every[1] and len(every[0]) > len(state["fills"])
    fast.stop()
    exact.stop()


def test_damaged_newest_snapshot_falls_back_to_an_older_one(crashed: dict, tmp_path: Path) -> None:
    d = _copy(crashed["dir"], tmp_path / "d")
    snaps = snapshot_files(d)
    assert len(snaps) >= 2
    raw = bytearray(snaps[0].read_bytes())
    raw[-100] ^= 0xFF
    snaps[0].write_bytes(bytes(raw))
    (d / "snapshot-00000000000000099999.snap.tmp").write_bytes(b"half")
    warnings: list[str] = []
    srv, _ = demo_venue()
    res, _eh, _g = recover(srv, d, warn=warnings.append)
    assert res.snapshot_path == snaps[1]
    assert any("payload CRC32C mismatch" in w for w in warnings)
    assert any("unfinished snapshot" in w for w in warnings)
    assert not list(d.glob("*.tmp"))
    assert res.state_hash == crashed["state_hash"]
    assert srv.export_state() == crashed["gateway"]
    srv.stop()


def test_files_of_another_configuration_are_refused(crashed: dict, tmp_path: Path) -> None:
    d = _copy(crashed["dir"], tmp_path / "d")
    srv, _ = demo_venue()
    srv.ex.deposit(1, "USD", 5, 999)  # not the configuration the files were written by
    with pytest.raises(JournalError, match="different configuration"):
        recover(srv, d)
    for p in snapshot_files(d):
        p.unlink()
    with pytest.raises(JournalError, match="different configuration"):
        recover(srv, d)
    srv.stop()


def test_after_recovery_sequence_and_hashes_go_on(
    crashed: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = _copy(crashed["dir"], tmp_path / "d")
    srv, dur = _venue(d)
    assert srv.ex.next_seq == crashed["next_seq"]
    live(srv, rich_stream(3_000, seed=10, first_cl=500_000), ts0=2 * 10**18)
    final = srv.ex.state_hash()
    line = dur.close()
    assert f"state_hash={final} shutdown" in line
    segs = list(read_segments(d))
    assert sum(s.count for s in segs) == 15_000
    ex = demo_exchange()
    eh, _n = replay_journal(ex, d)
    assert ex.state_hash() == final and f"event_hash={eh.hexdigest()}" in line
    srv.stop()
    capsys.readouterr()
    assert main(["journal", "verify", str(d)]) == 0
    assert "ok: 15000 commands" in capsys.readouterr().out
    assert main(["replay", "journal", str(d)]) == 0
    out = capsys.readouterr().out
    assert "logged hashes reproduced" in out and final in out
    assert main(["journal", "inspect", str(d)]) == 0
    assert "15000 commands journaled" in capsys.readouterr().out


def test_cli_names_the_corrupt_file_and_offset(
    crashed: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = _copy(crashed["dir"], tmp_path / "d")
    first = sorted(d.glob("journal-*.wal"))[0]
    raw = bytearray(first.read_bytes())
    raw[64 + 120 * 3 + 50] ^= 0x10
    first.write_bytes(bytes(raw))
    capsys.readouterr()
    assert main(["journal", "verify", str(d)]) == 1
    out = capsys.readouterr().out
    assert f"{first}: corrupt journal at byte offset {64 + 360}" in out
    assert main(["replay", "journal", str(d)]) == 1
    srv, _ = demo_venue()
    full, _ = demo_venue()
    try:
        recover(srv, _copy(d, tmp_path / "e"))  # after a snapshot the damaged file is not read
        for p in snapshot_files(d):
            p.unlink()
        with pytest.raises(JournalError, match="byte offset 424"):
            recover(full, d)
    finally:
        srv.stop()
        full.stop()


def test_a_logged_hash_that_differs_is_reported(
    crashed: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = _copy(crashed["dir"], tmp_path / "d")
    log = d / "hashes.log"
    log.write_text(log.read_text() + "seq=100 event_hash=0123456789abcdef0123456789abcdef x\n")
    capsys.readouterr()
    assert main(["replay", "journal", str(d)]) == 1
    assert "MISMATCH: seq 100 (x): event hash" in capsys.readouterr().out


def test_snapshot_capture_is_short(crashed: dict) -> None:
    assert crashed["pauses"] and max(crashed["pauses"]) < 100  # ms; typically 1-5
    assert len(snapshot_files(crashed["dir"])) == CFG.snapshots_kept


def test_bench_journal_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "journal", "--commands", "3000", "--repeat", "1", "--no-write",
                 "--json"]) == 0  # fmt: skip
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert r["policy"] == "durable" and r["fsyncs"] >= 3 and r["cmds_per_s"] > 0
    assert r["replay_cmds_per_s"] > 0 and r["replayed"] == 3000


def test_one_venue_per_data_directory(tmp_path: Path) -> None:
    a, dur = _venue(tmp_path)
    b, _ = demo_venue()
    with pytest.raises(JournalError, match="in use by another venue"):
        Durability(b, tmp_path, CFG).open()
    dur.close()
    again = Durability(b, tmp_path, CFG, warn=lambda m: None)
    again.open()  # free once the first one closed
    again.close()
    a.stop()
    b.stop()


def test_gateway_rebuild_with_compaction_matches_the_exact_replay() -> None:
    cmds = rich_stream(20_000, seed=4)
    fast, _ = demo_venue()
    exact, _ = demo_venue()
    stamp(cmds, fast.ex.next_seq, 10**18)
    rp = Replayer(fast.ex, EventHash(), chunk=200)  # compacts every ~60 chunks
    rp.feed(cmds)
    assert len(rp.fills) <= 64
    rebuild_gateway(fast, fast.export_state(), rp)
    for at in range(0, len(cmds), 500):
        part = cmds[at : at + 500]
        exact.replay_batch(part)  # applies the kill switches, on and off, as it goes
    assert fast.export_state() == exact.export_state()
    fast.stop()
    exact.stop()
