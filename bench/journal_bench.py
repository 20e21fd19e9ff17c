"""``venue bench journal``: journal write throughput under an fsync policy, and recovery speed.

Workload (``order_stream``): a seeded order stream on the embedded default venue (3 funded demo
accounts, BTC-USD and ETH-USD): limit orders within +-50 ticks of the reference (75% GTC, 25%
IOC), each GTC order cancelled 2,000 orders later unless it filled (~57% orders, ~43% cancels,
at most ~2,000 resting orders); stamped as the gateway stamps them, in batches of ``--batch``
(1,024: the gateway's ``max_batch``, i.e. a saturated gateway's wakeup).

- ``cmds_per_s``: ``JournalWriter.append`` + ``commit`` per batch under ``--policy`` (default
  ``durable``: one write and one fdatasync per batch, the group commit the gateway does), to a
  fresh directory on the repository's disk; the journal alone, not the engine. Percentiles are
  of the commit latency per batch (us). ``fsyncs`` counts them (file creation and rotation
  included). The other two policies are measured in the same run (``by_policy``).
- ``replay_cmds_per_s``: recovery of a fresh venue from that journal with no snapshot
  (``journal.recovery.recover``: read, CRC32C and sequence check of every record, the
  exchange's risk -> match -> settle pipeline, the running event hash, the gateway's order
  tracks rebuilt), best of ``--repeat``.
- ``snapshot``: the gateway-thread pause of taking a snapshot of the final state (copies), the
  time to write it (fsync included) and its size.

It prints a summary, with ``--json`` one JSON line last, and writes bench/results/journal.json
unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench import sysinfo
from bench.sysinfo import publish
from matching.records import CMD_CANCEL, CMD_NEW, COMMAND_DTYPE, GTC, IOC, LIMIT

WORK_DIR = Path(__file__).resolve().parent.parent / "var"
TARGET_WRITE = 100_000
TARGET_REPLAY = 1_000_000
REFS = (9_000_000, 300_000)  # BTC-USD, ETH-USD reference prices (ticks)
STEPS = (100, 10)  # ticks per price step


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--commands", type=int, default=1_000_000, metavar="N")
    parser.add_argument("--batch", type=int, default=1024, metavar="B", help="commands per commit")
    parser.add_argument(
        "--policy", choices=("durable", "interval", "none"), default="durable", help="fsync policy"
    )
    parser.add_argument("--repeat", type=int, default=3, metavar="R")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def order_stream(n: int, seed: int = 1, first_cl: int = 1, lifetime: int = 2000) -> np.ndarray:
    """``n`` unstamped commands for the embedded default venue (accounts 1-3, instruments 0
    and 1): limit orders (75% GTC, 25% IOC) within +-50 ticks of the reference, each GTC one
    followed ``lifetime`` orders later by its cancel (rejected if it filled meanwhile): ~57%
    orders, ~43% cancels, at most ~``lifetime`` resting orders, as on a real venue. O(n)."""
    rng = np.random.default_rng(seed)
    m = n  # orders generated; the stream is cut to n commands
    o = np.zeros(m, dtype=COMMAND_DTYPE)
    inst = rng.integers(0, 2, m)
    o["kind"] = CMD_NEW
    o["account"] = rng.integers(1, 4, m)
    o["instrument"] = inst
    o["side"] = rng.integers(1, 3, m)
    o["order_type"] = LIMIT
    o["tif"] = np.where(rng.random(m) < 0.25, IOC, GTC)
    o["price_ticks"] = np.take(REFS, inst) + rng.integers(-50, 51, m) * np.take(STEPS, inst)
    o["qty_lots"] = rng.integers(1, 50, m)
    o["client_order_id"] = np.arange(first_cl, first_cl + m, dtype=np.int64)
    x = np.zeros(m, dtype=COMMAND_DTYPE)  # x[k]: the cancel of order k - lifetime
    src = np.arange(m) - lifetime
    ok = src >= 0
    ok[ok] = o["tif"][src[ok]] == GTC
    x["kind"] = CMD_CANCEL
    x["account"][ok] = o["account"][src[ok]]
    x["client_order_id"][ok] = o["client_order_id"][src[ok]]
    both = np.empty(2 * m, dtype=COMMAND_DTYPE)
    both[0::2] = o
    both[1::2] = x
    keep = np.ones(2 * m, dtype=bool)
    keep[1::2] = ok
    return np.ascontiguousarray(both[keep][:n])


def stamp(cmds: np.ndarray, first_seq: int, ts_ns: int) -> None:
    """Stamp a batch as the gateway does: consecutive seqs, one timestamp. O(n)."""
    cmds["seq"] = np.arange(first_seq, first_seq + len(cmds))
    cmds["ts_ns"] = ts_ns


def measure_write(
    cmds: np.ndarray, batch: int, policy: str, directory: Path, first_seq: int, genesis: bytes
) -> dict[str, Any]:
    """Journal ``cmds`` in batches under ``policy``; commit latency per batch. O(n)."""
    from journal.writer import JournalWriter

    w = JournalWriter(directory, first_seq, genesis, policy=policy)
    lat = []
    seq = first_seq
    ts = time.time_ns()
    t0 = time.perf_counter()
    for at in range(0, len(cmds), batch):
        b = cmds[at : at + batch]
        stamp(b, seq, ts + at)
        seq += len(b)
        t = time.perf_counter()
        w.append(b)
        w.commit()
        lat.append(time.perf_counter() - t)
    dt = time.perf_counter() - t0
    w.close()
    us = np.array(lat) * 1e6
    p = np.percentile(us, [50, 99, 99.9])
    return {
        "policy": policy,
        "cmds_per_s": len(cmds) / dt,
        "fsyncs": w.fsyncs,
        "batches": len(lat),
        "p50_commit_us": float(p[0]),
        "p99_commit_us": float(p[1]),
        "p999_commit_us": float(p[2]),
        "files": w.rotations + 1,
    }


def measure_recovery(directory: Path) -> tuple[float, Any]:
    """Recover a fresh embedded-default venue from ``directory``: commands/s. O(journal)."""
    from gateway.server import demo_venue
    from journal.recovery import recover

    srv, _ = demo_venue()
    t = time.perf_counter()
    res, eh, genesis = recover(srv, directory)
    dt = time.perf_counter() - t
    srv.stop()
    return res.replayed / dt, (res, srv, eh, genesis)


def measure_snapshot(srv: Any, eh: Any, genesis: bytes, directory: Path) -> dict[str, Any]:
    """Pause (capture) and write time of a snapshot of ``srv``'s state. O(state)."""
    from journal.snapshot import capture, layout_of, write_snapshot

    layout = layout_of(srv)
    t = time.perf_counter()
    snap = capture(srv, genesis, layout, eh.state())
    pause = time.perf_counter() - t
    t = time.perf_counter()
    path = write_snapshot(directory, snap)
    write = time.perf_counter() - t
    return {
        "pause_ms": pause * 1000,
        "write_ms": write * 1000,
        "bytes": path.stat().st_size,
        "live_orders": srv.ex.live_orders(),
    }


