"""``venue loadtest``: an open-loop load generator for the order-entry gateway.

Each client is its own process with its own DEALER socket (raw ``zmq`` and ``gateway.protocol``,
no client library). A client logs on, warms the venue up with one order and its cancel, waits for
the common start, then sends on a fixed schedule (``rate / clients`` messages per second each).
Latency is measured from the SCHEDULED send time of a message to its first reply (matched by its
``req``), so a stall of the venue (or of the client) shows up in the percentiles instead of
silently slowing the sender down (coordinated omission). The whole schedule is planned before the
start (in an open loop nothing sent depends on a reply), so the hot loop only encodes, sends and
matches replies. Each loop turn sends everything due in one packed frame (a MessagePack array,
docs/protocol.md) and the client asks the venue to pack its replies, as a throughput-minded client
would; ``--no-pack`` sends one message per frame. Above ``AUTO_FRAME_RATE`` messages/s per client a
client sends at most one frame per millisecond (``--frame-us`` sets it): the time a message waits
for its frame counts in its latency, since that is measured from its scheduled time. Latencies
are kept raw during the run and put into the HDR histogram after it.

The mix, on BTC-USD (instrument 0): passive limit orders within 50 ticks of the reference price,
about 10% crossing orders (IOC or limit through the touch), about 30% cancels of the client's own
resting orders (oldest first; one that has filled meanwhile is answered UNKNOWN_ORDER, counted
among the rejects), a few amends (new price), a Heartbeat every second. At the end a
client mass-cancels and logs out.

Each client records its latencies (ns) into its own HDR histogram and sends it back encoded; the
parent merges them (``decode_and_add``), so the percentiles are of every message of every client,
not an average of per-client percentiles. Rejects are counted by reason name.

With ``--embedded`` the parent runs the default venue (``demo_venue``) in-process on a random
loopback port. Prints a progress line on stderr every second, a summary, then with ``--json`` one
JSON object as the last line; writes ``bench/results/loadtest.json`` unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import random
import select
import sys
import time
from array import array
from collections import deque
from typing import Any, Literal, cast

import zmq
from hdrh.histogram import HdrHistogram

from bench.sysinfo import machine_info, publish
from gateway import protocol as P
from matching import reasons as R

DEFAULT_KEYS = ("demo-key-1", "demo-key-2", "demo-key-3")
INSTRUMENT = 0  # BTC-USD: tick 0.01, lot 0.0001
MID = 9_000_000  # the reference price in ticks (90,000.00)
SPREAD = 50  # passive orders within this many ticks of MID
MAX_LIVE = 1000  # per client: above it a passive order becomes a cancel (keeps the book bounded)
HB_NS = 1_000_000_000
DRAIN_S = 10.0  # at the end: how long to wait for replies still in flight
HIST_MAX_NS = 60_000_000_000
_NOBLOCK, _EVENTS, _POLLIN = int(zmq.NOBLOCK), int(zmq.EVENTS), int(zmq.POLLIN)
ID_SHIFT = 40  # ids (req and cl_ord_id) of client i are (i + 1) << ID_SHIFT | n: never shared
SIDE_IDS = 1 << 39  # session traffic's ids (logon, heartbeats...): apart from the plan's
# Above this rate per client, a client groups what is due into one frame per AUTO_FRAME_US (as
# a throughput-minded client batches): a socket call and a wakeup per message cost more CPU than
# the message itself, and 4 clients at 25,000/s each would spend the venue's core on syscalls.
AUTO_FRAME_RATE = 10_000
AUTO_FRAME_US = 1000.0


def frame_us_for(rate_per_client: float, frame_us: float | None) -> float:
    """The frame interval a client uses: ``frame_us`` if given, else the automatic one."""
    if frame_us is not None:
        return frame_us
    return AUTO_FRAME_US if rate_per_client > AUTO_FRAME_RATE else 0.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:7001", help="the venue's endpoint")
    parser.add_argument("--clients", type=int, default=4, metavar="N", help="client processes")
    parser.add_argument(
        "--rate", type=float, default=10_000.0, metavar="R", help="messages/s, all clients"
    )
    parser.add_argument("--duration", type=float, default=10.0, metavar="S", help="seconds")
    parser.add_argument(
        "--keys",
        default=",".join(DEFAULT_KEYS),
        help="API keys, comma-separated; clients cycle over them (the demo keys)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="start the default venue in this process on a random loopback port",
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results")
    parser.add_argument(
        "--spin-us",
        type=int,
        default=0,
        metavar="US",
        help="a client busy-polls instead of sleeping when its next message is due within US "
        "microseconds (for latency runs: each client then holds a core)",
    )
    parser.add_argument(
        "--frame-us",
        type=float,
        default=None,
        metavar="US",
        help="a client sends at most one frame per US microseconds, with everything due in it "
        f"(default: {AUTO_FRAME_US:g} when a client's rate is above {AUTO_FRAME_RATE:,}/s, "
        "else 0: each message when it is due)",
    )
    parser.add_argument(
        "--no-pack",
        action="store_true",
        help="one message per frame both ways (default: the messages a client sends in one "
        "loop turn go in one packed frame, and the venue packs its replies)",
    )


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- one client (a child process) ---------------------------------------------------------------
class _Client:
    """One load client. The run's messages are planned before it starts (``prepare``): in an
    open loop what is sent never depends on the replies, so the whole schedule can be decided
    up front and the hot loop only encodes, sends, and matches replies to their schedule.

    Ids: message ``k`` of the plan has ``req = base | (k + 1)`` (and a new order the same
    ``cl_ord_id``), so a reply finds its scheduled time arithmetically, with no dict per
    message. Session traffic (logon, heartbeats, warm-up, finish) uses ``base | SIDE_IDS | n``.
    """

    def __init__(
        self,
        idx: int,
        endpoint: str,
        key: str,
        rate: float,
        seed: int,
        pack: bool = True,
        spin_us: int = 0,
        frame_us: float = 0.0,
    ) -> None:
        self.idx = idx
        self.spin_us = spin_us
        self.frame_ns = int(frame_us * 1000)
        self.key = key
        self.interval_ns = 1e9 / rate
        self.rng = random.Random(seed * 1_000_003 + idx)
        self.ctx: zmq.Context[Any] = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SNDHWM, 1_000_000)
        self.sock.setsockopt(zmq.RCVHWM, 1_000_000)
        self.sock.connect(endpoint)
        self.fd = cast(int, self.sock.getsockopt(zmq.FD))
        self.codec = P.client_codec()
        self.base = (idx + 1) << ID_SHIFT
        self.next_id = 1
        self.hist = HdrHistogram(1, HIST_MAX_NS, 3)
        # latencies (ns) of the measured phase, kept raw and put into the HDR histogram after the
        # run: hdrh's record_value is Python, a few microseconds a call on the hot path
        self.lat = array("q")
        self.pack = pack
        self.plan: list[Any] = []
        self.total = 0
        self.answered = bytearray()  # per planned message: its first reply came
        self.start_ns = 0
        self.rejects: dict[str, int] = {}
        self.sent = 0
        self.acked = 0  # answered by an ExecutionReport, CancelReject or MassCancelAck
        self.refused = 0  # answered by a BusinessReject
        self.sent_by_kind = {"new": 0, "cross": 0, "cancel": 0, "amend": 0}
        self.last_ack_ns = 0
        self.counting = False  # rejects and latencies are counted in the measured phase only
        self.finish_error = ""
        self.cpu_s = 0.0
        self.next_hb = time.monotonic_ns() + HB_NS

    # ids and sending
    def _id(self) -> int:
        i = self.base | SIDE_IDS | self.next_id
        self.next_id += 1
        return i

    def _send(self, msg: Any) -> None:
        self.sock.send(self.codec.encode(msg))

    def _recv_until(self, pred: Any, timeout: float) -> Any:
        end = time.monotonic() + timeout
        while True:
            self.heartbeat()
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"client {self.idx}: no expected reply within {timeout} s")
            if not self.sock.poll(int(min(left, 0.5) * 1000) + 1):
                continue
            for m in self.codec.decode_frame(self.sock.recv()):
                self._handle(m, time.monotonic_ns())
                if pred(m):
                    return m

    def heartbeat(self) -> None:
        """A Heartbeat when one is due (every second: the venue ends a silent session)."""
        now = time.monotonic_ns()
        if now >= self.next_hb:
            self._send(P.Heartbeat(req=self._id()))
            self.next_hb = now + HB_NS

    # replies
    def _reject(self, reason: int) -> None:
        if self.counting and reason:
            name = R.name(reason)
            self.rejects[name] = self.rejects.get(name, 0) + 1

    def _handle(self, m: Any, now: int) -> None:
        tp = type(m)
        k = m.req - self.base - 1
        if 0 <= k < self.total and not self.answered[k]:  # the first reply to planned msg k
            self.answered[k] = 1
            if tp is P.BusinessReject:
                self.refused += 1  # answered by the gateway, not the venue (RATE_LIMITED...)
            else:
                self.acked += 1
                self.last_ack_ns = now
            if self.counting:
                self.lat.append(now - self.start_ns - int(k * self.interval_ns))
        if tp is P.ExecutionReport:
            if m.exec_type == "rejected":
                self._reject(m.reason)
        elif tp is P.CancelReject:
            self._reject(m.reason)
        elif tp is P.BusinessReject:
            if m.reason != R.SESSION_ENDED:
                self._reject(m.reason)
        elif tp is P.LogonReject:
            raise RuntimeError(f"client {self.idx}: logon rejected: {m.text}")

    def wait(self, timeout: float) -> bool:
        """Sleep until a reply is readable or ``timeout`` seconds pass, with microsecond
        resolution (``zmq.poll`` counts whole milliseconds: at 10,000/s a client would either
        spin or oversleep). libzmq's FD is edge-triggered: check EVENTS before and after."""
        sock = self.sock
        if cast(int, sock.getsockopt(_EVENTS)) & _POLLIN:
            return True
        select.select([self.fd], [], [], timeout)
        return bool(cast(int, sock.getsockopt(_EVENTS)) & _POLLIN)

    def drain(self) -> None:
        sock, dec, handle = self.sock, self.codec.decode_frame, self._handle
        # EVENTS before each read: finding the queue empty by zmq.Again costs an exception
        while cast(int, sock.getsockopt(_EVENTS)) & _POLLIN:
            try:
                frame = sock.recv(_NOBLOCK)
            except zmq.Again:
                return
            now = time.monotonic_ns()
            for m in dec(frame):
                handle(m, now)

    # the plan
    def prepare(self, duration_s: float) -> None:
        """Decide every message of the run (``duration_s`` at this client's rate). O(messages),
        before the start signal, so it costs the measured phase nothing."""
        rng = self.rng
        total = int(duration_s * 1e9 / self.interval_ns)
        live: deque[tuple[int, Literal["buy", "sell"]]] = deque()  # GTC orders, oldest first
        plan: list[Any] = []
        by_kind = self.sent_by_kind
        for k in range(total):
            rid = self.base | (k + 1)
            u = rng.random()
            if live and (u < 0.30 or len(live) > MAX_LIVE):
                cl, _ = live.popleft()  # may have filled meanwhile: UNKNOWN_ORDER then
                plan.append(P.Cancel(req=rid, cl_ord_id=cl))
                by_kind["cancel"] += 1
                continue
            if live and 0.30 <= u < 0.33:
                cl, was = live.popleft()
                live.append((cl, was))  # still live: back in the queue
                sign = 1 if was == "buy" else -1
                px = MID - sign * rng.randint(1, SPREAD)
                plan.append(P.Amend(req=rid, cl_ord_id=cl, price_ticks=px))
                by_kind["amend"] += 1
                continue
            cross = 0.33 <= u < 0.43
            side: Literal["buy", "sell"] = "buy" if rng.random() < 0.5 else "sell"
            sign = 1 if side == "buy" else -1
            qty = rng.randint(1, 10)
            tif: Literal["gtc", "ioc"]
            if cross:  # through the touch on the other side: IOC, or a limit that may rest
                tif = "ioc" if rng.random() < 0.5 else "gtc"
                price = MID + sign * rng.randint(0, SPREAD)
            else:
                tif = "gtc"
                price = MID - sign * rng.randint(1, SPREAD)
            plan.append(
                P.NewOrder(req=rid, cl_ord_id=rid, instrument=INSTRUMENT, side=side,
                           qty_lots=qty, price_ticks=price, tif=tif)
            )  # fmt: skip
            by_kind["cross" if cross else "new"] += 1
            if tif == "gtc":
                live.append((rid, side))
        self.plan = plan
        self.total = total
        self.answered = bytearray(total)

    # phases
    def logon(self) -> None:
        self._send(P.Logon(req=self._id(), api_key=self.key, heartbeat_ms=1000, pack=self.pack))
        self._recv_until(lambda m: type(m) is P.LogonAck, 30.0)
        # warm-up: one far passive order and its cancel (the venue's first batch may be slow)
        cl = self._id()
        self._send(
            P.NewOrder(req=cl, cl_ord_id=cl, instrument=INSTRUMENT, side="buy", qty_lots=1,
                       price_ticks=MID - 5 * SPREAD)
        )  # fmt: skip
        self._send(P.Cancel(req=self._id(), cl_ord_id=cl))
        self._recv_until(lambda m: type(m) is P.ExecutionReport and m.exec_type == "cancelled",
                         30.0)  # fmt: skip
        self.drain()

    def run(self, start_ns: int, duration_ns: int, progress: Any) -> None:
        """Send the plan on schedule: every loop turn sends everything due (one packed frame,
        at most ``P.MAX_PACKED`` messages; no sooner than ``frame_ns`` after the last frame),
        reads every reply, then sleeps until the next message is due or a reply arrives."""
        self.counting = True
        self.start_ns = start_ns
        cpu0 = time.process_time()
        plan, total, interval = self.plan, self.total, self.interval_ns
        enc, enc_many, send = self.codec.encode, self.codec.encode_many, self.sock.send
        chunk = P.MAX_PACKED if self.pack else 1
        spin_ns, getsockopt = self.spin_us * 1000, self.sock.getsockopt
        frame_ns = self.frame_ns
        end = start_ns + duration_ns
        self.next_hb = start_ns + HB_NS
        next_prog = start_ns
        next_frame = 0  # the earliest time of the next frame (frame_ns after the last one)
        i = 0
        sock = self.sock
        clock = time.monotonic_ns
        while True:
            now = clock()
            if now >= next_prog:  # shared counters for the parent's progress line
                progress[2 * self.idx] = i
                progress[2 * self.idx + 1] = self.acked
                next_prog = now + 100_000_000
            if now >= self.next_hb:
                self._send(P.Heartbeat(req=self._id()))
                self.next_hb += HB_NS
            if i >= total and now >= end:
                break
            due = min(total, int((now - start_ns) / interval) + 1)
            if due > i and now >= next_frame:
                j = min(due, i + chunk)
                send(enc_many(plan[i:j]) if j - i > 1 else enc(plan[i]))
                next_frame = now + frame_ns
                i = j
                self.sent = i
                self.drain()
                if i < due and not frame_ns:
                    continue  # still behind: the next frame at once
            else:
                self.drain()
            if i >= total:
                wait_ns = end - clock()
            else:
                wait_ns = max(start_ns + int(i * interval), next_frame) - clock()
            if wait_ns <= 0:
                continue
            if wait_ns < spin_ns:  # busy-poll: a sleeping process wakes 50-100 us late on a VM
                until = clock() + wait_ns
                while clock() < until and not getsockopt(_EVENTS) & _POLLIN:  # type: ignore[operator]
                    pass
                self.drain()
            elif self.wait(wait_ns / 1e9):
                self.drain()
        # wait for the replies still in flight (at most DRAIN_S), then stop measuring
        deadline = time.monotonic_ns() + int(DRAIN_S * 1e9)
        while self.acked + self.refused < total and time.monotonic_ns() < deadline:
            self.heartbeat()
            if sock.poll(50):
                self.drain()
            progress[2 * self.idx + 1] = self.acked
        self.counting = False
        self.cpu_s = time.process_time() - cpu0
        progress[2 * self.idx] = self.sent
        progress[2 * self.idx + 1] = self.acked

    def finish(self) -> None:
        """Mass cancel and log out. A venue too backlogged to answer is noted, not fatal."""
        try:
            self._send(P.MassCancel(req=self._id(), instrument=-1))
            self._recv_until(lambda m: type(m) is P.MassCancelAck, DRAIN_S)
            self._send(P.Logout(req=self._id()))
            self._recv_until(
                lambda m: type(m) is P.BusinessReject and m.reason == R.SESSION_ENDED, DRAIN_S
            )
        except TimeoutError as e:
            self.finish_error = str(e)
        finally:
            self.sock.close(linger=0)
            self.ctx.term()

    def _histogram(self) -> HdrHistogram:
        record = self.hist.record_value
        for ns in self.lat:
            record(max(1, min(ns, HIST_MAX_NS)))
        self.lat = array("q")
        return self.hist

    def result(self) -> dict[str, Any]:
        return {
            "idx": self.idx,
            "sent": self.sent,
            "acked": self.acked,
            "unanswered": self.sent - self.acked - self.refused,
            "refused": self.refused,
            "sent_by_kind": self.sent_by_kind,
            "rejects": self.rejects,
            "last_ack_ns": self.last_ack_ns,
            "finish_error": self.finish_error,
            "cpu_s": round(self.cpu_s, 3),  # the measured phase's only
            "hist": self._histogram().encode(),
        }


