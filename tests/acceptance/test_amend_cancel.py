"""Rulebook 3, 4 and 5: cancel, amend (priority rules) and mass cancel."""

from __future__ import annotations

from matching.reasons import CANCEL_KILL_SWITCH, CANCEL_STP
from matching.records import BUY, SELL

from .tables import Scenario, perp

# --- amend ---------------------------------------------------------------------------------


def test_amend_reducing_qty_keeps_priority(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        buy   1        1         100    5
        buy   2        2         100    5
        """
    )
    ev = s.run(lambda e: e.amend(1, 1, qty_lots=3))
    s.expect(
        ev,
        """
        kind     order_id  account  side  price  qty  leaves  flags          cmd
        amended  1         1        buy   100    3    3       KEPT_PRIORITY  amend
        level    0         0        buy   100    8    2       0              amend
        """,
    )
    s.after(
        """
        side  price  qty  orders
        buy   100    8    2
        """
    )
    # Order 1 is still first in the queue.
    ev = s.run(lambda e: e.limit(0, 3, "sell", 4, 100, order_id=20))
    s.expect(
        ev,
        """
        kind      order_id  maker_order_id  price  qty  leaves  maker_leaves
        accepted  20        -               100    4    4       -
        fill      20        1               100    3    1       0
        fill      20        2               100    1    0       4
        level     0         -               100    4    1       -
        """,
    )


def test_amend_increasing_qty_loses_priority(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        buy   1        1         100    5
        buy   2        2         100    5
        """
    )
    ev = s.run(lambda e: e.amend(1, 1, qty_lots=8))
    s.expect(
        ev,
        """
        kind     order_id  side  price  qty  leaves  flags
        amended  1         buy   100    8    8       0
        level    0         buy   100    5    1       0
        level    0         buy   100    13   2       0
        """,
    )
    s.resting(
        """
        order_id  price  qty  leaves
        2         100    5    5
        1         100    8    8
        """
    )
    s.after(
        """
        side  price  qty  orders
        buy   100    13   2
        """
    )


def test_amend_of_the_price_loses_priority_and_can_trade(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        buy   1        1         100    5
        buy   2        2         100    5
        sell  3        11        102    3
        """
    )
    ev = s.run(lambda e: e.amend(1, 1, price_ticks=102))
    s.expect(
        ev,
        """
        kind     order_id  side  type   tif  maker_order_id  price  qty  leaves  maker_leaves  flags  cmd
        amended  1         buy   limit  gtc  -               102    5    5       -             0      amend
        level    0         buy   -      -    -               100    5    1       -             0      amend
        fill     1         buy   limit  gtc  11              102    3    2       0             0      amend
        level    0         sell  -      -    -               102    0    0       -             0      amend
        level    0         buy   -      -    -               102    2    1       -             0      amend
        """,
    )
    s.after(
        """
        side  price  qty  orders
        buy   102    2    1
        buy   100    5    1
        """
    )


def test_amend_back_to_the_same_price_still_goes_to_the_back(engine_cls):
    # A price change loses priority even within the same book side and level set.
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        buy   1        1         100    5
        buy   2        2         100    5
        """
    )
    s.run(lambda e: e.amend(1, 1, price_ticks=99), lambda e: e.amend(1, 1, price_ticks=100))
    s.resting(
        """
        order_id  price
        2         100
        1         100
        """
    )


def test_amend_of_a_partly_filled_order_counts_total_quantity(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    5
        """
    )
    s.run(lambda e: e.limit(0, 1, "buy", 2, 101, order_id=20))  # 11 has filled 2, leaves 3
    ev = s.run(
        lambda e: e.amend(2, 11, qty_lots=2),
        lambda e: e.amend(2, 11, qty_lots=1),
        lambda e: e.amend(2, 11, qty_lots=4),
    )
    s.expect(
        ev,
        """
        kind      order_id  price  qty  leaves  flags          reason
        rejected  11        0      2    0       -              AMEND_QTY_NOT_ABOVE_FILLED
        rejected  11        0      1    0       -              AMEND_QTY_NOT_ABOVE_FILLED
        amended   11        101    4    2       KEPT_PRIORITY  0
        level     0         101    2    1       0              0
        """,
    )
    s.resting(
        """
        order_id  qty  leaves  visible
        11        4    2       2
        """
    )


def test_amend_reducing_an_iceberg_below_its_tranche(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  display
        sell  2        11        101    10   4
        sell  3        12        101    1    -
        """
    )
    ev = s.run(lambda e: e.amend(2, 11, qty_lots=2), lambda e: e.amend(2, 11, qty_lots=5))
    s.expect(
        ev,
        """
        kind     order_id  price  qty  leaves  flags
        amended  11        101    2    2       KEPT_PRIORITY
        level    0         101    3    2       0
        amended  11        101    5    5       0
        level    0         101    1    1       0
        level    0         101    5    2       0
        """,
    )
    s.resting(
        """
        order_id  qty  leaves  visible
        12        1    1       1
        11        5    5       4
        """
    )


