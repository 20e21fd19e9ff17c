"""Rulebook 2.1 #22 and 2.4: stop-market and stop-limit orders, triggered by the last trade."""

from __future__ import annotations

from matching.records import FOK

from .tables import Scenario


def test_stop_market_triggers_when_the_last_trade_reaches_it(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    1
        sell  2        13        103    1
        sell  2        12        105    5
        """
    )
    ev = s.run(lambda e: e.limit(0, 3, "buy", 1, 101, order_id=21))  # last trade 101
    s.expect(
        ev,
        """
        kind      maker_order_id  price  qty
        accepted  -               101    1
        fill      11              101    1
        level     -               101    0
        """,
    )
    ev = s.run(lambda e: e.stop(0, 4, "buy", 2, 103, order_id=30, client_order_id=9))
    s.expect(
        ev,
        """
        kind      order_id  cid  account  side  type         tif  price  qty  leaves  aux
        accepted  30        9    4        buy   stop_market  gtc  0      2    2       103
        """,
    )
    # A pending stop is not in the visible book.
    s.after(
        """
        side  price  qty  orders
        sell  103    1    1
        sell  105    5    1
        """
    )
    s.resting(
        """
        order_id  side      trigger  leaves
        13        sell      0        1
        12        sell      0        5
        30        buy_stop  103      2
        """
    )
    ev = s.run(lambda e: e.limit(0, 3, "buy", 1, 103, order_id=22))  # last trade 103
    s.expect(
        ev,
        """
        kind       order_id  cid  account  side  type         tif  maker_order_id  price  qty  leaves  maker_leaves  trade_id  aux
        accepted   22        0    3        buy   limit        gtc  -               103    1    1       -             -         -
        fill       22        0    3        buy   limit        gtc  13              103    1    0       0             2         -
        level      0         0    0        sell  -            -    -               103    0    0       -             -         -
        triggered  30        9    4        buy   stop_market  gtc  0               0      2    2       0             0         103
        fill       30        9    4        buy   market       ioc  12              105    2    0       3             3         -
        level      0         0    0        sell  -            -    -               105    3    1       -             -         -
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  105    3    1
        """
    )
    assert s.engine.position(4, 0) == 2


def test_stop_limit_triggers_into_a_resting_limit_order(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    1
        sell  2        12        106    5
        """
    )
    ev = s.run(lambda e: e.stop(0, 4, "buy", 3, 101, 104, order_id=30))
    s.expect(
        ev,
        """
        kind      order_id  type        tif  price  qty  leaves  aux
        accepted  30        stop_limit  gtc  104    3    3       101
        """,
    )
    ev = s.run(lambda e: e.limit(0, 3, "buy", 1, 101, order_id=20))
    s.expect(
        ev,
        """
        kind       order_id  side  type        maker_order_id  price  qty  leaves  aux
        accepted   20        buy   limit       -               101    1    1       -
        fill       20        buy   limit       11              101    1    0       -
        level      0         sell  -           -               101    0    0       -
        triggered  30        buy   stop_limit  0               104    3    3       101
        level      0         buy   -           -               104    3    1       -
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  106    5    1
        buy   104    3    1
        """
    )
    s.resting(
        """
        order_id  side  type   price  leaves
        30        buy   limit  104    3
        12        sell  limit  106    5
        """
    )


