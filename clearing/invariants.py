"""Clearing invariants (docs/clearing.md 9), checked on the arrays of an ``Exchange``.

``check_clearing(ex)`` raises AssertionError naming the first broken rule. O(accounts x
instruments + live orders + ledger entries): for tests and audits, not the hot path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from clearing.records import N_SYS, SYS_POOL
from clearing.state import K_HFREE, K_NA, K_NHOLD, K_NI, K_ROWS
from matching.records import KIND_FUTURE, KIND_PERPETUAL, KIND_SPOT

if TYPE_CHECKING:
    from clearing.exchange import Exchange


def _replay(ex: Exchange) -> tuple[dict[tuple[int, int], int], dict[int, int]]:
    """Balances of every (account, asset) and every POOL rebuilt from the ledger alone."""
    bal: dict[tuple[int, int], int] = {}
    pools: dict[int, int] = {}
    led = ex.ledger()
    for frm, to, asset, amount, iid in zip(
        led["from_account"].tolist(),
        led["to_account"].tolist(),
        led["asset"].tolist(),
        led["amount"].tolist(),
        led["instrument"].tolist(),
        strict=True,
    ):
        assert amount > 0, "ledger entry with a non-positive amount"
        for acct, sign in ((frm, -1), (to, 1)):
            if acct == SYS_POOL:
                pools[iid] = pools.get(iid, 0) + sign * amount
            else:
                bal[(acct, asset)] = bal.get((acct, asset), 0) + sign * amount
    return bal, pools


def check_clearing(ex: Exchange) -> None:
    cs = ex.cs
    na, ni, rows = int(cs.ctr[K_NA]), int(cs.ctr[K_NI]), int(cs.ctr[K_ROWS])
    inst = cs.inst
    # conservation per asset
    for t in ex.totals():
        assert t["sum"] == 0, f"conservation broken in {t['asset']}: {t}"
    # the ledger explains every balance
    if ex.keep_ledger:
        bal, pools = _replay(ex)
        b2 = cs.bal.reshape(rows, na)
        for a in range(1, rows):
            for k in range(na):
                assert int(b2[a, k]) == bal.get((a, k), 0), f"account {a} asset {k}: ledger"
        for s in range(N_SYS):
            for k in range(na):
                got = int(cs.sysbal[s * na + k])
                assert got == bal.get((-s - 1, k), 0), f"system account {-s - 1} asset {k}: ledger"
        for i in range(ni):
            assert int(cs.pool[i]) == pools.get(i, 0), f"POOL of instrument {i}: ledger"
    # holds equal what live orders need, and match the engine's orders
    n_live = int(cs.ctr[K_NHOLD])
    assert n_live + int(cs.ctr[K_HFREE]) == len(cs.holds), "hold slots lost"
    live = {int(o["order_id"]): o for o in ex.engine.dump()}
    want = np.zeros(rows * na, dtype=np.int64)
    seen = 0
    free_slots = set(cs.hfree[: int(cs.ctr[K_HFREE])].tolist())
    for h in range(len(cs.holds)):
        if h in free_slots:
            continue
        r = cs.holds[h]
        seen += 1
        oid = int(r["order_id"])
        assert oid in live, f"hold record of order {oid}, which is not live"
        assert int(r["leaves"]) == int(live[oid]["leaves_lots"]), f"order {oid}: leaves differ"
        assert 0 <= int(r["free_lots"]) <= int(r["leaves"]), f"order {oid}: free lots"
        want[int(r["account"]) * na + int(r["asset"])] += int(r["per_lot"]) * (
            int(r["leaves"]) - int(r["free_lots"])
        )
    assert seen == n_live == len(live), f"{seen} hold records, {len(live)} live orders"
    assert np.array_equal(want, cs.held), "held differs from what live orders need"
    # positions: open interest zero, equal to the engine's, POOL = -nf * sum(cost)
    pos = cs.pos.reshape(rows, ni)
    cost = cs.cost.reshape(rows, ni)
    for i in range(ni):
        if not inst[i]["defined"] or int(inst[i]["kind"]) == KIND_SPOT:
            continue
        assert int(pos[:, i].sum()) == 0, f"open interest of instrument {i} is not zero"
        for a in np.flatnonzero(pos[:, i]).tolist():
            assert ex.engine.position(a, i) == int(pos[a, i]), f"engine position {a}/{i}"
        if int(inst[i]["kind"]) in (KIND_FUTURE, KIND_PERPETUAL):
            nf = int(inst[i]["nf"])
            assert int(cs.pool[i]) == -nf * int(cost[:, i].sum()), f"POOL of {i} != -nf*cost"
        if inst[i]["settled"]:
            assert not pos[:, i].any(), f"positions remain in settled instrument {i}"
    # per-asset sums equal their positions' contributions
    for name, part in (("val", cs.pval), ("im", cs.pim), ("mm", cs.pmm)):
        agg = np.zeros(rows * na, dtype=np.int64)
        p2 = part.reshape(rows, ni)
        for i in range(ni):
            if inst[i]["defined"]:
                agg[np.arange(rows) * na + int(inst[i]["settle_asset"])] += p2[:, i]
        assert np.array_equal(agg, getattr(cs, name)), f"{name} sums differ from positions"
    # no free balance below zero in an asset the account has no derivative exposure in: no
    # position, and no live derivative order holding margin. With exposure, realised losses
    # (and funding) may take the balance below what was held when it was larger: margin holds
    # are reservations, not cash, and the pipeline refuses new orders while available < 0.
    b2 = cs.bal.reshape(rows, na)
    h2 = cs.held.reshape(rows, na)
    margined = np.zeros((rows, na), dtype=bool)
    for i in range(ni):
        if inst[i]["defined"] and int(inst[i]["kind"]) != KIND_SPOT:
            margined[:, int(inst[i]["settle_asset"])] |= pos[:, i] != 0
    live_holds = cs.holds[cs.holds["leaves"] > 0]
    for r in live_holds[["account", "instrument", "asset"]].tolist():
        a, i, k = r
        if 0 <= i < ni and int(inst[i]["kind"]) != KIND_SPOT and a < rows:
            margined[a, k] = True
    neg = (b2 - h2 < 0) & ~margined
    neg[0] = False
    assert not neg.any(), f"negative free balance: accounts {np.argwhere(neg).tolist()}"
