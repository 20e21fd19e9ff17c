"""Rulebook 2.3: limit and market orders as takers; price-time priority; LEVEL events."""

from __future__ import annotations

from .tables import Scenario, perp


def test_limit_order_rests_on_empty_book(engine_cls):
    s = Scenario(engine_cls)
    ev = s.run(lambda e: e.limit(0, 1, "buy", 5, 100, order_id=20, client_order_id=7))
    s.expect(
        ev,
        """
        kind      order_id  cid  account  side  type   tif  price  qty  leaves  reason  cmd
        accepted  20        7    1        buy   limit  gtc  100    5    5       0       new
        level     0         0    -        buy   -      -    100    5    1       0       new
        """,
    )
    s.after(
        """
        side  price  qty  orders
        buy   100    5    1
        """
    )


def test_limit_order_that_does_not_cross_rests_beside_the_other_side(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    5
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 4, 100, order_id=20))
    s.expect(
        ev,
        """
        kind      order_id  side  price  qty  leaves
        accepted  20        buy   100    4    4
        level     0         buy   100    4    1
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    5    1
        buy   100    4    1
        """
    )


def test_limit_order_fully_filled_by_a_larger_maker(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    10
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 4, 101, order_id=20))
    s.expect(
        ev,
        """
        kind      order_id  account  side  maker_order_id  maker_account  price  qty  leaves  maker_leaves  trade_id
        accepted  20        1        buy   -               -              101    4    4       -             -
        fill      20        1        buy   11              2              101    4    0       6             1
        level     0         -        sell  -               -              101    6    1       -             -
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    6    1
        """
    )


def test_limit_order_partially_filled_rests_the_remainder(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    3
        sell  2        12        103    3
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 5, 101, order_id=20))
    s.expect(
        ev,
        """
        kind      order_id  side  maker_order_id  price  qty  leaves  maker_leaves
        accepted  20        buy   -               101    5    5       -
        fill      20        buy   11              101    3    2       0
        level     0         sell  -               101    0    0       -
        level     0         buy   -               101    2    1       -
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  103    3    1
        buy   101    2    1
        """
    )


def test_limit_order_sweeps_two_levels(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    5
        sell  3        12        102    5
        sell  3        13        103    5
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 7, 102, order_id=20))
    s.expect(
        ev,
        """
        kind      order_id  maker_order_id  maker_account  price  qty  leaves  maker_leaves  trade_id
        accepted  20        -               -              102    7    7       -             -
        fill      20        11              2              101    5    2       0             1
        level     -         -               -              101    0    0       -             -
        fill      20        12              3              102    2    0       3             2
        level     -         -               -              102    3    1       -             -
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  102    3    1
        sell  103    5    1
        """
    )


def test_sell_limit_sweeps_bids_best_first_and_rests_the_rest(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        buy   2        11        100    2
        buy   2        12        99     2
        buy   2        13        98     2
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "sell", 5, 99, order_id=20))
    s.expect(
        ev,
        """
        kind      order_id  side  maker_order_id  price  qty  leaves  maker_leaves  trade_id
        accepted  20        sell  -               99     5    5       -             -
        fill      20        sell  11              100    2    3       0             1
        level     0         buy   -               100    0    0       -             -
        fill      20        sell  12              99     2    1       0             2
        level     0         buy   -               99     0    0       -             -
        level     0         sell  -               99     1    1       -             -
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  99     1    1
        buy   98     2    1
        """
    )


def test_time_priority_fifo_within_a_level(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    2
        sell  3        12        101    2
        sell  4        13        101    2
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 3, 101, order_id=20))
    s.expect(
        ev,
        """
        kind      order_id  maker_order_id  maker_account  price  qty  leaves  maker_leaves
        accepted  20        -               -              101    3    3       -
        fill      20        11              2              101    2    1       0
        fill      20        12              3              101    1    0       1
        level     0         -               -              101    3    2       -
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    3    2
        """
    )
    s.resting(
        """
        order_id  side  price  leaves
        12        sell  101    1
        13        sell  101    2
        """
    )