def test_triggered_stop_limit_trades_then_rests_the_rest(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    1
        sell  2        12        106    5
        sell  2        13        107    5
        """
    )
    s.run(lambda e: e.stop(0, 4, "buy", 7, 101, 106, order_id=30))
    ev = s.run(lambda e: e.limit(0, 3, "buy", 1, 101, order_id=20))
    s.expect(
        ev,
        """
        kind       order_id  side  type        maker_order_id  price  qty  leaves  maker_leaves  trade_id
        accepted   20        buy   limit       -               101    1    1       -             -
        fill       20        buy   limit       11              101    1    0       0             1
        level      0         sell  -           -               101    0    0       -             -
        triggered  30        buy   stop_limit  -               106    7    7       -             -
        fill       30        buy   limit       12              106    5    2       0             2
        level      0         sell  -           -               106    0    0       -             -
        level      0         buy   -           -               106    2    1       -             -
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  107    5    1
        buy   106    2    1
        """
    )


def test_buy_stops_trigger_lowest_trigger_first_then_in_time_order(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  type         trigger
        sell  2        11        104    1    -            -
        sell  2        12        110    10   -            -
        buy   4        31        -      1    stop_market  104
        buy   5        32        -      1    stop_market  103
        buy   6        33        -      1    stop_market  103
        """
    )
    s.resting(
        """
        order_id  side      trigger
        11        sell      0
        12        sell      0
        32        buy_stop  103
        33        buy_stop  103
        31        buy_stop  104
        """
    )
    ev = s.run(lambda e: e.limit(0, 3, "buy", 1, 104, order_id=20))
    s.expect(
        ev,
        """
        kind       order_id  account  maker_order_id  price  qty  leaves  maker_leaves  aux
        accepted   20        3        -               104    1    1       -             -
        fill       20        3        11              104    1    0       0             -
        level      0         0        -               104    0    0       -             -
        triggered  32        5        -               0      1    1       -             104
        fill       32        5        12              110    1    0       9             -
        level      0         0        -               110    9    1       -             -
        triggered  33        6        -               0      1    1       -             110
        fill       33        6        12              110    1    0       8             -
        level      0         0        -               110    8    1       -             -
        triggered  31        4        -               0      1    1       -             110
        fill       31        4        12              110    1    0       7             -
        level      0         0        -               110    7    1       -             -
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  110    7    1
        """
    )
    s.resting(
        """
        order_id  leaves
        12        7
        """
    )


def test_sell_stops_cascade_highest_trigger_first(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  type         trigger
        buy   2        11        100    1    -            -
        buy   2        12        98     1    -            -
        buy   2        13        95     5    -            -
        sell  6        42        -      1    stop_market  90
        sell  5        41        -      1    stop_market  97
        sell  4        40        -      1    stop_market  99
        """
    )
    s.resting(
        """
        order_id  side       trigger
        11        buy        0
        12        buy        0
        13        buy        0
        40        sell_stop  99
        41        sell_stop  97
        42        sell_stop  90
        """
    )
    ev = s.run(lambda e: e.limit(0, 3, "sell", 2, 98, order_id=20))
    s.expect(
        ev,
        """
        kind       order_id  side  type         maker_order_id  price  qty  leaves  maker_leaves  aux
        accepted   20        sell  limit        -               98     2    2       -             -
        fill       20        sell  limit        11              100    1    1       0             -
        level      0         buy   -            -               100    0    0       -             -
        fill       20        sell  limit        12              98     1    0       0             -
        level      0         buy   -            -               98     0    0       -             -
        triggered  40        sell  stop_market  -               0      1    1       -             98
        fill       40        sell  market       13              95     1    0       4             -
        level      0         buy   -            -               95     4    1       -             -
        triggered  41        sell  stop_market  -               0      1    1       -             95
        fill       41        sell  market       13              95     1    0       3             -
        level      0         buy   -            -               95     3    1       -             -
        """,
    )
    s.after(
        """
        side  price  qty  orders
        buy   95     3    1
        """
    )
    s.resting(
        """
        order_id  side       trigger  leaves
        13        buy        0        3
        42        sell_stop  90       1
        """
    )


def test_stop_that_would_trigger_at_once_is_rejected(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        100    1
        buy   2        12        90     5
        """
    )
    s.run(lambda e: e.limit(0, 3, "buy", 1, 100, order_id=20))  # last trade 100
    ev = s.run(
        lambda e: e.stop(0, 4, "buy", 1, 100, order_id=1),
        lambda e: e.stop(0, 4, "buy", 1, 99, order_id=2),
        lambda e: e.stop(0, 4, "buy", 1, 101, order_id=3),
        lambda e: e.stop(0, 4, "sell", 1, 100, order_id=4),
        lambda e: e.stop(0, 4, "sell", 1, 99, order_id=5),
        lambda e: e.stop(0, 4, "buy", 1, 100, 101, order_id=6),
    )
    s.expect(
        ev,
        """
        kind      order_id  side  type         price  qty  leaves  aux  reason
        rejected  1         buy   stop_market  0      1    0       0    STOP_WOULD_TRIGGER
        rejected  2         buy   stop_market  0      1    0       0    STOP_WOULD_TRIGGER
        accepted  3         buy   stop_market  0      1    1       101  0
        rejected  4         sell  stop_market  0      1    0       0    STOP_WOULD_TRIGGER
        accepted  5         sell  stop_market  0      1    1       99   0
        rejected  6         buy   stop_limit   101    1    0       0    STOP_WOULD_TRIGGER
        """,
    )
    s.resting(
        """
        order_id  side       trigger
        12        buy        0
        3         buy_stop   101
        5         sell_stop  99
        """
    )


