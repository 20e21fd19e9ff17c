"""``venue backtest run`` / ``sweep`` end to end on a small LOBSTER file, the latency
models, and sweeps on Ray (skipped when Ray is not installed)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from backtest.latency import (
    Constant,
    LogNormal,
    Recorded,
    Uniform,
    parse_duration,
    parse_latency,
)
from backtest.sweep import RunSpec, sweep
from venue.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_backtest_l3 import write_messages
from test_backtest_numba import _book_rows

MM = str(Path(__file__).resolve().parents[2] / "examples/backtest_market_maker.py")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_messages(tmp_path, _book_rows())


def test_run_writes_tables_report_and_json(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    rc = main(
        ["backtest", "run", "--data", str(data), "--strategy", f"{MM}:MarketMaker",
         "--param", "half_spread=10", "--param", "tick_round=1", "--param", "size=10",
         "--base", "1000", "--entry-latency", "1ms", "--feed-latency", "lognormal:1ms:0.5",
         "--seed", "3", "--out", str(out), "--report", str(tmp_path / "r.html"), "--json",
         "--no-progress"]
    )  # fmt: skip
    assert rc == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["fills"] > 0 and metrics["mode"] == "l3"
    with open(out / "fills.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == metrics["fills"]
    assert "data:image/png;base64," in (tmp_path / "r.html").read_text()


def test_run_reports_bad_input_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backtest", "run", "--data", str(tmp_path / "none.csv")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["backtest", "run", "--data", "x.csv", "--entry-latency", "soon"]) == 2


def test_sweep_runs_the_grid_in_processes(data: Path, tmp_path: Path) -> None:
    table = tmp_path / "sweep.csv"
    rc = main(
        ["backtest", "sweep", "--data", str(data), "--strategy", f"{MM}:MarketMaker",
         "--param", "tick_round=1", "--param", "size=10", "--base", "1000",
         "--grid", "half_spread=10,30", "--grid", "skew=0,1", "--workers", "2",
         "--out", str(table)]
    )  # fmt: skip
    assert rc == 0
    with open(table) as f:
        rows = list(csv.DictReader(f))
    assert [(r["half_spread"], r["skew"]) for r in rows] == [
        ("10", "0"), ("10", "1"), ("30", "0"), ("30", "1"),
    ]  # fmt: skip
    # the same point run alone gives the same result: processes change nothing
    one = sweep(
        RunSpec(data=str(data), strategy=f"{MM}:MarketMaker", base="1000",
                params=(("size", 10), ("tick_round", 1))),
        {"half_spread": [10], "skew": [0]}, workers=1,
    )  # fmt: skip
    assert float(rows[0]["pnl"]) == pytest.approx(one[0]["pnl"])


def test_sweep_on_ray(data: Path) -> None:
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")
    rows = sweep(
        RunSpec(data=str(data), strategy=f"{MM}:MarketMaker", base="1000",
                params=(("size", 10), ("tick_round", 1))),
        {"half_spread": [10, 30]}, ray_address="local",
    )  # fmt: skip
    assert [r["half_spread"] for r in rows] == [10, 30]


def test_latency_models(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    t = np.arange(5, dtype=np.int64) * 1000
    assert parse_duration("1.5ms") == 1_500_000 and parse_duration("250") == 250
    assert parse_latency("50us") == Constant(50_000)
    u = parse_latency("uniform:10us:20us")
    assert isinstance(u, Uniform) and u.floor_ns == 10_000
    d = u.sample(t, rng)
    assert ((d >= 10_000) & (d <= 20_000)).all()
    ln = parse_latency("lognormal:40us:0.5:10us")
    assert isinstance(ln, LogNormal) and (ln.sample(t, rng) >= 10_000).all()
    f = tmp_path / "lat.csv"
    f.write_text("ts_ns,latency_ns\n0,100\n2500,300\n")
    rec = parse_latency(f"file:{f}")
    assert isinstance(rec, Recorded) and rec.floor_ns == 100
    assert rec.sample(t, rng).tolist() == [100, 100, 100, 300, 300]
    with pytest.raises(ValueError, match="latency"):
        parse_latency("gamma:1:2")
    with pytest.raises(ValueError, match="negative"):
        Constant(-1)


def test_parquet_output(data: Path, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is not installed")
    from backtest.sweep import run_spec

    bt = run_spec(
        RunSpec(data=str(data), strategy=f"{MM}:MarketMaker", base="1000",
                params=(("size", 10), ("tick_round", 1), ("half_spread", 10)))
    )  # fmt: skip
    paths = bt.res.write(tmp_path / "pq", "parquet")
    fills = pq.read_table(tmp_path / "pq/fills.parquet").to_pydict()
    assert len(fills["qty_lots"]) == bt.res.metrics["fills"] > 0
    assert sorted(p.name for p in paths)[0] == "equity.parquet"