def test_amend_by_client_order_id(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  cid
        buy   1        1         100    5    77
        """
    )
    ev = s.run(lambda e: e.amend(1, client_order_id=77, qty_lots=2))
    s.expect(
        ev,
        """
        kind     order_id  cid  qty  leaves  flags
        amended  1         77   2    2       KEPT_PRIORITY
        level    0         0    2    1       0
        """,
    )


def test_amend_rejections_change_nothing(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  type         trigger
        buy   1        1         100    5    -            -
        buy   1        2         -      5    stop_market  120
        """
    )
    before = s.engine.state_hash()
    ev = s.run(
        lambda e: e.amend(2, 1, qty_lots=3),  # another account's order
        lambda e: e.amend(1, 99, qty_lots=3),  # no such order
        lambda e: e.amend(1, 2, qty_lots=3),  # a pending stop
        lambda e: e.amend(1, 1, price_ticks=-5),
    )
    s.expect(
        ev,
        """
        kind      order_id  account  qty  reason
        rejected  1         2        3    UNKNOWN_ORDER
        rejected  99        1        3    UNKNOWN_ORDER
        rejected  2         1        3    AMEND_NOT_ALLOWED
        rejected  1         1        0    PRICE_NOT_POSITIVE
        """,
    )
    assert s.engine.state_hash() == before


def test_post_only_amend_that_would_take_is_rejected(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  flags
        buy   1        1         100    5    post_only
        sell  2        11        102    5    -
        """
    )
    ev = s.run(lambda e: e.amend(1, 1, price_ticks=102), lambda e: e.amend(1, 1, price_ticks=101))
    s.expect(
        ev,
        """
        kind      order_id  price  qty  leaves  flags  reason
        rejected  1         102    0    0       -      POST_ONLY_WOULD_TAKE
        amended   1         101    5    5       0      0
        level     0         100    0    0       -      0
        level     0         101    5    1       -      0
        """,
    )


# --- cancel --------------------------------------------------------------------------------


def test_cancel_by_order_id(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  cid
        buy   1        1         100    5    41
        buy   2        2         100    3    -
        """
    )
    ev = s.run(lambda e: e.cancel(1, 1))
    s.expect(
        ev,
        """
        kind       order_id  cid  account  side  type   tif  price  qty  leaves  reason       cmd
        cancelled  1         41   1        buy   limit  gtc  100    5    0       CANCEL_USER  cancel
        level      0         0    0        buy   -      -    100    3    1       0            cancel
        """,
    )
    s.after(
        """
        side  price  qty  orders
        buy   100    3    1
        """
    )


def test_cancel_by_client_order_id_of_a_partly_filled_order(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  cid
        sell  2        11        101    5    77
        """
    )
    s.run(lambda e: e.limit(0, 1, "buy", 2, 101, order_id=20))
    ev = s.run(lambda e: e.cancel(2, client_order_id=77))
    s.expect(
        ev,
        """
        kind       order_id  cid  account  side  price  qty  leaves  reason
        cancelled  11        77   2        sell  101    3    0       CANCEL_USER
        level      0         0    0        sell  101    0    0       0
        """,
    )
    s.after("side price qty orders")


def test_cancel_of_another_accounts_order_is_unknown(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  cid
        sell  2        11        101    5    77
        """
    )
    ev = s.run(
        lambda e: e.cancel(3, 11),
        lambda e: e.cancel(3, client_order_id=77),
        lambda e: e.cancel(2, 12),
        lambda e: e.cancel(0, 11),
    )
    s.expect(
        ev,
        """
        kind      order_id  cid  account  reason
        rejected  11        0    3        UNKNOWN_ORDER
        rejected  0         77   3        UNKNOWN_ORDER
        rejected  12        0    2        UNKNOWN_ORDER
        rejected  11        0    0        INVALID_ACCOUNT
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    5    1
        """
    )


def test_a_filled_or_cancelled_order_cannot_be_cancelled_again(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    5
        sell  2        12        102    5
        """
    )
    ev = s.run(
        lambda e: e.limit(0, 1, "buy", 5, 101, order_id=20),
        lambda e: e.cancel(2, 11),
        lambda e: e.cancel(2, 12),
        lambda e: e.cancel(2, 12),
    )
    s.expect(
        ev,
        """
        kind       order_id  reason
        accepted   20        0
        fill       20        0
        level      0         0
        rejected   11        UNKNOWN_ORDER
        cancelled  12        CANCEL_USER
        level      0         0
        rejected   12        UNKNOWN_ORDER
        """,
    )


def test_cancel_of_a_pending_stop_has_no_level_event(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  type        trigger
        sell  1        5         95     2    stop_limit  96
        """
    )
    ev = s.run(lambda e: e.cancel(1, 5))
    s.expect(
        ev,
        """
        kind       order_id  side  type        price  qty  leaves  reason
        cancelled  5         sell  stop_limit  95     2    0       CANCEL_USER
        """,
    )
    s.resting("order_id")


