"""The engine state as the kernels see it: one integer, and array views made on use.

``StatePtr`` holds one address: that of the state's descriptor, an int64 array of (address,
first dimension) pairs, one per ``BookState`` array in field order (``state.descriptor``).
Kernels take a ``StatePtr`` and reach an array through its accessor (``orders_of(st)`` ...),
which numba inlines into a ``carray`` view: two loads from the descriptor (in L1), no
allocation, no reference counting.

Why not pass the ``BookState`` of arrays itself: numba passes every array as a struct of about
eight fields and reference-counts it at each call boundary, so a twenty-array state cost
~100 ns per helper call, and a command makes some twenty calls. One integer costs nothing: the
C "context pointer" pattern.

Safety: the Python ``Engine`` owns the arrays and the descriptor, keeps them alive while a
kernel runs, and rebuilds the descriptor whenever it reallocates an array.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import carray, types
from numba.extending import intrinsic

from matching._jit import njit, njit_inline
from matching.records import EVENT_DTYPE, INSTRUMENT_DTYPE
from matching.state import LEVEL_DTYPE, ORDER_DTYPE, SKIP_H

N_ARRAYS = 21


class StatePtr(NamedTuple):
    desc: int  # address of the int64 descriptor array (2 * N_ARRAYS entries)


@intrinsic
def _ptr(typingctx, addr):  # type: ignore[no-untyped-def]
    """int64 address -> void* (what numba.carray takes)."""

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        return builder.inttoptr(args[0], context.get_value_type(types.voidptr))

    return types.voidptr(types.int64), codegen


@njit
def state_ptr_nb(d):
    """StatePtr of a descriptor array (which must outlive every use of the result)."""
    return StatePtr(d.ctypes.data)


@njit_inline
def borrow_nb(a):
    """A view of a 1-D array without reference counting; the caller keeps ``a`` alive."""
    return carray(_ptr(a.ctypes.data), a.shape[0], a.dtype)


@njit_inline
def _d(st):
    return carray(_ptr(st.desc), 2 * N_ARRAYS + 2, np.int64)


@njit_inline
def orders_of(st):
    return carray(_ptr(_d(st)[0]), _d(st)[1], ORDER_DTYPE)


@njit_inline
def levels_of(st):
    return carray(_ptr(_d(st)[2]), _d(st)[3], LEVEL_DTYPE)


@njit_inline
def lnext_of(st):
    return carray(_ptr(_d(st)[4]), (_d(st)[5], SKIP_H), np.int32)


@njit_inline
def oid_k_of(st):
    return carray(_ptr(_d(st)[6]), _d(st)[7], np.int64)


@njit_inline
def oid_v_of(st):
    return carray(_ptr(_d(st)[8]), _d(st)[9], np.int64)


@njit_inline
def cl_k1_of(st):
    return carray(_ptr(_d(st)[10]), _d(st)[11], np.int64)


@njit_inline
def cl_k2_of(st):
    return carray(_ptr(_d(st)[12]), _d(st)[13], np.int64)


@njit_inline
def cl_v_of(st):
    return carray(_ptr(_d(st)[14]), _d(st)[15], np.int64)


@njit_inline
def lv_k1_of(st):
    return carray(_ptr(_d(st)[16]), _d(st)[17], np.int64)


@njit_inline
def lv_k2_of(st):
    return carray(_ptr(_d(st)[18]), _d(st)[19], np.int64)


@njit_inline
def lv_v_of(st):
    return carray(_ptr(_d(st)[20]), _d(st)[21], np.int64)


@njit_inline
def pos_k1_of(st):
    return carray(_ptr(_d(st)[22]), _d(st)[23], np.int64)


@njit_inline
def pos_k2_of(st):
    return carray(_ptr(_d(st)[24]), _d(st)[25], np.int64)


@njit_inline
def pos_v_of(st):
    return carray(_ptr(_d(st)[26]), _d(st)[27], np.int64)


@njit_inline
def posv_of(st):
    return carray(_ptr(_d(st)[28]), _d(st)[29], np.int64)


@njit_inline
def heap_t_of(st):
    return carray(_ptr(_d(st)[30]), _d(st)[31], np.int64)


@njit_inline
def heap_id_of(st):
    return carray(_ptr(_d(st)[32]), _d(st)[33], np.int64)


@njit_inline
def inst_of(st):
    return carray(_ptr(_d(st)[34]), _d(st)[35], INSTRUMENT_DTYPE)


@njit_inline
def ctr_of(st):
    return carray(_ptr(_d(st)[36]), _d(st)[37], np.int64)


@njit_inline
def upd_of(st):
    return carray(_ptr(_d(st)[38]), _d(st)[39], np.int32)


@njit_inline
def lprev_of(st):
    return carray(_ptr(_d(st)[40]), (_d(st)[41], SKIP_H), np.int32)


@njit_inline
def events_of(st):
    """The event buffer of the current call (the descriptor's last pair)."""
    return carray(_ptr(_d(st)[2 * N_ARRAYS]), _d(st)[2 * N_ARRAYS + 1], EVENT_DTYPE)
