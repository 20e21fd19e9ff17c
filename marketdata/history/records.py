"""Record layouts of historical data as read from files (before any mapping to the engine).

LOBSTER (NASDAQ TotalView-ITCH reconstructed; see ../shared/data/lobster/): one message per row,
and optionally an aligned order-book file whose row k is the book after message k.
"""

from __future__ import annotations

import numpy as np

# LOBSTER event types (column 2 of a message file)
LOB_SUBMIT = 1  # new limit order
LOB_PARTIAL_CANCEL = 2  # size = lots cancelled
LOB_DELETE = 3  # size = lots deleted (the whole rest)
LOB_EXEC_VISIBLE = 4  # execution of a visible resting order; direction = the resting side
LOB_EXEC_HIDDEN = 5  # execution of a hidden order (order id 0): not in the visible book
LOB_CROSS = 6  # cross trade (auction)
LOB_HALT = 7  # price -1 halt, 0 quoting, 1 resume

LOBSTER_MESSAGE_DTYPE = np.dtype(
    [
        ("time_ns", np.int64),  # nanoseconds after midnight (exact: parsed as a decimal string)
        ("order_id", np.int64),
        ("size", np.int64),  # shares
        ("price", np.int64),  # dollars x 10000 (LOBSTER's own integer price)
        ("type", np.int8),  # LOB_*
        ("direction", np.int8),  # 1 buy, -1 sell (for executions: the resting order's side)
    ],
    align=True,
)

# Empty levels in LOBSTER order-book files
LOBSTER_EMPTY_ASK = 9999999999
LOBSTER_EMPTY_BID = -9999999999
