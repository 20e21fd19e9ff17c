"""Unit tests of the market-data pieces without sockets: wire helpers, the level arena, bars,
status, seeding a publisher from a live book, the FeedCore's sequencing rules (duplicates,
overlaps, heartbeats, a snapshot older than the buffer, a new session), bad input, and the
benchmark on a tiny workload."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from typing import Any

import msgspec
import numpy as np
import pytest
import zmq

from marketdata import wire as W
from marketdata.book import BookBuilder
from marketdata.client import FeedCore
from marketdata.feed import Publisher
from marketdata.levels_nb import grow_arena, levels_out_nb, new_arena, set_level_nb
from marketdata.snapshot import EngineSource, SnapshotService
from matching.engine import Engine
from matching.instruments import Instrument
from matching.records import CMD_HALT, CMD_NEW, CMD_RESUME, LIMIT, new_commands
from tests.property.streams import INSTRUMENTS, StreamGen

BTC = Instrument(id=5, symbol="BTC-X", kind="spot", tick_size=Decimal(1), lot_size=Decimal(1))


def test_topics_round_trip_and_reject_garbage() -> None:
    for ch in range(W.N_CHANNELS):
        assert W.parse_topic(W.topic(ch, "BTC-USD")) == (ch, "BTC-USD")
    assert W.topic(W.CH_OHLCV_1M, "A.B") == b"ohlcv.1m.A.B"
    assert W.parse_topic(b"ohlcv.1m.A.B") == (W.CH_OHLCV_1M, "A.B")
    for bad in (b"nope.BTC", b"l2.", b"l2"):
        with pytest.raises(ValueError):
            W.parse_topic(bad)
    with pytest.raises(ValueError, match="whole number"):
        W.decode_body(W.CH_L2, b"\x00" * 7)
    r = np.zeros(2, dtype=W.TRADE_DTYPE)
    r["price_ticks"] = [5, 6]
    assert [d["price_ticks"] for d in W.records_to_dicts(r)] == [5, 6]


def test_level_arena_matches_a_dict_model_through_growth() -> None:
    rng = np.random.default_rng(3)
    arena = new_arena(6, per_book=2)
    model: list[dict[int, tuple[int, int]]] = [{} for _ in range(6)]
    for _ in range(20_000):
        b = int(rng.integers(0, 6))
        key = int(rng.integers(-300, 300))
        q = int(rng.integers(0, 4)) * int(rng.integers(1, 50))
        c = int(rng.integers(1, 5))
        while True:
            keys, qty, cnt, start, cap, n, top = arena
            old = set_level_nb(keys, qty, cnt, start, cap, n, top, b, key, q, c)
            if old != -2:
                break
            arena = grow_arena(arena)
        prev = model[b].get(key)
        assert old == (prev[0] if prev else -1)
        if q == 0:
            model[b].pop(key, None)
        else:
            model[b][key] = (q, c)
    keys, qty, cnt, start, cap, n, top = arena
    for b in range(6):
        out = np.zeros((max(int(n[b]), 1), 3), dtype=np.int64)
        k = levels_out_nb(keys, qty, cnt, start, n, b, 1, 0, out)
        want = sorted(model[b].items(), reverse=True)
        assert [tuple(r) for r in out[:k].tolist()] == [(p, q, c) for p, (q, c) in want]
    assert len(keys) > 12  # it grew


def capture(pub: Publisher) -> list[tuple[W.PacketHeader, np.ndarray]]:
    got: list[tuple[W.PacketHeader, np.ndarray]] = []

    def sink(frames: list[bytes]) -> None:
        h = W.HEADER_DECODER.decode(frames[1])
        got.append((h, W.decode_body(h.channel, frames[2]).copy()))

    pub.sinks.append(sink)
    return got


def cmd(kind: int, **f: int) -> np.ndarray:
    c = new_commands(1)
    c["kind"] = kind
    c["instrument"] = BTC.id
    for k, v in f.items():
        c[k] = v
    return c


def order(side: int, price: int, qty: int, ts: int, account: int = 1) -> np.ndarray:
    return cmd(CMD_NEW, side=side, price_ticks=price, qty_lots=qty, ts_ns=ts, account=account,
               order_type=LIMIT, tif=1)  # fmt: skip


def test_bars_close_on_the_next_period_and_status_is_published() -> None:
    eng = Engine([BTC])
    pub = Publisher([BTC])
    got = capture(pub)
    s = 1_000_000_000
    for ts, px, q in ((s // 2, 100, 2), (s // 2 + 1, 103, 1), (s + s // 3, 99, 4)):
        pub.on_events(eng.process(order(2, px, q, ts, account=1)))
        pub.on_events(eng.process(order(1, px, q, ts, account=2)))
    pub.on_events(eng.process(cmd(CMD_HALT, ts_ns=3 * s)))
    pub.on_events(eng.process(cmd(CMD_RESUME, ts_ns=3 * s)))
    bars = [r for h, recs in got if h.channel == W.CH_OHLCV_1S for r in recs]
    closed = [b for b in bars if b["closed"]]
    assert [(int(b["start_ns"]), int(b["open_ticks"]), int(b["high_ticks"]),
             int(b["low_ticks"]), int(b["close_ticks"]), int(b["volume_lots"]),
             int(b["trades"])) for b in closed] == [
        (0, 100, 103, 100, 103, 3, 2), (s, 99, 99, 99, 99, 4, 1)]  # fmt: skip
    assert [int(b["seq"]) for b in bars] == list(range(1, len(bars) + 1))
    minute = [r for h, recs in got if h.channel == W.CH_OHLCV_1M for r in recs]
    assert not any(b["closed"] for b in minute) and int(minute[-1]["volume_lots"]) == 7
    st = [r for h, recs in got if h.channel == W.CH_STATUS for r in recs]
    assert [int(r["kind"]) for r in st] == [W.ST_HALTED, W.ST_RESUMED]
    assert all(h.instrument == BTC.id for h, _ in got)


def test_mark_and_funding_reach_the_status_channel() -> None:
    from clearing.exchange import Exchange
    from venue.defaults import default_instruments

    insts = default_instruments()
    ex = Exchange(insts, keep_ledger=False)
    pub = Publisher(insts)
    got = capture(pub)
    pub.on_events(ex.set_mark(2, 900_000))
    st = [(h.instrument, r) for h, recs in got if h.channel == W.CH_STATUS for r in recs]
    assert st and st[0][0] == 2 and int(st[0][1]["kind"]) == W.ST_MARK
    assert int(st[0][1]["price_ticks"]) == 900_000


def test_publisher_rejects_bad_input_and_ignores_unknown_instruments() -> None:
    with pytest.raises(ValueError):
        Publisher([])
    pub = Publisher([BTC])
    got = capture(pub)
    with pytest.raises(TypeError):
        pub.on_events(np.zeros(3, dtype=np.int64))
    eng = Engine(INSTRUMENTS)  # ids 0, 1, 3: none of them is the publisher's
    pub.on_events(eng.process(StreamGen(1).batch(200)))
    assert got == []


def test_seeded_publisher_and_snapshot_continue_an_existing_book() -> None:
    eng = Engine(INSTRUMENTS)
    g = StreamGen(9)
    eng.process(g.batch(400))  # a book built before any publisher existed
    pub = Publisher(INSTRUMENTS)
    pub.seed(eng.dump())
    src = EngineSource(pub, eng)
    core = FeedCore(src.infos(), ["l2", "l3", "bbo"])
    got = capture(pub)
    core.start()
    hdrs = {}
    for kind in ("l2", "l3", "bbo"):
        for inst in core.symbols:
            ch = W.CHANNEL_IDS[kind]
            seq, recs = src.l2(inst, 0) if kind == "l2" else (
                src.l3(inst) if kind == "l3" else src.bbo(inst))  # fmt: skip
            hdrs[(ch, inst)] = [msgspec.msgpack.encode(W.SnapshotHeader(pub.session, ch, inst,
                                                                        seq, len(recs))),
                                recs.tobytes()]  # fmt: skip
    for frames in hdrs.values():
        core.on_snapshot(frames)
    assert not core.recovering
    for _ in range(20):
        pub.on_events(eng.process(g.batch(30)))
    for h, recs in got:
        frames = [W.topic(h.channel, core.symbols[h.instrument]), W.HEADER_ENCODER.encode(h),
                  recs.tobytes()]  # fmt: skip
        core.on_packet(frames)
    assert core.gaps == []
    for inst in core.symbols:
        bv = eng.book(inst, 10_000)
        bids, asks = core.builder.book(inst)
        assert [tuple(x) for x in bv.bids] == [tuple(r) for r in bids.tolist()]
        assert [tuple(x) for x in bv.asks] == [tuple(r) for r in asks.tolist()]
        pb, pa = pub.levels(inst)
        assert pb.tolist() == bids.tolist() and pa.tolist() == asks.tolist()


def frames_of(h: W.PacketHeader, recs: np.ndarray) -> list[bytes]:
    return [b"l2.X", W.HEADER_ENCODER.encode(h), recs.tobytes()]


def l2(seqs: list[int], price: int = 100) -> np.ndarray:
    r = np.zeros(len(seqs), dtype=W.L2_DTYPE)
    r["seq"] = seqs
    r["price_ticks"] = price
    r["qty_lots"] = np.arange(1, len(seqs) + 1)
    r["orders"] = 1
    r["side"] = W.BID
    return r


def hdr(session: int, first: int, last: int, count: int, pseq: int = 1) -> W.PacketHeader:
    return W.PacketHeader(1, session, pseq, W.CH_L2, 0, first, last, count, 0)


def snap(session: int, seq: int, recs: np.ndarray) -> list[bytes]:
    return [msgspec.msgpack.encode(W.SnapshotHeader(session, W.CH_L2, 0, seq, len(recs))),
            recs.tobytes()]  # fmt: skip


def test_feed_core_sequencing_rules() -> None:
    core = FeedCore([W.InstrumentInfo(0, "X", "1", "1")], ["l2"])
    assert core.topics() == [b"l2.X"]
    core.on_packet(frames_of(hdr(7, 3, 4, 2), l2([3, 4])))  # adopts session 7, buffers
    assert core.session == 7 and core.requests and not core.synced(0)
    core.on_packet(frames_of(hdr(7, 5, 6, 2), l2([5, 6], 101)))
    core.requests.clear()
    # a snapshot older than the buffer's start (2 is missing): it must ask again
    core.on_snapshot(snap(7, 1, l2([])))
    assert not core.synced(0) and core.requests
    core.requests.clear()
    core.on_snapshot(snap(7, 2, l2([2, 2])))
    assert core.synced(0) and core.last[(W.CH_L2, 0)] == 6
    assert core.builder.book(0)[0].tolist() == [[101, 2, 1], [100, 2, 1]]
    assert core.on_packet(frames_of(hdr(7, 5, 6, 2), l2([5, 6], 101))) == []  # duplicate
    ups = core.on_packet(frames_of(hdr(7, 6, 7, 2), l2([6, 7], 102)))  # overlap: only 7
    assert len(ups) == 1 and ups[0].records["seq"].tolist() == [7]
    core.on_packet(frames_of(hdr(7, 11, 10, 0), l2([])))  # heartbeat says 10: lost 8..10
    assert core.gaps[-1].expected == 8 and not core.synced(0)
    core.on_snapshot(snap(7, 10, l2([10])))
    assert core.synced(0) and core.last[(W.CH_L2, 0)] == 10
    core.on_packet(frames_of(hdr(99, 1, 1, 1), l2([1])))  # a new session: resync
    assert core.resyncs == 1 and not core.synced(0)
    assert core.on_packet([b"l2.X", b"\xc1garbage", b""]) == [] and core.bad_packets == 1
    with pytest.raises(ValueError):
        FeedCore([W.InstrumentInfo(0, "X", "1", "1")], ["l9"])
    with pytest.raises(KeyError):
        FeedCore([W.InstrumentInfo(0, "X", "1", "1")], ["l2"], ["Y"])


def test_snapshot_service_answers_bad_requests_with_errors() -> None:
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        eng = Engine([BTC])
        pub = Publisher([BTC])
        svc = SnapshotService(EngineSource(pub, eng), ctx)
        ep = svc.bind()
        d = ctx.socket(zmq.DEALER)
        d.setsockopt(zmq.LINGER, 0)
        d.connect(ep)
        enc = msgspec.msgpack.Encoder()

        def ask(payload: bytes) -> list[bytes]:
            d.send(payload)
            for _ in range(200):
                svc.poll(10)
                if d.poll(10, zmq.POLLIN):
                    return d.recv_multipart()
            raise AssertionError("no reply")

        for bad in (b"\xc1", enc.encode(W.SnapshotRequest("l9", 5)),
                    enc.encode(W.SnapshotRequest("l2", 77))):  # fmt: skip
            h = W.SNAP_HDR_DECODER.decode(ask(bad)[0])
            assert h.error
        eng.process(order(1, 100, 3, 1))
        pub.on_events(eng.process(order(1, 101, 2, 2)))
        f = ask(enc.encode(W.SnapshotRequest("l2", BTC.id, 1)))
        h = W.SNAP_HDR_DECODER.decode(f[0])
        recs = W.decode_body(W.CH_L2, f[1])
        assert not h.error and h.count == 1 and int(recs["price_ticks"][0]) == 101
        f = ask(enc.encode(W.SnapshotRequest("instruments")))
        assert W.INSTRUMENTS_DECODER.decode(f[1])[0].symbol == "BTC-X"
        d.close(linger=0)
        svc.close()
    finally:
        ctx.destroy(linger=0)


def test_book_builder_rejects_wrong_records() -> None:
    bb = BookBuilder([(0, "X")])
    with pytest.raises(TypeError):
        bb.apply_l2(0, np.zeros(1, dtype=W.L3_DTYPE))
    with pytest.raises(TypeError):
        bb.apply_l3(0, np.zeros(1, dtype=W.L2_DTYPE))
    with pytest.raises(KeyError, match="unknown instrument"):
        bb.book(3)
    assert bb.bbo(0) == (None, None)


def test_cli_has_the_feed_verbs() -> None:
    from venue.cli import build_parser

    p = build_parser()
    a = p.parse_args(["record", "--endpoint", "tcp://127.0.0.1:7002", "--out", "x"])
    assert a.out == "x"
    a = p.parse_args(["replay", "feed", "d", "--as-fast-as-possible"])
    assert a.as_fast_as_possible
    a = p.parse_args(["bench", "marketdata", "--json"])
    assert a.json


def test_bench_runs_on_a_tiny_workload(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import marketdata_bench

    p = argparse.ArgumentParser()
    marketdata_bench.add_arguments(p)
    args = p.parse_args(["--commands", "3000", "--latency-seconds", "0.1", "--rate", "2000",
                         "--repeat", "1", "--no-write", "--json"])  # fmt: skip
    assert marketdata_bench.run(args) == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert r["updates_per_s"] > 0 and r["p50_us"] > 0 and r["p99_us"] >= r["p50_us"]
    assert r["subscriber_book_equals_engine"] is True and r["gaps"] == 0
    assert r["level_updates"] > 3000


def test_guarded_listener_survives_an_internal_error_with_a_new_session(
    capsys: pytest.CaptureFixture[str],
) -> None:
    eng = Engine(INSTRUMENTS)
    pub = Publisher(INSTRUMENTS)
    listener = pub.guarded(eng.dump)
    g = StreamGen(4)
    listener(eng.process(g.batch(300)))
    before = pub.session
    listener(np.zeros(2, dtype=np.int64))  # what a bug would look like: must not raise
    assert "publisher error" in capsys.readouterr().err
    assert pub.errors == 1 and pub.session != before and int(pub.seqs.sum()) == 0
    listener(eng.process(g.batch(300)))
    for inst in (0, 1, 3):
        bv = eng.book(inst, 10_000)
        bids, asks = pub.levels(inst)
        assert [tuple(x) for x in bv.bids] == [tuple(r) for r in bids.tolist()]
        assert [tuple(x) for x in bv.asks] == [tuple(r) for r in asks.tolist()]


def test_feed_core_asks_again_after_an_error_or_a_lost_reply() -> None:
    core = FeedCore([W.InstrumentInfo(0, "X", "1", "1")], ["l2"])
    core.start()
    assert [r.kind for r in core.due_requests(100.0)] == ["l2"]
    assert core.due_requests(100.5) == []  # asked half a second ago
    err = msgspec.msgpack.encode(W.SnapshotHeader(7, -1, -1, 0, 0, "busy"))
    assert core.on_snapshot([err, b""]) == [] and core.errors == ["busy"]
    assert [r.instrument for r in core.due_requests(101.2)] == [0]  # retried
    core.on_snapshot(snap(7, 3, l2([3])))
    assert core.synced(0) and core.due_requests(200.0) == []