def test_price_priority_better_price_first_even_when_later(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        102    5
        sell  3        12        101    5
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 5, 102, order_id=20))
    s.expect(
        ev,
        """
        kind      order_id  maker_order_id  price  qty  leaves  maker_leaves
        accepted  20        -               102    5    5       -
        fill      20        12              101    5    0       0
        level     0         -               101    0    0       -
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  102    5    1
        """
    )


def test_trade_prints_at_the_resting_price_not_the_taker_limit(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        buy   2        11        100    3
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "sell", 3, 90, order_id=20))
    s.expect(
        ev,
        """
        kind      order_id  side  maker_order_id  price  qty  leaves  maker_leaves
        accepted  20        sell  -               90     3    3       -
        fill      20        sell  11              100    3    0       0
        level     0         buy   -               100    0    0       -
        """,
    )
    s.after("side price qty orders")
    # The last trade price is the maker's price: a buy stop at 100 would trigger now.
    assert int(s.engine.status_table()[0][0]) == 100


def test_positions_follow_fills(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    3
        sell  3        12        102    3
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 5, 102, order_id=20))
    s.expect(
        ev,
        """
        kind      maker_order_id  price  qty  leaves
        accepted  -               102    5    5
        fill      11              101    3    2
        level     -               101    0    0
        fill      12              102    2    0
        level     -               102    1    1
        """,
    )
    assert (s.engine.position(1, 0), s.engine.position(2, 0), s.engine.position(3, 0)) == (
        5,
        -3,
        -2,
    )


def test_market_order_stops_at_the_protection_band(engine_cls):
    # market_band_bps 500: limit = best ask 101 + 101 * 500 // 10000 = 106.
    s = Scenario(engine_cls, market_band_bps=500)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    2
        sell  2        12        106    2
        sell  3        13        107    5
        """
    )
    ev = s.run(lambda e: e.market(0, 1, "buy", 10, order_id=20))
    s.expect(
        ev,
        """
        kind       order_id  side  type    tif  maker_order_id  price  qty  leaves  reason
        accepted   20        buy   market  ioc  -               0      10   10      0
        fill       20        buy   market  ioc  11              101    2    8       0
        level      0         sell  -       -    -               101    0    0       0
        fill       20        buy   market  ioc  12              106    2    6       0
        level      0         sell  -       -    -               106    0    0       0
        cancelled  20        buy   market  ioc  -               0      6    0       CANCEL_MARKET_NO_LIQUIDITY
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  107    5    1
        """
    )


def test_market_sell_protection_band_below_best_bid(engine_cls):
    # market_band_bps 100: limit = best bid 100 - 100 * 100 // 10000 = 99.
    s = Scenario(engine_cls, market_band_bps=100)
    s.book(
        """
        side  account  order_id  price  qty
        buy   2        11        100    2
        buy   2        12        99     1
        buy   2        13        98     5
        """
    )
    ev = s.run(lambda e: e.market(0, 1, "sell", 5, order_id=20))
    s.expect(
        ev,
        """
        kind       order_id  side  maker_order_id  price  qty  leaves  reason
        accepted   20        sell  -               0      5    5       0
        fill       20        sell  11              100    2    3       0
        level      0         buy   -               100    0    0       0
        fill       20        sell  12              99     1    2       0
        level      0         buy   -               99     0    0       0
        cancelled  20        sell  -               0      2    0       CANCEL_MARKET_NO_LIQUIDITY
        """,
    )
    s.after(
        """
        side  price  qty  orders
        buy   98     5    1
        """
    )


def test_market_order_without_band_sweeps_every_level(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    1
        sell  2        12        500    1
        sell  2        13        1000   5
        """
    )
    ev = s.run(lambda e: e.market(0, 1, "buy", 3, order_id=20))
    s.expect(
        ev,
        """
        kind      order_id  maker_order_id  price  qty  leaves  maker_leaves
        accepted  20        -               0      3    3       -
        fill      20        11              101    1    2       0
        level     0         -               101    0    0       -
        fill      20        12              500    1    1       0
        level     0         -               500    0    0       -
        fill      20        13              1000   1    0       4
        level     0         -               1000   4    1       -
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  1000   4    1
        """
    )


