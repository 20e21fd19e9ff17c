"""Numba kernels for money: exact ppm rounding, ledger movements, positions and margin.

Every function here works on the clearing state through ``ClearPtr`` (docs/clearing.md
sections 2, 3, 5 and 6). Money is int64 in asset units; products are arranged so that no
intermediate exceeds int64 for any value the risk stage admits.
"""

from __future__ import annotations

from clearing.records import (
    L_FEE,
    L_REBATE,
    SYS_FEES,
    SYS_POOL,
)
from clearing.state import K_NA, K_NI, K_NLED, K_ROWS
from clearing.view_nb import (
    bal_of,
    clear_ptr_nb,
    cost_of,
    ctr_of,
    im_of,
    inst_of,
    ledger_of,
    mm_of,
    pim_of,
    pmm_of,
    pool_of,
    pos_of,
    pval_of,
    sysbal_of,
    val_of,
)
from matching._jit import njit, njit_inline
from matching.records import KIND_FUTURE, KIND_OPTION, KIND_PERPETUAL

PPM = 1_000_000


@njit_inline
def ppm_floor_nb(x, r):
    """floor(x * r / 1e6) for x >= 0, 0 <= r <= 1e6, without overflow. O(1)."""
    return (x // PPM) * r + ((x % PPM) * r) // PPM


@njit_inline
def ppm_ceil_nb(x, r):
    """ceil(x * r / 1e6) for x >= 0, 0 <= r <= 1e6, without overflow. O(1)."""
    return (x // PPM) * r + ((x % PPM) * r + PPM - 1) // PPM


@njit_inline
def fee_nb(base, rate):
    """Fee on ``base`` at ``rate`` ppm: rounded up when charged, down when rebated. O(1)."""
    if rate >= 0:
        return ppm_ceil_nb(base, rate)
    return -ppm_floor_nb(base, -rate)


@njit_inline
def mul_sat_nb(a, b):
    """a * b for a, b >= 0, saturating at int64 max (a hold that large is never payable)."""
    if a == 0 or b == 0:
        return 0
    if a > 9223372036854775807 // b:
        return 9223372036854775807
    return a * b


@njit_inline
def trunc_muldiv_nb(c, r, n):
    """trunc(c * r / n) for 0 <= r <= n, n < 2**31 lots (positions are bounded so). O(1)."""
    m = -c if c < 0 else c
    v = (m // n) * r + ((m % n) * r) // n
    return -v if c < 0 else v


@njit
def move_nb(cl, frm, to, asset, amount, kind, ref, iid, seq):
    """Move ``amount`` of ``asset`` from one account to another (system accounts < 0; the POOL
    of ``iid``) and write the ledger entry. A negative amount moves the other way; zero writes
    nothing. The caller reserved the ledger room. O(1)."""
    if amount == 0:
        return
    if amount < 0:
        amount = -amount
        frm, to = to, frm
    na = ctr_of(cl)[K_NA]
    _add_nb(cl, frm, asset, iid, na, -amount)
    _add_nb(cl, to, asset, iid, na, amount)
    n = ctr_of(cl)[K_NLED]
    ctr_of(cl)[K_NLED] = n + 1
    e = ledger_of(cl)[n]
    e.seq = seq
    e.ref = ref
    e.amount = amount
    e.from_account = frm
    e.to_account = to
    e.instrument = iid
    e.asset = asset
    e.kind = kind


@njit_inline
def _add_nb(cl, acct, asset, iid, na, amount):
    if acct >= 1:
        bal_of(cl)[acct * na + asset] += amount
    elif acct == SYS_POOL:
        pool_of(cl)[iid] += amount
    else:
        sysbal_of(cl)[(-acct - 1) * na + asset] += amount


@njit
def charge_fee_nb(cl, acct, asset, fee, ref, iid, seq):
    """A fee to the FEES account, or a rebate from it. O(1)."""
    if fee > 0:
        move_nb(cl, acct, SYS_FEES, asset, fee, L_FEE, ref, iid, seq)
    elif fee < 0:
        move_nb(cl, SYS_FEES, acct, asset, -fee, L_REBATE, ref, iid, seq)


@njit
def fill_position_nb(cl, a, iid, dq, p):
    """Net a fill of signed ``dq`` lots at ``p`` into (pos, cost); returns the realised PnL in
    ticks x lots (docs/clearing.md 6). O(1)."""
    idx = a * ctr_of(cl)[K_NI] + iid
    pv = pos_of(cl)
    cv = cost_of(cl)
    pos = pv[idx]
    cost = cv[idx]
    realised = 0
    if pos == 0 or (pos > 0) == (dq > 0):
        cost += p * dq
    else:
        q = -dq if dq < 0 else dq
        ap = -pos if pos < 0 else pos
        r = q if q < ap else ap
        cc = trunc_muldiv_nb(cost, r, ap)
        cost -= cc
        realised = (p * r if pos > 0 else -p * r) - cc
        rest = q - r
        if rest > 0:  # flips: the closed side left cost 0
            cost = p * rest if dq > 0 else -p * rest
    pv[idx] = pos + dq
    cv[idx] = cost
    return realised


@njit_inline
def short_im_lot_nb(ci, u, mark):
    """Initial margin per lot of a short option (Deribit): max(opt_im - OTM/U, opt_im_min) x U
    plus the option's mark, in settlement units. O(1)."""
    ul = u * ci.und_nf
    if ci.is_call:
        otm = ci.strike_ticks - u if ci.strike_ticks > u else 0
    else:
        otm = u - ci.strike_ticks if u > ci.strike_ticks else 0
    x = ci.opt_im * ul - PPM * otm * ci.und_nf
    floor_ = ci.opt_im_min * ul
    if x < floor_:
        x = floor_
    return (x + PPM - 1) // PPM + mark * ci.nf


@njit
def refresh_nb(cl, a, iid):
    """Recompute one position's value, im and mm at the current marks and carry the change
    into the account's per-asset sums. O(tiers)."""
    ci = inst_of(cl)[iid]
    idx = a * ctr_of(cl)[K_NI] + iid
    pos = pos_of(cl)[idx]
    ap = -pos if pos < 0 else pos
    val = 0
    im = 0
    mm = 0
    if ci.kind == KIND_FUTURE or ci.kind == KIND_PERPETUAL:
        m = ci.mark_ticks
        val = (m * pos - cost_of(cl)[idx]) * ci.nf
        notional = ap * m * ci.nf
        k = 0
        for j in range(1, ci.n_tiers):
            if ci.tier_floor[j] <= notional:
                k = j
        im = ppm_ceil_nb(notional, ci.tier_im[k])
        mm = ppm_ceil_nb(notional, ci.tier_mm[k])
    elif ci.kind == KIND_OPTION:
        m = ci.mark_ticks
        val = m * pos * ci.nf
        if pos < 0:
            u = inst_of(cl)[ci.underlying].mark_ticks
            im = ap * short_im_lot_nb(ci, u, m)
            mm = ap * (ppm_ceil_nb(u * ci.und_nf, ci.opt_mm) + m * ci.nf)
    aidx = a * ctr_of(cl)[K_NA] + ci.settle_asset
    val_of(cl)[aidx] += val - pval_of(cl)[idx]
    im_of(cl)[aidx] += im - pim_of(cl)[idx]
    mm_of(cl)[aidx] += mm - pmm_of(cl)[idx]
    pval_of(cl)[idx] = val
    pim_of(cl)[idx] = im
    pmm_of(cl)[idx] = mm


@njit
def remark_nb(cl, iid):
    """Refresh every position of instrument ``iid`` and of the options whose underlying it is,
    after a mark change. O(accounts x affected instruments)."""
    rows = ctr_of(cl)[K_ROWS]
    ni = ctr_of(cl)[K_NI]
    ins = inst_of(cl)
    for j in range(ni):
        if j == iid or (ins[j].kind == KIND_OPTION and ins[j].underlying == iid):
            for a in range(1, rows):
                idx = a * ni + j
                if pos_of(cl)[idx] != 0 or pim_of(cl)[idx] != 0 or pval_of(cl)[idx] != 0:
                    refresh_nb(cl, a, j)


@njit
def move_desc_nb(d, frm, to, asset, amount, kind, ref, iid, seq):
    """``move_nb`` for the Python administration code (descriptor entry point)."""
    move_nb(clear_ptr_nb(d), frm, to, asset, amount, kind, ref, iid, seq)
