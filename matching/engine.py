"""``Engine``: the numba matching engine for any number of instruments.

The batch path is ``process_into(commands, events) -> (n_events, events)``: one kernel call per
batch, no per-command Python. ``process`` (and every convenience method of ``EngineBase``) goes
through the same kernel. Capacity grows by reallocation between commands (``state.grow``),
never by failing an order, unless ``max_orders`` caps the live orders on purpose.

Cost of an idle instrument: one INSTRUMENT_DTYPE row (~96 bytes) and four sentinel levels
(~4 x 88 bytes); 10,000 instruments start in well under a second.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from matching.api import FIELD_BOUNDS, FIELDS, BookView, EngineBase, Level, check_fields
from matching.engine_check import check_state
from matching.instruments import Instrument, fill_row, instrument_table
from matching.levels_nb import init_instrument_nb
from matching.process_nb import (
    BAD_FIELD,
    NEED_CAPACITY,
    STATUS_OK,
    process_desc_nb,
    process_fields_nb,
)
from matching.query_nb import depth_nb, dump_nb, position_nb
from matching.records import (
    COMMAND_DTYPE,
    DUMP_DTYPE,
    EVENT_DTYPE,
    INSTRUMENT_DTYPE,
)
from matching.state import (
    C_LUSED,
    C_NEED,
    C_NEV,
    C_NEXT_SEQ,
    C_NOW,
    C_NSTOPS,
    C_OUSED,
    BookState,
    descriptor,
    grow,
    new_state,
)
from matching.tables_nb import rehash_nb
from matching.view_nb import StatePtr

_EV_SIZE = EVENT_DTYPE.itemsize


def _init_instruments(st: BookState, ids: Iterable[int]) -> BookState:
    ids = list(ids)
    need = 4 * len(ids)
    if len(st.levels) - int(st.ctr[C_LUSED]) < need + 8:
        st = grow(st, rehash_nb, need + int(st.ctr[C_NSTOPS]))
    desc = descriptor(st)
    sp = StatePtr(int(desc.ctypes.data))
    for i in ids:
        init_instrument_nb(sp, i)
    return st


class Engine(EngineBase):
    """Price-time priority books for many instruments, matched by numba kernels.

    ``Engine(instruments, max_orders=0, capacity=1024)``: ``capacity`` is the initial order pool
    (it grows as needed); ``max_orders`` > 0 rejects new orders with CAPACITY_EXHAUSTED beyond
    that many live orders.
    """

    def __init__(
        self,
        instruments: Iterable[Instrument] = (),
        *,
        max_orders: int = 0,
        capacity: int = 1024,
        event_capacity: int = 4096,
    ) -> None:
        insts = list(instruments)
        self.instruments: dict[int, Instrument] = {i.id: i for i in insts}
        table = instrument_table(insts)
        st = new_state(table, capacity, max_orders)
        self._set_state(_init_instruments(st, (i.id for i in insts)))
        self._adopt_events(np.zeros(event_capacity, dtype=EVENT_DTYPE))
        self._f = np.zeros(len(FIELDS), dtype=np.int64)  # the per-command path's field values
        self._cmd1 = np.zeros(1, dtype=COMMAND_DTYPE)
        super().__init__()  # after the state: next_seq / now_ns live in its counters

    def _adopt_events(self, buf: np.ndarray) -> None:
        # the per-command path's own buffer, with its address and a byte view kept ready
        self._ev = buf
        self._ev_addr = int(buf.ctypes.data)
        self._ev_u8 = buf.view(np.uint8)
        self._desc_ev = -1  # a new buffer may reuse an old one's address: point again

    def _set_state(self, st: BookState) -> None:
        # the descriptor holds raw addresses: it must be rebuilt whenever an array changes
        self._st = st
        self._desc = descriptor(st)
        self._desc_ev = -1  # address of the event buffer the descriptor names (-1: none)
        self._sp = StatePtr(int(self._desc.ctypes.data))

    # --- instruments -----------------------------------------------------------------------
    def add_instrument(self, inst: Instrument) -> None:
        """Define one more instrument (its id must be new). O(number of instrument ids)."""
        if inst.id in self.instruments:
            raise ValueError(
                f"instrument id {inst.id} is already {self.instruments[inst.id].symbol}"
            )
        st = self._st
        if inst.id >= len(st.inst):
            table = np.zeros(inst.id + 1, dtype=INSTRUMENT_DTYPE)
            table["hdr"] = -1
            table[: len(st.inst)] = st.inst
            st = st._replace(inst=table)
        fill_row(st.inst[inst.id : inst.id + 1], inst)
        self._set_state(_init_instruments(st, [inst.id]))
        self.instruments[inst.id] = inst

    # --- processing ------------------------------------------------------------------------
    def process_into(self, commands: np.ndarray, events: np.ndarray) -> tuple[int, np.ndarray]:
        """Run a batch; events go to ``events`` from index 0, or to a larger buffer that
        replaces it when the batch needs more room (returned). Returns (number of events,
        buffer). Commands with seq 0 are stamped by the kernel (``EngineBase._stamp``); the
        array is not modified. One kernel call per batch unless the state or buffer grows.

        Growth is cheap in memory: buffers come from ``np.zeros``, whose pages the OS maps
        only when written, so reserving a deep book's worst case costs address space only."""
        if commands.dtype is not COMMAND_DTYPE and commands.dtype != COMMAND_DTYPE:
            raise TypeError(f"commands must be COMMAND_DTYPE records, not {commands.dtype}")
        if events.dtype != EVENT_DTYPE or not events.flags.c_contiguous:
            raise TypeError("events must be a contiguous EVENT_DTYPE array")
        return self._run(commands, events, int(events.ctypes.data))

    def _run(self, commands: np.ndarray, out: np.ndarray, addr: int) -> tuple[int, np.ndarray]:
        ctr = self._st.ctr
        d = self._desc
        ctr[C_NEV] = 0
        # the descriptor's last pair names the event buffer of this call; compare the length
        # too, since a new buffer may reuse a freed one's address
        if self._desc_ev != addr or d[-1] != len(out):
            self._point_descriptor(out)
        status, done = process_desc_nb(d, commands)
        if status != STATUS_OK:
            out = self._resume(status, int(done), commands, out)
        return int(ctr[C_NEV]), out

    def _resume(self, status: int, done: int, commands: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Grow what the kernel asked for and go on from command ``done``, keeping the events
        already written (expiry may have written some before a stop). Returns the buffer."""
        ctr = self._st.ctr
        while status != STATUS_OK:
            if status == NEED_CAPACITY:
                self._set_state(grow(self._st, rehash_nb, int(ctr[C_NSTOPS])))
            else:  # NEED_EVENTS: keep what was written, in a buffer that fits the next command
                n = int(ctr[C_NEV])
                bigger = np.zeros(max(2 * len(out), int(ctr[C_NEED]), 1024), dtype=EVENT_DTYPE)
                bigger[:n] = out[:n]
                out = bigger
            self._point_descriptor(out)
            status, k = process_desc_nb(self._desc, commands[done:])
            done += int(k)
        return out

    def _send(self, vals: list[int]) -> np.ndarray:
        """``EngineBase._send`` without building a record in Python: the values go to an int64
        array that ``process_fields_nb`` range-checks and writes into the record (~3 us per
        command from Python, against ~10 us through a numpy record)."""
        try:
            self._f[:] = vals
        except OverflowError:  # beyond int64: say which field, as for the narrower ones
            check_fields(vals)
            raise
        if self._desc_ev != self._ev_addr:
            self._point_descriptor(self._ev)
        status, done, n = process_fields_nb(self._desc, self._f, self._cmd1)
        if status == BAD_FIELD:
            lo, hi = FIELD_BOUNDS[done]
            # the record field would truncate it: refuse rather than remap it
            raise ValueError(
                f"{FIELDS[done]}={vals[done]} does not fit the command record ({lo}..{hi})"
            )
        if status != STATUS_OK:
            buf = self._resume(status, int(done), self._cmd1, self._ev)
            if buf is not self._ev:
                self._adopt_events(buf)
            n = self._st.ctr[C_NEV]
        return np.frombuffer(self._ev_u8[: int(n) * _EV_SIZE].copy(), dtype=EVENT_DTYPE)

    def _point_descriptor(self, buf: np.ndarray) -> None:
        # the descriptor's last pair names the event buffer the kernel writes to
        self._desc[-2] = buf.ctypes.data
        self._desc[-1] = len(buf)
        self._desc_ev = int(self._desc[-2]) if len(buf) else -1

    def process(self, commands: np.ndarray) -> np.ndarray:
        """Run commands (stamping those with seq 0) and return their events as a new array.
        The cheapest per-command path from Python: one kernel call, one copy of the events."""
        n, buf = self._run(commands, self._ev, self._ev_addr)
        if buf is not self._ev:
            self._adopt_events(buf)
        # copy as raw bytes: numpy copies structured records field by field, 7x slower
        return np.frombuffer(self._ev_u8[: n * _EV_SIZE].copy(), dtype=EVENT_DTYPE)

    @property
    def next_seq(self) -> int:
        """Sequence number the next unstamped command will get."""
        return int(self._st.ctr[C_NEXT_SEQ])

    @next_seq.setter
    def next_seq(self, value: int) -> None:
        self._st.ctr[C_NEXT_SEQ] = value

    @property
    def now_ns(self) -> int:
        """Engine time: the largest command timestamp so far."""
        return int(self._st.ctr[C_NOW])

    @now_ns.setter
    def now_ns(self, value: int) -> None:
        self._st.ctr[C_NOW] = max(int(self._st.ctr[C_NOW]), value)

    # --- queries ---------------------------------------------------------------------------
    def book(self, instrument: int, depth: int = 10) -> BookView:
        """Visible depth, ``depth`` levels per side. O(depth)."""
        if instrument not in self.instruments:
            raise KeyError(f"unknown instrument {instrument}")
        out = np.zeros((max(depth, 1), 3), dtype=np.int64)
        sides = []
        for bside in (0, 1):
            k = depth_nb(self._sp, instrument, bside, depth, out)
            sides.append([Level(int(p), int(q), int(c)) for p, q, c in out[:k]])
        return BookView(instrument, sides[0], sides[1])

    def dump(self) -> np.ndarray:
        """Live orders in canonical priority order (DUMP_DTYPE). O(orders)."""
        out = np.zeros(int(self._st.ctr[C_OUSED]), dtype=DUMP_DTYPE)
        n = dump_nb(self._sp, out)
        return out[:n]

    def status_table(self) -> np.ndarray:
        inst = self._st.inst
        t = np.zeros((len(inst), 3), dtype=np.int64)
        t[:, 0] = inst["last_price_ticks"]
        t[:, 1] = inst["trade_count"]
        t[:, 2] = inst["halted"]
        return t

    def position(self, account: int, instrument: int) -> int:
        return int(position_nb(self._sp, account, instrument))

    def live_orders(self) -> int:
        """Resting orders plus pending stops. O(1)."""
        return int(self._st.ctr[C_OUSED])

    def check_invariants(self) -> None:
        """Walk every structure and raise AssertionError on the first inconsistency.
        O(capacity): for tests and audits, not the hot path."""
        check_state(self._st)

    @property
    def state_ptr(self) -> StatePtr:
        """The state as kernels take it (addresses): valid until the next command grows it."""
        return self._sp

    @property
    def state(self) -> BookState:
        """The raw arrays (read-only use: snapshots, audits)."""
        return self._st
