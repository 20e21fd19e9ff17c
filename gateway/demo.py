"""The embedded default venue's demo: three funded accounts and their API keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clearing.exchange import Exchange

if TYPE_CHECKING:
    from gateway.server import GatewayConfig, GatewayServer


DEMO_KEYS = {"demo-key-1": 1, "demo-key-2": 2, "demo-key-3": 3}


def demo_exchange() -> Exchange:
    """The embedded default venue with three funded demo accounts (1, 2, 3)."""
    from venue.defaults import default_instruments

    insts = default_instruments()
    ex = Exchange(insts, keep_ledger=False)
    for a in DEMO_KEYS.values():
        ex.deposit(a, "USD", 10_000_000 * 10**6, a)
        ex.deposit(a, "BTC", 100 * 10**8, 100 + a)
        ex.deposit(a, "ETH", 1_000 * 10**8, 200 + a)
    ex.set_mark(0, insts[0].ref_price_ticks)
    return ex


def demo_venue(config: GatewayConfig | None = None) -> tuple[GatewayServer, dict[str, int]]:
    """A server on the embedded default with the demo keys (not yet bound)."""
    from gateway.server import GatewayConfig, GatewayServer

    cfg = config or GatewayConfig(api_keys=dict(DEMO_KEYS))
    return GatewayServer(demo_exchange(), cfg), dict(cfg.api_keys)
