"""Rulebook 2.1 (#7, #17-#21), 2.3 (reduce-only makers) and 6: halts, price bands, ids,
capacity and reduce-only orders."""

from __future__ import annotations

from matching.api import make_command
from matching.records import FOK, GTC, MARKET, STOP_LIMIT

from .tables import Scenario, spot

# --- halt / resume -------------------------------------------------------------------------


def test_halt_rejects_orders_and_amends_but_allows_cancels(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        buy   1        1         100    5
        buy   1        2         99     5
        sell  2        11        101    5
        """
    )
    ev = s.run(lambda e: e.halt(0))
    s.expect(
        ev,
        """
        kind    order_id  instrument  price  qty  reason         cmd
        status  0         0           0      0    STATUS_HALTED  halt
        """,
    )
    ev = s.run(
        lambda e: e.limit(0, 3, "buy", 5, 101, order_id=20),
        lambda e: e.market(0, 3, "buy", 5, order_id=21),
        lambda e: e.amend(1, 1, qty_lots=2),
        lambda e: e.cancel(1, 2),
    )
    s.expect(
        ev,
        """
        kind       order_id  account  side  price  qty  leaves  reason
        rejected   20        3        buy   101    5    0       INSTRUMENT_HALTED
        rejected   21        3        buy   0      5    0       INSTRUMENT_HALTED
        rejected   1         1        -     0      2    0       INSTRUMENT_HALTED
        cancelled  2         1        buy   99     5    0       CANCEL_USER
        level      0         0        buy   99     0    0       0
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    5    1
        buy   100    5    1
        """
    )
    ev = s.run(lambda e: e.resume(0), lambda e: e.limit(0, 3, "buy", 5, 101, order_id=20))
    s.expect(
        ev,
        """
        kind      order_id  instrument  maker_order_id  price  qty  leaves  reason
        status    0         0           -               0      0    0       STATUS_RESUMED
        accepted  20        0           -               101    5    5       0
        fill      20        0           11              101    5    0       0
        level     0         0           -               101    0    0       0
        """,
    )
    s.after(
        """
        side  price  qty  orders
        buy   100    5    1
        """
    )


def test_halt_of_an_unknown_instrument_is_rejected(engine_cls):
    s = Scenario(engine_cls)
    ev = s.run(lambda e: e.halt(3), lambda e: e.resume(-1))
    s.expect(
        ev,
        """
        kind      instrument  reason
        rejected  3           UNKNOWN_INSTRUMENT
        rejected  -1          UNKNOWN_INSTRUMENT
        """,
    )


# --- price band ----------------------------------------------------------------------------


def test_price_band_around_the_ref_price(engine_cls):
    # band 1000 bps of r = 100: b = 10, so 90..110 is allowed.
    s = Scenario(engine_cls, band_bps=1000)
    ev = s.run(lambda e: e.set_ref_price(0, 100))
    s.expect(
        ev,
        """
        kind    instrument  price  reason
        status  0           100    STATUS_REF_PRICE
        """,
    )
    ev = s.run(
        lambda e: e.limit(0, 1, "buy", 1, 111, order_id=1),
        lambda e: e.limit(0, 1, "sell", 1, 89, order_id=2),
        lambda e: e.limit(0, 1, "sell", 1, 110, order_id=3),
        lambda e: e.limit(0, 1, "buy", 1, 90, order_id=4),
        lambda e: e.stop(0, 1, "buy", 1, 105, 111, order_id=5),
        lambda e: e.market(0, 1, "buy", 1, order_id=6),
    )
    s.expect(
        ev,
        """
        kind      order_id  side  type        price  qty  leaves  maker_order_id  reason
        rejected  1         buy   limit       111    1    0       -               OUTSIDE_PRICE_BAND
        rejected  2         sell  limit       89     1    0       -               OUTSIDE_PRICE_BAND
        accepted  3         sell  limit       110    1    1       -               0
        level     0         sell  -           110    1    1       -               0
        accepted  4         buy   limit       90     1    1       -               0
        level     0         buy   -           90     1    1       -               0
        rejected  5         buy   stop_limit  111    1    0       -               OUTSIDE_PRICE_BAND
        accepted  6         buy   market      0      1    1       -               0
        fill      6         buy   market      110    1    0       3               0
        level     0         sell  -           110    0    0       -               0
        """,
    )
    s.after(
        """
        side  price  qty  orders
        buy   90     1    1
        """
    )


def test_price_band_follows_the_last_trade_price(engine_cls):
    # The instrument's reference is 100 until a trade prints at 110; then b = 110 * 1000 // 10000
    # = 11, so 99..121 is allowed and 95 no longer is.
    s = Scenario(engine_cls, band_bps=1000, ref_price_ticks=100)
    s.book(
        """
        side  account  order_id  price  qty
        buy   1        1         95     1
        sell  2        11        110    1
        """
    )
    ev = s.run(
        lambda e: e.limit(0, 3, "buy", 1, 110, order_id=20),
        lambda e: e.limit(0, 1, "buy", 1, 95, order_id=2),
        lambda e: e.limit(0, 1, "buy", 1, 98, order_id=3),
        lambda e: e.limit(0, 1, "buy", 1, 99, order_id=4),
        lambda e: e.limit(0, 2, "sell", 1, 121, order_id=12),
        lambda e: e.limit(0, 2, "sell", 1, 122, order_id=13),
    )
    s.expect(
        ev,
        """
        kind      order_id  price  reason
        accepted  20        110    0
        fill      20        110    0
        level     0         110    0
        rejected  2         95     OUTSIDE_PRICE_BAND
        rejected  3         98     OUTSIDE_PRICE_BAND
        accepted  4         99     0
        level     0         99     0
        accepted  12        121    0
        level     0         121    0
        rejected  13        122    OUTSIDE_PRICE_BAND
        """,
    )
    # An amend that moves the price is checked against the band too; a quantity change is not.
    ev = s.run(lambda e: e.amend(1, 1, price_ticks=96), lambda e: e.amend(1, 1, qty_lots=2))
    s.expect(
        ev,
        """
        kind      order_id  price  qty  leaves  reason
        rejected  1         96     0    0       OUTSIDE_PRICE_BAND
        amended   1         95     2    2       0
        level     0         95     0    0       0
        level     0         95     2    1       0
        """,
    )


def test_no_band_check_without_a_ref_price(engine_cls):
    s = Scenario(engine_cls, band_bps=100)
    ev = s.run(
        lambda e: e.limit(0, 1, "buy", 1, 1, order_id=1),
        lambda e: e.limit(0, 2, "sell", 1, 1_000_000, order_id=2),
    )
    s.expect(
        ev,
        """
        kind      order_id  reason
        accepted  1         0
        level     0         0
        accepted  2         0
        level     0         0
        """,
    )


# --- ids and capacity ----------------------------------------------------------------------


def test_duplicate_order_id_of_a_live_order_is_rejected(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    5
        buy   2        12        99     5
        """
    )
    ev = s.run(
        lambda e: e.limit(0, 1, "buy", 5, 100, order_id=11),
        lambda e: e.stop(0, 1, "buy", 5, 120, order_id=12),
        lambda e: e.cancel(2, 11),
        lambda e: e.limit(0, 1, "buy", 5, 100, order_id=11),
    )
    s.expect(
        ev,
        """
        kind       order_id  account  side  price  qty  leaves  reason
        rejected   11        1        buy   100    5    0       DUPLICATE_ORDER_ID
        rejected   12        1        buy   0      5    0       DUPLICATE_ORDER_ID
        cancelled  11        2        sell  101    5    0       CANCEL_USER
        level      0         0        sell  101    0    0       0
        accepted   11        1        buy   100    5    5       0
        level      0         0        buy   100    5    1       0
        """,
    )
    s.after(
        """
        side  price  qty  orders
        buy   100    5    1
        buy   99     5    1
        """
    )


