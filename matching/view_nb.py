"""The engine state as the kernels see it: plain integers, and array views made on use.

``StatePtr`` holds the address and first dimension of every ``BookState`` array. Kernels take a
``StatePtr`` and reach an array through its accessor (``orders_of(st)`` ...), which numba inlines
into a ``carray`` view: a pointer and a length, no allocation, no reference counting.

Why not pass the ``BookState`` of arrays itself: numba passes every array as a struct of about
eight fields and reference-counts it at each call boundary, so a twenty-array state costs
~100 ns per helper call, and a command makes some twenty calls. Integers cost nothing.

Safety: the Python ``Engine`` owns the arrays and rebuilds the descriptor whenever it
reallocates one (``state.descriptor``); kernels never outlive the call that received it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import carray, types
from numba.extending import intrinsic

from matching._jit import njit, njit_inline
from matching.records import INSTRUMENT_DTYPE
from matching.state import LEVEL_DTYPE, ORDER_DTYPE, SKIP_H


class StatePtr(NamedTuple):
    orders_p: int
    orders_n: int
    levels_p: int
    levels_n: int
    lnext_p: int
    lnext_n: int
    oid_k_p: int
    oid_k_n: int
    oid_v_p: int
    oid_v_n: int
    cl_k1_p: int
    cl_k1_n: int
    cl_k2_p: int
    cl_k2_n: int
    cl_v_p: int
    cl_v_n: int
    lv_k1_p: int
    lv_k1_n: int
    lv_k2_p: int
    lv_k2_n: int
    lv_v_p: int
    lv_v_n: int
    pos_k1_p: int
    pos_k1_n: int
    pos_k2_p: int
    pos_k2_n: int
    pos_v_p: int
    pos_v_n: int
    posv_p: int
    posv_n: int
    heap_t_p: int
    heap_t_n: int
    heap_id_p: int
    heap_id_n: int
    inst_p: int
    inst_n: int
    ctr_p: int
    ctr_n: int
    upd_p: int
    upd_n: int


@intrinsic
def _ptr(typingctx, addr):  # type: ignore[no-untyped-def]
    """int64 address -> void* (what numba.carray takes)."""

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        return builder.inttoptr(args[0], context.get_value_type(types.voidptr))

    return types.voidptr(types.int64), codegen


@njit
def state_ptr_nb(d):
    """StatePtr from the int64 descriptor array (address, length pairs in field order)."""
    return StatePtr(
        d[0],
        d[1],
        d[2],
        d[3],
        d[4],
        d[5],
        d[6],
        d[7],
        d[8],
        d[9],
        d[10],
        d[11],
        d[12],
        d[13],
        d[14],
        d[15],
        d[16],
        d[17],
        d[18],
        d[19],
        d[20],
        d[21],
        d[22],
        d[23],
        d[24],
        d[25],
        d[26],
        d[27],
        d[28],
        d[29],
        d[30],
        d[31],
        d[32],
        d[33],
        d[34],
        d[35],
        d[36],
        d[37],
        d[38],
        d[39],
    )


@njit_inline
def orders_of(st):
    return carray(_ptr(st.orders_p), st.orders_n, ORDER_DTYPE)


@njit_inline
def levels_of(st):
    return carray(_ptr(st.levels_p), st.levels_n, LEVEL_DTYPE)


@njit_inline
def lnext_of(st):
    return carray(_ptr(st.lnext_p), (st.lnext_n, SKIP_H), np.int32)


@njit_inline
def oid_k_of(st):
    return carray(_ptr(st.oid_k_p), st.oid_k_n, np.int64)


@njit_inline
def oid_v_of(st):
    return carray(_ptr(st.oid_v_p), st.oid_v_n, np.int64)


@njit_inline
def cl_k1_of(st):
    return carray(_ptr(st.cl_k1_p), st.cl_k1_n, np.int64)


@njit_inline
def cl_k2_of(st):
    return carray(_ptr(st.cl_k2_p), st.cl_k2_n, np.int64)


@njit_inline
def cl_v_of(st):
    return carray(_ptr(st.cl_v_p), st.cl_v_n, np.int64)


@njit_inline
def lv_k1_of(st):
    return carray(_ptr(st.lv_k1_p), st.lv_k1_n, np.int64)


@njit_inline
def lv_k2_of(st):
    return carray(_ptr(st.lv_k2_p), st.lv_k2_n, np.int64)


@njit_inline
def lv_v_of(st):
    return carray(_ptr(st.lv_v_p), st.lv_v_n, np.int64)


@njit_inline
def pos_k1_of(st):
    return carray(_ptr(st.pos_k1_p), st.pos_k1_n, np.int64)


@njit_inline
def pos_k2_of(st):
    return carray(_ptr(st.pos_k2_p), st.pos_k2_n, np.int64)


@njit_inline
def pos_v_of(st):
    return carray(_ptr(st.pos_v_p), st.pos_v_n, np.int64)


@njit_inline
def posv_of(st):
    return carray(_ptr(st.posv_p), st.posv_n, np.int64)


@njit_inline
def heap_t_of(st):
    return carray(_ptr(st.heap_t_p), st.heap_t_n, np.int64)


@njit_inline
def heap_id_of(st):
    return carray(_ptr(st.heap_id_p), st.heap_id_n, np.int64)


@njit_inline
def inst_of(st):
    return carray(_ptr(st.inst_p), st.inst_n, INSTRUMENT_DTYPE)


@njit_inline
def ctr_of(st):
    return carray(_ptr(st.ctr_p), st.ctr_n, np.int64)


@njit_inline
def upd_of(st):
    return carray(_ptr(st.upd_p), st.upd_n, np.int32)
