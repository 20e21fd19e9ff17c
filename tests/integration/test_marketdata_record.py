"""Recording and replay: a recorded feed, read back in-process, reproduces the venue's books and
trades; republished on a bus (``venue replay feed``), a subscriber of the replay ends with the
same books and receives the same trades; a torn log (crash) still reads up to the tear."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zmq

from marketdata import wire as W
from marketdata.client import FeedClient
from marketdata.record import Recorder, Recording
from marketdata.replay import FeedReplayer
from tests.integration.test_marketdata_feed import (
    ALL,
    FeedVenue,
    many_instruments,
    multi_stream,
    sync,
)


def engine_books(v: FeedVenue) -> dict[int, tuple[list[Any], list[Any], list[Any]]]:
    def view() -> dict[int, tuple[list[Any], list[Any], list[Any]]]:
        d = v.eng.dump()
        out = {}
        for i in v.pub.index:
            bv = v.eng.book(i, 100_000)
            dd = d[(d["instrument"] == i) & (d["side"] <= 2)]
            l3 = [(int(r["side"]), int(r["price_ticks"]), int(r["order_id"]),
                   int(r["visible_lots"])) for r in dd]  # fmt: skip
            out[i] = ([tuple(x) for x in bv.bids], [tuple(x) for x in bv.asks], l3)
        return out

    return v.call(view)  # type: ignore[no-any-return]


def trades_of(updates: Any) -> list[tuple[int, int, int, int, int]]:
    out = []
    for u in updates:
        if u.channel == "trades":
            r = u.records
            out += list(zip([u.instrument] * len(r), r["trade_id"].tolist(),
                            r["price_ticks"].tolist(), r["qty_lots"].tolist(),
                            r["side"].tolist(), strict=True))  # fmt: skip
    return out


@pytest.fixture
def recorded(ctx: zmq.Context[Any], tmp_path: Path) -> Iterator[tuple[FeedVenue, Path, list[Any]]]:
    """A venue that traded before and during a recording; the venue's trades after the
    recorder joined (from a publisher sink)."""
    insts = many_instruments(6)
    v = FeedVenue(ctx, insts)
    cmds = multi_stream(41, 6, 3500)
    v.run(cmds[:1500])
    rec = Recorder(v.feed, v.snap, tmp_path / "rec", ctx=ctx)
    seen: list[Any] = []

    def sink(frames: list[bytes]) -> None:
        h = W.HEADER_DECODER.decode(frames[1])
        if h.channel == W.CH_TRADES and h.count:
            r = W.decode_body(h.channel, frames[2])
            seen.extend(zip([h.instrument] * len(r), r["trade_id"].tolist(),
                            r["price_ticks"].tolist(), r["qty_lots"].tolist(),
                            r["side"].tolist(), strict=True))  # fmt: skip

    end = time.monotonic() + 10
    while not rec.client.synced():
        assert time.monotonic() < end
        rec.poll(0.02)
    time.sleep(0.1)
    v.call(lambda: v.pub.sinks.append(sink))
    for lo in range(1500, 3500, 250):
        v.run(cmds[lo : lo + 250])
        rec.poll(0.01)
    sync(rec.client, v)
    rec.close()
    try:
        yield v, tmp_path / "rec", seen
    finally:
        v.close()


def test_recording_read_back_reproduces_books_and_trades(
    recorded: tuple[FeedVenue, Path, list[Any]],
) -> None:
    v, path, venue_trades = recorded
    r = Recording(path)
    core = r.core()
    ups = list(r.updates(core=core))
    assert not core.recovering and core.gaps == []
    want = engine_books(v)
    for i, (bids, asks, l3) in want.items():
        b, a = core.builder.book(i)
        assert [tuple(x) for x in b.tolist()] == bids
        assert [tuple(x) for x in a.tolist()] == asks
        assert core.builder.l3_book(i) == l3
    got = trades_of(ups)
    assert len(venue_trades) > 100
    assert got[-len(venue_trades) :] == venue_trades
    idx = r.index()
    assert len(idx) > 100 and (np.diff(idx["offset"]) > 0).all()
    assert set(idx["kind"].tolist()) == {0, 1}
    assert len(r.records("trades", int(idx["instrument"][idx["channel"] == 0][0]))) > 0


def test_replayed_feed_reproduces_books_and_trades(
    ctx: zmq.Context[Any], recorded: tuple[FeedVenue, Path, list[Any]]
) -> None:
    v, path, _ = recorded
    rp = FeedReplayer(path, ctx)
    rp.bind()
    go, stop = threading.Event(), threading.Event()
    t = threading.Thread(target=rp.run, kwargs=dict(speed=None, go=go, stop=stop, hold=30))
    t.start()
    try:
        c = FeedClient(rp.endpoint, rp.svc.endpoint, channels=ALL, ctx=ctx)
        got: list[Any] = []
        c.on_update = lambda u: got.append(u) if u.channel == "trades" else None
        c.wait_synced()
        time.sleep(0.2)
        go.set()
        end = time.monotonic() + 20
        while not rp.done.is_set():
            assert time.monotonic() < end, "replay did not finish"
            c.poll(0.05)
        want = engine_books(v)

        def same() -> bool:
            for i, (bids, asks, l3) in want.items():
                b, a = c.book(c.core.symbols[i])
                if [tuple(x) for x in b.tolist()] != bids or [tuple(x) for x in a.tolist()] != asks:
                    return False
                if c.l3_book(c.core.symbols[i]) != l3:
                    return False
            return True

        while not same():
            assert time.monotonic() < end, "replay did not reproduce the books"
            c.poll(0.05)
        r = Recording(path)
        for i in want:  # the trades after the warm-up, each once, in order
            recs = r.records("trades", i)
            recs = recs[recs["seq"] > rp.warm_last.get((W.CH_TRADES, i), 0)]
            mine = [x for x in trades_of(got) if x[0] == i]
            assert [x[1:] for x in mine] == list(zip(recs["trade_id"].tolist(),
                recs["price_ticks"].tolist(), recs["qty_lots"].tolist(),
                recs["side"].tolist(), strict=True))  # fmt: skip
        assert c.core.gaps == []
        assert len(trades_of(got)) > 100
        assert c.core.session == rp.session
        c.close()
    finally:
        stop.set()
        t.join(10)
        rp.close()


def test_torn_log_reads_up_to_the_tear(recorded: tuple[FeedVenue, Path, list[Any]]) -> None:
    _, path, _ = recorded
    log = path / "feed.log"
    full = sum(1 for _ in Recording(path).entries())
    data = log.read_bytes()
    log.write_bytes(data[:-7])
    assert sum(1 for _ in Recording(path).entries()) == full - 1
    with pytest.raises(FileNotFoundError):
        Recording(path / "nope")


def test_record_and_replay_feed_commands(
    ctx: zmq.Context[Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from venue.cli import main

    insts = many_instruments(3)
    v = FeedVenue(ctx, insts)
    try:
        v.run(multi_stream(51, 3, 500))
        stop = threading.Event()

        def trade() -> None:  # the venue keeps trading while the command records
            cmds = multi_stream(52, 3, 3000)
            k = 0
            while not stop.is_set() and k < len(cmds):
                v.run(cmds[k : k + 50])
                k += 50
                time.sleep(0.02)

        t = threading.Thread(target=trade, daemon=True)
        t.start()
        out = tmp_path / "rec"
        argv = ["record", "--endpoint", v.feed, "--snapshot", v.snap, "--out", str(out),
                "--duration", "1.5"]  # fmt: skip
        assert main(argv) == 0
        stop.set()
        t.join(10)
        err = capsys.readouterr().err
        assert "recording" in err and "snapshots 9" in err
        assert main(argv) == 2  # the directory already holds a recording
        r = Recording(out)
        assert r.meta["instruments"][0][1] == insts[0].symbol and len(r.index()) > 10
        assert main(["replay", "feed", str(out), "--as-fast-as-possible"]) == 0
        printed = capsys.readouterr().out
        assert "replayed" in printed and " 0 packets" not in printed
        assert main(["replay", "feed", str(tmp_path / "nothing")]) == 2
    finally:
        v.close()
