"""``Exchange``: the numba engine with clearing in its pipeline: risk hold -> match -> settle.

``Exchange(instruments, config)`` owns an ``Engine`` and the clearing arrays. Its batch path
``process_into(commands, events, ledger)`` runs one pipeline kernel per batch
(``clearing.pipeline_nb``); the kernel stops only to grow a pool or buffer, and at clearing
commands (deposits, marks, funding, expiry, account status), which ``clearing.admin`` runs in
Python on the same arrays. Every convenience method of ``EngineBase`` (``limit``, ``cancel``,
...) goes through the same path, and so do ``deposit``, ``withdraw``, ``set_mark``, ``funding``,
``settle`` and ``set_account``.

Queries: ``balance``, ``margin``, ``position``, ``pool``, ``sys_balance``, ``totals``; the ledger
of everything processed is kept in memory (``ledger()``) unless ``keep_ledger=False``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from clearing import admin
from clearing.config import ClearingConfig, instrument_rows
from clearing.invariants import check_clearing
from clearing.pipeline_nb import (
    MODE_CLIENT,
    NEED_ADMIN,
    NEED_HOLDS,
    NEED_LEDGER,
    NEED_ROWS,
    pipeline_desc_nb,
)
from clearing.records import LEDGER_DTYPE, N_SYS, SYS_POOL
from clearing.state import (
    K_MAX_ACCOUNT,
    K_NA,
    K_NEED,
    K_NI,
    K_NLED,
    K_ROWS,
    ClearState,
    descriptor,
    grow_holds,
    grow_rows,
    new_clear_state,
)
from matching.api import FIELDS, BookView, EngineBase
from matching.engine import Engine
from matching.instruments import Instrument
from matching.process_nb import NEED_CAPACITY, NEED_EVENTS, STATUS_OK
from matching.records import (
    CMD_ACCOUNT,
    CMD_DEPOSIT,
    CMD_FUNDING,
    CMD_SET_MARK,
    CMD_SETTLE,
    CMD_WITHDRAW,
    COMMAND_DTYPE,
    EVENT_DTYPE,
)
from matching.state import C_NEED, C_NEV, C_NSTOPS, grow
from matching.tables_nb import rehash_nb

_EV_SIZE = EVENT_DTYPE.itemsize


class Exchange(EngineBase):
    """Books and accounts: every command is risk-checked, matched and settled in one kernel
    pass. ``max_account`` bounds account ids (larger ones are rejected INVALID_ACCOUNT)."""

    def __init__(
        self,
        instruments: Iterable[Instrument] = (),
        config: ClearingConfig | None = None,
        *,
        capacity: int = 1024,
        event_capacity: int = 4096,
        ledger_capacity: int = 16384,
        max_account: int = 1_000_000,
        keep_ledger: bool = True,
    ) -> None:
        insts = list(instruments)
        self.config = config or ClearingConfig()
        self.instruments: dict[int, Instrument] = {i.id: i for i in insts}
        self.engine = Engine(insts, capacity=capacity, event_capacity=event_capacity)
        rows = instrument_rows(self.config, insts)
        self.cs: ClearState = new_clear_state(rows, len(self.config.assets))
        self.cs.ctr[K_MAX_ACCOUNT] = max_account
        self._ledger_buf = np.zeros(ledger_capacity, dtype=LEDGER_DTYPE)
        self._rebuild()
        self.keep_ledger = keep_ledger
        self._ledger_parts: list[np.ndarray] = []
        self.transfers: dict[tuple[int, int], tuple[int, int, int]] = {}
        self._out = self.engine._ev  # the event buffer of the call in flight
        self._pointed: np.ndarray | None = None  # the buffer process_into last pointed at
        self._pointed_addr = -1
        self._cmd_kind = 0  # kind of the clearing command in flight (for its events)
        admin.schedule_funding(self)

    # --- plumbing --------------------------------------------------------------------------
    def _rebuild(self) -> None:
        """The clearing descriptor names raw addresses: rebuild after any reallocation."""
        self._cdesc = descriptor(self.cs, self._ledger_buf)

    def _set_clear(self, cs: ClearState) -> None:
        self.cs = cs
        self._rebuild()

    @property
    def next_seq(self) -> int:
        return self.engine.next_seq

    @next_seq.setter
    def next_seq(self, value: int) -> None:
        self.engine.next_seq = value

    @property
    def now_ns(self) -> int:
        return self.engine.now_ns

    @now_ns.setter
    def now_ns(self, value: int) -> None:
        self.engine.now_ns = value

    def ensure_events(self, extra: int) -> None:
        """Room for ``extra`` more events in the buffer of the call in flight. O(1) or a copy."""
        ctr = self.engine.state.ctr
        n = int(ctr[C_NEV])
        if n + extra > len(self._out):
            self._grow_events(n + extra)

    def _grow_events(self, want: int) -> None:
        n = int(self.engine.state.ctr[C_NEV])
        bigger = np.zeros(max(2 * len(self._out), want, 1024), dtype=EVENT_DTYPE)
        bigger[:n] = self._out[:n]
        self._out = bigger
        self.engine._point_descriptor(bigger)

    def ensure_ledger(self, extra: int) -> None:
        """Room for ``extra`` more ledger entries in this call's buffer. O(1) or a copy."""
        n = int(self.cs.ctr[K_NLED])
        if n + extra > len(self._ledger_buf):
            bigger = np.zeros(max(2 * len(self._ledger_buf), n + extra), dtype=LEDGER_DTYPE)
            bigger[:n] = self._ledger_buf[:n]
            self._ledger_buf = bigger
            self._rebuild()

    def handle_stop(self, status: int) -> None:
        """Grow whatever the kernel stopped for (any status but NEED_ADMIN)."""
        ectr = self.engine.state.ctr
        if status == NEED_CAPACITY:
            self.engine._set_state(grow(self.engine.state, rehash_nb, int(ectr[C_NSTOPS])))
            self.engine._point_descriptor(self._out)
        elif status == NEED_EVENTS:
            self._grow_events(int(ectr[C_NEED]))
        elif status == NEED_LEDGER:
            self.ensure_ledger(int(self.cs.ctr[K_NEED]) - int(self.cs.ctr[K_NLED]))
        elif status == NEED_ROWS:
            self._set_clear(grow_rows(self.cs, int(self.cs.ctr[K_NEED])))
        elif status == NEED_HOLDS:
            self._set_clear(grow_holds(self.cs, rehash_nb))
        else:
            raise RuntimeError(f"pipeline stopped with unknown status {status}")

    # --- processing ------------------------------------------------------------------------
    def process_into(
        self, commands: np.ndarray, events: np.ndarray
    ) -> tuple[int, np.ndarray, int, np.ndarray]:
        """Run a batch through risk, matching and settlement. Events go to ``events`` (or a
        larger buffer that replaces it, returned); ledger entries to clearing's buffer, returned
        as the last two values (count, buffer: valid until the next call). One kernel call per
        batch unless something grows or a clearing command needs Python."""
        if commands.dtype != COMMAND_DTYPE:
            raise TypeError(f"commands must be COMMAND_DTYPE records, not {commands.dtype}")
        if events.dtype != EVENT_DTYPE or not events.flags.c_contiguous:
            raise TypeError("events must be a contiguous EVENT_DTYPE array")
        commands = np.ascontiguousarray(commands)
        eng = self.engine
        ectr = eng.state.ctr
        ectr[C_NEV] = 0
        self.cs.ctr[K_NLED] = 0
        self._out = events
        # pointing the descriptor costs a ctypes object (~4 us): only when the buffer changed
        # or something else (the per-command path, a grown state) pointed it elsewhere since
        if events is not self._pointed or eng._desc_ev != self._pointed_addr:
            eng._point_descriptor(events)
            self._pointed, self._pointed_addr = events, eng._desc_ev
        done = 0
        total = len(commands)
        while done < total:
            status, k = pipeline_desc_nb(eng._desc, self._cdesc, commands[done:], MODE_CLIENT)
            done += int(k)
            if status == STATUS_OK:
                break
            if status == NEED_ADMIN:
                if admin.run(self, commands[done : done + 1]):
                    done += 1
            else:
                self.handle_stop(int(status))
        n_led = int(self.cs.ctr[K_NLED])
        if n_led:  # an account bankrupt with no exposure left: the insurance fund covers it
            admin.cover_bankrupt(self, n_led)
            n_led = int(self.cs.ctr[K_NLED])
        if self.keep_ledger and n_led:
            self._ledger_parts.append(self._ledger_buf[:n_led].copy())
        return int(ectr[C_NEV]), self._out, n_led, self._ledger_buf

    def process(self, commands: np.ndarray) -> np.ndarray:
        """Run commands and return their events as a new array (the ledger is kept)."""
        n, buf, _nl, _l = self.process_into(commands, self.engine._ev)
        if buf is not self.engine._ev:
            self.engine._adopt_events(buf)
        return np.frombuffer(buf.view(np.uint8)[: n * _EV_SIZE].copy(), dtype=EVENT_DTYPE)

    def _send(self, vals: list[int]) -> np.ndarray:
        rec = np.zeros(1, dtype=COMMAND_DTYPE)
        for name, v in zip(FIELDS, vals, strict=True):
            if v:
                rec[name] = v
        return self.process(rec)

    # --- clearing commands -----------------------------------------------------------------
    def deposit(self, account: int, asset: int | str, amount: int, transfer_id: int) -> np.ndarray:
        """Credit ``amount`` units; repeating a transfer id changes nothing."""
        return self._transfer(CMD_DEPOSIT, account, asset, amount, transfer_id)

    def withdraw(self, account: int, asset: int | str, amount: int, transfer_id: int) -> np.ndarray:
        """Debit ``amount`` units if available (else REJECTED INSUFFICIENT_BALANCE)."""
        return self._transfer(CMD_WITHDRAW, account, asset, amount, transfer_id)

    def _transfer(
        self, kind: int, account: int, asset: int | str, amount: int, transfer_id: int
    ) -> np.ndarray:
        a = self.config.asset_index(asset) if isinstance(asset, str) else asset
        return self._one(
            kind, None, account=account, instrument=a, qty_lots=amount, order_id=transfer_id
        )

    def set_mark(self, instrument: int, index_ticks: int, banded_mid: bool = False) -> np.ndarray:
        """Set the mark price (= index, or the book mid clamped to the index band)."""
        return self._one(
            CMD_SET_MARK,
            None,
            instrument=instrument,
            price_ticks=index_ticks,
            flags=1 if banded_mid else 0,
        )

    def funding(self, instrument: int, ts_ns: int | None = None) -> np.ndarray:
        """Pay one funding of a perpetual now."""
        return self._one(CMD_FUNDING, ts_ns, instrument=instrument)

    def settle(self, instrument: int, price_ticks: int, ts_ns: int | None = None) -> np.ndarray:
        """Expire a future or option at a settlement price (option: underlying ticks)."""
        return self._one(CMD_SETTLE, ts_ns, instrument=instrument, price_ticks=price_ticks)

    def set_account(self, account: int, disabled: bool) -> np.ndarray:
        """Disable (only cancels accepted) or enable an account."""
        return self._one(CMD_ACCOUNT, None, account=account, flags=1 if disabled else 0)

    # --- queries ---------------------------------------------------------------------------
    def _row(self, account: int, asset: int) -> int:
        return account * int(self.cs.ctr[K_NA]) + asset

    def balance(self, account: int, asset: int) -> tuple[int, int]:
        """(total, held) of an account (or SYS_EXTERNAL / SYS_FEES / SYS_INSURANCE). O(1)."""
        if account < 0:
            if account == SYS_POOL:
                raise ValueError("the POOL is per instrument: use pool(instrument)")
            return int(self.cs.sysbal[(-account - 1) * int(self.cs.ctr[K_NA]) + asset]), 0
        if account >= int(self.cs.ctr[K_ROWS]):
            return 0, 0
        k = self._row(account, asset)
        return int(self.cs.bal[k]), int(self.cs.held[k])

    def margin(self, account: int, asset: int) -> dict[str, int]:
        """equity, initial, maintenance, held and available of one account in one asset."""
        if account >= int(self.cs.ctr[K_ROWS]):
            return dict.fromkeys(("equity", "initial", "maintenance", "held", "available"), 0)
        k = self._row(account, asset)
        cs = self.cs
        equity = int(cs.bal[k]) + int(cs.val[k])
        return {
            "equity": equity,
            "initial": int(cs.im[k]),
            "maintenance": int(cs.mm[k]),
            "held": int(cs.held[k]),
            "available": equity - int(cs.im[k]) - int(cs.held[k]),
        }

    def position(self, account: int, instrument: int) -> int:
        """Net position in lots (clearing's; the engine keeps an equal copy). O(1)."""
        if account >= int(self.cs.ctr[K_ROWS]) or account < 1:
            return 0
        return int(self.cs.pos[account * int(self.cs.ctr[K_NI]) + instrument])

    def position_cost(self, account: int, instrument: int) -> tuple[int, int]:
        """(position lots, signed cost in ticks x lots); average entry = cost / position."""
        if account >= int(self.cs.ctr[K_ROWS]) or account < 1:
            return 0, 0
        k = account * int(self.cs.ctr[K_NI]) + instrument
        return int(self.cs.pos[k]), int(self.cs.cost[k])

    def pool(self, instrument: int) -> int:
        return int(self.cs.pool[instrument])

    def sys_balance(self, account: int, asset: int) -> int:
        return int(self.cs.sysbal[(-account - 1) * int(self.cs.ctr[K_NA]) + asset])

    def accounts(self) -> list[int]:
        """Client account ids with any balance, hold or position. O(rows)."""
        cs = self.cs
        rows = int(cs.ctr[K_ROWS])
        na, ni = int(cs.ctr[K_NA]), int(cs.ctr[K_NI])
        busy = (cs.bal.reshape(rows, na) != 0).any(1) | (cs.held.reshape(rows, na) != 0).any(1)
        if ni:
            busy |= (cs.pos.reshape(rows, ni) != 0).any(1)
        busy[0] = False
        return [int(a) for a in np.flatnonzero(busy)]

    def totals(self) -> list[dict[str, int | str]]:
        """Per asset: client totals, held, FEES, INSURANCE, POOLs, EXTERNAL and their sum
        (zero by conservation). O(rows)."""
        cs = self.cs
        na = int(cs.ctr[K_NA])
        rows = int(cs.ctr[K_ROWS])
        bal = cs.bal.reshape(rows, na)
        held = cs.held.reshape(rows, na)
        out: list[dict[str, int | str]] = []
        for k, asset in enumerate(self.config.assets):
            pools = sum(
                int(cs.pool[i])
                for i in range(int(cs.ctr[K_NI]))
                if cs.inst[i]["defined"] and int(cs.inst[i]["settle_asset"]) == k
            )
            sysb = [int(cs.sysbal[s * na + k]) for s in range(N_SYS)]
            accounts = int(bal[:, k].sum())
            out.append(
                {
                    "asset": asset.code,
                    "accounts": accounts,
                    "held": int(held[:, k].sum()),
                    "fees": sysb[1],
                    "insurance": sysb[2],
                    "pools": pools,
                    "external": sysb[0],
                    "sum": accounts + sysb[0] + sysb[1] + sysb[2] + pools,
                }
            )
        return out

    def ledger(self) -> np.ndarray:
        """Every ledger entry kept so far, in order (LEDGER_DTYPE). O(entries)."""
        if not self._ledger_parts:
            return np.zeros(0, dtype=LEDGER_DTYPE)
        if len(self._ledger_parts) > 1:
            self._ledger_parts = [np.concatenate(self._ledger_parts)]
        return self._ledger_parts[0]

    # --- the engine's views ----------------------------------------------------------------
    def book(self, instrument: int, depth: int = 10) -> BookView:
        return self.engine.book(instrument, depth)

    def dump(self) -> np.ndarray:
        return self.engine.dump()

    def status_table(self) -> np.ndarray:
        return self.engine.status_table()

    def live_orders(self) -> int:
        """Resting orders plus pending stops. O(1)."""
        return self.engine.live_orders()

    def check_invariants(self) -> None:
        """The engine's invariants, then clearing's (docs/clearing.md 9). O(state)."""
        self.engine.check_invariants()
        check_clearing(self)