def _client_main(
    idx: int,
    endpoint: str,
    key: str,
    rate: float,
    seed: int,
    duration: float,
    ready: Any,
    go: Any,
    start_ns: Any,
    progress: Any,
    results: Any,
    pack: bool = True,
    spin_us: int = 0,
    frame_us: float = 0.0,
) -> None:
    """One client process: logon and warm-up, wait for the common start, run, report."""
    try:
        c = _Client(idx, endpoint, key, rate, seed, pack, spin_us, frame_us)
        c.prepare(duration)
        c.logon()
        gc.collect()
        gc.freeze()  # the plan and the imports: no collection of the run walks them again
        ready.put(idx)
        deadline = time.monotonic() + 120
        while not go.wait(0.2):  # others still logging on: keep this session alive
            c.heartbeat()
            c.drain()
            if time.monotonic() > deadline:
                raise TimeoutError("no start signal")
        c.run(int(start_ns.value), int(duration * 1e9), progress)
        c.finish()
        results.put(c.result())
    except BaseException as e:
        results.put({"idx": idx, "error": f"{type(e).__name__}: {e}"})
        ready.put(idx)


# --- the parent ---------------------------------------------------------------------------------
def _percentiles(hist: HdrHistogram) -> dict[str, float]:
    out = {}
    for key, p in (("p50_us", 50.0), ("p90_us", 90.0), ("p99_us", 99.0), ("p999_us", 99.9)):
        out[key] = round(hist.get_value_at_percentile(p) / 1000, 1)
    out["max_us"] = round(hist.get_max_value() / 1000, 1)
    return out


