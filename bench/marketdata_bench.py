"""``venue bench marketdata``: the feed's throughput and latency, publisher and subscriber in two
processes on this machine (loopback TCP).

Workload: exchange-core's mix (``bench.workloads.exchange_core``: one instrument, ~1,000 resting
orders on ~750 levels, 82% moves) run through the engine once, untimed, in batches of
``--batch`` commands; the timed part is the publisher (``Publisher.on_events``: every channel
derived, one packet per topic per batch, sent) and a subscriber process applying the ``l2``
packets to a ``BookBuilder`` through ``FeedCore`` (sequence checks included).

- throughput: all batches back to back; level updates per second from the first send to the
  subscriber having applied the last update (so a lagging subscriber counts);
- latency: ``--rate`` level updates per second, paced in small batches (one command each);
  per packet, from just before the engine processes the batch's commands (the "engine event")
  to the subscriber's callback time, on the same clock (CLOCK_REALTIME): p50 / p99 / p99.9.

Writes ``bench/results/marketdata.json`` (keys ``updates_per_s``, ``p50_us``, ``p99_us``, ...).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import zmq

from bench import sysinfo
from bench.sysinfo import publish

TARGET_UPDATES = 1_000_000
TARGET_P50_US = 100.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--commands", type=int, default=600_000, metavar="N",
                        help="exchange-core commands for the throughput run (600,000)")  # fmt: skip
    parser.add_argument("--batch", type=int, default=256, metavar="B",
                        help="commands per engine batch, throughput run (256)")  # fmt: skip
    parser.add_argument("--rate", type=int, default=10_000, metavar="U",
                        help="level updates per second in the latency run (10,000)")  # fmt: skip
    parser.add_argument("--latency-seconds", type=float, default=5.0, metavar="S")
    parser.add_argument("--repeat", type=int, default=3, metavar="R",
                        help="throughput runs, a fresh pair each: best and median")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _subscriber(endpoint: str, infos: list[tuple[int, str]], expect: int, conn: Any) -> None:
    """Child process: SUB to l2, apply to a BookBuilder via FeedCore; report timings."""
    from marketdata import wire as W
    from marketdata.client import FeedCore

    infos_w = [W.InstrumentInfo(i, s, "", "") for i, s in infos]
    warm = FeedCore(infos_w, ["l2"])  # load the cached kernels before the clock runs
    warm.builder.apply_l2(infos[0][0], np.zeros(1, dtype=W.L2_DTYPE))
    warm.builder.book(infos[0][0])
    core = FeedCore(infos_w, ["l2"])
    core.assume_empty()
    ctx: zmq.Context[Any] = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.setsockopt(zmq.LINGER, 0)
    for t in core.topics():
        sub.setsockopt(zmq.SUBSCRIBE, t)
    sub.connect(endpoint)
    conn.send("ready")
    n = 0
    marks: list[tuple[int, int, int]] = []  # (packet_seq, send ns, callback ns)
    last_ns = 0
    idle_since = time.monotonic()
    while n < expect:
        # busy-poll, as latency-sensitive feed handlers do: a blocked thread's wake-up costs
        # tens of microseconds on this VM; after 10 ms of silence, block (with a deadline)
        try:
            frames = sub.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            if time.monotonic() - idle_since > 0.01:
                if not sub.poll(10_000, zmq.POLLIN):
                    break
                idle_since = time.monotonic()
            continue
        idle_since = time.monotonic()
        ups = core.on_packet(frames)
        last_ns = time.time_ns()
        for u in ups:
            n += len(u.records)
        if ups:
            h = W.HEADER_DECODER.decode(frames[1])
            marks.append((h.packet_seq, h.send_ns, last_ns))
    bids, asks = core.builder.book(infos[0][0])
    conn.send((n, last_ns, marks, len(core.gaps), bids.tolist(), asks.tolist()))
    sub.close(linger=0)
    ctx.destroy(linger=0)


def _events(w: Any, batch: int) -> tuple[list[np.ndarray], list[np.ndarray], Any]:
    from matching.engine import Engine

    eng = Engine(list(w.instruments), capacity=w.capacity)
    cmds = w.commands
    batches, evs = [w.prefill], [eng.process(w.prefill)]
    for lo in range(0, len(cmds), batch):
        c = cmds[lo : lo + batch]
        batches.append(c)
        evs.append(eng.process(c))
    return batches, evs, eng


def _run_pair(
    w: Any, evs: list[np.ndarray], batches: list[np.ndarray], paced: float
) -> dict[str, Any]:
    """Publisher here, subscriber in a child; batch 0 is the prefill. ``paced`` > 0: seconds
    between batches, and the engine runs in the timed path (latency mode)."""
    from marketdata.feed import Publisher
    from matching.engine import Engine
    from matching.records import EV_LEVEL

    Publisher(w.instruments).on_events(evs[0])  # load the cached kernels (untimed)
    pub = Publisher(w.instruments, hwm=0)
    ep = pub.bind("tcp://127.0.0.1:*")
    expect = sum(int((e["kind"] == EV_LEVEL).sum()) for e in evs)
    infos = [(i.id, i.symbol) for i in w.instruments]
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_subscriber, args=(ep, infos, expect, child), daemon=True)
    proc.start()
    try:
        if not parent.poll(120):
            raise RuntimeError("subscriber did not start")
        parent.recv()
        assert pub.sock is not None
        if not pub.sock.poll(10_000, zmq.POLLIN):  # its subscription reached us (the
            raise RuntimeError("no subscription arrived")  # publisher reads it: left queued)
        time.sleep(0.2)
        starts: list[tuple[int, int]] = []  # (first packet_seq of a batch, engine-event ns)
        eng = None
        if paced:
            eng = Engine(list(w.instruments), capacity=w.capacity)
        t0 = time.time_ns()
        nxt = time.perf_counter()
        for k, e in enumerate(evs):
            if paced:
                nxt += paced
                # sleep (the clock starts after the wake-up, so its jitter is not in the
                # figure; spinning would take the core the subscriber needs on this machine)
                time.sleep(max(0.0, nxt - time.perf_counter()))
                t_ev = time.time_ns()
                assert eng is not None
                e = eng.process(batches[k])
            else:
                t_ev = time.time_ns()
            starts.append((pub.packet_seq + 1, t_ev))
            pub.on_events(e)
        if not parent.poll(60):
            raise RuntimeError("subscriber did not finish")
        n, last_ns, marks, gaps, bids, asks = parent.recv()
    finally:
        proc.join(10)
        pub.close()
    lat, pub_part = [], []
    si = 0
    first_seqs = [s for s, _ in starts]
    for pseq, send_ns, cb_ns in marks:
        while si + 1 < len(first_seqs) and first_seqs[si + 1] <= pseq:
            si += 1
        if si > 0:  # batch 0 is the prefill
            lat.append((cb_ns - starts[si][1]) / 1000)
            pub_part.append((send_ns - starts[si][1]) / 1000)
    return {"applied": n, "expected": expect, "seconds": (last_ns - t0) / 1e9,
            "latency_us": np.asarray(lat), "publish_us": np.asarray(pub_part), "gaps": gaps,
            "bids": bids, "asks": asks}  # fmt: skip


def run(args: argparse.Namespace) -> int:
    if min(args.commands, args.batch, args.rate, args.repeat) < 1 or args.latency_seconds <= 0:
        print("bench marketdata: every size must be >= 1", file=sys.stderr)
        return 2
    from bench.workloads import exchange_core

    _log("warming up the kernels (the first run compiles them)")
    w = exchange_core(args.commands, seed=args.seed)
    batches, evs, eng = _events(w, args.batch)
    _log(f"throughput: {args.commands:,} commands in batches of {args.batch}")
    bv = eng.book(w.instruments[0].id, 100_000)
    runs = []
    same = True
    for _ in range(args.repeat):
        t = _run_pair(w, evs, batches, 0.0)
        same = same and [list(x) for x in bv.bids] == t["bids"]
        same = same and [list(x) for x in bv.asks] == t["asks"] and t["applied"] == t["expected"]
        runs.append(t["applied"] / t["seconds"] if t["seconds"] > 0 else 0.0)
    ups = max(runs)
    # latency: one command per batch, paced to --rate level updates per second
    per_cmd = (t["expected"] - len(evs[0])) / args.commands  # level updates per command
    n_lat = min(len(w.commands), max(100, int(args.rate * args.latency_seconds / per_cmd)))
    lb = [w.prefill] + [w.commands[i : i + 1] for i in range(n_lat)]
    _log(f"latency: {n_lat:,} one-command batches paced at ~{args.rate:,} level updates/s")
    lat = _run_pair(w, _events_list(w, lb), lb, per_cmd / args.rate)
    lus = lat["latency_us"]
    r: dict[str, Any] = {
        "workload": "exchange-core mix, 1 instrument (~1,000 orders on ~750 levels)",
        "commands": args.commands, "batch": args.batch, "level_updates": t["applied"],
        "updates_per_s": round(ups), "updates_per_s_median": round(float(np.median(runs))),
        "repeat": args.repeat,
        "subscriber_book_equals_engine": same, "gaps": t["gaps"],
        "latency_rate": args.rate, "latency_samples": len(lus),
        "p50_us": round(float(np.percentile(lus, 50)), 1),
        "p99_us": round(float(np.percentile(lus, 99)), 1),
        "p999_us": round(float(np.percentile(lus, 99.9)), 1),
        "latency_gaps": lat["gaps"],
        # the share before the send: engine + publisher kernel + header (the rest is the
        # socket, the subscriber's wake-up, decode and BookBuilder apply)
        "p50_publish_us": round(float(np.percentile(lat["publish_us"], 50)), 1),
    }  # fmt: skip
    r["targets"] = {
        "updates_per_s": {"target": TARGET_UPDATES, "met": r["updates_per_s"] >= TARGET_UPDATES},
        "p50_us": {"target": TARGET_P50_US, "met": r["p50_us"] <= TARGET_P50_US},
    }
    r["machine"] = sysinfo.machine_info()
    r["timestamp"] = datetime.now(UTC).isoformat(timespec="seconds")
    r["command"] = "venue bench marketdata " + " ".join(sys.argv[3:] if len(sys.argv) > 3 else [])
    print(f"{'marketdata':<12} {'result':>14}  target")
    print(f"{'updates/s':<12} {r['updates_per_s']:>14,}  {TARGET_UPDATES:,} (best of "
          f"{args.repeat}, median {r['updates_per_s_median']:,}; {t['applied']:,} level updates, "
          "publisher + BookBuilder in 2 processes)")  # fmt: skip
    print(f"{'p50 us':<12} {r['p50_us']:>14,.1f}  {TARGET_P50_US:g} (at {args.rate:,} updates/s)")
    print(f"{'p99 us':<12} {r['p99_us']:>14,.1f}")
    send = r["p50_publish_us"]
    print(f"{'  p50 to send':<12} {send:>12,.1f}  (engine + publisher, before the socket)")
    print(f"{'p99.9 us':<12} {r['p999_us']:>14,.1f}")
    print(f"subscriber book equals the engine's: {same}; gaps {t['gaps']}")
    publish(r, "marketdata", write=not args.no_write, as_json=args.json, indent="")
    return 0


def _events_list(w: Any, batches: list[np.ndarray]) -> list[np.ndarray]:
    from matching.engine import Engine

    eng = Engine(list(w.instruments), capacity=w.capacity)
    return [eng.process(b) for b in batches]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="marketdata_bench")
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
