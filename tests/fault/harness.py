"""Crash harness: a venue subprocess under load, killed with SIGKILL at chosen moments,
restarted, and checked against what its clients were told. Used by tests/fault (a dozen kills)
and by ``scripts/soak`` (200 kills): ``python -m tests.fault.harness --kills 200``.

Per cycle: start ``venue run --config C --data-dir D`` (journal files of 64 KiB, a snapshot
every 0.2 s or 1,500 commands: rotations and snapshots are frequent); read the recovery line;
check the recovered state against a clean replay of the whole journal (state hash, live
orders, balances conserved, invariants) and against every acknowledgement any client ever
received (each acknowledged order accepted exactly once, each acknowledged fill present with
its quantity and price, no client order id live twice); then load it with two clients trading
with each other over raw DEALER sockets (pipelined orders and cancels), and SIGKILL it: at a
random moment, while a snapshot is being written (its ``.tmp`` file exists) or right after a
journal rotation (a new file appeared).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq

from gateway import protocol as P

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "venue.toml"
KEYS = {"alice-key": 1, "bob-key": 2}
BTC, PX = 0, 9_000_000  # BTC-USD at 90,000.00
JOURNAL = """
[journal]
fsync = "durable"
rotate_bytes = 65536
snapshot_interval_s = 0.2
snapshot_every_cmds = 1500
snapshots_kept = 2
"""
RECOVERED = re.compile(
    r"recovered (\d+) commands after (?:snapshot seq (\d+)|no snapshot) \(now at seq (\d+)\).*"
    r"state hash ([0-9a-f]+), event hash ([0-9a-f]+)"
)
MODES = ("random", "snapshot", "rotation")


def write_config(d: Path) -> Path:
    """The example configuration with no open-order limit, a random port, data in ``d``."""
    text = EXAMPLE.read_text()
    text = text.replace('bind = "tcp://127.0.0.1:7001"', 'bind = "tcp://127.0.0.1:*"', 1)
    text = text.replace("max_open_orders = 1000", "max_open_orders = 0", 1)
    p = d / "venue.toml"
    p.write_text(text.replace('data_dir = "venue-data"', 'data_dir = "data"', 1) + JOURNAL)
    return p


@dataclass
class Ledger:
    """Everything the clients were told, over every cycle."""

    acked: dict[tuple[int, int], int] = field(default_factory=dict)  # (account, cl) -> oid
    fills: dict[tuple[int, int, int], tuple[int, int]] = field(default_factory=dict)
    next_cl: dict[int, int] = field(default_factory=lambda: dict.fromkeys(KEYS.values(), 1))
    problems: list[str] = field(default_factory=list)

    def report(self, account: int, m: Any) -> None:
        if not isinstance(m, P.ExecutionReport) or m.order_id == 0:
            return
        if m.exec_type == "new":
            key = (account, m.cl_ord_id)
            known = self.acked.setdefault(key, m.order_id)
            if known != m.order_id:
                self.problems.append(f"cl {key} acknowledged as orders {known} and {m.order_id}")
        elif m.exec_type in ("fill", "partial_fill"):
            self.fills[(m.instrument, m.trade_id, m.order_id)] = (m.last_lots, m.last_price_ticks)


class Trader:
    """One account's DEALER session, orders pipelined up to ``window``."""

    def __init__(self, ctx: zmq.Context[Any], endpoint: str, key: str, ledger: Ledger) -> None:
        self.account = KEYS[key]
        self.ledger = ledger
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.codec = P.client_codec()
        self.pending: set[int] = set()  # request ids not answered yet
        self.req = 0
        self.live: list[int] = []
        self.sock.send(self.codec.encode(P.Logon(api_key=key, heartbeat_ms=30_000,
                                                 cancel_on_disconnect=False)))  # fmt: skip
        if not self.sock.poll(10_000):
            raise AssertionError(f"{key}: no logon answer within 10 s")
        ack = self.codec.decode(self.sock.recv())
        assert isinstance(ack, P.LogonAck), ack

    def send_some(self, rng: random.Random, window: int = 40) -> None:
        while len(self.pending) < window:
            self.req += 1
            if self.live and rng.random() < 0.15:
                oid = self.live.pop(rng.randrange(len(self.live)))
                msg: Any = P.Cancel(req=self.req, order_id=oid)
            else:
                cl = self.ledger.next_cl[self.account]
                self.ledger.next_cl[self.account] = cl + 1
                buy = rng.random() < 0.5
                px = PX + rng.randint(-5, 5) * (1 if buy else -1) * 100
                msg = P.NewOrder(
                    req=self.req, cl_ord_id=cl, instrument=BTC, side="buy" if buy else "sell",
                    qty_lots=rng.randint(1, 20), price_ticks=px,
                    tif="ioc" if rng.random() < 0.2 else "gtc",
                )  # fmt: skip
            self.sock.send(self.codec.encode(msg))
            self.pending.add(self.req)

    def receive(self) -> int:
        n = 0
        while True:
            try:
                raw = self.sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return n
            n += 1
            m = self.codec.decode(raw)
            self.ledger.report(self.account, m)
            self.pending.discard(getattr(m, "req", 0))
            new = isinstance(m, P.ExecutionReport) and m.exec_type == "new"
            if new and m.status != "rejected" and m.order_id:
                self.live.append(m.order_id)

    def close(self) -> None:
        self.sock.close(linger=0)

    def ask(self, q: Any, want: type, timeout: float = 10.0) -> Any:
        """A query answered within ``timeout`` (reports arriving meanwhile are recorded)."""
        self.sock.send(self.codec.encode(q))
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.sock.poll(int(max(1, (end - time.monotonic()) * 1000))):
                m = self.codec.decode(self.sock.recv())
                self.ledger.report(self.account, m)
                if isinstance(m, want):
                    return m
        raise AssertionError(f"no {want.__name__} within {timeout} s")


