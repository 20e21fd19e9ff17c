"""``venue bench gateway``: what one order-entry message costs the venue, without a load
generator in the way.

Workload: the load test's mix (``gateway.loadtest``: ~45% passive limits within 50 ticks of
90,000.00 on BTC-USD, ~10% crossing orders, ~30% cancels of own resting orders, ~3% amends)
from one DEALER on loopback TCP in the same process. For each shape (messages per wakeup,
packed frames or not) the client queues a wakeup's messages, waits until they are all in the
venue's socket, then the timed part is ``GatewayServer.step()`` calls until they are handled:
receive, decode, throttle, one engine+clearing batch, reports, encode, send. No journal, no
market data (issues #6, #7 measure those). Numba is warmed up first.

Prints a table and writes ``bench/results/gateway.json``: per shape ``us_per_msg`` (p50 /
p99 / p99.9 over wakeups of the per-message cost) and ``msgs_per_s`` (messages / busy time).
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any, Literal, cast

import numpy as np
import zmq

from bench.sysinfo import machine_info, publish
from gateway import protocol as P
from gateway.demo import DEMO_KEYS, demo_exchange
from gateway.server import GatewayConfig, GatewayServer

MID, SPREAD = 9_000_000, 50
SHAPES = ((1, False), (1, True), (16, True), (64, False), (64, True), (256, True))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--messages", type=int, default=20_000, help="messages per shape")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="end with one JSON line")
    p.add_argument("--no-write", action="store_true", help="do not write bench/results")


def mix(n: int, seed: int, base: int) -> list[Any]:
    """``n`` messages of the load test's mix (ids from ``base``)."""
    rng = random.Random(seed)
    live: list[int] = []
    out: list[Any] = []
    for k in range(n):
        rid = base + k
        u = rng.random()
        if live and u < 0.30:
            out.append(P.Cancel(req=rid, cl_ord_id=live.pop(0)))
            continue
        if live and u < 0.33:
            out.append(
                P.Amend(req=rid, cl_ord_id=live[0], price_ticks=MID - rng.randint(1, SPREAD))
            )
            continue
        side: Literal["buy", "sell"] = "buy" if rng.random() < 0.5 else "sell"
        sign = 1 if side == "buy" else -1
        cross = u < 0.43
        tif: Literal["gtc", "ioc"] = "ioc" if cross and rng.random() < 0.5 else "gtc"
        off = rng.randint(0, SPREAD) if cross else -rng.randint(1, SPREAD)
        qty = rng.randint(1, 10)
        out.append(
            P.NewOrder(
                req=rid, cl_ord_id=rid, instrument=0, side=side, qty_lots=qty,
                price_ticks=MID + sign * off, tif=tif,
            )
        )  # fmt: skip
        if tif == "gtc":
            live.append(rid)
    return out


def _shape(per_wakeup: int, pack: bool, n: int, seed: int) -> dict[str, Any]:
    ctx: zmq.Context[Any] = zmq.Context()
    cfg = GatewayConfig(api_keys=dict(DEMO_KEYS), rate_per_s=1e9, burst=10**9)
    srv = GatewayServer(demo_exchange(), cfg, ctx)
    try:
        ep = srv.bind("tcp://127.0.0.1:*")
        d = ctx.socket(zmq.DEALER)
        d.setsockopt(zmq.LINGER, 0)
        d.setsockopt(zmq.SNDHWM, 0)
        d.setsockopt(zmq.RCVHWM, 0)
        d.connect(ep)
        codec = P.client_codec()
        d.send(codec.encode(P.Logon(req=1, api_key="demo-key-1", heartbeat_ms=600_000, pack=pack)))
        while not srv.step():
            time.sleep(0.001)
        msgs = mix(n + 512, seed, 1000)
        warm, msgs = msgs[:512], msgs[512:]
        per_msg: list[float] = []
        busy = 0.0
        for rnd, batch_src in enumerate((warm, msgs)):
            for i in range(0, len(batch_src), per_wakeup):
                chunk = batch_src[i : i + per_wakeup]
                if pack and len(chunk) > 1:
                    d.send(codec.encode_many(chunk))
                else:
                    for m in chunk:
                        d.send(codec.encode(m))
                frames = 1 if pack else len(chunk)
                while not cast(int, srv.sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN:  # all in?
                    pass
                time.sleep(0.0002 if frames > 1 else 0)
                t0 = time.perf_counter()
                done = srv.step()
                while done < len(chunk):
                    done += srv.step()
                dt = time.perf_counter() - t0
                if rnd:
                    per_msg.append(dt / len(chunk))
                    busy += dt
                while d.poll(0):
                    d.recv()
        d.close(linger=0)
        us = np.array(per_msg) * 1e6
        return {
            "per_wakeup": per_wakeup,
            "packed": pack,
            "messages": n,
            "msgs_per_s": round(n / busy),
            "us_per_msg": {
                "p50": round(float(np.percentile(us, 50)), 2),
                "p99": round(float(np.percentile(us, 99)), 2),
                "p999": round(float(np.percentile(us, 99.9)), 2),
            },
        }
    finally:
        srv.stop()
        ctx.destroy(linger=0)


def run(args: argparse.Namespace) -> int:
    rows = [_shape(w, pack, args.messages, args.seed) for w, pack in SHAPES]
    print(f"gateway: venue-side cost per message, {args.messages:,} messages per shape "
          "(load-test mix, loopback TCP, no journal or market data)")  # fmt: skip
    head = ("msgs/wakeup", "packed", "msgs/s", "p50 us", "p99 us", "p99.9 us")
    print("{:>11} {:>7} {:>9} {:>8} {:>8} {:>9}".format(*head))
    for r in rows:
        u = r["us_per_msg"]
        print(f"{r['per_wakeup']:>11} {'yes' if r['packed'] else 'no':>7} {r['msgs_per_s']:>9,} "
              f"{u['p50']:>8} {u['p99']:>8} {u['p999']:>9}")  # fmt: skip
    out = {"name": "gateway", "shapes": rows, "machine": machine_info()}
    publish(out, "gateway", write=not args.no_write, as_json=args.json)
    return 0
