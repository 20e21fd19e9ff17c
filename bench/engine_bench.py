"""``venue bench engine``: throughput and latency of the numba matching engine.

For one workload of ``bench/workloads.py`` (exchange-core's mix, Liquibook's inserts, or a deep
book) it measures:

- the batch path: the workload's commands through ``Engine.process_into`` in batches of
  ``--batch`` reusing one events buffer (the prefill runs first, untimed): seconds, commands/s,
  events, trades, and percentiles of the per-batch average ns/command;
- the per-command Python API: the first min(N, 200,000) commands one by one through
  ``Engine.process`` on a fresh engine: commands/s and per-call latency percentiles;
- the reference book: the prefill and the first ``--reference-commands`` commands through
  ``ReferenceEngine.process``: commands/s, the numba speed-up, and a check that both engines
  emit the same events on that prefix;
- deep-book only: peak RSS growth over the baseline taken just before the engine is built, per
  resting order (the engine is built with ``capacity=n_orders``, so its pool never doubles).

It prints a summary (first line: the headline figure), then with ``--json`` one JSON object as
the last line, and unless ``--no-write`` writes that object to
``bench/results/engine-<workload>.json``.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench import sysinfo
from bench.sysinfo import publish
from bench.workloads import CACHE_DIR, GENERATORS, Workload, deep_book, exchange_core
from matching.api import packed_bytes
from matching.engine import Engine
from matching.records import CMD_AMEND, CMD_CANCEL, CMD_NEW, COMMAND_DTYPE, EV_FILL, EVENT_DTYPE
from matching.reference import ReferenceEngine

WORKLOAD_CACHE_DIR: Path | None = CACHE_DIR  # generated workloads are cached here (None: never)
DEFAULT_COMMANDS = {"exchange-core": 3_000_000, "liquibook": 3_000_000, "deep-book": 1_000_000}
PYTHON_API_COMMANDS = 200_000
REFERENCE_COMMANDS = 100_000

TARGET_BATCH_XCORE = 5_000_000  # commands/s, exchange-core mix, batch path
TARGET_PYTHON_API = 300_000  # commands/s, per-command Python API
TARGET_LIQUIBOOK = 3_000_000  # orders/s, Liquibook workload, batch path
TARGET_DEEP_BYTES = 200  # bytes per resting order, deep book


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``venue bench engine``."""
    parser.add_argument(
        "--workload",
        choices=sorted(GENERATORS),
        default="exchange-core",
        help="exchange-core's mix (default), Liquibook's insert test, or a 1M-order deep book",
    )
    parser.add_argument(
        "--commands",
        type=int,
        default=None,
        metavar="N",
        help="commands to time (orders for liquibook and deep-book); default "
        + ", ".join(f"{k} {v:,}" for k, v in DEFAULT_COMMANDS.items()),
    )
    parser.add_argument("--seed", type=int, default=1, metavar="S", help="workload seed")
    parser.add_argument(
        "--batch", type=int, default=4096, metavar="B", help="commands per process_into call"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=5,
        metavar="R",
        help="timed passes of the batch path, each on a fresh engine; the best is reported, "
        "with the median (this shared machine only ever slows a run down). deep-book: 1",
    )
    parser.add_argument(
        "--reference-commands",
        type=int,
        default=None,
        metavar="M",
        help="commands replayed through the reference book "
        f"(default min(N, {REFERENCE_COMMANDS:,}))",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON (last line)")
    parser.add_argument(
        "--no-write", action="store_true", help="do not write bench/results/engine-<workload>.json"
    )


# --- helpers ------------------------------------------------------------------------------------
def _log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _maxrss_kb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # kB on Linux


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux >= 4.0), so that ru_maxrss
    afterwards measures only what comes next. False if not possible here."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _run_batches(engine: Engine, cmds: np.ndarray, batch: int, ev: np.ndarray) -> np.ndarray:
    """Untimed: run ``cmds`` through ``process_into``; returns the (possibly grown) buffer."""
    for s in range(0, len(cmds), batch):
        _, ev = engine.process_into(cmds[s : s + batch], ev)
    return ev


