"""Market data: trades, L2, BBO and L3 on a bus, snapshots, recording and historical readers.

The feed (issue #6; docs/marketdata.md): ``wire`` (message layouts), ``feed`` (the publisher),
``snapshot`` (the snapshot service, ``attach_feed`` for the gateway), ``book`` (BookBuilder),
``client`` (FeedClient, AsyncFeedClient), ``record`` and ``replay``. Historical readers
(LOBSTER, issue #3) in ``history``.
"""
