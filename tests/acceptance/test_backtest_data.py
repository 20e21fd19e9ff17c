"""Backtests on the shared real data (../shared/data): LOBSTER AAPL order by order, Binance
BTCUSDT depth and trades. Skipped, with a message, when the data is absent."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from backtest import Backtest, BacktestConfig, Strategy, binance_history, lobster_history
from backtest.latency import LogNormal
from backtest.runner import STRATEGY_ACCOUNT
from backtest.sweep import load_history
from matching.engine import Engine
from matching.records import BUY

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
L10 = DATA / "lobster" / "aapl-2012-06-21-level10-first999"
MSG10 = L10 / "AAPL_2012-06-21_34200000_57600000_message_10.csv"
BOOK10 = L10 / "AAPL_2012-06-21_34200000_57600000_orderbook_10.csv"
MSG50 = DATA / "lobster/aapl-2012-06-21-level50-1h/AAPL_2012-06-21_34200000_37800000_message_50.csv"
USDM = DATA / "binance/binance_usdm_btcusdt_20240808.gz"
SPOT = DATA / "binance/binance_spot_btcusdt_20240808.gz"

sys.path.insert(0, str(ROOT / "examples"))
from backtest_market_maker import MarketMaker  # noqa: E402


def need(*paths: Path) -> None:
    for p in paths:
        if not p.exists():
            pytest.skip(f"shared data not found: {p} (see ../shared/data/README.md)")


def test_do_nothing_replays_the_lobster_hour_unchanged() -> None:
    need(MSG50)
    hist = lobster_history(MSG50)
    bt = Backtest(hist, Strategy(), BacktestConfig())
    res = bt.run()
    eng = Engine([hist.instrument])
    eng.process(hist.cmds)
    assert bt.ex.state_hash() == eng.state_hash()
    assert res.metrics["events"] == hist.packets > 89_000


def _mm_lobster(seed: int) -> Backtest:
    hist = lobster_history(MSG10, BOOK10)
    lat = LogNormal(200_000, 0.7, 20_000)
    cfg = BacktestConfig(
        entry_latency=lat, feed_latency=lat, seed=seed, base=Decimal(5_000),
        maker_fee_ppm=-20, taker_fee_ppm=30, sample_ns=100_000_000,
    )  # fmt: skip
    bt = Backtest(hist, MarketMaker(size=100, half_spread=100, skew=0.5), cfg)
    bt.run()
    return bt


def test_market_maker_on_lobster_is_deterministic_and_pnl_reconciles() -> None:
    need(MSG10, BOOK10)
    a, b = _mm_lobster(3), _mm_lobster(3)
    assert a.res.fills_bytes() == b.res.fills_bytes()
    f = a.res.fill_array()
    assert len(f) > 5
    # clearing's balances moved exactly by the fills and their fees
    sgn = np.where(f["side"] == BUY, 1, -1)
    quote0, base0 = a.start_balances["USD"], a.start_balances["AAPL"]
    usd, _ = a.ex.balance(STRATEGY_ACCOUNT, 0)
    aapl, _ = a.ex.balance(STRATEGY_ACCOUNT, 1)
    assert usd - quote0 == int(-(sgn * f["qty_lots"] * f["price_ticks"]).sum() * a.nf) - int(
        f["fee"].sum()
    )
    assert aapl - base0 == int((sgn * f["qty_lots"]).sum()) * a.bf
    # and the reported PnL is those balances marked at the last mid
    m = a.res.metrics
    mid = a.res.series[-1][1]
    marked = (usd - quote0) + (aapl - base0) / a.bf * mid * a.nf
    assert m["pnl"] == pytest.approx(marked * 1e-4, abs=1e-4)
    assert m["maker_share"] + m["taker_share"] == pytest.approx(1.0)


@pytest.mark.parametrize("model", ["conservative", "prob:power:3", "prob:log"])
def test_market_maker_on_binance_usdm(model: str) -> None:
    need(USDM)
    hist = load_history("binance-usdm").head(6_000)  # parsed once per process
    cfg = BacktestConfig(queue_model=model, cash=Decimal(100_000))
    bt = Backtest(hist, MarketMaker(size=10, half_spread=10, skew=0.2, tick_round=1), cfg)
    res = bt.run()
    m = res.metrics
    assert m["fills"] > 0 and m["queue_fills"] > 0
    assert bt.ex.position(STRATEGY_ACCOUNT, 0) == m["final_position_lots"]


def test_outputs_and_html_report(tmp_path: Path) -> None:
    need(SPOT)
    hist = binance_history(SPOT).head(3_000)
    cfg = BacktestConfig(cash=Decimal(100_000), base=Decimal(1), sample_ns=200_000_000)
    bt = Backtest(hist, MarketMaker(size=20_000, half_spread=100, skew=0.0, tick_round=1), cfg)
    res = bt.run()
    paths = res.write(tmp_path / "out")
    assert sorted(p.name for p in paths) == [
        "equity.csv", "fills.csv", "orders.csv", "summary.json",
    ]  # fmt: skip
    assert (tmp_path / "out/fills.csv").read_bytes() == res.fills_bytes()
    html = res.report(tmp_path / "r.html").read_text()
    assert html.count("data:image/png;base64,") == 3


@pytest.mark.parametrize("name", ["binance-usdm", "binance-spot"])
def test_do_nothing_replays_the_binance_depth_unchanged(name: str) -> None:
    need(USDM, SPOT)
    hist = load_history(name).head(8_000)
    bt = Backtest(hist, Strategy(), BacktestConfig())
    bt.run()
    eng = Engine([hist.instrument])
    eng.process(hist.cmds)
    # every synthetic level order was accepted by clearing (funded, within int64)
    assert bt.ex.state_hash() == eng.state_hash()