def test_duplicate_client_order_id_is_per_account_and_per_live_order(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  cid
        sell  2        11        101    5    77
        """
    )
    ev = s.run(
        lambda e: e.limit(0, 2, "sell", 1, 102, order_id=12, client_order_id=77),
        lambda e: e.limit(0, 3, "sell", 1, 102, order_id=13, client_order_id=77),
        lambda e: e.limit(0, 1, "buy", 5, 101, order_id=20),
        lambda e: e.limit(0, 2, "sell", 1, 103, order_id=14, client_order_id=77),
    )
    s.expect(
        ev,
        """
        kind      order_id  cid  account  price  reason
        rejected  12        77   2        102    DUPLICATE_CLIENT_ORDER_ID
        accepted  13        77   3        102    0
        level     0         0    0        102    0
        accepted  20        0    1        101    0
        fill      20        0    1        101    0
        level     0         0    0        101    0
        accepted  14        77   2        103    0
        level     0         0    0        103    0
        """,
    )


def test_capacity_counts_resting_orders_and_pending_stops(engine_cls):
    s = Scenario(engine_cls, max_orders=2)
    s.book(
        """
        side  account  order_id  price  qty  type         trigger
        sell  2        11        101    5    -            -
        buy   1        1         -      1    stop_market  120
        """
    )
    ev = s.run(
        lambda e: e.limit(0, 3, "buy", 1, 90, order_id=20),
        lambda e: e.market(0, 3, "buy", 1, order_id=21),
        lambda e: e.cancel(1, 1),
        lambda e: e.limit(0, 3, "buy", 1, 90, order_id=22),
    )
    s.expect(
        ev,
        """
        kind       order_id  type         qty  leaves  reason
        rejected   20        limit        1    0       CAPACITY_EXHAUSTED
        rejected   21        market       1    0       CAPACITY_EXHAUSTED
        cancelled  1         stop_market  1    0       CANCEL_USER
        accepted   22        limit        1    1       0
        level      0         -            1    1       0
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    5    1
        buy   90     1    1
        """
    )


def test_reject_check_order_halted_before_capacity_before_duplicates(engine_cls):
    # The first failing check of 2.1 is the reason.
    s = Scenario(engine_cls, max_orders=1)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    5
        """
    )
    ev = s.run(
        lambda e: e.limit(0, 2, "sell", 5, 102, order_id=11),
        lambda e: e.halt(0),
        lambda e: e.limit(0, 2, "sell", 5, 102, order_id=11),
        lambda e: e.limit(0, 2, "sell", 0, 102, order_id=11),
    )
    s.expect(
        ev,
        """
        kind      order_id  reason
        rejected  11        CAPACITY_EXHAUSTED
        status    0         STATUS_HALTED
        rejected  11        INSTRUMENT_HALTED
        rejected  11        INSTRUMENT_HALTED
        """,
    )


