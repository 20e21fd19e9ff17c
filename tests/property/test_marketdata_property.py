"""Property: for any command stream (every rule of the rulebook, rejects included) cut into any
batches, the feed derived from the engine's events rebuilds the engine's books exactly after
every batch: L2 levels, L3 orders in queue order with their displayed sizes, and the BBO; every
(channel, instrument) sequence runs 1, 2, 3, ... without a hole."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketdata import wire as W
from marketdata.book import BookBuilder
from marketdata.feed import Publisher
from matching.engine import Engine
from tests.property.streams import INSTRUMENTS, StreamGen


class Sink:
    def __init__(self, bb: BookBuilder) -> None:
        self.bb = bb
        self.last: dict[tuple[int, int], int] = {}
        self.bbo: dict[int, Any] = {}

    def __call__(self, frames: list[bytes]) -> None:
        ch, sym = W.parse_topic(frames[0])
        h = W.HEADER_DECODER.decode(frames[1])
        assert ch == h.channel and sym == self.bb.infos[h.instrument].symbol
        recs = W.decode_body(h.channel, frames[2])
        key = (h.channel, h.instrument)
        assert h.count == len(recs) > 0
        assert h.first_seq == self.last.get(key, 0) + 1
        assert recs["seq"].tolist() == list(range(h.first_seq, h.last_seq + 1))
        self.last[key] = h.last_seq
        if h.channel == W.CH_L2:
            self.bb.apply_l2(h.instrument, recs)
        elif h.channel == W.CH_L3:
            self.bb.apply_l3(h.instrument, recs)
        elif h.channel == W.CH_BBO:
            self.bbo[h.instrument] = recs[-1]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), sizes=st.lists(st.integers(1, 60), min_size=5, max_size=40))
def test_feed_rebuilds_the_engine_books(seed: int, sizes: list[int]) -> None:
    eng = Engine(INSTRUMENTS)
    pub = Publisher(INSTRUMENTS)
    bb = BookBuilder([(i.id, i.symbol) for i in INSTRUMENTS])
    sink = Sink(bb)
    pub.sinks.append(sink)
    g = StreamGen(seed)
    for n in sizes * 3:
        pub.on_events(eng.process(g.batch(n)))
        dump = eng.dump()
        for inst in INSTRUMENTS:
            bv = eng.book(inst.id, 10_000)
            bids, asks = bb.book(inst.id)
            assert [tuple(x) for x in bv.bids] == [tuple(r) for r in bids.tolist()]
            assert [tuple(x) for x in bv.asks] == [tuple(r) for r in asks.tolist()]
            d = dump[(dump["instrument"] == inst.id) & (dump["side"] <= 2)]
            want = [
                (int(r["side"]), int(r["price_ticks"]), int(r["order_id"]), int(r["visible_lots"]))
                for r in d
            ]
            assert bb.l3_book(inst.id) == want
            b = sink.bbo.get(inst.id)
            if b is not None:
                top_b = bv.bids[0] if bv.bids else None
                top_a = bv.asks[0] if bv.asks else None
                assert (int(b["bid_ticks"]), int(b["bid_lots"])) == (
                    (top_b.price_ticks, top_b.qty_lots) if top_b else (0, 0)
                )
                assert (int(b["ask_ticks"]), int(b["ask_lots"])) == (
                    (top_a.price_ticks, top_a.qty_lots) if top_a else (0, 0)
                )
    assert bb.l3_unknown == 0
    trades = int(eng.status_table()[:, 1].sum())
    assert sum(v for (ch, _), v in sink.last.items() if ch == W.CH_TRADES) == trades
    assert np.all(pub.seqs >= 0)
