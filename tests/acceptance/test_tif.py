"""Rulebook 1 (time and expiry first), 2.1 #16 / #24, 2.5 and 6: FOK, GTD and DAY orders."""

from __future__ import annotations

from matching.records import DAY, FOK, GTD, STOP_MARKET

from .tables import Scenario, perp


def test_fok_that_can_fill_trades_in_full(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    3
        sell  3        12        102    3
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 5, 102, order_id=20, tif=FOK))
    s.expect(
        ev,
        """
        kind      order_id  tif  maker_order_id  price  qty  leaves  maker_leaves
        accepted  20        fok  -               102    5    5       -
        fill      20        fok  11              101    3    2       0
        level     0         -    -               101    0    0       -
        fill      20        fok  12              102    2    0       1
        level     0         -    -               102    1    1       -
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  102    1    1
        """
    )


def test_fok_that_cannot_fill_is_rejected_and_changes_nothing(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    3
        sell  3        12        102    3
        sell  3        13        103    9
        """
    )
    before = s.engine.state_hash()
    ev = s.run(lambda e: e.limit(0, 1, "buy", 7, 102, order_id=20, client_order_id=5, tif=FOK))
    s.expect(
        ev,
        """
        kind      order_id  cid  account  side  type   tif  price  qty  leaves  maker_order_id  trade_id  reason
        rejected  20        5    1        buy   limit  fok  102    7    0       0               0         FOK_CANNOT_FILL
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    3    1
        sell  102    3    1
        sell  103    9    1
        """
    )
    assert s.engine.state_hash() == before


def test_market_fok_rejected_when_the_book_is_too_thin(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        buy   2        11        100    3
        buy   2        12        99     3
        """
    )
    ev = s.run(
        lambda e: e.market(0, 1, "sell", 7, order_id=20, tif=FOK),
        lambda e: e.market(0, 1, "sell", 6, order_id=21, tif=FOK),
    )
    s.expect(
        ev,
        """
        kind      order_id  type    tif  maker_order_id  price  qty  leaves  reason
        rejected  20        market  fok  0               0      7    0       FOK_CANNOT_FILL
        accepted  21        market  fok  -               0      6    6       0
        fill      21        market  fok  11              100    3    3       0
        level     0         -       -    -               100    0    0       0
        fill      21        market  fok  12              99     3    0       0
        level     0         -       -    -               99     0    0       0
        """,
    )
    s.after("side price qty orders")


def test_gtd_order_expires_when_time_reaches_its_expiry(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  tif  expire
        buy   1        1         100    5    gtd  1000
        buy   1        2         99     5    gtc  -
        """
    )
    ev = s.run(lambda e: e.advance_time(999))
    s.expect(ev, "kind")  # nothing is due yet: a clock command emits nothing
    ev = s.run(lambda e: e.advance_time(1000))
    s.expect(
        ev,
        """
        kind       order_id  account  side  tif  price  qty  leaves  reason          cmd    ts
        cancelled  1         1        buy   gtd  100    5    0       CANCEL_EXPIRED  clock  1000
        level      0         0        buy   -    100    0    0       0               clock  1000
        """,
    )
    s.after(
        """
        side  price  qty  orders
        buy   99     5    1
        """
    )


def test_gtd_expiries_run_in_expiry_then_order_id_order(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  tif  expire
        buy   1        5         100    1    gtd  2000
        buy   1        3         100    2    gtd  2000
        sell  1        7         101    4    gtd  1500
        buy   1        8         100    8    gtd  2001
        """
    )
    ev = s.run(lambda e: e.advance_time(2000))
    s.expect(
        ev,
        """
        kind       order_id  side  price  qty  leaves  reason
        cancelled  7         sell  101    4    0       CANCEL_EXPIRED
        level      0         sell  101    0    0       0
        cancelled  3         buy   100    2    0       CANCEL_EXPIRED
        level      0         buy   100    9    2       0
        cancelled  5         buy   100    1    0       CANCEL_EXPIRED
        level      0         buy   100    8    1       0
        """,
    )
    s.after(
        """
        side  price  qty  orders
        buy   100    8    1
        """
    )


def test_expiry_runs_before_the_command_that_reaches_it(engine_cls):
    # The sell is GTD until 1000; a buy stamped 1000 first expires it, then finds nothing to hit.
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  tif  expire
        sell  2        11        101    5    gtd  1000
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 5, 101, order_id=20, ts_ns=1000))
    s.expect(
        ev,
        """
        kind       order_id  side  price  qty  leaves  reason          cmd    ts
        cancelled  11        sell  101    5    0       CANCEL_EXPIRED  clock  1000
        level      0         sell  101    0    0       0               clock  1000
        accepted   20        buy   101    5    5       0               new    1000
        level      0         buy   101    5    1       0               new    1000
        """,
    )
    s.after(
        """
        side  price  qty  orders
        buy   101    5    1
        """
    )


