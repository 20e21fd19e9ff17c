"""Agents inside a live venue: within seconds of the start the books fill and trade, a client's
marketable order fills against the agents' quotes, and clearing's invariants hold after."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import zmq

from gateway import protocol as P
from gateway.admin import AdminClient
from gateway.demo import DEMO_KEYS, demo_exchange
from gateway.server import GatewayConfig, GatewayServer
from tests.integration.test_gateway import Conn
from venue.agents.driver import AgentDriver, lively_config
from venue.live import LiveOptions
from venue.serve import serve


def test_lively_venue_trades_within_seconds_and_clients_trade_with_agents() -> None:
    ex = demo_exchange()
    driver = AgentDriver(ex, lively_config(ex.instruments.values(), seed=3))
    driver.fund()
    ctx: zmq.Context[Any] = zmq.Context()
    srv = GatewayServer(ex, GatewayConfig(api_keys=dict(DEMO_KEYS)), ctx)
    driver.attach(srv)
    ep = srv.bind("tcp://127.0.0.1:*")
    srv.start()
    try:
        c = Conn(ctx, ep)
        c.logon("demo-key-1")
        time.sleep(2.0)  # the agents quote and trade
        # a marketable buy on BTC-PERP (instrument 2) far through the offer fills against them
        c.send(P.NewOrder(req=9, cl_ord_id=9, instrument=2, side="buy", qty_lots=5,
                          price_ticks=960_000, tif="ioc"))  # fmt: skip
        fill = c.until(
            lambda m: getattr(m, "req", 0) == 9 and m.exec_type in ("fill", "partial_fill")
        )
        assert fill.liquidity == "taker" and fill.last_price_ticks < 960_000
        c.close()
    finally:
        srv.stop()
        ctx.destroy(linger=0)
    status = ex.status_table()
    assert all(status[i, 1] > 0 for i in range(4)), status[:4]
    assert driver.commands > 50
    assert ex.position(1, 2) > 0
    ex.check_invariants()


def test_venue_run_lively_with_its_admin_socket(tmp_path: Path, capsys: Any) -> None:
    seen: dict[str, Any] = {}

    def check(srv: GatewayServer) -> None:
        out = capsys.readouterr().out
        found = re.search(r"admin on (\S+)", out)
        assert found, out
        assert "36 background agents" in out
        token = (tmp_path / "admin.token").read_text().strip()
        time.sleep(2.0)
        with AdminClient(found.group(1), token) as adm:
            seen["status"] = adm.status().data
            seen["halt"] = adm.halt("ETH-PERP").ok
        seen["trades"] = [int(srv.ex.status_table()[i, 1]) for i in range(4)]

    live = LiveOptions(market="lively")
    assert serve(bind="tcp://127.0.0.1:*", data_dir=tmp_path, duration=0.2, on_start=check,
                 live=live) == 0  # fmt: skip
    assert seen["halt"] is True
    assert seen["status"]["open_orders"] > 0
    assert all(n > 0 for n in seen["trades"]), seen["trades"]
