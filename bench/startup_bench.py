"""``venue bench startup``: how long a fresh process takes to stand up an engine with many
instruments, with the numba cache warm.

Workload: a new Python interpreter imports the engine (loading cached kernels), defines N spot
instruments, builds the Engine, and runs one command. Repeated ``--runs`` times in fresh
processes (a warm-up run first compiles or loads the cache); the median and max are reported.
Target (issue #2): 10,000 instruments in under one second.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from bench.sysinfo import machine_info, publish

_CHILD = """
import time
t0 = time.perf_counter()
from matching.engine import Engine
from matching.instruments import Instrument
t1 = time.perf_counter()
insts = [Instrument(id=i, symbol=f"I{i}", kind="spot", tick_size="1", lot_size="1")
         for i in range(N)]
t2 = time.perf_counter()
eng = Engine(insts)
t3 = time.perf_counter()
ev = eng.limit(N - 1, 1, "buy", 1, 10)
t4 = time.perf_counter()
assert ev[0]["kind"] == 1, ev
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3, sum(a.nbytes for a in eng.state))
"""

TARGET_S = 1.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--instruments", type=int, default=10_000, metavar="N")
    p.add_argument("--runs", type=int, default=5, help="fresh processes to time (after a warm-up)")
    p.add_argument("--json", action="store_true", help="print a final JSON line")
    p.add_argument("--no-write", action="store_true", help="do not write bench/results/")


def _one(n: int) -> list[float]:
    code = _CHILD.replace("N)", f"{n})").replace("N - 1", f"{n} - 1")
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600
    )
    wall = time.perf_counter() - t
    return [wall, *map(float, out.stdout.split())]


def run(args: argparse.Namespace) -> int:
    n = args.instruments
    print("[bench] warm-up process (compiles kernels if the cache is cold) ...", file=sys.stderr)
    _one(n)
    rows = [_one(n) for _ in range(args.runs)]
    wall = [r[0] for r in rows]
    inside = [r[1] + r[2] + r[3] + r[4] for r in rows]
    med = statistics.median(inside)
    res = {
        "workload": "startup",
        "instruments": n,
        "runs": args.runs,
        "seconds_median": med,
        "seconds_max": max(inside),
        "process_wall_median": statistics.median(wall),
        "import_s": statistics.median(r[1] for r in rows),
        "define_instruments_s": statistics.median(r[2] for r in rows),
        "engine_build_s": statistics.median(r[3] for r in rows),
        "first_command_s": statistics.median(r[4] for r in rows),
        "state_bytes": int(rows[0][5]),
        "state_bytes_per_instrument": rows[0][5] / n,
        "target_s": TARGET_S,
        "status": "PASS" if med < TARGET_S else "BELOW",
        "machine": machine_info(),
        "command": f"venue bench startup --instruments {n} --runs {args.runs}",
    }
    print(
        f"startup: {n:,} instruments ready in {med:.3f} s median (max {max(inside):.3f} s) "
        f"over {args.runs} fresh processes: import {res['import_s']:.3f} s, definitions "
        f"{res['define_instruments_s']:.3f} s, engine {res['engine_build_s']:.3f} s, first "
        f"command {res['first_command_s']:.3f} s; state {res['state_bytes'] / 1e6:.1f} MB "
        f"({res['state_bytes_per_instrument']:.0f} B/instrument); target < {TARGET_S:.0f} s: "
        f"{res['status']}"
    )
    publish(res, "startup", write=not args.no_write, as_json=args.json)
    return 0
