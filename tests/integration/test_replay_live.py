"""Historical order flow in a live venue (``venue run --replay-l3``): with no client trading the
venue's book becomes the historical book; a client's better-priced order takes the fill an
historical execution aimed at the head of the queue."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import zmq

from gateway import protocol as P
from gateway.demo import DEMO_KEYS
from gateway.server import GatewayConfig, GatewayServer
from marketdata.history.lobster import read_messages, read_orderbook
from tests.integration.test_gateway import Conn
from venue.cli import main
from venue.replay_live import HistorySource, load, replay_exchange

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "lobster"
SAMPLE = DATA / "aapl-2012-06-21-level10-first999"
MESSAGES = SAMPLE / "AAPL_2012-06-21_34200000_57600000_message_10.csv"
BOOK = SAMPLE / "AAPL_2012-06-21_34200000_57600000_orderbook_10.csv"

pytestmark = pytest.mark.skipif(
    not MESSAGES.exists(), reason=f"LOBSTER sample missing: {MESSAGES} (../shared/data)"
)


def _serve(speed: float) -> tuple[GatewayServer, HistorySource, Any, zmq.Context[Any], str]:
    history = load(MESSAGES, BOOK)
    ex, inst = replay_exchange(history)
    ctx: zmq.Context[Any] = zmq.Context()
    srv = GatewayServer(ex, GatewayConfig(api_keys=dict(DEMO_KEYS)), ctx)
    src = HistorySource(history, inst.id, speed=speed)
    srv.sources.append(src.tick)
    ep = srv.bind("tcp://127.0.0.1:*")
    return srv, src, inst, ctx, ep


def test_replayed_flow_rebuilds_the_historical_book() -> None:
    srv, src, inst, ctx, _ep = _serve(speed=1e9)
    srv.start()
    try:
        end = time.monotonic() + 20
        while not src.done and time.monotonic() < end:
            time.sleep(0.05)
        time.sleep(0.1)
    finally:
        srv.stop()
        ctx.destroy(linger=0)
    assert src.done
    last = read_orderbook(BOOK)[-1]
    book = srv.ex.book(inst.id, 5)
    for k in range(5):  # a LOBSTER row per level: ask price, ask size, bid price, bid size
        ap, asz, bp, bsz = (int(x) for x in last[k])
        assert (book.asks[k].price_ticks, book.asks[k].qty_lots) == (ap, asz)
        assert (book.bids[k].price_ticks, book.bids[k].qty_lots) == (bp, bsz)
    srv.ex.check_invariants()


def test_a_client_order_takes_a_historical_execution() -> None:
    srv, _src, inst, ctx, ep = _serve(speed=0.25)  # the first buy execution ~1.1 s in
    msgs = read_messages(MESSAGES)
    # the first execution of a resting sell (LOBSTER type 4, direction -1): a buyer took it
    first = int(((msgs["type"] == 4) & (msgs["direction"] == -1)).argmax())
    price = int(msgs["price"][first]) - 1  # one tick better than the order history filled
    srv.start()
    try:
        c = Conn(ctx, ep)
        c.logon("demo-key-1")
        c.send(P.NewOrder(req=1, cl_ord_id=1, instrument=inst.id, side="sell", qty_lots=500,
                          price_ticks=price))  # fmt: skip
        assert c.until(lambda m: getattr(m, "req", 0) == 1).exec_type == "new"
        fill = c.until(lambda m: getattr(m, "exec_type", "") in ("fill", "partial_fill"), 6.0)
        assert fill.liquidity == "maker" and fill.last_price_ticks == price
        c.close()
    finally:
        srv.stop()
        ctx.destroy(linger=0)
    srv.ex.check_invariants()


def test_venue_run_replay_l3_command_line(capsys: Any) -> None:
    args = ["run", "--replay-l3", str(MESSAGES), "--replay-orderbook", str(BOOK), "--speed",
            "1000", "--duration", "1", "--bind", "tcp://127.0.0.1:*", "--no-admin"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "replaying 1,034 historical commands of AAPL (instrument 10)" in out
    assert "admin on" not in out
    assert main(["run", "--replay-l3", str(MESSAGES), "--speed", "0", "--duration", "1"]) == 2
    assert "--speed must be above zero" in capsys.readouterr().err
    assert main(["run", "--replay-l3", "/nonexistent.csv", "--duration", "1"]) == 2
    assert "--replay-l3 /nonexistent.csv" in capsys.readouterr().err