# --- mass cancel ---------------------------------------------------------------------------


def test_mass_cancel_by_account(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  type         trigger
        buy   1        1         99     1    -            -
        buy   2        2         100    2    -            -
        buy   1        3         100    3    -            -
        buy   1        4         100    4    -            -
        sell  1        5         101    5    -            -
        sell  2        6         102    6    -            -
        sell  1        7         -      7    stop_market  90
        buy   1        8         -      8    stop_market  110
        """
    )
    ev = s.run(lambda e: e.mass_cancel(account=1))
    s.expect(
        ev,
        """
        kind            order_id  account  instrument  side  type         price  qty  leaves  reason       cmd
        cancelled       3         1        0           buy   limit        100    3    0       CANCEL_MASS  mass_cancel
        cancelled       4         1        0           buy   limit        100    4    0       CANCEL_MASS  mass_cancel
        level           0         0        0           buy   -            100    2    1       0            mass_cancel
        cancelled       1         1        0           buy   limit        99     1    0       CANCEL_MASS  mass_cancel
        level           0         0        0           buy   -            99     0    0       0            mass_cancel
        cancelled       5         1        0           sell  limit        101    5    0       CANCEL_MASS  mass_cancel
        level           0         0        0           sell  -            101    0    0       0            mass_cancel
        cancelled       8         1        0           buy   stop_market  0      8    0       CANCEL_MASS  mass_cancel
        cancelled       7         1        0           sell  stop_market  0      7    0       CANCEL_MASS  mass_cancel
        mass_cancelled  0         1        -1          none  -            0      6    0       CANCEL_MASS  mass_cancel
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  102    6    1
        buy   100    2    1
        """
    )


def test_mass_cancel_by_instrument(engine_cls):
    s = Scenario(engine_cls, instruments=[perp(0, "BTC-PERP"), perp(1, "ETH-PERP")])
    s.book(
        """
        instrument  side  account  order_id  price  qty
        0           buy   1        1         100    1
        1           buy   1        2         50     2
        1           sell  2        3         51     3
        """
    )
    ev = s.run(lambda e: e.mass_cancel(instrument=1, reason=CANCEL_KILL_SWITCH))
    s.expect(
        ev,
        """
        kind            order_id  account  instrument  side  qty  leaves  reason
        cancelled       2         1        1           buy   2    0       CANCEL_KILL_SWITCH
        level           0         0        1           buy   0    0       0
        cancelled       3         2        1           sell  3    0       CANCEL_KILL_SWITCH
        level           0         0        1           sell  0    0       0
        mass_cancelled  0         0        1           none  2    0       CANCEL_KILL_SWITCH
        """,
    )
    s.after("side price qty orders", instrument=1)
    s.after(
        """
        side  price  qty  orders
        buy   100    1    1
        """,
        instrument=0,
    )


def test_mass_cancel_by_side_across_instruments(engine_cls):
    s = Scenario(engine_cls, instruments=[perp(0, "BTC-PERP"), perp(1, "ETH-PERP")])
    s.book(
        """
        instrument  side  account  order_id  price  qty
        1           sell  2        3         51     3
        0           buy   1        1         100    1
        0           sell  1        2         101    2
        1           sell  1        4         52     4
        """
    )
    ev = s.run(lambda e: e.mass_cancel(side=SELL))
    s.expect(
        ev,
        """
        kind            order_id  instrument  side  price  qty  reason
        cancelled       2         0           sell  101    2    CANCEL_MASS
        level           0         0           sell  101    0    0
        cancelled       3         1           sell  51     3    CANCEL_MASS
        level           0         1           sell  51     0    0
        cancelled       4         1           sell  52     4    CANCEL_MASS
        level           0         1           sell  52     0    0
        mass_cancelled  0         -1          sell  0      3    CANCEL_MASS
        """,
    )
    s.after(
        """
        side  price  qty  orders
        buy   100    1    1
        """,
        instrument=0,
    )
    s.after("side price qty orders", instrument=1)


def test_mass_cancel_that_matches_nothing_still_reports_zero(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        buy   1        1         100    1
        """
    )
    ev = s.run(
        lambda e: e.mass_cancel(account=7, side=BUY),
        lambda e: e.mass_cancel(account=-1),
        lambda e: e.mass_cancel(instrument=5),
        lambda e: e.mass_cancel(side=3),
        lambda e: e.mass_cancel(reason=CANCEL_STP),
    )
    s.expect(
        ev,
        """
        kind            account  instrument  side  qty  reason
        mass_cancelled  7        -1          buy   0    CANCEL_MASS
        rejected        -1       -           -     -    INVALID_ACCOUNT
        rejected        -        5           -     -    UNKNOWN_INSTRUMENT
        rejected        -        -           3     -    INVALID_SIDE
        rejected        -        -           -     -    INVALID_REASON
        """,
    )
    s.after(
        """
        side  price  qty  orders
        buy   100    1    1
        """
    )
