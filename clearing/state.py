"""Clearing state: aligned numpy arrays in one NamedTuple, their descriptor and their growth.

Per (account, asset), flat ``row * n_assets + asset``: ``bal`` (total), ``held`` (open orders'
holds), and the sums over the account's positions settled in that asset: ``val`` (unrealised
PnL and option values), ``im``, ``mm``. Per (account, instrument), flat ``row * n_inst + i``:
``pos``, ``cost``, the position's cached contributions ``pval``, ``pim``, ``pmm``, and the
account's open lots per side ``open_b``, ``open_s``. The row of an account is its id (row 0 is
never a client). ``holds`` records what each live order holds (HOLD_DTYPE), found by order id
through an open-addressing table (``hk``, ``hv``), with a free-slot stack ``hfree``.

Kernels see the state through one integer (``clearing.view_nb.ClearPtr``), as the engine's do.
Capacity (account rows, hold slots, the ledger buffer) grows here, outside the kernel: the
kernel stops before a command that needs more and the wrapper resumes it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from clearing.records import CL_INST_DTYPE, HOLD_DTYPE, LEDGER_DTYPE, N_SYS
from matching.records import COMMAND_DTYPE

# --- counters (ctr) ----------------------------------------------------------------------
K_NA = 0  # assets
K_NI = 1  # instrument rows
K_ROWS = 2  # account rows (ids 0 .. rows-1)
K_NHOLD = 3  # live hold records
K_HFREE = 4  # free hold slots on the stack
K_NLED = 5  # ledger entries written in this call
K_LIQ = 6  # account being liquidated (its taker fills pay no fee), 0 = none
K_NEED = 7  # what the kernel asked for when it stopped (rows or ledger entries)
K_P_VALID = 8  # pending hold of the command in flight: set by the risk stage
K_P_PER_LOT = 9
K_P_FREE = 10
K_P_ASSET = 11
K_P_RO = 12
K_MAX_ACCOUNT = 13  # largest account id the venue accepts
K_NEXT_ADMIN = 14  # earliest funding time due (INT64_MAX: none)
K_P_ORDER = 15  # amend in flight: its hold slot
K_N = 32

INT64_MAX = np.iinfo(np.int64).max


class ClearState(NamedTuple):
    inst: np.ndarray
    bal: np.ndarray
    held: np.ndarray
    val: np.ndarray
    im: np.ndarray
    mm: np.ndarray
    pos: np.ndarray
    cost: np.ndarray
    pval: np.ndarray
    pim: np.ndarray
    pmm: np.ndarray
    open_b: np.ndarray
    open_s: np.ndarray
    acct_flags: np.ndarray
    sysbal: np.ndarray
    pool: np.ndarray
    hk: np.ndarray
    hv: np.ndarray
    holds: np.ndarray
    hfree: np.ndarray
    ctr: np.ndarray
    scratch: np.ndarray


PER_ASSET = ("bal", "held", "val", "im", "mm")
PER_INST = ("pos", "cost", "pval", "pim", "pmm", "open_b", "open_s")


def _pow2(n: int) -> int:
    p = 16
    while p < n:
        p *= 2
    return p


def new_clear_state(
    inst_rows: np.ndarray, n_assets: int, rows: int = 16, holds: int = 1024
) -> ClearState:
    """Empty accounts for ``rows`` account ids and ``holds`` live orders. O(rows x columns)."""
    ni = len(inst_rows)
    ctr = np.zeros(K_N, dtype=np.int64)
    ctr[K_NA] = n_assets
    ctr[K_NI] = ni
    ctr[K_ROWS] = rows
    ctr[K_HFREE] = holds
    ctr[K_MAX_ACCOUNT] = 2**31 - 1
    ctr[K_NEXT_ADMIN] = INT64_MAX
    z = np.zeros
    return ClearState(
        inst=np.ascontiguousarray(inst_rows, dtype=CL_INST_DTYPE),
        bal=z(rows * n_assets, np.int64),
        held=z(rows * n_assets, np.int64),
        val=z(rows * n_assets, np.int64),
        im=z(rows * n_assets, np.int64),
        mm=z(rows * n_assets, np.int64),
        pos=z(rows * ni, np.int64),
        cost=z(rows * ni, np.int64),
        pval=z(rows * ni, np.int64),
        pim=z(rows * ni, np.int64),
        pmm=z(rows * ni, np.int64),
        open_b=z(rows * ni, np.int64),
        open_s=z(rows * ni, np.int64),
        acct_flags=z(rows, np.int64),
        sysbal=z(N_SYS * n_assets, np.int64),
        pool=z(max(ni, 1), np.int64),
        hk=z(_pow2(4 * holds), np.int64),
        hv=np.full(_pow2(4 * holds), -1, dtype=np.int64),
        holds=z(holds, HOLD_DTYPE),
        hfree=np.arange(holds - 1, -1, -1, dtype=np.int64),
        ctr=ctr,
        scratch=z(2, COMMAND_DTYPE),
    )


def descriptor(cs: ClearState, ledger: np.ndarray) -> np.ndarray:
    """(address, length) of every array, then the ledger buffer of the call. Rebuild after any
    reallocation (the kernels read raw addresses)."""
    d = np.zeros(2 * len(cs) + 2, dtype=np.int64)
    for k, arr in enumerate(cs):
        assert arr.flags.c_contiguous, f"clearing array {cs._fields[k]} must be C-contiguous"
        d[2 * k] = arr.ctypes.data
        d[2 * k + 1] = arr.shape[0]
    d[-2] = ledger.ctypes.data
    d[-1] = len(ledger)
    return d


def grow_rows(cs: ClearState, need_rows: int) -> ClearState:
    """Room for account ids below ``need_rows`` (at least doubling). O(rows x columns)."""
    old = int(cs.ctr[K_ROWS])
    if need_rows <= old:
        return cs
    new = max(need_rows, 2 * old)
    na, ni = int(cs.ctr[K_NA]), int(cs.ctr[K_NI])
    changes: dict[str, np.ndarray] = {}
    for name in PER_ASSET:
        a = np.zeros(new * na, dtype=np.int64)
        a[: old * na] = getattr(cs, name)
        changes[name] = a
    for name in PER_INST:
        a = np.zeros(new * ni, dtype=np.int64)
        a[: old * ni] = getattr(cs, name)
        changes[name] = a
    f = np.zeros(new, dtype=np.int64)
    f[:old] = cs.acct_flags
    changes["acct_flags"] = f
    cs.ctr[K_ROWS] = new
    return cs._replace(**changes)


def grow_holds(cs: ClearState, rehash: Any) -> ClearState:
    """Double the hold pool and re-index it (``rehash`` is the kernel that moves the table
    entries). O(holds)."""
    old = len(cs.holds)
    new = 2 * old
    holds = np.zeros(new, dtype=HOLD_DTYPE)
    holds[:old] = cs.holds
    nfree = int(cs.ctr[K_HFREE])
    hfree = np.zeros(new, dtype=np.int64)
    hfree[: new - old] = np.arange(new - 1, old - 1, -1)
    hfree[new - old : new - old + nfree] = cs.hfree[:nfree]
    cs.ctr[K_HFREE] = nfree + new - old
    size = _pow2(4 * new)
    hk = np.zeros(size, dtype=np.int64)
    hv = np.full(size, -1, dtype=np.int64)
    rehash(cs.hk, cs.hk, cs.hv, hk, hk, hv, 1)
    return cs._replace(holds=holds, hfree=hfree, hk=hk, hv=hv)


def new_ledger_buffer(n: int) -> np.ndarray:
    return np.zeros(max(n, 16), dtype=LEDGER_DTYPE)