# --- reduce-only ---------------------------------------------------------------------------


def test_reduce_only_accepted_when_it_reduces(engine_cls):
    s = Scenario(engine_cls)
    ev = s.run(
        lambda e: e.set_position(1, 0, 5),
        lambda e: e.limit(0, 1, "sell", 3, 105, order_id=1, reduce_only=True),
        lambda e: e.limit(0, 1, "sell", 5, 106, order_id=2, reduce_only=True),
    )
    s.expect(
        ev,
        """
        kind      order_id  account  instrument  side  price  qty  leaves  flags        reason
        position  0         1        0           -     0      5    0       0            0
        accepted  1         1        0           sell  105    3    3       REDUCE_ONLY  0
        level     0         0        0           sell  105    3    1       0            0
        accepted  2         1        0           sell  106    5    5       REDUCE_ONLY  0
        level     0         0        0           sell  106    5    1       0            0
        """,
    )
    assert s.engine.position(1, 0) == 5


def test_reduce_only_that_would_increase_is_rejected(engine_cls):
    s = Scenario(engine_cls)
    ev = s.run(
        lambda e: e.limit(0, 1, "sell", 1, 105, order_id=1, reduce_only=True),  # flat
        lambda e: e.set_position(1, 0, 5),
        lambda e: e.limit(0, 1, "buy", 1, 95, order_id=2, reduce_only=True),  # same side
        lambda e: e.limit(0, 1, "sell", 6, 105, order_id=3, reduce_only=True),  # too large
        lambda e: e.set_position(1, 0, -2),
        lambda e: e.limit(0, 1, "buy", 3, 95, order_id=4, reduce_only=True),
        lambda e: e.limit(0, 1, "buy", 2, 95, order_id=5, reduce_only=True),
    )
    s.expect(
        ev,
        """
        kind      order_id  side  qty  flags        reason
        rejected  1         sell  1    -            REDUCE_ONLY_WOULD_INCREASE
        position  0         -     5    -            0
        rejected  2         buy   1    -            REDUCE_ONLY_WOULD_INCREASE
        rejected  3         sell  6    -            REDUCE_ONLY_WOULD_INCREASE
        position  0         -     -2   -            0
        rejected  4         buy   3    -            REDUCE_ONLY_WOULD_INCREASE
        accepted  5         buy   2    REDUCE_ONLY  0
        level     0         buy   2    0            0
        """,
    )