def test_market_order_into_an_empty_book_is_cancelled(engine_cls):
    s = Scenario(engine_cls, market_band_bps=500)
    s.book(
        """
        side  account  order_id  price  qty
        buy   2        11        100    5
        """
    )
    ev = s.run(lambda e: e.market(0, 1, "buy", 4, order_id=20))
    s.expect(
        ev,
        """
        kind       order_id  side  type    price  qty  leaves  reason
        accepted   20        buy   market  0      4    4       0
        cancelled  20        buy   market  0      4    0       CANCEL_MARKET_NO_LIQUIDITY
        """,
    )
    s.after(
        """
        side  price  qty  orders
        buy   100    5    1
        """
    )


def test_ioc_limit_cancels_its_unfilled_remainder(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    3
        sell  2        12        102    3
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 5, 101, order_id=20, tif=2))
    s.expect(
        ev,
        """
        kind       order_id  tif  maker_order_id  price  qty  leaves  reason
        accepted   20        ioc  -               101    5    5       0
        fill       20        ioc  11              101    3    2       0
        level      0         -    -               101    0    0       0
        cancelled  20        ioc  -               101    2    0       CANCEL_IOC_REMAINDER
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  102    3    1
        """
    )


def test_ioc_limit_that_cannot_trade_is_cancelled_whole(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    3
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 5, 100, order_id=20, tif=2))
    s.expect(
        ev,
        """
        kind       order_id  price  qty  leaves  reason
        accepted   20        100    5    5       0
        cancelled  20        100    5    0       CANCEL_IOC_REMAINDER
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    3    1
        """
    )


def test_engine_assigns_order_ids_from_one(engine_cls):
    s = Scenario(engine_cls)
    ev = s.run(
        lambda e: e.limit(0, 1, "buy", 1, 100),
        lambda e: e.limit(0, 1, "buy", 1, 99),
    )
    s.expect(
        ev,
        """
        kind      order_id  price
        accepted  1         100
        level     0         100
        accepted  2         99
        level     0         99
        """,
    )


def test_every_event_carries_the_command_seq_and_time(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    1
        sell  2        12        102    1
        """
    )
    seq = s.engine.next_seq
    ev = s.run(lambda e: e.limit(0, 1, "buy", 3, 102, order_id=20, ts_ns=5000))
    s.expect(
        ev,
        f"""
        kind      seq    ts    cmd  maker_order_id  price  qty  leaves
        accepted  {seq}  5000  new  -               102    3    3
        fill      {seq}  5000  new  11              101    1    2
        level     {seq}  5000  new  -               101    0    0
        fill      {seq}  5000  new  12              102    1    1
        level     {seq}  5000  new  -               102    0    0
        level     {seq}  5000  new  -               102    1    1
        """,
    )


def test_engine_assigned_order_ids_skip_live_ids(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        buy   1        1         90     1
        buy   1        2         91     1
        """
    )
    ev = s.run(
        lambda e: e.limit(0, 1, "buy", 1, 92),
        lambda e: e.limit(0, 1, "buy", 1, 93),
    )
    s.expect(
        ev,
        """
        kind      order_id  price
        accepted  3         92
        level     0         92
        accepted  4         93
        level     0         93
        """,
    )


def test_trade_ids_count_per_instrument(engine_cls):
    s = Scenario(engine_cls, instruments=[perp(0, "BTC-PERP"), perp(1, "ETH-PERP")])
    s.book(
        """
        instrument  side  account  order_id  price  qty
        0           sell  2        11        101    2
        1           sell  2        12        51     2
        """
    )
    ev = s.run(
        lambda e: e.limit(0, 1, "buy", 1, 101, order_id=20),
        lambda e: e.limit(1, 1, "buy", 1, 51, order_id=21),
        lambda e: e.limit(0, 1, "buy", 1, 101, order_id=22),
    )
    s.expect(
        ev,
        """
        kind      order_id  instrument  maker_order_id  price  trade_id
        accepted  20        0           -               101    -
        fill      20        0           11              101    1
        level     0         0           -               101    -
        accepted  21        1           -               51     -
        fill      21        1           12              51     1
        level     0         1           -               51     -
        accepted  22        0           -               101    -
        fill      22        0           11              101    2
        level     0         0           -               101    -
        """,
    )
    assert [list(map(int, row[:2])) for row in s.engine.status_table()] == [[101, 2], [51, 1]]
