"""A backtest on a market-data recording (``venue record``): its L3 channel, replayed through
the engine with a strategy that does nothing, ends with the venue's book."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zmq

from backtest.recorded import recorded_history
from backtest.runner import Backtest, BacktestConfig
from backtest.strategy import Strategy
from marketdata.record import Recorder
from matching.api import make_command
from matching.instruments import Instrument
from matching.records import BUY, CMD_CANCEL, CMD_NEW, GTC, IOC, LIMIT, SELL
from tests.integration.test_marketdata_feed import FeedVenue, sync

INST = Instrument(id=3, symbol="BTC-USD", kind="spot", tick_size=Decimal("0.01"),
                  lot_size=Decimal("0.0001"), base_asset="BTC", quote_asset="USD")  # fmt: skip


def _stream(seed: int, n: int, first_cl: int) -> np.ndarray:
    """Limit orders around 1,000.00 from 3 accounts, cancels of live ones, crossing IOCs."""
    rng = np.random.default_rng(seed)
    live: list[tuple[int, int]] = []
    rows = []
    for k in range(n):
        u = rng.random()
        if live and u < 0.3:
            a, cl = live.pop(int(rng.integers(len(live))))
            rows.append(make_command(CMD_CANCEL, account=a, client_order_id=cl, instrument=3))
            continue
        side = BUY if rng.random() < 0.5 else SELL
        a, cl = int(rng.integers(1, 4)), first_cl + k
        cross = u > 0.85
        off = int(rng.integers(0, 20)) if cross else -int(rng.integers(1, 30))
        px = 100_000 + (off if side == BUY else -off)
        tif = IOC if cross else GTC
        rows.append(make_command(CMD_NEW, account=a, client_order_id=cl, instrument=3,
                                 side=side, order_type=LIMIT, tif=tif, price_ticks=px,
                                 qty_lots=int(rng.integers(1, 50))))  # fmt: skip
        if tif == GTC:
            live.append((a, cl))
    return np.concatenate(rows)


def test_a_recorded_l3_channel_replays_to_the_venues_book(tmp_path: Path) -> None:
    zctx: zmq.Context[Any] = zmq.Context()
    v = FeedVenue(zctx, [INST])
    try:
        v.run(_stream(1, 400, 1))  # resting before the recorder joins: its L3 snapshot
        rec = Recorder(v.feed, v.snap, tmp_path / "rec", ctx=zctx)
        end = time.monotonic() + 10
        while not rec.client.synced():
            assert time.monotonic() < end, "recorder never synced"
            rec.poll(0.02)
        for lo in range(0, 1500, 250):
            v.run(_stream(2 + lo, 250, 10_000 + lo))
            rec.poll(0.01)
        sync(rec.client, v)
        rec.close()
        want = v.call(lambda: v.eng.book(3, 50))
    finally:
        v.close()
        zctx.destroy(linger=0)
    assert len(want.bids) > 10 and len(want.asks) > 10
    hist = recorded_history(tmp_path / "rec", "BTC-USD")
    assert hist.instrument.id == 0 and hist.stats["messages"] > 400
    executions = int((hist.cmds["tif"] == IOC).sum())  # recorded executes -> aggressor IOCs
    assert executions > 20, executions
    bt = Backtest(hist, Strategy(), BacktestConfig())
    bt.run()
    got = bt.ex.book(0, 50)
    assert [(lv.price_ticks, lv.qty_lots) for lv in got.bids] == [
        (lv.price_ticks, lv.qty_lots) for lv in want.bids
    ]
    assert [(lv.price_ticks, lv.qty_lots) for lv in got.asks] == [
        (lv.price_ticks, lv.qty_lots) for lv in want.asks
    ]
    from backtest.sweep import load_history  # what `venue backtest run --data DIR@SYMBOL` uses

    assert load_history(f"{tmp_path / 'rec'}@BTC-USD").cmds.tobytes() == hist.cmds.tobytes()
    with pytest.raises(ValueError, match="no instrument"):
        recorded_history(tmp_path / "rec", "DOGE-USD")


def test_load_history_takes_a_recording(tmp_path: Path) -> None:
    from backtest.sweep import load_history

    with pytest.raises(FileNotFoundError):
        load_history(str(tmp_path / "none@BTC-USD"))
    (tmp_path / "rec").mkdir()
    with pytest.raises(FileNotFoundError, match=r"meta\.json"):
        load_history(f"{tmp_path / 'rec'}@BTC-USD")
