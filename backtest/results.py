"""What a backtest produced: fills, orders, an equity and inventory series, summary metrics.

Money is kept in the quote (settlement) asset's smallest units (ints) and converted to
Decimal / float only here, at the edge. PnL is mark-to-market against the mid the strategy
saw: ``pnl = cash flows of the fills - fees + inventory x mid``; inventory counts only what
the strategy traded (a spot account's starting base is capital, not PnL). Metrics:

- ``pnl``, ``return`` (pnl / starting capital at the first mid), ``fees`` (rebates negative);
- ``sharpe``: mean / standard deviation of the equity changes per sample period, times the
  square root of the number of samples (a per-run figure, not annualised);
- ``max_drawdown`` (quote units and fraction of the peak equity);
- ``turnover`` (traded notional) and ``turnover_x`` (turnover / capital);
- ``fill_ratio`` (lots filled / lots ordered), ``maker_share`` and ``taker_share`` (of lots);
- ``slippage_ticks``: lot-weighted mean of side x (fill price - mid when the order was sent),
  positive when paid; ``slippage`` the same in quote units, summed.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from backtest.strategy import OrderUpdate
from matching.records import BUY, CMD_NAMES

if TYPE_CHECKING:
    from backtest.runner import Backtest

FILL_FIELDS = (
    "ts_ns", "order_id", "side", "price_ticks", "qty_lots", "liquidity", "fee", "trade_id",
    "leaves_lots", "decision_mid_ticks",
)  # fmt: skip
ORDER_FIELDS = (
    "sent_ns", "arrival_ns", "command", "order_id", "side", "price_ticks", "qty_lots",
    "decision_mid_ticks",
)  # fmt: skip
SERIES_FIELDS = ("ts_ns", "mid_ticks", "position_lots", "pnl", "equity")


class Results:
    """Filled in by the ``Backtest`` while it runs; ``metrics`` after ``finish``."""

    def __init__(self, bt: Backtest) -> None:
        self.bt = bt
        self.fills: list[tuple[Any, ...]] = []
        self.orders: list[tuple[Any, ...]] = []
        self.series: list[tuple[int, float, int, float, float]] = []
        self.counters: dict[str, int] = defaultdict(int)
        self.metrics: dict[str, Any] = {}
        self.wall_s = 0.0
        self._next_sample = 0
        self._cash = 0  # ticks x lots of the delivered fills (sell +, buy -)
        self._fees = 0  # units
        self._pos = 0
        self._capital = 0.0
        self._start_mid = 0.0

    # --- recording (called by the Backtest) -------------------------------------------------
    def start(self, t_ns: int) -> None:
        self._next_sample = t_ns

    def command(self, sent: int, arrival: int, cmd: tuple[int, ...], mid: float) -> None:
        """cmd: (kind, order id, side, price, qty, ...) as the Backtest queues it."""
        self.orders.append((sent, arrival, CMD_NAMES[cmd[0]], cmd[1], cmd[2], cmd[3], cmd[4], mid))

    def fill(self, ts: int, oid: int, side: int, price: int, qty: int, liq: str, fee: int,
             trade_id: int, leaves: int, mid: float) -> None:  # fmt: skip
        self.fills.append((ts, oid, side, price, qty, liq, fee, trade_id, leaves, mid))

    def update(self, up: OrderUpdate) -> None:
        if up.kind == "fill":
            sgn = 1 if up.side == BUY else -1
            self._cash -= sgn * up.qty_lots * up.price_ticks
            self._pos += sgn * up.qty_lots
            self._fees += up.fee

    def _pnl(self, mid: float) -> float:
        bt = self.bt
        return (self._cash + self._pos * mid) * bt.nf - self._fees

    def sample(self, t_ns: int, row: int) -> None:
        """Equity / inventory sample at strategy time ``t_ns`` once per sample period."""
        if t_ns < self._next_sample:
            return
        b, a = int(self.bt.top[0, row, 0]), int(self.bt.top[2, row, 0])
        if not (b and a):
            return
        mid = (b + a) / 2
        if not self.series:
            self._start_mid = mid
            bt = self.bt
            q = bt.start_balances.get(bt.quote, 0)
            base_lots = bt.start_balances.get(bt.base_code, 0) / max(bt.bf, 1)
            self._capital = q + base_lots * mid * bt.nf
        pnl = self._pnl(mid)
        self.series.append((t_ns, mid, self._pos, pnl, self._capital + pnl))
        period = max(self.bt.config.sample_ns, 1)
        self._next_sample = t_ns - (t_ns - self._next_sample) % period + period

    # --- summary -----------------------------------------------------------------------------
    def finish(self) -> Results:
        bt = self.bt
        unit = bt.assets[0].unit
        m: dict[str, Any] = {"mode": bt.history.mode, "source": bt.history.source}
        m["events"] = bt.history.packets
        m["wall_s"] = round(self.wall_s, 3)
        m["events_per_s"] = round(bt.history.packets / self.wall_s) if self.wall_s > 0 else 0
        last_mid = self.series[-1][1] if self.series else 0.0
        pnl = self._pnl(last_mid)
        cap = self._capital or 1.0
        m["quote_asset"] = bt.quote
        m["capital"] = float(Decimal(int(self._capital)) * unit)
        m["pnl"] = float(Decimal(round(pnl)) * unit)
        m["return"] = pnl / cap
        eq = np.array([s[4] for s in self.series], dtype=np.float64)
        d = np.diff(eq)
        sd = float(d.std()) if len(d) > 1 else 0.0
        m["sharpe"] = float(d.mean() / sd * math.sqrt(len(d))) if sd > 0 else 0.0
        if len(eq):
            peak = np.maximum.accumulate(eq)
            dd = peak - eq
            k = int(np.argmax(dd))
            m["max_drawdown"] = float(dd[k]) * float(unit)
            m["max_drawdown_frac"] = float(dd[k] / peak[k]) if peak[k] > 0 else 0.0
        else:
            m["max_drawdown"] = m["max_drawdown_frac"] = 0.0
        f = self.fill_array()
        qty = f["qty_lots"]
        notional = float((qty * f["price_ticks"]).sum()) * bt.nf
        m["fills"] = len(f)
        m["filled_lots"] = int(qty.sum())
        m["turnover"] = notional * float(unit)
        m["turnover_x"] = notional / cap
        ordered = sum(o[6] for o in self.orders if o[2] == "new")
        m["orders"] = sum(1 for o in self.orders if o[2] == "new")
        m["cancels"] = sum(1 for o in self.orders if o[2] == "cancel")
        m["fill_ratio"] = float(qty.sum() / ordered) if ordered else 0.0
        maker = int(qty[f["liquidity"] == "maker"].sum())
        m["maker_share"] = maker / int(qty.sum()) if len(f) else 0.0
        m["taker_share"] = 1.0 - m["maker_share"] if len(f) else 0.0
        m["fees"] = float(Decimal(int(f["fee"].sum())) * unit)
        sgn = np.where(f["side"] == BUY, 1.0, -1.0)
        has_mid = f["decision_mid_ticks"] > 0
        slip = sgn * (f["price_ticks"] - f["decision_mid_ticks"]) * qty
        w = float(qty[has_mid].sum())
        m["slippage_ticks"] = float(slip[has_mid].sum() / w) if w else 0.0
        m["slippage"] = float(slip[has_mid].sum()) * bt.nf * float(unit)
        m["final_position_lots"] = self._pos
        m.update({k: int(v) for k, v in sorted(self.counters.items())})
        self.metrics = m
        return self

    # --- tables ------------------------------------------------------------------------------
    def fill_array(self) -> np.ndarray:
        dt = np.dtype(
            [("ts_ns", "i8"), ("order_id", "i8"), ("side", "i8"), ("price_ticks", "i8"),
             ("qty_lots", "i8"), ("liquidity", "U5"), ("fee", "i8"), ("trade_id", "i8"),
             ("leaves_lots", "i8"), ("decision_mid_ticks", "f8")]
        )  # fmt: skip
        return np.array(self.fills, dtype=dt) if self.fills else np.zeros(0, dtype=dt)

    def fills_bytes(self) -> bytes:
        """The fills as CSV bytes: what determinism is checked on."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(FILL_FIELDS)
        w.writerows(self.fills)
        return buf.getvalue().encode()

    def write(self, out_dir: str | Path, fmt: str = "csv") -> list[Path]:
        """fills, orders, equity (csv or parquet) and summary.json into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        tables = {"fills": (FILL_FIELDS, self.fills), "orders": (ORDER_FIELDS, self.orders),
                  "equity": (SERIES_FIELDS, self.series)}  # fmt: skip
        paths = []
        for name, (cols, rows) in tables.items():
            if fmt == "parquet":
                try:
                    import pyarrow as pa
                    import pyarrow.parquet as pq
                except ImportError:
                    raise ValueError(
                        "parquet output needs pyarrow: pip install -e '.[parquet]'"
                    ) from None
                data = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
                path = out / f"{name}.parquet"
                pq.write_table(pa.table(data), path)
            elif fmt == "csv":
                path = out / f"{name}.csv"
                with open(path, "w", newline="") as fh:
                    w = csv.writer(fh, lineterminator="\n")
                    w.writerow(cols)
                    w.writerows(rows)
            else:
                raise ValueError(f"output format must be csv or parquet, not {fmt!r}")
            paths.append(path)
        path = out / "summary.json"
        path.write_text(json.dumps(self.metrics, indent=2, sort_keys=True) + "\n")
        paths.append(path)
        return paths

    def summary(self) -> str:
        m = self.metrics
        q = m.get("quote_asset", "")
        return "\n".join(
            [
                f"backtest ({m['mode']}) of {m['source']}: {m['events']:,} events in "
                f"{m['wall_s']} s ({m['events_per_s']:,} events/s)",
                f"  pnl {m['pnl']:,.4f} {q} (return {m['return']:.4%}), fees {m['fees']:,.4f}, "
                f"sharpe {m['sharpe']:.2f}, max drawdown {m['max_drawdown']:,.4f} "
                f"({m['max_drawdown_frac']:.2%})",
                f"  {m['orders']} orders, {m['cancels']} cancels, {m['fills']} fills "
                f"({m['filled_lots']} lots, fill ratio {m['fill_ratio']:.2%}, maker "
                f"{m['maker_share']:.0%} / taker {m['taker_share']:.0%}), turnover "
                f"{m['turnover']:,.2f} {q}, slippage {m['slippage_ticks']:.2f} ticks vs "
                "arrival mid",
                f"  final position {m['final_position_lots']} lots"
                + "".join(
                    f", {k} {m[k]}"
                    for k in ("consumed_executions", "consumed_lots", "queue_fills")
                    if k in m
                ),
            ]
        )

    def report(self, path: str | Path) -> Path:
        """An HTML page with the summary and three plots (equity, inventory, fills on price)
        drawn by matplotlib and embedded as PNG. O(samples + fills)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        s = np.array(self.series, dtype=np.float64).reshape(-1, 5)
        t = (s[:, 0] - s[0, 0]) / 1e9 if len(s) else s[:, 0]
        f = self.fill_array()
        imgs = []
        fig, ax = plt.subplots(figsize=(9, 3))
        ax.plot(t, s[:, 4] * float(self.bt.assets[0].unit))
        ax.set_title(f"equity ({self.bt.quote})")
        ax.set_xlabel("s")
        imgs.append(_png(fig))
        fig, ax = plt.subplots(figsize=(9, 3))
        ax.step(t, s[:, 2], where="post")
        ax.set_title("inventory (lots)")
        ax.set_xlabel("s")
        imgs.append(_png(fig))
        fig, ax = plt.subplots(figsize=(9, 4))
        ax.plot(t, s[:, 1], lw=0.7, color="grey", label="mid")
        t0 = s[0, 0] if len(s) else 0
        for side, color, name in ((BUY, "tab:green", "buy"), (2, "tab:red", "sell")):
            sel = f[f["side"] == side]
            ax.scatter((sel["ts_ns"] - t0) / 1e9, sel["price_ticks"], s=8, c=color, label=name)
        ax.set_title("fills on price (ticks)")
        ax.legend()
        imgs.append(_png(fig))
        plt.close("all")
        rows = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in self.metrics.items())
        body = "".join(f'<img src="data:image/png;base64,{i}"><br>' for i in imgs)
        html = (
            "<!doctype html><html><head><meta charset='utf-8'><title>backtest report</title>"
            "</head><body><h1>backtest report</h1>"
            f"<pre>{self.summary()}</pre><table>{rows}</table>{body}</body></html>"
        )
        p = Path(path)
        p.write_text(html)
        return p


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=80)
    return base64.b64encode(buf.getvalue()).decode()
