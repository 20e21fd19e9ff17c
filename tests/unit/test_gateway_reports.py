"""The gateway's report helpers against their plain definitions."""

from __future__ import annotations

import random
from decimal import Decimal

from gateway.demo import DEMO_KEYS, demo_exchange
from gateway.server import GatewayConfig, GatewayServer


def test_avg_price_equals_the_decimal_division() -> None:
    """``_avg_price`` (a cache for whole-tick averages, a Decimal division otherwise) gives the
    text of tick x notional / cum, normalised, for every instrument of the demo venue."""
    srv = GatewayServer(demo_exchange(), GatewayConfig(api_keys=dict(DEMO_KEYS)))
    try:
        rng = random.Random(5)
        for _ in range(3000):
            iid = rng.choice(sorted(srv._inst))
            tick = srv._inst[iid].tick_size
            cum = rng.randint(1, 50)
            px = rng.randint(1, 10_000_000)
            notional = px * cum if rng.random() < 0.5 else px * cum + rng.randint(1, cum)
            want = format((tick * Decimal(notional) / Decimal(cum)).normalize(), "f")
            assert srv._avg_price(iid, notional, cum) == want
            assert srv._avg_price(iid, notional, cum) == want  # the cached answer too
        assert srv._avg_price(10_000, 100, 1) == ""  # an instrument the venue does not have
    finally:
        srv.stop()


def test_inline_new_order_report_equals_the_state_report() -> None:
    """The accepted-order report is built inline on the hot path; it must be exactly what
    ``_state_report`` builds for the order (limit and stop orders)."""
    import time

    import msgspec
    import zmq

    from gateway import protocol as P

    ctx: zmq.Context = zmq.Context()
    srv = GatewayServer(demo_exchange(), GatewayConfig(api_keys=dict(DEMO_KEYS)), ctx)
    try:
        d = ctx.socket(zmq.DEALER)
        d.connect(srv.bind("tcp://127.0.0.1:*"))
        codec = P.client_codec()
        orders: list[msgspec.Struct] = [
            P.Logon(req=1, api_key="demo-key-1", pack=True),
            P.NewOrder(req=2, cl_ord_id=7, instrument=0, side="buy", qty_lots=3,
                       price_ticks=8_990_000),
            P.NewOrder(req=3, cl_ord_id=8, instrument=0, side="sell", qty_lots=2,
                       type="stop", trigger_ticks=8_980_000),
        ]  # fmt: skip
        d.send(codec.encode_many(orders))
        got: list = []
        end = time.monotonic() + 5
        while len(got) < 3 and time.monotonic() < end:
            srv.step()
            while d.poll(0):
                got += codec.decode_frame(d.recv())
        reports = [m for m in got if isinstance(m, P.ExecutionReport)]
        assert [(r.req, r.exec_type, r.status) for r in reports] == [
            (2, "new", "new"), (3, "new", "pending")
        ]  # fmt: skip
        for r in reports:
            want = srv._state_report(r.order_id, "new", r.req)
            want.seq, want.ts_ns = r.seq, r.ts_ns
            assert msgspec.structs.asdict(r) == msgspec.structs.asdict(want)
        d.close(linger=0)
    finally:
        srv.stop()
        ctx.destroy(linger=0)