def run(args: argparse.Namespace) -> int:
    keys = [k.strip() for k in args.keys.split(",") if k.strip()]
    if args.clients < 1 or args.rate <= 0 or args.duration <= 0 or not keys:
        _log("loadtest: --clients >= 1, --rate > 0, --duration > 0 and a key are required")
        return 2
    if (args.frame_us is not None and args.frame_us < 0) or args.spin_us < 0:
        _log("loadtest: --frame-us and --spin-us are microseconds: 0 or more")
        return 2
    server = None
    endpoint = args.endpoint
    if args.embedded:
        _log("loadtest: starting the embedded venue (the first run compiles the kernels)")
        from gateway.server import demo_venue

        server, _ = demo_venue()
        endpoint = server.bind("tcp://127.0.0.1:*")
        server.start()
    try:
        return _run(args, endpoint, keys)
    finally:
        if server is not None:
            server.stop()


def _run(args: argparse.Namespace, endpoint: str, keys: list[str]) -> int:
    n = args.clients
    ctx = mp.get_context("spawn")  # never fork a process that runs the venue's threads
    ready, results = ctx.Queue(), ctx.Queue()
    go = ctx.Event()
    start_ns = ctx.Value("q", 0, lock=False)
    progress = ctx.Array("q", 2 * n, lock=False)
    procs = [
        ctx.Process(
            target=_client_main,
            args=(
                i,
                endpoint,
                keys[i % len(keys)],
                args.rate / n,
                args.seed,
                args.duration,
                ready,
                go,
                start_ns,
                progress,
                results,
                not args.no_pack,
                args.spin_us,
                frame_us_for(args.rate / n, args.frame_us),
            ),
            daemon=True,
        )
        for i in range(n)
    ]
    for p in procs:
        p.start()
    _log(f"loadtest: {n} client(s) logging on to {endpoint}")
    try:
        for _ in range(n):
            ready.get(timeout=120)
        start_ns.value = time.monotonic_ns() + 200_000_000
        cpu0 = time.process_time()
        go.set()
        t0 = start_ns.value
        next_line = t0 + 1_000_000_000
        prev_acked, prev_t = 0, t0
        out: dict[int, dict[str, Any]] = {}
        hard_end = t0 + int((args.duration + 60) * 1e9)
        while len(out) < n:
            try:
                r = results.get(timeout=0.05)
                out[r["idx"]] = r
            except Exception:
                pass
            now = time.monotonic_ns()
            if now >= next_line:
                sent = sum(progress[0::2])
                acked = sum(progress[1::2])
                rate = (acked - prev_acked) / ((now - prev_t) / 1e9)
                _log(
                    f"  {(now - t0) / 1e9:5.1f} s  sent {sent:>10,}  acked {acked:>10,}  "
                    f"{rate:>10,.0f} acked/s"
                )
                prev_acked, prev_t = acked, now
                next_line += 1_000_000_000
            if now > hard_end:
                raise TimeoutError("clients did not finish in time")
            if len(out) < n and not any(p.is_alive() for p in procs) and results.empty():
                time.sleep(0.2)
                if results.empty():
                    raise RuntimeError("client processes exited without a result")
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
    parent_cpu = time.process_time() - cpu0
    errors = [f"client {i}: {r['error']}" for i, r in sorted(out.items()) if "error" in r]
    if errors:
        for e in errors:
            _log("loadtest: " + e)
        return 1
    for i, r in sorted(out.items()):
        if r["finish_error"]:
            _log(f"loadtest: client {i}: mass cancel / logout unanswered: {r['finish_error']}")
    return _report(args, endpoint, list(out.values()), int(start_ns.value), parent_cpu)