def run(args: argparse.Namespace) -> int:
    if args.commands < 1 or args.batch < 1 or args.repeat < 1:
        print("bench journal: --commands, --batch and --repeat must be >= 1", file=sys.stderr)
        return 2
    from gateway.demo import demo_exchange
    from journal.recovery import genesis_fingerprint

    ex = demo_exchange()
    genesis = genesis_fingerprint(ex)
    first = ex.next_seq
    cmds = order_stream(args.commands, args.seed)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="bench-journal-", dir=WORK_DIR))
    r: dict[str, Any] = {"commands": args.commands, "batch": args.batch, "seed": args.seed,
                         "repeat": args.repeat, "workload": "embedded default venue, 3 "
                         "accounts, BTC-USD/ETH-USD: 75% GTC / 25% IOC limits, each GTC "
                         "cancelled 2,000 orders later; ~43% cancels"}  # fmt: skip
    try:
        _log("warming up (kernels, files)")
        warm = root / "warm"
        measure_write(cmds[:4096].copy(), args.batch, "none", warm, first, genesis)
        measure_recovery(warm)
        by_policy: dict[str, dict[str, Any]] = {}
        for policy in dict.fromkeys((args.policy, "durable", "interval", "none")):
            runs = []
            for k in range(args.repeat if policy == args.policy else 1):
                d = root / f"{policy}-{k}"
                runs.append(measure_write(cmds.copy(), args.batch, policy, d, first, genesis))
                if k or policy != args.policy:
                    shutil.rmtree(d)
            runs.sort(key=lambda x: x["cmds_per_s"])
            best = runs[-1]
            best["cmds_per_s_median"] = runs[len(runs) // 2]["cmds_per_s"]
            by_policy[policy] = best
            _log(f"  {policy}: {best['cmds_per_s']:,.0f} cmds/s, {best['fsyncs']} fsyncs")
        main = by_policy[args.policy]
        r.update(main)
        r["by_policy"] = {p: v["cmds_per_s"] for p, v in by_policy.items()}
        _log("timing recovery")
        journal_dir = root / f"{args.policy}-0"
        rates = []
        last: Any = None
        for _ in range(args.repeat):
            rate, last = measure_recovery(journal_dir)
            rates.append(rate)
        rates.sort()
        res, srv, eh, gen = last
        r["replay_cmds_per_s"] = rates[-1]
        r["replay_cmds_per_s_median"] = rates[len(rates) // 2]
        r["replayed"] = res.replayed
        r["state_hash"] = res.state_hash
        r["event_hash"] = res.event_hash
        r["snapshot"] = measure_snapshot(srv, eh, gen, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    r["targets"] = {
        "cmds_per_s": {"target": TARGET_WRITE, "met": r["cmds_per_s"] >= TARGET_WRITE},
        "replay_cmds_per_s": {"target": TARGET_REPLAY,
                              "met": r["replay_cmds_per_s"] >= TARGET_REPLAY},
    }  # fmt: skip
    r["machine"] = sysinfo.machine_info()
    r["timestamp"] = datetime.now(UTC).isoformat(timespec="seconds")
    r["command"] = "venue bench journal " + " ".join(sys.argv[3:] if len(sys.argv) > 3 else [])
    s = r["snapshot"]
    print(
        f"journal: {r['cmds_per_s']:,.0f} cmds/s under {r['policy']} (batches of {args.batch}, "
        f"{r['fsyncs']} fsyncs; commit p50 {r['p50_commit_us']:.0f} us, p99 "
        f"{r['p99_commit_us']:.0f}, p99.9 {r['p999_commit_us']:.0f}; target {TARGET_WRITE:,}); "
        + ", ".join(f"{p} {v:,.0f}" for p, v in r["by_policy"].items())
    )
    print(
        f"  recovery: {r['replay_cmds_per_s']:,.0f} cmds/s (median "
        f"{r['replay_cmds_per_s_median']:,.0f}; target {TARGET_REPLAY:,}); snapshot of "
        f"{s['live_orders']:,} live orders: pause {s['pause_ms']:.1f} ms, write "
        f"{s['write_ms']:.1f} ms, {s['bytes']:,} bytes"
    )
    publish(r, "journal", write=not args.no_write, as_json=args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="venue bench journal", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
