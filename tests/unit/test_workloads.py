"""The benchmark's workload generators (bench/workloads.py): seeded, stamped, and the streams
they promise (exchange-core's mix naming only live orders, Liquibook's alternating inserts, a
deep book that never trades)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench import engine_bench
from bench import workloads as W
from matching.engine import Engine
from matching.records import (
    BUY,
    CMD_AMEND,
    CMD_CANCEL,
    CMD_NEW,
    COMMAND_DTYPE,
    EV_AMENDED,
    EV_FILL,
    EV_REJECTED,
    EVENT_DTYPE,
    GTC,
    IOC,
    LIMIT,
    SELL,
)

N = 4_000


def run_all(w: W.Workload, batch: int = 1024) -> tuple[Engine, np.ndarray]:
    """Prefill and commands through a fresh Engine.process_into; every event."""
    eng = Engine(w.instruments, capacity=w.capacity)
    out = []
    ev = np.zeros(4096, dtype=EVENT_DTYPE)
    cmds = w.all_commands()
    for s in range(0, len(cmds), batch):
        n, ev = eng.process_into(cmds[s : s + batch], ev)
        out.append(ev[:n].copy())
    return eng, np.concatenate(out)


def assert_stamped(w: W.Workload) -> None:
    cmds = w.all_commands()
    assert cmds.dtype == COMMAND_DTYPE
    assert np.array_equal(cmds["seq"], np.arange(1, len(cmds) + 1))
    assert np.all(np.diff(cmds["ts_ns"]) > 0)


@pytest.fixture(scope="module")
def xcore() -> W.Workload:
    return W.exchange_core(N, seed=7, cache_dir=None)


@pytest.fixture(scope="module")
def xcore_run(xcore: W.Workload) -> tuple[Engine, np.ndarray]:
    return run_all(xcore)


# --- exchange-core ------------------------------------------------------------------------------
def test_exchange_core_is_deterministic(xcore: W.Workload) -> None:
    again = W.exchange_core(N, seed=7, cache_dir=None)
    assert np.array_equal(again.prefill, xcore.prefill)
    assert np.array_equal(again.commands, xcore.commands)
    assert again.properties == xcore.properties
    other = W.exchange_core(N, seed=8, cache_dir=None)
    assert not np.array_equal(other.commands, xcore.commands)


def test_exchange_core_shape(xcore: W.Workload) -> None:
    assert_stamped(xcore)
    assert len(xcore.prefill) == 1000
    assert len(xcore.commands) == N
    assert len(xcore.instruments) == 1
    pre = xcore.prefill
    assert np.all(pre["kind"] == CMD_NEW)
    assert np.all(pre["tif"] == GTC)
    bids = pre["price_ticks"][pre["side"] == BUY]
    asks = pre["price_ticks"][pre["side"] == SELL]
    assert bids.max() < W.EXCHANGE_CORE_CENTER < asks.min()
    # explicit order ids, 1, 2, ... in order of the NEW commands
    new = xcore.all_commands()
    new = new[new["kind"] == CMD_NEW]
    assert np.array_equal(new["order_id"], np.arange(1, len(new) + 1))
    accounts = xcore.all_commands()["account"]
    assert accounts.min() >= 1 and accounts.max() <= 1000


def test_exchange_core_mix(xcore: W.Workload) -> None:
    c = xcore.commands
    new = c["kind"] == CMD_NEW
    assert np.all(c["order_type"][new] == LIMIT)
    gtc = np.mean(new & (c["tif"] == GTC))
    ioc = np.mean(new & (c["tif"] == IOC))
    cancel = np.mean(c["kind"] == CMD_CANCEL)
    move = np.mean(c["kind"] == CMD_AMEND)
    assert gtc + ioc + cancel + move == pytest.approx(1.0)
    assert gtc == pytest.approx(0.09, abs=0.015)
    assert ioc == pytest.approx(0.03, abs=0.01)
    assert cancel == pytest.approx(0.06, abs=0.015)
    assert move == pytest.approx(0.82, abs=0.02)
    moves = c[c["kind"] == CMD_AMEND]
    assert np.all(moves["qty_lots"] == 0) and np.all(moves["price_ticks"] > 0)
    assert xcore.properties["move_fraction"] == pytest.approx(move)


def test_exchange_core_names_only_live_orders(
    xcore: W.Workload, xcore_run: tuple[Engine, np.ndarray]
) -> None:
    eng, ev = xcore_run
    # no reject at all: every cancel and move names a live order of its account
    assert np.count_nonzero(ev["kind"] == EV_REJECTED) == 0
    assert xcore.properties["rejects"] == 0
    # every move changes the price, so it loses priority (AMENDED without EVF_KEPT_PRIORITY)
    amended = ev[ev["kind"] == EV_AMENDED]
    assert len(amended) == np.count_nonzero(xcore.commands["kind"] == CMD_AMEND)
    assert np.all(amended["flags"] == 0)
    eng.check_invariants()


def test_exchange_core_trades_and_book(
    xcore: W.Workload, xcore_run: tuple[Engine, np.ndarray]
) -> None:
    eng, ev = xcore_run
    first = len(xcore.prefill) + 1
    fills = ev[(ev["kind"] == EV_FILL) & (ev["seq"] >= first)]
    trading = len(np.unique(fills["seq"])) / len(xcore.commands)
    assert 0.03 <= trading <= 0.10
    assert trading == pytest.approx(xcore.trade_fraction)  # the generation pass measured the same
    assert 800 <= xcore.mean_resting_orders <= 1200
    assert 550 <= xcore.mean_levels <= 950
    assert 600 <= eng.live_orders() <= 1400
    book = eng.book(0, depth=5000)
    assert 400 <= len(book.bids) + len(book.asks) <= 1100
    assert book.bids[0].price_ticks < book.asks[0].price_ticks


def test_exchange_core_growth_paths_give_the_same_stream(
    xcore: W.Workload, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a tiny engine pool (the Python wrapper grows it) and tiny per-order arrays (regrown
    # between kernel calls) must not change a single command
    monkeypatch.setattr(W, "_generation_capacity", lambda target: 16)
    monkeypatch.setattr(W, "_initial_id_capacity", lambda n_prefill, n: 8)
    grown = W.exchange_core(N, seed=7, cache_dir=None)
    assert np.array_equal(grown.prefill, xcore.prefill)
    assert np.array_equal(grown.commands, xcore.commands)
    assert grown.properties == xcore.properties


def test_exchange_core_cache_round_trip(tmp_path: Path) -> None:
    a = W.exchange_core(500, seed=3, cache_dir=tmp_path)
    assert not a.from_cache
    assert len(list(tmp_path.glob("*.npy"))) == 2
    b = W.exchange_core(500, seed=3, cache_dir=tmp_path)
    assert b.from_cache
    assert b.commands.dtype == COMMAND_DTYPE and b.commands.dtype.isalignedstruct
    assert np.array_equal(a.all_commands(), b.all_commands())
    assert a.properties == b.properties and a.description == b.description
    # a cached stream runs like a generated one (numba types the loaded dtype the same way)
    _eng, ev = run_all(b)
    assert np.count_nonzero(ev["kind"] == EV_REJECTED) == 0


def test_width_matches_the_occupancy_formula() -> None:
    w = W._width(500, 375)
    assert w * (1 - np.exp(-500 / w)) == pytest.approx(375, rel=0.01)


# --- liquibook ----------------------------------------------------------------------------------
def test_liquibook() -> None:
    w = W.liquibook(N, seed=5, cache_dir=None)
    assert np.array_equal(w.commands, W.liquibook(N, seed=5, cache_dir=None).commands)
    assert len(w.prefill) == 0
    assert_stamped(w)
    c = w.commands
    assert np.all(c["kind"] == CMD_NEW) and np.all(c["tif"] == GTC)
    assert np.all(c["order_type"] == LIMIT)
    assert np.all(c["side"][0::2] == BUY) and np.all(c["side"][1::2] == SELL)
    buys, sells = c["price_ticks"][0::2], c["price_ticks"][1::2]
    assert buys.min() >= 1880 and buys.max() <= 1889
    assert sells.min() >= 1884 and sells.max() <= 1893
    assert set(np.unique(buys)) == set(range(1880, 1890))
    q = c["qty_lots"]
    assert set(np.unique(q)) == {100 * k for k in range(1, 11)}
    assert np.array_equal(c["order_id"], np.arange(1, N + 1))
    eng, ev = run_all(w)
    assert np.count_nonzero(ev["kind"] == EV_REJECTED) == 0
    assert 0.2 < w.trade_fraction < 0.8  # prices 1884..1889 cross
    assert 0 < eng.live_orders() <= w.properties["peak_resting_orders"]


# --- deep book ----------------------------------------------------------------------------------
def test_deep_book_rests_every_order_on_exactly_the_levels() -> None:
    n, levels = 20_000, 200
    w = W.deep_book(n, levels, seed=2, cache_dir=None)
    assert np.array_equal(w.commands, W.deep_book(n, levels, seed=2, cache_dir=None).commands)
    assert_stamped(w)
    assert len(w.prefill) == 0 and len(w.commands) == n
    eng, ev = run_all(w)
    assert np.count_nonzero(ev["kind"] == EV_FILL) == 0
    assert np.count_nonzero(ev["kind"] == EV_REJECTED) == 0
    assert eng.live_orders() == n
    book = eng.book(0, depth=levels + 10)
    assert len(book.bids) + len(book.asks) == levels
    assert len(book.bids) == levels // 2
    assert sum(lv.orders for lv in book.bids + book.asks) == n
    assert book.bids[0].price_ticks < book.asks[0].price_ticks
    assert w.trade_fraction == 0.0
    assert w.properties["max_levels"] == levels
    eng.check_invariants()


def test_deep_book_needs_an_order_per_level() -> None:
    with pytest.raises(ValueError):
        W.deep_book(10, 100, cache_dir=None)


# --- the benchmark runs end to end ----------------------------------------------------------------
def test_engine_bench_smoke(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    monkeypatch.setattr(engine_bench, "WORKLOAD_CACHE_DIR", tmp_path)
    parser = argparse.ArgumentParser()
    engine_bench.add_arguments(parser)
    args = parser.parse_args(["--commands", "3000", "--batch", "512", "--json", "--no-write"])
    assert engine_bench.run(args) == 0
    out = capsys.readouterr().out.strip().splitlines()
    r = json.loads(out[-1])
    assert r["workload"] == "exchange-core" and r["commands"] == 3000
    for key in ("cmds_per_s", "p50_ns", "python_api_cmds_per_s", "reference_cmds_per_s"):
        assert r[key] > 0
    assert r["reference_events_identical"] is True
    assert r["bytes_per_order"] is None
    assert "WARNING" not in "\n".join(out)
    args = parser.parse_args(
        ["--workload", "deep-book", "--commands", "20000", "--json", "--no-write"]
    )
    assert engine_bench.run(args) == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert r["trades"] == 0 and r["resting_orders_after"] == 20000
    assert r["bytes_per_order"] is not None and r["python_api_cmds_per_s"] is None