def test_reduce_only_is_not_allowed_on_spot(engine_cls):
    s = Scenario(engine_cls, instruments=[spot(0)])
    ev = s.run(
        lambda e: e.set_position(1, 0, 5),
        lambda e: e.limit(0, 1, "sell", 1, 105, order_id=1, reduce_only=True),
    )
    s.expect(
        ev,
        """
        kind      order_id  reason
        rejected  0         INVALID_COMBINATION
        rejected  1         INVALID_COMBINATION
        """,
    )


def test_resting_reduce_only_maker_is_cancelled_once_the_position_is_gone(engine_cls):
    s = Scenario(engine_cls)
    s.run(lambda e: e.set_position(1, 0, 3))
    s.book(
        """
        side  account  order_id  price  qty  flags
        sell  1        11        101    3    reduce_only
        sell  4        12        101    5    -
        """
    )
    ev = s.run(lambda e: e.set_position(1, 0, 0))
    s.expect(
        ev,
        """
        kind      account  instrument  qty
        position  1        0           0
        """,
    )
    ev = s.run(lambda e: e.limit(0, 3, "buy", 4, 101, order_id=20))
    s.expect(
        ev,
        """
        kind       order_id  account  side  maker_order_id  maker_account  price  qty  leaves  maker_leaves  reason
        accepted   20        3        buy   -               -              101    4    4       -             0
        cancelled  11        1        sell  -               -              101    3    0       -             CANCEL_REDUCE_ONLY
        fill       20        3        buy   12              4              101    4    0       1             0
        level      0         0        sell  -               -              101    1    1       -             0
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    1    1
        """
    )
    assert s.engine.position(1, 0) == 0


def test_reduce_only_maker_fills_only_up_to_the_position(engine_cls):
    s = Scenario(engine_cls)
    s.run(lambda e: e.set_position(1, 0, 3))
    s.book(
        """
        side  account  order_id  price  qty  flags
        sell  1        11        101    3    reduce_only
        sell  4        12        101    5    -
        """
    )
    s.run(lambda e: e.set_position(1, 0, 2))
    ev = s.run(lambda e: e.limit(0, 3, "buy", 5, 101, order_id=20))
    s.expect(
        ev,
        """
        kind       order_id  maker_order_id  price  qty  leaves  maker_leaves  trade_id  reason
        accepted   20        -               101    5    5       -             -         0
        fill       20        11              101    2    3       1             1         0
        cancelled  11        -               101    1    0       -             -         CANCEL_REDUCE_ONLY
        fill       20        12              101    3    0       2             2         0
        level      0         -               101    2    1       -             -         0
        """,
    )
    assert s.engine.position(1, 0) == 0
    assert s.engine.position(3, 0) == 5
    s.after(
        """
        side  price  qty  orders
        sell  101    2    1
        """
    )


def test_reduce_only_stop_limit_checked_at_acceptance(engine_cls):
    s = Scenario(engine_cls)
    ev = s.run(
        lambda e: e.set_position(1, 0, -4),
        lambda e: e.submit(
            0,
            1,
            "buy",
            4,
            110,
            order_type=STOP_LIMIT,
            trigger_ticks=108,
            order_id=1,
            reduce_only=True,
        ),
        lambda e: e.submit(
            0,
            1,
            "sell",
            4,
            90,
            order_type=STOP_LIMIT,
            trigger_ticks=92,
            order_id=2,
            reduce_only=True,
        ),
    )
    s.expect(
        ev,
        """
        kind      order_id  type        flags        aux  reason
        position  0         -           -            -    0
        accepted  1         stop_limit  REDUCE_ONLY  108  0
        rejected  2         stop_limit  -            0    REDUCE_ONLY_WOULD_INCREASE
        """,
    )


# --- validation ----------------------------------------------------------------------------