def _report(
    args: argparse.Namespace,
    endpoint: str,
    res: list[dict[str, Any]],
    start_ns: int,
    parent_cpu: float,
) -> int:
    hist = HdrHistogram(1, HIST_MAX_NS, 3)
    rejects: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    for r in res:
        hist.decode_and_add(r["hist"])
        for k, v in r["rejects"].items():
            rejects[k] = rejects.get(k, 0) + v
        for k, v in r["sent_by_kind"].items():
            by_kind[k] = by_kind.get(k, 0) + v
    sent = sum(r["sent"] for r in res)
    acked = sum(r["acked"] for r in res)
    last = max(r["last_ack_ns"] for r in res)
    window = max(args.duration, (last - start_ns) / 1e9)
    summary: dict[str, Any] = {
        "name": "loadtest",
        "endpoint": endpoint,
        "embedded": bool(args.embedded),
        "clients": args.clients,
        "rate": args.rate,
        "packed": not args.no_pack,
        "client_spin_us": args.spin_us,
        "client_frame_us": frame_us_for(args.rate / args.clients, args.frame_us),
        "duration": args.duration,
        "sent": sent,
        "acked": acked,
        "refused": sum(r["refused"] for r in res),
        "unanswered": sum(r["unanswered"] for r in res),
        "acked_per_s": round(acked / window, 1),
        "sent_by_kind": by_kind,
        "seconds": round(window, 3),
        # CPU seconds: each client process (whole life), and this process during the run (with
        # --embedded that is the venue's loop thread: its share of the 2 cores tells the story)
        "client_cpu_s": [round(r["cpu_s"], 2) for r in sorted(res, key=lambda r: r["idx"])],
        "venue_cpu_s": round(parent_cpu, 2) if args.embedded else None,
        **_percentiles(hist),
        "rejects": dict(sorted(rejects.items())),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    summary["machine"] = machine_info()
    rej = ", ".join(f"{k} {v}" for k, v in summary["rejects"].items()) or "none"
    print(
        f"loadtest: {args.clients} client(s) at {args.rate:,.0f}/s for {args.duration:g} s on "
        f"{endpoint}: sent {sent:,}, acked {acked:,} ({summary['acked_per_s']:,.0f}/s), "
        f"refused {summary['refused']:,}, unanswered {summary['unanswered']:,}, "
        f"latency p50 {summary['p50_us']:,} us, p90 {summary['p90_us']:,} us, "
        f"p99 {summary['p99_us']:,} us, p99.9 {summary['p999_us']:,} us, "
        f"max {summary['max_us']:,} us; rejects: {rej}",
        flush=True,
    )
    publish(summary, "loadtest", write=not args.no_write, as_json=args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="venue loadtest", description=__doc__.split("\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