def _collect_events(engine: Engine, cmds: np.ndarray, batch: int) -> np.ndarray:
    """Every event of ``cmds`` through ``process_into``, concatenated. O(n)."""
    out = []
    ev = np.zeros(4 * batch, dtype=EVENT_DTYPE)
    for s in range(0, len(cmds), batch):
        n, ev = engine.process_into(cmds[s : s + batch], ev)
        out.append(ev[:n].copy())
    return np.concatenate(out) if out else np.zeros(0, dtype=EVENT_DTYPE)


def _pcts(values: np.ndarray, scale: float = 1.0) -> tuple[float, float, float]:
    if len(values) == 0:
        return (float("nan"), float("nan"), float("nan"))
    p = np.percentile(values, [50, 99, 99.9]) * scale
    return float(p[0]), float(p[1]), float(p[2])


def _trades(engine: Engine) -> int:
    # a FILL is a trade: every fill takes trade_id = ++trade_count (rulebook 2.3)
    return int(engine.state.inst["trade_count"].sum())


def warm_up(batch: int) -> None:
    """Load (or compile) every kernel the measurements use, on a small throwaway workload."""
    w = exchange_core(5_000, seed=12345, cache_dir=None)
    eng = Engine(w.instruments, capacity=w.capacity)
    ev = np.zeros(4 * batch, dtype=EVENT_DTYPE)
    ev = _run_batches(eng, w.prefill, batch, ev)
    ev = _run_batches(eng, w.commands, batch, ev)
    for i in range(min(200, len(w.commands))):
        eng.process(w.commands[i : i + 1])
    d = deep_book(2_000, 20, seed=12345, cache_dir=None)
    _run_batches(Engine(d.instruments, capacity=len(d.commands)), d.commands, batch, ev)


def _make_workload(name: str, n: int, seed: int) -> Workload:
    if name == "deep-book":
        return deep_book(n_orders=n, seed=seed, cache_dir=WORKLOAD_CACHE_DIR)
    gen = GENERATORS[name]
    return gen(n, seed=seed, cache_dir=WORKLOAD_CACHE_DIR)  # type: ignore[operator]


# --- the measurements ---------------------------------------------------------------------------
def measure_batch(
    w: Workload, batch: int, capacity: int, ev: np.ndarray | None = None
) -> dict[str, Any]:
    """Time the workload's commands through ``process_into`` (prefill untimed)."""
    engine = Engine(w.instruments, capacity=capacity)
    if ev is None:
        ev = np.zeros(4 * batch, dtype=EVENT_DTYPE)
    ev = _run_batches(engine, w.prefill, batch, ev)
    trades_before = _trades(engine)
    cmds = w.commands
    n = len(cmds)
    nb = (n + batch - 1) // batch
    batch_ns = np.zeros(nb, dtype=np.int64)
    batch_len = np.zeros(nb, dtype=np.int64)
    events = 0
    clock = time.perf_counter_ns
    t0 = clock()
    for b in range(nb):
        chunk = cmds[b * batch : (b + 1) * batch]
        tb = clock()
        k, ev = engine.process_into(chunk, ev)
        batch_ns[b] = clock() - tb
        batch_len[b] = len(chunk)
        events += k
    total_ns = clock() - t0
    per_cmd = batch_ns / np.maximum(batch_len, 1)
    p50, p99, p999 = _pcts(per_cmd)
    seconds = total_ns / 1e9
    return {
        "engine": engine,
        "seconds": seconds,
        "cmds_per_s": n / seconds if seconds > 0 else float("nan"),
        "events": events,
        "trades": _trades(engine) - trades_before,
        "batches": nb,
        "p50_ns": p50,
        "p99_ns": p99,
        "p999_ns": p999,
        "resting_orders_after": engine.live_orders(),
    }


