"""Rulebook 2.1 #13 / #14 / #23 and 2.3: iceberg (display) orders and post-only orders."""

from __future__ import annotations

from matching.records import FOK, IOC

from .tables import Scenario


def test_iceberg_shows_only_its_displayed_tranche(engine_cls):
    s = Scenario(engine_cls)
    ev = s.run(lambda e: e.limit(0, 2, "sell", 10, 101, order_id=11, display_lots=3))
    s.expect(
        ev,
        """
        kind      order_id  side  price  qty  leaves
        accepted  11        sell  101    10   10
        level     0         sell  101    3    1
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    3    1
        """
    )
    s.resting(
        """
        order_id  side  price  qty  leaves  visible  display
        11        sell  101    10   10      3        3
        """
    )


def test_iceberg_refill_goes_to_the_back_of_its_level(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  display
        sell  2        11        101    10   3
        sell  3        12        101    2    -
        """
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    5    2
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 4, 101, order_id=20))
    s.expect(
        ev,
        """
        kind      order_id  maker_order_id  price  qty  leaves  maker_leaves  flags
        accepted  20        -               101    4    4       -             -
        fill      20        11              101    3    1       7             REFILLED
        fill      20        12              101    1    0       1             0
        level     0         -               101    4    2       -             -
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    4    2
        """
    )
    s.resting(
        """
        order_id  price  leaves  visible
        12        101    1       1
        11        101    7       3
        """
    )
    # The plain order is now ahead of the refilled iceberg.
    ev = s.run(lambda e: e.limit(0, 1, "buy", 2, 101, order_id=21))
    s.expect(
        ev,
        """
        kind      order_id  maker_order_id  qty  leaves  maker_leaves  flags
        accepted  21        -               2    2       -             -
        fill      21        12              1    1       0             0
        fill      21        11              1    0       6             0
        level     0         -               2    1       -             -
        """,
    )
    s.resting(
        """
        order_id  leaves  visible
        11        6       2
        """
    )


def test_taker_eats_an_iceberg_tranche_by_tranche(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  display
        sell  2        11        101    10   3
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 8, 101, order_id=20))
    s.expect(
        ev,
        """
        kind      order_id  maker_order_id  price  qty  leaves  maker_leaves  trade_id  flags
        accepted  20        -               101    8    8       -             -         -
        fill      20        11              101    3    5       7             1         REFILLED
        fill      20        11              101    3    2       4             2         REFILLED
        fill      20        11              101    2    0       2             3         0
        level     0         -               101    1    1       -             -         -
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    1    1
        """
    )
    s.resting(
        """
        order_id  leaves  visible
        11        2       1
        """
    )


def test_last_tranche_of_an_iceberg_is_what_is_left(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  display
        sell  2        11        101    7    3
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 6, 101, order_id=20))
    s.expect(
        ev,
        """
        kind      order_id  maker_order_id  qty  leaves  maker_leaves  flags
        accepted  20        -               6    6       -             -
        fill      20        11              3    3       4             REFILLED
        fill      20        11              3    0       1             REFILLED
        level     0         -               1    1       -             -
        """,
    )
    s.resting(
        """
        order_id  leaves  visible
        11        1       1
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 5, 101, order_id=21))
    s.expect(
        ev,
        """
        kind      order_id  side  maker_order_id  price  qty  leaves  maker_leaves  flags
        accepted  21        buy   -               101    5    5       -             -
        fill      21        buy   11              101    1    4       0             0
        level     0         sell  -               101    0    0       -             -
        level     0         buy   -               101    4    1       -             -
        """,
    )


def test_iceberg_taker_rests_showing_only_its_display(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        100    2
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 12, 100, order_id=20, display_lots=4))
    s.expect(
        ev,
        """
        kind      order_id  side  maker_order_id  price  qty  leaves  maker_leaves
        accepted  20        buy   -               100    12   12      -
        fill      20        buy   11              100    2    10      0
        level     0         sell  -               100    0    0       -
        level     0         buy   -               100    4    1       -
        """,
    )
    s.after(
        """
        side  price  qty  orders
        buy   100    4    1
        """
    )
    s.resting(
        """
        order_id  qty  leaves  visible  display
        20        12   10      4        4
        """
    )