def test_new_order_checks_report_the_first_failure(engine_cls):
    s = Scenario(engine_cls, min_qty_lots=2, max_qty_lots=100)
    big = 2**61  # 3 lots at this price exceed 2**62
    ev = s.run(
        lambda e: e.submit(0, 0, "buy", 5, 100, order_id=1),
        lambda e: e.submit(7, 0, "buy", 5, 100, order_id=2),  # account is checked first
        lambda e: e.submit(7, 1, "buy", 5, 100, order_id=3),
        lambda e: e.submit(0, 1, 3, 5, 100, order_id=4),
        lambda e: e.submit(0, 1, "buy", 5, 100, order_id=5, order_type=9),
        lambda e: e.submit(0, 1, "buy", 5, 100, order_id=6, tif=9),
        lambda e: e.submit(0, 1, "buy", 5, 0, order_id=7, order_type=MARKET, tif=GTC),
        lambda e: e.submit(0, 1, "buy", 5, 100, order_id=8, stp=5),
        lambda e: e.submit(0, 1, "buy", 0, 100, order_id=9),
        lambda e: e.submit(0, 1, "buy", 1, 100, order_id=10),
        lambda e: e.submit(0, 1, "buy", 101, 100, order_id=11),
        lambda e: e.submit(0, 1, "buy", 5, 0, order_id=12),
        lambda e: e.submit(0, 1, "buy", 5, -3, order_id=13),
        lambda e: e.submit(0, 1, "buy", 3, big, order_id=14),
        lambda e: e.submit(0, 1, "buy", 2, big, order_id=15, tif=FOK),
    )
    s.expect(
        ev,
        """
        kind      order_id  account  instrument  side  qty  leaves  reason
        rejected  1         0        0           buy   5    0       INVALID_ACCOUNT
        rejected  2         0        7           buy   5    0       INVALID_ACCOUNT
        rejected  3         1        7           buy   5    0       UNKNOWN_INSTRUMENT
        rejected  4         1        0           3     5    0       INVALID_SIDE
        rejected  5         1        0           buy   5    0       INVALID_ORDER_TYPE
        rejected  6         1        0           buy   5    0       INVALID_TIF
        rejected  7         1        0           buy   5    0       INVALID_TIF
        rejected  8         1        0           buy   5    0       INVALID_STP
        rejected  9         1        0           buy   0    0       QTY_NOT_POSITIVE
        rejected  10        1        0           buy   1    0       QTY_BELOW_MIN
        rejected  11        1        0           buy   101  0       QTY_ABOVE_MAX
        rejected  12        1        0           buy   5    0       PRICE_NOT_POSITIVE
        rejected  13        1        0           buy   5    0       PRICE_NOT_POSITIVE
        rejected  14        1        0           buy   3    0       VALUE_TOO_LARGE
        rejected  15        1        0           buy   2    0       FOK_CANNOT_FILL
        """,
    )
    s.resting("order_id")


def test_unknown_command_kind_is_rejected(engine_cls):
    s = Scenario(engine_cls)
    ev = s.run(lambda e: e.process(make_command(99, account=1, order_id=5)))
    s.expect(
        ev,
        """
        kind      order_id  account  reason
        rejected  5         1        INVALID_COMMAND
        """,
    )


def test_ref_price_and_position_commands_validate_their_input(engine_cls):
    s = Scenario(engine_cls)
    ev = s.run(
        lambda e: e.set_ref_price(0, -1),
        lambda e: e.set_ref_price(4, 100),
        lambda e: e.set_ref_price(0, 0),
        lambda e: e.set_position(0, 0, 5),
        lambda e: e.set_position(1, 4, 5),
        lambda e: e.set_position(1, 0, -7),
    )
    s.expect(
        ev,
        """
        kind      account  instrument  price  qty  reason
        rejected  -        0           -1     -    PRICE_NOT_POSITIVE
        rejected  -        4           100    -    UNKNOWN_INSTRUMENT
        status    0        0           0      0    STATUS_REF_PRICE
        rejected  0        0           -      5    INVALID_ACCOUNT
        rejected  1        4           -      5    UNKNOWN_INSTRUMENT
        position  1        0           0      -7   0
        """,
    )
    assert s.engine.position(1, 0) == -7