def measure_submit_api(w: Workload, m: int, batch: int) -> dict[str, Any]:
    """The first ``m`` commands through the keyword convenience API a user calls
    (``Engine.submit`` / ``amend`` / ``cancel``), one call each, on a fresh engine. The calls'
    arguments are prepared before timing; results are discarded."""
    engine = Engine(w.instruments, capacity=w.capacity)
    _run_batches(engine, w.prefill, batch, np.zeros(4 * batch, dtype=EVENT_DTYPE))
    calls: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []
    for c in w.commands[:m].tolist():
        rec = dict(zip(COMMAND_DTYPE.names or (), c, strict=True))
        if rec["kind"] == CMD_NEW:
            args = (
                rec["instrument"],
                rec["account"],
                rec["side"],
                rec["qty_lots"],
                rec["price_ticks"],
            )
            kw = {"order_type": rec["order_type"], "tif": rec["tif"], "order_id": rec["order_id"]}
            calls.append((engine.submit, args, kw))
        elif rec["kind"] == CMD_AMEND:
            kw = {"price_ticks": rec["price_ticks"], "qty_lots": rec["qty_lots"]}
            calls.append((engine.amend, (rec["account"], rec["order_id"]), kw))
        elif rec["kind"] == CMD_CANCEL:
            calls.append((engine.cancel, (rec["account"], rec["order_id"]), {}))
    clock = time.perf_counter_ns
    t0 = clock()
    for fn, args, kw in calls:
        fn(*args, **kw)
    total_ns = clock() - t0
    n = len(calls)
    return {
        "submit_api_commands": n,
        "submit_api_cmds_per_s": n / (total_ns / 1e9) if n else None,
        "submit_api_mean_us": total_ns / 1e3 / n if n else None,
    }


def measure_python_api(w: Workload, m: int, batch: int) -> dict[str, Any]:
    """The first ``m`` commands one by one through ``Engine.process`` (fresh engine, prefill
    through the batch path first)."""
    engine = Engine(w.instruments, capacity=w.capacity)
    _run_batches(engine, w.prefill, batch, np.zeros(4 * batch, dtype=EVENT_DTYPE))
    cmds = w.commands
    lat = np.zeros(m, dtype=np.int64)
    clock = time.perf_counter_ns
    process = engine.process
    t0 = clock()
    for i in range(m):
        a = clock()
        process(cmds[i : i + 1])
        lat[i] = clock() - a
    total_ns = clock() - t0
    p50, p99, p999 = _pcts(lat, 1e-3)
    return {
        "python_api_commands": m,
        "python_api_seconds": total_ns / 1e9,
        "python_api_cmds_per_s": m / (total_ns / 1e9) if m else None,
        "python_api_p50_us": p50,
        "python_api_p99_us": p99,
        "python_api_p999_us": p999,
    }


def measure_reference(w: Workload, m: int, batch: int) -> dict[str, Any]:
    """Prefill + the first ``m`` commands through the reference book (the ``m`` timed), and the
    same through a fresh numba engine: do both emit the same events?"""
    ref = ReferenceEngine(w.instruments)
    ref_events = []
    for s in range(0, len(w.prefill), batch):
        ref_events.append(ref.process(w.prefill[s : s + batch]))
    head = w.commands[:m]
    t0 = time.perf_counter_ns()
    for s in range(0, m, batch):
        ref_events.append(ref.process(head[s : s + batch]))
    ref_ns = time.perf_counter_ns() - t0
    ref_all = np.concatenate(ref_events) if ref_events else np.zeros(0, dtype=EVENT_DTYPE)
    eng = Engine(w.instruments, capacity=w.capacity)
    eng_all = _collect_events(eng, np.concatenate([w.prefill, head]), batch)
    same_count = len(ref_all) == len(eng_all)
    identical = same_count and packed_bytes(ref_all) == packed_bytes(eng_all)
    fills_match = int(np.count_nonzero(eng_all["kind"] == EV_FILL)) == _trades(eng)
    # the numba engine timed on the same prefix, for a like-for-like speed-up (the headline
    # speed-up divides the full run's rate, whose book may differ from the prefix's)
    eng = Engine(w.instruments, capacity=w.capacity)
    ev = _run_batches(eng, w.prefill, batch, np.zeros(4 * batch, dtype=EVENT_DTYPE))
    t0 = time.perf_counter_ns()
    _run_batches(eng, head, batch, ev)
    eng_s = (time.perf_counter_ns() - t0) / 1e9
    seconds = ref_ns / 1e9
    eng_rate = m / eng_s if m and eng_s > 0 else None
    ref_rate = m / seconds if m and seconds > 0 else None
    return {
        "reference_commands": m,
        "reference_seconds": seconds,
        "reference_cmds_per_s": ref_rate,
        "engine_prefix_cmds_per_s": eng_rate,
        "speedup_same_prefix": eng_rate / ref_rate if eng_rate and ref_rate else None,
        "reference_events": len(ref_all),
        "engine_events_on_prefix": len(eng_all),
        "reference_events_match": same_count,
        "reference_events_identical": identical,
        "trade_count_matches_fills": fills_match,
    }


