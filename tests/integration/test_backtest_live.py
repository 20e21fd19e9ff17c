"""The backtest's example market maker, unchanged, trading live: through the order-entry
client and the market-data feed against a venue whose background agents make the market."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import zmq

from backtest.live import LiveRunner
from backtest.strategy import Context, OrderUpdate
from gateway.client import Client
from gateway.demo import DEMO_KEYS, demo_exchange
from gateway.server import GatewayConfig, GatewayServer
from marketdata.client import FeedClient
from marketdata.snapshot import attach_feed
from venue.agents.driver import AgentDriver, lively_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "backtest_market_maker.py"


def _market_maker_class() -> Any:
    spec = importlib.util.spec_from_file_location("backtest_market_maker", EXAMPLE)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.MarketMaker


def test_backtest_strategy_runs_live_unchanged() -> None:
    zctx: zmq.Context[Any] = zmq.Context()
    ex = demo_exchange()
    agents = AgentDriver(ex, lively_config(ex.instruments.values(), seed=5))
    agents.fund()
    srv = GatewayServer(ex, GatewayConfig(api_keys=dict(DEMO_KEYS)), zctx)
    agents.attach(srv)
    pub, snap = attach_feed(srv)
    ep = srv.bind("tcp://127.0.0.1:*")
    srv.start()
    seen: list[OrderUpdate] = []
    books = [0]

    class Recording(_market_maker_class()):  # type: ignore[misc]
        def on_book(self, ctx: Context) -> None:
            books[0] += 1
            super().on_book(ctx)

        def on_order_update(self, ctx: Context, update: OrderUpdate) -> None:
            seen.append(update)
            super().on_order_update(ctx, update)

    try:
        with (
            Client.connect(ep, "demo-key-1", context=zctx) as client,
            FeedClient(pub.endpoint, snap.endpoint, symbols=["BTC-PERP"], ctx=zctx) as feed,
        ):
            mm = Recording(size=5, half_spread=20, max_pos=50, tick_round=1)
            runner = LiveRunner(mm, client, feed, "BTC-PERP", params={"size": 5})
            runner.run(seconds=4.0)
            # its quotes stay after the run (the strategy does not cancel them): take them
            # down, then hear every fill that came meanwhile
            client.mass_cancel()
            client.poll(0.3)
            runner._updates()
            position = ex.position(1, 2)  # stable now: the account has no order left
            live = runner.ctx
            assert live.best_bid and live.best_ask and live.best_bid < live.best_ask
            assert live.book(3).bids  # the context reads the feed's book
            assert live.balance("USD") > 0
            for side, qty in (("up", 1), ("buy", 0)):  # refused before anything is sent
                with pytest.raises(ValueError):
                    live.submit(side, qty, 900_000)
    finally:
        srv.stop()
        pub.close()
        snap.close()
        zctx.destroy(linger=0)
    assert books[0] > 5
    kinds = {u.kind for u in seen}
    assert "accepted" in kinds, seen[:5]
    assert all(u.order_id > 0 for u in seen)
    # whatever it traded, its position is clearing's
    assert (
        position
        == live.position
        == sum((u.qty_lots if u.side == 1 else -u.qty_lots) for u in seen if u.kind == "fill")
    )