def test_gtd_order_trades_until_its_expiry(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  tif  expire
        sell  2        11        101    5    gtd  1000
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 2, 101, order_id=20, ts_ns=999))
    s.expect(
        ev,
        """
        kind      order_id  maker_order_id  price  qty  leaves  maker_leaves
        accepted  20        -               101    2    2       -
        fill      20        11              101    2    0       3
        level     0         -               101    3    1       -
        """,
    )
    ev = s.run(lambda e: e.advance_time(5000))
    s.expect(
        ev,
        """
        kind       order_id  price  qty  leaves  reason
        cancelled  11        101    3    0       CANCEL_EXPIRED
        level      0         101    0    0       0
        """,
    )
    s.after("side price qty orders")


def test_expiry_runs_even_for_a_rejected_command(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  tif  expire
        buy   1        1         100    5    gtd  1000
        """
    )
    ev = s.run(lambda e: e.cancel(1, 999, ts_ns=1000))
    s.expect(
        ev,
        """
        kind       order_id  qty  reason          cmd
        cancelled  1         5    CANCEL_EXPIRED  clock
        level      0         0    0               clock
        rejected   999       0    UNKNOWN_ORDER   cancel
        """,
    )
    s.after("side price qty orders")


def test_gtd_expiry_must_be_after_the_command_time(engine_cls):
    s = Scenario(engine_cls)
    s.run(lambda e: e.advance_time(500))
    ev = s.run(
        lambda e: e.limit(0, 1, "buy", 5, 100, order_id=1, tif=GTD, expire_ns=500),
        lambda e: e.limit(0, 1, "buy", 5, 100, order_id=2, tif=GTD, expire_ns=501),
    )
    s.expect(
        ev,
        """
        kind      order_id  tif  qty  leaves  reason
        rejected  1         gtd  5    0       INVALID_EXPIRY
        accepted  2         gtd  5    5       0
        level     0         -    5    1       0
        """,
    )
    s.resting(
        """
        order_id  tif  leaves
        2         gtd  5
        """
    )


def test_end_of_day_cancels_day_orders_and_leaves_gtc_alone(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  tif
        buy   1        1         100    5    day
        buy   2        2         100    3    gtc
        buy   1        4         100    2    day
        buy   1        6         99     1    gtc
        sell  3        3         105    4    day
        sell  3        9         106    4    gtc
        """
    )
    s.run(lambda e: e.stop(0, 4, "buy", 1, 120, order_id=5, tif=DAY))
    ev = s.run(lambda e: e.end_of_day())
    s.expect(
        ev,
        """
        kind       order_id  side  type         tif  price  qty  leaves  reason          cmd
        cancelled  1         buy   limit        day  100    5    0       CANCEL_DAY_END  end_of_day
        cancelled  4         buy   limit        day  100    2    0       CANCEL_DAY_END  end_of_day
        level      0         buy   -            -    100    3    1       0               end_of_day
        cancelled  3         sell  limit        day  105    4    0       CANCEL_DAY_END  end_of_day
        level      0         sell  -            -    105    0    0       0               end_of_day
        cancelled  5         buy   stop_market  day  0      1    0       CANCEL_DAY_END  end_of_day
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  106    4    1
        buy   100    3    1
        buy   99     1    1
        """
    )
    s.resting(
        """
        order_id  tif
        2         gtc
        6         gtc
        9         gtc
        """
    )


def test_end_of_day_for_one_instrument_only(engine_cls):
    s = Scenario(engine_cls, instruments=[perp(0, "BTC-PERP"), perp(1, "ETH-PERP")])
    s.book(
        """
        instrument  side  account  order_id  price  qty  tif
        0           buy   1        1         100    5    day
        1           buy   1        2         50     5    day
        """
    )
    ev = s.run(lambda e: e.end_of_day(1))
    s.expect(
        ev,
        """
        kind       order_id  instrument  qty  leaves  reason
        cancelled  2         1           5    0       CANCEL_DAY_END
        level      0         1           0    0       0
        """,
    )
    s.after("side price qty orders", instrument=1)
    s.after(
        """
        side  price  qty  orders
        buy   100    5    1
        """,
        instrument=0,
    )


def test_stop_market_accepts_day_but_not_ioc(engine_cls):
    s = Scenario(engine_cls)
    ev = s.run(
        lambda e: e.submit(
            0, 1, "buy", 1, 0, order_type=STOP_MARKET, trigger_ticks=110, tif=2, order_id=1
        ),
        lambda e: e.submit(
            0, 1, "buy", 1, 0, order_type=STOP_MARKET, trigger_ticks=110, tif=DAY, order_id=2
        ),
    )
    s.expect(
        ev,
        """
        kind      order_id  type         tif  aux  reason
        rejected  1         stop_market  ioc  0    INVALID_TIF
        accepted  2         stop_market  day  110  0
        """,
    )


def test_gtd_pending_stop_expires_without_a_level_event(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  type         trigger  tif  expire
        buy   1        5         -      2    stop_market  120      gtd  700
        buy   1        6         100    1    -            -        gtd  800
        """
    )
    ev = s.run(lambda e: e.advance_time(800))
    s.expect(
        ev,
        """
        kind       order_id  type         tif  price  qty  leaves  reason          cmd
        cancelled  5         stop_market  gtd  0      2    0       CANCEL_EXPIRED  clock
        cancelled  6         limit        gtd  100    1    0       CANCEL_EXPIRED  clock
        level      0         -            -    100    0    0       0               clock
        """,
    )
    s.resting("order_id")
