"""The clearing state as kernels see it: one integer, and array views made on use.

``ClearPtr`` holds the address of the clearing descriptor (``clearing.state.descriptor``): an
int64 array of (address, length) pairs, one per ``ClearState`` array in field order, then the
ledger buffer of the current call. Accessors inline into ``carray`` views: no allocation, no
reference counting (the reason is the engine's: see ``matching/view_nb.py``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import carray

from clearing.records import CL_INST_DTYPE, HOLD_DTYPE, LEDGER_DTYPE
from matching._jit import njit, njit_inline
from matching.records import COMMAND_DTYPE
from matching.view_nb import _ptr

N_CL = 22


class ClearPtr(NamedTuple):
    desc: int  # address of the int64 descriptor array


@njit
def clear_ptr_nb(d):
    """ClearPtr of a descriptor array (which must outlive every use of the result)."""
    return ClearPtr(d.ctypes.data)


@njit_inline
def _cd(cl):
    return carray(_ptr(cl.desc), 2 * N_CL + 2, np.int64)


@njit_inline
def inst_of(cl):
    return carray(_ptr(_cd(cl)[0]), _cd(cl)[1], CL_INST_DTYPE)


@njit_inline
def bal_of(cl):
    return carray(_ptr(_cd(cl)[2]), _cd(cl)[3], np.int64)


@njit_inline
def held_of(cl):
    return carray(_ptr(_cd(cl)[4]), _cd(cl)[5], np.int64)


@njit_inline
def val_of(cl):
    return carray(_ptr(_cd(cl)[6]), _cd(cl)[7], np.int64)


@njit_inline
def im_of(cl):
    return carray(_ptr(_cd(cl)[8]), _cd(cl)[9], np.int64)


@njit_inline
def mm_of(cl):
    return carray(_ptr(_cd(cl)[10]), _cd(cl)[11], np.int64)


@njit_inline
def pos_of(cl):
    return carray(_ptr(_cd(cl)[12]), _cd(cl)[13], np.int64)


@njit_inline
def cost_of(cl):
    return carray(_ptr(_cd(cl)[14]), _cd(cl)[15], np.int64)


@njit_inline
def pval_of(cl):
    return carray(_ptr(_cd(cl)[16]), _cd(cl)[17], np.int64)


@njit_inline
def pim_of(cl):
    return carray(_ptr(_cd(cl)[18]), _cd(cl)[19], np.int64)


@njit_inline
def pmm_of(cl):
    return carray(_ptr(_cd(cl)[20]), _cd(cl)[21], np.int64)


@njit_inline
def open_b_of(cl):
    return carray(_ptr(_cd(cl)[22]), _cd(cl)[23], np.int64)


@njit_inline
def open_s_of(cl):
    return carray(_ptr(_cd(cl)[24]), _cd(cl)[25], np.int64)


@njit_inline
def acct_flags_of(cl):
    return carray(_ptr(_cd(cl)[26]), _cd(cl)[27], np.int64)


@njit_inline
def sysbal_of(cl):
    return carray(_ptr(_cd(cl)[28]), _cd(cl)[29], np.int64)


@njit_inline
def pool_of(cl):
    return carray(_ptr(_cd(cl)[30]), _cd(cl)[31], np.int64)


@njit_inline
def hk_of(cl):
    return carray(_ptr(_cd(cl)[32]), _cd(cl)[33], np.int64)


@njit_inline
def hv_of(cl):
    return carray(_ptr(_cd(cl)[34]), _cd(cl)[35], np.int64)


@njit_inline
def holds_of(cl):
    return carray(_ptr(_cd(cl)[36]), _cd(cl)[37], HOLD_DTYPE)


@njit_inline
def hfree_of(cl):
    return carray(_ptr(_cd(cl)[38]), _cd(cl)[39], np.int64)


@njit_inline
def ctr_of(cl):
    return carray(_ptr(_cd(cl)[40]), _cd(cl)[41], np.int64)


@njit_inline
def scratch_of(cl):
    return carray(_ptr(_cd(cl)[42]), _cd(cl)[43], COMMAND_DTYPE)


@njit_inline
def ledger_of(cl):
    """The ledger buffer of the current call (the descriptor's last pair)."""
    return carray(_ptr(_cd(cl)[2 * N_CL]), _cd(cl)[2 * N_CL + 1], LEDGER_DTYPE)