class Venue:
    """The venue subprocess."""

    def __init__(self, config: Path, data: Path) -> None:
        cmd = [sys.executable, "-u", "-m", "venue.cli", "run", "--config", str(config),
               "--data-dir", str(data)]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.out: list[str] = []
        self.endpoint = ""
        self.recovered: re.Match[str] | None = None
        end = time.monotonic() + 60
        assert self.proc.stdout is not None
        while time.monotonic() < end:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("venue exited:\n" + "".join(self.out))
            self.out.append(line)
            m = RECOVERED.search(line)
            if m:
                self.recovered = m
            if "order entry on " in line:
                self.endpoint = line.split("order entry on ")[1].split()[0]
            if "Ctrl-C stops" in line:
                break
        if not self.endpoint or self.recovered is None:
            self.kill()
            raise AssertionError("venue did not start:\n" + "".join(self.out))

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def check_recovery(venue: Venue, config: Path, data: Path, ledger: Ledger) -> dict[str, Any]:
    """The recovered venue against a clean replay of its whole journal and the ledger."""
    import numpy as np

    from journal.recovery import replay_journal
    from matching.records import EV_ACCEPTED, EV_FILL
    from venue.config import load_config

    assert venue.recovered is not None
    _n, _snap, now, state_hash, event_hash = venue.recovered.groups()
    ex = load_config(config).build_exchange()
    acc: list[np.ndarray] = []
    fills: list[np.ndarray] = []

    def keep(ev: np.ndarray) -> None:
        acc.append(ev[ev["kind"] == EV_ACCEPTED][["order_id", "account", "client_order_id"]])
        fills.append(
            ev[ev["kind"] == EV_FILL][
                ["instrument", "trade_id", "order_id", "maker_order_id", "qty_lots", "price_ticks"]
            ]
        )

    eh, n = replay_journal(ex, data, on_events=keep, warn=lambda m: None)
    problems = list(ledger.problems)
    if ex.next_seq - 1 != int(now):
        problems.append(f"recovered to seq {now}, the journal holds seq {ex.next_seq - 1}")
    if ex.state_hash() != state_hash:
        problems.append(f"state hash {state_hash} is not the clean replay's {ex.state_hash()}")
    if eh.hexdigest() != event_hash:
        problems.append(f"event hash {event_hash} is not the clean replay's {eh.hexdigest()}")
    ex.check_invariants()
    for t in ex.totals():
        if t["sum"] != 0:
            problems.append(f"{t['asset']} not conserved: {t}")
    a = np.concatenate(acc) if acc else np.zeros(0)
    ids = a["order_id"].tolist() if len(a) else []
    if len(ids) != len(set(ids)):
        problems.append("an order id was accepted twice")
    by_cl: dict[tuple[int, int], list[int]] = {}
    for oid, acct, cl in a.tolist() if len(a) else []:
        by_cl.setdefault((acct, cl), []).append(oid)
    for key, oid in ledger.acked.items():
        if by_cl.get(key) != [oid]:
            problems.append(f"acknowledged order {oid} {key}: journal has {by_cl.get(key)}")
    f = np.concatenate(fills) if fills else np.zeros(0)
    seen: dict[tuple[int, int, int], tuple[int, int]] = {}
    for inst, tid, oid, moid, q, px in f.tolist() if len(f) else []:
        seen[(inst, tid, oid)] = seen[(inst, tid, moid)] = (q, px)
    for key, qp in ledger.fills.items():
        if seen.get(key) != qp:
            problems.append(f"acknowledged fill {key} {qp}: journal has {seen.get(key)}")
    live = ex.dump()
    return {"commands": n, "problems": problems, "live": live, "ex": ex}