def test_fok_counts_an_icebergs_hidden_quantity(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty  display
        sell  2        11        101    10   3
        """
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 8, 101, order_id=20, tif=FOK))
    s.expect(
        ev,
        """
        kind      order_id  maker_order_id  qty  leaves  maker_leaves  flags
        accepted  20        -               8    8       -             -
        fill      20        11              3    5       7             REFILLED
        fill      20        11              3    2       4             REFILLED
        fill      20        11              2    0       2             0
        level     0         -               1    1       -             -
        """,
    )
    ev = s.run(lambda e: e.limit(0, 1, "buy", 3, 101, order_id=21, tif=FOK))
    s.expect(
        ev,
        """
        kind      order_id  qty  reason
        rejected  21        3    FOK_CANNOT_FILL
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    1    1
        """
    )


def test_invalid_iceberg_displays_are_rejected(engine_cls):
    s = Scenario(engine_cls, min_qty_lots=2)
    ev = s.run(
        lambda e: e.limit(0, 1, "buy", 10, 100, order_id=1, display_lots=10),
        lambda e: e.limit(0, 1, "buy", 10, 100, order_id=2, display_lots=1),
        lambda e: e.limit(0, 1, "buy", 10, 100, order_id=3, display_lots=-1),
        lambda e: e.limit(0, 1, "buy", 10, 100, order_id=4, display_lots=3, tif=IOC),
        lambda e: e.limit(0, 1, "buy", 10, 100, order_id=5, display_lots=2),
    )
    s.expect(
        ev,
        """
        kind      order_id  reason
        rejected  1         INVALID_DISPLAY
        rejected  2         INVALID_DISPLAY
        rejected  3         INVALID_DISPLAY
        rejected  4         INVALID_COMBINATION
        accepted  5         0
        level     0         0
        """,
    )
    s.after(
        """
        side  price  qty  orders
        buy   100    2    1
        """
    )


def test_post_only_that_would_not_trade_rests(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        102    5
        buy   2        12        98     5
        """
    )
    ev = s.run(
        lambda e: e.limit(0, 1, "buy", 3, 100, order_id=20, post_only=True),
        lambda e: e.limit(0, 1, "sell", 3, 101, order_id=21, post_only=True),
    )
    s.expect(
        ev,
        """
        kind      order_id  side  price  qty  leaves  flags
        accepted  20        buy   100    3    3       POST_ONLY
        level     0         buy   100    3    1       0
        accepted  21        sell  101    3    3       POST_ONLY
        level     0         sell  101    3    1       0
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  102    5    1
        sell  101    3    1
        buy   100    3    1
        buy   98     5    1
        """
    )


def test_post_only_that_would_take_is_rejected(engine_cls):
    s = Scenario(engine_cls)
    s.book(
        """
        side  account  order_id  price  qty
        sell  2        11        101    5
        buy   2        12        99     5
        """
    )
    before = s.engine.state_hash()
    ev = s.run(
        lambda e: e.limit(0, 1, "buy", 3, 101, order_id=20, post_only=True),
        lambda e: e.limit(0, 1, "buy", 3, 105, order_id=21, post_only=True),
        lambda e: e.limit(0, 1, "sell", 3, 99, order_id=22, post_only=True),
    )
    s.expect(
        ev,
        """
        kind      order_id  side  type   tif  price  qty  leaves  reason
        rejected  20        buy   limit  gtc  101    3    0       POST_ONLY_WOULD_TAKE
        rejected  21        buy   limit  gtc  105    3    0       POST_ONLY_WOULD_TAKE
        rejected  22        sell  limit  gtc  99     3    0       POST_ONLY_WOULD_TAKE
        """,
    )
    s.after(
        """
        side  price  qty  orders
        sell  101    5    1
        buy   99     5    1
        """
    )
    assert s.engine.state_hash() == before


def test_post_only_needs_a_resting_time_in_force(engine_cls):
    s = Scenario(engine_cls)
    ev = s.run(
        lambda e: e.limit(0, 1, "buy", 3, 100, order_id=20, post_only=True, tif=IOC),
        lambda e: e.market(0, 1, "buy", 3, order_id=21, post_only=True),
    )
    s.expect(
        ev,
        """
        kind      order_id  reason
        rejected  20        INVALID_COMBINATION
        rejected  21        INVALID_COMBINATION
        """,
    )
    s.after("side price qty orders")