def _targets(workload: str, r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    def entry(applies: bool, value: Any, target: float, higher_is_better: bool, unit: str) -> dict:
        if not applies or value is None:
            return {"target": target, "unit": unit, "value": None, "status": "not measured"}
        ok = value >= target if higher_is_better else value <= target
        return {"target": target, "unit": unit, "value": value, "status": "PASS" if ok else "BELOW"}

    return {
        "exchange_core_batch": entry(
            workload == "exchange-core", r.get("cmds_per_s"), TARGET_BATCH_XCORE, True, "cmds/s"
        ),
        "python_api": entry(
            workload == "exchange-core",
            r.get("python_api_cmds_per_s"),
            TARGET_PYTHON_API,
            True,
            "cmds/s",
        ),
        "liquibook_batch": entry(
            workload == "liquibook", r.get("cmds_per_s"), TARGET_LIQUIBOOK, True, "orders/s"
        ),
        "deep_book_memory": entry(
            workload == "deep-book", r.get("bytes_per_order"), TARGET_DEEP_BYTES, False, "B/order"
        ),
    }


_TARGET_TEXT = {
    "exchange_core_batch": "exchange-core batch >= 5,000,000 cmds/s",
    "python_api": "per-command Python API >= 300,000 cmds/s (exchange-core)",
    "liquibook_batch": "liquibook >= 3,000,000 orders/s",
    "deep_book_memory": "deep-book <= 200 bytes/order",
}

_RUN_FOR = {
    "exchange_core_batch": "exchange-core",
    "python_api": "exchange-core",
    "liquibook_batch": "liquibook",
    "deep_book_memory": "deep-book",
}


def _fmt(x: float | None, spec: str = ",.0f") -> str:
    return "n/a" if x is None or x != x else format(x, spec)


def summary(r: dict[str, Any]) -> str:
    """The human-readable report; the first line is the headline."""
    name = r["workload"]
    lines = [
        f"engine {name}: {r['commands']:,} commands in {r['seconds']:.3f} s = "
        f"{_fmt(r['cmds_per_s'])} cmds/s (batch {r['batch']}, best of {r.get('repeat', 1)}, "
        f"median {_fmt(r.get('cmds_per_s_median', r['cmds_per_s']))}); per-batch ns/command "
        f"p50 {_fmt(r['p50_ns'])} p99 {_fmt(r['p99_ns'])} p99.9 {_fmt(r['p999_ns'])}; "
        f"{r['machine']['cpu']}",
        f"  workload:   {r['description']}",
        f"  machine:    {sysinfo.describe(r['machine'])}",
        f"  batch path: Engine.process_into, {r['batches']:,} batches of {r['batch']:,} "
        f"(prefill of {r['prefill_commands']:,} untimed): {r['events']:,} events, "
        f"{r['trades']:,} trades, {r['resting_orders_after']:,} orders resting at the end",
        "              percentiles are over batches, of each batch's average ns/command "
        "(not single-command latencies)",
    ]
    if r.get("python_api_cmds_per_s") is not None:
        lines.append(
            f"  python API: Engine.process one command per call, first "
            f"{r['python_api_commands']:,} commands: {_fmt(r['python_api_cmds_per_s'])} cmds/s; "
            f"latency p50 {_fmt(r['python_api_p50_us'], ',.1f')} us, "
            f"p99 {_fmt(r['python_api_p99_us'], ',.1f')} us, "
            f"p99.9 {_fmt(r['python_api_p999_us'], ',.1f')} us"
        )
    if r.get("submit_api_cmds_per_s") is not None:
        lines.append(
            f"  submit API: Engine.submit / amend / cancel with keywords, one call each, "
            f"{r['submit_api_commands']:,} commands: {_fmt(r['submit_api_cmds_per_s'])} cmds/s "
            f"({_fmt(r['submit_api_mean_us'], ',.2f')} us per call)"
        )
    if r.get("reference_cmds_per_s") is not None:
        match = (
            "identical events"
            if r["reference_events_identical"]
            else ("same event count" if r["reference_events_match"] else "EVENT COUNTS DIFFER")
        )
        lines.append(
            f"  reference:  ReferenceEngine.process, first {r['reference_commands']:,} commands: "
            f"{_fmt(r['reference_cmds_per_s'])} cmds/s; numba speed-up "
            f"{_fmt(r['speedup'], ',.1f')}x (full-run rate / reference rate; "
            f"{_fmt(r['speedup_same_prefix'], ',.1f')}x on the same prefix, where numba ran "
            f"{_fmt(r['engine_prefix_cmds_per_s'])} cmds/s); {match} "
            f"({r['reference_events']:,} events)"
        )
    if r.get("bytes_per_order") is not None:
        lines.append(
            f"  memory:     peak RSS {r['peak_rss_kb']:,} kB over a baseline of "
            f"{r['baseline_rss_kb']:,} kB = {r['rss_growth_kb']:,} kB for "
            f"{r['resting_orders_after']:,} resting orders = "
            f"{r['bytes_per_order']:.1f} bytes/order (engine capacity {r['capacity']:,})"
        )
    lines.append("  targets:")
    for key, t in r["targets"].items():
        if t["status"] == "not measured":
            lines.append(f"    {_TARGET_TEXT[key]}: not measured (--workload {_RUN_FOR[key]})")
        else:
            lines.append(
                f"    {_TARGET_TEXT[key]}: {_fmt(t['value'], ',.1f')} {t['unit']} {t['status']}"
            )
    return "\n".join(lines)


def _command_line(args: argparse.Namespace, n: int, m: int | None) -> str:
    parts = [
        "venue bench engine",
        f"--workload {args.workload}",
        f"--commands {n}",
        f"--seed {args.seed}",
        f"--batch {args.batch}",
    ]
    if m is not None:
        parts.append(f"--reference-commands {m}")
    if args.json:
        parts.append("--json")
    if args.no_write:
        parts.append("--no-write")
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark described by ``args`` (see ``add_arguments``); returns the exit
    status (0, or 2 on bad arguments)."""
    name = args.workload
    n = args.commands if args.commands is not None else DEFAULT_COMMANDS[name]
    batch = args.batch
    if n < 1 or batch < 1 or args.seed < 0:
        print("bench engine: --commands and --batch must be >= 1, --seed >= 0", file=sys.stderr)
        return 2
    deep = name == "deep-book"
    ref_arg = REFERENCE_COMMANDS if args.reference_commands is None else args.reference_commands
    m_ref = None if deep else min(n, max(0, ref_arg))

    _log("warming up numba kernels (the first run compiles them, ~2 minutes)")
    t = time.perf_counter()
    warm_up(batch)
    _log(f"warm-up {time.perf_counter() - t:.1f} s; generating workload {name} n={n:,}")
    t = time.perf_counter()
    w = _make_workload(name, n, args.seed)
    gen_s = time.perf_counter() - t
    _log(f"workload ready in {gen_s:.1f} s{' (from cache)' if w.from_cache else ''}")

    r: dict[str, Any] = {
        "workload": name,
        "description": w.description,
        "commands": len(w.commands),
        "prefill_commands": len(w.prefill),
        "seed": args.seed,
        "batch": batch,
    }
    capacity = max(1024, len(w.commands) + len(w.prefill)) if deep else w.capacity
    r["capacity"] = capacity

    ev = np.zeros(4 * batch, dtype=EVENT_DTYPE)
    baseline_kb = None
    reset = False
    if deep:
        gc.collect()
        reset = _reset_peak_rss()
        baseline_kb = _maxrss_kb()
    _log("timing the batch path")
    b = measure_batch(w, batch, capacity, ev)
    engine = b.pop("engine")
    runs = [b]
    for _ in range(1 if deep else max(1, args.repeat) - 1):
        extra = measure_batch(w, batch, capacity, ev)
        extra.pop("engine")
        runs.append(extra)
    rates = sorted(x["cmds_per_s"] for x in runs)
    best = max(runs, key=lambda x: x["cmds_per_s"])
    r.update(best)
    r["repeat"] = len(runs)
    r["cmds_per_s_median"] = rates[len(rates) // 2]
    r["cmds_per_s_runs"] = [round(x) for x in rates]
    if deep:
        assert baseline_kb is not None
        peak_kb = _maxrss_kb()
        resting = engine.live_orders()
        r["baseline_rss_kb"] = baseline_kb
        r["peak_rss_kb"] = peak_kb
        r["rss_growth_kb"] = peak_kb - baseline_kb
        r["peak_rss_reset"] = reset
        r["bytes_per_order"] = (peak_kb - baseline_kb) * 1024 / resting if resting else None
    else:
        r["bytes_per_order"] = None
    del engine
    gc.collect()

    if deep:
        r.update(
            python_api_commands=None,
            submit_api_commands=None,
            submit_api_cmds_per_s=None,
            submit_api_mean_us=None,
            python_api_cmds_per_s=None,
            python_api_p50_us=None,
            python_api_p99_us=None,
            python_api_p999_us=None,
            reference_commands=None,
            reference_cmds_per_s=None,
            speedup=None,
        )
    else:
        m_api = min(len(w.commands), PYTHON_API_COMMANDS)
        _log(f"timing the per-command Python API on {m_api:,} commands")
        r.update(measure_python_api(w, m_api, batch))
        r.update(measure_submit_api(w, m_api, batch))
        assert m_ref is not None
        _log(f"timing the reference book on {m_ref:,} commands")
        r.update(measure_reference(w, m_ref, batch))
        ref_rate = r["reference_cmds_per_s"]
        r["speedup"] = r["cmds_per_s"] / ref_rate if ref_rate else None

    props = w.properties
    r["trade_fraction"] = props.get("trade_fraction")
    r["mean_resting_orders"] = props.get("mean_resting_orders")
    r["mean_levels"] = props.get("mean_levels")
    r["workload_properties"] = props
    r["workload_generation_s"] = round(gen_s, 3)
    r["workload_from_cache"] = w.from_cache
    r["targets"] = _targets(name, r)
    r["machine"] = sysinfo.machine_info()
    r["timestamp"] = datetime.now(UTC).isoformat(timespec="seconds")
    r["command"] = _command_line(args, n, m_ref)
    r["argv"] = sys.argv

    print(summary(r))
    if r.get("reference_events_match") is False:
        print(
            f"WARNING: the reference book emitted {r['reference_events']:,} events and the "
            f"numba engine {r['engine_events_on_prefix']:,} on the same commands: a bug"
        )
    elif r.get("reference_events_match") and not r.get("reference_events_identical"):
        print("WARNING: same event count but different events from the reference book: a bug")
    publish(r, f"engine-{name}", write=not args.no_write, as_json=args.json,
            default=_json_default)  # fmt: skip
    return 0


def _json_default(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="venue bench engine", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