def cycle(
    venue: Venue, ledger: Ledger, rng: random.Random, mode: str, data: Path, max_s: float = 1.5
) -> dict[str, Any]:
    """Load the venue and kill it (``mode``); returns what the kill hit."""
    ctx: zmq.Context[Any] = zmq.Context()
    traders: list[Trader] = []
    try:
        for k in KEYS:
            traders.append(Trader(ctx, venue.endpoint, k, ledger))
        files0 = len(list(data.glob("journal-*.wal")))
        start = time.monotonic()
        random_at = start + rng.uniform(0.05, max_s)
        hit = ""
        while True:
            for t in traders:
                t.send_some(rng)
                t.receive()
            now = time.monotonic()
            if mode == "random" and now >= random_at:
                hit = "random"
            elif mode == "snapshot" and any(data.glob("*.snap.tmp")):
                hit = "snapshot"
            elif mode == "rotation" and len(list(data.glob("journal-*.wal"))) > files0:
                hit = "rotation"
            elif now - start > 4 * max_s:
                hit = "timeout"
            if hit:
                venue.kill()
                break
        tmp_left = bool(list(data.glob("*.snap.tmp")))
        for t in traders:  # what reached the clients before the kill still counts
            t.sock.poll(50)
            t.receive()
        return {"mode": mode, "hit": hit, "tmp_left": tmp_left}
    finally:
        for t in traders:
            t.close()
        ctx.destroy(linger=0)


def check_live_orders(venue: Venue, ledger: Ledger, live: Any) -> list[str]:
    """The restarted venue's open orders per account equal the clean replay's live orders."""
    problems = []
    ctx: zmq.Context[Any] = zmq.Context()
    try:
        for key, acct in KEYS.items():
            t = Trader(ctx, venue.endpoint, key, ledger)
            try:
                reply = t.ask(P.OpenOrders(req=1), P.OpenOrdersReply)
            finally:
                t.close()
            got = sorted(o.order_id for o in reply.orders)
            want = sorted(int(o) for o in live["order_id"][live["account"] == acct])
            if got != want:
                problems.append(
                    f"account {acct}: venue lists {len(got)} orders, replay {len(want)}"
                )
            cls = [o.cl_ord_id for o in reply.orders]
            if len(cls) != len(set(cls)):
                problems.append(f"account {acct}: a client order id is live twice")
    finally:
        ctx.destroy(linger=0)
    return problems


def run(
    root: Path, kills: int, seed: int = 1, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """``kills`` load-kill-restart-check cycles in ``root``; returns a summary (problems: [])."""
    config = write_config(root)
    data = root / "data"
    ledger = Ledger()
    rng = random.Random(seed)
    hits: list[dict[str, Any]] = []
    problems: list[str] = []
    venue = Venue(config, data)
    try:
        for k in range(kills):
            hits.append(cycle(venue, ledger, rng, MODES[k % len(MODES)], data))
            venue = Venue(config, data)
            res = check_recovery(venue, config, data, ledger)
            found = res["problems"] + check_live_orders(venue, ledger, res["live"])
            problems += [f"kill {k + 1} ({hits[-1]}): {p}" for p in found]
            log(f"kill {k + 1}/{kills}: {hits[-1]['hit']:<8} tmp left {hits[-1]['tmp_left']!s:<5} "
                f"{venue.recovered.group(0) if venue.recovered else ''} -> "
                f"{'OK' if not found else f'{len(found)} PROBLEMS'}")  # fmt: skip
            if found:
                break
    finally:
        venue.kill()
    return {
        "kills": len(hits),
        "hits": hits,
        "problems": problems,
        "acked_orders": len(ledger.acked),
        "acked_fills": len(ledger.fills),
    }


def main(argv: list[str] | None = None) -> int:
    import tempfile

    p = argparse.ArgumentParser(prog="scripts/soak", description=__doc__)
    p.add_argument("--kills", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--dir", help="work directory (default: a new temporary one, kept)")
    a = p.parse_args(argv)
    root = Path(a.dir) if a.dir else Path(tempfile.mkdtemp(prefix="openvenue-soak-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"soak: {a.kills} kills in {root}", flush=True)
    t0 = time.monotonic()
    r = run(root, a.kills, a.seed, log=lambda s: print(s, flush=True))
    by = {h: sum(1 for x in r["hits"] if x["hit"] == h) for h in (*MODES, "timeout")}
    tmps = sum(x["tmp_left"] for x in r["hits"])
    dt = time.monotonic() - t0
    print(f"soak: {r['kills']} kills ({by}; a snapshot .tmp left by {tmps}) in {dt:.0f} s; "
          f"{r['acked_orders']} acknowledged orders and {r['acked_fills']} fills checked; "
          f"{len(r['problems'])} problems")  # fmt: skip
    for line in r["problems"]:
        print(f"PROBLEM: {line}")
    return 1 if r["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