def test_without_a_trade_no_stop_would_trigger(engine_cls):
    # Check 22 uses the last trade price only; a reference price is not a trade.
    s = Scenario(engine_cls, ref_price_ticks=100)
    ev = s.run(
        lambda e: e.set_ref_price(0, 100),
        lambda e: e.stop(0, 4, "buy", 1, 50, order_id=1),
        lambda e: e.stop(0, 4, "sell", 1, 150, order_id=2),
        lambda e: e.stop(0, 4, "sell", 1, 0, order_id=3),
    )
    s.expect(
        ev,
        """
        kind      order_id  price  aux  reason
        status    0         100    0    STATUS_REF_PRICE
        accepted  1         0      50   0
        accepted  2         0      150  0
        rejected  3         0      0    INVALID_TRIGGER
        """,
    )
    s.resting(
        """
        order_id  side       trigger
        1         buy_stop   50
        2         sell_stop  150
        """
    )


def test_triggered_fok_stop_that_cannot_fill_is_cancelled(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    1
        sell  2        12        105    5
        """
    )
    ev = s.run(lambda e: e.stop(0, 4, "buy", 10, 101, 105, order_id=30, tif=FOK))
    s.expect(
        ev,
        """
        kind      order_id  type        tif  price  qty  aux
        accepted  30        stop_limit  fok  105    10   101
        """,
    )
    ev = s.run(lambda e: e.limit(0, 3, "buy", 1, 101, order_id=20))
    s.expect(
        ev,
        """
        kind       order_id  tif  maker_order_id  price  qty  leaves  aux  reason
        accepted   20        gtc  -               101    1    1       -    0
        fill       20        gtc  11              101    1    0       -    0
        level      0         -    -               101    0    0       -    0
        triggered  30        fok  -               105    10   10      101  0
        cancelled  30        fok  -               105    10   0       -    CANCEL_FOK
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  105    5    1
        """
    )
    s.resting(
        """
        order_id
        12
        """
    )


def test_reduce_only_stop_larger_than_the_position_is_cancelled_on_trigger(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        buy   2        11        99     1
        buy   2        12        98     5
        """
    )
    ev = s.run(
        lambda e: e.set_position(4, 0, 2),
        lambda e: e.stop(0, 4, "sell", 2, 99, order_id=40, reduce_only=True),
        lambda e: e.set_position(4, 0, 1),
    )
    s.expect(
        ev,
        """
        kind      order_id  account  qty  flags        aux
        position  0         4        2    0            0
        accepted  40        4        2    REDUCE_ONLY  99
        position  0         4        1    0            0
        """,
    )
    ev = s.run(lambda e: e.limit(0, 3, "sell", 1, 99, order_id=20))
    s.expect(
        ev,
        """
        kind       order_id  side  maker_order_id  price  qty  leaves  aux  reason
        accepted   20        sell  -               99     1    1       -    0
        fill       20        sell  11              99     1    0       -    0
        level      0         buy   -               99     0    0       -    0
        triggered  40        sell  -               0      2    2       99   0
        cancelled  40        sell  -               0      2    0       -    CANCEL_REDUCE_ONLY
        """,
    )
    s.after(
        """
        side  price  qty  orders
        buy   98     5    1
        """
    )
    assert s.engine.position(4, 0) == 1


def test_an_amend_that_trades_triggers_stops(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  type         trigger
        sell  2        11        103    1    -            -
        sell  2        12        106    5    -            -
        buy   3        13        100    1    -            -
        buy   4        30        -      1    stop_market  103
        """
    )
    ev = s.run(lambda e: e.amend(3, 13, price_ticks=103))
    s.expect(
        ev,
        """
        kind       order_id  side  maker_order_id  price  qty  leaves  maker_leaves  flags  aux  cmd
        amended    13        buy   -               103    1    1       -             0      -    amend
        level      0         buy   -               100    0    0       -             -      -    amend
        fill       13        buy   11              103    1    0       0             0      -    amend
        level      0         sell  -               103    0    0       -             -      -    amend
        triggered  30        buy   -               0      1    1       -             -      103  amend
        fill       30        buy   12              106    1    0       4             0      -    amend
        level      0         sell  -               106    4    1       -             -      -    amend
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  106    4    1
        """
    )
