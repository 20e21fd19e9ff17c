"""Numba kernels for the engine's index structures: hash tables, the expiry heap, the RNG.

Hash tables are open addressing with linear probing over power-of-two arrays: keys in one or two
int64 arrays, values in an int64 array where -1 marks an empty slot. Deletion shifts later
entries back (no tombstones), so probe chains stay short however many orders come and go. The
caller keeps the load at or below 1/2 (see ``state.grow``): expected probes per lookup ~1.5.
"""

from __future__ import annotations

import numpy as np

from matching._jit import njit, njit_inline

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)


@njit_inline
def hash2_nb(a, b, mask):
    """splitmix64 finaliser over (a, b); returns a slot index in [0, mask]. O(1)."""
    x = np.uint64(a) * _M1 + np.uint64(b)
    x = (x ^ (x >> _S30)) * _M2
    x = (x ^ (x >> _S27)) * _M3
    x = x ^ (x >> _S31)
    return np.int64(x & np.uint64(mask))


@njit_inline
def ht_find_nb(k1, k2, v, a, b):
    """Value stored under (a, b), or -1. Expected O(1)."""
    mask = v.shape[0] - 1
    i = hash2_nb(a, b, mask)
    while True:
        if v[i] == -1:
            return -1
        if k1[i] == a and k2[i] == b:
            return v[i]
        i = (i + 1) & mask


@njit_inline
def ht_put_nb(k1, k2, v, a, b, val):
    """Insert or overwrite (a, b) -> val; returns 1 if a new entry was made. Expected O(1)."""
    mask = v.shape[0] - 1
    i = hash2_nb(a, b, mask)
    while True:
        if v[i] == -1:
            k1[i] = a
            k2[i] = b
            v[i] = val
            return 1
        if k1[i] == a and k2[i] == b:
            v[i] = val
            return 0
        i = (i + 1) & mask


@njit
def ht_del_nb(k1, k2, v, a, b):
    """Remove (a, b); returns 1 if it was there. Backward-shift deletion. Expected O(1)."""
    mask = v.shape[0] - 1
    i = hash2_nb(a, b, mask)
    while True:
        if v[i] == -1:
            return 0
        if k1[i] == a and k2[i] == b:
            break
        i = (i + 1) & mask
    j = i
    while True:
        j = (j + 1) & mask
        if v[j] == -1:
            break
        home = hash2_nb(k1[j], k2[j], mask)
        # the entry at j may move back to the hole at i only if its home is not in (i, j]
        if i <= j:
            stays = i < home <= j
        else:
            stays = home > i or home <= j
        if stays:
            continue
        k1[i] = k1[j]
        k2[i] = k2[j]
        v[i] = v[j]
        i = j
    v[i] = -1
    return 1


@njit_inline
def ht1_find_nb(k, v, a):
    """One-key table lookup (order ids). Expected O(1)."""
    mask = v.shape[0] - 1
    i = hash2_nb(a, 0, mask)
    while True:
        if v[i] == -1:
            return -1
        if k[i] == a:
            return v[i]
        i = (i + 1) & mask


@njit_inline
def ht1_put_nb(k, v, a, val):
    mask = v.shape[0] - 1
    i = hash2_nb(a, 0, mask)
    while True:
        if v[i] == -1:
            k[i] = a
            v[i] = val
            return 1
        if k[i] == a:
            v[i] = val
            return 0
        i = (i + 1) & mask


@njit
def ht1_del_nb(k, v, a):
    mask = v.shape[0] - 1
    i = hash2_nb(a, 0, mask)
    while True:
        if v[i] == -1:
            return 0
        if k[i] == a:
            break
        i = (i + 1) & mask
    j = i
    while True:
        j = (j + 1) & mask
        if v[j] == -1:
            break
        home = hash2_nb(k[j], 0, mask)
        if i <= j:
            stays = i < home <= j
        else:
            stays = home > i or home <= j
        if stays:
            continue
        k[i] = k[j]
        v[i] = v[j]
        i = j
    v[i] = -1
    return 1


# --- expiry heap: min-heap on (expire_ns, order_id) ----------------------------------------
@njit_inline
def _heap_less(ht, hid, i, j):
    return ht[i] < ht[j] or (ht[i] == ht[j] and hid[i] < hid[j])


@njit
def heap_push_nb(ht, hid, n, t, oid):
    """Push (t, oid) onto a heap of n entries (capacity ensured by the caller). O(log n)."""
    i = n
    ht[i] = t
    hid[i] = oid
    while i > 0:
        p = (i - 1) >> 1
        if _heap_less(ht, hid, i, p):
            ht[i], ht[p] = ht[p], ht[i]
            hid[i], hid[p] = hid[p], hid[i]
            i = p
        else:
            break
    return n + 1


@njit
def heap_pop_nb(ht, hid, n):
    """Remove the minimum of a heap of n > 0 entries; returns the new size. O(log n)."""
    n -= 1
    ht[0] = ht[n]
    hid[0] = hid[n]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= n:
            break
        c = left
        if left + 1 < n and _heap_less(ht, hid, left + 1, left):
            c = left + 1
        if _heap_less(ht, hid, c, i):
            ht[i], ht[c] = ht[c], ht[i]
            hid[i], hid[c] = hid[c], hid[i]
            i = c
        else:
            break
    return n


@njit_inline
def xorshift_nb(ctr, idx):
    """Next value of the xorshift64 generator kept in ctr[idx] (deterministic). O(1)."""
    x = np.uint64(ctr[idx])
    x ^= x << np.uint64(13)
    x ^= x >> np.uint64(7)
    x ^= x << np.uint64(17)
    ctr[idx] = np.int64(x)
    return x


@njit
def rehash_nb(ok1, ok2, ov, nk1, nk2, nv, nkeys):
    """Move every entry of the old table into the new (empty, larger) one. O(old size)."""
    for i in range(ov.shape[0]):
        if ov[i] != -1:
            if nkeys == 2:
                ht_put_nb(nk1, nk2, nv, ok1[i], ok2[i], ov[i])
            else:
                ht1_put_nb(nk1, nv, ok1[i], ov[i])
