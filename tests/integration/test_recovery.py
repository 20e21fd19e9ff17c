"""``venue run`` recovers across restarts over real sockets: orders and fills survive a clean
stop, the order a client resends with the same client order id is recognised as a duplicate of
the live one after the restart, sequence numbers go on, and the hashes ``venue run`` logs are
reproduced by ``venue replay journal``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import zmq

from gateway import protocol as P
from gateway.server import GatewayServer
from tests.fault.harness import write_config
from venue.cli import main
from venue.serve import serve

T = 3.0


class Conn:
    """A logged-on DEALER whose every receive has a timeout that fails."""

    def __init__(self, ctx: zmq.Context[Any], endpoint: str, key: str) -> None:
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.codec = P.client_codec()
        assert isinstance(self.ask(P.Logon(api_key=key, req=1)), P.LogonAck)

    def ask(self, msg: Any, exec_type: str = "") -> Any:
        """Send and return the first reply answering it (same req; of ``exec_type`` if
        given: an IOC's fill comes after its acceptance)."""
        self.sock.send(self.codec.encode(msg))
        while True:
            if not self.sock.poll(int(T * 1000)):
                raise AssertionError(f"no answer to {msg} within {T} s")
            m = self.codec.decode(self.sock.recv())
            if getattr(m, "req", 0) == msg.req and exec_type in ("", getattr(m, "exec_type", "")):
                return m


def _session(endpoint: str, body: Any) -> Any:
    ctx: zmq.Context[Any] = zmq.Context()
    conns: list[Conn] = []
    try:
        conns = [Conn(ctx, endpoint, "alice-key"), Conn(ctx, endpoint, "bob-key")]
        return body(*conns)
    finally:
        for c in conns:
            c.sock.close(linger=0)
        ctx.destroy(linger=0)


def test_orders_fills_and_duplicates_survive_a_restart(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    data = tmp_path / "data"
    seen: dict[str, Any] = {}

    def first(srv: GatewayServer) -> None:
        def body(alice: Conn, bob: Conn) -> None:
            rest = alice.ask(P.NewOrder(req=2, cl_ord_id=11, instrument=0, side="buy",
                                        qty_lots=10, price_ticks=8_900_000))  # fmt: skip
            alice.ask(P.NewOrder(req=3, cl_ord_id=12, instrument=0, side="sell", qty_lots=5,
                                 price_ticks=9_100_000))  # fmt: skip
            ioc = P.NewOrder(req=4, cl_ord_id=1, instrument=0, side="sell", qty_lots=4,
                             price_ticks=8_900_000, tif="ioc")  # fmt: skip
            fill = bob.ask(ioc, "fill")
            assert rest.exec_type == "new" and fill.exec_type == "fill"
            seen["rest"], seen["seq"] = rest.order_id, fill.seq
            seen["open"] = alice.ask(P.OpenOrders(req=5)).orders
            seen["usd"] = alice.ask(P.Balances(req=6)).balances

        _session(srv.endpoint, body)

    assert serve(config=cfg, data_dir=data, duration=0.01, on_start=first) == 0

    def second(srv: GatewayServer) -> None:
        def body(alice: Conn, bob: Conn) -> None:
            assert alice.ask(P.OpenOrders(req=5)).orders == seen["open"]
            assert alice.ask(P.Balances(req=6)).balances == seen["usd"]
            st = alice.ask(P.OrderStatus(req=7, order_id=seen["rest"])).order
            assert st.leaves_lots == 6  # 10 - the 4 bob took before the restart
            dup = alice.ask(P.NewOrder(req=8, cl_ord_id=11, instrument=0, side="buy",
                                       qty_lots=10, price_ticks=8_900_000))  # fmt: skip
            assert dup.duplicate and dup.order_id == seen["rest"] and dup.cum_lots == 4
            ioc = P.NewOrder(req=9, cl_ord_id=2, instrument=0, side="sell", qty_lots=6,
                             price_ticks=8_900_000, tif="ioc")  # fmt: skip
            more = bob.ask(ioc, "fill")
            assert more.exec_type == "fill" and more.seq > seen["seq"]
            st = alice.ask(P.OrderStatus(req=10, order_id=seen["rest"])).order
            assert st is None  # filled: 4 before the restart, 6 after

        _session(srv.endpoint, body)

    assert serve(config=cfg, data_dir=data, duration=0.01, on_start=second) == 0


def test_venue_run_prints_recovery_and_replay_reproduces_its_hashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path)
    data = tmp_path / "data"

    def trade(srv: GatewayServer) -> None:
        def body(alice: Conn, bob: Conn) -> None:
            for k in range(20):
                alice.ask(P.NewOrder(req=100 + k, cl_ord_id=100 + k, instrument=0,
                                     side="buy" if k % 2 else "sell", qty_lots=3,
                                     price_ticks=9_000_000 + (k % 3) * 100))  # fmt: skip

        _session(srv.endpoint, body)

    assert serve(config=cfg, data_dir=data, duration=0.01, on_start=trade) == 0
    out = capsys.readouterr().out
    assert "recovered 0 commands after no snapshot" in out
    stop_line = next(ln for ln in out.splitlines() if "openvenue: stopped" in ln)
    assert main(["run", "--config", str(cfg), "--data-dir", str(data), "--duration", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "recovered 0 commands after snapshot seq" in out  # the shutdown snapshot
    state = stop_line.split("state_hash=")[1].split()[0]
    assert f"state hash {state}" in out
    assert main(["replay", "journal", str(data), "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "logged hashes reproduced" in out and state in out
    assert main(["journal", "verify", str(data)]) == 0


def test_embedded_default_journals_to_its_data_dir(tmp_path: Path) -> None:
    assert serve(bind="tcp://127.0.0.1:*", data_dir=tmp_path, duration=0.01) == 0
    assert list(tmp_path.glob("journal-*.wal")) and (tmp_path / "hashes.log").exists()
    # a journal written by the embedded default is refused by another configuration
    assert main(["run", "--config", str(write_config(tmp_path)), "--data-dir", str(tmp_path),
                 "--duration", "0.2"]) == 2  # fmt: skip
