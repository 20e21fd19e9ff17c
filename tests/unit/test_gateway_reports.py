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
